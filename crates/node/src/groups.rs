//! The group coordinator, reached from JavaScript: one native call per
//! group request (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
//! OffsetFetch, DescribeGroups, ListGroups, DeleteGroups, OffsetDelete),
//! each returning a promise.
//!
//! There is one coordinator per engine (so per data directory) in the
//! process, shared by every in-process consumer and by the broker. It is
//! loaded (replaying `__consumer_offsets`) on a thread of its own the first
//! time it is needed, and every call runs on the groups worker thread,
//! never on the JavaScript thread. JoinGroup and
//! SyncGroup settle from whichever thread completes them (the timer, or
//! another member's request).
//!
//! Kafka's error codes come back as `errorCode` fields, not rejections:
//! the TypeScript group client decides, as kafkajs does, which are retried.

use std::collections::HashMap;
use std::sync::Arc;

use ferrolog_coordinator as coord;
use ferrolog_coordinator::{Coordinator, ErrorCode, SystemClock};
use ferrolog_engine::Engine;
use napi::bindgen_prelude::{Buffer, Object};
use napi::Env;
use napi_derive::napi;
use parking_lot::Mutex;

use crate::{coded, invalid, reject, Deferred, NativeLog, Result, Settle};

/// Coordinators by engine (the address of its shared `Engine`).
static COORDINATORS: Mutex<Option<HashMap<usize, Arc<Coordinator>>>> = Mutex::new(None);
/// Serializes loads, so an engine never gets two coordinators.
static LOADING: Mutex<()> = Mutex::new(());

fn engine_key(engine: &Arc<Engine>) -> usize {
    Arc::as_ptr(engine) as usize
}

fn cached(engine: &Arc<Engine>) -> Option<Arc<Coordinator>> {
    COORDINATORS
        .lock()
        .as_ref()
        .and_then(|m| m.get(&engine_key(engine)).cloned())
}

/// Configs given with `groupConfigure` before the coordinator loaded, by
/// engine (the first opener of a directory wins, as for its other options).
static CONFIGS: Mutex<Option<HashMap<usize, coord::Config>>> = Mutex::new(None);

/// The default config of a directory's coordinator: Kafka's defaults
/// (session timeouts 6 s to 30 min for clients of the broker, offsets kept
/// 7 days after a group empties), except two that suit a coordinator
/// inside the application's process:
/// - in-process members may ask for sessions down to 1 ms: nothing but the
///   event loop sits between them and the coordinator, so a short session
///   cannot expire on a network hiccup; it detects a stalled handler sooner;
/// - `group.initial.rebalance.delay.ms` is 0, not Kafka's 3000. Kafka waits
///   so that a fleet of consumers starting together causes one rebalance,
///   not one per member; ferrolog's members mostly start in one process in
///   milliseconds, where a 3 s wait would be most of the start time and
///   would miss the <100 ms in-process rebalance by thirty times. A
///   deployment of many consumer processes sets it with
///   `groupCoordinator.initialRebalanceDelayMs`.
fn default_config() -> coord::Config {
    coord::Config {
        in_process_min_session_timeout_ms: 1,
        initial_rebalance_delay_ms: 0,
        ..coord::Config::default()
    }
}

fn config(engine: &Arc<Engine>) -> coord::Config {
    CONFIGS
        .lock()
        .as_ref()
        .and_then(|m| m.get(&engine_key(engine)).cloned())
        .unwrap_or_else(default_config)
}

/// Options of a directory's group coordinator (Kafka's broker settings).
#[napi(object)]
pub struct GroupCoordinatorOptions {
    /// group.initial.rebalance.delay.ms (ferrolog's default 0).
    pub initial_rebalance_delay_ms: Option<f64>,
    /// offsets.retention.minutes (default 10080, 7 days).
    pub offsets_retention_minutes: Option<f64>,
    /// offsets.retention.check.interval.ms (default 600000).
    pub offsets_retention_check_interval_ms: Option<f64>,
}

fn positive_integer(name: &str, v: f64, max: f64) -> Result<f64> {
    if !v.is_finite() || v.fract() != 0.0 || !(0.0..=max).contains(&v) {
        return Err(invalid(format!(
            "{name} must be an integer from 0 to {max}, not {v}"
        )));
    }
    Ok(v)
}

