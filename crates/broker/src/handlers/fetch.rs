//! Fetch: whole stored batches, as views of the segment maps (see
//! `splice`), under Kafka's limits: the request's `max_bytes` over all
//! partitions and each partition's `partition_max_bytes`, except that the
//! first partition with data returns at least one batch even when it is
//! larger. Long-polls until `min_bytes` are available or `max_wait_ms`
//! passes, through the engine's waiters (no thread is held).
//!
//! Fetch sessions: every response has session id 0, which tells clients
//! the broker keeps no session, so they send full requests (Kafka's
//! sessionless fetch). `isolation_level` is accepted: read_committed reads
//! as read_uncommitted, since the log holds no transactions.

use std::sync::Arc;

use ferrolog_engine::{DataOutcome, Error, Partition};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};
use uuid::Uuid;

use super::{partition_index, Ctx};
use crate::errors;
use crate::splice::Splices;
use crate::topic_id::topic_name;

struct Target {
    topic: usize,
    index: i32,
    partition: Result<Arc<Partition>, i16>,
    offset: i64,
    max_bytes: u64,
}

struct Read {
    topics: Vec<FetchableTopicResponse>,
    bytes: u64,
    /// Where each readable partition stands, to wait for more.
    waits: Vec<(Arc<Partition>, u64)>,
    errors: bool,
}

fn read_all(
    topics_out: &[FetchableTopicResponse],
    targets: &[Target],
    max_bytes: u64,
    splices: &mut Splices,
) -> Read {
    let mut topics = topics_out.to_vec();
    let mut remaining = max_bytes;
    let mut first = true;
    let mut bytes = 0u64;
    let mut waits = Vec::new();
    let mut had_errors = false;
    for t in targets {
        let mut data = PartitionData::default()
            .with_partition_index(t.index)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1);
        match &t.partition {
            Err(code) => {
                had_errors = true;
                data = data.with_error_code(*code);
            }
            Ok(p) => {
                let limit = t.max_bytes.min(remaining);
                let offset = u64::try_from(t.offset).ok();
                let result = match offset {
                    // Kafka answers even when no room is left: the
                    // partition's watermarks, and no records.
                    Some(_) if limit == 0 && !first => Ok(None),
                    Some(o) => p.read(o, limit.max(1)).map(Some),
                    None => {
                        let w = p.watermarks();
                        Err(Error::OffsetOutOfRange {
                            topic: p.topic.clone(),
                            partition: p.id,
                            offset: t.offset,
                            log_start_offset: w.log_start_offset,
                            high_watermark: w.high_watermark,
                        })
                    }
                };
                match result {
                    Ok(None) => {
                        let w = p.watermarks();
                        data = data
                            .with_high_watermark(w.high_watermark as i64)
                            .with_last_stable_offset(w.high_watermark as i64)
                            .with_log_start_offset(w.log_start_offset as i64);
                    }
                    Ok(Some(r)) => {
                        let w = r.watermarks;
                        data = data
                            .with_high_watermark(w.high_watermark as i64)
                            .with_last_stable_offset(w.high_watermark as i64)
                            .with_log_start_offset(w.log_start_offset as i64);
                        if let Some(chunk) = r.chunks.into_iter().next() {
                            // Past the first partition with data, a batch
                            // that does not fit waits for the next fetch.
                            if first || chunk.len <= limit {
                                first = false;
                                bytes += chunk.len;
                                remaining = remaining.saturating_sub(chunk.len);
                                data = data.with_records(Some(splices.add(chunk)));
                            }
                        }
                        // Below min_bytes, any partition's next append may
                        // be what completes the response.
                        waits.push((p.clone(), w.high_watermark.max(t.offset as u64)));
                    }
                    Err(Error::OffsetOutOfRange {
                        log_start_offset,
                        high_watermark,
                        ..
                    }) => {
                        had_errors = true;
                        data = data
                            .with_error_code(errors::OFFSET_OUT_OF_RANGE)
                            .with_high_watermark(high_watermark as i64)
                            .with_last_stable_offset(high_watermark as i64)
                            .with_log_start_offset(log_start_offset as i64);
                    }
                    Err(e) => {
                        had_errors = true;
                        data = data.with_error_code(errors::code_of(&e));
                    }
                }
            }
        }
        if let Some(out) = topics.get_mut(t.topic) {
            out.partitions.push(data);
        }
    }
    Read {
        topics,
        bytes,
        waits,
        errors: had_errors,
    }
}

