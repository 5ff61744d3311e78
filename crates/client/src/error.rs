//! One error type for the client. Kafka's own error codes are kept as numbers
//! so that the layer above maps them once (to kafkajs classes in TypeScript).

use std::fmt;

/// Kafka error codes the client itself reacts to (retries, refreshes).
pub mod codes {
    /// No error.
    pub const NONE: i16 = 0;
    /// The broker failed unexpectedly. The client also reports it for an outcome it
    /// cannot name: an item missing from a response, and the
    /// [`Error::code`](super::Error::code) of a config, protocol or TLS error.
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    /// Fetch: the offset is below the log start or past the high watermark (the caller
    /// resets it; never retried here).
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    /// Produce: the batch failed the broker's CRC or framing checks.
    pub const CORRUPT_MESSAGE: i16 = 2;
    /// No such topic or partition on this broker: stale metadata, refreshed and retried
    /// (see [`is_metadata_error`](super::is_metadata_error)).
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    /// The partition has no leader right now (an election in progress): refreshed and
    /// retried.
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    /// The broker no longer leads the partition: refreshed and retried.
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    /// The broker (or, for acks -1, its replicas) did not finish in the request's
    /// timeout; also [`Error::Timeout`](super::Error::Timeout)'s code. Produce retries it.
    pub const REQUEST_TIMED_OUT: i16 = 7;
    /// Produce: the batch is over the topic's `max.message.bytes` (never retried).
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    /// The connection broke; [`Error::Connection`](super::Error::Connection)'s code.
    /// Retried after a metadata refresh.
    pub const NETWORK_EXCEPTION: i16 = 13;
    /// The group coordinator is still loading its offsets: retried (see
    /// [`is_coordinator_error`](super::is_coordinator_error)).
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    /// No coordinator for the group yet: it is found again and the call retried.
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    /// The broker no longer coordinates the group: it is found again and the call
    /// retried.
    pub const NOT_COORDINATOR: i16 = 16;
    /// Produce with acks -1: fewer in-sync replicas than `min.insync.replicas`, nothing
    /// written; retried.
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    /// Produce with acks -1: written by the leader but too few replicas caught up in
    /// time; retried (same sequence, so no duplicate for an idempotent producer).
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
    /// No version of the API in common with the broker;
    /// [`Error::UnsupportedVersion`](super::Error::UnsupportedVersion)'s code.
    pub const UNSUPPORTED_VERSION: i16 = 35;
    /// An admin request reached a broker that is not the controller: metadata refreshed
    /// and the request sent again.
    pub const NOT_CONTROLLER: i16 = 41;
    /// Idempotent produce: the batch's sequence is not the next one the broker expects
    /// for the producer (a gap: earlier batches lost); not retried.
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    /// Idempotent produce: the broker already has the batch; the client reports it as
    /// success ([`NONE`], offset unknown).
    pub const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;
    /// Idempotent produce: a newer epoch of the producer id exists (this producer is
    /// fenced).
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    /// Wrong credentials or mechanism;
    /// [`Error::Authentication`](super::Error::Authentication)'s code.
    pub const SASL_AUTHENTICATION_FAILED: i16 = 58;
    /// The partition's log directory is offline on that broker: refreshed and retried.
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    /// The request's leader epoch is older than the broker's: refreshed and retried.
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    /// The request's leader epoch is newer than the broker's: refreshed and retried.
    pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
    /// JoinGroup without a member id (KIP-394): the answer carries one and the join is
    /// sent again with it.
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    /// A request by topic id (Produce or Fetch v13+) names an id the broker does not
    /// know: refreshed and retried.
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    /// The topic id does not match the topic's name on the broker (recreated topic):
    /// refreshed and retried.
    pub const INCONSISTENT_TOPIC_ID: i16 = 103;
}

/// Whether a partition-level error means "the metadata is stale: refresh and try again".
pub fn is_metadata_error(code: i16) -> bool {
    use codes::*;
    matches!(
        code,
        UNKNOWN_TOPIC_OR_PARTITION
            | LEADER_NOT_AVAILABLE
            | NOT_LEADER_OR_FOLLOWER
            | FENCED_LEADER_EPOCH
            | UNKNOWN_LEADER_EPOCH
            | KAFKA_STORAGE_ERROR
            | UNKNOWN_TOPIC_ID
            | INCONSISTENT_TOPIC_ID
            | NETWORK_EXCEPTION
    )
}

/// Whether a produce error is worth retrying (the same batch, same sequence).
pub fn is_retriable_produce(code: i16) -> bool {
    use codes::*;
    is_metadata_error(code)
        || matches!(
            code,
            REQUEST_TIMED_OUT | NOT_ENOUGH_REPLICAS | NOT_ENOUGH_REPLICAS_AFTER_APPEND
        )
}

/// Whether a group-API error means "find the coordinator again".
pub fn is_coordinator_error(code: i16) -> bool {
    use codes::*;
    matches!(
        code,
        COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR
    )
}

/// Why a client call failed. Per-partition and per-item outcomes are not errors:
/// they come back as Kafka error codes in the results; this is for the call itself.
/// [`Error::code`] gives the nearest Kafka code, [`Error::is_retriable`] whether
/// trying again may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad configuration or arguments (never retried).
    Config(String),
    /// Could not connect, or the connection broke (retriable: the client reconnects).
    Connection(String),
    /// No answer within the request timeout.
    Timeout(String),
    /// The peer sent bytes that do not decode, or a frame over the limit.
    Protocol(String),
    /// The broker supports no version of this API that the client speaks.
    UnsupportedVersion {
        /// The Kafka API key (e.g. 10 FindCoordinator).
        api_key: i16,
    },
    /// A request-level Kafka error code.
    Kafka {
        /// Kafka's error code (see [`codes`]), never 0.
        code: i16,
        /// The broker's error message, or what the client was doing.
        message: String,
    },
    /// SASL authentication failed.
    Authentication(String),
    /// TLS setup or handshake failed.
    Tls(String),
}

impl Error {
    /// An [`Error::Kafka`] with this code and message.
    pub(crate) fn kafka(code: i16, message: impl Into<String>) -> Self {
        Error::Kafka {
            code,
            message: message.into(),
        }
    }

    /// The Kafka error code closest to this error, for per-partition results.
    pub fn code(&self) -> i16 {
        match self {
            Error::Kafka { code, .. } => *code,
            Error::Connection(_) => codes::NETWORK_EXCEPTION,
            Error::Timeout(_) => codes::REQUEST_TIMED_OUT,
            Error::UnsupportedVersion { .. } => codes::UNSUPPORTED_VERSION,
            Error::Authentication(_) => codes::SASL_AUTHENTICATION_FAILED,
            _ => codes::UNKNOWN_SERVER_ERROR,
        }
    }

    /// Whether trying again (after a metadata refresh) may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Connection(_) | Error::Timeout(_) => true,
            Error::Kafka { code, .. } => {
                is_retriable_produce(*code)
                    || is_coordinator_error(*code)
                    || *code == codes::NOT_CONTROLLER
            }
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(m) => write!(f, "invalid configuration: {m}"),
            Error::Connection(m) => write!(f, "connection error: {m}"),
            Error::Timeout(m) => write!(f, "request timed out: {m}"),
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::UnsupportedVersion { api_key } => {
                write!(f, "the broker supports no common version of API {api_key}")
            }
            Error::Kafka { code, message } => write!(f, "kafka error {code}: {message}"),
            Error::Authentication(m) => write!(f, "authentication failed: {m}"),
            Error::Tls(m) => write!(f, "tls error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// The client's result type: every fallible call returns [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