/// The coordinator config `options` describe, checked: every value a whole
/// number in its range (the same rules whether the directory is open yet).
fn parse_options(options: &GroupCoordinatorOptions) -> Result<coord::Config> {
    let mut c = default_config();
    if let Some(v) = options.initial_rebalance_delay_ms {
        c.initial_rebalance_delay_ms =
            positive_integer("initialRebalanceDelayMs", v, f64::from(i32::MAX))? as i32;
    }
    if let Some(v) = options.offsets_retention_minutes {
        // Kafka requires at least one minute; the ms stay far below i64::MAX.
        let v = positive_integer("offsetsRetentionMinutes", v, 1e12)?;
        if v < 1.0 {
            return Err(invalid("offsetsRetentionMinutes must be at least 1"));
        }
        c.offsets_retention_ms = (v as i64).saturating_mul(60_000);
    }
    if let Some(v) = options.offsets_retention_check_interval_ms {
        let v = positive_integer("offsetsRetentionCheckIntervalMs", v, 1e15)?;
        if v < 1.0 {
            return Err(invalid(
                "offsetsRetentionCheckIntervalMs must be at least 1",
            ));
        }
        c.offsets_retention_check_interval_ms = v as i64;
    }
    Ok(c)
}

/// Checks group coordinator options without a directory, so that a bad
/// value is refused before anything is opened (and nothing is written).
#[napi]
pub fn group_check_options(options: GroupCoordinatorOptions) -> Result<()> {
    parse_options(&options).map(|_| ())
}

/// Sets the options of `log`'s directory's coordinator before it loads.
/// Returns false, changing nothing, when the coordinator is loaded or was
/// configured already (the first opener of the directory wins).
#[napi]
pub fn group_configure(log: &NativeLog, options: GroupCoordinatorOptions) -> Result<bool> {
    log.check()?;
    let c = parse_options(&options)?;
    let engine = &log.engine;
    let _loading = LOADING.lock();
    if cached(engine).is_some() {
        return Ok(false);
    }
    let mut configs = CONFIGS.lock();
    let map = configs.get_or_insert_with(HashMap::new);
    if map.contains_key(&engine_key(engine)) {
        return Ok(false);
    }
    map.insert(engine_key(engine), c);
    Ok(true)
}

/// The engine's coordinator, loading it on this thread if needed (never
/// call from the JavaScript thread when it may not be loaded yet).
pub(crate) fn coordinator_for(
    engine: &Arc<Engine>,
) -> std::result::Result<Arc<Coordinator>, String> {
    if let Some(c) = cached(engine) {
        return Ok(c);
    }
    let _loading = LOADING.lock();
    if let Some(c) = cached(engine) {
        return Ok(c);
    }
    if engine.is_closed() {
        return Err(CLOSED.into());
    }
    let (c, _report) =
        Coordinator::open(engine.clone(), config(engine), Arc::new(SystemClock), true)
            .map_err(|e| format!("{LOAD_FAILED}: {e}"))?;
    let c = Arc::new(c);
    COORDINATORS
        .lock()
        .get_or_insert_with(HashMap::new)
        .insert(engine_key(engine), c.clone());
    Ok(c)
}

/// Closes the engine's coordinator (before the engine closes): stops its
/// timer and answers waiting joins. Called off the JavaScript thread.
pub(crate) fn close_for(engine: &Arc<Engine>) {
    let c = COORDINATORS
        .lock()
        .as_mut()
        .and_then(|m| m.remove(&engine_key(engine)));
    // The next engine may get this one's address: it starts unconfigured.
    if let Some(m) = CONFIGS.lock().as_mut() {
        m.remove(&engine_key(engine));
    }
    if let Some(c) = c {
        c.close();
    }
}

type Resolver<T> = Settle<T>;

const CLOSED: &str = "the log is closed";
const LOAD_FAILED: &str = "cannot load __consumer_offsets";