pub async fn handle(
    ctx: &Arc<Ctx>,
    req: FetchRequest,
    version: i16,
    splices: &mut Splices,
) -> FetchResponse {
    if req.session_id != 0 {
        // No sessions are kept, so a client continuing one must start over.
        return FetchResponse::default()
            .with_error_code(errors::FETCH_SESSION_ID_NOT_FOUND)
            .with_session_id(0);
    }
    let mut topics = Vec::with_capacity(req.topics.len());
    let mut targets = Vec::new();
    for (ti, ft) in req.topics.into_iter().enumerate() {
        let (name, missing) = if version >= 13 {
            (
                topic_name(&ctx.engine, ft.topic_id),
                errors::UNKNOWN_TOPIC_ID,
            )
        } else {
            (
                Some(ft.topic.0.to_string()),
                errors::UNKNOWN_TOPIC_OR_PARTITION,
            )
        };
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(if version >= 13 {
                    TopicName(StrBytes::default())
                } else {
                    ft.topic.clone()
                })
                .with_topic_id(if version >= 13 {
                    ft.topic_id
                } else {
                    Uuid::nil()
                }),
        );
        for fp in ft.partitions {
            let partition = match &name {
                None => Err(missing),
                Some(n) => partition_index(fp.partition)
                    .ok_or(errors::UNKNOWN_TOPIC_OR_PARTITION)
                    .and_then(|i| ctx.engine.partition(n, i).map_err(|e| errors::code_of(&e))),
            };
            targets.push(Target {
                topic: ti,
                index: fp.partition,
                partition,
                offset: fp.fetch_offset,
                max_bytes: u64::try_from(fp.partition_max_bytes).unwrap_or(0),
            });
        }
    }
    // v0-2 had no response-wide limit.
    let max_bytes = if version >= 3 {
        u64::try_from(req.max_bytes).unwrap_or(0)
    } else {
        u64::MAX
    };
    let min_bytes = u64::try_from(req.min_bytes).unwrap_or(0);
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0))
        .min(ctx.config.fetch_wait_max);
    let deadline = Instant::now() + wait;
    loop {
        let mut round = Splices::default();
        let read = read_all(&topics, &targets, max_bytes, &mut round);
        let now = Instant::now();
        if read.bytes >= min_bytes
            || read.errors
            || now >= deadline
            || read.waits.is_empty()
            || !wait_for_any(&read.waits, deadline).await
        {
            *splices = round;
            return FetchResponse::default()
                .with_error_code(errors::NONE)
                .with_session_id(0)
                .with_responses(read.topics);
        }
    }
}

/// Waiters registered with the engine, cancelled however the wait ends
/// (also when the connection goes away and the task is dropped mid-wait).
struct Registered(Vec<(Arc<Partition>, u64)>);

impl Drop for Registered {
    fn drop(&mut self) {
        for (p, id) in self.0.drain(..) {
            drop(p.cancel_wait(id));
        }
    }
}

/// Waits until any partition's high watermark passes its mark; false at
/// the deadline (or when waiting is impossible), true to read again.
async fn wait_for_any(waits: &[(Arc<Partition>, u64)], deadline: Instant) -> bool {
    let notify = Arc::new(Notify::new());
    let mut registered = Registered(Vec::with_capacity(waits.len()));
    for (p, offset) in waits {
        let n = notify.clone();
        let outcome = p.wait_for_data(
            *offset,
            Box::new(move |outcome| {
                if matches!(outcome, DataOutcome::Data { .. } | DataOutcome::Closed) {
                    n.notify_one();
                }
            }),
        );
        match outcome {
            Ok(Some(id)) => registered.0.push((p.clone(), id)),
            // Already past the mark: read again at once.
            Ok(None) => return true,
            // Too many waiters on this partition: answer now with what there is.
            Err(_) => return false,
        }
    }
    tokio::time::timeout_at(deadline, notify.notified())
        .await
        .is_ok()
}
