//! Produce: each partition's record batches go to the engine exactly as an
//! in-process append does (the engine validates them); acks=-1 (and topics
//! whose flush policy asks for it) answer after the group-committed
//! fdatasync, awaited through the engine's callback, never on a worker.

use std::sync::Arc;

use bytes::Bytes;
use ferrolog_engine::{AppendOutcome, Error, Partition};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;

use super::{partition_index, topic_or_create, Ctx};
use crate::errors;
use crate::topic_id::topic_name;

/// Byte offset of `batchLength` in a RecordBatch, and the bytes before its end.
const LENGTH_AT: usize = 8;
const LOG_OVERHEAD: usize = 12;

/// Splits a partition's records into batches by their length fields. Only
/// the framing is read here; the engine validates each batch in full.
fn batches(records: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < records.len() {
        let rest = &records[at..];
        let len = rest
            .get(LENGTH_AT..LOG_OVERHEAD)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(i32::from_be_bytes)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "records end {} bytes into a batch header",
                    rest.len()
                ))
            })?;
        let total = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(LOG_OVERHEAD))
            .filter(|&t| t <= rest.len())
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "batchLength {len} does not fit the {} bytes left",
                    rest.len()
                ))
            })?;
        out.push(&rest[..total]);
        at += total;
    }
    if out.is_empty() {
        return Err(Error::InvalidArgument("no record batch in records".into()));
    }
    Ok(out)
}

struct Pending {
    topic: usize,
    response: PartitionProduceResponse,
    sync: Option<oneshot::Receiver<Result<(), Error>>>,
}

fn append_all(p: &Arc<Partition>, records: &Bytes) -> Result<AppendOutcome, Error> {
    let mut first: Option<AppendOutcome> = None;
    let mut last: Option<AppendOutcome> = None;
    for b in batches(records)? {
        let o = p.append(b)?;
        first.get_or_insert(o);
        last = Some(o);
    }
    match (first, last) {
        (Some(f), Some(l)) => Ok(AppendOutcome {
            base_offset: f.base_offset,
            needs_sync: f.needs_sync || l.needs_sync,
            ..l
        }),
        _ => Err(Error::InvalidArgument("no record batch in records".into())),
    }
}

fn error_response(index: i32, e: &Error) -> PartitionProduceResponse {
    let code = match e {
        // A batch whose framing does not hold together is corrupt, as Kafka says.
        Error::InvalidArgument(_) => errors::CORRUPT_MESSAGE,
        e => errors::code_of(e),
    };
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(Some(StrBytes::from_string(errors::message_of(e))))
}

pub enum Outcome {
    Respond(ProduceResponse),
    /// acks=0 and every batch was appended: no response.
    Silent,
    /// acks=0 and something failed: Kafka closes the connection, the only
    /// way to tell a client that reads no responses.
    Close,
}

