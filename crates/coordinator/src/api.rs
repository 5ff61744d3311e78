//! Requests and responses of the group APIs, shaped as Kafka's (the broker
//! copies fields to and from kafka-protocol's messages; the binding to JS
//! objects), without any wire encoding.

use crate::error::ErrorCode;

/// Called once with a JoinGroup's answer, from whichever thread completes
/// the join (the caller's, the timer's, or another member's request).
pub type JoinCallback = Box<dyn FnOnce(JoinResponse) + Send>;
/// Called once with a SyncGroup's answer, from the caller's thread or from
/// the leader's SyncGroup that completes it.
pub type SyncCallback = Box<dyn FnOnce(SyncResponse) + Send>;

/// A JoinGroup request (any version; fields a version lacks take Kafka's
/// defaults).
#[derive(Debug, Clone, Default)]
pub struct JoinRequest {
    /// The group to join; must not be empty (INVALID_GROUP_ID).
    pub group_id: String,
    /// Empty for a member joining for the first time.
    pub member_id: String,
    /// A static member's `group.instance.id` (JoinGroup v5+); its member id
    /// survives restarts within the session timeout.
    pub group_instance_id: Option<String>,
    /// The protocol family, "consumer" for consumers; every member of a
    /// group must share it (INCONSISTENT_GROUP_PROTOCOL).
    pub protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Vec<u8>)>,
    /// How long the member may go without a heartbeat before it is removed,
    /// in ms; within the configured min and max (INVALID_SESSION_TIMEOUT).
    pub session_timeout_ms: i32,
    /// -1 (JoinGroup v0) means the session timeout.
    pub rebalance_timeout_ms: i32,
    /// The client's `client.id`, shown by DescribeGroups.
    pub client_id: String,
    /// The client's address as Kafka shows it ("/127.0.0.1"), shown by
    /// DescribeGroups.
    pub client_host: String,
    /// JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED
    /// with its id, and joins again with it.
    pub require_known_member_id: bool,
    /// A member in the coordinator's own process (through the binding, not
    /// the broker): its session may be as short as
    /// `Config::in_process_min_session_timeout_ms`.
    pub in_process: bool,
}

/// One member as the leader's JoinGroup answer lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinMember {
    /// The member's id in the group.
    pub member_id: String,
    /// Its `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// Its metadata for the protocol the group chose (the assignor's input).
    pub metadata: Vec<u8>,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResponse {
    /// NONE, or why the member did not join (it may retry on some).
    pub error: ErrorCode,
    /// The generation the member joined, -1 on error.
    pub generation_id: i32,
    /// The group's protocol family (JoinGroup v7+), None on error.
    pub protocol_type: Option<String>,
    /// The protocol (assignor) every member supports and the group chose.
    pub protocol_name: Option<String>,
    /// The leader's member id: the member that computes the assignment.
    pub leader: String,
    /// A static leader that rejoined without a rebalance: it must not run
    /// the assignor again (JoinGroup v9).
    pub skip_assignment: bool,
    /// The member's id, assigned by the coordinator on a first join.
    pub member_id: String,
    /// Every member with its metadata for the chosen protocol, for the
    /// leader only; empty for the others.
    pub members: Vec<JoinMember>,
}

impl JoinResponse {
    /// An answer carrying only `error`, for `member_id`.
    pub fn error(error: ErrorCode, member_id: &str) -> JoinResponse {
        JoinResponse {
            error,
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.to_string(),
            members: Vec::new(),
        }
    }
}

/// A SyncGroup request: every member sends one after joining; the
/// leader's carries the assignment.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    /// The group.
    pub group_id: String,
    /// The generation the member joined (ILLEGAL_GENERATION otherwise).
    pub generation_id: i32,
    /// The member's id.
    pub member_id: String,
    /// Its `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// SyncGroup v5+: checked against the group's (INCONSISTENT_GROUP_PROTOCOL).
    pub protocol_type: Option<String>,
    /// SyncGroup v5+: checked against the group's chosen protocol.
    pub protocol_name: Option<String>,
    /// The leader's assignment: (member id, assignment bytes).
    pub assignments: Vec<(String, Vec<u8>)>,
}

