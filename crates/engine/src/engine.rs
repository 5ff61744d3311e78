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
use crate::flusher::{Flusher, FlusherHandle, SyncBatch};
use crate::io::{RealStorage, Storage};
use crate::lock::DirLock;
use crate::partition::{self, AppendOutcome, Partition, ReadResult};
use crate::recovery::{self, RecoveryAction, RecoveryReport, ScanOptions};
use crate::segment;

/// Marker file a clean close leaves in the data dir; without it, the next
/// open scans every segment written since the last recovery point.
pub const CLEAN_SHUTDOWN_FILE: &str = ".ferrolog_cleanshutdown";
pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
pub const LOG_START_FILE: &str = "log-start-offset-checkpoint";
/// Topics whose records only the engine's own callers (the group
/// coordinator's offset store) may write, as in Kafka.
pub const INTERNAL_TOPICS: [&str; 4] = [
    "__consumer_offsets",
    "__transaction_state",
    "__share_group_state",
    "__cluster_metadata",
];
/// Names a topic may not take: ferrolog's and Kafka's files in a data dir.
const RESERVED_NAMES: [&str; 6] = [
    RECOVERY_POINT_FILE,
    LOG_START_FILE,
    "replication-offset-checkpoint",
    "cleaner-offset-checkpoint",
    "meta.properties",
    "bootstrap.checkpoint",
];
/// A topic's metadata file while its deletion is under way.
const DELETING_SUFFIX: &str = ".json.deleting";
/// Kafka's limit on topic name length.
pub const TOPIC_NAME_BYTES_MAX: usize = 249;
/// The most partitions one topic may have.
pub const PARTITIONS_MAX: u32 = 10_000;
/// Producer ids are reserved on disk this many at a time, so a restart
/// never hands out an id twice without a write per id.
pub const PRODUCER_ID_BLOCK: i64 = 1000;

/// How to open an engine; `Default` is what a server wants.
pub struct EngineOptions {
    /// Where every disk call that can fail goes; tests swap in a storage
    /// that fails on command (the `fault-injection` feature).
    #[cfg(any(test, feature = "fault-injection"))]
    pub storage: Arc<dyn Storage>,
    /// Config for topics created without one (and auto-created topics).
    pub default_topic_config: TopicConfig,
    /// How often recovery points are checkpointed.
    pub checkpoint_interval_ms: u64,
    /// How often retention runs (Kafka's log.retention.check.interval.ms).
    pub retention_check_interval_ms: u64,
    /// Open without the lock and without writing anything (see
    /// `Engine::open`).
    pub read_only: bool,
    /// Scan and CRC-check every segment, as after a crash with no recovery
    /// point (`ferrolog verify --repair`), whatever the marker says.
    pub full_recovery: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            #[cfg(any(test, feature = "fault-injection"))]
            storage: Arc::new(RealStorage),
            default_topic_config: TopicConfig::default(),
            checkpoint_interval_ms: 60_000,
            retention_check_interval_ms: 300_000,
            read_only: false,
            full_recovery: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TopicMeta {
    name: String,
    partitions: u32,
    config: TopicConfig,
}

/// One topic: its config and its partitions, shared with readers so a
/// fetch needs no engine-wide lock.
pub struct Topic {
    /// The topic's name, also its directory prefix (`name-N`).
    pub name: String,
    config: RwLock<Arc<TopicConfig>>,
    partitions: RwLock<Vec<Arc<Partition>>>,
}

impl Topic {
    /// The current config; a snapshot, so a concurrent alter does not
    /// change it under the caller.
    pub fn config(&self) -> Arc<TopicConfig> {
        self.config.read().clone()
    }
    /// The partitions in order of their number.
    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions.read().clone()
    }
    /// How many partitions the topic has now (partitions may be added).
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
    /// Set once `open` finished: only an opened engine writes checkpoints
    /// and the clean-shutdown marker on close.
    opened: AtomicBool,
    read_only: bool,
}

struct Periodic {
    next_checkpoint: Instant,
    next_retention: Instant,
}

/// The storage engine of one data directory: its topics, their partitions,
/// the flusher thread and the directory lock. Cheap calls take `&self`, so
/// one `Arc<Engine>` serves every thread.
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

/// Whether `name` is one of Kafka's internal topics.
pub fn is_internal_topic(name: &str) -> bool {
    INTERNAL_TOPICS.contains(&name)
}

