//! The records of `__consumer_offsets`, byte for byte as Apache Kafka 4.x
//! writes them (group-coordinator's `OffsetCommitKey`/`OffsetCommitValue`
//! and `GroupMetadataKey`/`GroupMetadataValue` schemas), so that Kafka's
//! own tools (`DumpLogSegments --offsets-decoder`) read ferrolog's topic.
//!
//! A key starts with an int16 that is the record type (Kafka's
//! "coordinator-key" apiKey: 1 = offset commit, 2 = group metadata; 0 is
//! the legacy offset key, same layout as 1), then the key fields at version
//! 0. A value starts with its own int16 version. Kafka 4.1 writes
//! OffsetCommitValue v3 (v1 only with an expire timestamp) and
//! GroupMetadataValue v3; we write the same and read v0-v3 of both.
//! Strings are int16-length-prefixed UTF-8 (-1 = null where nullable),
//! bytes int32-length-prefixed.
//!
//! Every length is checked against the bytes that remain before anything
//! is allocated for it.

use std::fmt;

/// Key version 0: an offset commit written by old Kafka versions (read only).
pub(crate) const OFFSET_COMMIT_KEY_LEGACY: i16 = 0;
/// Key version 1: an offset commit.
pub(crate) const OFFSET_COMMIT_KEY: i16 = 1;
/// Key version 2: a group's metadata.
pub(crate) const GROUP_METADATA_KEY: i16 = 2;
/// The offset-commit value version written.
pub(crate) const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// The group-metadata value version written.
pub(crate) const GROUP_METADATA_VALUE_VERSION: i16 = 3;

/// Why a `__consumer_offsets` record does not decode; replay skips it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed __consumer_offsets record: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

fn err<T>(what: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(what.into()))
}

/// A record's key, which says what the record is about; a compacted topic
/// keeps the last value per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    /// A group's committed offset for one partition.
    OffsetCommit {
        /// The group.
        group: String,
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// A group's generation and members.
    GroupMetadata {
        /// The group.
        group: String,
    },
}

/// A committed offset, as Kafka stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    /// The next offset the group will consume.
    pub offset: i64,
    /// The leader epoch of the committed record, -1 when unknown.
    pub leader_epoch: i32,
    /// The client's metadata string.
    pub metadata: String,
    /// When the commit was made (ms).
    pub commit_timestamp: i64,
    /// Only version 1 carries it; -1 otherwise.
    pub expire_timestamp: i64,
}

/// One member as stored in the group's metadata, so static members keep
/// their id and assignment across a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberMetadata {
    /// The id the coordinator handed out.
    pub member_id: String,
    /// `group.instance.id` for static members.
    pub group_instance_id: Option<String>,
    /// The client's `client.id`.
    pub client_id: String,
    /// The client's address as the coordinator saw it.
    pub client_host: String,
    /// How long a rebalance waits for this member (ms).
    pub rebalance_timeout: i32,
    /// How long without a heartbeat before the member is removed (ms).
    pub session_timeout: i32,
    /// The member's protocol metadata for the chosen protocol.
    pub subscription: Vec<u8>,
    /// The assignment the leader gave it.
    pub assignment: Vec<u8>,
}

/// A group's state as Kafka stores it after each generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupMetadataValue {
    /// The protocol type (`consumer` for consumer groups).
    pub protocol_type: String,
    /// The generation id.
    pub generation: i32,
    /// The chosen assignment protocol, None when empty.
    pub protocol: Option<String>,
    /// The leader's member id, None when empty.
    pub leader: Option<String>,
    /// When the group entered its current state (ms), -1 when unknown.
    pub current_state_timestamp: i64,
    /// The members of the generation.
    pub members: Vec<MemberMetadata>,
}

// ---- writing ----

fn put_i16(out: &mut Vec<u8>, v: i16) {
    out.extend_from_slice(&v.to_be_bytes());
}
fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}
fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}
/// Kafka strings hold at most i16::MAX bytes; longer ones are cut at a
/// character boundary (callers validate lengths before they get here).
fn put_str(out: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(i16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    put_i16(out, end as i16);
    out.extend_from_slice(&s.as_bytes()[..end]);
}
fn put_nullable_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => put_i16(out, -1),
        Some(s) => put_str(out, s),
    }
}
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_i32(out, b.len().min(i32::MAX as usize) as i32);
    out.extend_from_slice(b);
}

