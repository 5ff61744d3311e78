//! The engine: one data directory, its topics and partitions, the lock, the
//! checkpoints and the clean-shutdown marker.
//!
//! ```text
//! <dataDir>/
//!   .lock                               flock + holder pid
//!   .ferrolog_cleanshutdown             present only between close and open
//!   recovery-point-offset-checkpoint    Kafka format: fsynced offset per partition
//!   log-start-offset-checkpoint         Kafka format: log start per partition
//!   .meta/topics/<topic>.json           partition count and config, atomic
//!   <topic>-<partition>/<base>.log|.index|.timeindex
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, Checkpoint};
use crate::config::TopicConfig;
use crate::error::{Error, Result};
use crate::flusher::{Flusher, FlusherHandle};
use crate::io::{RealStorage, Storage};
use crate::lock::DirLock;
use crate::partition::{self, AppendOutcome, Partition, ReadResult, RecoveryReport};

pub const CLEAN_SHUTDOWN_FILE: &str = ".ferrolog_cleanshutdown";
pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
pub const LOG_START_FILE: &str = "log-start-offset-checkpoint";
/// Kafka's limit on topic name length.
pub const TOPIC_NAME_BYTES_MAX: usize = 249;
/// The most partitions one topic may have.
pub const PARTITIONS_MAX: u32 = 10_000;
/// Producer ids are reserved on disk this many at a time, so a restart
/// never hands out an id twice without a write per id.
pub const PRODUCER_ID_BLOCK: i64 = 1000;

pub struct EngineOptions {
    pub storage: Arc<dyn Storage>,
    /// Config for topics created without one (and auto-created topics).
    pub default_topic_config: TopicConfig,
    /// How often recovery points are checkpointed.
    pub checkpoint_interval_ms: u64,
    /// How often retention runs (Kafka's log.retention.check.interval.ms).
    pub retention_check_interval_ms: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            storage: Arc::new(RealStorage),
            default_topic_config: TopicConfig::default(),
            checkpoint_interval_ms: 60_000,
            retention_check_interval_ms: 300_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TopicMeta {
    name: String,
    partitions: u32,
    config: TopicConfig,
}

pub struct Topic {
    pub name: String,
    config: RwLock<Arc<TopicConfig>>,
    partitions: RwLock<Vec<Arc<Partition>>>,
}

impl Topic {
    pub fn config(&self) -> Arc<TopicConfig> {
        self.config.read().clone()
    }
    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions.read().clone()
    }
    pub fn partition_count(&self) -> u32 {
        self.partitions.read().len() as u32
    }
}

struct Inner {
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    default_config: TopicConfig,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Serializes topic creation, deletion and alteration.
    admin: Mutex<()>,
    closed: AtomicBool,
    reports: Mutex<Vec<RecoveryReport>>,
    checkpoint_interval: Duration,
    retention_interval: Duration,
    periodic: Mutex<Periodic>,
    /// The next producer id to hand out, and the end of the reserved block.
    producer_ids: Mutex<(i64, i64)>,
}

struct Periodic {
    next_checkpoint: Instant,
    next_retention: Instant,
}

pub struct Engine {
    inner: Arc<Inner>,
    flusher: Mutex<Option<Flusher>>,
    flusher_handle: FlusherHandle,
    lock: Mutex<Option<DirLock>>,
}

/// Checks a topic name as Kafka does: 1 to 249 of `[a-zA-Z0-9._-]`, not
/// `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= TOPIC_NAME_BYTES_MAX
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid topic name `{name}`: use 1 to {TOPIC_NAME_BYTES_MAX} of a-z A-Z 0-9 . _ -, not `.` or `..`"
        )))
    }
}

fn meta_dir(dir: &Path) -> PathBuf {
    dir.join(".meta").join("topics")
}

fn partition_dir(dir: &Path, topic: &str, partition: u32) -> PathBuf {
    dir.join(format!("{topic}-{partition}"))
}