/// The checks for a name a caller asks to create, beyond Kafka's syntax:
/// not internal (unless `internal`), not one of the files a data directory
/// holds, not hidden (names starting with `.` are ferrolog's own folders),
/// and no clash with an existing topic once `.` and `_` are treated alike
/// (Kafka refuses those too: their metric names collide).
fn validate_new_topic_name<'a>(
    name: &str,
    internal: bool,
    existing: impl Iterator<Item = &'a String>,
) -> Result<()> {
    validate_topic_name(name)?;
    if is_internal_topic(name) != internal {
        return Err(Error::InvalidArgument(if internal {
            format!("`{name}` is not an internal topic")
        } else {
            format!("`{name}` is an internal topic: only the group coordinator writes it")
        }));
    }
    if name.starts_with('.') || RESERVED_NAMES.contains(&name) {
        return Err(Error::InvalidArgument(format!(
            "`{name}` names a file or folder of the data directory; choose another topic name"
        )));
    }
    let fold = |n: &str| n.replace('.', "_");
    let folded = fold(name);
    if let Some(other) = existing
        .filter(|e| e.as_str() != name)
        .find(|e| fold(e) == folded)
    {
        return Err(Error::InvalidArgument(format!(
            "topic `{name}` collides with existing topic `{other}`: names that differ only in `.` and `_` are not allowed"
        )));
    }
    Ok(())
}

fn refuse_internal(name: &str, what: &str) -> Result<()> {
    if is_internal_topic(name) {
        return Err(Error::InvalidArgument(format!(
            "cannot {what} internal topic `{name}`"
        )));
    }
    Ok(())
}

fn meta_dir(dir: &Path) -> PathBuf {
    dir.join(".meta").join("topics")
}

fn partition_dir(dir: &Path, topic: &str, partition: u32) -> PathBuf {
    dir.join(format!("{topic}-{partition}"))
}

/// A partition directory found on disk and what open will do with it.
struct FoundPartition {
    topic: String,
    partition: u32,
    dir: PathBuf,
}

/// Everything `open` learned before writing anything.
struct OpenPlan {
    metas: Vec<TopicMeta>,
    /// Topics whose deletion a crash interrupted: finished in phase 2.
    deleting: Vec<(PathBuf, TopicMeta)>,
    /// Unknown partition directories that hold segments, by topic.
    adopt: BTreeMap<String, Vec<FoundPartition>>,
    reports: Vec<RecoveryReport>,
    recovery_points: Checkpoint,
    log_starts: Checkpoint,
}

fn directory_report(path: PathBuf, action: RecoveryAction, reason: String) -> RecoveryReport {
    RecoveryReport {
        topic: String::new(),
        partition: 0,
        action,
        offset: 0,
        path,
        moved_to: None,
        applied: false,
        reason,
    }
}

fn read_meta(path: &Path) -> Result<TopicMeta> {
    let text = std::fs::read(path).map_err(|e| Error::io("read topic metadata", path, e))?;
    let meta: TopicMeta = serde_json::from_slice(&text).map_err(|e| {
        Error::corrupt(
            path,
            0,
            format!(
                "topic metadata does not parse ({e}); nothing was changed. Restore the file, or move it out of .meta/topics to open the topic's partitions as adopted ones with default settings"
            ),
        )
    })?;
    validate_topic_name(&meta.name).map_err(|e| Error::corrupt(path, 0, e.to_string()))?;
    if meta.partitions == 0 || meta.partitions > PARTITIONS_MAX {
        return Err(Error::corrupt(path, 0, "partition count out of range"));
    }
    meta.config
        .validate()
        .map_err(|e| Error::corrupt(path, 0, e.to_string()))?;
    Ok(meta)
}

/// `<topic>-<n>` with a valid topic name and partition number.
fn parse_partition_dir_name(name: &str) -> Option<(&str, u32)> {
    let (topic, part) = name.rsplit_once('-')?;
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 5 {
        return None;
    }
    let p: u32 = part.parse().ok()?;
    (p < PARTITIONS_MAX && validate_topic_name(topic).is_ok()).then_some((topic, p))
}

/// Whether a directory holds at least one segment file.
fn holds_segments(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| segment::parse_log_file_name(&e.file_name().to_string_lossy()).is_some())
    })
}