/// A SyncGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResponse {
    /// NONE, or why there is no assignment (REBALANCE_IN_PROGRESS: join again).
    pub error: ErrorCode,
    /// The group's protocol family (SyncGroup v5+).
    pub protocol_type: Option<String>,
    /// The group's chosen protocol (SyncGroup v5+).
    pub protocol_name: Option<String>,
    /// This member's assignment bytes, as the leader gave them; empty on error.
    pub assignment: Vec<u8>,
}

impl SyncResponse {
    /// An answer carrying only `error`.
    pub fn error(error: ErrorCode) -> SyncResponse {
        SyncResponse {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Vec::new(),
        }
    }
}

/// A Heartbeat request: keeps the member's session alive and learns of a
/// rebalance (REBALANCE_IN_PROGRESS).
#[derive(Debug, Clone, Default)]
pub struct HeartbeatRequest {
    /// The group.
    pub group_id: String,
    /// The generation the member is in (ILLEGAL_GENERATION otherwise).
    pub generation_id: i32,
    /// The member's id.
    pub member_id: String,
    /// Its `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
}

/// One member a LeaveGroup request removes (v3+ removes several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveMember {
    /// Empty when only the instance id is known (LeaveGroup v3+).
    pub member_id: String,
    /// The static member's `group.instance.id`, if any.
    pub group_instance_id: Option<String>,
}

/// The outcome for one [`LeaveMember`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveResult {
    /// The member's id as asked (empty when asked by instance id).
    pub member_id: String,
    /// The instance id as asked.
    pub group_instance_id: Option<String>,
    /// NONE, or UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID.
    pub error: ErrorCode,
}

/// One partition's offset to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset to consume (Kafka's convention: last processed + 1).
    pub offset: i64,
    /// The leader epoch of the last consumed record, -1 when unknown.
    pub leader_epoch: i32,
    /// Free text kept with the offset, at most `Config::offset_metadata_max_bytes`
    /// (OFFSET_METADATA_TOO_LARGE).
    pub metadata: Option<String>,
}

/// An OffsetCommit request.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    /// The group the offsets belong to.
    pub group_id: String,
    /// -1 with an empty member id: a commit outside group management
    /// (Kafka's "simple consumer"), accepted only while the group is empty.
    pub generation_id: i32,
    /// The committing member, or empty (see `generation_id`).
    pub member_id: String,
    /// Its `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// The offsets, written as one batch to `__consumer_offsets`.
    pub offsets: Vec<CommitOffset>,
}

/// One partition's outcome of an OffsetCommit or OffsetDelete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionResult {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// NONE, or why this partition's offset was not written or deleted.
    pub error: ErrorCode,
}

/// One partition's committed offset, as OffsetFetch answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// -1 when nothing is committed.
    pub offset: i64,
    /// The leader epoch committed with it, -1 when unknown or none.
    pub leader_epoch: i32,
    /// The metadata committed with it, empty when none.
    pub metadata: String,
    /// When it was committed, in ms since the epoch (-1 when none); offsets
    /// expire `Config::offsets_retention_ms` after the group empties.
    pub commit_timestamp: i64,
}

/// One member as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedMember {
    /// The member's id.
    pub member_id: String,
    /// Its `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// The `client.id` it joined with.
    pub client_id: String,
    /// The address it joined from.
    pub client_host: String,
    /// The member's metadata for the group's protocol; empty unless the
    /// group is Stable.
    pub metadata: Vec<u8>,
    /// Its assignment from the last SyncGroup; empty unless the group is
    /// Stable.
    pub assignment: Vec<u8>,
}

/// One group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group.
    pub group_id: String,
    /// False for a group the coordinator does not know (state "Dead").
    pub found: bool,
    /// Kafka's state name: Empty, PreparingRebalance, CompletingRebalance,
    /// Stable or Dead.
    pub state: &'static str,
    /// The protocol family, empty when the group has no members.
    pub protocol_type: String,
    /// The chosen protocol (assignor); empty unless the group is Stable, as
    /// Kafka reports it.
    pub protocol: String,
    /// The current generation: 0 for a new group, -1 when not found.
    pub generation_id: i32,
    /// The leader's member id, empty when none.
    pub leader: String,
    /// The members, in the order they first joined.
    pub members: Vec<DescribedMember>,
}

/// One group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    /// The group.
    pub group_id: String,
    /// Its protocol family, empty when it has no members.
    pub protocol_type: String,
    /// Kafka's state name (see [`GroupDescription::state`]).
    pub state: &'static str,
}