/// `coordinator_for`'s error (a string, as the broker takes it) with its code.
fn load_error(e: String) -> crate::Error {
    if e == CLOSED {
        coded("ERR_CLOSED", e)
    } else {
        coded("ERR_IO", e)
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// How many group calls may wait for the worker before a caller runs its
/// own call inline (a bound on queued memory; far above what consumers
/// awaiting their calls can reach).
const WORKER_QUEUE_JOBS: usize = 65_536;

/// The one thread that runs in-process group calls once the coordinator is
/// loaded. A commit appends to `__consumer_offsets` (a segment roll creates
/// files) and every call takes the coordinator's lock, which the broker's
/// threads hold too: neither may stall the JavaScript thread. One FIFO
/// thread keeps each member's calls in the order it made them.
static WORKER: Mutex<Option<std::sync::mpsc::SyncSender<Job>>> = Mutex::new(None);

/// Queues `job` on the worker, starting it if needed; gives the job back
/// when it cannot be queued (queue full, no thread), for the caller to run.
fn run_on_worker(job: Job) -> std::result::Result<(), Job> {
    use std::sync::mpsc::TrySendError;
    let mut worker = WORKER.lock();
    if worker.is_none() {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(WORKER_QUEUE_JOBS);
        let started = std::thread::Builder::new()
            .name("ferrolog-groups".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            });
        if started.is_err() {
            return Err(job);
        }
        *worker = Some(tx);
    }
    let Some(tx) = worker.as_ref() else {
        return Err(job);
    };
    match tx.try_send(job) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(job)) => Err(job),
        Err(TrySendError::Disconnected(job)) => {
            // The thread is gone; the next call starts another.
            *worker = None;
            Err(job)
        }
    }
}

/// Runs `f` with the coordinator off the JavaScript thread: on the groups
/// worker when it is loaded, else on a loader thread. `f` settles the
/// deferred (now or later).
fn dispatch<'env, T: napi::bindgen_prelude::ToNapiValue + 'static>(
    env: &'env Env,
    log: &NativeLog,
    f: impl FnOnce(Arc<Coordinator>, Deferred<T>) + Send + 'static,
) -> Result<Object<'env>> {
    log.check()?;
    let (deferred, promise) = crate::deferred::<T>(env)?;
    let engine = log.engine.clone();
    if let Some(c) = cached(&engine) {
        if let Err(job) = run_on_worker(Box::new(move || f(c, deferred))) {
            // Only when the queue is full or no thread can start: the call
            // still runs, on this thread, rather than failing.
            job();
        }
        return Ok(promise);
    }
    std::thread::Builder::new()
        .name("ferrolog-groups-load".into())
        .spawn(move || match coordinator_for(&engine) {
            Ok(c) => f(c, deferred),
            Err(e) => reject(deferred, load_error(e)),
        })
        .map_err(|e| coded("ERR_IO", format!("cannot start a thread: {e}")))?;
    Ok(promise)
}

fn value<T: Send + 'static>(v: T) -> Resolver<T> {
    Box::new(move |_| Ok(v))
}

/// Kafka's answer to a request that fails as a whole or answers item by
/// item: the whole request's error code (0 when it ran) and each item's
/// answer (none when it failed).
fn whole_or_each<T, U>(
    r: std::result::Result<Vec<T>, ErrorCode>,
    each: impl FnMut(T) -> U,
) -> (i32, Vec<U>) {
    match r {
        Ok(items) => (0, items.into_iter().map(each).collect()),
        Err(e) => (i32::from(e.code()), Vec::new()),
    }
}

fn timeout_arg(name: &str, v: f64) -> Result<i32> {
    if !v.is_finite() || v.fract() != 0.0 || !(-1.0..=f64::from(i32::MAX)).contains(&v) {
        return Err(invalid(format!("{name} must be an integer in ms, not {v}")));
    }
    Ok(v as i32)
}

// ---- JoinGroup ----

#[napi(object)]
pub struct GroupProtocol {
    pub name: String,
    pub metadata: Buffer,
}

#[napi(object)]
pub struct JoinGroupRequest {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: String,
    pub protocols: Vec<GroupProtocol>,
    pub session_timeout: f64,
    pub rebalance_timeout: f64,
    pub client_id: String,
    pub client_host: Option<String>,
    pub require_known_member_id: Option<bool>,
}