impl Engine {
    /// Opens (creating if needed) a data directory.
    ///
    /// Nothing on disk changes until every topic's metadata and every
    /// partition has been read and checked: a failing open leaves the
    /// directory as it found it. Then, unless `read_only`, recovery's
    /// repairs are applied (see `recovery`), partition directories that
    /// ferrolog did not create but that hold Kafka segments are adopted,
    /// and the clean-shutdown marker is removed. Nothing is ever deleted
    /// that ferrolog did not create; `recovery_reports` says what was done.
    ///
    /// Read-only, the directory lock is not taken and nothing is written:
    /// recovery happens in memory only. That serves a stopped Kafka
    /// broker's log directory, or a directory another process owns.
    pub fn open(dir: impl AsRef<Path>, options: EngineOptions) -> Result<Engine> {
        let dir = dir.as_ref().to_path_buf();
        let read_only = options.read_only;
        if !read_only {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::io("create data directory", &dir, e))?;
        }
        let dir = dir
            .canonicalize()
            .map_err(|e| Error::io("resolve data directory", &dir, e))?;
        let lock = if read_only {
            None
        } else {
            Some(DirLock::acquire(&dir)?)
        };
        options.default_topic_config.validate()?;

        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = marker.exists();
        let mut plan = plan_open(&dir)?;
        if options.full_recovery {
            plan.recovery_points.clear();
        }

        #[cfg(any(test, feature = "fault-injection"))]
        let storage = options.storage.clone();
        #[cfg(not(any(test, feature = "fault-injection")))]
        let storage: Arc<dyn Storage> = Arc::new(RealStorage);
        let inner = Arc::new(Inner {
            dir: dir.clone(),
            storage,
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
            opened: AtomicBool::new(false),
            read_only,
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
            lock: Mutex::new(lock),
        };
        engine.load_topics(clean && !options.full_recovery, plan)?;
        // Never hand out an id the log still holds state for, whatever the
        // reservation file says (it may be lost or stale): a reused id
        // would make a new producer's first batch look like a retry of an
        // old one, and be dropped as a duplicate.
        let max_seen = engine
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .filter_map(|p| p.max_producer_id())
            .max();
        if let Some(max) = max_seen {
            let mut ids = inner.producer_ids.lock();
            if ids.0 <= max {
                // A log holding i64::MAX (damaged or hostile data) leaves no
                // id above it: allocation then refuses rather than reuse one.
                let next = max.saturating_add(1);
                *ids = (next, next);
            }
        }

        if !read_only {
            // From here on a crash must be detected as unclean.
            if clean {
                std::fs::remove_file(&marker)
                    .map_err(|e| Error::io("remove clean marker", &marker, e))?;
                inner
                    .storage
                    .sync_dir(&dir)
                    .map_err(|e| Error::io("sync data directory", &dir, e))?;
            }
        }
        inner.opened.store(true, Ordering::Release);
        Ok(engine)
    }

