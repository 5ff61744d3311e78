//! A partition: an ordered list of segments, the last one active, with its
//! watermarks. All state sits behind one mutex; appends hold it for the copy
//! into the map, and fsyncs run outside it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::batch::{inflate_limit, validate_incoming_within};
use crate::config::{FlushPolicy, TimestampType, TopicConfig};
use crate::error::{Error, Result};
use crate::flusher::{FlusherHandle, Syncable};
use crate::io::Storage;
use crate::mmap::ReadMap;
use crate::producer_state::{Check, ProducerStates};
use crate::recovery::{self, ScanOptions};
use crate::segment::{self, Segment};

/// Read-only partitions look at the files for another process's appends at
/// most this often from reads, and this often for long-poll waiters (the
/// flusher thread polls; a cross-process wait resolves within about this).
pub const LIVE_REFRESH_MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);
pub const LIVE_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(25);

/// The most long-poll waiters one partition holds at once.
pub const WAITERS_PER_PARTITION_MAX: usize = 65_536;

/// Wall-clock milliseconds since the epoch, the unit of Kafka timestamps;
/// 0 if the clock is before 1970.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A partition's offsets that bound what may be read and what is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarks {
    /// The first offset a reader may ask for.
    pub log_start_offset: u64,
    /// The offset the next appended record gets; readers see below it.
    pub high_watermark: u64,
    /// Every offset below this one is fsynced.
    pub durable_offset: u64,
}

/// What an append did: the offsets it got and whether the caller must wait
/// for an fsync before acknowledging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Offset of the batch's first record.
    pub base_offset: u64,
    /// Offset of the batch's last record.
    pub last_offset: u64,
    /// The broker-assigned timestamp for LogAppendTime topics, else -1.
    pub log_append_time_ms: i64,
    /// The partition's log start offset, which Kafka's produce response carries.
    pub log_start_offset: u64,
    /// Whether the topic's flush policy wants the caller to wait for
    /// `sync_to(last_offset + 1)` before acknowledging.
    pub needs_sync: bool,
    /// True when an idempotent producer retried a batch already in the log:
    /// the offsets are the original ones and nothing was written.
    pub duplicate: bool,
}

/// Whole batches, as a range of one segment's read map.
#[derive(Clone)]
pub struct ReadChunk {
    /// The segment's read map; holding it keeps the bytes mapped.
    pub map: Arc<ReadMap>,
    /// The base offset of the segment the bytes are in.
    pub segment_base_offset: u64,
    /// Byte position of the first batch in the segment.
    pub position: u64,
    /// Bytes of whole batches from `position`.
    pub len: u64,
}

impl ReadChunk {
    /// The batches' bytes, borrowed from the map (no copy).
    pub fn bytes(&self) -> &[u8] {
        // The range was published when the read was made, and published
        // bytes stay readable for as long as the map lives.
        let bytes = self
            .map
            .read(self.position as usize, self.len as usize)
            .unwrap_or(&[]);
        debug_assert_eq!(bytes.len() as u64, self.len, "a chunk reads back whole");
        bytes
    }
}

/// What a read found: batches as map ranges, and where to read next.
pub struct ReadResult {
    /// Empty when the offset equals the high watermark.
    pub chunks: Vec<ReadChunk>,
    /// The offset after the last returned batch (the next one to ask for).
    pub next_offset: u64,
    /// The partition's offsets when the read was made.
    pub watermarks: Watermarks,
}

pub use crate::recovery::RecoveryReport;

pub use crate::flusher::SyncCallback;
/// Called once when a long-poll's awaited offset becomes readable or the
/// partition goes away.
pub type DataCallback = Box<dyn FnOnce(DataOutcome) + Send>;

/// Why a long-poll's `DataCallback` was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataOutcome {
    /// The high watermark passed the awaited offset.
    Data {
        /// The high watermark at that moment.
        high_watermark: u64,
    },
    /// The partition was closed or deleted.
    Closed,
}

struct Waiter {
    id: u64,
    offset: u64,
    callback: DataCallback,
}

struct State {
    segments: Vec<Segment>,
    config: Arc<TopicConfig>,
    log_start_offset: u64,
    high_watermark: u64,
    durable_offset: u64,
    /// Set by a failed fsync: the partition takes no more writes.
    poisoned: Option<String>,
    /// Opened read-only: no appends, no writes of any kind.
    read_only: bool,
    /// Read-only: when the files were last looked at for another process's
    /// appends, rolls and retention.
    last_refresh: Instant,
    closed: bool,
    /// Files of rolled segments not yet fsynced.
    unsynced_files: Vec<Arc<File>>,
    dir_unsynced: bool,
    messages_since_sync: u64,
    last_sync_at: Instant,
    waiters: Vec<Waiter>,
    next_waiter_id: u64,
    producers: ProducerStates,
}

