//! Produce, Fetch, ListOffsets and DeleteRecords: partition-addressed requests
//! routed to leaders.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::order::{CallTurn, Ticket};

use bytes::Bytes;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    DeleteRecordsRequest, FetchRequest, InitProducerIdRequest, ListOffsetsRequest, ProduceRequest,
    ProducerId,
};
use uuid::Uuid;

use crate::client::{name, opt_string, Client, Lane, LeaderOp};
use crate::conn::Connection;
use crate::error::{codes, is_retriable_produce, Error, Result};

/// One already-encoded RecordBatch (or several, back to back) for one partition.
#[derive(Clone, Debug)]
pub struct ProduceBatch {
    /// The partition's topic.
    pub topic: String,
    /// The partition's index.
    pub partition: i32,
    /// RecordBatch v2 bytes, headers complete (CRC, and for an idempotent producer its
    /// id, epoch and sequence); the broker assigns the offsets. Each batch at most the
    /// topic's `max.message.bytes`, else MESSAGE_TOO_LARGE (10).
    pub records: Bytes,
}

/// One batch's outcome of [`Client::produce`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProduceResult {
    /// The batch's topic.
    pub topic: String,
    /// The batch's partition.
    pub partition: i32,
    /// Kafka's error code, once the client's retries are spent (e.g.
    /// NOT_LEADER_OR_FOLLOWER, 6; MESSAGE_TOO_LARGE, 10; OUT_OF_ORDER_SEQUENCE_NUMBER,
    /// 45; INVALID_PRODUCER_EPOCH, 47); 0 when written, and for a batch the broker
    /// already had (DUPLICATE_SEQUENCE_NUMBER, 46); 0 with acks 0.
    pub error_code: i16,
    /// The broker's message for the error (or its first record error's), or the
    /// client's for an error of its own.
    pub error_message: Option<String>,
    /// -1 with acks=0 (no answer) and when the broker reports none.
    pub base_offset: i64,
    /// The broker's append time (epoch ms) when the topic's timestamps are
    /// LogAppendTime; -1 for CreateTime, with acks 0 and on error.
    pub log_append_time_ms: i64,
    /// The partition's log start offset after the append; -1 when unknown.
    pub log_start_offset: i64,
}

struct ProduceOp {
    acks: i16,
    timeout_ms: i32,
    transactional_id: Option<String>,
    /// The call's place in line: requests are queued in call order.
    turn: CallTurn,
}

/// Tells the call's turn that one request is queued, once: when the
/// connection took it, or when the attempt gave up on it.
struct QueuedOnce {
    op: Arc<ProduceOp>,
    fired: bool,
}

impl QueuedOnce {
    fn fire(&mut self) {
        if !self.fired {
            self.fired = true;
            self.op.turn.queued();
        }
    }
}

impl Drop for QueuedOnce {
    fn drop(&mut self) {
        self.fire();
    }
}

fn topic_groups<T>(
    items: &[(usize, T)],
    loc: impl Fn(&T) -> (&str, i32),
) -> Vec<(String, Vec<usize>)> {
    let mut order: Vec<(String, Vec<usize>)> = Vec::new();
    for (pos, (_, it)) in items.iter().enumerate() {
        let (t, _) = loc(it);
        match order.iter_mut().find(|(n, _)| n == t) {
            Some((_, v)) => v.push(pos),
            None => order.push((t.to_string(), vec![pos])),
        }
    }
    order
}

impl LeaderOp for ProduceOp {
    type Item = ProduceBatch;
    type Out = ProduceResult;

    fn locate(item: &ProduceBatch) -> (&str, i32) {
        (&item.topic, item.partition)
    }

    fn error_code(out: &ProduceResult) -> i16 {
        out.error_code
    }

    fn retriable(code: i16) -> bool {
        is_retriable_produce(code)
    }

    fn begin(&self, attempt: u32, requests: usize) {
        self.turn.begin(attempt, requests);
    }

    fn queued(&self) {
        self.turn.queued();
    }

