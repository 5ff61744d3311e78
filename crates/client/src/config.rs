//! Client configuration (the knobs kafkajs and the Java client expose under similar names).

use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    /// PEM CA bundle; when absent the system bundle (/etc/ssl/certs) is used.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate chain (mutual TLS), with `key_pem`.
    pub cert_pem: Option<Vec<u8>>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for `cert_pem`.
    pub key_pem: Option<Vec<u8>>,
    /// Name to verify the broker certificate against; defaults to the broker host.
    pub server_name: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "plain" => Some(SaslMechanism::Plain),
            "scram-sha-256" => Some(SaslMechanism::ScramSha256),
            "scram-sha-512" => Some(SaslMechanism::ScramSha512),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SaslConfig {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `host:port` of one or more brokers to bootstrap from.
    pub bootstrap: Vec<String>,
    pub client_id: String,
    pub tls: Option<TlsConfig>,
    pub sasl: Option<SaslConfig>,
    pub connect_timeout: Duration,
    /// Time allowed for a response, on top of a fetch's own max wait.
    pub request_timeout: Duration,
    /// Requests sent on one connection and not yet answered (pipelining bound).
    pub max_in_flight: usize,
    /// Largest response frame accepted from a broker; a longer length prefix
    /// closes the connection before anything is allocated for it.
    pub max_response_bytes: usize,
    /// Attempts after the first for retriable errors (metadata refreshed in between).
    pub retries: u32,
    pub retry_backoff: Duration,
    /// Whether Metadata requests may create topics (broker `auto.create.topics.enable`).
    pub allow_auto_topic_creation: bool,
}

impl ClientConfig {
    pub fn new(bootstrap: impl IntoIterator<Item = impl Into<String>>) -> Self {
        ClientConfig {
            bootstrap: bootstrap.into_iter().map(Into::into).collect(),
            client_id: "ferrolog".to_string(),
            tls: None,
            sasl: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 5,
            max_response_bytes: 100 * 1024 * 1024 + 64 * 1024,
            retries: 5,
            retry_backoff: Duration::from_millis(100),
            allow_auto_topic_creation: false,
        }
    }
}
