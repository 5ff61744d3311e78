//! The group state machine: Kafka's classic group protocol, single-threaded
//! and time-explicit. Every entry point takes `now`; `tick(now)` fires the
//! deadlines (session expiry, rebalance timeout, initial delay, pending
//! members, sync timeout). Nothing here blocks, sleeps or spawns:
//! [`crate::Coordinator`] adds the lock, the clock and the timer thread.
//!
//! Callbacks of JoinGroup/SyncGroup are never run from inside: their
//! completions are queued in `outbox`, which the caller drains and runs
//! after releasing its lock, so a callback may call back into the
//! coordinator.
//!
//! Writes go through a [`RecordSink`] before the in-memory state changes:
//! a commit that could not be written is refused, never half-applied.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};

use crate::api::*;
use crate::error::ErrorCode;
use crate::records::{
    subscription_topics, GroupMetadataValue, MemberMetadata, OffsetCommitValue, RecordKey,
};

/// One record of `__consumer_offsets`: key and value (None = tombstone).
pub type Record = (Vec<u8>, Option<Vec<u8>>);

/// Where the manager's records go (the engine's `__consumer_offsets`, or
/// memory in tests).
pub trait RecordSink: Send {
    /// Appends records as one batch; all or nothing.
    fn write(&mut self, records: &[Record]) -> Result<(), String>;
    /// Re-states the whole live state and drops everything written before.
    fn compact(&mut self, live: &[Record]) -> Result<(), String>;
}

/// A sink that keeps nothing, for tests of the state machine alone.
pub struct NullSink;

impl RecordSink for NullSink {
    fn write(&mut self, _records: &[Record]) -> Result<(), String> {
        Ok(())
    }
    fn compact(&mut self, _live: &[Record]) -> Result<(), String> {
        Ok(())
    }
}