impl RecordKey {
    /// The key's bytes, at the version Kafka writes for its kind.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        match self {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => {
                put_i16(&mut out, OFFSET_COMMIT_KEY);
                put_str(&mut out, group);
                put_str(&mut out, topic);
                put_i32(&mut out, *partition);
            }
            RecordKey::GroupMetadata { group } => {
                put_i16(&mut out, GROUP_METADATA_KEY);
                put_str(&mut out, group);
            }
        }
        out
    }

    /// Parses a key of any version Kafka writes, checking every length.
    pub fn decode(bytes: &[u8]) -> Result<RecordKey, DecodeError> {
        let mut r = Reader::new(bytes);
        let key = match r.i16()? {
            OFFSET_COMMIT_KEY_LEGACY | OFFSET_COMMIT_KEY => RecordKey::OffsetCommit {
                group: r.string()?,
                topic: r.string()?,
                partition: r.i32()?,
            },
            GROUP_METADATA_KEY => RecordKey::GroupMetadata { group: r.string()? },
            other => return err(format!("unknown key type {other}")),
        };
        r.finish()?;
        Ok(key)
    }

    /// The group the record belongs to.
    pub fn group(&self) -> &str {
        match self {
            RecordKey::OffsetCommit { group, .. } | RecordKey::GroupMetadata { group } => group,
        }
    }
}

impl OffsetCommitValue {
    /// The value's bytes (version 1 when it carries an expiry).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.metadata.len());
        if self.expire_timestamp >= 0 {
            // Kafka writes v1 when an expire timestamp is set.
            put_i16(&mut out, 1);
            put_i64(&mut out, self.offset);
            put_str(&mut out, &self.metadata);
            put_i64(&mut out, self.commit_timestamp);
            put_i64(&mut out, self.expire_timestamp);
        } else {
            put_i16(&mut out, OFFSET_COMMIT_VALUE_VERSION);
            put_i64(&mut out, self.offset);
            put_i32(&mut out, self.leader_epoch);
            put_str(&mut out, &self.metadata);
            put_i64(&mut out, self.commit_timestamp);
        }
        out
    }

    /// Parses a value of versions 0-4, checking every length.
    pub fn decode(bytes: &[u8]) -> Result<OffsetCommitValue, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        if !(0..=4).contains(&version) {
            return err(format!("OffsetCommitValue version {version}"));
        }
        let offset = r.i64()?;
        let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
        let metadata = if version >= 4 {
            r.compact_string()?
        } else {
            r.string()?
        };
        let commit_timestamp = r.i64()?;
        let expire_timestamp = if version == 1 { r.i64()? } else { -1 };
        if version >= 4 {
            r.skip_tagged_fields()?;
        }
        r.finish()?;
        Ok(OffsetCommitValue {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp,
            expire_timestamp,
        })
    }
}

impl GroupMetadataValue {
    /// The value's bytes, at `GROUP_METADATA_VALUE_VERSION`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        put_i16(&mut out, GROUP_METADATA_VALUE_VERSION);
        put_str(&mut out, &self.protocol_type);
        put_i32(&mut out, self.generation);
        put_nullable_str(&mut out, self.protocol.as_deref());
        put_nullable_str(&mut out, self.leader.as_deref());
        put_i64(&mut out, self.current_state_timestamp);
        put_i32(&mut out, self.members.len() as i32);
        for m in &self.members {
            put_str(&mut out, &m.member_id);
            put_nullable_str(&mut out, m.group_instance_id.as_deref());
            put_str(&mut out, &m.client_id);
            put_str(&mut out, &m.client_host);
            put_i32(&mut out, m.rebalance_timeout);
            put_i32(&mut out, m.session_timeout);
            put_bytes(&mut out, &m.subscription);
            put_bytes(&mut out, &m.assignment);
        }
        out
    }

    /// Parses a value of versions 0-3, checking every length before it
    /// allocates for it.
    pub fn decode(bytes: &[u8]) -> Result<GroupMetadataValue, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        if !(0..=3).contains(&version) {
            // v4 (flexible) is defined but Kafka 4.1 does not write it.
            return err(format!("GroupMetadataValue version {version}"));
        }
        let protocol_type = r.string()?;
        let generation = r.i32()?;
        let protocol = r.nullable_string()?;
        let leader = r.nullable_string()?;
        let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
        let count = r.i32()?;
        if count < 0 {
            return err("negative member count");
        }
        // A member takes at least 20 bytes: bounds the allocation by the input.
        if count as usize > r.remaining() / 20 {
            return err("member count larger than the record");
        }
        let mut members = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let member_id = r.string()?;
            let group_instance_id = if version >= 3 {
                r.nullable_string()?
            } else {
                None
            };
            let client_id = r.string()?;
            let client_host = r.string()?;
            let rebalance_timeout = if version >= 1 { r.i32()? } else { -1 };
            let session_timeout = r.i32()?;
            let subscription = r.bytes()?;
            let assignment = r.bytes()?;
            members.push(MemberMetadata {
                member_id,
                group_instance_id,
                client_id,
                client_host,
                rebalance_timeout: if rebalance_timeout < 0 {
                    session_timeout
                } else {
                    rebalance_timeout
                },
                session_timeout,
                subscription,
                assignment,
            });
        }
        r.finish()?;
        Ok(GroupMetadataValue {
            protocol_type,
            generation,
            protocol,
            leader,
            current_state_timestamp,
            members,
        })
    }
}