    fn failed(item: &ProduceBatch, code: i16, message: String) -> ProduceResult {
        ProduceResult {
            topic: item.topic.clone(),
            partition: item.partition,
            error_code: code,
            error_message: Some(message),
            base_offset: -1,
            log_append_time_ms: -1,
            log_start_offset: -1,
        }
    }

    // Spelled out (not `async fn`) to state the Send + 'static the spawn needs.
    #[allow(clippy::manual_async_fn)]
    fn send(
        self: Arc<Self>,
        client: Client,
        conn: Arc<Connection>,
        items: Vec<(usize, ProduceBatch)>,
    ) -> impl std::future::Future<Output = Result<Vec<(usize, ProduceResult)>>> + Send + 'static
    {
        async move {
            // Fired on every way out, so a failed attempt never holds later calls.
            let mut queued = QueuedOnce {
                op: self.clone(),
                fired: false,
            };
            let mut v = conn.version::<ProduceRequest>(i16::MAX)?;
            let groups = topic_groups(&items, Self::locate);
            if v >= 13 && groups.iter().any(|(t, _)| client.topic_id(t).is_nil()) {
                v = 12;
            }
            let topic_data = groups
                .iter()
                .map(|(t, pos)| {
                    TopicProduceData::default()
                        .with_name(name(t))
                        .with_topic_id(client.topic_id(t))
                        .with_partition_data(
                            pos.iter()
                                .map(|&p| {
                                    PartitionProduceData::default()
                                        .with_index(items[p].1.partition)
                                        .with_records(Some(items[p].1.records.clone()))
                                })
                                .collect(),
                        )
                })
                .collect();
            let req = ProduceRequest::default()
                .with_acks(self.acks)
                .with_timeout_ms(self.timeout_ms)
                .with_transactional_id(self.transactional_id.as_deref().map(|t| name(t).0.into()))
                .with_topic_data(topic_data);
            self.turn.wait().await;
            if self.acks == 0 {
                conn.send_oneway(&req, v).await?;
                queued.fire();
                return Ok(items
                    .into_iter()
                    .map(|(i, b)| {
                        let mut r = Self::failed(&b, codes::NONE, String::new());
                        r.error_message = None;
                        (i, r)
                    })
                    .collect());
            }
            let resp = conn.send_queued(&req, v, &mut || queued.fire()).await?;
            drop(queued);
            let mut by_key: HashMap<(String, i32), ProduceResult> = HashMap::new();
            for t in resp.responses {
                let tname = if t.topic_id.is_nil() {
                    t.name.0.to_string()
                } else {
                    groups
                        .iter()
                        .find(|(n, _)| client.topic_id(n) == t.topic_id)
                        .map(|(n, _)| n.clone())
                        .unwrap_or_default()
                };
                for p in t.partition_responses {
                    // A duplicate the broker already has is success (KIP-98); its offset is unknown.
                    let code = if p.error_code == codes::DUPLICATE_SEQUENCE_NUMBER {
                        codes::NONE
                    } else {
                        p.error_code
                    };
                    let mut msg = opt_string(&p.error_message);
                    if msg.is_none() && !p.record_errors.is_empty() {
                        msg = p
                            .record_errors
                            .iter()
                            .find_map(|e| opt_string(&e.batch_index_error_message));
                    }
                    by_key.insert(
                        (tname.clone(), p.index),
                        ProduceResult {
                            topic: tname.clone(),
                            partition: p.index,
                            error_code: code,
                            error_message: msg,
                            base_offset: p.base_offset,
                            log_append_time_ms: p.log_append_time_ms,
                            log_start_offset: p.log_start_offset,
                        },
                    );
                }
            }
            Ok(items
                .into_iter()
                .map(|(i, b)| {
                    let r = by_key
                        .remove(&(b.topic.clone(), b.partition))
                        .unwrap_or_else(|| {
                            Self::failed(
                                &b,
                                codes::UNKNOWN_SERVER_ERROR,
                                "partition missing from the response".to_string(),
                            )
                        });
                    (i, r)
                })
                .collect())
        }
    }
}

