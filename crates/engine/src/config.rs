//! Per-topic configuration, named after Kafka's topic configs.

use serde::{Deserialize, Serialize};

use crate::batch::HEADER_BYTES;
use crate::error::{Error, Result};

pub const SEGMENT_BYTES_DEFAULT: u64 = 1 << 30;
/// Positions in `.index` are int32, and Node 20 caps an ArrayBuffer at
/// 4 GiB, so a segment never grows past 2 GiB - 1.
pub const SEGMENT_BYTES_MAX: u64 = i32::MAX as u64;
/// Small enough for tests that want many segments, large enough to hold a
/// few batches.
pub const SEGMENT_BYTES_MIN: u64 = 1024;
/// Kafka's default max.message.bytes (1 MiB plus the 12-byte log overhead).
pub const MAX_MESSAGE_BYTES_DEFAULT: u64 = 1_048_588;
pub const INDEX_INTERVAL_BYTES_DEFAULT: u64 = 4096;
pub const SEGMENT_MS_DEFAULT: u64 = 7 * 24 * 3600 * 1000;
pub const RETENTION_MS_DEFAULT: i64 = 7 * 24 * 3600 * 1000;
/// The largest step by which a segment file grows, allocated with fallocate
/// (steps start at 1 MiB and double up to this).
pub const SEGMENT_PREALLOCATE_BYTES_DEFAULT: u64 = 64 << 20;

/// When appended bytes are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum FlushPolicy {
    /// Left to the OS's write-back. An append survives a crash of the
    /// process (the bytes are in the page cache), not of the machine.
    None,
    /// fdatasync after `interval_ms` or `interval_messages`, whichever first
    /// (0 disables that trigger).
    Interval {
        /// Kafka's `flush.ms`: the longest an append waits for its fsync.
        interval_ms: u64,
        /// Kafka's `flush.messages`: appends between fsyncs.
        interval_messages: u64,
    },
    /// fdatasync before the append is acknowledged; concurrent appends share
    /// one fdatasync (group commit).
    Always,
}

/// Kafka's `message.timestamp.type`: which clock a record's timestamp is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimestampType {
    /// The producer's timestamp is kept.
    CreateTime,
    /// The engine stamps each batch with the time of the append.
    LogAppendTime,
}

/// A topic's configuration, in Kafka's topic-config terms; stored in the
/// topic's metadata file so it survives restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicConfig {
    /// `segment.bytes`: roll the active segment before it passes this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll once the active segment's first batch is this old.
    pub segment_ms: u64,
    /// `retention.ms`: delete closed segments whose newest record is older (-1: never).
    pub retention_ms: i64,
    /// `retention.bytes`: delete the oldest closed segments while the
    /// partition is larger than this (-1: never).
    pub retention_bytes: i64,
    /// `max.message.bytes`: the largest batch accepted.
    pub max_message_bytes: u64,
    /// `index.interval.bytes`: bytes of log between two `.index` entries.
    pub index_interval_bytes: u64,
    /// `flush` (with `flush.ms` and `flush.messages` for `interval`).
    pub flush: FlushPolicy,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `segment.preallocate.bytes`: the largest step by which a segment file
    /// grows (steps start at 1 MiB and double up to this).
    pub segment_preallocate_bytes: u64,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            segment_bytes: SEGMENT_BYTES_DEFAULT,
            segment_ms: SEGMENT_MS_DEFAULT,
            retention_ms: RETENTION_MS_DEFAULT,
            retention_bytes: -1,
            max_message_bytes: MAX_MESSAGE_BYTES_DEFAULT,
            index_interval_bytes: INDEX_INTERVAL_BYTES_DEFAULT,
            flush: FlushPolicy::None,
            message_timestamp_type: TimestampType::CreateTime,
            segment_preallocate_bytes: SEGMENT_PREALLOCATE_BYTES_DEFAULT,
        }
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        key: key.to_string(),
        reason: reason.into(),
    }
}

fn parse_u64(key: &str, value: &str) -> Result<u64> {
    value
        .trim()
        .parse::<u64>()
        .map_err(|_| invalid(key, format!("`{value}` is not a non-negative integer")))
}

fn parse_i64(key: &str, value: &str) -> Result<i64> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| invalid(key, format!("`{value}` is not an integer")))
}

/// The config keys `set` understands, for error messages and tools.
pub const CONFIG_KEYS: &[&str] = &[
    "segment.bytes",
    "segment.ms",
    "retention.ms",
    "retention.bytes",
    "max.message.bytes",
    "index.interval.bytes",
    "flush",
    "flush.ms",
    "flush.messages",
    "message.timestamp.type",
    "cleanup.policy",
    "segment.preallocate.bytes",
];

