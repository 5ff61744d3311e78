//! Broker settings and limits, named after Kafka's broker configs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Kafka's `socket.request.max.bytes` default.
pub const REQUEST_BYTES_MAX_DEFAULT: usize = 100 * 1024 * 1024;
/// Where broker log lines go (one line per call, no trailing newline).
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;
/// Hands the broker the data directory's group coordinator (the one
/// in-process consumers use too); called off the tokio workers, once.
pub type GroupsProvider =
    Arc<dyn Fn() -> Result<Arc<ferrolog_coordinator::Coordinator>, String> + Send + Sync>;

/// Everything a broker is started with: Kafka's broker settings of the same
/// meaning, with defaults from `BrokerConfig::default`.
#[derive(Clone)]
pub struct BrokerConfig {
    /// Address to bind (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Host and port clients are told to connect to (Kafka's
    /// `advertised.listeners`); the bound address when None, the bound
    /// port when the port is 0.
    pub advertised: Option<(String, u16)>,
    /// `node.id`: the one broker's id in Metadata and FindCoordinator answers.
    pub node_id: i32,
    /// The cluster id Metadata and DescribeCluster report.
    pub cluster_id: String,
    /// `socket.request.max.bytes`: a larger size prefix closes the connection
    /// before any buffer is allocated for it.
    pub request_bytes_max: usize,
    /// `queued.max.request.bytes`: request bytes all connections together
    /// may hold read but not yet answered; readers wait past it.
    pub queued_bytes_max: usize,
    /// Connections beyond this many are closed as soon as they are accepted.
    pub connections_max: usize,
    /// Frames read ahead of the one being answered, per connection; past
    /// it the broker stops reading that socket (TCP pushes back).
    pub in_flight_max: usize,
    /// `connections.max.idle.ms`: a connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Once a frame has started, all of it must arrive within this time
    /// (defeats slowloris clients trickling bytes).
    pub frame_timeout: Duration,
    /// Longest `max_wait_ms` honoured for a Fetch.
    pub fetch_wait_max: Duration,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// `num.partitions`: partitions of auto-created topics and of
    /// CreateTopics asking for the default (-1).
    pub num_partitions: u32,
    /// SASL users and passwords (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512):
    /// when set, every connection must authenticate before anything but
    /// ApiVersions and SASL is served.
    pub sasl_users: Option<Arc<HashMap<String, String>>>,
    /// TLS on the listener (PEM certificate chain and private key): every
    /// connection starts with a TLS handshake. With `sasl_users` too, this
    /// is Kafka's SASL_SSL.
    pub tls: Option<TlsIdentity>,
    /// ACLs: `super.users` and `allow.everyone.if.no.acl.found`. Enforced
    /// only when `sasl_users` is set (without SASL there is no principal).
    pub acl: AclConfig,
    /// Tokio worker threads of the broker's runtime.
    pub worker_threads: usize,
    /// Where the broker's log lines go (refused connections, failed accepts).
    pub log: LogSink,
    /// The group coordinator to serve the group APIs from. None: the
    /// broker opens one of its own on the engine (with Kafka's defaults).
    pub groups: Option<GroupsProvider>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised: None,
            node_id: 0,
            cluster_id: "ferrolog".to_string(),
            request_bytes_max: REQUEST_BYTES_MAX_DEFAULT,
            queued_bytes_max: 512 * 1024 * 1024,
            connections_max: 1024,
            in_flight_max: 16,
            idle_timeout: Duration::from_secs(600),
            frame_timeout: Duration::from_secs(30),
            fetch_wait_max: Duration::from_secs(300),
            auto_create_topics: true,
            num_partitions: 1,
            sasl_users: None,
            tls: None,
            acl: AclConfig::default(),
            worker_threads: 2,
            log: Arc::new(|line: &str| eprintln!("ferrolog-broker: {line}")),
            groups: None,
        }
    }
}

/// The broker's TLS certificate chain and private key, PEM-encoded.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The certificate chain, leaf first, PEM.
    pub cert_pem: Vec<u8>,
    /// The leaf's private key (PKCS#8, PKCS#1 or SEC1), PEM.
    pub key_pem: Vec<u8>,
}

/// Kafka's StandardAuthorizer settings.
#[derive(Clone, Default)]
pub struct AclConfig {
    /// `super.users`: user names (without `User:`) allowed everything.
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found` (false, as Kafka's default).
    pub allow_if_no_acl: bool,
}