    /// Phase 2 of open: scans every partition (reads only), then, when all
    /// of them scanned and not read-only, writes: finishes interrupted
    /// deletions, adopts, applies repairs. Then builds the topics.
    fn load_topics(&self, clean: bool, mut plan: OpenPlan) -> Result<()> {
        let dir = self.inner.dir.clone();
        let read_only = self.inner.read_only;
        let default = self.inner.default_config.clone();
        // Adopted topics: Kafka's layout, the partition count from the
        // directories present, default settings but no retention, so that
        // nothing ferrolog did not write is ever deleted by a default.
        for (topic, found) in &plan.adopt {
            let partitions = found.iter().map(|f| f.partition + 1).max().unwrap_or(1);
            let mut config = default.clone();
            config.retention_ms = -1;
            config.retention_bytes = -1;
            for f in found {
                plan.reports.push(RecoveryReport {
                    topic: topic.clone(),
                    partition: f.partition,
                    action: RecoveryAction::Adopted,
                    offset: 0,
                    path: f.dir.clone(),
                    moved_to: None,
                    applied: !read_only,
                    reason: format!(
                        "a partition directory with segments but no topic metadata: opened as topic `{topic}` ({partitions} partition(s), default settings, retention off)"
                    ),
                });
            }
            plan.metas.push(TopicMeta {
                name: topic.clone(),
                partitions,
                config,
            });
        }
        // Phase 1: scan everything, writing nothing.
        let mut scanned = Vec::new();
        for meta in &plan.metas {
            let config = Arc::new(meta.config.clone());
            for p in 0..meta.partitions {
                let pdir = partition_dir(&dir, &meta.name, p);
                let key = (meta.name.clone(), p);
                let recovery_point = plan.recovery_points.get(&key).copied();
                let result = if pdir.is_dir() {
                    Some(recovery::scan(
                        &pdir,
                        &ScanOptions {
                            index_interval_bytes: config.index_interval_bytes,
                            clean,
                            recovery_point,
                            writable: !read_only,
                        },
                    )?)
                } else {
                    None
                };
                scanned.push((meta.name.clone(), p, pdir, config.clone(), result));
            }
        }
        // A directory ferrolog did not write is adopted only as it is: if
        // recovery would have to change any of its files, it is left alone.
        let damaged: Vec<String> = plan
            .adopt
            .keys()
            .filter(|t| {
                scanned.iter().any(|(name, _, _, _, r)| {
                    name == *t && r.as_ref().is_some_and(|r| r.needs_repair())
                })
            })
            .cloned()
            .collect();
        for topic in &damaged {
            for f in plan.adopt.remove(topic).unwrap_or_default() {
                plan.reports
                    .retain(|r| !(r.action == RecoveryAction::Adopted && r.path == f.dir));
                plan.reports.push(directory_report(
                    f.dir,
                    RecoveryAction::Ignored,
                    format!("holds segments that recovery would have to change, so topic `{topic}` was not adopted; left as it is"),
                ));
            }
            plan.metas.retain(|m| &m.name != topic);
            scanned.retain(|(name, ..)| name != topic);
        }
        let mut reports = plan.reports;
        if read_only {
            for (topic, p, pdir, _, result) in &scanned {
                if let Some(r) = result {
                    reports.extend(r.pending_reports(topic, *p, pdir));
                }
            }
        } else {
            // Phase 2: write.
            let mdir = meta_dir(&dir);
            std::fs::create_dir_all(&mdir).map_err(|e| Error::io("create meta dir", &mdir, e))?;
            for (path, meta) in &plan.deleting {
                self.finish_deletion(path, meta)?;
            }
            for meta in plan
                .metas
                .iter()
                .filter(|m| plan.adopt.contains_key(&m.name))
            {
                self.write_meta(meta)?;
            }
            for (topic, p, pdir, _, result) in &mut scanned {
                match result {
                    Some(r) => reports.extend(recovery::apply(
                        r,
                        pdir,
                        &dir,
                        topic,
                        *p,
                        &*self.inner.storage,
                    )?),
                    None => std::fs::create_dir_all(&*pdir)
                        .map_err(|e| Error::io("create partition dir", &*pdir, e))?,
                }
            }
        }
        let mut built: BTreeMap<String, Vec<Arc<Partition>>> = BTreeMap::new();
        for (topic, p, pdir, config, result) in scanned {
            let key = (topic.clone(), p);
            let scanned = result.unwrap_or_else(recovery::Scanned::empty);
            let high_watermark = scanned.high_watermark();
            let mut log_start = plan.log_starts.get(&key).copied();
            if let (Some(start), Some(hw)) = (log_start, high_watermark) {
                if start > hw {
                    // An implausible checkpoint: hide nothing. Records it
                    // may have deleted can reappear; none can be lost.
                    let first_base = scanned.first_base().unwrap_or(hw);
                    reports.push(RecoveryReport {
                        topic: topic.clone(),
                        partition: p,
                        action: RecoveryAction::Corrected,
                        offset: first_base,
                        path: dir.join(LOG_START_FILE),
                        moved_to: None,
                        applied: !read_only,
                        reason: format!(
                            "the checkpointed log start {start} is past the end of the log ({hw}), so it cannot be right: the log starts at its first segment, {first_base}"
                        ),
                    });
                    log_start = Some(first_base);
                }
            }
            let part = Partition::from_scanned(
                &topic,
                p,
                pdir,
                config,
                self.inner.storage.clone(),
                self.flusher_handle.clone(),
                scanned,
                clean,
                plan.recovery_points.get(&key).copied(),
                log_start,
                read_only,
            )?;
            built.entry(topic).or_default().push(part);
        }
        *self.inner.reports.lock() = reports;
        let mut topics = self.inner.topics.write();
        for meta in plan.metas {
            let partitions = built.remove(&meta.name).unwrap_or_default();
            debug_assert_eq!(partitions.len(), meta.partitions as usize);
            topics.insert(
                meta.name.clone(),
                Arc::new(Topic {
                    name: meta.name,
                    config: RwLock::new(Arc::new(meta.config)),
                    partitions: RwLock::new(partitions),
                }),
            );
        }
        Ok(())
    }