/// How many of the newest segments are scanned on open to rebuild the
/// idempotent producers' state.
const PRODUCER_STATE_SEGMENTS: usize = 2;

/// One partition's log: its segments, watermarks, idempotent producer state
/// and long-poll waiters, behind one mutex so appends are serialized while
/// reads take the lock only to find their map ranges.
pub struct Partition {
    /// The topic the partition belongs to, for errors and paths.
    pub topic: String,
    /// The partition's number within its topic.
    pub id: u32,
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    flusher: FlusherHandle,
    state: Mutex<State>,
}

/// The flusher sees a partition only as this.
impl Syncable for Partition {
    fn sync_now(&self) -> Result<()> {
        Partition::sync_now(self)
    }

    fn repeat_error(&self, e: &Error) -> Error {
        Error::FsyncFailed {
            topic: self.topic.clone(),
            partition: self.id,
            reason: match e {
                // The same failure again, not one wrapped in another.
                Error::FsyncFailed { reason, .. } => reason.clone(),
                other => other.to_string(),
            },
        }
    }
}

impl Partition {
    /// The partition's directory (`<data dir>/<topic>-<id>`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens (or creates) the partition in `dir`: scans it and applies what
    /// recovery decided at once. The engine's own open runs the two phases
    /// itself (`recovery::scan` for every partition, then `recovery::apply`),
    /// so that a failure part-way writes nothing.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open(
        topic: &str,
        id: u32,
        dir: PathBuf,
        data_dir: &Path,
        config: Arc<TopicConfig>,
        storage: Arc<dyn Storage>,
        flusher: FlusherHandle,
    ) -> Result<(Arc<Partition>, Vec<RecoveryReport>)> {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create partition dir", &dir, e))?;
        let mut scanned = recovery::scan(
            &dir,
            &ScanOptions {
                index_interval_bytes: config.index_interval_bytes,
                clean: true,
                recovery_point: None,
                writable: true,
            },
        )?;
        let reports = recovery::apply(&mut scanned, &dir, data_dir, topic, id, &*storage)?;
        let p = Partition::from_scanned(
            topic, id, dir, config, storage, flusher, scanned, true, None, None, false,
        )?;
        Ok((p, reports))
    }

    /// Builds the partition from scanned (and, unless read-only, repaired)
    /// segments. `log_start_checkpoint` is checked against them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_scanned(
        topic: &str,
        id: u32,
        dir: PathBuf,
        config: Arc<TopicConfig>,
        storage: Arc<dyn Storage>,
        flusher: FlusherHandle,
        scanned: recovery::Scanned,
        clean: bool,
        recovery_point: Option<u64>,
        log_start_checkpoint: Option<u64>,
        read_only: bool,
    ) -> Result<Arc<Partition>> {
        let mut segments = scanned.segments;
        if segments.is_empty() && !read_only {
            let start = log_start_checkpoint.unwrap_or(0);
            segments.push(Segment::create(
                &dir,
                start,
                config.segment_bytes,
                config.index_interval_bytes,
            )?);
        }
        let high_watermark = segments.last().map_or(0, |s| s.next_offset());
        let first_base = segments.first().map_or(0, |s| s.base_offset);
        let mut producers = ProducerStates::default();
        let from = segments.len().saturating_sub(PRODUCER_STATE_SEGMENTS);
        for seg in segments.iter_mut().skip(from) {
            seg.for_each_batch(|h| {
                if h.producer_id >= 0 {
                    producers.record(h, h.base_offset as u64);
                }
            })?;
        }
        if let Some(last) = segments.last_mut().filter(|_| !read_only) {
            last.activate(config.segment_bytes)?;
        }
        // Below the first segment is normal (retention deleted segments
        // before the checkpoint caught up); the engine reports a checkpoint
        // past the high watermark before it gets here.
        let log_start_offset = log_start_checkpoint
            .unwrap_or(first_base)
            .clamp(first_base, high_watermark);
        let durable_offset = if clean {
            high_watermark
        } else {
            recovery_point.unwrap_or(0).min(high_watermark)
        };
        let p = Partition {
            topic: topic.to_string(),
            id,
            dir,
            storage,
            flusher,
            state: Mutex::new(State {
                segments,
                config,
                log_start_offset,
                high_watermark,
                durable_offset,
                poisoned: None,
                read_only,
                last_refresh: Instant::now(),
                closed: false,
                unsynced_files: Vec::new(),
                dir_unsynced: true,
                messages_since_sync: 0,
                last_sync_at: Instant::now(),
                waiters: Vec::new(),
                next_waiter_id: 1,
                producers,
            }),
        };
        Ok(Arc::new(p))
    }

    /// The largest idempotent producer id this partition holds state for.
    pub(crate) fn max_producer_id(&self) -> Option<i64> {
        self.state.lock().producers.max_producer_id()
    }

    /// The idempotent producers this partition remembers: (producer id,
    /// epoch, last batch); see [`ProducerStates::snapshot`].
    pub fn producers(&self) -> Vec<(i64, i16, Option<crate::producer_state::BatchMeta>)> {
        self.state.lock().producers.snapshot()
    }

    /// The config the partition appends and retains with now.
    pub fn config(&self) -> Arc<TopicConfig> {
        self.state.lock().config.clone()
    }

    pub(crate) fn set_config(&self, config: Arc<TopicConfig>) {
        self.state.lock().config = config;
    }

    /// The current offsets; read-only engines look at the files first, for
    /// another process's appends.
    pub fn watermarks(&self) -> Watermarks {
        let mut st = self.state.lock();
        if st.read_only && !st.closed {
            // Best effort: a failed look leaves the last known watermarks.
            let _ = self.refresh_live_locked(&mut st, LIVE_REFRESH_MIN_INTERVAL);
        }
        Watermarks {
            log_start_offset: st.log_start_offset,
            high_watermark: st.high_watermark,
            durable_offset: st.durable_offset,
        }
    }

    /// Appends one RecordBatch v2. The batch is validated (length, magic,
    /// record count, CRC, every record's framing when uncompressed) before
    /// anything is written; a rejected batch leaves the log untouched.
    pub fn append(&self, bytes: &[u8]) -> Result<AppendOutcome> {
        // The size first: a batch over the limit is refused before any CRC
        // or decompression work, and a compressed one may inflate only so far.
        let batch_bytes_max = self.state.lock().config.batch_bytes_max();
        if bytes.len() as u64 > batch_bytes_max {
            return Err(Error::MessageTooLarge {
                size_bytes: bytes.len(),
                max_bytes: batch_bytes_max as usize,
            });
        }
        let (header, summary) = validate_incoming_within(bytes, inflate_limit(batch_bytes_max))?;
        let mut notify = Vec::new();
        let outcome = {
            let mut st = self.state.lock();
            if st.closed {
                return Err(Error::Closed);
            }
            if st.read_only {
                return Err(Error::ReadOnly(format!(
                    "{}-{} was opened read-only",
                    self.topic, self.id
                )));
            }
            if let Some(reason) = &st.poisoned {
                return Err(Error::FsyncFailed {
                    topic: self.topic.clone(),
                    partition: self.id,
                    reason: reason.clone(),
                });
            }
            let config = st.config.clone();
            if bytes.len() as u64 > config.batch_bytes_max() {
                return Err(Error::MessageTooLarge {
                    size_bytes: bytes.len(),
                    max_bytes: config.batch_bytes_max() as usize,
                });
            }
            let needs_sync_policy = config.flush == FlushPolicy::Always;
            if header.producer_id >= 0 {
                match st.producers.check(&header) {
                    Check::InOrder => {}
                    Check::Duplicate(meta) => {
                        return Ok(AppendOutcome {
                            base_offset: meta.base_offset,
                            last_offset: meta.last_offset,
                            log_append_time_ms: -1,
                            log_start_offset: st.log_start_offset,
                            needs_sync: needs_sync_policy,
                            duplicate: true,
                        });
                    }
                    Check::OutOfOrder { expected } => {
                        return Err(Error::OutOfOrderSequence {
                            topic: self.topic.clone(),
                            partition: self.id,
                            producer_id: header.producer_id,
                            expected,
                            got: header.base_sequence,
                        });
                    }
                    Check::Fenced { current } => {
                        return Err(Error::InvalidProducerEpoch {
                            topic: self.topic.clone(),
                            partition: self.id,
                            producer_id: header.producer_id,
                            epoch: header.producer_epoch,
                            current,
                        });
                    }
                }
            }
            let base_offset = st.high_watermark;
            let last_offset = base_offset + header.last_offset_delta as u64;
            let now = now_ms();
            let log_append_time = config.message_timestamp_type == TimestampType::LogAppendTime;
            let effective_max_ts = if log_append_time {
                now
            } else {
                summary.max_timestamp.unwrap_or(header.max_timestamp)
            };
            self.maybe_roll(&mut st, bytes.len() as u64, last_offset, effective_max_ts)?;
            // Kafka rewrites the header (and so the CRC) only when it changes.
            let rewrite = if log_append_time {
                Some((true, now))
            } else if header.is_log_append_time() || header.max_timestamp != effective_max_ts {
                Some((false, effective_max_ts))
            } else {
                None
            };
            let active = st
                .segments
                .last_mut()
                .ok_or_else(|| Error::InvalidArgument("partition has no segment".into()))?;
            active.check_not_shrunk(active.backed_bytes())?;
            active.append(
                &*self.storage,
                bytes,
                base_offset,
                rewrite,
                config.segment_preallocate_bytes,
            )?;
            st.high_watermark = last_offset + 1;
            // Paired with the read side: the active segment ends where the
            // log does, and what it published is what it holds.
            debug_assert_eq!(
                st.segments.last().map(Segment::next_offset),
                Some(st.high_watermark),
                "the active segment ends at the high watermark"
            );
            st.producers.record(&header, base_offset);
            st.messages_since_sync += u64::from(header.record_count as u32);
            let hw = st.high_watermark;
            take_ready_waiters(&mut st.waiters, hw, &mut notify);
            let needs_sync = match config.flush {
                FlushPolicy::Always => true,
                FlushPolicy::Interval {
                    interval_messages, ..
                } => {
                    if interval_messages > 0 && st.messages_since_sync >= interval_messages {
                        self.flusher.kick();
                    }
                    false
                }
                FlushPolicy::None => false,
            };
            AppendOutcome {
                base_offset,
                last_offset,
                log_append_time_ms: if log_append_time { now } else { -1 },
                log_start_offset: st.log_start_offset,
                needs_sync,
                duplicate: false,
            }
        };
        for (cb, hw) in notify {
            cb(DataOutcome::Data { high_watermark: hw });
        }
        Ok(outcome)
    }

    fn maybe_roll(&self, st: &mut State, len: u64, last_offset: u64, max_ts: i64) -> Result<()> {
        let config = st.config.clone();
        let Some(active) = st.segments.last() else {
            return Ok(());
        };
        if active.is_empty() {
            return Ok(());
        }
        let too_old = active
            .first_timestamp()
            .is_some_and(|first| max_ts.saturating_sub(first) >= config.segment_ms as i64);
        let too_big = active.size_bytes() + len > config.segment_bytes;
        if !(too_old || too_big || !active.has_room(len, last_offset)) {
            return Ok(());
        }
        self.roll_locked(st)
    }

    fn roll_locked(&self, st: &mut State) -> Result<()> {
        let config = st.config.clone();
        let base = st.high_watermark;
        let storage = self.storage.clone();
        if let Some(active) = st.segments.last_mut() {
            if active.is_empty() {
                return Ok(());
            }
            // Create the next segment first: if that fails, the old one stays
            // active and nothing changed.
            let next = Segment::create(
                &self.dir,
                base,
                config.segment_bytes,
                config.index_interval_bytes,
            )?;
            active.seal(&*storage)?;
            let file = active.file().clone();
            st.unsynced_files.push(file);
            st.segments.push(next);
            st.dir_unsynced = true;
        }
        Ok(())
    }

    /// Closes the active segment and starts a new one (no-op when empty).
    pub fn roll(&self) -> Result<()> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(Error::Closed);
        }
        self.roll_locked(&mut st)
    }

    /// Reads whole batches from the one holding `offset`, up to `max_bytes`
    /// (at least one batch), from a single segment. The bytes are views into
    /// the segment's read map, checked against their CRC on first read.
    pub fn read(&self, offset: u64, max_bytes: u64) -> Result<ReadResult> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(Error::Closed);
        }
        if st.read_only {
            self.refresh_live_locked(&mut st, LIVE_REFRESH_MIN_INTERVAL)?;
        }
        let watermarks = Watermarks {
            log_start_offset: st.log_start_offset,
            high_watermark: st.high_watermark,
            durable_offset: st.durable_offset,
        };
        if offset < st.log_start_offset || offset > st.high_watermark {
            return Err(Error::OffsetOutOfRange {
                topic: self.topic.clone(),
                partition: self.id,
                offset: offset as i64,
                log_start_offset: st.log_start_offset,
                high_watermark: st.high_watermark,
            });
        }
        if offset == st.high_watermark {
            return Ok(ReadResult {
                chunks: Vec::new(),
                next_offset: offset,
                watermarks,
            });
        }
        let idx = st
            .segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1);
        for seg in st.segments.iter_mut().skip(idx) {
            if offset >= seg.base_offset && offset < seg.next_offset() {
                // Before any byte of its map is touched.
                seg.check_not_shrunk(seg.size_bytes())?;
            }
            let Some((pos, _)) = seg.find_position(offset)? else {
                continue;
            };
            let (mut end, mut next_offset) = span(seg, pos, max_bytes.max(1))?;
            let good_end = seg.verify_range(pos, end)?;
            if good_end < end {
                // A corrupt batch follows: return the good ones before it.
                let (e, n) = span(seg, pos, good_end - pos)?;
                end = e;
                next_offset = n;
            }
            let map = seg.read_map()?;
            // Paired with the append side: a read hands out only published,
            // whole batches, and always makes progress.
            debug_assert!(
                end <= map.readable_bytes(),
                "reads stay below the published size"
            );
            debug_assert!(next_offset > offset && next_offset <= watermarks.high_watermark);
            return Ok(ReadResult {
                chunks: vec![ReadChunk {
                    map,
                    segment_base_offset: seg.base_offset,
                    position: pos,
                    len: end - pos,
                }],
                next_offset,
                watermarks,
            });
        }
        Err(Error::corrupt(
            &self.dir,
            0,
            format!("offset {offset} is below the high watermark but in no segment"),
        ))
    }

    /// The first offset whose timestamp is at or after `timestamp_ms`, or
    /// None when every record is older.
    pub fn offset_for_timestamp(&self, timestamp_ms: i64) -> Result<Option<u64>> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(Error::Closed);
        }
        let start = st.log_start_offset;
        for seg in st.segments.iter_mut() {
            if seg.max_timestamp() >= timestamp_ms {
                if let Some(o) = seg.offset_for_timestamp(timestamp_ms)? {
                    return Ok(Some(o.max(start)));
                }
            }
        }
        Ok(None)
    }

    /// Advances the log start offset (Kafka's DeleteRecords) and deletes the
    /// segments wholly below it. Returns the new log start offset.
    pub fn delete_records(&self, offset: u64) -> Result<u64> {
        {
            let mut st = self.state.lock();
            if st.closed {
                return Err(Error::Closed);
            }
            if offset > st.high_watermark {
                return Err(Error::OffsetOutOfRange {
                    topic: self.topic.clone(),
                    partition: self.id,
                    offset: offset as i64,
                    log_start_offset: st.log_start_offset,
                    high_watermark: st.high_watermark,
                });
            }
            st.log_start_offset = st.log_start_offset.max(offset);
        }
        self.enforce_retention(now_ms())?;
        Ok(self.watermarks().log_start_offset)
    }

    /// Deletes closed segments past retention (time, size, or below the log
    /// start offset), oldest first; never the active one. Returns how many.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize> {
        let mut doomed = Vec::new();
        {
            let mut st = self.state.lock();
            if st.closed {
                return Ok(0);
            }
            let config = st.config.clone();
            let mut total: u64 = st.segments.iter().map(|s| s.size_bytes()).sum();
            while st.segments.len() > 1 {
                let Some(first) = st.segments.first() else {
                    break;
                };
                let below_start = first.next_offset() <= st.log_start_offset;
                let newest = if first.max_timestamp() >= 0 {
                    first.max_timestamp()
                } else {
                    file_mtime_ms(first.file()).unwrap_or(now_ms)
                };
                let too_old = config.retention_ms >= 0 && now_ms - newest > config.retention_ms;
                let too_big = config.retention_bytes >= 0
                    && total.saturating_sub(first.size_bytes()) >= config.retention_bytes as u64;
                if !(below_start || too_old || too_big) {
                    break;
                }
                total -= first.size_bytes();
                doomed.push(st.segments.remove(0));
            }
            let first_base = st.segments.first().map_or(0, |s| s.base_offset);
            st.log_start_offset = st.log_start_offset.max(first_base);
        }
        let n = doomed.len();
        for seg in doomed {
            seg.delete()?;
        }
        Ok(n)
    }

    /// Read-only: picks up what another process wrote since the last look
    /// (appends, rolls, retention) and wakes the waiters it satisfies.
    /// Returns whether any waiter is still waiting.
    pub(crate) fn refresh_live(&self) -> Result<bool> {
        let mut st = self.state.lock();
        if !st.read_only || st.closed {
            return Ok(false);
        }
        self.refresh_live_locked(&mut st, std::time::Duration::ZERO)?;
        let mut ready = Vec::new();
        let hw = st.high_watermark;
        take_ready_waiters(&mut st.waiters, hw, &mut ready);
        let waiting = !st.waiters.is_empty();
        drop(st);
        for (callback, hw) in ready {
            callback(DataOutcome::Data { high_watermark: hw });
        }
        Ok(waiting)
    }

    fn refresh_live_locked(&self, st: &mut State, min_interval: std::time::Duration) -> Result<()> {
        let now = Instant::now();
        if now.duration_since(st.last_refresh) < min_interval {
            return Ok(());
        }
        st.last_refresh = now;
        let interval = st.config.index_interval_bytes;
        // Retention by the owner: leading segments whose files are gone.
        while st.segments.len() > 1 && st.segments.first().is_some_and(|s| !s.log_path().exists()) {
            st.segments.remove(0);
        }
        if let Some(last) = st.segments.last_mut() {
            last.extend_live()?;
        }
        // Rolls by the owner: segments that start where the log ends.
        loop {
            let next = st
                .segments
                .last()
                .map_or(st.high_watermark, |s| s.next_offset());
            if !segment::log_path(&self.dir, next).exists()
                || st.segments.last().is_some_and(|s| s.base_offset == next)
            {
                break;
            }
            let seg = Segment::open_live(&self.dir, next, interval)?;
            st.segments.push(seg);
            // The one before is sealed now: take what it still gained.
            let n = st.segments.len();
            if let Some(prev) = st.segments.get_mut(n.saturating_sub(2)) {
                prev.extend_live()?;
            }
        }
        let hw = st
            .segments
            .last()
            .map_or(st.high_watermark, |s| s.next_offset());
        let first = st.segments.first().map_or(hw, |s| s.base_offset);
        debug_assert!(hw >= st.high_watermark, "a live log only grows");
        st.high_watermark = hw.max(st.high_watermark);
        st.durable_offset = st.high_watermark;
        st.log_start_offset = st.log_start_offset.max(first).min(st.high_watermark);
        // Waiters are woken by `refresh_live`, outside the lock.
        Ok(())
    }

    /// Calls `callback` once the high watermark is above `offset`, at once
    /// if it already is. Returns an id for `cancel_wait` when it had to wait.
    pub fn wait_for_data(&self, offset: u64, callback: DataCallback) -> Result<Option<u64>> {
        let mut st = self.state.lock();
        if st.closed {
            drop(st);
            callback(DataOutcome::Closed);
            return Ok(None);
        }
        if st.high_watermark > offset {
            let hw = st.high_watermark;
            drop(st);
            callback(DataOutcome::Data { high_watermark: hw });
            return Ok(None);
        }
        if st.waiters.len() >= WAITERS_PER_PARTITION_MAX {
            return Err(Error::InvalidArgument(format!(
                "more than {WAITERS_PER_PARTITION_MAX} waiters on {}-{}",
                self.topic, self.id
            )));
        }
        let id = st.next_waiter_id;
        st.next_waiter_id += 1;
        st.waiters.push(Waiter {
            id,
            offset,
            callback,
        });
        if st.read_only {
            // Nothing in this process appends: the flusher thread polls
            // the files while anyone waits.
            self.flusher.kick();
        }
        Ok(Some(id))
    }

    /// Removes a waiter and hands its callback back (so the caller can
    /// settle whatever it stands for, as a timeout). None if it already ran.
    pub fn cancel_wait(&self, id: u64) -> Option<DataCallback> {
        let mut st = self.state.lock();
        let i = st.waiters.iter().position(|w| w.id == id)?;
        Some(st.waiters.swap_remove(i).callback)
    }

    /// Asks for everything below `offset` to be fsynced; `callback` runs on
    /// the engine's flusher thread once it is (at once if it already is).
    pub fn sync_to(self: &Arc<Self>, offset: u64, callback: SyncCallback) {
        let durable = {
            let st = self.state.lock();
            if let Some(reason) = &st.poisoned {
                let err = Error::FsyncFailed {
                    topic: self.topic.clone(),
                    partition: self.id,
                    reason: reason.clone(),
                };
                drop(st);
                callback(Err(err));
                return;
            }
            st.durable_offset >= offset
        };
        if durable {
            callback(Ok(()));
        } else {
            self.flusher.request(self.clone(), callback);
        }
    }

    /// Blocking form of `sync_to`.
    pub fn sync_to_blocking(self: &Arc<Self>, offset: u64) -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.sync_to(
            offset,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().map_err(|_| Error::Closed)?
    }

    /// fdatasyncs whatever was appended since the last sync, outside the
    /// lock, so appends continue meanwhile. A failure poisons the partition:
    /// after a failed fsync the page cache may have dropped the dirty pages,
    /// so retrying could report success for data that is gone.
    pub fn sync_now(&self) -> Result<()> {
        let (files, target, dir_unsynced) = {
            let st = self.state.lock();
            if let Some(reason) = &st.poisoned {
                return Err(Error::FsyncFailed {
                    topic: self.topic.clone(),
                    partition: self.id,
                    reason: reason.clone(),
                });
            }
            if st.durable_offset >= st.high_watermark
                && st.unsynced_files.is_empty()
                && !st.dir_unsynced
            {
                return Ok(());
            }
            let mut files = st.unsynced_files.clone();
            if let Some(active) = st.segments.last() {
                files.push(active.file().clone());
            }
            (files, st.high_watermark, st.dir_unsynced)
        };
        let mut result = Ok(());
        for f in &files {
            if let Err(e) = self.storage.sync_data(f) {
                result = Err(e);
                break;
            }
        }
        if result.is_ok() && dir_unsynced {
            result = self.storage.sync_dir(&self.dir);
        }
        let mut st = self.state.lock();
        match result {
            Ok(()) => {
                st.durable_offset = st.durable_offset.max(target);
                st.unsynced_files
                    .retain(|f| !files.iter().any(|g| Arc::ptr_eq(f, g)));
                if dir_unsynced {
                    st.dir_unsynced = false;
                }
                st.messages_since_sync = 0;
                st.last_sync_at = Instant::now();
                Ok(())
            }
            Err(e) => {
                let reason = e.to_string();
                st.poisoned = Some(reason.clone());
                Err(Error::FsyncFailed {
                    topic: self.topic.clone(),
                    partition: self.id,
                    reason,
                })
            }
        }
    }

    /// For the flusher: whether an interval flush is due, and when the next one would be.
    pub(crate) fn interval_due(&self, now: Instant) -> (bool, Option<Instant>) {
        let st = self.state.lock();
        let FlushPolicy::Interval {
            interval_ms,
            interval_messages,
        } = st.config.flush
        else {
            return (false, None);
        };
        if st.durable_offset >= st.high_watermark || st.poisoned.is_some() || st.closed {
            return (false, None);
        }
        let deadline = (interval_ms > 0)
            .then(|| st.last_sync_at + std::time::Duration::from_millis(interval_ms));
        let due = deadline.is_some_and(|d| now >= d)
            || (interval_messages > 0 && st.messages_since_sync >= interval_messages);
        (due, deadline)
    }

    /// Writes index entries not yet on disk (cheap; the flusher calls it).
    pub fn persist_indexes(&self) -> Result<()> {
        let mut st = self.state.lock();
        let storage = self.storage.clone();
        for seg in st.segments.iter_mut().rev().take(2) {
            seg.persist_indexes(&*storage)?;
        }
        Ok(())
    }

    /// Flushes, seals the active segment (so every file at rest is exactly
    /// what Kafka would leave), persists indexes and stops taking calls.
    /// Waiters are told. Views handed out earlier stay valid: they hold
    /// their own maps, whose trimmed tails read as zeros.
    pub(crate) fn close(&self) -> Result<()> {
        let sync = self.sync_now();
        let waiters = {
            let mut st = self.state.lock();
            let storage = self.storage.clone();
            let mut persisted = Ok(());
            let last = st.segments.len().saturating_sub(1);
            for (i, seg) in st.segments.iter_mut().enumerate() {
                let done = if i == last && sync.is_ok() {
                    // The trim changes the file's size: make it durable
                    // before the clean-shutdown marker vouches for it.
                    seg.seal(&*storage).and_then(|()| {
                        storage
                            .sync_data(seg.file())
                            .map_err(|e| Error::io("sync segment", seg.log_path(), e))
                    })
                } else {
                    seg.persist_indexes(&*storage)
                };
                if let Err(e) = done {
                    if persisted.is_ok() {
                        persisted = Err(e);
                    }
                }
            }
            st.closed = true;
            // Release every descriptor and map the partition owns now, not
            // at garbage collection: views handed out hold their own maps.
            st.segments.clear();
            st.unsynced_files.clear();
            persisted?;
            std::mem::take(&mut st.waiters)
        };
        for w in waiters {
            (w.callback)(DataOutcome::Closed);
        }
        sync
    }

    /// Stops taking calls without writing anything (a read-only engine,
    /// or one whose open failed). Waiters are told.
    pub(crate) fn close_without_writing(&self) -> Result<()> {
        let waiters = {
            let mut st = self.state.lock();
            st.closed = true;
            st.segments.clear();
            st.unsynced_files.clear();
            std::mem::take(&mut st.waiters)
        };
        for w in waiters {
            (w.callback)(DataOutcome::Closed);
        }
        Ok(())
    }

    /// Closes and deletes the partition's segment files, then its
    /// directory if nothing else is in it (files ferrolog did not write
    /// stay, and so does the directory holding them).
    pub(crate) fn destroy(&self) -> Result<()> {
        let waiters = {
            let mut st = self.state.lock();
            st.closed = true;
            let segments = std::mem::take(&mut st.segments);
            for seg in segments {
                seg.delete()?;
            }
            std::mem::take(&mut st.waiters)
        };
        for w in waiters {
            (w.callback)(DataOutcome::Closed);
        }
        crate::engine::remove_dir_if_empty(&self.dir)
    }

    /// True once the partition was closed or its topic deleted.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Segment summaries, for tools and tests.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        let st = self.state.lock();
        st.segments
            .iter()
            .map(|s| SegmentInfo {
                base_offset: s.base_offset,
                next_offset: s.next_offset(),
                size_bytes: s.size_bytes(),
                max_timestamp: s.max_timestamp(),
                path: s.log_path(),
                offset_index_entries: s.offset_index_entries().len(),
                time_index_entries: s.time_index_entries().len(),
            })
            .collect()
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.state
            .lock()
            .segments
            .iter()
            .map(|s| s.size_bytes())
            .sum()
    }

    /// Checks every batch's CRC and framing in every segment (for tools);
    /// returns the problems found, empty when sound.
    pub fn verify(&self) -> Result<Vec<String>> {
        let mut st = self.state.lock();
        let mut problems = Vec::new();
        for seg in st.segments.iter_mut() {
            if seg.is_empty() {
                continue;
            }
            let size = seg.size_bytes();
            match seg.verify_range(0, size) {
                Ok(end) if end < size => problems.push(format!(
                    "{}: batch at byte {end} fails its CRC",
                    seg.log_path().display()
                )),
                Ok(_) => {}
                Err(e) => problems.push(e.to_string()),
            }
        }
        Ok(problems)
    }
}

