//! DescribeProducers: the idempotent producers each partition's log
//! remembers (the engine's producer state, shared with in-process
//! producers). There are no transactions, so no coordinator epoch or
//! transaction start; the engine keeps no timestamp per producer.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use super::{partition_index, Ctx};
use crate::errors;

pub fn describe(ctx: &Ctx, req: &DescribeProducersRequest) -> DescribeProducersResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&p| {
                    let part = match partition_index(p) {
                        Some(i) => ctx.engine.partition(&t.name.0, i),
                        None => Err(ferrolog_engine::Error::UnknownTopicOrPartition {
                            topic: t.name.0.to_string(),
                            partition: 0,
                        }),
                    };
                    let r = PartitionResponse::default().with_partition_index(p);
                    match part {
                        Ok(part) => r.with_error_code(errors::NONE).with_active_producers(
                            part.producers()
                                .into_iter()
                                .map(|(id, epoch, last)| {
                                    ProducerState::default()
                                        .with_producer_id(ProducerId(id))
                                        .with_producer_epoch(i32::from(epoch))
                                        .with_last_sequence(last.map_or(-1, |b| b.last_seq))
                                        .with_last_timestamp(-1)
                                        .with_coordinator_epoch(-1)
                                        .with_current_txn_start_offset(-1)
                                })
                                .collect(),
                        ),
                        Err(e) => r
                            .with_error_code(errors::code_of(&e))
                            .with_error_message(Some(errors::message_of(&e).into())),
                    }
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