impl Engine {
    pub fn open(dir: impl AsRef<Path>, options: EngineOptions) -> Result<Engine> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create data directory", &dir, e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| Error::io("resolve data directory", &dir, e))?;
        let lock = DirLock::acquire(&dir)?;
        std::fs::create_dir_all(meta_dir(&dir))
            .map_err(|e| Error::io("create meta dir", &dir, e))?;
        options.default_topic_config.validate()?;

        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = marker.exists();
        let recovery_points = checkpoint::read(&dir.join(RECOVERY_POINT_FILE)).unwrap_or_default();
        let log_starts = checkpoint::read(&dir.join(LOG_START_FILE)).unwrap_or_default();

        let inner = Arc::new(Inner {
            dir: dir.clone(),
            storage: options.storage.clone(),
            default_config: options.default_topic_config.clone(),
            topics: RwLock::new(BTreeMap::new()),
            admin: Mutex::new(()),
            closed: AtomicBool::new(false),
            reports: Mutex::new(Vec::new()),
            checkpoint_interval: Duration::from_millis(options.checkpoint_interval_ms.max(1)),
            retention_interval: Duration::from_millis(options.retention_check_interval_ms.max(1)),
            periodic: Mutex::new(Periodic {
                next_checkpoint: Instant::now()
                    + Duration::from_millis(options.checkpoint_interval_ms.max(1)),
                next_retention: Instant::now()
                    + Duration::from_millis(options.retention_check_interval_ms.max(1)),
            }),
            producer_ids: Mutex::new((0, 0)),
        });
        let reserved = read_producer_id_block(&dir)?;
        *inner.producer_ids.lock() = (reserved, reserved);
        let weak = Arc::downgrade(&inner);
        let flusher = Flusher::start(Box::new(move |now| tick(&weak, now)))
            .map_err(|e| Error::io("start flusher thread", &dir, e))?;
        let handle = flusher.handle();

        let engine = Engine {
            inner: inner.clone(),
            flusher: Mutex::new(Some(flusher)),
            flusher_handle: handle.clone(),
            lock: Mutex::new(Some(lock)),
        };
        engine.load_topics(clean, &recovery_points, &log_starts)?;

