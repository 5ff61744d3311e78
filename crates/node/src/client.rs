//! The remote transport's native half: `ferrolog_client` (a Kafka protocol
//! client) driven from JavaScript. Every call returns a promise and runs on the
//! client's own tokio threads; one native call carries a whole batch (many
//! partitions' encoded RecordBatches, or many partitions' fetches). Nothing here
//! touches the engine: arrows point down (node → client → protocol).

// Test builds leave out napi's registration, which is what uses the exports.
#![cfg_attr(test, allow(dead_code))]

use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use ferrolog_client as fc;
use napi::bindgen_prelude::{Buffer, Object, ToNapiValue};
use napi::Env;
use napi_derive::napi;

use crate::args::narrow;
use crate::external::ExternalBytes;
// The group objects are the in-process coordinator's (groups.rs): one shape
// for a group's members, protocols and listings whichever transport asks.
use crate::groups::{
    DescribedGroupMember, GroupAssignment, GroupProtocol, JoinGroupMember, ListedGroup,
    TopicPartitions,
};
use crate::{coded, invalid, reject, rejection, Error, Result};

/// One runtime for every remote client of the process, on two threads of its
/// own: the JavaScript thread never waits on a socket.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ferrolog-client")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| coded("ERR_INTERNAL", format!("no client runtime: {e}")))
}

/// Client errors cross with a stable code as the error's `code`, as engine
/// errors do; a Kafka error code travels as `ERR_KAFKA_<code>`.
fn client_err(e: fc::Error) -> Error {
    let code = match &e {
        fc::Error::Config(_) => "ERR_INVALID_CONFIG".to_string(),
        fc::Error::Connection(_) => "ERR_CONNECTION".to_string(),
        fc::Error::Timeout(_) => "ERR_TIMEOUT".to_string(),
        fc::Error::Protocol(_) => "ERR_PROTOCOL".to_string(),
        fc::Error::UnsupportedVersion { .. } => "ERR_KAFKA_35".to_string(),
        fc::Error::Kafka { code, .. } => format!("ERR_KAFKA_{code}"),
        fc::Error::Authentication(_) => "ERR_AUTHENTICATION".to_string(),
        fc::Error::Tls(_) => "ERR_TLS".to_string(),
    };
    coded(&code, e.to_string())
}

/// Runs `work` on the client runtime; `done` turns its output into the
/// JavaScript value on the JavaScript thread.
fn promise<'env, R, T, F>(env: &'env Env, work: F, done: fn(R) -> Result<T>) -> Result<Object<'env>>
where
    F: Future<Output = fc::Result<R>> + Send + 'static,
    R: Send + 'static,
    T: ToNapiValue + 'static,
{
    let rt = runtime()?;
    let (deferred, promise) = crate::deferred::<T>(env)?;
    rt.spawn(async move {
        match work.await {
            Ok(r) => deferred.resolve(Box::new(move |env| done(r).map_err(|e| rejection(&env, e)))),
            Err(e) => reject(deferred, client_err(e)),
        }
    });
    Ok(promise)
}

fn i64_arg(name: &str, v: f64) -> Result<i64> {
    if v.fract() != 0.0 || !(-9.007_199_254_740_991e15..=9.007_199_254_740_991e15).contains(&v) {
        return Err(invalid(format!("{name} must be an integer, not {v}")));
    }
    Ok(v as i64)
}

#[napi(object)]
pub struct RemoteClientOptions {
    pub brokers: Vec<String>,
    pub client_id: Option<String>,
    /// TLS on; `ssl_ca` (PEM) replaces the system CA bundle.
    pub ssl: Option<bool>,
    pub ssl_ca: Option<String>,
    pub ssl_cert: Option<String>,
    pub ssl_key: Option<String>,
    pub ssl_server_name: Option<String>,
    /// plain, scram-sha-256 or scram-sha-512.
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<String>,
    pub connection_timeout_ms: Option<u32>,
    pub request_timeout_ms: Option<u32>,
    pub retries: Option<u32>,
    pub retry_backoff_ms: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub max_response_bytes: Option<u32>,
    pub allow_auto_topic_creation: Option<bool>,
}

