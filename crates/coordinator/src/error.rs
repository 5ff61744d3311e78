//! Kafka's numeric error codes for the group APIs (the broker puts them on
//! the wire as they are; the binding maps them to kafkajs's error classes).

/// The group APIs' outcomes, numbered as Kafka numbers them so they go on
/// the wire unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
pub enum ErrorCode {
    /// Success.
    None = 0,
    /// An internal failure (the offsets topic could not be written).
    UnknownServerError = -1,
    /// A commit's metadata string is longer than the limit.
    OffsetMetadataTooLarge = 12,
    /// The group's state is still being replayed; retry.
    CoordinatorLoadInProgress = 14,
    /// The coordinator is closed or not started; retry elsewhere or later.
    CoordinatorNotAvailable = 15,
    /// This node does not coordinate the group; find the coordinator again.
    NotCoordinator = 16,
    /// The member's generation is not the group's: it missed a rebalance.
    IllegalGeneration = 22,
    /// The member's protocol type or protocols share nothing with the group's.
    InconsistentGroupProtocol = 23,
    /// The group id is empty or otherwise unusable.
    InvalidGroupId = 24,
    /// The member id is not (or no longer) in the group; rejoin.
    UnknownMemberId = 25,
    /// The session timeout is outside the coordinator's bounds.
    InvalidSessionTimeout = 26,
    /// The group is rebalancing; rejoin.
    RebalanceInProgress = 27,
    /// A commit's offsets could not all be stored.
    InvalidCommitOffsetSize = 28,
    /// The group has members, so it cannot be deleted.
    NonEmptyGroup = 68,
    /// No such group.
    GroupIdNotFound = 69,
    /// A first join without a member id: rejoin with the id handed out.
    MemberIdRequired = 79,
    /// The group is at its member limit.
    GroupMaxSizeReached = 81,
    /// Another instance with the same `group.instance.id` replaced this one.
    FencedInstanceId = 82,
    /// Offsets of a topic the group still consumes cannot be deleted.
    GroupSubscribedToTopic = 86,
    /// Offsets are being committed in a pending transaction; retry.
    UnstableOffsetCommit = 88,
}

impl ErrorCode {
    /// The wire value.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// Kafka's name for the code (`UNKNOWN_MEMBER_ID`, ...), as kafkajs
    /// reports it in `KafkaJSProtocolError.type`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::None => "NONE",
            ErrorCode::UnknownServerError => "UNKNOWN_SERVER_ERROR",
            ErrorCode::OffsetMetadataTooLarge => "OFFSET_METADATA_TOO_LARGE",
            ErrorCode::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            ErrorCode::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            ErrorCode::NotCoordinator => "NOT_COORDINATOR",
            ErrorCode::IllegalGeneration => "ILLEGAL_GENERATION",
            ErrorCode::InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            ErrorCode::InvalidGroupId => "INVALID_GROUP_ID",
            ErrorCode::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            ErrorCode::InvalidSessionTimeout => "INVALID_SESSION_TIMEOUT",
            ErrorCode::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            ErrorCode::InvalidCommitOffsetSize => "INVALID_COMMIT_OFFSET_SIZE",
            ErrorCode::NonEmptyGroup => "NON_EMPTY_GROUP",
            ErrorCode::GroupIdNotFound => "GROUP_ID_NOT_FOUND",
            ErrorCode::MemberIdRequired => "MEMBER_ID_REQUIRED",
            ErrorCode::GroupMaxSizeReached => "GROUP_MAX_SIZE_REACHED",
            ErrorCode::FencedInstanceId => "FENCED_INSTANCE_ID",
            ErrorCode::GroupSubscribedToTopic => "GROUP_SUBSCRIBED_TO_TOPIC",
            ErrorCode::UnstableOffsetCommit => "UNSTABLE_OFFSET_COMMIT",
        }
    }

    /// Whether a client retries after it (kafkajs's `retriable`).
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            ErrorCode::CoordinatorLoadInProgress
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::NotCoordinator
                | ErrorCode::RebalanceInProgress
                | ErrorCode::UnstableOffsetCommit
        )
    }
}
