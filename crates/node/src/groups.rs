//! The group coordinator, reached from JavaScript: one native call per
//! group request (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
//! OffsetFetch, DescribeGroups, ListGroups, DeleteGroups, OffsetDelete),
//! each returning a promise.
//!
//! There is one coordinator per engine (so per data directory) in the
//! process, shared by every in-process consumer and by the broker. It is
//! loaded (replaying `__consumer_offsets`) on a thread of its own the first
//! time it is needed, never on the JavaScript thread. JoinGroup and
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

/// The config of the in-process coordinator. Kafka's defaults, except two
/// that suit one process: session timeouts down to 1 ms are accepted
/// (tests and in-process members use short ones), and the initial
/// rebalance delay is 0 (Kafka's 3 s would delay every consumer's start).
fn config() -> coord::Config {
    coord::Config {
        min_session_timeout_ms: 1,
        initial_rebalance_delay_ms: 0,
        ..coord::Config::default()
    }
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
    let (c, _report) = Coordinator::open(engine.clone(), config(), Arc::new(SystemClock), true)
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

/// Runs `f` with the coordinator: at once when it is loaded, else on a
/// loader thread. `f` settles the deferred (now or later).
fn dispatch<'env, T: napi::bindgen_prelude::ToNapiValue + 'static>(
    env: &'env Env,
    log: &NativeLog,
    f: impl FnOnce(Arc<Coordinator>, Deferred<T>) + Send + 'static,
) -> Result<Object<'env>> {
    log.check()?;
    let (deferred, promise) = crate::deferred::<T>(env)?;
    let engine = log.engine.clone();
    if let Some(c) = cached(&engine) {
        f(c, deferred);
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
        let result = match c.leave(&group_id, &members) {
            Ok(rs) => LeaveGroupResult {
                error_code: 0,
                members: rs
                    .into_iter()
                    .map(|r| LeftMember {
                        member_id: r.member_id,
                        group_instance_id: r.group_instance_id,
                        error_code: i32::from(r.error.code()),
                    })
                    .collect(),
            },
            Err(e) => LeaveGroupResult {
                error_code: i32::from(e.code()),
                members: Vec::new(),
            },
        };
        d.resolve(value(result));
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
    match r {
        Ok(ps) => PartitionsResult {
            error_code: 0,
            partitions: ps
                .into_iter()
                .map(|p| PartitionError {
                    topic: p.topic,
                    partition: p.partition,
                    error_code: i32::from(p.error.code()),
                })
                .collect(),
        },
        Err(e) => PartitionsResult {
            error_code: i32::from(e.code()),
            partitions: Vec::new(),
        },
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
