//! The one table from engine errors to Kafka error codes, and the codes the
//! handlers use by name.

use ferrolog_engine::batch::BatchError;
use ferrolog_engine::Error;

pub const NONE: i16 = 0;
pub const UNKNOWN_SERVER_ERROR: i16 = -1;
pub const OFFSET_OUT_OF_RANGE: i16 = 1;
pub const CORRUPT_MESSAGE: i16 = 2;
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub const MESSAGE_TOO_LARGE: i16 = 10;
pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
pub const RECORD_LIST_TOO_LARGE: i16 = 18;
pub const INVALID_REQUIRED_ACKS: i16 = 21;
pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
pub const UNSUPPORTED_VERSION: i16 = 35;
pub const TOPIC_ALREADY_EXISTS: i16 = 36;
pub const INVALID_PARTITIONS: i16 = 37;
pub const INVALID_REPLICATION_FACTOR: i16 = 38;
pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
pub const INVALID_CONFIG: i16 = 40;
pub const INVALID_REQUEST: i16 = 42;
pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
pub const INVALID_PRODUCER_EPOCH: i16 = 47;
pub const KAFKA_STORAGE_ERROR: i16 = 56;
pub const SASL_AUTHENTICATION_FAILED: i16 = 58;
pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
pub const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;
pub const INVALID_RECORD: i16 = 87;
pub const UNKNOWN_TOPIC_ID: i16 = 100;
pub const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;

/// The Kafka error code for an engine error.
pub fn code_of(e: &Error) -> i16 {
    match e {
        Error::InvalidArgument(_) => INVALID_REQUEST,
        Error::InvalidConfig { .. } => INVALID_CONFIG,
        Error::InvalidBatch(b) => match b {
            BatchError::UnknownCompression { .. } => UNSUPPORTED_COMPRESSION_TYPE,
            // Kafka refuses transactional batches without a transaction
            // coordinator; INVALID_RECORD is what its validator answers
            // for a batch the log will not take.
            BatchError::Transactional | BatchError::BadRecord { .. } => INVALID_RECORD,
            _ => CORRUPT_MESSAGE,
        },
        Error::MessageTooLarge { .. } => MESSAGE_TOO_LARGE,
        Error::SegmentFull { .. } => RECORD_LIST_TOO_LARGE,
        Error::UnknownTopicOrPartition { .. } => UNKNOWN_TOPIC_OR_PARTITION,
        Error::TopicExists(_) => TOPIC_ALREADY_EXISTS,
        Error::OffsetOutOfRange { .. } => OFFSET_OUT_OF_RANGE,
        Error::OutOfOrderSequence { .. } => OUT_OF_ORDER_SEQUENCE_NUMBER,
        Error::InvalidProducerEpoch { .. } => INVALID_PRODUCER_EPOCH,
        Error::Corrupt { .. } | Error::Io { .. } | Error::FsyncFailed { .. } => KAFKA_STORAGE_ERROR,
        // The engine is closing: clients retry elsewhere (there is no
        // elsewhere, so they retry here and get a closed socket).
        Error::Closed | Error::Locked { .. } | Error::ReadOnly(_) => UNKNOWN_SERVER_ERROR,
        // The engine's error type is non-exhaustive: a code added there
        // without a row here is still an error to the client.
        _ => UNKNOWN_SERVER_ERROR,
    }
}

/// Where Kafka would give an error message, ours is the engine's text.
pub fn message_of(e: &Error) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_maps_the_produce_errors() {
        assert_eq!(
            code_of(&Error::UnknownTopicOrPartition {
                topic: "t".into(),
                partition: 0
            }),
            UNKNOWN_TOPIC_OR_PARTITION
        );
        assert_eq!(
            code_of(&Error::InvalidBatch(BatchError::CrcMismatch {
                stored: 1,
                computed: 2
            })),
            CORRUPT_MESSAGE
        );
        assert_eq!(
            code_of(&Error::MessageTooLarge {
                size_bytes: 2,
                max_bytes: 1
            }),
            MESSAGE_TOO_LARGE
        );
        assert_eq!(
            code_of(&Error::OutOfOrderSequence {
                topic: "t".into(),
                partition: 0,
                producer_id: 1,
                expected: 1,
                got: 3
            }),
            OUT_OF_ORDER_SEQUENCE_NUMBER
        );
    }
}