fn config_from(o: RemoteClientOptions) -> Result<fc::ClientConfig> {
    let mut cfg = fc::ClientConfig::new(o.brokers);
    if let Some(id) = o.client_id {
        cfg.client_id = id;
    }
    if o.ssl == Some(true) || o.ssl_ca.is_some() || o.ssl_cert.is_some() {
        cfg.tls = Some(fc::TlsConfig {
            ca_pem: o.ssl_ca.map(String::into_bytes),
            cert_pem: o.ssl_cert.map(String::into_bytes),
            key_pem: o.ssl_key.map(String::into_bytes),
            server_name: o.ssl_server_name,
        });
    }
    if let Some(m) = o.sasl_mechanism {
        let mechanism = fc::SaslMechanism::parse(&m).ok_or_else(|| {
            invalid(format!(
                "sasl mechanism must be plain, scram-sha-256 or scram-sha-512, not {m}"
            ))
        })?;
        cfg.sasl = Some(fc::SaslConfig {
            mechanism,
            username: o.sasl_username.unwrap_or_default(),
            password: o.sasl_password.unwrap_or_default(),
        });
    }
    if let Some(v) = o.connection_timeout_ms {
        cfg.connect_timeout = Duration::from_millis(v.into());
    }
    if let Some(v) = o.request_timeout_ms {
        cfg.request_timeout = Duration::from_millis(v.into());
    }
    if let Some(v) = o.retries {
        cfg.retries = v;
    }
    if let Some(v) = o.retry_backoff_ms {
        cfg.retry_backoff = Duration::from_millis(v.into());
    }
    if let Some(v) = o.max_in_flight {
        cfg.max_in_flight = (v as usize).clamp(1, 1024);
    }
    if let Some(v) = o.max_response_bytes {
        cfg.max_response_bytes = (v as usize).max(1024);
    }
    if let Some(v) = o.allow_auto_topic_creation {
        cfg.allow_auto_topic_creation = v;
    }
    Ok(cfg)
}

/// Connects (bootstrap + metadata) and resolves with a `RemoteClient`.
#[napi(ts_return_type = "Promise<RemoteClient>")]
pub fn connect_remote(env: &Env, options: RemoteClientOptions) -> Result<Object<'_>> {
    let cfg = config_from(options)?;
    promise(env, fc::Client::connect(cfg), |client| {
        Ok(RemoteClient {
            client: Some(client),
        })
    })
}

#[napi]
pub struct RemoteClient {
    client: Option<fc::Client>,
}