#[napi(object)]
pub struct JoinGroupMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Buffer,
}

#[napi(object)]
pub struct JoinGroupResult {
    pub error_code: i32,
    pub generation_id: i32,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    pub member_id: String,
    pub members: Vec<JoinGroupMember>,
}

fn join_result(r: coord::JoinResponse) -> Resolver<JoinGroupResult> {
    Box::new(move |_| {
        Ok(JoinGroupResult {
            error_code: i32::from(r.error.code()),
            generation_id: r.generation_id,
            protocol_name: r.protocol_name,
            leader: r.leader,
            skip_assignment: r.skip_assignment,
            member_id: r.member_id,
            members: r
                .members
                .into_iter()
                .map(|m| JoinGroupMember {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    metadata: m.metadata.into(),
                })
                .collect(),
        })
    })
}

#[napi(ts_return_type = "Promise<JoinGroupResult>")]
pub fn group_join<'env>(
    env: &'env Env,
    log: &NativeLog,
    req: JoinGroupRequest,
) -> Result<Object<'env>> {
    let request = coord::JoinRequest {
        group_id: req.group_id,
        member_id: req.member_id,
        group_instance_id: req.group_instance_id,
        protocol_type: req.protocol_type,
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name, p.metadata.to_vec()))
            .collect(),
        session_timeout_ms: timeout_arg("sessionTimeout", req.session_timeout)?,
        rebalance_timeout_ms: timeout_arg("rebalanceTimeout", req.rebalance_timeout)?,
        client_id: req.client_id,
        client_host: req.client_host.unwrap_or_else(|| "/127.0.0.1".into()),
        require_known_member_id: req.require_known_member_id.unwrap_or(false),
        in_process: true,
    };
    dispatch(env, log, move |c, d: Deferred<JoinGroupResult>| {
        c.join(request, Box::new(move |r| d.resolve(join_result(r))));
    })
}

// ---- SyncGroup ----

#[napi(object)]
pub struct GroupAssignment {
    pub member_id: String,
    pub assignment: Buffer,
}

#[napi(object)]
pub struct SyncGroupRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<GroupAssignment>,
}

#[napi(object)]
pub struct SyncGroupResult {
    pub error_code: i32,
    pub protocol_name: Option<String>,
    pub assignment: Buffer,
}

#[napi(ts_return_type = "Promise<SyncGroupResult>")]
pub fn group_sync<'env>(
    env: &'env Env,
    log: &NativeLog,
    req: SyncGroupRequest,
) -> Result<Object<'env>> {
    let request = coord::SyncRequest {
        group_id: req.group_id,
        generation_id: req.generation_id,
        member_id: req.member_id,
        group_instance_id: req.group_instance_id,
        protocol_type: req.protocol_type,
        protocol_name: req.protocol_name,
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id, a.assignment.to_vec()))
            .collect(),
    };
    dispatch(env, log, move |c, d: Deferred<SyncGroupResult>| {
        c.sync(
            request,
            Box::new(move |r| {
                d.resolve(Box::new(move |_| {
                    Ok(SyncGroupResult {
                        error_code: i32::from(r.error.code()),
                        protocol_name: r.protocol_name,
                        assignment: r.assignment.into(),
                    })
                }))
            }),
        );
    })
}

// ---- Heartbeat, LeaveGroup ----

#[napi(object)]
pub struct HeartbeatRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// Resolves with Kafka's error code (0 = NONE, 27 = REBALANCE_IN_PROGRESS, ...).
#[napi(ts_return_type = "Promise<number>")]
pub fn group_heartbeat<'env>(
    env: &'env Env,
    log: &NativeLog,
    req: HeartbeatRequest,
) -> Result<Object<'env>> {
    let request = coord::HeartbeatRequest {
        group_id: req.group_id,
        generation_id: req.generation_id,
        member_id: req.member_id,
        group_instance_id: req.group_instance_id,
    };
    dispatch(env, log, move |c, d: Deferred<i32>| {
        d.resolve(value(i32::from(c.heartbeat(&request).code())));
    })
}

