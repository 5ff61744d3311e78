//! The napi-rs binding: thin glue from JavaScript to `ferrolog_engine`.
//!
//! This module is private to the npm package; `ts/native.ts` wraps it and
//! `ts/log.ts` is the documented API. Rules it keeps:
//!
//! * one native call per batch, never per record;
//! * no fsync on the JavaScript thread: durability waits resolve a promise
//!   from the engine's flusher thread, and `close` runs on a thread of its own;
//! * errors cross as JS errors whose `code` is a stable ferrolog code
//!   (`ERR_...`, napi's status) and whose message is the text alone;
//!   `ts/errors.ts` turns them into typed classes by that code.

#![deny(unsafe_code)]

pub mod acls;
mod args;
pub mod broker;
mod client;
mod external;
pub mod groups;
pub mod tools;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ferrolog_engine::{DataOutcome, Engine, EngineOptions, ReadMap, TopicConfig};
use napi::bindgen_prelude::JsObjectValue;
use napi::bindgen_prelude::{Buffer, BufferSlice, JsError, Object, ToNapiValue, Unknown};
use napi::Env;
use napi_derive::napi;
use parking_lot::Mutex;

/// The binding's error: napi's error with the stable ferrolog code as its
/// status, which napi hands to JavaScript as the error's `code`
/// (`err.code === 'ERR_UNKNOWN_TOPIC_OR_PARTITION'`), the message left as
/// the text alone. `ts/errors.ts` picks the typed class by that code.
pub type Error = napi::Error<String>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with its code (one of `errorCodes()` in ts/errors.ts).
pub(crate) fn coded(code: &str, message: impl Into<String>) -> Error {
    napi::Error::new(code.to_string(), message.into())
}

fn to_js(e: ferrolog_engine::Error) -> Error {
    coded(e.code(), e.to_string())
}

/// Numbers `append` reports (see `LogHandle::append`).
const APPEND_REPORT_LEN: usize = 6;

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    coded("ERR_INVALID_ARGUMENT", msg)
}

/// napi's own failures keep napi's status as their code (`InvalidArg`,
/// `PendingException`, ...), as they would have without this binding.
pub(crate) fn from_napi(e: napi::Error) -> Error {
    napi::Error::new(e.status.as_ref().to_string(), e.reason.clone())
}

/// A promise's settlement, run on the JavaScript thread.
pub(crate) type Settle<T> = Box<dyn FnOnce(Env) -> napi::Result<T> + Send>;
pub(crate) type Deferred<T> = napi::JsDeferred<T, Settle<T>>;

pub(crate) fn resolve<T: ToNapiValue + Send + 'static>(deferred: Deferred<T>, value: T) {
    deferred.resolve(Box::new(move |_| Ok(value)));
}

/// Rejects with the coded error. napi rejects a deferred with a
/// `napi::Error<Status>` only, so the JS error (with its `code`) is built on
/// the JavaScript thread and handed over as the value napi rejects with.
pub(crate) fn reject<T: ToNapiValue + 'static>(deferred: Deferred<T>, e: Error) {
    deferred.resolve(Box::new(move |env| Err(rejection(&env, e))));
}

/// The coded error as the JS error napi throws or rejects with as it is.
pub(crate) fn rejection(env: &Env, e: Error) -> napi::Error {
    napi::Error::from(JsError::from(e).into_unknown(*env))
}

/// Creates a promise whose settlement `Settle` decides.
pub(crate) fn deferred<'env, T: ToNapiValue + 'static>(
    env: &'env Env,
) -> Result<(Deferred<T>, Object<'env>)> {
    let (d, p) = env.create_deferred::<T, Settle<T>>().map_err(from_napi)?;
    Ok((d, p))
}

/// `Engine::open` behind one call site: it is large and generic over the
/// path, and the binding opens engines in two places (`NativeLog.open`,
/// `verifyDataDir`), which would otherwise each carry an inlined copy.
#[inline(never)]
pub(crate) fn open_engine(
    dir: &std::path::Path,
    options: EngineOptions,
) -> ferrolog_engine::Result<Engine> {
    Engine::open(dir, options)
}