/// One partition for [`Client::fetch`].
#[derive(Clone, Debug)]
pub struct FetchPartitionRequest {
    /// The partition's topic.
    pub topic: String,
    /// The partition's index.
    pub partition: i32,
    /// The first offset wanted (at least 0, else [`Error::Config`]); the batch holding
    /// it comes first, so records before it may be returned too.
    pub offset: i64,
    /// Per-partition byte limit (`max.partition.fetch.bytes`).
    pub max_bytes: i32,
}

/// The request-wide settings of one [`Client::fetch`] (Kafka's consumer settings of
/// the same names).
#[derive(Clone, Copy, Debug)]
pub struct FetchOptions {
    /// How long (ms) the broker may hold the fetch until `min_bytes` arrive (default
    /// 500); the client waits this long on top of its request timeout.
    pub max_wait_ms: i32,
    /// Bytes the broker waits to gather before answering, at most `max_wait_ms`
    /// (default 1: answer as soon as there is any data).
    pub min_bytes: i32,
    /// Response-wide byte limit (`fetch.max.bytes`, default 50 MiB); at least one
    /// batch is returned. Over the client's `max_response_bytes`: [`Error::Config`].
    pub max_bytes: i32,
    /// 0 read_uncommitted, 1 read_committed.
    pub isolation_level: i8,
    /// The connection lane: fetches of different lanes use different connections
    /// (one lane per consumer), so one can be cancelled without touching the others.
    pub lane: u32,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 50 * 1024 * 1024,
            isolation_level: 0,
            lane: 0,
        }
    }
}

/// A transaction aborted in a fetched range (read_committed): the batches of
/// `producer_id` from `first_offset` up to its abort marker are not data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortedTransaction {
    /// The producer id of the aborted transaction's batches.
    pub producer_id: i64,
    /// The offset of the transaction's first batch.
    pub first_offset: i64,
}

/// One partition's answer to [`Client::fetch`].
#[derive(Clone, Debug)]
pub struct FetchResult {
    /// The partition's topic.
    pub topic: String,
    /// The partition's index.
    pub partition: i32,
    /// Kafka's error code, once the client's retries are spent (e.g.
    /// OFFSET_OUT_OF_RANGE, 1, never retried); 0 otherwise, also for a partition the
    /// broker left out because the response was full (then `records` is empty).
    pub error_code: i16,
    /// The offset after the last record replicated to every in-sync replica: where
    /// read_uncommitted reading ends. -1 when unknown.
    pub high_watermark: i64,
    /// The last stable offset: the first offset of the earliest transaction still
    /// open, else the high watermark; where read_committed reading ends. -1 when
    /// unknown.
    pub last_stable_offset: i64,
    /// The partition's first offset still in the log; -1 when unknown.
    pub log_start_offset: i64,
    /// Raw RecordBatch bytes as the broker sent them (a slice of the response
    /// frame, no copy); the last batch may be truncated, as Kafka allows.
    pub records: Bytes,
    /// read_committed only: the aborted transactions overlapping `records`.
    pub aborted_transactions: Vec<AbortedTransaction>,
}

struct FetchOp {
    opts: FetchOptions,
    /// The lane's epoch when the fetch was made (see `Lane::Fetch`).
    epoch: u32,
}

impl LeaderOp for FetchOp {
    type Item = FetchPartitionRequest;
    type Out = FetchResult;

    fn lane(&self) -> Lane {
        Lane::Fetch(self.opts.lane, self.epoch)
    }

    fn locate(item: &FetchPartitionRequest) -> (&str, i32) {
        (&item.topic, item.partition)
    }

    fn error_code(out: &FetchResult) -> i16 {
        out.error_code
    }

    fn failed(item: &FetchPartitionRequest, code: i16, _message: String) -> FetchResult {
        FetchResult {
            topic: item.topic.clone(),
            partition: item.partition,
            error_code: code,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            records: Bytes::new(),
            aborted_transactions: Vec::new(),
        }
    }