        // From here on a crash must be detected as unclean.
        if clean {
            std::fs::remove_file(&marker)
                .map_err(|e| Error::io("remove clean marker", &marker, e))?;
            inner
                .storage
                .sync_dir(&dir)
                .map_err(|e| Error::io("sync data directory", &dir, e))?;
        }
        Ok(engine)
    }

    fn load_topics(
        &self,
        clean: bool,
        recovery_points: &Checkpoint,
        log_starts: &Checkpoint,
    ) -> Result<()> {
        let dir = &self.inner.dir;
        let mdir = meta_dir(dir);
        let mut metas = Vec::new();
        let entries = std::fs::read_dir(&mdir).map_err(|e| Error::io("list topics", &mdir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list topics", &mdir, e))?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text =
                std::fs::read(&path).map_err(|e| Error::io("read topic metadata", &path, e))?;
            let meta: TopicMeta = serde_json::from_slice(&text).map_err(|e| {
                Error::corrupt(&path, 0, format!("topic metadata does not parse: {e}"))
            })?;
            validate_topic_name(&meta.name).map_err(|e| Error::corrupt(&path, 0, e.to_string()))?;
            if meta.partitions == 0 || meta.partitions > PARTITIONS_MAX {
                return Err(Error::corrupt(&path, 0, "partition count out of range"));
            }
            meta.config.validate()?;
            metas.push(meta);
        }
        // Partition directories without a topic are left over from an
        // interrupted deletion (the metadata file goes first).
        let known: BTreeMap<&str, u32> = metas
            .iter()
            .map(|m| (m.name.as_str(), m.partitions))
            .collect();
        let entries =
            std::fs::read_dir(dir).map_err(|e| Error::io("list data directory", dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !entry.path().is_dir() || name.starts_with('.') {
                continue;
            }
            if let Some((topic, part)) = name.rsplit_once('-') {
                if let Ok(p) = part.parse::<u32>() {
                    if known.get(topic).is_none_or(|&n| p >= n) {
                        let _ = std::fs::remove_dir_all(entry.path());
                    }
                }
            }
        }
        let mut topics = self.inner.topics.write();
        for meta in metas {
            let config = Arc::new(meta.config.clone());
            let mut partitions = Vec::with_capacity(meta.partitions as usize);
            for p in 0..meta.partitions {
                let key = (meta.name.clone(), p);
                let (part, report) = Partition::open(
                    &meta.name,
                    p,
                    partition_dir(dir, &meta.name, p),
                    config.clone(),
                    self.inner.storage.clone(),
                    self.flusher_handle.clone(),
                    clean,
                    recovery_points.get(&key).copied(),
                    log_starts.get(&key).copied(),
                )?;
                if let Some(r) = report {
                    self.inner.reports.lock().push(r);
                }
                partitions.push(part);
            }
            topics.insert(
                meta.name.clone(),
                Arc::new(Topic {
                    name: meta.name,
                    config: RwLock::new(config),
                    partitions: RwLock::new(partitions),
                }),
            );
        }
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn default_topic_config(&self) -> &TopicConfig {
        &self.inner.default_config
    }

    /// What recovery repaired while opening.
    pub fn recovery_reports(&self) -> Vec<RecoveryReport> {
        self.inner.reports.lock().clone()
    }

    fn write_meta(&self, meta: &TopicMeta) -> Result<()> {
        let path = meta_dir(&self.inner.dir).join(format!("{}.json", meta.name));
        let bytes = serde_json::to_vec_pretty(meta)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode topic metadata: {e}")))?;
        self.inner
            .storage
            .write_atomic(&path, &bytes)
            .map_err(|e| Error::io("write topic metadata", &path, e))
    }

    pub fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        config: Option<TopicConfig>,
    ) -> Result<()> {
        self.check_open()?;
        validate_topic_name(name)?;
        if partitions == 0 || partitions > PARTITIONS_MAX {
            return Err(Error::InvalidArgument(format!(
                "a topic needs 1 to {PARTITIONS_MAX} partitions, not {partitions}"
            )));
        }
        let config = config.unwrap_or_else(|| self.inner.default_config.clone());
        config.validate()?;
        let _admin = self.inner.admin.lock();
        if self.inner.topics.read().contains_key(name) {
            return Err(Error::TopicExists(name.to_string()));
        }
        let meta = TopicMeta {
            name: name.to_string(),
            partitions,
            config: config.clone(),
        };
        let config = Arc::new(config);
        let mut parts = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let (part, _) = self.open_new_partition(name, p, config.clone())?;
            parts.push(part);
        }
        // The metadata file makes the topic exist; written after its
        // directories so a crash in between leaves only orphans to sweep.
        self.write_meta(&meta)?;
        self.inner.topics.write().insert(
            name.to_string(),
            Arc::new(Topic {
                name: name.to_string(),
                config: RwLock::new(config),
                partitions: RwLock::new(parts),
            }),
        );
        Ok(())
    }

    fn open_new_partition(
        &self,
        name: &str,
        p: u32,
        config: Arc<TopicConfig>,
    ) -> Result<(Arc<Partition>, Option<RecoveryReport>)> {
        let pdir = partition_dir(&self.inner.dir, name, p);
        if pdir.exists() {
            std::fs::remove_dir_all(&pdir)
                .map_err(|e| Error::io("clear partition dir", &pdir, e))?;
        }
        Partition::open(
            name,
            p,
            pdir,
            config,
            self.inner.storage.clone(),
            self.flusher_handle.clone(),
            true,
            None,
            None,
        )
    }

    /// Grows a topic to `total` partitions (Kafka's CreatePartitions).
    pub fn create_partitions(&self, name: &str, total: u32) -> Result<()> {
        self.check_open()?;
        let _admin = self.inner.admin.lock();
        let topic = self.topic(name)?;
        let current = topic.partition_count();
        if total <= current || total > PARTITIONS_MAX {
            return Err(Error::InvalidArgument(format!(
                "topic `{name}` has {current} partitions; the new count must be larger and at most {PARTITIONS_MAX}, not {total}"
            )));
        }
        let config = topic.config();
        let mut added = Vec::new();
        for p in current..total {
            added.push(self.open_new_partition(name, p, config.clone())?.0);
        }
        self.write_meta(&TopicMeta {
            name: name.to_string(),
            partitions: total,
            config: (*config).clone(),
        })?;
        topic.partitions.write().extend(added);
        Ok(())
    }

    pub fn set_topic_config(&self, name: &str, config: TopicConfig) -> Result<()> {
        self.check_open()?;
        config.validate()?;
        let _admin = self.inner.admin.lock();
        let topic = self.topic(name)?;
        self.write_meta(&TopicMeta {
            name: name.to_string(),
            partitions: topic.partition_count(),
            config: config.clone(),
        })?;
        let config = Arc::new(config);
        *topic.config.write() = config.clone();
        for p in topic.partitions() {
            p.set_config(config.clone());
        }
        Ok(())
    }

    pub fn delete_topic(&self, name: &str) -> Result<()> {
        self.check_open()?;
        let _admin = self.inner.admin.lock();
        let topic = self.inner.topics.write().remove(name).ok_or_else(|| {
            Error::UnknownTopicOrPartition {
                topic: name.to_string(),
                partition: 0,
            }
        })?;
        let path = meta_dir(&self.inner.dir).join(format!("{name}.json"));
        std::fs::remove_file(&path).map_err(|e| Error::io("delete topic metadata", &path, e))?;
        let _ = self.inner.storage.sync_dir(&meta_dir(&self.inner.dir));
        for p in topic.partitions() {
            p.destroy()?;
        }
        Ok(())
    }

    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.inner.topics.read().values().cloned().collect()
    }

    pub fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        self.inner
            .topics
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownTopicOrPartition {
                topic: name.to_string(),
                partition: 0,
            })
    }

    pub fn partition(&self, topic: &str, partition: u32) -> Result<Arc<Partition>> {
        self.check_open()?;
        let t = self.topic(topic)?;
        let parts = t.partitions.read();
        parts
            .get(partition as usize)
            .cloned()
            .ok_or_else(|| Error::UnknownTopicOrPartition {
                topic: topic.to_string(),
                partition,
            })
    }

    pub fn append(&self, topic: &str, partition: u32, batch: &[u8]) -> Result<AppendOutcome> {
        self.partition(topic, partition)?.append(batch)
    }

    /// Appends and, when the topic's flush policy asks for it, waits for
    /// the group-committed fdatasync on this thread.
    pub fn append_blocking(
        &self,
        topic: &str,
        partition: u32,
        batch: &[u8],
    ) -> Result<AppendOutcome> {
        let p = self.partition(topic, partition)?;
        let outcome = p.append(batch)?;
        if outcome.needs_sync {
            p.sync_to_blocking(outcome.last_offset + 1)?;
        }
        Ok(outcome)
    }

    pub fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: u64,
    ) -> Result<ReadResult> {
        self.partition(topic, partition)?.read(offset, max_bytes)
    }

    /// fdatasyncs every partition now.
    pub fn flush(&self) -> Result<()> {
        self.check_open()?;
        for t in self.topics() {
            for p in t.partitions() {
                p.sync_now()?;
            }
        }
        Ok(())
    }

    /// Runs retention on every partition now.
    pub fn enforce_retention(&self) -> Result<usize> {
        self.check_open()?;
        enforce_retention(&self.inner)
    }

    /// Writes the log-start checkpoint (after DeleteRecords, so a restart keeps it).
    pub fn delete_records(&self, topic: &str, partition: u32, offset: u64) -> Result<u64> {
        let start = self.partition(topic, partition)?.delete_records(offset)?;
        write_checkpoints(&self.inner)?;
        Ok(start)
    }

    /// A new producer id for an idempotent producer (epoch 0). Ids are
    /// unique across restarts: they are reserved on disk in blocks.
    pub fn allocate_producer_id(&self) -> Result<i64> {
        self.check_open()?;
        let mut ids = self.inner.producer_ids.lock();
        if ids.0 >= ids.1 {
            let end = ids.1 + PRODUCER_ID_BLOCK;
            let path = self.inner.dir.join(".meta").join("producer-ids");
            self.inner
                .storage
                .write_atomic(&path, end.to_string().as_bytes())
                .map_err(|e| Error::io("reserve producer ids", &path, e))?;
            ids.1 = end;
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }

    /// Flushes everything, writes checkpoints and the clean-shutdown marker,
    /// stops the flusher and releases the lock. Views handed out earlier
    /// remain valid. A failure leaves no marker, so the next open recovers.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut result = Ok(());
        for t in self.topics() {
            for p in t.partitions() {
                if let Err(e) = p.close() {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
        if let Some(mut f) = self.flusher.lock().take() {
            f.stop();
        }
        if result.is_ok() {
            result = write_checkpoints(&self.inner);
        }
        if result.is_ok() {
            let marker = self.inner.dir.join(CLEAN_SHUTDOWN_FILE);
            result = self
                .inner
                .storage
                .write_atomic(&marker, b"")
                .map_err(|e| Error::io("write clean marker", &marker, e));
        }
        self.lock.lock().take();
        result
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The first producer id not yet reserved (0 for a new directory).
fn read_producer_id_block(dir: &Path) -> Result<i64> {
    let path = dir.join(".meta").join("producer-ids");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::corrupt(&path, 0, "producer id reservation does not parse")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io("read producer ids", &path, e)),
    }
}

fn write_checkpoints(inner: &Inner) -> Result<()> {
    let mut recovery = Checkpoint::new();
    let mut starts = Checkpoint::new();
    for t in inner.topics.read().values() {
        for p in t.partitions() {
            let (key, (durable, start)) = partition::checkpoint_entry(&p);
            recovery.insert(key.clone(), durable);
            starts.insert(key, start);
        }
    }
    checkpoint::write(
        &*inner.storage,
        &inner.dir.join(RECOVERY_POINT_FILE),
        &recovery,
    )?;
    checkpoint::write(&*inner.storage, &inner.dir.join(LOG_START_FILE), &starts)
}

fn enforce_retention(inner: &Inner) -> Result<usize> {
    let now = partition::now_ms();
    let mut n = 0;
    for t in inner.topics.read().values() {
        for p in t.partitions() {
            n += p.enforce_retention(now)?;
        }
    }
    Ok(n)
}

/// The flusher's periodic work. Errors here are not lost: an fsync failure
/// poisons its partition, which reports it on the next append.
fn tick(weak: &Weak<Inner>, now: Instant) -> Instant {
    let far = now + Duration::from_secs(3600);
    let Some(inner) = weak.upgrade() else {
        return far;
    };
    if inner.closed.load(Ordering::Acquire) {
        return far;
    }
    let mut next = far;
    let partitions: Vec<Arc<Partition>> = inner
        .topics
        .read()
        .values()
        .flat_map(|t| t.partitions())
        .collect();
    for p in &partitions {
        let (due, deadline) = p.interval_due(now);
        if due {
            let _ = p.sync_now();
            let (_, d) = p.interval_due(Instant::now());
            if let Some(d) = d {
                next = next.min(d);
            }
        } else if let Some(d) = deadline {
            next = next.min(d);
        }
    }
    let mut periodic = inner.periodic.lock();
    if now >= periodic.next_checkpoint {
        for p in &partitions {
            let _ = p.persist_indexes();
        }
        let _ = write_checkpoints(&inner);
        periodic.next_checkpoint = now + inner.checkpoint_interval;
    }
    if now >= periodic.next_retention {
        let _ = enforce_retention(&inner);
        periodic.next_retention = now + inner.retention_interval;
    }
    next.min(periodic.next_checkpoint)
        .min(periodic.next_retention)
}
