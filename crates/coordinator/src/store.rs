//! `__consumer_offsets` on the engine: the sink the manager writes through,
//! the replay on open, and the migration of ferrolog's earlier JSON records.
//!
//! The topic has one partition (one broker: every group's coordinator is
//! partition 0). Records are appended with `append_internal`, uncompressed,
//! one batch per call, so a commit is all-or-nothing on disk. Compaction
//! (Kafka's log cleaner would do it) re-states the live records and then
//! moves the log start past everything older.

use std::sync::Arc;

use ferrolog_engine::batch::{
    encode_batch, BatchHeader, ProducerFields, Record as BatchRecord, RecordIter, HEADER_BYTES,
};
use ferrolog_engine::compression::decompress;
use ferrolog_engine::{now_ms, Engine, FlushPolicy, TopicConfig};

use crate::manager::{GroupManager, Record, RecordSink};
use crate::records::{GroupMetadataValue, OffsetCommitValue, RecordKey};

/// The internal topic that holds commits and group metadata, as in Kafka.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// Records per batch when re-stating the live state.
const COMPACT_BATCH_RECORDS: usize = 1000;
/// Bytes asked of the engine per read while replaying.
const READ_BYTES: u64 = 1 << 20;
/// The most a compressed batch of this topic may inflate to.
const INFLATE_MAX: usize = 64 << 20;

/// Writes the coordinator's records to `__consumer_offsets` in the engine.
pub(crate) struct EngineSink {
    engine: Arc<Engine>,
    buf: Vec<u8>,
}

impl EngineSink {
    /// A sink appending to `engine`'s offsets topic.
    pub fn new(engine: Arc<Engine>) -> EngineSink {
        EngineSink {
            engine,
            buf: Vec::new(),
        }
    }

