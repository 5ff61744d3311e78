//! One error type for the client. Kafka's own error codes are kept as numbers
//! so that the layer above maps them once (to kafkajs classes in TypeScript).

use std::fmt;

/// Kafka error codes the client itself reacts to (retries, refreshes).
pub mod codes {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const NETWORK_EXCEPTION: i16 = 13;
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const NOT_CONTROLLER: i16 = 41;
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const SASL_AUTHENTICATION_FAILED: i16 = 58;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
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
    UnsupportedVersion { api_key: i16 },
    /// A request-level Kafka error code.
    Kafka { code: i16, message: String },
    /// SASL authentication failed.
    Authentication(String),
    /// TLS setup or handshake failed.
    Tls(String),
}

impl Error {
    pub fn kafka(code: i16, message: impl Into<String>) -> Self {
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

pub type Result<T> = std::result::Result<T, Error>;