/// Offsets cross as doubles: exact up to 2^53, which a log reaches after
/// 285 years at a million records a second.
fn offset_arg(name: &str, v: f64) -> Result<u64> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 9_007_199_254_740_991.0 {
        return Err(invalid(format!(
            "{name} must be a non-negative integer, not {v}"
        )));
    }
    Ok(v as u64)
}

/// A count (of partitions) checked as an integer before any conversion:
/// napi's own u32 conversion wraps 2^32 + 1 to 1.
fn count_arg(name: &str, v: f64) -> Result<u32> {
    if !v.is_finite() || v.fract() != 0.0 || !(1.0..=f64::from(u32::MAX)).contains(&v) {
        return Err(invalid(format!(
            "{name} must be a positive integer, not {v}"
        )));
    }
    Ok(v as u32)
}

fn partition_arg(v: i64) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| invalid(format!("partition must be a non-negative integer, not {v}")))
}

fn config_from(
    base: &TopicConfig,
    entries: Option<HashMap<String, String>>,
) -> Result<TopicConfig> {
    let mut config = base.clone();
    if let Some(entries) = entries {
        let mut keys: Vec<_> = entries.into_iter().collect();
        // `flush` first, so `flush.ms` given beside it refines it.
        keys.sort_by_key(|(k, _)| (k != "flush", k.clone()));
        for (k, v) in keys {
            config.set(&k, &v).map_err(to_js)?;
        }
    }
    Ok(config)
}

/// A promise to settle with no value, from any thread.
type VoidDeferred = Deferred<()>;

struct Shared {
    engine: Arc<Engine>,
    handles: usize,
}

/// One engine per data directory (and mode) in this process, shared by
/// every `Log.open` of it.
static ENGINES: Mutex<Option<HashMap<(PathBuf, bool), Shared>>> = Mutex::new(None);

/// Engines whose close is under way, so that an open of the same directory
/// right after `close()` (without awaiting it) waits for the lock to be
/// released instead of failing with this very process as the holder.
static CLOSING: Mutex<Option<HashMap<PathBuf, Arc<Closing>>>> = Mutex::new(None);

#[derive(Default)]
struct Closing {
    done: parking_lot::Mutex<bool>,
    cv: parking_lot::Condvar,
}

/// How long an open waits for this process's own close of the directory.
const CLOSE_WAIT_MS_MAX: u64 = 60_000;

fn wait_for_close(dir: &PathBuf) {
    let closing = CLOSING.lock().as_ref().and_then(|m| m.get(dir).cloned());
    if let Some(c) = closing {
        let mut done = c.done.lock();
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_millis(CLOSE_WAIT_MS_MAX);
        while !*done {
            if c.cv.wait_until(&mut done, deadline).timed_out() {
                break;
            }
        }
    }
}

#[napi(object)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: u32,
    pub config: HashMap<String, String>,
}

#[napi(object)]
pub struct SegmentSummary {
    pub base_offset: f64,
    pub next_offset: f64,
    pub size_bytes: f64,
    pub max_timestamp: f64,
    pub path: String,
    pub offset_index_entries: u32,
    pub time_index_entries: u32,
}

/// One decision recovery made (or, read-only, would make) when the engine
/// opened.
#[napi(object)]
pub struct RecoverySummary {
    pub topic: String,
    pub partition: u32,
    /// `truncated`, `quarantined`, `adopted`, `ignored` or `corrected`.
    pub action: String,
    pub offset: f64,
    pub path: String,
    pub moved_to: Option<String>,
    pub applied: bool,
    pub reason: String,
}

/// How to open a data directory (`Log.open`'s options).
#[napi(object)]
#[derive(Default)]
pub struct OpenOptions {
    pub default_config: Option<HashMap<String, String>>,
    pub read_only: Option<bool>,
    pub full_recovery: Option<bool>,
    /// Kafka's `log.retention.check.interval.ms` (default 300000).
    pub retention_check_interval_ms: Option<f64>,
}

#[napi]
pub struct NativeLog {
    engine: Arc<Engine>,
    dir: PathBuf,
    /// The mode this handle's engine was shared under (its map key).
    read_only: bool,
    closed: bool,
    last_map: Option<Arc<ReadMap>>,
    last_chunk: (u64, u64),
}