    // Spelled out (not `async fn`) to state the Send + 'static the spawn needs.
    #[allow(clippy::manual_async_fn)]
    fn send(
        self: Arc<Self>,
        client: Client,
        conn: Arc<Connection>,
        items: Vec<(usize, FetchPartitionRequest)>,
    ) -> impl std::future::Future<Output = Result<Vec<(usize, FetchResult)>>> + Send + 'static {
        async move {
            let mut v = conn.version::<FetchRequest>(i16::MAX)?;
            let groups = topic_groups(&items, Self::locate);
            if v >= 13 && groups.iter().any(|(t, _)| client.topic_id(t).is_nil()) {
                v = 12;
            }
            let topics = groups
                .iter()
                .map(|(t, pos)| {
                    FetchTopic::default()
                        .with_topic(name(t))
                        .with_topic_id(client.topic_id(t))
                        .with_partitions(
                            pos.iter()
                                .map(|&p| {
                                    let it = &items[p].1;
                                    FetchPartition::default()
                                        .with_partition(it.partition)
                                        .with_fetch_offset(it.offset)
                                        .with_partition_max_bytes(it.max_bytes)
                                })
                                .collect(),
                        )
                })
                .collect();
            let o = self.opts;
            let req = FetchRequest::default()
                .with_max_wait_ms(o.max_wait_ms)
                .with_min_bytes(o.min_bytes)
                .with_max_bytes(o.max_bytes)
                .with_isolation_level(o.isolation_level)
                .with_topics(topics);
            let wait = Duration::from_millis(o.max_wait_ms.max(0) as u64);
            let resp = conn.send_with_wait(&req, v, wait).await?;
            if resp.error_code != codes::NONE {
                return Err(Error::kafka(resp.error_code, "fetch refused"));
            }
            let ids: HashMap<Uuid, String> = groups
                .iter()
                .map(|(t, _)| (client.topic_id(t), t.clone()))
                .collect();
            let mut by_key: HashMap<(String, i32), FetchResult> = HashMap::new();
            for t in resp.responses {
                let tname = if v >= 13 {
                    ids.get(&t.topic_id).cloned().unwrap_or_default()
                } else {
                    t.topic.0.to_string()
                };
                for p in t.partitions {
                    by_key.insert(
                        (tname.clone(), p.partition_index),
                        FetchResult {
                            topic: tname.clone(),
                            partition: p.partition_index,
                            error_code: p.error_code,
                            high_watermark: p.high_watermark,
                            last_stable_offset: p.last_stable_offset,
                            log_start_offset: p.log_start_offset,
                            records: p.records.unwrap_or_default(),
                            aborted_transactions: p
                                .aborted_transactions
                                .unwrap_or_default()
                                .into_iter()
                                .map(|a| AbortedTransaction {
                                    producer_id: a.producer_id.0,
                                    first_offset: a.first_offset,
                                })
                                .collect(),
                        },
                    );
                }
            }
            Ok(items
                .into_iter()
                .map(|(i, it)| {
                    // A partition left out of a response (response-wide max_bytes
                    // reached) simply has no data this time.
                    let r = by_key
                        .remove(&(it.topic.clone(), it.partition))
                        .unwrap_or_else(|| {
                            let mut r = Self::failed(&it, codes::NONE, String::new());
                            r.error_code = codes::NONE;
                            r
                        });
                    (i, r)
                })
                .collect())
        }
    }
}

/// One partition's outcome of [`Client::list_offsets`] or [`Client::delete_records`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetResult {
    /// The partition's topic.
    pub topic: String,
    /// The partition's index.
    pub partition: i32,
    /// Kafka's error code for the partition, once the client's retries are spent
    /// (e.g. OFFSET_OUT_OF_RANGE, 1, for a DeleteRecords offset past the high
    /// watermark); 0 on success.
    pub error_code: i16,
    /// ListOffsets: the offset found; DeleteRecords: the new low watermark.
    pub offset: i64,
    /// ListOffsets by timestamp: the found record's timestamp (epoch ms); -1 for
    /// [`LATEST`] and [`EARLIEST`], when nothing was found, and for DeleteRecords.
    pub timestamp: i64,
}