/// The coordinator's settings: Kafka's broker settings of the same names,
/// with Kafka's defaults (`Config::default`).
#[derive(Debug, Clone)]
pub struct Config {
    /// group.min.session.timeout.ms: the shortest session a member may ask
    /// for (Kafka's 6000 by default), for every member that is not
    /// [`in_process`](crate::JoinRequest::in_process).
    pub min_session_timeout_ms: i32,
    /// The shortest session an in-process member may ask for. Such a member
    /// lives in the coordinator's own process: no network sits between it
    /// and the coordinator to cause false expiries, so a short session only
    /// detects a stalled event loop sooner (and keeps tests of expiry fast).
    pub in_process_min_session_timeout_ms: i32,
    /// group.max.session.timeout.ms
    pub max_session_timeout_ms: i32,
    /// group.initial.rebalance.delay.ms
    pub initial_rebalance_delay_ms: i32,
    /// group.max.size
    pub max_group_size: usize,
    /// offset.metadata.max.bytes
    pub max_metadata_bytes: usize,
    /// Records appended between two compactions of the topic.
    pub compact_every_records: u64,
    /// offsets.retention.minutes, in ms: how long the offsets of an empty
    /// group (or of a simple consumer, or of a topic a stable group no
    /// longer subscribes to) outlive the moment they stop being used, as
    /// Kafka 2.1+ (KIP-211) expires them.
    pub offsets_retention_ms: i64,
    /// offsets.retention.check.interval.ms
    pub offsets_retention_check_interval_ms: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_session_timeout_ms: 6_000,
            in_process_min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_group_size: i32::MAX as usize,
            max_metadata_bytes: 4096,
            compact_every_records: 10_000,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// A group's state in Kafka's classic protocol.
pub enum GroupState {
    /// No members; committed offsets may still be kept (and expire).
    Empty,
    /// A join started a rebalance: waiting for every member to join again
    /// (up to the rebalance timeout).
    PreparingRebalance,
    /// Everyone joined: waiting for the leader's SyncGroup with the
    /// assignment.
    CompletingRebalance,
    /// Every member has its assignment; heartbeats keep it so.
    Stable,
    /// Removed (deleted, or its last offsets expired); never stored.
    Dead,
}

impl GroupState {
    /// Kafka's name for the state, as DescribeGroups and ListGroups show it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

struct Member {
    id: String,
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout: i32,
    rebalance_timeout: i32,
    protocol_type: String,
    protocols: Vec<(String, Vec<u8>)>,
    assignment: Vec<u8>,
    join_cb: Option<JoinCallback>,
    sync_cb: Option<SyncCallback>,
    /// Session expiry.
    deadline: i64,
    /// Order of joining, for leader election.
    seq: u64,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Vec<u8> {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(n, _)| n == protocol)
    }
}

struct Group {
    id: String,
    state: GroupState,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with their expiry.
    pending: HashMap<String, i64>,
    /// group.instance.id -> member id.
    statics: HashMap<String, String>,
    /// PreparingRebalance: when the join phase ends at the latest.
    join_deadline: i64,
    /// The initial delay: (latest end, whether a member joined during it).
    initial: Option<(i64, bool)>,
    /// CompletingRebalance: when members that have not synced are removed.
    sync_deadline: i64,
    state_timestamp: i64,
    offsets: BTreeMap<(String, i32), OffsetCommitValue>,
}

impl Group {
    fn new(id: &str, now: i64) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            statics: HashMap::new(),
            join_deadline: 0,
            initial: None,
            sync_deadline: 0,
            state_timestamp: now,
            offsets: BTreeMap::new(),
        }
    }

    fn set_state(&mut self, state: GroupState, now: i64) {
        self.state = state;
        self.state_timestamp = now;
    }

    /// Protocols every member supports.
    fn candidates(&self) -> Vec<String> {
        let mut it = self.members.values();
        let Some(first) = it.next() else {
            return Vec::new();
        };
        let mut c: Vec<String> = first.protocols.iter().map(|(n, _)| n.clone()).collect();
        for m in it {
            c.retain(|p| m.supports(p));
        }
        c
    }

    fn supports(&self, protocol_type: &str, protocols: &[(String, Vec<u8>)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && self
                .candidates()
                .iter()
                .any(|c| protocols.iter().any(|(n, _)| n == c))
    }

    /// Each member votes for its most preferred candidate; most votes wins,
    /// ties going to the earliest member's preference.
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidates();
        let mut votes: Vec<(String, usize)> = Vec::new();
        let mut members: Vec<&Member> = self.members.values().collect();
        members.sort_by_key(|m| m.seq);
        for m in &members {
            if let Some((name, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(n)) {
                match votes.iter_mut().find(|(n, _)| n == name) {
                    Some(v) => v.1 += 1,
                    None => votes.push((name.clone(), 1)),
                }
            }
        }
        let max = votes.iter().map(|v| v.1).max()?;
        votes.into_iter().find(|v| v.1 == max).map(|v| v.0)
    }

    fn max_rebalance_timeout(&self) -> i64 {
        self.members
            .values()
            .map(|m| i64::from(m.rebalance_timeout))
            .max()
            .unwrap_or(0)
    }

    fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.values().all(|m| m.join_cb.is_some())
    }

    /// Validates a member id / instance id pair against the group.
    fn check_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), ErrorCode> {
        if let Some(instance) = instance_id {
            if let Some(known) = self.statics.get(instance) {
                if known != member_id {
                    return Err(ErrorCode::FencedInstanceId);
                }
            }
        }
        if !self.members.contains_key(member_id) {
            return Err(ErrorCode::UnknownMemberId);
        }
        Ok(())
    }

    fn subscribed_to(&self, topic: &str) -> bool {
        if self.protocol_type.as_deref() != Some("consumer") {
            return false;
        }
        self.members.values().any(|m| {
            let meta = m.metadata_for(self.protocol.as_deref().unwrap_or(""));
            match subscription_topics(&meta) {
                Some(topics) => topics.iter().any(|t| t == topic),
                // Unreadable subscription: assume it could be subscribed.
                None => true,
            }
        })
    }

    fn metadata_value(&self, now: i64) -> GroupMetadataValue {
        let mut members: Vec<&Member> = self.members.values().collect();
        members.sort_by_key(|m| m.seq);
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: now,
            members: members
                .into_iter()
                .map(|m| MemberMetadata {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: m.rebalance_timeout,
                    session_timeout: m.session_timeout,
                    subscription: m.metadata_for(self.protocol.as_deref().unwrap_or("")),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    fn metadata_record(&self, now: i64) -> Record {
        (
            RecordKey::GroupMetadata {
                group: self.id.clone(),
            }
            .encode(),
            Some(self.metadata_value(now).encode()),
        )
    }
}

/// A callback (a JoinGroup or SyncGroup answer) queued by the manager,
/// to run once the caller has released the coordinator's lock.
pub type Completion = Box<dyn FnOnce() + Send>;

/// The client host recorded for a member of the coordinator's own process
/// (in the group metadata, where Kafka records `"/<address>"`): a restarted
/// coordinator knows from it which members died with the previous process.
pub const IN_PROCESS_CLIENT_HOST: &str = "in-process";

fn client_host(req: &JoinRequest) -> String {
    if req.in_process {
        IN_PROCESS_CLIENT_HOST.to_string()
    } else {
        req.client_host.clone()
    }
}

/// Every group of one coordinator.
pub struct GroupManager {
    config: Config,
    groups: BTreeMap<String, Group>,
    sink: Box<dyn RecordSink>,
    /// Callbacks to run once the caller has released its lock.
    outbox: Vec<Completion>,
    seq: u64,
    random: RandomState,
    since_compaction: u64,
    /// When offsets expiry runs next (0: at the first tick).
    next_expiry_check: i64,
}

fn offset_record(
    group: &str,
    topic: &str,
    partition: i32,
    v: Option<&OffsetCommitValue>,
) -> Record {
    (
        RecordKey::OffsetCommit {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
        }
        .encode(),
        v.map(OffsetCommitValue::encode),
    )
}

impl GroupManager {
    /// An empty manager writing its records to `sink` (the coordinator
    /// replays `__consumer_offsets` into it before serving).
    pub fn new(config: Config, sink: Box<dyn RecordSink>) -> GroupManager {
        GroupManager {
            config,
            groups: BTreeMap::new(),
            sink,
            outbox: Vec::new(),
            seq: 0,
            random: RandomState::new(),
            since_compaction: 0,
            next_expiry_check: 0,
        }
    }

    /// The settings it was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Takes the completions queued since the last call.
    pub fn take_outbox(&mut self) -> Vec<Completion> {
        std::mem::take(&mut self.outbox)
    }

    fn new_member_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        let mut h = self.random.build_hasher();
        h.write_u64(self.seq);
        let a = h.finish();
        h.write_u64(a);
        let b = h.finish();
        let hex = format!("{a:016x}{b:016x}");
        // Kafka's member ids are "<client or instance id>-<uuid>".
        format!(
            "{prefix}-{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn write(&mut self, records: &[Record]) -> Result<(), ErrorCode> {
        if records.is_empty() {
            return Ok(());
        }
        self.sink
            .write(records)
            .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
        self.since_compaction += records.len() as u64;
        Ok(())
    }

    /// Re-states the live state and drops older records once enough have
    /// accumulated. Called between operations, never inside one: the state
    /// re-stated must include every record written so far.
    pub fn maybe_compact(&mut self) {
        if self.since_compaction >= self.config.compact_every_records {
            let live = self.live_records();
            // A failed compaction leaves the log longer, never wrong.
            if self.sink.compact(&live).is_ok() {
                self.since_compaction = 0;
            }
        }
    }

    /// The whole state as records (what compaction re-states).
    pub fn live_records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        for g in self.groups.values() {
            if g.generation > 0 || !g.members.is_empty() {
                out.push(g.metadata_record(g.state_timestamp));
            }
            for ((t, p), v) in &g.offsets {
                out.push(offset_record(&g.id, t, *p, Some(v)));
            }
        }
        out
    }

    // ---- loading ----

    /// Applies one replayed record (last write wins; None = tombstone).
    /// Loaded members get a fresh session from `now`.
    pub fn replay(&mut self, key: &RecordKey, value: Option<&[u8]>, now: i64) {
        match key {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => match value.map(OffsetCommitValue::decode) {
                None => {
                    if let Some(g) = self.groups.get_mut(group) {
                        g.offsets.remove(&(topic.clone(), *partition));
                    }
                }
                Some(Ok(v)) => {
                    self.groups
                        .entry(group.clone())
                        .or_insert_with(|| Group::new(group, now))
                        .offsets
                        .insert((topic.clone(), *partition), v);
                }
                Some(Err(_)) => {}
            },
            RecordKey::GroupMetadata { group } => match value.map(GroupMetadataValue::decode) {
                None => {
                    self.groups.remove(group);
                }
                Some(Ok(v)) => {
                    let offsets = self
                        .groups
                        .remove(group)
                        .map(|g| g.offsets)
                        .unwrap_or_default();
                    let mut g = Group::new(group, now);
                    g.offsets = offsets;
                    g.generation = v.generation;
                    g.protocol_type = Some(v.protocol_type).filter(|s| !s.is_empty());
                    g.protocol = v.protocol;
                    g.leader = v.leader;
                    // Members outlive the coordinator, as in Kafka (its
                    // group metadata carries dynamic members too): each
                    // gets a fresh session from the load, so a member in
                    // another process that keeps heartbeating stays in the
                    // group with its assignment. Dynamic members of the
                    // previous owner process itself died with it and could
                    // only hold the next rebalance up for a session
                    // timeout: they are dropped. A static member keeps its
                    // instance id's binding, to come back (with a new
                    // member id) without a rebalance.
                    for m in v.members.into_iter().filter(|m| {
                        m.group_instance_id.is_some() || m.client_host != IN_PROCESS_CLIENT_HOST
                    }) {
                        let seq = self.next_seq();
                        if let Some(i) = &m.group_instance_id {
                            g.statics.insert(i.clone(), m.member_id.clone());
                        }
                        g.members.insert(
                            m.member_id.clone(),
                            Member {
                                id: m.member_id,
                                instance_id: m.group_instance_id,
                                client_id: m.client_id,
                                client_host: m.client_host,
                                session_timeout: m.session_timeout,
                                rebalance_timeout: m.rebalance_timeout,
                                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                                protocols: vec![(
                                    g.protocol.clone().unwrap_or_default(),
                                    m.subscription,
                                )],
                                assignment: m.assignment,
                                join_cb: None,
                                sync_cb: None,
                                deadline: now + i64::from(m.session_timeout),
                                seq,
                            },
                        );
                    }
                    if g.leader
                        .as_ref()
                        .is_some_and(|l| !g.members.contains_key(l))
                    {
                        g.leader = g
                            .members
                            .values()
                            .min_by_key(|m| m.seq)
                            .map(|m| m.id.clone());
                    }
                    let state = if g.members.is_empty() {
                        g.protocol = None;
                        g.leader = None;
                        GroupState::Empty
                    } else {
                        GroupState::Stable
                    };
                    g.set_state(state, now);
                    // An empty group has been empty since the moment
                    // recorded, not since the load: its offsets' retention
                    // counts from there, as Kafka's currentStateTimestamp.
                    if state == GroupState::Empty
                        && v.current_state_timestamp > 0
                        && v.current_state_timestamp <= now
                    {
                        g.state_timestamp = v.current_state_timestamp;
                    }
                    self.groups.insert(group.clone(), g);
                }
                Some(Err(_)) => {}
            },
        }
    }

    /// Counts replayed records towards the next compaction.
    pub fn note_replayed(&mut self, records: u64) {
        self.since_compaction += records;
    }

    // ---- JoinGroup ----

    /// JoinGroup at `now` (ms): `cb` gets the answer once the rebalance
    /// completes, or at once on an error; queued callbacks run from
    /// [`GroupManager::take_outbox`].
    pub fn join(&mut self, req: JoinRequest, now: i64, cb: JoinCallback) {
        if let Err(e) = self.validate_join(&req) {
            let member = req.member_id.clone();
            self.outbox
                .push(Box::new(move || cb(JoinResponse::error(e, &member))));
            return;
        }
        let group_id = req.group_id.clone();
        if !self.groups.contains_key(&group_id) {
            if !req.member_id.is_empty() {
                let member = req.member_id.clone();
                self.outbox.push(Box::new(move || {
                    cb(JoinResponse::error(ErrorCode::UnknownMemberId, &member))
                }));
                return;
            }
            self.groups
                .insert(group_id.clone(), Group::new(&group_id, now));
        }
        let result = if req.member_id.is_empty() {
            self.join_unknown(req, now, cb)
        } else {
            self.join_known(req, now, cb)
        };
        if let Err((e, member, cb)) = result {
            self.outbox
                .push(Box::new(move || cb(JoinResponse::error(e, &member))));
        }
        self.try_complete_join(&group_id, now);
    }

    fn validate_join(&self, req: &JoinRequest) -> Result<(), ErrorCode> {
        if req.group_id.is_empty() {
            return Err(ErrorCode::InvalidGroupId);
        }
        let min = if req.in_process {
            self.config.in_process_min_session_timeout_ms
        } else {
            self.config.min_session_timeout_ms
        };
        if req.session_timeout_ms < min
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return Err(ErrorCode::InvalidSessionTimeout);
        }
        if req.protocol_type.is_empty() || req.protocols.is_empty() {
            return Err(ErrorCode::InconsistentGroupProtocol);
        }
        if let Some(g) = self.groups.get(&req.group_id) {
            if g.state == GroupState::Dead {
                return Err(ErrorCode::CoordinatorNotAvailable);
            }
            if !g.supports(&req.protocol_type, &req.protocols) {
                return Err(ErrorCode::InconsistentGroupProtocol);
            }
        }
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn join_unknown(
        &mut self,
        req: JoinRequest,
        now: i64,
        cb: JoinCallback,
    ) -> Result<(), (ErrorCode, String, JoinCallback)> {
        let prefix = req
            .group_instance_id
            .clone()
            .unwrap_or_else(|| req.client_id.clone());
        let new_id = self.new_member_id(&prefix);
        let max = self.config.max_group_size;
        let Some(g) = self.groups.get_mut(&req.group_id) else {
            return Err((ErrorCode::UnknownServerError, String::new(), cb));
        };
        if let Some(instance) = req.group_instance_id.clone() {
            if let Some(old_id) = g.statics.get(&instance).cloned() {
                return self.replace_static(req, old_id, new_id, now, cb);
            }
        }
        if g.members.len() + g.pending.len() >= max {
            return Err((ErrorCode::GroupMaxSizeReached, String::new(), cb));
        }
        if req.group_instance_id.is_none() && req.require_known_member_id {
            g.pending
                .insert(new_id.clone(), now + i64::from(req.session_timeout_ms));
            self.outbox.push(Box::new(move || {
                cb(JoinResponse::error(ErrorCode::MemberIdRequired, &new_id))
            }));
            return Ok(());
        }
        self.add_member(req, new_id, now, cb);
        Ok(())
    }

    fn add_member(&mut self, req: JoinRequest, id: String, now: i64, cb: JoinCallback) {
        let seq = self.next_seq();
        let host = client_host(&req);
        let Some(g) = self.groups.get_mut(&req.group_id) else {
            return;
        };
        if g.members.is_empty() {
            g.protocol_type = Some(req.protocol_type.clone());
        }
        g.pending.remove(&id);
        if let Some(i) = &req.group_instance_id {
            g.statics.insert(i.clone(), id.clone());
        }
        let rebalance_timeout = if req.rebalance_timeout_ms < 0 {
            req.session_timeout_ms
        } else {
            req.rebalance_timeout_ms
        };
        g.members.insert(
            id.clone(),
            Member {
                id,
                instance_id: req.group_instance_id,
                client_id: req.client_id,
                client_host: host,
                session_timeout: req.session_timeout_ms,
                rebalance_timeout,
                protocol_type: req.protocol_type,
                protocols: req.protocols,
                assignment: Vec::new(),
                join_cb: Some(cb),
                sync_cb: None,
                deadline: now + i64::from(req.session_timeout_ms),
                seq,
            },
        );
        if let Some((_, joined)) = &mut g.initial {
            *joined = true;
        }
        let group = req.group_id;
        self.maybe_prepare_rebalance(&group, now);
    }

    /// A static member rejoining with a new member id: the old id is fenced.
    #[allow(clippy::type_complexity)]
    fn replace_static(
        &mut self,
        req: JoinRequest,
        old_id: String,
        new_id: String,
        now: i64,
        cb: JoinCallback,
    ) -> Result<(), (ErrorCode, String, JoinCallback)> {
        let Some(g) = self.groups.get_mut(&req.group_id) else {
            return Err((ErrorCode::UnknownServerError, String::new(), cb));
        };
        let Some(mut old) = g.members.remove(&old_id) else {
            return Err((ErrorCode::UnknownServerError, String::new(), cb));
        };
        if let Some(old_cb) = old.join_cb.take() {
            let id = old_id.clone();
            self.outbox.push(Box::new(move || {
                old_cb(JoinResponse::error(ErrorCode::FencedInstanceId, &id))
            }));
        }
        if let Some(old_cb) = old.sync_cb.take() {
            self.outbox.push(Box::new(move || {
                old_cb(SyncResponse::error(ErrorCode::FencedInstanceId))
            }));
        }
        let same_protocols = old.protocols == req.protocols;
        let was_leader = g.leader.as_deref() == Some(old_id.as_str());
        old.id = new_id.clone();
        old.client_id = req.client_id.clone();
        old.client_host = client_host(&req);
        old.session_timeout = req.session_timeout_ms;
        if req.rebalance_timeout_ms >= 0 {
            old.rebalance_timeout = req.rebalance_timeout_ms;
        }
        old.deadline = now + i64::from(req.session_timeout_ms);
        if let Some(i) = &req.group_instance_id {
            g.statics.insert(i.clone(), new_id.clone());
        }
        if was_leader {
            g.leader = Some(new_id.clone());
        }
        match g.state {
            GroupState::Stable if same_protocols => {
                g.members.insert(new_id.clone(), old);
                // Persist the new id so a restart fences the old one too.
                let record = g.metadata_record(now);
                let resp = JoinResponse {
                    error: ErrorCode::None,
                    generation_id: g.generation,
                    protocol_type: g.protocol_type.clone(),
                    protocol_name: g.protocol.clone(),
                    leader: g.leader.clone().unwrap_or_default(),
                    skip_assignment: was_leader,
                    member_id: new_id,
                    members: Vec::new(),
                };
                // Best effort: the in-memory replacement stands either way.
                let _ = self.write(&[record]);
                self.outbox.push(Box::new(move || cb(resp)));
            }
            _ => {
                old.protocols = req.protocols;
                old.protocol_type = req.protocol_type;
                old.join_cb = Some(cb);
                g.members.insert(new_id, old);
                let group = req.group_id;
                self.maybe_prepare_rebalance(&group, now);
            }
        }
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn join_known(
        &mut self,
        req: JoinRequest,
        now: i64,
        cb: JoinCallback,
    ) -> Result<(), (ErrorCode, String, JoinCallback)> {
        let member_id = req.member_id.clone();
        let Some(g) = self.groups.get_mut(&req.group_id) else {
            return Err((ErrorCode::UnknownMemberId, member_id, cb));
        };
        if g.pending.contains_key(&member_id) {
            self.add_member(req, member_id, now, cb);
            return Ok(());
        }
        if let Err(e) = g.check_member(&member_id, req.group_instance_id.as_deref()) {
            return Err((e, member_id, cb));
        }
        let is_leader = g.leader.as_deref() == Some(member_id.as_str());
        let state = g.state;
        let generation = g.generation;
        let protocol_type = g.protocol_type.clone();
        let protocol = g.protocol.clone();
        let leader = g.leader.clone().unwrap_or_default();
        let members_for_leader: Vec<JoinMember> = if is_leader {
            let p = protocol.clone().unwrap_or_default();
            let mut ms: Vec<&Member> = g.members.values().collect();
            ms.sort_by_key(|m| m.seq);
            ms.into_iter()
                .map(|m| JoinMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    metadata: m.metadata_for(&p),
                })
                .collect()
        } else {
            Vec::new()
        };
        let Some(m) = g.members.get_mut(&member_id) else {
            return Err((ErrorCode::UnknownMemberId, member_id, cb));
        };
        m.deadline = now + i64::from(req.session_timeout_ms);
        let same = m.protocols == req.protocols;
        match state {
            GroupState::PreparingRebalance => {
                m.protocols = req.protocols;
                m.session_timeout = req.session_timeout_ms;
                if req.rebalance_timeout_ms >= 0 {
                    m.rebalance_timeout = req.rebalance_timeout_ms;
                }
                if let Some(old) = m.join_cb.replace(cb) {
                    // A duplicate join: the earlier one is answered as Kafka
                    // does when a member's request is superseded.
                    let id = member_id.clone();
                    self.outbox.push(Box::new(move || {
                        old(JoinResponse::error(ErrorCode::UnknownMemberId, &id))
                    }));
                }
            }
            GroupState::CompletingRebalance | GroupState::Stable
                if same && (state == GroupState::CompletingRebalance || !is_leader) =>
            {
                let resp = JoinResponse {
                    error: ErrorCode::None,
                    generation_id: generation,
                    protocol_type,
                    protocol_name: protocol,
                    leader,
                    skip_assignment: false,
                    member_id: member_id.clone(),
                    members: members_for_leader,
                };
                self.outbox.push(Box::new(move || cb(resp)));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                m.protocols = req.protocols;
                m.session_timeout = req.session_timeout_ms;
                if req.rebalance_timeout_ms >= 0 {
                    m.rebalance_timeout = req.rebalance_timeout_ms;
                }
                m.join_cb = Some(cb);
                let group = req.group_id;
                self.maybe_prepare_rebalance(&group, now);
            }
            GroupState::Empty | GroupState::Dead => {
                return Err((ErrorCode::UnknownMemberId, member_id, cb));
            }
        }
        Ok(())
    }

    fn maybe_prepare_rebalance(&mut self, group: &str, now: i64) {
        let Some(g) = self.groups.get(group) else {
            return;
        };
        if matches!(
            g.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        ) {
            self.prepare_rebalance(group, now);
        }
    }

    fn prepare_rebalance(&mut self, group: &str, now: i64) {
        let initial_delay = i64::from(self.config.initial_rebalance_delay_ms);
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if g.state == GroupState::CompletingRebalance {
            // The assignment being distributed is void: members waiting for
            // it rejoin.
            for m in g.members.values_mut() {
                m.assignment.clear();
                if let Some(cb) = m.sync_cb.take() {
                    self.outbox.push(Box::new(move || {
                        cb(SyncResponse::error(ErrorCode::RebalanceInProgress))
                    }));
                }
            }
        }
        let timeout = g.max_rebalance_timeout();
        if g.state == GroupState::Empty && initial_delay > 0 {
            // Kafka's initial delay: wait for more members before the first
            // generation, extending while they keep coming.
            g.join_deadline = now + initial_delay.min(timeout);
            g.initial = Some((now + timeout, false));
        } else {
            g.join_deadline = now + timeout;
            g.initial = None;
        }
        g.set_state(GroupState::PreparingRebalance, now);
    }

    fn try_complete_join(&mut self, group: &str, now: i64) {
        let Some(g) = self.groups.get(group) else {
            return;
        };
        if g.state == GroupState::PreparingRebalance && g.initial.is_none() && g.all_joined() {
            self.complete_join(group, now);
        }
    }

    fn complete_join(&mut self, group: &str, now: i64) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        // Members that did not rejoin in time are out, as are pending ids.
        let gone: Vec<String> = g
            .members
            .values()
            .filter(|m| m.join_cb.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            if let Some(m) = g.members.remove(&id) {
                if let Some(i) = &m.instance_id {
                    g.statics.remove(i);
                }
            }
        }
        g.pending.clear();
        g.initial = None;
        if g.leader
            .as_ref()
            .is_some_and(|l| !g.members.contains_key(l))
        {
            g.leader = None;
        }
        g.generation = g.generation.wrapping_add(1);
        if g.members.is_empty() {
            g.protocol = None;
            g.protocol_type = None;
            g.leader = None;
            g.set_state(GroupState::Empty, now);
            let record = g.metadata_record(now);
            let _ = self.write(&[record]);
            return;
        }
        if g.leader.is_none() {
            g.leader = g
                .members
                .values()
                .min_by_key(|m| m.seq)
                .map(|m| m.id.clone());
        }
        g.protocol = g.select_protocol();
        g.set_state(GroupState::CompletingRebalance, now);
        g.sync_deadline = now + g.max_rebalance_timeout();
        let protocol = g.protocol.clone().unwrap_or_default();
        let leader = g.leader.clone().unwrap_or_default();
        let mut ordered: Vec<&Member> = g.members.values().collect();
        ordered.sort_by_key(|m| m.seq);
        let all: Vec<JoinMember> = ordered
            .iter()
            .map(|m| JoinMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata_for(&protocol),
            })
            .collect();
        let generation = g.generation;
        let protocol_type = g.protocol_type.clone();
        for m in g.members.values_mut() {
            m.assignment.clear();
            m.deadline = now + i64::from(m.session_timeout);
            if let Some(cb) = m.join_cb.take() {
                let resp = JoinResponse {
                    error: ErrorCode::None,
                    generation_id: generation,
                    protocol_type: protocol_type.clone(),
                    protocol_name: Some(protocol.clone()),
                    leader: leader.clone(),
                    skip_assignment: false,
                    member_id: m.id.clone(),
                    members: if m.id == leader {
                        all.clone()
                    } else {
                        Vec::new()
                    },
                };
                self.outbox.push(Box::new(move || cb(resp)));
            }
        }
    }

    // ---- SyncGroup ----

    /// SyncGroup at `now` (ms): `cb` gets the member's assignment once the
    /// leader has sent it (the leader's own sync completes the others).
    pub fn sync(&mut self, req: SyncRequest, now: i64, cb: SyncCallback) {
        match self.sync_inner(req, now) {
            Err(e) => self
                .outbox
                .push(Box::new(move || cb(SyncResponse::error(e)))),
            Ok(SyncOutcome::Now(resp)) => self.outbox.push(Box::new(move || cb(resp))),
            Ok(SyncOutcome::Wait {
                group,
                member,
                leader_write,
            }) => {
                let Some(g) = self.groups.get_mut(&group) else {
                    return;
                };
                let Some(m) = g.members.get_mut(&member) else {
                    return;
                };
                if let Some(old) = m.sync_cb.replace(cb) {
                    self.outbox.push(Box::new(move || {
                        old(SyncResponse::error(ErrorCode::RebalanceInProgress))
                    }));
                }
                if let Some(record) = leader_write {
                    self.complete_sync(&group, record, now);
                }
            }
        }
    }

    fn sync_inner(&mut self, req: SyncRequest, now: i64) -> Result<SyncOutcome, ErrorCode> {
        let g = self
            .groups
            .get_mut(&req.group_id)
            .ok_or(ErrorCode::UnknownMemberId)?;
        if g.state == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        g.check_member(&req.member_id, req.group_instance_id.as_deref())?;
        if req.generation_id != g.generation {
            return Err(ErrorCode::IllegalGeneration);
        }
        if req
            .protocol_type
            .as_ref()
            .is_some_and(|p| Some(p) != g.protocol_type.as_ref())
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|p| Some(p) != g.protocol.as_ref())
        {
            return Err(ErrorCode::InconsistentGroupProtocol);
        }
        let is_leader = g.leader.as_deref() == Some(req.member_id.as_str());
        match g.state {
            GroupState::Empty | GroupState::Dead => Err(ErrorCode::UnknownMemberId),
            GroupState::PreparingRebalance => Err(ErrorCode::RebalanceInProgress),
            GroupState::Stable => {
                let protocol_type = g.protocol_type.clone();
                let protocol_name = g.protocol.clone();
                let m = g
                    .members
                    .get_mut(&req.member_id)
                    .ok_or(ErrorCode::UnknownMemberId)?;
                m.deadline = now + i64::from(m.session_timeout);
                Ok(SyncOutcome::Now(SyncResponse {
                    error: ErrorCode::None,
                    protocol_type,
                    protocol_name,
                    assignment: m.assignment.clone(),
                }))
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = g.members.get_mut(&req.member_id) {
                    m.deadline = now + i64::from(m.session_timeout);
                }
                let leader_write = if is_leader {
                    let mut by_member: HashMap<String, Vec<u8>> =
                        req.assignments.into_iter().collect();
                    for m in g.members.values_mut() {
                        m.assignment = by_member.remove(&m.id).unwrap_or_default();
                    }
                    Some(g.metadata_record(now))
                } else {
                    None
                };
                Ok(SyncOutcome::Wait {
                    group: req.group_id,
                    member: req.member_id,
                    leader_write,
                })
            }
        }
    }

    /// The leader's assignment is in: persist it, go Stable, answer every
    /// member waiting in SyncGroup.
    fn complete_sync(&mut self, group: &str, record: Record, now: i64) {
        let written = self.write(&[record]);
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if let Err(e) = written {
            // Kafka's answer when the group could not be stored: every
            // member fails the sync and the group rebalances.
            for m in g.members.values_mut() {
                m.assignment.clear();
                if let Some(cb) = m.sync_cb.take() {
                    self.outbox
                        .push(Box::new(move || cb(SyncResponse::error(e))));
                }
            }
            let group = group.to_string();
            self.prepare_rebalance(&group, now);
            return;
        }
        g.set_state(GroupState::Stable, now);
        for m in g.members.values_mut() {
            if let Some(cb) = m.sync_cb.take() {
                let resp = SyncResponse {
                    error: ErrorCode::None,
                    protocol_type: g.protocol_type.clone(),
                    protocol_name: g.protocol.clone(),
                    assignment: m.assignment.clone(),
                };
                self.outbox.push(Box::new(move || cb(resp)));
            }
        }
    }

    // ---- Heartbeat ----

    /// Heartbeat at `now` (ms): renews the member's session; answers
    /// REBALANCE_IN_PROGRESS when it must join again.
    pub fn heartbeat(&mut self, req: &HeartbeatRequest, now: i64) -> ErrorCode {
        let Some(g) = self.groups.get_mut(&req.group_id) else {
            return ErrorCode::UnknownMemberId;
        };
        if g.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        if let Err(e) = g.check_member(&req.member_id, req.group_instance_id.as_deref()) {
            return e;
        }
        if req.generation_id != g.generation {
            return ErrorCode::IllegalGeneration;
        }
        let state = g.state;
        if let Some(m) = g.members.get_mut(&req.member_id) {
            m.deadline = now + i64::from(m.session_timeout);
        }
        match state {
            GroupState::Empty | GroupState::Dead => ErrorCode::UnknownMemberId,
            GroupState::PreparingRebalance => ErrorCode::RebalanceInProgress,
            GroupState::CompletingRebalance | GroupState::Stable => ErrorCode::None,
        }
    }

    // ---- LeaveGroup ----

    /// Removes members; a per-member result, or a group-level error.
    pub fn leave(
        &mut self,
        group: &str,
        members: &[LeaveMember],
        now: i64,
    ) -> Result<Vec<LeaveResult>, ErrorCode> {
        let g = self.groups.get(group).ok_or(ErrorCode::UnknownMemberId)?;
        if g.state == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        let mut results = Vec::with_capacity(members.len());
        for lm in members {
            let Some(g) = self.groups.get(group) else {
                break;
            };
            // v3+: a static member may leave by instance id alone.
            let id = match (&lm.group_instance_id, lm.member_id.is_empty()) {
                (Some(i), true) => g.statics.get(i).cloned(),
                _ => Some(lm.member_id.clone()),
            };
            let error = match id {
                None => ErrorCode::UnknownMemberId,
                Some(id) => {
                    if g.pending.contains_key(&id) {
                        if let Some(g) = self.groups.get_mut(group) {
                            g.pending.remove(&id);
                        }
                        self.try_complete_join(group, now);
                        ErrorCode::None
                    } else {
                        match g.check_member(&id, lm.group_instance_id.as_deref()) {
                            Err(e) => e,
                            Ok(()) => {
                                self.remove_member(group, &id, now);
                                ErrorCode::None
                            }
                        }
                    }
                }
            };
            results.push(LeaveResult {
                member_id: lm.member_id.clone(),
                group_instance_id: lm.group_instance_id.clone(),
                error,
            });
        }
        Ok(results)
    }

    fn remove_member(&mut self, group: &str, id: &str, now: i64) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        let Some(mut m) = g.members.remove(id) else {
            return;
        };
        if let Some(i) = &m.instance_id {
            if g.statics.get(i).map(String::as_str) == Some(id) {
                g.statics.remove(i);
            }
        }
        if let Some(cb) = m.join_cb.take() {
            let id = id.to_string();
            self.outbox.push(Box::new(move || {
                cb(JoinResponse::error(ErrorCode::UnknownMemberId, &id))
            }));
        }
        if let Some(cb) = m.sync_cb.take() {
            self.outbox.push(Box::new(move || {
                cb(SyncResponse::error(ErrorCode::UnknownMemberId))
            }));
        }
        if g.leader.as_deref() == Some(id) {
            g.leader = g
                .members
                .values()
                .min_by_key(|m| m.seq)
                .map(|m| m.id.clone());
        }
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(group, now);
                // With nobody left, the rebalance ends at once (Empty).
                self.try_complete_join(group, now);
            }
            GroupState::PreparingRebalance => self.try_complete_join(group, now),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    // ---- time ----

    /// Fires every deadline that has passed, and expires offsets every
    /// `offsets_retention_check_interval_ms`.
    pub fn tick(&mut self, now: i64) {
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for id in ids {
            self.tick_group(&id, now);
        }
        if now >= self.next_expiry_check {
            self.expire_offsets(now);
            self.next_expiry_check =
                now.saturating_add(self.config.offsets_retention_check_interval_ms.max(1));
        }
    }

    /// Kafka 2.1+'s offset expiry (KIP-211; ClassicGroup's
    /// offsetExpirationCondition in Kafka 4): an empty group's offsets
    /// expire `offsets_retention_ms` after the group became empty; a simple
    /// consumer's (no protocol type) that long after their commit; a stable
    /// consumer group's only for topics none of its members subscribes to,
    /// counted from their commit. A commit with an explicit expiry
    /// timestamp (OffsetCommit v1) expires then. An empty group left with
    /// no offsets is deleted. Returns the number of offsets removed.
    pub fn expire_offsets(&mut self, now: i64) -> usize {
        let retention = self.config.offsets_retention_ms;
        let mut removed = 0;
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for id in ids {
            let Some(g) = self.groups.get(&id) else {
                continue;
            };
            // The moment each offset's retention counts from, or None
            // where the group's offsets do not expire now.
            enum Base {
                Commit,
                Since(i64),
                UnsubscribedCommit,
            }
            let base = match (g.protocol_type.as_deref(), g.state) {
                (None, _) => Base::Commit,
                (Some(_), GroupState::Empty) => Base::Since(g.state_timestamp),
                (Some("consumer"), GroupState::Stable) => Base::UnsubscribedCommit,
                _ => continue,
            };
            let expired: Vec<(String, i32)> = g
                .offsets
                .iter()
                .filter(|((t, _), v)| {
                    if v.expire_timestamp >= 0 {
                        return now >= v.expire_timestamp;
                    }
                    let from = match base {
                        Base::Commit => Some(v.commit_timestamp),
                        Base::Since(t) => Some(t),
                        Base::UnsubscribedCommit => {
                            (!g.subscribed_to(t)).then_some(v.commit_timestamp)
                        }
                    };
                    from.is_some_and(|b| now.saturating_sub(b) >= retention)
                })
                .map(|(k, _)| k.clone())
                .collect();
            // Kafka deletes an empty group whose offsets are all gone (a
            // member id handed out and not yet used keeps it).
            let empty_after = g.state == GroupState::Empty
                && g.pending.is_empty()
                && expired.len() == g.offsets.len();
            let has_metadata = g.generation > 0;
            if expired.is_empty() && !empty_after {
                continue;
            }
            let mut records: Vec<Record> = expired
                .iter()
                .map(|(t, p)| offset_record(&id, t, *p, None))
                .collect();
            if empty_after && has_metadata {
                records.push((
                    RecordKey::GroupMetadata { group: id.clone() }.encode(),
                    None,
                ));
            }
            // A failed write leaves the offsets for the next check.
            if self.write(&records).is_err() {
                continue;
            }
            removed += expired.len();
            if empty_after {
                self.groups.remove(&id);
            } else if let Some(g) = self.groups.get_mut(&id) {
                for k in &expired {
                    g.offsets.remove(k);
                }
            }
        }
        removed
    }

    fn tick_group(&mut self, id: &str, now: i64) {
        let Some(g) = self.groups.get_mut(id) else {
            return;
        };
        g.pending.retain(|_, deadline| *deadline > now);
        let state = g.state;
        // Members waiting in JoinGroup during a rebalance are kept alive by
        // the rebalance timeout, not their session.
        let expired: Vec<String> = g
            .members
            .values()
            .filter(|m| {
                m.deadline <= now
                    && !(state == GroupState::PreparingRebalance && m.join_cb.is_some())
            })
            .map(|m| m.id.clone())
            .collect();
        for m in expired {
            self.remove_member(id, &m, now);
        }
        let Some(g) = self.groups.get_mut(id) else {
            return;
        };
        match g.state {
            GroupState::PreparingRebalance if now >= g.join_deadline => {
                if let Some((latest, joined)) = g.initial {
                    if joined && now < latest {
                        let step = i64::from(self.config.initial_rebalance_delay_ms);
                        g.join_deadline = (now + step).min(latest);
                        g.initial = Some((latest, false));
                        return;
                    }
                }
                self.complete_join(id, now);
            }
            GroupState::PreparingRebalance => self.try_complete_join(id, now),
            GroupState::CompletingRebalance if now >= g.sync_deadline => {
                // Members (the leader above all) that never sent SyncGroup.
                let laggards: Vec<String> = g
                    .members
                    .values()
                    .filter(|m| m.sync_cb.is_none())
                    .map(|m| m.id.clone())
                    .collect();
                for m in laggards {
                    self.remove_member(id, &m, now);
                }
            }
            _ => {}
        }
    }

    /// The earliest deadline of any group, for the timer.
    pub fn next_deadline(&self) -> Option<i64> {
        let mut next: Option<i64> = None;
        let mut consider = |t: i64| next = Some(next.map_or(t, |n: i64| n.min(t)));
        for g in self.groups.values() {
            for m in g.members.values() {
                consider(m.deadline);
            }
            for d in g.pending.values() {
                consider(*d);
            }
            match g.state {
                GroupState::PreparingRebalance => consider(g.join_deadline),
                GroupState::CompletingRebalance => consider(g.sync_deadline),
                _ => {}
            }
        }
        next
    }

    // ---- offsets ----

    /// OffsetCommit at `now` (ms): one write of the offsets to
    /// `__consumer_offsets`, then a result per partition. An error for the
    /// whole request (`Err`: invalid group id, unknown member, wrong
    /// generation) writes nothing.
    pub fn commit(
        &mut self,
        req: &CommitRequest,
        now: i64,
    ) -> Result<Vec<PartitionResult>, ErrorCode> {
        if req.group_id.is_empty() {
            return Err(ErrorCode::InvalidGroupId);
        }
        let simple =
            req.generation_id < 0 && req.member_id.is_empty() && req.group_instance_id.is_none();
        match self.groups.get_mut(&req.group_id) {
            None if simple => {
                self.groups
                    .insert(req.group_id.clone(), Group::new(&req.group_id, now));
            }
            None => return Err(ErrorCode::IllegalGeneration),
            Some(g) => {
                if g.state == GroupState::Dead {
                    return Err(ErrorCode::CoordinatorNotAvailable);
                }
                if simple {
                    if g.state != GroupState::Empty {
                        return Err(ErrorCode::UnknownMemberId);
                    }
                } else {
                    g.check_member(&req.member_id, req.group_instance_id.as_deref())?;
                    if req.generation_id != g.generation {
                        return Err(ErrorCode::IllegalGeneration);
                    }
                    if g.state == GroupState::CompletingRebalance {
                        return Err(ErrorCode::RebalanceInProgress);
                    }
                    if let Some(m) = g.members.get_mut(&req.member_id) {
                        m.deadline = now + i64::from(m.session_timeout);
                    }
                }
            }
        }
        let mut results = Vec::with_capacity(req.offsets.len());
        let mut accepted = Vec::new();
        let mut records = Vec::new();
        for o in &req.offsets {
            let metadata = o.metadata.clone().unwrap_or_default();
            let error = if metadata.len() > self.config.max_metadata_bytes {
                ErrorCode::OffsetMetadataTooLarge
            } else if o.partition < 0 || o.topic.is_empty() {
                ErrorCode::InvalidCommitOffsetSize
            } else {
                let v = OffsetCommitValue {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata,
                    commit_timestamp: now,
                    expire_timestamp: -1,
                };
                records.push(offset_record(
                    &req.group_id,
                    &o.topic,
                    o.partition,
                    Some(&v),
                ));
                accepted.push(((o.topic.clone(), o.partition), v));
                ErrorCode::None
            };
            results.push(PartitionResult {
                topic: o.topic.clone(),
                partition: o.partition,
                error,
            });
        }
        self.write(&records)?;
        if let Some(g) = self.groups.get_mut(&req.group_id) {
            for (k, v) in accepted {
                g.offsets.insert(k, v);
            }
        }
        Ok(results)
    }

    /// Committed offsets: of the given partitions, or all of the group's.
    pub fn fetch_offsets(
        &self,
        group: &str,
        partitions: Option<&[(String, Vec<i32>)]>,
    ) -> Vec<FetchedOffset> {
        let g = self.groups.get(group);
        let fetched = |t: &str, p: i32, v: Option<&OffsetCommitValue>| FetchedOffset {
            topic: t.to_string(),
            partition: p,
            offset: v.map_or(-1, |v| v.offset),
            leader_epoch: v.map_or(-1, |v| v.leader_epoch),
            metadata: v.map(|v| v.metadata.clone()).unwrap_or_default(),
            commit_timestamp: v.map_or(-1, |v| v.commit_timestamp),
        };
        match partitions {
            Some(wanted) => wanted
                .iter()
                .flat_map(|(t, ps)| {
                    ps.iter().map(move |p| {
                        fetched(t, *p, g.and_then(|g| g.offsets.get(&(t.clone(), *p))))
                    })
                })
                .collect(),
            None => g
                .map(|g| {
                    g.offsets
                        .iter()
                        .map(|((t, p), v)| fetched(t, *p, Some(v)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    // ---- admin ----

    /// DescribeGroups for one group (`found` false, state Dead, when unknown).
    pub fn describe(&self, group: &str) -> GroupDescription {
        let Some(g) = self.groups.get(group) else {
            return GroupDescription {
                group_id: group.to_string(),
                found: false,
                state: GroupState::Dead.name(),
                protocol_type: String::new(),
                protocol: String::new(),
                generation_id: -1,
                leader: String::new(),
                members: Vec::new(),
            };
        };
        let protocol = g.protocol.clone().unwrap_or_default();
        let stable = g.state == GroupState::Stable;
        let mut ms: Vec<&Member> = g.members.values().collect();
        ms.sort_by_key(|m| m.seq);
        GroupDescription {
            group_id: g.id.clone(),
            found: true,
            state: g.state.name(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            // Kafka reports the protocol only once the group is Stable.
            protocol: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            generation_id: g.generation,
            leader: g.leader.clone().unwrap_or_default(),
            members: ms
                .into_iter()
                .map(|m| DescribedMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata_for(&protocol)
                    } else {
                        Vec::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
        }
    }

    /// ListGroups: every group, or those in one of `states` (Kafka's names,
    /// any case) when it is not empty.
    pub fn list(&self, states: &[String]) -> Vec<ListedGroup> {
        self.groups
            .values()
            .filter(|g| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state.name()))
            })
            .map(|g| ListedGroup {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state.name(),
            })
            .collect()
    }

    /// DeleteGroups: removes each Empty group with its offsets (tombstones
    /// in `__consumer_offsets`); NON_EMPTY_GROUP or GROUP_ID_NOT_FOUND
    /// otherwise. One result per group, in order.
    pub fn delete_groups(&mut self, groups: &[String], now: i64) -> Vec<(String, ErrorCode)> {
        let mut out = Vec::with_capacity(groups.len());
        for id in groups {
            let error = match self.groups.get(id) {
                None => ErrorCode::GroupIdNotFound,
                Some(g) if g.state != GroupState::Empty => ErrorCode::NonEmptyGroup,
                Some(g) => {
                    let mut records: Vec<Record> = g
                        .offsets
                        .keys()
                        .map(|(t, p)| offset_record(id, t, *p, None))
                        .collect();
                    records.push((
                        RecordKey::GroupMetadata { group: id.clone() }.encode(),
                        None,
                    ));
                    match self.write(&records) {
                        Ok(()) => {
                            self.groups.remove(id);
                            ErrorCode::None
                        }
                        Err(e) => e,
                    }
                }
            };
            out.push((id.clone(), error));
        }
        let _ = now;
        out
    }

    /// OffsetDelete: removes the committed offsets of `partitions` (topic,
    /// partition) in one write. An active consumer group keeps those of the
    /// topics it subscribes to (GROUP_SUBSCRIBED_TO_TOPIC for them); an
    /// unknown group is GROUP_ID_NOT_FOUND and an active group of another
    /// protocol NON_EMPTY_GROUP, for the whole request.
    pub fn delete_offsets(
        &mut self,
        group: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<PartitionResult>, ErrorCode> {
        let g = self.groups.get(group).ok_or(ErrorCode::GroupIdNotFound)?;
        if g.state != GroupState::Empty && g.protocol_type.as_deref() != Some("consumer") {
            return Err(ErrorCode::NonEmptyGroup);
        }
        let mut results = Vec::with_capacity(partitions.len());
        let mut records = Vec::new();
        let mut gone = Vec::new();
        for (t, p) in partitions {
            let error = if g.state != GroupState::Empty && g.subscribed_to(t) {
                ErrorCode::GroupSubscribedToTopic
            } else {
                if g.offsets.contains_key(&(t.clone(), *p)) {
                    records.push(offset_record(group, t, *p, None));
                    gone.push((t.clone(), *p));
                }
                ErrorCode::None
            };
            results.push(PartitionResult {
                topic: t.clone(),
                partition: *p,
                error,
            });
        }
        self.write(&records)?;
        if let Some(g) = self.groups.get_mut(group) {
            for k in gone {
                g.offsets.remove(&k);
            }
        }
        Ok(results)
    }

    /// Answers every waiting JoinGroup/SyncGroup (the coordinator is
    /// closing): clients retry elsewhere or fail, nobody waits forever.
    pub fn shutdown(&mut self) {
        for g in self.groups.values_mut() {
            for m in g.members.values_mut() {
                if let Some(cb) = m.join_cb.take() {
                    let id = m.id.clone();
                    self.outbox.push(Box::new(move || {
                        cb(JoinResponse::error(ErrorCode::CoordinatorNotAvailable, &id))
                    }));
                }
                if let Some(cb) = m.sync_cb.take() {
                    self.outbox.push(Box::new(move || {
                        cb(SyncResponse::error(ErrorCode::CoordinatorNotAvailable))
                    }));
                }
            }
        }
    }

    // ---- introspection (tests, describe) ----

    /// The group's state, None when unknown.
    pub fn state(&self, group: &str) -> Option<GroupState> {
        self.groups.get(group).map(|g| g.state)
    }

    /// The group's current generation, None when unknown.
    pub fn generation(&self, group: &str) -> Option<i32> {
        self.groups.get(group).map(|g| g.generation)
    }

    /// The ids of the group's members (none when unknown).
    pub fn member_ids(&self, group: &str) -> Vec<String> {
        self.groups
            .get(group)
            .map(|g| g.members.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every group the manager holds.
    pub fn group_ids(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }
}

enum SyncOutcome {
    Now(SyncResponse),
    Wait {
        group: String,
        member: String,
        leader_write: Option<Record>,
    },
}