#[napi(object)]
pub struct RemoteBroker {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

#[napi(object)]
pub struct RemotePartition {
    pub partition: i32,
    pub error_code: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline_replicas: Vec<i32>,
}

#[napi(object)]
pub struct RemoteTopic {
    pub name: String,
    pub topic_id: String,
    pub error_code: i32,
    pub is_internal: bool,
    pub partitions: Vec<RemotePartition>,
}

#[napi(object)]
pub struct RemoteMetadata {
    pub cluster_id: Option<String>,
    pub controller_id: i32,
    pub brokers: Vec<RemoteBroker>,
    pub topics: Vec<RemoteTopic>,
}

fn metadata_js(m: fc::Metadata) -> Result<RemoteMetadata> {
    let mut topics: Vec<RemoteTopic> = m
        .topics
        .into_values()
        .map(|t| RemoteTopic {
            name: t.name,
            topic_id: t.topic_id.to_string(),
            error_code: t.error_code.into(),
            is_internal: t.is_internal,
            partitions: t
                .partitions
                .into_iter()
                .map(|p| RemotePartition {
                    partition: p.partition,
                    error_code: p.error_code.into(),
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replicas,
                    isr: p.isr,
                    offline_replicas: p.offline_replicas,
                })
                .collect(),
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(RemoteMetadata {
        cluster_id: m.cluster_id,
        controller_id: m.controller_id,
        brokers: m
            .brokers
            .into_values()
            .map(|b| RemoteBroker {
                node_id: b.node_id,
                host: b.host,
                port: b.port,
                rack: b.rack,
            })
            .collect(),
        topics,
    })
}

#[napi(object)]
pub struct RemoteProduceBatch {
    pub topic: String,
    pub partition: i32,
    pub records: Buffer,
}

#[napi(object)]
pub struct RemoteProduceResult {
    pub topic: String,
    pub partition: i32,
    pub error_code: i32,
    pub error_message: Option<String>,
    pub base_offset: f64,
    pub log_append_time: f64,
    pub log_start_offset: f64,
}

#[napi(object)]
pub struct RemoteFetchPartition {
    pub topic: String,
    pub partition: i32,
    pub offset: f64,
    pub max_bytes: i32,
}

#[napi(object)]
pub struct RemoteFetchOptions {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub isolation_level: Option<i32>,
    /// The caller's fetch lane (its own connections; `cancelFetch` cancels by lane). Default 0.
    pub lane: Option<u32>,
}

#[napi(object)]
pub struct RemoteAbortedTransaction {
    pub producer_id: f64,
    pub first_offset: f64,
}

/// Only ever returned to JavaScript (its `records` cannot be read back in).
#[napi(object, object_from_js = false)]
pub struct RemoteFetchResult {
    pub topic: String,
    pub partition: i32,
    pub error_code: i32,
    pub high_watermark: f64,
    pub last_stable_offset: f64,
    pub log_start_offset: f64,
    /// The fetched batches as they came off the wire, without a copy.
    #[napi(ts_type = "Buffer")]
    pub records: ExternalBytes,
    /// read_committed: the aborted transactions overlapping `records`.
    pub aborted_transactions: Vec<RemoteAbortedTransaction>,
}

#[napi(object)]
pub struct RemotePartitionValue {
    pub topic: String,
    pub partition: i32,
    /// A timestamp (-1 latest, -2 earliest) for listOffsets; an offset for deleteRecords.
    pub value: f64,
}

#[napi(object)]
pub struct RemoteOffsetResult {
    pub topic: String,
    pub partition: i32,
    pub error_code: i32,
    pub offset: f64,
    pub timestamp: f64,
}

#[napi(object)]
pub struct RemoteProducerId {
    pub producer_id: f64,
    pub producer_epoch: i32,
}

#[napi(object)]
pub struct RemoteNewTopic {
    pub name: String,
    pub num_partitions: i32,
    pub replication_factor: i32,
    pub configs: Option<HashMap<String, String>>,
}

#[napi(object)]
pub struct RemoteNamedResult {
    pub name: String,
    pub error_code: i32,
    pub error_message: Option<String>,
}

#[napi(object)]
pub struct RemoteConfigResource {
    pub resource_type: i32,
    pub name: String,
    pub keys: Option<Vec<String>>,
}

#[napi(object)]
pub struct RemoteConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub read_only: bool,
    pub is_default: bool,
    pub config_source: i32,
    pub is_sensitive: bool,
}

#[napi(object)]
pub struct RemoteConfigResult {
    pub resource_type: i32,
    pub name: String,
    pub error_code: i32,
    pub error_message: Option<String>,
    pub entries: Vec<RemoteConfigEntry>,
}

#[napi(object)]
pub struct RemoteConfigValue {
    pub name: String,
    pub value: Option<String>,
}

#[napi(object)]
pub struct RemoteAlterConfig {
    pub resource_type: i32,
    pub name: String,
    pub entries: Vec<RemoteConfigValue>,
}

#[napi(object)]
pub struct RemoteJoinGroup {
    pub group_id: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: String,
    pub protocols: Vec<GroupProtocol>,
}

#[napi(object)]
pub struct RemoteJoinResult {
    pub error_code: i32,
    pub generation_id: i32,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    pub members: Vec<JoinGroupMember>,
}

#[napi(object)]
pub struct RemoteSyncResult {
    pub error_code: i32,
    pub assignment: Buffer,
}

#[napi(object)]
pub struct RemoteCommitOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: f64,
    pub metadata: Option<String>,
}

#[napi(object)]
pub struct RemoteCommittedOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: f64,
    pub metadata: Option<String>,
    pub error_code: i32,
}