#[napi(object)]
pub struct LeavingMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

#[napi(object)]
pub struct LeftMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub error_code: i32,
}

#[napi(object)]
pub struct LeaveGroupResult {
    pub error_code: i32,
    pub members: Vec<LeftMember>,
}

#[napi(ts_return_type = "Promise<LeaveGroupResult>")]
pub fn group_leave<'env>(
    env: &'env Env,
    log: &NativeLog,
    group_id: String,
    members: Vec<LeavingMember>,
) -> Result<Object<'env>> {
    let members: Vec<coord::LeaveMember> = members
        .into_iter()
        .map(|m| coord::LeaveMember {
            member_id: m.member_id,
            group_instance_id: m.group_instance_id,
        })
        .collect();
    dispatch(env, log, move |c, d: Deferred<LeaveGroupResult>| {
        let (error_code, members) = whole_or_each(c.leave(&group_id, &members), |r| LeftMember {
            member_id: r.member_id,
            group_instance_id: r.group_instance_id,
            error_code: i32::from(r.error.code()),
        });
        d.resolve(value(LeaveGroupResult {
            error_code,
            members,
        }));
    })
}

// ---- offsets ----

#[napi(object)]
pub struct OffsetToCommit {
    pub topic: String,
    pub partition: i32,
    pub offset: f64,
    pub leader_epoch: Option<i32>,
    pub metadata: Option<String>,
}

#[napi(object)]
pub struct OffsetCommitRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub offsets: Vec<OffsetToCommit>,
}

#[napi(object)]
pub struct PartitionError {
    pub topic: String,
    pub partition: i32,
    pub error_code: i32,
}

#[napi(object)]
pub struct PartitionsResult {
    pub error_code: i32,
    pub partitions: Vec<PartitionError>,
}

fn partitions_result(
    r: std::result::Result<Vec<coord::PartitionResult>, ErrorCode>,
) -> PartitionsResult {
    let (error_code, partitions) = whole_or_each(r, |p| PartitionError {
        topic: p.topic,
        partition: p.partition,
        error_code: i32::from(p.error.code()),
    });
    PartitionsResult {
        error_code,
        partitions,
    }
}

#[napi(ts_return_type = "Promise<PartitionsResult>")]
pub fn group_commit<'env>(
    env: &'env Env,
    log: &NativeLog,
    req: OffsetCommitRequest,
) -> Result<Object<'env>> {
    let mut offsets = Vec::with_capacity(req.offsets.len());
    for o in req.offsets {
        if !o.offset.is_finite()
            || o.offset.fract() != 0.0
            || o.offset < -1.0
            || o.offset > 9_007_199_254_740_991.0
        {
            return Err(invalid(format!(
                "offset of {}-{} must be an integer, not {}",
                o.topic, o.partition, o.offset
            )));
        }
        offsets.push(coord::CommitOffset {
            topic: o.topic,
            partition: o.partition,
            offset: o.offset as i64,
            leader_epoch: o.leader_epoch.unwrap_or(-1),
            metadata: o.metadata,
        });
    }
    let request = coord::CommitRequest {
        group_id: req.group_id,
        generation_id: req.generation_id,
        member_id: req.member_id,
        group_instance_id: req.group_instance_id,
        offsets,
    };
    dispatch(env, log, move |c, d: Deferred<PartitionsResult>| {
        d.resolve(value(partitions_result(c.commit(&request))));
    })
}

#[napi(object)]
pub struct TopicPartitions {
    pub topic: String,
    pub partitions: Vec<i32>,
}

#[napi(object)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: i32,
    /// -1 when nothing is committed.
    pub offset: f64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: f64,
}