#[napi]
impl NativeLog {
    /// Opens `dir`, or joins the engine this process already has open there.
    /// `read_only` opens without the directory lock and writes nothing: a
    /// stopped Kafka broker's log directory, or one another process owns.
    #[napi(factory)]
    pub fn open(dir: String, options: Option<OpenOptions>) -> Result<NativeLog> {
        let options = options.unwrap_or_default();
        let read_only = options.read_only.unwrap_or(false);
        let full_recovery = options.full_recovery.unwrap_or(false);
        let default_config = options.default_config;
        let retention_check_interval_ms = match options.retention_check_interval_ms {
            None => EngineOptions::default().retention_check_interval_ms,
            Some(ms)
                if ms.is_finite() && ms.fract() == 0.0 && (1.0..=86_400_000.0).contains(&ms) =>
            {
                ms as u64
            }
            Some(ms) => {
                return Err(invalid(format!(
                    "retentionCheckIntervalMs must be an integer from 1 to 86400000, not {ms}"
                )))
            }
        };
        if dir.is_empty() {
            return Err(invalid("dataDir must be a non-empty path"));
        }
        if !read_only {
            std::fs::create_dir_all(&dir)
                .map_err(|e| coded("ERR_IO", format!("cannot create {dir}: {e}")))?;
        }
        let key = std::fs::canonicalize(&dir)
            .map_err(|e| coded("ERR_IO", format!("cannot resolve {dir}: {e}")))?;
        wait_for_close(&key);
        let mut guard = ENGINES.lock();
        let map = guard.get_or_insert_with(HashMap::new);
        // A read-only open joins a writer this process already has: it sees
        // everything the writer does.
        let joinable = [(key.clone(), read_only), (key.clone(), false)];
        // A full recovery needs an engine of its own: joining would skip it.
        let joinable_count = if full_recovery {
            0
        } else if read_only {
            2
        } else {
            1
        };
        for k in joinable.iter().take(joinable_count) {
            if let Some(shared) = map.get_mut(k) {
                if !shared.engine.is_closed() {
                    shared.handles += 1;
                    return Ok(NativeLog {
                        engine: shared.engine.clone(),
                        dir: k.0.clone(),
                        read_only: k.1,
                        closed: false,
                        last_map: None,
                        last_chunk: (0, 0),
                    });
                }
            }
        }
        let default_topic_config = config_from(&TopicConfig::default(), default_config)?;
        let engine = Arc::new(
            open_engine(
                &key,
                EngineOptions {
                    default_topic_config,
                    read_only,
                    full_recovery,
                    retention_check_interval_ms,
                    ..EngineOptions::default()
                },
            )
            .map_err(to_js)?,
        );
        map.insert(
            (key.clone(), read_only),
            Shared {
                engine: engine.clone(),
                handles: 1,
            },
        );
        Ok(NativeLog {
            engine,
            dir: key,
            read_only,
            closed: false,
            last_map: None,
            last_chunk: (0, 0),
        })
    }

    /// The partition a call names, as a typed JS error when there is none.
    fn partition(&self, topic: &str, partition: i64) -> Result<Arc<ferrolog_engine::Partition>> {
        self.engine
            .partition(topic, partition_arg(partition)?)
            .map_err(to_js)
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.closed {
            Err(coded("ERR_CLOSED", "the log is closed"))
        } else {
            Ok(())
        }
    }