pub async fn handle(ctx: &Arc<Ctx>, req: ProduceRequest, version: i16) -> Outcome {
    let acks = req.acks;
    let mut topics = Vec::with_capacity(req.topic_data.len());
    let mut pending: Vec<Pending> = Vec::new();
    for (ti, td) in req.topic_data.into_iter().enumerate() {
        let (name, by_id) = if version >= 13 {
            (topic_name(&ctx.engine, td.topic_id), true)
        } else {
            (Some(td.name.0.to_string()), false)
        };
        topics.push(
            TopicProduceResponse::default()
                .with_name(td.name.clone())
                .with_topic_id(td.topic_id),
        );
        let topic = match &name {
            None => Err(None),
            Some(n) => topic_or_create(ctx, n, !by_id).await.map_err(Some),
        };
        for pd in td.partition_data {
            let index = pd.index;
            let response = if !(-1..=1).contains(&acks) {
                PartitionProduceResponse::default()
                    .with_index(index)
                    .with_error_code(errors::INVALID_REQUIRED_ACKS)
                    .with_base_offset(-1)
            } else {
                match &topic {
                    Err(None) => PartitionProduceResponse::default()
                        .with_index(index)
                        .with_error_code(errors::UNKNOWN_TOPIC_ID)
                        .with_base_offset(-1),
                    Err(Some(e)) => error_response(index, e),
                    Ok(t) => {
                        let part = partition_index(index)
                            .and_then(|i| t.partitions().get(i as usize).cloned());
                        match (part, &pd.records) {
                            (None, _) => error_response(
                                index,
                                &Error::UnknownTopicOrPartition {
                                    topic: t.name.clone(),
                                    partition: index.max(0) as u32,
                                },
                            ),
                            (Some(_), None) => PartitionProduceResponse::default()
                                .with_index(index)
                                .with_error_code(errors::CORRUPT_MESSAGE)
                                .with_base_offset(-1),
                            (Some(p), Some(records)) => match append_all(&p, records) {
                                Err(e) => error_response(index, &e),
                                Ok(o) => {
                                    let sync = if acks == -1 || o.needs_sync {
                                        let (tx, rx) = oneshot::channel();
                                        p.sync_to(
                                            o.last_offset + 1,
                                            Box::new(move |r| {
                                                let _ = tx.send(r);
                                            }),
                                        );
                                        Some(rx)
                                    } else {
                                        None
                                    };
                                    pending.push(Pending {
                                        topic: ti,
                                        response: PartitionProduceResponse::default()
                                            .with_index(index)
                                            .with_error_code(errors::NONE)
                                            .with_base_offset(o.base_offset as i64)
                                            .with_log_append_time_ms(o.log_append_time_ms)
                                            .with_log_start_offset(o.log_start_offset as i64),
                                        sync,
                                    });
                                    continue;
                                }
                            },
                        }
                    }
                }
            };
            if let Some(t) = topics.get_mut(ti) {
                t.partition_responses.push(response);
            }
        }
    }
    // Every fsync was requested above, so they share group commits; now wait.
    for p in pending {
        let mut response = p.response;
        if let Some(rx) = p.sync {
            let result = rx.await.unwrap_or(Err(Error::Closed));
            if let Err(e) = result {
                response = error_response(response.index, &e);
            }
        }
        if let Some(t) = topics.get_mut(p.topic) {
            t.partition_responses.push(response);
        }
    }
    if acks == 0 {
        let failed = topics
            .iter()
            .flat_map(|t| &t.partition_responses)
            .any(|p| p.error_code != errors::NONE);
        return if failed {
            Outcome::Close
        } else {
            Outcome::Silent
        };
    }
    Outcome::Respond(ProduceResponse::default().with_responses(topics))
}

/// InitProducerId: a fresh id from the engine (shared with in-process
/// idempotent producers), epoch 0. Transactions do not exist, so a
/// transactional id is refused.
pub async fn init_producer_id(
    ctx: &Arc<Ctx>,
    req: &kafka_protocol::messages::InitProducerIdRequest,
) -> kafka_protocol::messages::InitProducerIdResponse {
    use kafka_protocol::messages::{InitProducerIdResponse, ProducerId};
    let response = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    match req.transactional_id.as_ref().map(|t| t.0.as_str()) {
        None => {}
        // Kafka refuses an empty transactional id as invalid.
        Some("") => return response.with_error_code(errors::INVALID_REQUEST),
        Some(_) => return response.with_error_code(errors::TRANSACTIONAL_ID_NOT_FOUND),
    }
    let engine = ctx.engine.clone();
    match super::blocking(move || engine.allocate_producer_id()).await {
        Ok(id) => response
            .with_error_code(errors::NONE)
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => response.with_error_code(errors::code_of(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_checks_framing() {
        let mut one = vec![0u8; 12];
        one[8..12].copy_from_slice(&0i32.to_be_bytes());
        assert_eq!(batches(&one).unwrap().len(), 1);
        let mut two = one.clone();
        two.extend_from_slice(&one);
        assert_eq!(batches(&two).unwrap().len(), 2);
        assert!(batches(&one[..11]).is_err());
        let mut long = one.clone();
        long[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(batches(&long).is_err());
        long[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(batches(&long).is_err());
        assert!(batches(&[]).is_err());
    }
}
