//! Typed errors. Every failure the engine can report is one variant here, with
//! a stable `code()` that the Node binding turns into a JS error class.

use std::io;
use std::path::PathBuf;

use crate::batch::BatchError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error("invalid config `{key}`: {reason}")]
    InvalidConfig { key: String, reason: String },

    #[error("invalid record batch: {0}")]
    InvalidBatch(#[from] BatchError),

    #[error("batch of {size_bytes} bytes is larger than max.message.bytes ({max_bytes})")]
    MessageTooLarge { size_bytes: usize, max_bytes: usize },

    #[error("unknown topic or partition: {topic}-{partition}")]
    UnknownTopicOrPartition { topic: String, partition: u32 },

    #[error("topic `{0}` already exists")]
    TopicExists(String),

    #[error("offset {offset} is out of range for {topic}-{partition}: valid offsets are {log_start_offset}..={high_watermark}")]
    OffsetOutOfRange {
        topic: String,
        partition: u32,
        offset: i64,
        log_start_offset: u64,
        high_watermark: u64,
    },

    #[error("corrupt data in {path} at byte {position}: {reason}")]
    Corrupt {
        path: PathBuf,
        position: u64,
        reason: String,
    },

    #[error("{op} failed on {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{topic}-{partition} refuses writes: an earlier fsync failed ({reason}); data after the last successful fsync may not be on disk, so reopen the log to recover")]
    FsyncFailed {
        topic: String,
        partition: u32,
        reason: String,
    },

    #[error("data directory {path} is locked by another process{holder}")]
    Locked { path: PathBuf, holder: String },

    #[error("the log is closed")]
    Closed,

    #[error("out of order sequence for producer {producer_id} on {topic}-{partition}: expected {expected}, got {got}")]
    OutOfOrderSequence {
        topic: String,
        partition: u32,
        producer_id: i64,
        expected: i32,
        got: i32,
    },

    #[error("producer {producer_id} epoch {epoch} is fenced on {topic}-{partition}: the current epoch is {current}")]
    InvalidProducerEpoch {
        topic: String,
        partition: u32,
        producer_id: i64,
        epoch: i16,
        current: i16,
    },

    #[error("read-only: {0}")]
    ReadOnly(String),

    #[error("a partition of {topic} is full: segment of {size_bytes} bytes cannot take a {batch_bytes}-byte batch")]
    SegmentFull {
        topic: String,
        size_bytes: u64,
        batch_bytes: usize,
    },
}

impl Error {
    /// A stable, machine-readable code for each variant. The Node layer maps
    /// these onto kafkajs error classes; keep them unchanged once published.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "ERR_INVALID_ARGUMENT",
            Error::InvalidConfig { .. } => "ERR_INVALID_CONFIG",
            Error::InvalidBatch(_) => "ERR_INVALID_BATCH",
            Error::MessageTooLarge { .. } => "ERR_MESSAGE_TOO_LARGE",
            Error::UnknownTopicOrPartition { .. } => "ERR_UNKNOWN_TOPIC_OR_PARTITION",
            Error::TopicExists(_) => "ERR_TOPIC_EXISTS",
            Error::OffsetOutOfRange { .. } => "ERR_OFFSET_OUT_OF_RANGE",
            Error::Corrupt { .. } => "ERR_CORRUPT",
            Error::Io { .. } => "ERR_IO",
            Error::FsyncFailed { .. } => "ERR_FSYNC_FAILED",
            Error::Locked { .. } => "ERR_LOCKED",
            Error::Closed => "ERR_CLOSED",
            Error::SegmentFull { .. } => "ERR_SEGMENT_FULL",
            Error::OutOfOrderSequence { .. } => "ERR_OUT_OF_ORDER_SEQUENCE",
            Error::InvalidProducerEpoch { .. } => "ERR_INVALID_PRODUCER_EPOCH",
            Error::ReadOnly(_) => "ERR_READ_ONLY",
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        position: u64,
        reason: impl Into<String>,
    ) -> Error {
        Error::Corrupt {
            path: path.into(),
            position,
            reason: reason.into(),
        }
    }

    /// True when retrying the same call later may succeed (kafkajs' `retriable`).
    pub fn is_retriable(&self) -> bool {
        matches!(self, Error::Io { .. } | Error::Locked { .. })
    }
}