    fn append(&mut self, records: &[Record]) -> Result<(), String> {
        if records.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let batch: Vec<BatchRecord<'_>> = records
            .iter()
            .map(|(k, v)| BatchRecord {
                timestamp_ms: now,
                key: Some(k.as_slice()),
                value: v.as_deref(),
                headers: &[],
            })
            .collect();
        encode_batch(&batch, ProducerFields::default(), &mut self.buf)
            .map_err(|e| e.to_string())?;
        self.engine
            .append_internal(OFFSETS_TOPIC, 0, &self.buf)
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl RecordSink for EngineSink {
    fn write(&mut self, records: &[Record]) -> Result<(), String> {
        self.append(records)
    }

    fn compact(&mut self, live: &[Record]) -> Result<(), String> {
        let start = self
            .engine
            .partition(OFFSETS_TOPIC, 0)
            .map_err(|e| e.to_string())?
            .watermarks()
            .high_watermark;
        for chunk in live.chunks(COMPACT_BATCH_RECORDS) {
            self.append(chunk)?;
        }
        self.engine
            .delete_records_internal(OFFSETS_TOPIC, 0, start)
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// What opening found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Records replayed (both formats).
    pub records: u64,
    /// Records in ferrolog's earlier JSON format, rewritten in Kafka's.
    pub migrated: u64,
    /// Records that were neither format (skipped, never fatal).
    pub skipped: u64,
}

/// The config of the offsets topic: small segments (compaction frees whole
/// segments), no retention (offsets live until deleted), flushed within a
/// second.
pub(crate) fn offsets_topic_config() -> TopicConfig {
    TopicConfig {
        segment_bytes: 1 << 20,
        retention_ms: -1,
        flush: FlushPolicy::Interval {
            interval_ms: 1000,
            interval_messages: 0,
        },
        ..TopicConfig::default()
    }
}

/// Creates the topic when missing (unless read-only), replays it into
/// `manager`, and migrates JSON records to Kafka's format.
pub(crate) fn load(
    engine: &Arc<Engine>,
    manager: &mut GroupManager,
    now: i64,
) -> Result<LoadReport, String> {
    if engine.topic(OFFSETS_TOPIC).is_err() {
        if engine.is_read_only() {
            return Ok(LoadReport::default());
        }
        match engine.create_internal_topic(OFFSETS_TOPIC, 1, Some(offsets_topic_config())) {
            Ok(()) | Err(ferrolog_engine::Error::TopicExists(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let partition = engine
        .partition(OFFSETS_TOPIC, 0)
        .map_err(|e| e.to_string())?;
    let w = partition.watermarks();
    let mut report = LoadReport::default();
    let mut offset = w.log_start_offset;
    while offset < w.high_watermark {
        let read = partition
            .read(offset, READ_BYTES)
            .map_err(|e| e.to_string())?;
        if read.next_offset <= offset || read.chunks.is_empty() {
            break;
        }
        for chunk in &read.chunks {
            replay_batches(chunk.bytes(), offset, manager, now, &mut report)?;
        }
        offset = read.next_offset;
    }
    manager.note_replayed(report.records);
    if report.migrated > 0 && !engine.is_read_only() {
        let live = manager.live_records();
        EngineSink::new(engine.clone()).compact(&live)?;
    }
    Ok(report)
}

fn replay_batches(
    mut bytes: &[u8],
    from: u64,
    manager: &mut GroupManager,
    now: i64,
    report: &mut LoadReport,
) -> Result<(), String> {
    while bytes.len() >= HEADER_BYTES {
        let header = BatchHeader::parse(bytes).map_err(|e| e.to_string())?;
        let batch = &bytes[..header.size_bytes];
        bytes = &bytes[header.size_bytes..];
        if header.is_transactional_or_control() && header.attributes & 0x20 != 0 {
            continue;
        }
        let inflated;
        let iter = match header.compression() {
            ferrolog_engine::batch::Compression::None => RecordIter::new(batch, &header),
            codec => {
                inflated = decompress(codec, &batch[HEADER_BYTES..], INFLATE_MAX)
                    .map_err(|e| e.to_string())?;
                RecordIter::over(&inflated, 0, inflated.len(), header.record_count)
            }
        };
        for record in iter {
            let r = record.map_err(|e| e.to_string())?;
            let offset = header.base_offset + i64::from(r.offset_delta);
            if offset < from as i64 {
                continue;
            }
            report.records += 1;
            let Some(key) = r.key else {
                report.skipped += 1;
                continue;
            };
            if key.first() == Some(&b'{') {
                match legacy(key, r.value) {
                    Some((k, v)) => {
                        manager.replay(&k, v.as_deref(), now);
                        report.migrated += 1;
                    }
                    None => report.skipped += 1,
                }
                continue;
            }
            match RecordKey::decode(key) {
                Ok(k) => {
                    // A value that does not decode is skipped like Kafka's
                    // loader would refuse it, rather than failing the open.
                    let ok = match (&k, r.value) {
                        (_, None) => true,
                        (RecordKey::OffsetCommit { .. }, Some(v)) => {
                            OffsetCommitValue::decode(v).is_ok()
                        }
                        (RecordKey::GroupMetadata { .. }, Some(v)) => {
                            GroupMetadataValue::decode(v).is_ok()
                        }
                    };
                    if ok {
                        manager.replay(&k, r.value, now);
                    } else {
                        report.skipped += 1;
                    }
                }
                Err(_) => report.skipped += 1,
            }
        }
    }
    Ok(())
}

/// A record of ferrolog's first offsets format: JSON keys
/// `{"g":group,"t":topic,"p":partition}` with values
/// `{"o":offset,"m":metadata,"ts":ts}`, and `{"g":group}` tombstones that
/// delete a whole group. Returned as the equivalent Kafka record.
fn legacy(key: &[u8], value: Option<&[u8]>) -> Option<(RecordKey, Option<Vec<u8>>)> {
    let k: serde_json::Value = serde_json::from_slice(key).ok()?;
    let group = k.get("g")?.as_str()?.to_string();
    let topic = k.get("t").and_then(|t| t.as_str());
    let partition = k.get("p").and_then(|p| p.as_i64());
    let Some(topic) = topic else {
        // Only tombstones have group-only keys.
        return match value {
            None => Some((RecordKey::GroupMetadata { group }, None)),
            Some(_) => None,
        };
    };
    let partition = i32::try_from(partition?).ok()?;
    let key = RecordKey::OffsetCommit {
        group,
        topic: topic.to_string(),
        partition,
    };
    let Some(value) = value else {
        return Some((key, None));
    };
    let v: serde_json::Value = serde_json::from_slice(value).ok()?;
    let offset = v.get("o")?.as_i64()?;
    let metadata = v
        .get("m")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    let ts = v.get("ts").and_then(|t| t.as_i64()).unwrap_or(-1);
    let value = OffsetCommitValue {
        offset,
        leader_epoch: -1,
        metadata,
        commit_timestamp: ts,
        expire_timestamp: -1,
    };
    Some((key, Some(value.encode())))
}