// ---- reading ----

/// A bounds-checked big-endian reader.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return err(format!(
                "{n} bytes wanted at {}, {} left",
                self.pos,
                self.remaining()
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub(crate) fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => err("string is not UTF-8"),
        }
    }

    pub(crate) fn nullable_string(&mut self) -> Result<Option<String>, DecodeError> {
        let len = self.i16()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return err("negative string length");
        }
        let b = self.take(len as usize)?;
        Ok(Some(Self::utf8(b)?))
    }

    pub(crate) fn string(&mut self) -> Result<String, DecodeError> {
        match self.nullable_string()? {
            Some(s) => Ok(s),
            None => err("null string where one is required"),
        }
    }

    pub(crate) fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let len = self.i32()?;
        if len < 0 {
            // Nullable bytes read as empty: the field is not nullable in
            // these schemas, but an empty value means the same to us.
            return Ok(Vec::new());
        }
        Ok(self.take(len as usize)?.to_vec())
    }

    fn uvarint(&mut self) -> Result<u32, DecodeError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.take(1)?[0];
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        err("unsigned varint longer than 5 bytes")
    }

    fn compact_string(&mut self) -> Result<String, DecodeError> {
        let n = self.uvarint()?;
        if n == 0 {
            return err("null compact string where one is required");
        }
        let b = self.take((n - 1) as usize)?;
        Self::utf8(b)
    }

    fn skip_tagged_fields(&mut self) -> Result<(), DecodeError> {
        let count = self.uvarint()?;
        for _ in 0..count {
            let _tag = self.uvarint()?;
            let size = self.uvarint()?;
            self.take(size as usize)?;
        }
        Ok(())
    }

    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        // Kafka's readers ignore trailing bytes of newer minor layouts; we
        // do the same rather than refuse a record Kafka would accept.
        Ok(())
    }
}

/// The topics of a `consumer` protocol subscription
/// (ConsumerProtocolSubscription: int16 version, `[string]` topics, ...),
/// or None when the bytes are not one.
pub(crate) fn subscription_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut r = Reader::new(metadata);
    let version = r.i16().ok()?;
    if version < 0 {
        return None;
    }
    let count = r.i32().ok()?;
    if count < 0 || count as usize > r.remaining() / 2 {
        return None;
    }
    let mut topics = Vec::with_capacity(count as usize);
    for _ in 0..count {
        topics.push(r.string().ok()?);
    }
    Some(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_commit_round_trip_and_layout() {
        let key = RecordKey::OffsetCommit {
            group: "g".into(),
            topic: "t".into(),
            partition: 3,
        };
        let bytes = key.encode();
        assert_eq!(bytes, vec![0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]);
        assert_eq!(RecordKey::decode(&bytes).unwrap(), key);
        let value = OffsetCommitValue {
            offset: 42,
            leader_epoch: -1,
            metadata: "m".into(),
            commit_timestamp: 7,
            expire_timestamp: -1,
        };
        let vb = value.encode();
        assert_eq!(&vb[..2], &[0, 3]);
        assert_eq!(vb.len(), 2 + 8 + 4 + 3 + 8);
        assert_eq!(OffsetCommitValue::decode(&vb).unwrap(), value);
        for n in 0..vb.len() {
            assert!(OffsetCommitValue::decode(&vb[..n]).is_err());
        }
    }

    #[test]
    fn group_metadata_round_trip_and_truncation() {
        let v = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 5,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            current_state_timestamp: 99,
            members: vec![MemberMetadata {
                member_id: "m1".into(),
                group_instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout: 1000,
                session_timeout: 500,
                subscription: vec![1, 2, 3],
                assignment: vec![4],
            }],
        };
        let b = v.encode();
        assert_eq!(GroupMetadataValue::decode(&b).unwrap(), v);
        for n in 0..b.len() {
            assert!(GroupMetadataValue::decode(&b[..n]).is_err(), "prefix {n}");
        }
        let k = RecordKey::GroupMetadata { group: "g".into() };
        assert_eq!(RecordKey::decode(&k.encode()).unwrap(), k);
    }

    #[test]
    fn hostile_lengths_are_refused_without_allocating() {
        // A member count of 2^31-1 in a tiny record.
        let mut b = vec![0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff];
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(GroupMetadataValue::decode(&b).is_err());
        assert!(RecordKey::decode(&[0, 9, 0, 0]).is_err());
        assert!(RecordKey::decode(&[0, 1, 0x7f, 0xff]).is_err());
    }
}