#[napi(object)]
pub struct RemoteGroupDescription {
    pub group_id: String,
    pub error_code: i32,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<DescribedGroupMember>,
}

fn named(v: Vec<fc::NamedResult>) -> Result<Vec<RemoteNamedResult>> {
    Ok(v.into_iter()
        .map(|r| RemoteNamedResult {
            name: r.name,
            error_code: r.error_code.into(),
            error_message: r.error_message,
        })
        .collect())
}

fn offsets(v: Vec<fc::OffsetResult>) -> Result<Vec<RemoteOffsetResult>> {
    Ok(v.into_iter()
        .map(|r| RemoteOffsetResult {
            topic: r.topic,
            partition: r.partition,
            error_code: r.error_code.into(),
            offset: r.offset as f64,
            timestamp: r.timestamp as f64,
        })
        .collect())
}

fn committed(v: Vec<fc::CommittedOffset>) -> Result<Vec<RemoteCommittedOffset>> {
    Ok(v.into_iter()
        .map(|c| RemoteCommittedOffset {
            topic: c.topic,
            partition: c.partition,
            offset: c.offset as f64,
            metadata: c.metadata,
            error_code: c.error_code.into(),
        })
        .collect())
}

/// Kafka's INT8 from a JavaScript number (the fetch options' isolation level).
fn i8_arg(name: &str, v: i32) -> Result<i8> {
    narrow(name, v)
}

fn buf(b: &Buffer) -> Bytes {
    Bytes::copy_from_slice(b)
}

#[napi]
impl RemoteClient {
    fn get(&self) -> Result<fc::Client> {
        self.client
            .clone()
            .ok_or_else(|| coded("ERR_CLOSED", "the client is closed"))
    }

    /// Drops the connections (in-flight calls fail with ERR_CONNECTION).
    #[napi]
    pub fn close(&mut self) {
        self.client = None;
    }