/// ListOffsets' timestamp for the end of the log: the high watermark (the last stable
/// offset for read_committed).
pub const LATEST: i64 = -1;
/// ListOffsets' timestamp for the start of the log: the log start offset.
pub const EARLIEST: i64 = -2;

/// One partition and a value for [`Client::list_offsets`] or [`Client::delete_records`].
#[derive(Clone, Debug)]
pub struct PartitionOffset {
    /// The partition's topic.
    pub topic: String,
    /// The partition's index.
    pub partition: i32,
    /// ListOffsets: a timestamp (or LATEST/EARLIEST); DeleteRecords: delete before this offset.
    pub value: i64,
}

/// ListOffsets and DeleteRecords: both send a (topic, partition, value) to
/// each partition's leader and answer an offset per partition, so one
/// `LeaderOp` serves both and only the request and response types differ.
#[derive(Clone, Copy)]
enum OffsetsOp {
    /// ListOffsets at this isolation level (0 read_uncommitted, 1 read_committed).
    List { isolation_level: i8 },
    /// DeleteRecords, the broker waiting up to this many milliseconds for it.
    Delete { timeout_ms: i32 },
}

fn offset_failed(item: &PartitionOffset, code: i16) -> OffsetResult {
    OffsetResult {
        topic: item.topic.clone(),
        partition: item.partition,
        error_code: code,
        offset: -1,
        timestamp: -1,
    }
}

/// One partition's answer: error code, offset, timestamp.
type OffsetAnswer = (i16, i64, i64);

/// The request's topics, in the order `topic_groups` found them, each with
/// its items' partitions as `partition` builds them.
fn per_topic<T, P>(
    items: &[(usize, PartitionOffset)],
    topic: impl Fn(kafka_protocol::messages::TopicName, Vec<P>) -> T,
    partition: impl Fn(&PartitionOffset) -> P,
) -> Vec<T> {
    topic_groups(items, OffsetsOp::locate)
        .iter()
        .map(|(t, pos)| {
            let parts = pos
                .iter()
                .filter_map(|&p| items.get(p).map(|(_, it)| partition(it)))
                .collect();
            topic(name(t), parts)
        })
        .collect()
}

/// Each item's result, in the items' order, from the response's answers by
/// (topic, partition); an item the response leaves out fails with
/// UNKNOWN_SERVER_ERROR.
fn answer_by_key(
    items: Vec<(usize, PartitionOffset)>,
    answers: impl IntoIterator<Item = ((String, i32), OffsetAnswer)>,
) -> Vec<(usize, OffsetResult)> {
    let mut by_key: HashMap<(String, i32), OffsetAnswer> = answers.into_iter().collect();
    items
        .into_iter()
        .map(|(i, it)| {
            let r = match by_key.remove(&(it.topic.clone(), it.partition)) {
                Some((error_code, offset, timestamp)) => OffsetResult {
                    topic: it.topic,
                    partition: it.partition,
                    error_code,
                    offset,
                    timestamp,
                },
                None => offset_failed(&it, codes::UNKNOWN_SERVER_ERROR),
            };
            (i, r)
        })
        .collect()
}

impl LeaderOp for OffsetsOp {
    type Item = PartitionOffset;
    type Out = OffsetResult;

    fn locate(item: &PartitionOffset) -> (&str, i32) {
        (&item.topic, item.partition)
    }

    fn error_code(out: &OffsetResult) -> i16 {
        out.error_code
    }

    fn failed(item: &PartitionOffset, code: i16, _message: String) -> OffsetResult {
        offset_failed(item, code)
    }