/// Committed offsets of the given partitions (-1 for none), or of every
/// partition the group committed when `topics` is null.
#[napi(ts_return_type = "Promise<CommittedOffset[]>")]
pub fn group_fetch_offsets<'env>(
    env: &'env Env,
    log: &NativeLog,
    group_id: String,
    topics: Option<Vec<TopicPartitions>>,
) -> Result<Object<'env>> {
    let wanted: Option<Vec<(String, Vec<i32>)>> =
        topics.map(|ts| ts.into_iter().map(|t| (t.topic, t.partitions)).collect());
    dispatch(env, log, move |c, d: Deferred<Vec<CommittedOffset>>| {
        let got = c.fetch_offsets(&group_id, wanted.as_deref());
        d.resolve(value(
            got.into_iter()
                .map(|o| CommittedOffset {
                    topic: o.topic,
                    partition: o.partition,
                    offset: o.offset as f64,
                    leader_epoch: o.leader_epoch,
                    metadata: o.metadata,
                    commit_timestamp: o.commit_timestamp as f64,
                })
                .collect(),
        ));
    })
}

#[napi(object)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

#[napi(ts_return_type = "Promise<PartitionsResult>")]
pub fn group_delete_offsets<'env>(
    env: &'env Env,
    log: &NativeLog,
    group_id: String,
    partitions: Vec<TopicPartition>,
) -> Result<Object<'env>> {
    let partitions: Vec<(String, i32)> = partitions
        .into_iter()
        .map(|p| (p.topic, p.partition))
        .collect();
    dispatch(env, log, move |c, d: Deferred<PartitionsResult>| {
        d.resolve(value(partitions_result(
            c.delete_offsets(&group_id, &partitions),
        )));
    })
}

// ---- admin ----

#[napi(object)]
pub struct DescribedGroupMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_metadata: Buffer,
    pub member_assignment: Buffer,
}

#[napi(object)]
pub struct DescribedGroup {
    pub group_id: String,
    pub found: bool,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub generation_id: i32,
    pub leader: String,
    pub members: Vec<DescribedGroupMember>,
}

#[napi(ts_return_type = "Promise<DescribedGroup[]>")]
pub fn group_describe<'env>(
    env: &'env Env,
    log: &NativeLog,
    group_ids: Vec<String>,
) -> Result<Object<'env>> {
    dispatch(env, log, move |c, d: Deferred<Vec<DescribedGroup>>| {
        let groups = c.describe(&group_ids);
        d.resolve(Box::new(move |_| {
            Ok(groups
                .into_iter()
                .map(|g| DescribedGroup {
                    group_id: g.group_id,
                    found: g.found,
                    state: g.state.to_string(),
                    protocol_type: g.protocol_type,
                    protocol: g.protocol,
                    generation_id: g.generation_id,
                    leader: g.leader,
                    members: g
                        .members
                        .into_iter()
                        .map(|m| DescribedGroupMember {
                            member_id: m.member_id,
                            group_instance_id: m.group_instance_id,
                            client_id: m.client_id,
                            client_host: m.client_host,
                            member_metadata: m.metadata.into(),
                            member_assignment: m.assignment.into(),
                        })
                        .collect(),
                })
                .collect())
        }));
    })
}

#[napi(object)]
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
    pub state: String,
}

#[napi(ts_return_type = "Promise<ListedGroup[]>")]
pub fn group_list<'env>(
    env: &'env Env,
    log: &NativeLog,
    states: Option<Vec<String>>,
) -> Result<Object<'env>> {
    let states = states.unwrap_or_default();
    dispatch(env, log, move |c, d: Deferred<Vec<ListedGroup>>| {
        d.resolve(value(
            c.list(&states)
                .into_iter()
                .map(|g| ListedGroup {
                    group_id: g.group_id,
                    protocol_type: g.protocol_type,
                    state: g.state.to_string(),
                })
                .collect(),
        ));
    })
}

#[napi(object)]
pub struct DeletedGroup {
    pub group_id: String,
    pub error_code: i32,
}

#[napi(ts_return_type = "Promise<DeletedGroup[]>")]
pub fn group_delete<'env>(
    env: &'env Env,
    log: &NativeLog,
    group_ids: Vec<String>,
) -> Result<Object<'env>> {
    dispatch(env, log, move |c, d: Deferred<Vec<DeletedGroup>>| {
        d.resolve(value(
            c.delete_groups(&group_ids)
                .into_iter()
                .map(|(group_id, e)| DeletedGroup {
                    group_id,
                    error_code: i32::from(e.code()),
                })
                .collect(),
        ));
    })
}
