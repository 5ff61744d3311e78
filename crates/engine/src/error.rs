//! Typed errors. Every failure the engine can report is one variant here, with
//! a stable `code()` that the Node binding turns into a JS error class.

use std::io;
use std::path::PathBuf;

use crate::batch::BatchError;

/// The engine's result type: every fallible call returns an [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine, one variant per cause, so
/// callers (the binding, the broker) can map each to the right Kafka error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A caller passed a value the engine cannot use; nothing was written.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A topic config value is out of bounds or malformed.
    #[error("invalid config `{key}`: {reason}")]
    InvalidConfig {
        /// The Kafka config key.
        key: String,
        /// What is wrong with its value.
        reason: String,
    },

    /// An appended batch is not valid RecordBatch v2; nothing was written.
    #[error("invalid record batch: {0}")]
    InvalidBatch(#[from] BatchError),

    /// A batch exceeds the topic's `max.message.bytes`.
    #[error("batch of {size_bytes} bytes is larger than max.message.bytes ({max_bytes})")]
    MessageTooLarge {
        /// The batch's size.
        size_bytes: usize,
        /// The topic's limit.
        max_bytes: usize,
    },

    /// No such topic, or no such partition of it.
    #[error("unknown topic or partition: {topic}-{partition}")]
    UnknownTopicOrPartition {
        /// The topic asked for.
        topic: String,
        /// The partition asked for (0 when the topic itself is unknown).
        partition: u32,
    },

    /// `create_topic` of a name that is taken.
    #[error("topic `{0}` already exists")]
    TopicExists(String),

    /// A read or lookup outside the partition's readable range.
    #[error("offset {offset} is out of range for {topic}-{partition}: valid offsets are {log_start_offset}..={high_watermark}")]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The offset asked for.
        offset: i64,
        /// The first readable offset.
        log_start_offset: u64,
        /// The offset after the last readable one.
        high_watermark: u64,
    },

    /// Bytes read from disk are not what the engine wrote: where and why,
    /// so an operator can find the file.
    #[error("corrupt data in {path} at byte {position}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte position in it.
        position: u64,
        /// What check failed.
        reason: String,
    },

    /// A system call failed; retrying may succeed (see `is_retriable`).
    #[error("{op} failed on {path}: {source}")]
    Io {
        /// What the engine was doing.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// An fsync failed earlier, so the partition refuses writes until the
    /// log is reopened and recovered (the page cache may hold lost data).
    #[error("{topic}-{partition} refuses writes: an earlier fsync failed ({reason}); data after the last successful fsync may not be on disk, so reopen the log to recover")]
    FsyncFailed {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The first failure's message.
        reason: String,
    },

    /// Another process holds the data directory's lock.
    #[error("data directory {path} is locked by another process{holder}")]
    Locked {
        /// The data directory.
        path: PathBuf,
        /// Who holds it (pid), when known, as a message suffix.
        holder: String,
    },

    /// The engine (or the partition) was closed.
    #[error("the log is closed")]
    Closed,

    /// An idempotent producer's batch skips or repeats sequence numbers
    /// (other than an exact retry, which is deduplicated).
    #[error("out of order sequence for producer {producer_id} on {topic}-{partition}: expected {expected}, got {got}")]
    OutOfOrderSequence {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The idempotent producer.
        producer_id: i64,
        /// The sequence the engine expected next.
        expected: i32,
        /// The batch's base sequence.
        got: i32,
    },

    /// An idempotent producer's batch carries an older epoch: a newer
    /// instance of the producer exists, so this one is fenced.
    #[error("producer {producer_id} epoch {epoch} is fenced on {topic}-{partition}: the current epoch is {current}")]
    InvalidProducerEpoch {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The idempotent producer.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The newest epoch seen for the producer.
        current: i16,
    },

    /// A write to an engine opened read-only.
    #[error("read-only: {0}")]
    ReadOnly(String),

    /// A batch that no segment of the topic could hold.
    #[error("a partition of {topic} is full: segment of {size_bytes} bytes cannot take a {batch_bytes}-byte batch")]
    SegmentFull {
        /// The topic.
        topic: String,
        /// The segment's size limit.
        size_bytes: u64,
        /// The batch's size.
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