    // Spelled out (not `async fn`) to state the Send + 'static the spawn needs.
    #[allow(clippy::manual_async_fn)]
    fn send(
        self: Arc<Self>,
        _client: Client,
        conn: Arc<Connection>,
        items: Vec<(usize, PartitionOffset)>,
    ) -> impl std::future::Future<Output = Result<Vec<(usize, OffsetResult)>>> + Send + 'static
    {
        async move {
            let answers: Vec<((String, i32), OffsetAnswer)> = match *self {
                OffsetsOp::List { isolation_level } => {
                    let v = conn.version::<ListOffsetsRequest>(i16::MAX)?;
                    let topics = per_topic(
                        &items,
                        |name, parts| {
                            ListOffsetsTopic::default()
                                .with_name(name)
                                .with_partitions(parts)
                        },
                        |it| {
                            ListOffsetsPartition::default()
                                .with_partition_index(it.partition)
                                .with_timestamp(it.value)
                        },
                    );
                    let mut req = ListOffsetsRequest::default().with_topics(topics);
                    if v >= 2 {
                        req = req.with_isolation_level(isolation_level);
                    }
                    let resp = conn.send(&req, v).await?;
                    resp.topics
                        .into_iter()
                        .flat_map(|t| {
                            let topic = t.name.0.to_string();
                            t.partitions.into_iter().map(move |p| {
                                (
                                    (topic.clone(), p.partition_index),
                                    (p.error_code, p.offset, p.timestamp),
                                )
                            })
                        })
                        .collect()
                }
                OffsetsOp::Delete { timeout_ms } => {
                    let v = conn.version::<DeleteRecordsRequest>(i16::MAX)?;
                    let topics = per_topic(
                        &items,
                        |name, parts| {
                            DeleteRecordsTopic::default()
                                .with_name(name)
                                .with_partitions(parts)
                        },
                        |it| {
                            DeleteRecordsPartition::default()
                                .with_partition_index(it.partition)
                                .with_offset(it.value)
                        },
                    );
                    let req = DeleteRecordsRequest::default()
                        .with_topics(topics)
                        .with_timeout_ms(timeout_ms);
                    let resp = conn.send(&req, v).await?;
                    resp.topics
                        .into_iter()
                        .flat_map(|t| {
                            let topic = t.name.0.to_string();
                            // The low watermark after the deletion is the answer's offset.
                            t.partitions.into_iter().map(move |p| {
                                (
                                    (topic.clone(), p.partition_index),
                                    (p.error_code, p.low_watermark, -1),
                                )
                            })
                        })
                        .collect()
                }
            };
            Ok(answer_by_key(items, answers))
        }
    }
}

/// A fetch's registration for `Client::cancel_fetches`; deregisters on drop.
pub struct FetchCancel {
    client: Client,
    lane: u32,
    epoch: u32,
    id: u64,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for FetchCancel {
    fn drop(&mut self) {
        let mut map = poison_lock(&self.client.inner.cancels);
        if let Some(v) = map.get_mut(&self.lane) {
            v.retain(|(id, _)| *id != self.id);
            if v.is_empty() {
                map.remove(&self.lane);
            }
        }
    }
}

fn poison_lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The map is changed by single push/retain/remove calls, never left half-done.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An idempotent producer's identity from InitProducerId, written into the header
/// of each of its batches; the broker deduplicates by it and the batch sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerIdAndEpoch {
    /// The producer id the broker assigned.
    pub producer_id: i64,
    /// Its epoch: a newer epoch of the same id fences the older ones
    /// (INVALID_PRODUCER_EPOCH, 47).
    pub producer_epoch: i16,
}

impl Client {
    /// Produces already-encoded RecordBatch bytes, as they are, to each partition's
    /// leader. `acks`: 0 (no answer), 1 (leader), -1 (all in-sync replicas).
    /// Returns one result per batch, in order. Several batches for one partition go
    /// in successive requests, in order (Kafka takes one per partition per request).
    pub async fn produce(
        &self,
        batches: Vec<ProduceBatch>,
        acks: i16,
        timeout_ms: i32,
    ) -> Result<Vec<ProduceResult>> {
        let ticket = self.produce_ticket();
        self.produce_tx(batches, acks, timeout_ms, None, ticket)
            .await
    }