/// A summary of one segment, for `ferrolog verify`/`dump` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Offset of the segment's first record (its file name).
    pub base_offset: u64,
    /// Offset after its last record.
    pub next_offset: u64,
    /// Bytes of whole batches.
    pub size_bytes: u64,
    /// Largest batch max timestamp, -1 when empty.
    pub max_timestamp: i64,
    /// The `.log` file.
    pub path: PathBuf,
    /// Entries in the `.index` file.
    pub offset_index_entries: usize,
    /// Entries in the `.timeindex` file.
    pub time_index_entries: usize,
}

fn span(seg: &mut Segment, pos: u64, max_bytes: u64) -> Result<(u64, u64)> {
    seg.span_from(pos, max_bytes)
}

fn take_ready_waiters(waiters: &mut Vec<Waiter>, hw: u64, out: &mut Vec<(DataCallback, u64)>) {
    let mut i = 0;
    while let Some(waiter) = waiters.get(i) {
        if waiter.offset < hw {
            let w = waiters.swap_remove(i);
            out.push((w.callback, hw));
        } else {
            i += 1;
        }
    }
}

fn file_mtime_ms(file: &File) -> Option<i64> {
    let m = file.metadata().ok()?.modified().ok()?;
    Some(m.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64)
}

/// Per-partition offsets for checkpoints.
pub(crate) fn checkpoint_entry(p: &Partition) -> ((String, u32), (u64, u64)) {
    let w = p.watermarks();
    (
        (p.topic.clone(), p.id),
        (w.durable_offset, w.log_start_offset),
    )
}