impl TopicConfig {
    /// Sets one config from its Kafka name and string value, as
    /// `configEntries` and the CLI give them. Validates the whole result.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let mut next = self.clone();
        match key {
            "segment.bytes" => next.segment_bytes = parse_u64(key, value)?,
            "segment.ms" => next.segment_ms = parse_u64(key, value)?,
            "retention.ms" => next.retention_ms = parse_i64(key, value)?,
            "retention.bytes" => next.retention_bytes = parse_i64(key, value)?,
            "max.message.bytes" => next.max_message_bytes = parse_u64(key, value)?,
            "index.interval.bytes" => next.index_interval_bytes = parse_u64(key, value)?,
            "segment.preallocate.bytes" => next.segment_preallocate_bytes = parse_u64(key, value)?,
            "flush" => {
                next.flush = match value.trim() {
                    "none" => FlushPolicy::None,
                    "always" => FlushPolicy::Always,
                    "interval" => match next.flush {
                        FlushPolicy::Interval { .. } => next.flush,
                        _ => FlushPolicy::Interval {
                            interval_ms: 1000,
                            interval_messages: 0,
                        },
                    },
                    other => {
                        return Err(invalid(
                            key,
                            format!("`{other}` is not one of none, interval, always"),
                        ))
                    }
                }
            }
            "flush.ms" | "flush.messages" => {
                let n = parse_u64(key, value)?;
                let (mut ms, mut messages) = match next.flush {
                    FlushPolicy::Interval {
                        interval_ms,
                        interval_messages,
                    } => (interval_ms, interval_messages),
                    _ => (0, 0),
                };
                if key == "flush.ms" {
                    ms = n;
                } else {
                    messages = n;
                }
                // Kafka's flush.messages=1 means "fsync every message".
                next.flush = if key == "flush.messages" && n == 1 {
                    FlushPolicy::Always
                } else {
                    FlushPolicy::Interval {
                        interval_ms: ms,
                        interval_messages: messages,
                    }
                };
            }
            "message.timestamp.type" => {
                next.message_timestamp_type = match value.trim() {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    other => {
                        return Err(invalid(
                            key,
                            format!("`{other}` is not CreateTime or LogAppendTime"),
                        ))
                    }
                }
            }
            "cleanup.policy" => {
                if value.trim() != "delete" {
                    return Err(invalid(
                        key,
                        format!("`{value}` is not supported: only `delete` (compaction is not implemented yet)"),
                    ));
                }
            }
            other => {
                return Err(invalid(
                    other,
                    format!("unknown config; known keys are {}", CONFIG_KEYS.join(", ")),
                ))
            }
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// The configs as Kafka-named strings, for describe/admin output.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("segment.bytes", self.segment_bytes.to_string()),
            ("segment.ms", self.segment_ms.to_string()),
            ("retention.ms", self.retention_ms.to_string()),
            ("retention.bytes", self.retention_bytes.to_string()),
            ("max.message.bytes", self.max_message_bytes.to_string()),
            (
                "index.interval.bytes",
                self.index_interval_bytes.to_string(),
            ),
            ("cleanup.policy", "delete".to_string()),
            (
                "message.timestamp.type",
                match self.message_timestamp_type {
                    TimestampType::CreateTime => "CreateTime".to_string(),
                    TimestampType::LogAppendTime => "LogAppendTime".to_string(),
                },
            ),
            (
                "segment.preallocate.bytes",
                self.segment_preallocate_bytes.to_string(),
            ),
        ];
        match self.flush {
            FlushPolicy::None => out.push(("flush", "none".to_string())),
            FlushPolicy::Always => out.push(("flush", "always".to_string())),
            FlushPolicy::Interval {
                interval_ms,
                interval_messages,
            } => {
                out.push(("flush", "interval".to_string()));
                out.push(("flush.ms", interval_ms.to_string()));
                out.push(("flush.messages", interval_messages.to_string()));
            }
        }
        out
    }

    /// Checks every value against the engine's bounds, so a bad config is
    /// an `InvalidConfig` error before anything is created with it.
    pub fn validate(&self) -> Result<()> {
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_bytes) {
            return Err(invalid(
                "segment.bytes",
                format!("must be between {SEGMENT_BYTES_MIN} and {SEGMENT_BYTES_MAX}"),
            ));
        }
        if self.max_message_bytes < HEADER_BYTES as u64
            || self.max_message_bytes > SEGMENT_BYTES_MAX
        {
            return Err(invalid(
                "max.message.bytes",
                format!("must be between {HEADER_BYTES} and {SEGMENT_BYTES_MAX}"),
            ));
        }
        if self.index_interval_bytes == 0 || self.index_interval_bytes > SEGMENT_BYTES_MAX {
            return Err(invalid("index.interval.bytes", "must be positive"));
        }
        if self.segment_ms == 0 {
            return Err(invalid("segment.ms", "must be positive"));
        }
        if self.retention_ms < -1 {
            return Err(invalid(
                "retention.ms",
                "must be -1 (unlimited) or non-negative",
            ));
        }
        if self.retention_bytes < -1 {
            return Err(invalid(
                "retention.bytes",
                "must be -1 (unlimited) or non-negative",
            ));
        }
        if self.segment_preallocate_bytes < 4096 {
            return Err(invalid(
                "segment.preallocate.bytes",
                "must be at least 4096",
            ));
        }
        if let FlushPolicy::Interval {
            interval_ms,
            interval_messages,
        } = self.flush
        {
            if interval_ms == 0 && interval_messages == 0 {
                return Err(invalid(
                    "flush.ms",
                    "interval flushing needs flush.ms or flush.messages",
                ));
            }
        }
        Ok(())
    }

    /// The largest batch that can be appended: it must fit in an empty segment.
    pub fn batch_bytes_max(&self) -> u64 {
        self.max_message_bytes.min(self.segment_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_parses_and_validates() {
        let mut c = TopicConfig::default();
        c.set("segment.bytes", "4096").expect("ok");
        assert_eq!(c.segment_bytes, 4096);
        assert!(c.set("segment.bytes", "10").is_err());
        assert!(c.set("segment.bytes", "4294967296").is_err());
        assert_eq!(c.segment_bytes, 4096, "a rejected value changes nothing");
        c.set("flush", "always").expect("ok");
        assert_eq!(c.flush, FlushPolicy::Always);
        c.set("flush.ms", "50").expect("ok");
        assert_eq!(
            c.flush,
            FlushPolicy::Interval {
                interval_ms: 50,
                interval_messages: 0
            }
        );
        assert!(matches!(
            c.set("nope", "1"),
            Err(Error::InvalidConfig { .. })
        ));
        assert!(c.set("cleanup.policy", "compact").is_err());
        c.set("cleanup.policy", "delete").expect("ok");
        assert!(c.set("retention.ms", "abc").is_err());
    }
}