    /// [`Client::produce`] in the place of a ticket taken earlier with
    /// [`Client::produce_ticket`]: its requests are queued on their connections
    /// after those of every call whose ticket was taken before (the binding
    /// takes the ticket when JavaScript makes the call, so calls made one after
    /// the other reach the broker in that order).
    pub async fn produce_ordered(
        &self,
        batches: Vec<ProduceBatch>,
        acks: i16,
        timeout_ms: i32,
        ticket: Ticket,
    ) -> Result<Vec<ProduceResult>> {
        self.produce_tx(batches, acks, timeout_ms, None, ticket)
            .await
    }

    /// [`Client::produce`] with Produce's `transactional_id` (the batches of a
    /// transaction); `None` is a plain produce.
    pub(crate) async fn produce_tx(
        &self,
        batches: Vec<ProduceBatch>,
        acks: i16,
        timeout_ms: i32,
        transactional_id: Option<String>,
        ticket: Ticket,
    ) -> Result<Vec<ProduceResult>> {
        if !matches!(acks, -1..=1) {
            return Err(Error::Config(format!(
                "acks must be -1, 0 or 1, not {acks}"
            )));
        }
        // As many rounds as `route_rounds` makes: one per batch of the
        // partition with the most batches in this call.
        let mut per_partition: HashMap<(&str, i32), usize> = HashMap::new();
        for b in &batches {
            *per_partition
                .entry((b.topic.as_str(), b.partition))
                .or_insert(0) += 1;
        }
        let rounds = per_partition.values().copied().max().unwrap_or(1);
        let turn = CallTurn::new(ticket, rounds);
        self.route_rounds(
            Arc::new(ProduceOp {
                acks,
                timeout_ms,
                transactional_id,
                turn,
            }),
            batches,
        )
        .await
    }

    /// Fetches from each partition's leader. Results come in the request's order
    /// with the raw record-batch bytes, high watermark and log start offset;
    /// OFFSET_OUT_OF_RANGE and other partition errors are reported per partition.
    pub async fn fetch(
        &self,
        partitions: Vec<FetchPartitionRequest>,
        opts: FetchOptions,
    ) -> Result<Vec<FetchResult>> {
        let epoch = self.lane_epoch(opts.lane);
        self.fetch_at(partitions, opts, epoch).await
    }

    async fn fetch_at(
        &self,
        partitions: Vec<FetchPartitionRequest>,
        opts: FetchOptions,
        epoch: u32,
    ) -> Result<Vec<FetchResult>> {
        for p in &partitions {
            if p.max_bytes < 0 || p.offset < 0 {
                return Err(Error::Config(format!(
                    "bad fetch position for {}-{}",
                    p.topic, p.partition
                )));
            }
        }
        let max = self.config().max_response_bytes;
        if opts.max_bytes < 0 || opts.max_bytes as usize > max {
            return Err(Error::Config(format!(
                "fetch max_bytes {} over the response limit {max}",
                opts.max_bytes
            )));
        }
        self.route_rounds(Arc::new(FetchOp { opts, epoch }), partitions)
            .await
    }

    /// Registers a cancellable fetch on fetch lane `lane`, before it starts (so a
    /// `cancel_fetches` that follows is never missed).
    pub fn fetch_canceller(&self, lane: u32) -> FetchCancel {
        let (tx, rx) = oneshot::channel();
        let id = self.inner.next_cancel.fetch_add(1, Ordering::Relaxed);
        let epoch = self.lane_epoch(lane);
        poison_lock(&self.inner.cancels)
            .entry(lane)
            .or_default()
            .push((id, tx));
        FetchCancel {
            client: self.clone(),
            lane,
            epoch,
            id,
            rx: Some(rx),
        }
    }

    /// Cancels every fetch registered on `lane` and not finished: each returns
    /// `None` at once, and the lane's connections are closed, since the broker
    /// answers nothing else on a connection while a long poll waits there (a fetch
    /// after a seek would wait the poll out); fetches made after this call connect
    /// afresh. Returns how many were waiting.
    pub fn cancel_fetches(&self, lane: u32) -> usize {
        let waiting = poison_lock(&self.inner.cancels)
            .remove(&lane)
            .unwrap_or_default();
        let n = waiting.len();
        if n > 0 {
            self.bump_lane(lane);
            self.close_stale_lane(lane);
        }
        for (_, tx) in waiting {
            let _ = tx.send(());
        }
        n
    }