    /// Releases this handle; the last one closes the engine on a thread of
    /// its own (close fsyncs) and resolves when it is done.
    #[napi]
    pub fn close<'env>(&mut self, env: &'env Env) -> Result<Object<'env>> {
        let (deferred, promise) = deferred::<()>(env)?;
        if self.closed {
            resolve(deferred, ());
            return Ok(promise);
        }
        self.closed = true;
        self.last_map = None;
        let last = {
            let mut guard = ENGINES.lock();
            let map = guard.get_or_insert_with(HashMap::new);
            let key = (self.dir.clone(), self.read_only);
            match map.get_mut(&key) {
                Some(shared) if Arc::ptr_eq(&shared.engine, &self.engine) => {
                    shared.handles -= 1;
                    if shared.handles == 0 {
                        map.remove(&key);
                        true
                    } else {
                        false
                    }
                }
                _ => false,
            }
        };
        if !last {
            resolve(deferred, ());
            return Ok(promise);
        }
        let closing = Arc::new(Closing::default());
        if !self.read_only {
            CLOSING
                .lock()
                .get_or_insert_with(HashMap::new)
                .insert(self.dir.clone(), closing.clone());
        }
        let engine = self.engine.clone();
        let dir = self.dir.clone();
        let (unlisted, unlisted_dir) = (closing.clone(), dir.clone());
        let finish = move || {
            *closing.done.lock() = true;
            closing.cv.notify_all();
            if let Some(m) = CLOSING.lock().as_mut() {
                if m.get(&dir).is_some_and(|c| Arc::ptr_eq(c, &closing)) {
                    m.remove(&dir);
                }
            }
        };
        std::thread::Builder::new()
            .name("ferrolog-close".into())
            .spawn(move || {
                // The group coordinator writes to the engine: it stops first.
                groups::close_for(&engine);
                let result = engine.close();
                // Release the lock for waiting opens before JavaScript hears.
                drop(engine);
                finish();
                match result {
                    Ok(()) => resolve(deferred, ()),
                    Err(e) => reject(deferred, to_js(e)),
                }
            })
            .map_err(|e| {
                if let Some(m) = CLOSING.lock().as_mut() {
                    if m.get(&unlisted_dir)
                        .is_some_and(|c| Arc::ptr_eq(c, &unlisted))
                    {
                        m.remove(&unlisted_dir);
                    }
                }
                coded("ERR_IO", format!("cannot start close thread: {e}"))
            })?;
        Ok(promise)
    }

    #[napi(getter)]
    pub fn data_dir(&self) -> String {
        self.dir.to_string_lossy().into_owned()
    }

    #[napi]
    pub fn create_topic(
        &self,
        name: String,
        partitions: f64,
        config: Option<HashMap<String, String>>,
    ) -> Result<()> {
        self.check()?;
        let partitions = count_arg("partitions", partitions)?;
        let config = config_from(self.engine.default_topic_config(), config)?;
        self.engine
            .create_topic(&name, partitions, Some(config))
            .map_err(to_js)
    }

    #[napi]
    pub fn delete_topic(&self, name: String) -> Result<()> {
        self.check()?;
        self.engine.delete_topic(&name).map_err(to_js)
    }

    #[napi]
    pub fn create_partitions(&self, name: String, total: f64) -> Result<()> {
        self.check()?;
        let total = count_arg("count", total)?;
        self.engine.create_partitions(&name, total).map_err(to_js)
    }

    #[napi]
    pub fn alter_topic_config(&self, name: String, entries: HashMap<String, String>) -> Result<()> {
        self.check()?;
        let topic = self.engine.topic(&name).map_err(to_js)?;
        let config = config_from(&topic.config(), Some(entries))?;
        self.engine.set_topic_config(&name, config).map_err(to_js)
    }

    #[napi]
    pub fn topics(&self) -> Result<Vec<TopicInfo>> {
        self.check()?;
        Ok(self
            .engine
            .topics()
            .iter()
            .map(|t| TopicInfo {
                name: t.name.clone(),
                partitions: t.partition_count(),
                config: t
                    .config()
                    .entries()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            })
            .collect())
    }

    /// The partition count of `topic`, or -1 when it does not exist.
    #[napi]
    pub fn partition_count(&self, topic: String) -> Result<i32> {
        self.check()?;
        Ok(self
            .engine
            .topic(&topic)
            .map_or(-1, |t| t.partition_count() as i32))
    }

    /// The largest batch `topic` accepts (min of max.message.bytes and
    /// segment.bytes), or -1 when it does not exist.
    #[napi]
    pub fn batch_bytes_max(&self, topic: String) -> Result<f64> {
        self.check()?;
        Ok(self
            .engine
            .topic(&topic)
            .map_or(-1.0, |t| t.config().batch_bytes_max() as f64))
    }

    /// A new producer id for an idempotent producer (epoch 0).
    #[napi]
    pub fn allocate_producer_id(&self) -> Result<f64> {
        self.check()?;
        Ok(self.engine.allocate_producer_id().map_err(to_js)? as f64)
    }

    /// [logStartOffset, highWatermark, durableOffset]
    #[napi]
    pub fn watermarks(&self, topic: String, partition: i64) -> Result<Vec<f64>> {
        self.check()?;
        let w = self.partition(&topic, partition)?.watermarks();
        Ok(vec![
            w.log_start_offset as f64,
            w.high_watermark as f64,
            w.durable_offset as f64,
        ])
    }

    /// `syncTo` for several partitions at once (one send's batches, acks -1):
    /// queued together, so the engine's flusher serves them in one round,
    /// their fdatasyncs side by side. One promise per entry, in order.
    /// Every argument is checked before anything is queued.
    #[napi]
    pub fn sync_to_many<'env>(
        &self,
        env: &'env Env,
        topics: Vec<String>,
        partitions: Vec<i64>,
        offsets: Vec<f64>,
    ) -> Result<Vec<Object<'env>>> {
        self.check()?;
        if topics.len() != partitions.len() || topics.len() != offsets.len() {
            return Err(invalid(format!(
                "syncToMany needs as many partitions and offsets as topics ({}, {}, {})",
                topics.len(),
                partitions.len(),
                offsets.len()
            )));
        }
        for ((topic, partition), offset) in topics.iter().zip(&partitions).zip(&offsets) {
            self.partition(topic, *partition)?;
            offset_arg("offset", *offset)?;
        }
        let mut promises = Vec::with_capacity(topics.len());
        let _together = self.engine.sync_batch();
        for ((topic, partition), offset) in topics.into_iter().zip(partitions).zip(offsets) {
            promises.push(self.sync_to(env, topic, partition, offset)?);
        }
        Ok(promises)
    }

    /// Appends one RecordBatch v2 and writes what the engine reports into
    /// the caller's `out`: `APPEND_REPORT_LEN` numbers in native byte order
    /// (JavaScript reads them through a Float64Array over the same memory):
    /// baseOffset, lastOffset, logAppendTime, needsSync (0/1),
    /// logStartOffset, duplicate (0/1). Reused memory rather than a new
    /// array per call: making that array was a measurable part of a
    /// one-record send (issue 17's profiles).
    #[napi]
    pub fn append(
        &self,
        topic: String,
        partition: i64,
        batch: &[u8],
        out: BufferSlice,
    ) -> Result<()> {
        self.check()?;
        let mut out = out;
        let report = out.get_mut(..APPEND_REPORT_LEN * 8).ok_or_else(|| {
            invalid(format!(
                "append needs {} bytes for its report",
                APPEND_REPORT_LEN * 8
            ))
        })?;
        let o = self
            .engine
            .append(&topic, partition_arg(partition)?, batch)
            .map_err(to_js)?;
        let values = [
            o.base_offset as f64,
            o.last_offset as f64,
            o.log_append_time_ms as f64,
            if o.needs_sync { 1.0 } else { 0.0 },
            o.log_start_offset as f64,
            if o.duplicate { 1.0 } else { 0.0 },
        ];
        for (slot, v) in report.chunks_exact_mut(8).zip(values) {
            slot.copy_from_slice(&v.to_ne_bytes());
        }
        Ok(())
    }

    /// Resolves once everything below `offset` is fsynced (group commit on
    /// the engine's flusher thread).
    #[napi]
    pub fn sync_to<'env>(
        &self,
        env: &'env Env,
        topic: String,
        partition: i64,
        offset: f64,
    ) -> Result<Object<'env>> {
        self.check()?;
        let p = self.partition(&topic, partition)?;
        let offset = offset_arg("offset", offset)?;
        let (deferred, promise) = deferred::<()>(env)?;
        p.sync_to(
            offset,
            Box::new(move |r| match r {
                Ok(()) => resolve(deferred, ()),
                Err(e) => reject(deferred, to_js(e)),
            }),
        );
        Ok(promise)
    }

    /// Resolves once every partition is fsynced.
    #[napi]
    pub fn flush<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        self.check()?;
        let (deferred, promise) = deferred::<()>(env)?;
        let partitions: Vec<_> = self
            .engine
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .collect();
        if partitions.is_empty() {
            resolve(deferred, ());
            return Ok(promise);
        }
        struct Join {
            remaining: usize,
            error: Option<ferrolog_engine::Error>,
            deferred: Option<VoidDeferred>,
        }
        let join = Arc::new(Mutex::new(Join {
            remaining: partitions.len(),
            error: None,
            deferred: Some(deferred),
        }));
        for p in partitions {
            let hw = p.watermarks().high_watermark;
            let join = join.clone();
            p.sync_to(
                hw,
                Box::new(move |r| {
                    let mut j = join.lock();
                    if let Err(e) = r {
                        j.error.get_or_insert(e);
                    }
                    j.remaining -= 1;
                    if j.remaining == 0 {
                        if let Some(d) = j.deferred.take() {
                            match j.error.take() {
                                None => resolve(d, ()),
                                Some(e) => reject(d, to_js(e)),
                            }
                        }
                    }
                }),
            );
        }
        Ok(promise)
    }

    /// Reads whole batches from the one holding `offset`. Returns [mapId,
    /// position, length, nextOffset, highWatermark, logStartOffset,
    /// mapLength]; length 0 means nothing to read. The bytes are then had
    /// through `lastMapBuffer` (zero-copy) or `lastChunkCopy`.
    #[napi]
    pub fn read(
        &mut self,
        topic: String,
        partition: i64,
        offset: f64,
        max_bytes: f64,
    ) -> Result<Vec<f64>> {
        self.check()?;
        let offset = offset_arg("offset", offset)?;
        let max_bytes = offset_arg("maxBytes", max_bytes)?;
        let r = self
            .engine
            .read(&topic, partition_arg(partition)?, offset, max_bytes.max(1))
            .map_err(to_js)?;
        let w = r.watermarks;
        match r.chunks.into_iter().next() {
            None => {
                self.last_map = None;
                Ok(vec![
                    0.0,
                    0.0,
                    0.0,
                    r.next_offset as f64,
                    w.high_watermark as f64,
                    w.log_start_offset as f64,
                    0.0,
                ])
            }
            Some(c) => {
                let (_, map_len) = c.map.external_parts();
                let out = vec![
                    c.map.id() as f64,
                    c.position as f64,
                    c.len as f64,
                    r.next_offset as f64,
                    w.high_watermark as f64,
                    w.log_start_offset as f64,
                    map_len as f64,
                ];
                self.last_chunk = (c.position, c.len);
                self.last_map = Some(c.map);
                Ok(out)
            }
        }
    }

    /// The external ArrayBuffer over the map of the last read, or null where
    /// the runtime refuses external buffers (then use `lastChunkCopy`).
    #[napi]
    pub fn last_map_buffer<'env>(&self, env: &'env Env) -> Result<Option<Unknown<'env>>> {
        let map = self
            .last_map
            .clone()
            .ok_or_else(|| invalid("lastMapBuffer needs a read that returned data"))?;
        external::create(env, map)
    }

    /// A copy of the last read's bytes (the fallback without external buffers).
    #[napi]
    pub fn last_chunk_copy(&self) -> Result<Buffer> {
        let map = self
            .last_map
            .as_ref()
            .ok_or_else(|| invalid("lastChunkCopy needs a read that returned data"))?;
        let (pos, len) = self.last_chunk;
        let bytes = map.read(pos as usize, len as usize).unwrap_or(&[]);
        Ok(Buffer::from(bytes.to_vec()))
    }

    /// Long-poll: returns { id, promise }, the promise resolving to true once
    /// the high watermark passes `offset`, or false when the wait is
    /// cancelled (timeout) or the log closes. Holds no thread.
    #[napi]
    pub fn wait_for_data<'env>(
        &self,
        env: &'env Env,
        topic: String,
        partition: i64,
        offset: f64,
    ) -> Result<Object<'env>> {
        self.check()?;
        let p = self.partition(&topic, partition)?;
        let offset = offset_arg("offset", offset)?;
        let (deferred, promise) = deferred::<bool>(env)?;
        let id = p
            .wait_for_data(
                offset,
                Box::new(move |outcome| {
                    let data = matches!(outcome, DataOutcome::Data { .. });
                    resolve(deferred, data);
                }),
            )
            .map_err(to_js)?;
        let mut out = Object::new(env).map_err(from_napi)?;
        out.set_named_property("id", id.unwrap_or(0) as f64)
            .map_err(from_napi)?;
        out.set_named_property("promise", promise)
            .map_err(from_napi)?;
        Ok(out)
    }

    /// Ends a wait early; its promise resolves to false.
    #[napi]
    pub fn cancel_wait(&self, topic: String, partition: i64, id: f64) -> Result<bool> {
        let p = self.partition(&topic, partition)?;
        match p.cancel_wait(offset_arg("id", id)?) {
            Some(cb) => {
                cb(DataOutcome::Closed);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    #[napi]
    pub fn delete_records(&self, topic: String, partition: i64, offset: f64) -> Result<f64> {
        self.check()?;
        let start = self
            .engine
            .delete_records(
                &topic,
                partition_arg(partition)?,
                offset_arg("offset", offset)?,
            )
            .map_err(to_js)?;
        Ok(start as f64)
    }

    /// The first offset at or after `timestampMs`, or -1 when none is.
    #[napi]
    pub fn offset_for_timestamp(
        &self,
        topic: String,
        partition: i64,
        timestamp_ms: f64,
    ) -> Result<f64> {
        self.check()?;
        let p = self.partition(&topic, partition)?;
        Ok(p.offset_for_timestamp(timestamp_ms as i64)
            .map_err(to_js)?
            .map_or(-1.0, |o| o as f64))
    }

    #[napi]
    pub fn enforce_retention(&self) -> Result<u32> {
        self.check()?;
        Ok(self.engine.enforce_retention().map_err(to_js)? as u32)
    }

    #[napi]
    pub fn roll(&self, topic: String, partition: i64) -> Result<()> {
        self.check()?;
        self.partition(&topic, partition)?.roll().map_err(to_js)
    }

    #[napi]
    pub fn segments(&self, topic: String, partition: i64) -> Result<Vec<SegmentSummary>> {
        self.check()?;
        let p = self.partition(&topic, partition)?;
        Ok(p.segments()
            .into_iter()
            .map(|s| SegmentSummary {
                base_offset: s.base_offset as f64,
                next_offset: s.next_offset as f64,
                size_bytes: s.size_bytes as f64,
                max_timestamp: s.max_timestamp as f64,
                path: s.path.to_string_lossy().into_owned(),
                offset_index_entries: s.offset_index_entries as u32,
                time_index_entries: s.time_index_entries as u32,
            })
            .collect())
    }

    #[napi]
    pub fn recovery_reports(&self) -> Vec<RecoverySummary> {
        self.engine
            .recovery_reports()
            .into_iter()
            .map(|r| RecoverySummary {
                topic: r.topic,
                partition: r.partition,
                action: r.action.as_str().to_string(),
                offset: r.offset as f64,
                path: r.path.to_string_lossy().into_owned(),
                moved_to: r.moved_to.map(|p| p.to_string_lossy().into_owned()),
                applied: r.applied,
                reason: r.reason,
            })
            .collect()
    }

    #[napi(getter)]
    pub fn read_only(&self) -> bool {
        self.engine.is_read_only()
    }
}

fn codec_arg(codec: u32) -> Result<ferrolog_engine::batch::Compression> {
    ferrolog_engine::compression::codec_from_id(codec as u16)
        .map_err(|e| invalid(format!("compression: {e}")))
}

/// Compresses a records section with codec 0-4 (none, gzip, snappy, lz4,
/// zstd), in the framing Kafka's clients write.
#[napi]
pub fn compress(codec: u32, data: &[u8], level: Option<i32>) -> Result<Buffer> {
    let out = ferrolog_engine::compression::compress(codec_arg(codec)?, data, level)
        .map_err(|e| coded("ERR_COMPRESSION", format!("{e}")))?;
    Ok(Buffer::from(out))
}

/// Decompresses a records section, producing at most `maxBytes`.
#[napi]
pub fn decompress(codec: u32, data: &[u8], max_bytes: f64) -> Result<Buffer> {
    let max = offset_arg("maxBytes", max_bytes)? as usize;
    let out = ferrolog_engine::compression::decompress(codec_arg(codec)?, data, max)
        .map_err(|e| coded("ERR_COMPRESSION", format!("{e}")))?;
    Ok(Buffer::from(out))
}

/// CRC-32C (Castagnoli) of `bytes[start..end]`, hardware-accelerated: the
/// TypeScript encoder calls it once per batch.
#[napi(js_name = "crc32c")]
pub fn crc32c(bytes: &[u8], start: u32, end: u32) -> Result<u32> {
    let (s, e) = (start as usize, end as usize);
    if s > e || e > bytes.len() {
        return Err(invalid(format!(
            "crc32c range {s}..{e} is outside {} bytes",
            bytes.len()
        )));
    }
    Ok(ferrolog_engine::batch::crc32c(&bytes[s..e]))
}
