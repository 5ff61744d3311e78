//! One module per API family. Each handler takes the decoded request and
//! returns the response to encode; none of them fails as a whole: errors
//! go into the response's error codes, as Kafka does.

pub(crate) mod acls;
pub(crate) mod admin;
pub(crate) mod api_versions;
pub(crate) mod configs;
pub(crate) mod fetch;
pub(crate) mod groups;
pub(crate) mod metadata;
pub(crate) mod offsets;
pub(crate) mod produce;
pub(crate) mod producers;
/// SASL handshake and authentication, and a connection's [`sasl::Session`].
pub mod sasl;

use std::sync::Arc;

use ferrolog_engine::{Engine, Error, Topic};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::VersionRange;

use crate::config::BrokerConfig;
use crate::stats::Stats;

/// What every handler can reach.
pub struct Ctx {
    /// The engine the broker serves, shared with the owning process.
    pub engine: Arc<Engine>,
    /// The settings the broker was started with.
    pub config: BrokerConfig,
    /// Live counters.
    pub stats: Stats,
    /// The host and port Metadata and DescribeCluster report.
    pub advertised: (String, u16),
    /// See `BrokerConfig::queued_bytes_max`.
    pub budget: crate::framing::Budget,
    /// SCRAM credentials derived from `config.sasl_users`.
    pub scram: crate::scram::Credentials,
    /// The group coordinator, loaded on the first group request.
    pub groups: groups::Slot,
    /// Set when the listener speaks TLS.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The data directory's ACLs.
    pub acls: Arc<crate::acl::Store>,
}

/// The APIs this broker implements. Each is advertised at every version
/// kafka-protocol can decode and encode (Apache Kafka 4.1's ranges).
pub const IMPLEMENTED: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DeleteRecords,
    ApiKey::InitProducerId,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::CreatePartitions,
    ApiKey::DescribeCluster,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::DeleteGroups,
    ApiKey::OffsetDelete,
    ApiKey::DescribeAcls,
    ApiKey::CreateAcls,
    ApiKey::DeleteAcls,
    ApiKey::DescribeProducers,
];

/// Served only when SASL is on. SaslHandshake v0 is advertised because
/// librdkafka will not authenticate without it, but tokens must come in
/// SaslAuthenticate requests (v1's flow): v0's raw token frames do not
/// decode as requests, so they close the connection.
pub const SASL: &[(ApiKey, i16)] = &[(ApiKey::SaslHandshake, 0), (ApiKey::SaslAuthenticate, 0)];

/// The versions of `key` this broker serves, or None when it does not
/// implement the API (or it is a SASL API and SASL is off).
pub fn supported(ctx: &Ctx, key: ApiKey) -> Option<VersionRange> {
    if IMPLEMENTED.contains(&key) {
        return Some(decodable(key));
    }
    let sasl = ctx.config.sasl_users.is_some();
    SASL.iter()
        .find(|(k, _)| sasl && *k == key)
        .map(|&(k, min)| VersionRange {
            min,
            max: decodable(k).max,
        })
}

/// The versions of `key` whose requests kafka-protocol can decode. Its
/// `ApiKey::valid_versions` names a newer version than its request type
/// decodes for three APIs Kafka 4.1 marks unstable (OffsetCommit v10,
/// OffsetFetch v10, InitProducerId v6): advertising those made a client
/// that picked them get a closed connection instead of an answer.
fn decodable(key: ApiKey) -> VersionRange {
    use kafka_protocol::messages::{
        InitProducerIdRequest, OffsetCommitRequest, OffsetFetchRequest,
    };
    use kafka_protocol::protocol::Message;
    let request = match key {
        ApiKey::OffsetCommit => OffsetCommitRequest::VERSIONS,
        ApiKey::OffsetFetch => OffsetFetchRequest::VERSIONS,
        ApiKey::InitProducerId => InitProducerIdRequest::VERSIONS,
        _ => return key.valid_versions(),
    };
    let known = key.valid_versions();
    VersionRange {
        min: known.min.max(request.min),
        max: known.max.min(request.max),
    }
}

/// Runs engine work that may write or fsync (topic metadata, checkpoints,
/// producer id blocks) off the tokio workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(Error::InvalidArgument(format!("broker task failed: {e}"))),
    }
}

/// The topic, created with `num.partitions` when missing and `create` allows
/// (Kafka's auto.create.topics.enable).
pub async fn topic_or_create(
    ctx: &Arc<Ctx>,
    name: &str,
    create: bool,
) -> Result<Arc<Topic>, Error> {
    match ctx.engine.topic(name) {
        Ok(t) => Ok(t),
        Err(Error::UnknownTopicOrPartition { .. }) if create && ctx.config.auto_create_topics => {
            ferrolog_engine::validate_topic_name(name)?;
            let engine = ctx.engine.clone();
            let owned = name.to_string();
            let partitions = ctx.config.num_partitions;
            let created = blocking(move || engine.create_topic(&owned, partitions, None)).await;
            match created {
                // Another connection created it first: that is fine.
                Ok(()) | Err(Error::TopicExists(_)) => ctx.engine.topic(name),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// A partition index from the wire as the engine's type.
pub fn partition_index(p: i32) -> Option<u32> {
    u32::try_from(p).ok()
}