    /// Cancels the fetches of `lane` and closes its connections, in use or not:
    /// the caller is done with the lane (a consumer disconnecting).
    pub fn release_fetch_lane(&self, lane: u32) {
        self.cancel_fetches(lane);
        self.bump_lane(lane);
        self.close_stale_lane(lane);
    }

    /// As `fetch` on `cancel`'s lane, until cancelled by `cancel_fetches`: then
    /// `None` (the poll's response is never read).
    pub async fn fetch_or_cancel(
        &self,
        partitions: Vec<FetchPartitionRequest>,
        mut opts: FetchOptions,
        mut cancel: FetchCancel,
    ) -> Result<Option<Vec<FetchResult>>> {
        opts.lane = cancel.lane;
        let Some(rx) = cancel.rx.take() else {
            return Ok(None);
        };
        tokio::select! {
            r = self.fetch_at(partitions, opts, cancel.epoch) => r.map(Some),
            // Only cancel_fetches sends or drops the trigger while `cancel` lives.
            _ = rx => {
                // The fetch is dropped now; a connection it made after the cancel
                // closed the lane's goes too.
                self.close_stale_lane(opts.lane);
                Ok(None)
            }
        }
    }

    /// ListOffsets: the offset for a timestamp, or LATEST (-1) / EARLIEST (-2).
    pub async fn list_offsets(
        &self,
        partitions: Vec<PartitionOffset>,
        isolation_level: i8,
    ) -> Result<Vec<OffsetResult>> {
        self.route_rounds(Arc::new(OffsetsOp::List { isolation_level }), partitions)
            .await
    }

    /// DeleteRecords: deletes everything before `value` (-1: up to the high watermark).
    pub async fn delete_records(
        &self,
        partitions: Vec<PartitionOffset>,
        timeout_ms: i32,
    ) -> Result<Vec<OffsetResult>> {
        self.route_rounds(Arc::new(OffsetsOp::Delete { timeout_ms }), partitions)
            .await
    }

    /// InitProducerId for an idempotent producer. With `current` (InitProducerId
    /// v3+, KIP-360) the broker may bump that id's epoch or hand out a new id;
    /// Kafka gives a non-transactional producer a new id. (An idempotent producer
    /// recovering from OUT_OF_ORDER_SEQUENCE_NUMBER may instead bump its epoch
    /// itself and restart its sequences at 0, as the Java producer does.)
    pub async fn init_producer_id(
        &self,
        current: Option<ProducerIdAndEpoch>,
    ) -> Result<ProducerIdAndEpoch> {
        let mut last = Error::Connection("no broker reachable".to_string());
        for attempt in 0..=self.config().retries {
            if attempt > 0 {
                self.backoff(attempt - 1).await;
            }
            let conn = match self.any_conn().await {
                Ok(c) => c,
                Err(e) if e.is_retriable() => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let v = conn.version::<InitProducerIdRequest>(i16::MAX)?;
            let mut req = InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(i32::MAX);
            if let Some(cur) = current {
                if v < 3 {
                    return Err(Error::UnsupportedVersion { api_key: 22 });
                }
                req = req
                    .with_producer_id(ProducerId(cur.producer_id))
                    .with_producer_epoch(cur.producer_epoch);
            }
            match conn.send(&req, v).await {
                Ok(r) if r.error_code == codes::NONE => {
                    return Ok(ProducerIdAndEpoch {
                        producer_id: r.producer_id.0,
                        producer_epoch: r.producer_epoch,
                    })
                }
                Ok(r) => {
                    let e = Error::kafka(r.error_code, "InitProducerId failed");
                    if !e.is_retriable() {
                        return Err(e);
                    }
                    last = e;
                }
                Err(e) if e.is_retriable() => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}