    /// Metadata of `topics`, or of every topic when omitted.
    #[napi(ts_return_type = "Promise<RemoteMetadata>")]
    pub fn metadata<'env>(
        &self,
        env: &'env Env,
        topics: Option<Vec<String>>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        promise(
            env,
            async move { c.metadata(topics.as_deref()).await },
            metadata_js,
        )
    }

    /// Produces encoded RecordBatches as they are: one call for many partitions.
    #[napi(ts_return_type = "Promise<RemoteProduceResult[]>")]
    pub fn produce<'env>(
        &self,
        env: &'env Env,
        acks: i32,
        timeout_ms: i32,
        batches: Vec<RemoteProduceBatch>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let acks = narrow("acks", acks)?;
        let batches: Vec<fc::ProduceBatch> = batches
            .iter()
            .map(|b| fc::ProduceBatch {
                topic: b.topic.clone(),
                partition: b.partition,
                records: buf(&b.records),
            })
            .collect();
        // Taken here, on the JavaScript thread, so calls reach the broker in
        // the order JavaScript made them (see crates/client/src/order.rs).
        let ticket = c.produce_ticket();
        promise(
            env,
            async move { c.produce_ordered(batches, acks, timeout_ms, ticket).await },
            |v| {
                Ok(v.into_iter()
                    .map(|r| RemoteProduceResult {
                        topic: r.topic,
                        partition: r.partition,
                        error_code: r.error_code.into(),
                        error_message: r.error_message,
                        base_offset: r.base_offset as f64,
                        log_append_time: r.log_append_time_ms as f64,
                        log_start_offset: r.log_start_offset as f64,
                    })
                    .collect::<Vec<_>>())
            },
        )
    }

    /// One Fetch per leader for `partitions`. Resolves to `[]` when `cancelFetch`
    /// cancels it first (a long poll cut short: nothing was fetched).
    #[napi(ts_return_type = "Promise<RemoteFetchResult[]>")]
    pub fn fetch<'env>(
        &self,
        env: &'env Env,
        partitions: Vec<RemoteFetchPartition>,
        options: RemoteFetchOptions,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let parts = partitions
            .into_iter()
            .map(|p| {
                Ok(fc::FetchPartitionRequest {
                    offset: i64_arg("offset", p.offset)?,
                    topic: p.topic,
                    partition: p.partition,
                    max_bytes: p.max_bytes,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let lane = options.lane.unwrap_or(0);
        let opts = fc::FetchOptions {
            max_wait_ms: options.max_wait_ms,
            min_bytes: options.min_bytes,
            max_bytes: options.max_bytes,
            isolation_level: i8_arg("isolationLevel", options.isolation_level.unwrap_or(0))?,
            lane,
        };
        // Registered now, on the JavaScript thread: a cancelFetch made after this
        // call returns always finds it.
        let cancel = c.fetch_canceller(lane);
        promise(
            env,
            async move {
                Ok(c.fetch_or_cancel(parts, opts, cancel)
                    .await?
                    .unwrap_or_default())
            },
            |v: Vec<fc::FetchResult>| {
                Ok(v.into_iter()
                    .map(|r| RemoteFetchResult {
                        topic: r.topic,
                        partition: r.partition,
                        error_code: r.error_code.into(),
                        high_watermark: r.high_watermark as f64,
                        last_stable_offset: r.last_stable_offset as f64,
                        log_start_offset: r.log_start_offset as f64,
                        records: ExternalBytes(r.records),
                        aborted_transactions: r
                            .aborted_transactions
                            .into_iter()
                            .map(|a| RemoteAbortedTransaction {
                                producer_id: a.producer_id as f64,
                                first_offset: a.first_offset as f64,
                            })
                            .collect(),
                    })
                    .collect::<Vec<_>>())
            },
        )
    }

    /// Cancels the fetches of `lane` in flight: they resolve to `[]` at once, and
    /// the lane's connections are closed (their long polls are never read). Returns
    /// how many were cancelled.
    #[napi]
    pub fn cancel_fetch(&self, lane: u32) -> Result<u32> {
        let c = self.get()?;
        Ok(u32::try_from(c.cancel_fetches(lane)).unwrap_or(u32::MAX))
    }

    /// Cancels the fetches of `lane` and closes its connections: the caller is
    /// done with the lane.
    #[napi]
    pub fn release_fetch_lane(&self, lane: u32) -> Result<()> {
        self.get()?.release_fetch_lane(lane);
        Ok(())
    }

    #[napi(ts_return_type = "Promise<RemoteOffsetResult[]>")]
    pub fn list_offsets<'env>(
        &self,
        env: &'env Env,
        partitions: Vec<RemotePartitionValue>,
        isolation_level: Option<i32>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let parts = partition_values(partitions)?;
        let iso = narrow("isolationLevel", isolation_level.unwrap_or(0))?;
        promise(
            env,
            async move { c.list_offsets(parts, iso).await },
            offsets,
        )
    }

    #[napi(ts_return_type = "Promise<RemoteOffsetResult[]>")]
    pub fn delete_records<'env>(
        &self,
        env: &'env Env,
        partitions: Vec<RemotePartitionValue>,
        timeout_ms: i32,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let parts = partition_values(partitions)?;
        promise(
            env,
            async move { c.delete_records(parts, timeout_ms).await },
            offsets,
        )
    }

    #[napi(ts_return_type = "Promise<RemoteProducerId>")]
    pub fn init_producer_id<'env>(
        &self,
        env: &'env Env,
        current: Option<RemoteProducerId>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let current = match current {
            Some(p) => Some(fc::ProducerIdAndEpoch {
                producer_id: i64_arg("producerId", p.producer_id)?,
                producer_epoch: narrow("producerEpoch", p.producer_epoch)?,
            }),
            None => None,
        };
        promise(env, async move { c.init_producer_id(current).await }, |p| {
            Ok(RemoteProducerId {
                producer_id: p.producer_id as f64,
                producer_epoch: p.producer_epoch.into(),
            })
        })
    }

    #[napi(ts_return_type = "Promise<RemoteNamedResult[]>")]
    pub fn create_topics<'env>(
        &self,
        env: &'env Env,
        topics: Vec<RemoteNewTopic>,
        timeout_ms: i32,
        validate_only: bool,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let topics = topics
            .into_iter()
            .map(|t| {
                let mut configs: Vec<(String, String)> =
                    t.configs.unwrap_or_default().into_iter().collect();
                configs.sort();
                Ok(fc::NewTopic {
                    name: t.name,
                    num_partitions: t.num_partitions,
                    replication_factor: narrow("replicationFactor", t.replication_factor)?,
                    configs,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        promise(
            env,
            async move { c.create_topics(topics, timeout_ms, validate_only).await },
            named,
        )
    }

    #[napi(ts_return_type = "Promise<RemoteNamedResult[]>")]
    pub fn delete_topics<'env>(
        &self,
        env: &'env Env,
        topics: Vec<String>,
        timeout_ms: i32,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        promise(
            env,
            async move { c.delete_topics(topics, timeout_ms).await },
            named,
        )
    }

    #[napi(ts_return_type = "Promise<RemoteNamedResult[]>")]
    pub fn create_partitions<'env>(
        &self,
        env: &'env Env,
        topics: Vec<RemotePartitionValue>,
        timeout_ms: i32,
        validate_only: bool,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let topics: Vec<(String, i32)> = topics
            .into_iter()
            .map(|t| (t.topic, t.value as i32))
            .collect();
        promise(
            env,
            async move { c.create_partitions(topics, timeout_ms, validate_only).await },
            named,
        )
    }

    #[napi(ts_return_type = "Promise<RemoteConfigResult[]>")]
    pub fn describe_configs<'env>(
        &self,
        env: &'env Env,
        resources: Vec<RemoteConfigResource>,
        include_synonyms: bool,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let resources = resources
            .into_iter()
            .map(|r| {
                Ok(fc::ConfigResource {
                    resource_type: narrow("resourceType", r.resource_type)?,
                    name: r.name,
                    keys: r.keys,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        promise(
            env,
            async move { c.describe_configs(resources, include_synonyms).await },
            |v| {
                Ok(v.into_iter()
                    .map(|r| RemoteConfigResult {
                        resource_type: r.resource_type.into(),
                        name: r.name,
                        error_code: r.error_code.into(),
                        error_message: r.error_message,
                        entries: r
                            .entries
                            .into_iter()
                            .map(|e| RemoteConfigEntry {
                                name: e.name,
                                value: e.value,
                                read_only: e.read_only,
                                is_default: e.is_default,
                                config_source: e.config_source.into(),
                                is_sensitive: e.is_sensitive,
                            })
                            .collect(),
                    })
                    .collect::<Vec<_>>())
            },
        )
    }

    #[napi(ts_return_type = "Promise<RemoteNamedResult[]>")]
    pub fn alter_configs<'env>(
        &self,
        env: &'env Env,
        resources: Vec<RemoteAlterConfig>,
        validate_only: bool,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let resources = resources
            .into_iter()
            .map(|r| {
                Ok((
                    narrow("resourceType", r.resource_type)?,
                    r.name,
                    r.entries.into_iter().map(|e| (e.name, e.value)).collect(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        promise(
            env,
            async move { c.alter_configs(resources, validate_only).await },
            named,
        )
    }

    #[napi(ts_return_type = "Promise<RemoteJoinResult>")]
    pub fn join_group<'env>(&self, env: &'env Env, args: RemoteJoinGroup) -> Result<Object<'env>> {
        let c = self.get()?;
        let args = fc::JoinGroupArgs {
            group_id: args.group_id,
            session_timeout_ms: args.session_timeout_ms,
            rebalance_timeout_ms: args.rebalance_timeout_ms,
            member_id: args.member_id,
            group_instance_id: args.group_instance_id,
            protocol_type: args.protocol_type,
            protocols: args
                .protocols
                .iter()
                .map(|p| (p.name.clone(), buf(&p.metadata)))
                .collect(),
        };
        promise(env, async move { c.join_group(args).await }, |r| {
            Ok(RemoteJoinResult {
                error_code: r.error_code.into(),
                generation_id: r.generation_id,
                protocol_name: r.protocol_name,
                leader: r.leader,
                member_id: r.member_id,
                members: r
                    .members
                    .into_iter()
                    .map(|m| JoinGroupMember {
                        member_id: m.member_id,
                        group_instance_id: m.group_instance_id,
                        metadata: Buffer::from(m.metadata.to_vec()),
                    })
                    .collect(),
            })
        })
    }

    #[allow(clippy::too_many_arguments)]
    #[napi(ts_return_type = "Promise<RemoteSyncResult>")]
    pub fn sync_group<'env>(
        &self,
        env: &'env Env,
        group_id: String,
        generation_id: i32,
        member_id: String,
        group_instance_id: Option<String>,
        protocol_type: String,
        protocol_name: String,
        assignments: Vec<GroupAssignment>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let assignments: Vec<(String, Bytes)> = assignments
            .iter()
            .map(|a| (a.member_id.clone(), buf(&a.assignment)))
            .collect();
        promise(
            env,
            async move {
                c.sync_group(
                    &group_id,
                    generation_id,
                    &member_id,
                    group_instance_id.as_deref(),
                    &protocol_type,
                    &protocol_name,
                    assignments,
                )
                .await
            },
            |(code, a)| {
                Ok(RemoteSyncResult {
                    error_code: code.into(),
                    assignment: Buffer::from(a.to_vec()),
                })
            },
        )
    }

    /// Resolves with the Kafka error code (0: fine).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn heartbeat<'env>(
        &self,
        env: &'env Env,
        group_id: String,
        generation_id: i32,
        member_id: String,
        group_instance_id: Option<String>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        promise(
            env,
            async move {
                c.heartbeat(
                    &group_id,
                    generation_id,
                    &member_id,
                    group_instance_id.as_deref(),
                )
                .await
            },
            |code| Ok(i32::from(code)),
        )
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn leave_group<'env>(
        &self,
        env: &'env Env,
        group_id: String,
        member_id: String,
        group_instance_id: Option<String>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        promise(
            env,
            async move {
                c.leave_group(&group_id, &member_id, group_instance_id.as_deref())
                    .await
            },
            |code| Ok(i32::from(code)),
        )
    }

    #[napi(ts_return_type = "Promise<RemoteCommittedOffset[]>")]
    pub fn offset_commit<'env>(
        &self,
        env: &'env Env,
        group_id: String,
        generation_id: i32,
        member_id: String,
        group_instance_id: Option<String>,
        offsets: Vec<RemoteCommitOffset>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let offsets = offsets
            .into_iter()
            .map(|o| {
                Ok(fc::CommitOffset {
                    offset: i64_arg("offset", o.offset)?,
                    topic: o.topic,
                    partition: o.partition,
                    metadata: o.metadata,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        promise(
            env,
            async move {
                c.offset_commit(
                    &group_id,
                    generation_id,
                    &member_id,
                    group_instance_id.as_deref(),
                    offsets,
                )
                .await
            },
            committed,
        )
    }

    #[napi(ts_return_type = "Promise<RemoteCommittedOffset[]>")]
    pub fn offset_fetch<'env>(
        &self,
        env: &'env Env,
        group_id: String,
        topics: Option<Vec<TopicPartitions>>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let topics = topics.map(|ts| ts.into_iter().map(|t| (t.topic, t.partitions)).collect());
        promise(
            env,
            async move { c.offset_fetch(&group_id, topics).await },
            committed,
        )
    }

    #[napi(ts_return_type = "Promise<RemoteGroupDescription[]>")]
    pub fn describe_groups<'env>(
        &self,
        env: &'env Env,
        groups: Vec<String>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        promise(env, async move { c.describe_groups(groups).await }, |v| {
            Ok(v.into_iter()
                .map(|g| RemoteGroupDescription {
                    group_id: g.group_id,
                    error_code: g.error_code.into(),
                    state: g.state,
                    protocol_type: g.protocol_type,
                    protocol: g.protocol,
                    members: g
                        .members
                        .into_iter()
                        .map(|m| DescribedGroupMember {
                            member_id: m.member_id,
                            group_instance_id: m.group_instance_id,
                            client_id: m.client_id,
                            client_host: m.client_host,
                            member_metadata: Buffer::from(m.member_metadata.to_vec()),
                            member_assignment: Buffer::from(m.member_assignment.to_vec()),
                        })
                        .collect(),
                })
                .collect::<Vec<_>>())
        })
    }

    #[napi(ts_return_type = "Promise<ListedGroup[]>")]
    pub fn list_groups<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let c = self.get()?;
        promise(env, async move { c.list_groups().await }, |v| {
            Ok(v.into_iter()
                .map(|g| ListedGroup {
                    group_id: g.group_id,
                    protocol_type: g.protocol_type,
                    state: g.state,
                })
                .collect::<Vec<_>>())
        })
    }

    #[napi(ts_return_type = "Promise<RemoteNamedResult[]>")]
    pub fn delete_groups<'env>(&self, env: &'env Env, groups: Vec<String>) -> Result<Object<'env>> {
        let c = self.get()?;
        promise(env, async move { c.delete_groups(groups).await }, named)
    }
}

fn partition_values(v: Vec<RemotePartitionValue>) -> Result<Vec<fc::PartitionOffset>> {
    v.into_iter()
        .map(|p| {
            Ok(fc::PartitionOffset {
                value: i64_arg("offset", p.value)?,
                topic: p.topic,
                partition: p.partition,
            })
        })
        .collect()
}

// ---- ACLs (remote admin), kept in one block: the object types live in acls.rs ----

fn acl_filter(f: crate::acls::NativeAclFilter) -> Result<fc::AclFilter> {
    let c = f.codes()?;
    Ok(fc::AclFilter {
        resource_type: c.resource_type,
        resource_name: f.resource_name,
        pattern_type: c.pattern,
        principal: f.principal,
        host: f.host,
        operation: c.operation,
        permission_type: c.permission,
    })
}

fn acl_binding(a: crate::acls::NativeAclBinding) -> Result<fc::AclBinding> {
    let c = a.codes()?;
    Ok(fc::AclBinding {
        resource_type: c.resource_type,
        resource_name: a.resource_name,
        pattern_type: c.pattern,
        principal: a.principal,
        host: a.host,
        operation: c.operation,
        permission_type: c.permission,
    })
}

fn acl_out(b: fc::AclBinding) -> crate::acls::NativeAclBinding {
    crate::acls::NativeAclBinding {
        resource_type: b.resource_type.into(),
        resource_name: b.resource_name,
        resource_pattern_type: b.pattern_type.into(),
        principal: b.principal,
        host: b.host,
        operation: b.operation.into(),
        permission_type: b.permission_type.into(),
    }
}

#[napi]
impl RemoteClient {
    #[napi(ts_return_type = "Promise<NativeAclBinding[]>")]
    pub fn describe_acls<'env>(
        &self,
        env: &'env Env,
        filter: crate::acls::NativeAclFilter,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let filter = acl_filter(filter)?;
        promise(env, async move { c.describe_acls(filter).await }, |v| {
            Ok(v.into_iter().map(acl_out).collect::<Vec<_>>())
        })
    }

    #[napi(ts_return_type = "Promise<RemoteNamedResult[]>")]
    pub fn create_acls<'env>(
        &self,
        env: &'env Env,
        acls: Vec<crate::acls::NativeAclBinding>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let acls = acls
            .into_iter()
            .map(acl_binding)
            .collect::<Result<Vec<_>>>()?;
        promise(env, async move { c.create_acls(acls).await }, named)
    }

    #[napi(ts_return_type = "Promise<NativeAclDeleteResult[]>")]
    pub fn delete_acls<'env>(
        &self,
        env: &'env Env,
        filters: Vec<crate::acls::NativeAclFilter>,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let filters = filters
            .into_iter()
            .map(acl_filter)
            .collect::<Result<Vec<_>>>()?;
        promise(env, async move { c.delete_acls(filters).await }, |v| {
            Ok(v.into_iter()
                .map(|r| crate::acls::NativeAclDeleteResult {
                    error_code: r.error_code.into(),
                    error_message: r.error_message,
                    matching_acls: r.matching.into_iter().map(acl_out).collect(),
                })
                .collect::<Vec<_>>())
        })
    }
}

// Partition reassignment, in its own file (a child module: it shares `promise`).
#[path = "client_admin.rs"]
mod client_admin;
