//! ListOffsets and DeleteRecords.

use std::sync::Arc;

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, ListOffsetsRequest, ListOffsetsResponse,
};

use super::{blocking, partition_index, Ctx};
use crate::errors;

/// ListOffsets' special timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub fn list_offsets(ctx: &Ctx, req: &ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let r = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1);
            let part = partition_index(p.partition_index)
                .ok_or(errors::UNKNOWN_TOPIC_OR_PARTITION)
                .and_then(|i| {
                    ctx.engine
                        .partition(t.name.as_str(), i)
                        .map_err(|e| errors::code_of(&e))
                });
            let answer = part.and_then(|part| {
                let w = part.watermarks();
                match p.timestamp {
                    LATEST => Ok((-1, w.high_watermark as i64)),
                    EARLIEST | EARLIEST_LOCAL => Ok((-1, w.log_start_offset as i64)),
                    // No tiered storage: nothing is tiered, as Kafka
                    // answers when remote storage is off.
                    LATEST_TIERED => Ok((-1, -1)),
                    // The first record carrying the largest timestamp.
                    MAX_TIMESTAMP => {
                        let max = part
                            .segments()
                            .iter()
                            .map(|s| s.max_timestamp)
                            .max()
                            .unwrap_or(-1);
                        if max < 0 {
                            Ok((-1, -1))
                        } else {
                            match part.offset_for_timestamp(max) {
                                Ok(Some(o)) => Ok((max, o as i64)),
                                Ok(None) => Ok((-1, -1)),
                                Err(e) => Err(errors::code_of(&e)),
                            }
                        }
                    }
                    ts if ts >= 0 => match part.offset_for_timestamp(ts) {
                        Ok(Some(o)) => Ok((ts, o as i64)),
                        Ok(None) => Ok((-1, -1)),
                        Err(e) => Err(errors::code_of(&e)),
                    },
                    _ => Err(errors::INVALID_REQUEST),
                }
            });
            partitions.push(match answer {
                Ok((ts, offset)) => {
                    let r = r
                        .with_error_code(errors::NONE)
                        .with_timestamp(ts)
                        .with_offset(offset);
                    // The field exists from v4 on; encoding refuses it before.
                    if version >= 4 {
                        r.with_leader_epoch(0)
                    } else {
                        r
                    }
                }
                Err(code) => r.with_error_code(code),
            });
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

pub async fn delete_records(ctx: &Arc<Ctx>, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let name = t.name.0.to_string();
            let r = DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_low_watermark(-1);
            let part = partition_index(p.partition_index)
                .ok_or(errors::UNKNOWN_TOPIC_OR_PARTITION)
                .and_then(|i| {
                    ctx.engine
                        .partition(&name, i)
                        .map(|x| (i, x))
                        .map_err(|e| errors::code_of(&e))
                });
            let outcome = match part {
                Err(code) => Err(code),
                Ok((i, part)) => {
                    // -1 means "up to the high watermark".
                    let offset = if p.offset == -1 {
                        Some(part.watermarks().high_watermark)
                    } else {
                        u64::try_from(p.offset).ok()
                    };
                    match offset {
                        None => Err(errors::OFFSET_OUT_OF_RANGE),
                        Some(o) => {
                            let engine = ctx.engine.clone();
                            blocking(move || engine.delete_records(&name, i, o))
                                .await
                                .map_err(|e| errors::code_of(&e))
                        }
                    }
                }
            };
            partitions.push(match outcome {
                Ok(low) => r
                    .with_error_code(errors::NONE)
                    .with_low_watermark(low as i64),
                Err(code) => r.with_error_code(code),
            });
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}