    /// Completes a deletion a crash interrupted: removes the segment files
    /// of the topic's partitions (ferrolog's names only) and each partition
    /// directory if that leaves it empty, then the metadata file.
    fn finish_deletion(&self, path: &Path, meta: &TopicMeta) -> Result<()> {
        for p in 0..meta.partitions {
            let pdir = partition_dir(&self.inner.dir, &meta.name, p);
            remove_segment_files_in(&pdir)?;
        }
        std::fs::remove_file(path).map_err(|e| Error::io("finish topic deletion", path, e))?;
        let _ = self.inner.storage.sync_dir(&meta_dir(&self.inner.dir));
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Refuses changes when closed or opened read-only.
    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.inner.read_only {
            return Err(Error::ReadOnly(format!(
                "{} was opened read-only",
                self.inner.dir.display()
            )));
        }
        Ok(())
    }

    /// True when opened with `read_only`: every write is refused.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The config a topic created without one (or auto-created) gets.
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

    /// Creates a topic with `partitions` partitions and `config` (else the
    /// default), durably: its directories and metadata are fsynced before it
    /// returns. Kafka's internal names are refused.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        config: Option<TopicConfig>,
    ) -> Result<()> {
        self.create_topic_as(name, partitions, config, false)
    }

    /// Creates one of Kafka's internal topics (for the group coordinator's
    /// offset store); the public `create_topic` refuses their names.
    pub fn create_internal_topic(
        &self,
        name: &str,
        partitions: u32,
        config: Option<TopicConfig>,
    ) -> Result<()> {
        self.create_topic_as(name, partitions, config, true)
    }

    fn create_topic_as(
        &self,
        name: &str,
        partitions: u32,
        config: Option<TopicConfig>,
        internal: bool,
    ) -> Result<()> {
        self.check_writable()?;
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
        validate_new_topic_name(name, internal, self.inner.topics.read().keys())?;
        self.check_partition_dirs_free(name, 0..partitions)?;
        let meta = TopicMeta {
            name: name.to_string(),
            partitions,
            config: config.clone(),
        };
        // The metadata first: a crash before the directories exist leaves a
        // topic whose missing directories the next open creates, never
        // segment directories without a topic (which open would adopt).
        self.write_meta(&meta)?;
        let config = Arc::new(config);
        let mut parts = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            match self.open_new_partition(name, p, config.clone()) {
                Ok(part) => parts.push(part),
                Err(e) => {
                    // Undo what this call created, and only that.
                    for part in parts {
                        let _ = part.destroy();
                    }
                    let _ = remove_segment_files_in(&partition_dir(&self.inner.dir, name, p));
                    let path = meta_dir(&self.inner.dir).join(format!("{name}.json"));
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
            }
        }
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

    /// Refuses to create partitions whose directories already hold files:
    /// they are someone's data (a Kafka partition, a user's folder).
    fn check_partition_dirs_free(&self, name: &str, range: std::ops::Range<u32>) -> Result<()> {
        for p in range {
            let pdir = partition_dir(&self.inner.dir, name, p);
            let occupied = std::fs::read_dir(&pdir).is_ok_and(|mut e| e.next().is_some());
            if occupied || (pdir.exists() && !pdir.is_dir()) {
                return Err(Error::TopicExists(format!(
                    "{name} (its partition directory {} already exists and is not empty; nothing was created)",
                    pdir.display()
                )));
            }
        }
        Ok(())
    }

    fn open_new_partition(
        &self,
        name: &str,
        p: u32,
        config: Arc<TopicConfig>,
    ) -> Result<Arc<Partition>> {
        let pdir = partition_dir(&self.inner.dir, name, p);
        let (part, reports) = Partition::open(
            name,
            p,
            pdir,
            &self.inner.dir,
            config,
            self.inner.storage.clone(),
            self.flusher_handle.clone(),
        )?;
        debug_assert!(reports.is_empty(), "a new partition has nothing to recover");
        Ok(part)
    }

    /// Grows a topic to `total` partitions (Kafka's CreatePartitions).
    pub fn create_partitions(&self, name: &str, total: u32) -> Result<()> {
        self.check_writable()?;
        let _admin = self.inner.admin.lock();
        let topic = self.topic(name)?;
        let current = topic.partition_count();
        if total <= current || total > PARTITIONS_MAX {
            return Err(Error::InvalidArgument(format!(
                "topic `{name}` has {current} partitions; the new count must be larger and at most {PARTITIONS_MAX}, not {total}"
            )));
        }
        refuse_internal(name, "grow")?;
        self.check_partition_dirs_free(name, current..total)?;
        let config = topic.config();
        let mut added = Vec::new();
        for p in current..total {
            added.push(self.open_new_partition(name, p, config.clone())?);
        }
        self.write_meta(&TopicMeta {
            name: name.to_string(),
            partitions: total,
            config: (*config).clone(),
        })?;
        topic.partitions.write().extend(added);
        Ok(())
    }

    /// Replaces a topic's config: validated, persisted to the topic's
    /// metadata, then handed to every partition.
    pub fn set_topic_config(&self, name: &str, config: TopicConfig) -> Result<()> {
        self.check_writable()?;
        refuse_internal(name, "alter")?;
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

    /// Deletes a topic: the only path that removes segment files, and only
    /// those of the topic's own partitions. Its metadata is renamed to
    /// `<name>.json.deleting` first, so a crash part-way is finished by the
    /// next open instead of leaving segment directories it would adopt.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        self.check_writable()?;
        refuse_internal(name, "delete")?;
        let _admin = self.inner.admin.lock();
        let topic = self.topic(name)?;
        let mdir = meta_dir(&self.inner.dir);
        let path = mdir.join(format!("{name}.json"));
        let deleting = mdir.join(format!("{name}{DELETING_SUFFIX}"));
        std::fs::rename(&path, &deleting)
            .map_err(|e| Error::io("mark topic for deletion", &path, e))?;
        self.inner
            .storage
            .sync_dir(&mdir)
            .map_err(|e| Error::io("sync topic metadata", &mdir, e))?;
        self.inner.topics.write().remove(name);
        for p in topic.partitions() {
            p.destroy()?;
        }
        std::fs::remove_file(&deleting)
            .map_err(|e| Error::io("delete topic metadata", &deleting, e))?;
        let _ = self.inner.storage.sync_dir(&mdir);
        Ok(())
    }

    /// Every topic, in name order.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.inner.topics.read().values().cloned().collect()
    }

    /// The topic called `name`, or `UnknownTopicOrPartition`.
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

    /// Holds the flusher's next round while the returned guard lives: the
    /// `sync_to` requests of several partitions made under it are served
    /// together, their fdatasyncs side by side (one send's batches to many
    /// partitions, for acks -1). Drop it at once after queueing them.
    pub fn sync_batch(&self) -> SyncBatch {
        self.flusher_handle.batch()
    }

    /// One partition, for callers that append or read it many times without
    /// looking the topic up each time.
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

    /// Appends one batch. Kafka's internal topics are refused here: only
    /// `append_internal` (the group coordinator's offset store) writes them.
    pub fn append(&self, topic: &str, partition: u32, batch: &[u8]) -> Result<AppendOutcome> {
        refuse_internal(topic, "produce to")?;
        self.partition(topic, partition)?.append(batch)
    }

    /// Appends to one of Kafka's internal topics.
    pub fn append_internal(
        &self,
        topic: &str,
        partition: u32,
        batch: &[u8],
    ) -> Result<AppendOutcome> {
        if !is_internal_topic(topic) {
            return Err(Error::InvalidArgument(format!(
                "`{topic}` is not an internal topic"
            )));
        }
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
        refuse_internal(topic, "produce to")?;
        let p = self.partition(topic, partition)?;
        let outcome = p.append(batch)?;
        if outcome.needs_sync {
            p.sync_to_blocking(outcome.last_offset + 1)?;
        }
        Ok(outcome)
    }

    /// Reads whole batches from `offset`, up to `max_bytes`, as ranges of the
    /// segments' read maps rather than copies (see `Partition::read`).
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
        self.check_writable()?;
        enforce_retention(&self.inner)
    }

    /// Writes the log-start checkpoint (after DeleteRecords, so a restart keeps it).
    pub fn delete_records(&self, topic: &str, partition: u32, offset: u64) -> Result<u64> {
        refuse_internal(topic, "delete records of")?;
        self.delete_records_unchecked(topic, partition, offset)
    }

    /// DeleteRecords on one of Kafka's internal topics (the offset store
    /// compacting itself).
    pub fn delete_records_internal(&self, topic: &str, partition: u32, offset: u64) -> Result<u64> {
        if !is_internal_topic(topic) {
            return Err(Error::InvalidArgument(format!(
                "`{topic}` is not an internal topic"
            )));
        }
        self.delete_records_unchecked(topic, partition, offset)
    }

    fn delete_records_unchecked(&self, topic: &str, partition: u32, offset: u64) -> Result<u64> {
        self.check_writable()?;
        let start = self.partition(topic, partition)?.delete_records(offset)?;
        write_checkpoints(&self.inner)?;
        Ok(start)
    }

    /// A new producer id for an idempotent producer (epoch 0). Ids are
    /// unique across restarts: they are reserved on disk in blocks.
    pub fn allocate_producer_id(&self) -> Result<i64> {
        self.check_writable()?;
        let mut ids = self.inner.producer_ids.lock();
        if ids.0 >= ids.1 {
            let end = ids.1.checked_add(PRODUCER_ID_BLOCK).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "no producer id is left to allocate: the ids reach {} (the log or .meta/producer-ids holds one near the maximum)",
                    ids.1
                ))
            })?;
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

    /// Flushes everything, seals every active segment, writes checkpoints
    /// and the clean-shutdown marker, stops the flusher and releases the
    /// lock. Views handed out earlier remain valid. A failure leaves no
    /// marker, so the next open recovers. An engine whose open failed, or
    /// that was opened read-only, writes nothing here.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let writes = self.inner.opened.load(Ordering::Acquire) && !self.inner.read_only;
        let mut result = Ok(());
        for t in self.topics() {
            for p in t.partitions() {
                let closed = if writes {
                    p.close()
                } else {
                    p.close_without_writing()
                };
                if let Err(e) = closed {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
        if let Some(mut f) = self.flusher.lock().take() {
            f.stop();
        }
        if writes && result.is_ok() {
            result = write_checkpoints(&self.inner);
        }
        if writes && result.is_ok() {
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

    /// True after `close`: every call but this one fails with `Closed`.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Phase 1 of open at the directory level: reads topic metadata, the
/// checkpoints and the list of partition directories. Writes nothing.
fn plan_open(dir: &Path) -> Result<OpenPlan> {
    let mdir = meta_dir(dir);
    let mut metas = Vec::new();
    let mut deleting = Vec::new();
    let mut reports = Vec::new();
    match std::fs::read_dir(&mdir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|e| Error::io("list topics", &mdir, e))?;
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(DELETING_SUFFIX) {
                    deleting.push((path.clone(), read_meta(&path)?));
                } else if name.ends_with(".json") {
                    metas.push(read_meta(&path)?);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("list topics", &mdir, e)),
    }
    metas.sort_by(|a, b| a.name.cmp(&b.name));
    let known: BTreeMap<&str, u32> = metas
        .iter()
        .map(|m| (m.name.as_str(), m.partitions))
        .collect();
    let being_deleted: BTreeMap<&str, u32> = deleting
        .iter()
        .map(|(_, m)| (m.name.as_str(), m.partitions))
        .collect();
    let mut adopt: BTreeMap<String, Vec<FoundPartition>> = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list data directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list data directory", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with('.') || !path.is_dir() {
            continue;
        }
        let Some((topic, p)) = parse_partition_dir_name(&name) else {
            continue;
        };
        if known.get(topic).is_some_and(|&n| p < n) {
            continue;
        }
        if being_deleted.get(topic).is_some_and(|&n| p < n) {
            continue;
        }
        let why = if known.contains_key(topic) {
            Some(format!(
                "topic `{topic}` has {} partition(s), so this directory is not one of them; left as it is",
                known.get(topic).copied().unwrap_or(0)
            ))
        } else if topic.starts_with('.') || RESERVED_NAMES.contains(&topic) {
            Some(format!("`{topic}` is a reserved topic name; left as it is"))
        } else if !holds_segments(&path) {
            Some("named like a partition but holds no segment file; left as it is".to_string())
        } else {
            None
        };
        match why {
            Some(reason) => reports.push(directory_report(path, RecoveryAction::Ignored, reason)),
            None => adopt
                .entry(topic.to_string())
                .or_default()
                .push(FoundPartition {
                    topic: topic.to_string(),
                    partition: p,
                    dir: path,
                }),
        }
    }
    // Adoption must not create a name clash a create would refuse.
    let names: Vec<String> = known.keys().map(|k| k.to_string()).collect();
    let mut clashing = Vec::new();
    for (topic, found) in &adopt {
        // An internal topic's directories (a lost `__consumer_offsets`
        // metadata file) are adopted as that internal topic.
        if validate_new_topic_name(topic, is_internal_topic(topic), names.iter()).is_err() {
            for f in found {
                debug_assert_eq!(&f.topic, topic);
                reports.push(directory_report(
                    f.dir.clone(),
                    RecoveryAction::Ignored,
                    format!("topic `{topic}` would collide with an existing topic; left as it is"),
                ));
            }
            clashing.push(topic.clone());
        }
    }
    for t in clashing {
        adopt.remove(&t);
    }
    let mirrors = dir.join(".meta");
    let recovery = checkpoint::read_checked(
        &dir.join(RECOVERY_POINT_FILE),
        &mirrors.join(RECOVERY_POINT_FILE),
    );
    let starts = checkpoint::read_checked(&dir.join(LOG_START_FILE), &mirrors.join(LOG_START_FILE));
    for (doubt, file) in [
        (recovery.doubt, RECOVERY_POINT_FILE),
        (starts.doubt, LOG_START_FILE),
    ] {
        if let Some(reason) = doubt {
            reports.push(directory_report(
                dir.join(file),
                RecoveryAction::Corrected,
                reason,
            ));
        }
    }
    Ok(OpenPlan {
        metas,
        deleting,
        adopt,
        reports,
        // An unreadable recovery point only makes recovery scan more.
        recovery_points: recovery.checkpoint.unwrap_or_default(),
        log_starts: starts.checkpoint.unwrap_or_default(),
    })
}

/// Removes the segment files (ferrolog's and Kafka's names: 20 digits and
/// `.log`, `.index`, `.timeindex`) in `dir`, then `dir` itself if that
/// leaves it empty. Anything else in it stays.
fn remove_segment_files_in(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("list partition dir", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list partition dir", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let stem = name
            .strip_suffix(".log")
            .or_else(|| name.strip_suffix(".index"))
            .or_else(|| name.strip_suffix(".timeindex"));
        if stem.is_some_and(|s| s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())) {
            let path = entry.path();
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("delete segment", &path, e)),
            }
        }
    }
    remove_dir_if_empty(dir)
}

/// Removes a partition directory if nothing is left in it. Not empty means
/// someone else's files are in it: they, and so the directory, stay.
pub(crate) fn remove_dir_if_empty(dir: &Path) -> Result<()> {
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("delete partition dir", dir, e)),
    }
}

/// The first producer id not yet reserved (0 for a new directory).
fn read_producer_id_block(dir: &Path) -> Result<i64> {
    let path = dir.join(".meta").join("producer-ids");
    match std::fs::read(&path) {
        Ok(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
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
    if inner.read_only {
        return Ok(());
    }
    let mdir = inner.dir.join(".meta");
    checkpoint::write_with_mirror(
        &*inner.storage,
        &inner.dir.join(RECOVERY_POINT_FILE),
        &mdir.join(RECOVERY_POINT_FILE),
        &recovery,
    )?;
    checkpoint::write_with_mirror(
        &*inner.storage,
        &inner.dir.join(LOG_START_FILE),
        &mdir.join(LOG_START_FILE),
        &starts,
    )
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
    if !inner.opened.load(Ordering::Acquire) {
        // Nothing periodic runs (and nothing is written) before the open
        // has finished: a failed open must leave the directory as it was.
        return now + Duration::from_millis(50);
    }
    if inner.read_only {
        // Read-only: poll the files for another process's appends while
        // anyone waits for data; write nothing.
        let partitions: Vec<Arc<Partition>> = inner
            .topics
            .read()
            .values()
            .flat_map(|t| t.partitions())
            .collect();
        let mut waiting = false;
        for p in &partitions {
            waiting |= p.refresh_live().unwrap_or(true);
        }
        return if waiting {
            now + partition::LIVE_POLL_INTERVAL
        } else {
            far
        };
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
