//! Client configuration (the knobs kafkajs and the Java client expose under similar names).

use std::time::Duration;

/// TLS for every broker connection: set (even to the default, all `None`) to
/// connect with TLS, verifying the broker's certificate (rustls, TLS 1.2 and 1.3).
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

/// The SASL mechanisms the client can authenticate with (SaslHandshake v1 and
/// SaslAuthenticate, right after ApiVersions on every new connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslMechanism {
    /// PLAIN (RFC 4616): the password crosses the wire as is, so use it with TLS.
    Plain,
    /// SCRAM-SHA-256 (RFC 5802, 7677): salted challenge-response; the server's
    /// final message is verified too.
    ScramSha256,
    /// SCRAM-SHA-512: as SCRAM-SHA-256 with SHA-512.
    ScramSha512,
}

impl SaslMechanism {
    /// The mechanism's name as SaslHandshake carries it (`"SCRAM-SHA-256"`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism for a kafkajs-style name (`plain`, `scram-sha-256`,
    /// `scram-sha-512`, any case); `None` for any other.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "plain" => Some(SaslMechanism::Plain),
            "scram-sha-256" => Some(SaslMechanism::ScramSha256),
            "scram-sha-512" => Some(SaslMechanism::ScramSha512),
            _ => None,
        }
    }
}

/// SASL credentials: every connection authenticates with them before its first
/// request; a failure is [`Error::Authentication`](crate::Error::Authentication).
#[derive(Clone, Debug)]
pub struct SaslConfig {
    /// How to authenticate (the broker must enable it, or the handshake fails).
    pub mechanism: SaslMechanism,
    /// The user name (SCRAM escapes `=` and `,` itself).
    pub username: String,
    /// The password, in clear: SCRAM derives its keys from it on each connect.
    pub password: String,
}

/// Everything [`Client::connect`](crate::Client::connect) needs: where to
/// bootstrap, security, timeouts, pipelining and retry bounds. Start from
/// [`ClientConfig::new`] (the defaults) and set fields.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `host:port` of one or more brokers to bootstrap from.
    pub bootstrap: Vec<String>,
    /// Sent in every request header (brokers log it and use it for quotas);
    /// default `ferrolog`.
    pub client_id: String,
    /// `Some`: every connection uses TLS; `None` (default): plaintext.
    pub tls: Option<TlsConfig>,
    /// `Some`: every connection authenticates; `None` (default): no SASL.
    pub sasl: Option<SaslConfig>,
    /// Bound on the TCP connect (default 10 s); the whole setup (TLS, ApiVersions, SASL) is
    /// bounded by this plus `request_timeout`. Over it:
    /// [`Error::Timeout`](crate::Error::Timeout).
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
    /// Wait before the first retry (default 100 ms), doubled for each retry after
    /// it, at most 32 times this and never over 5 s.
    pub retry_backoff: Duration,
    /// Whether Metadata requests may create topics (broker `auto.create.topics.enable`).
    pub allow_auto_topic_creation: bool,
}

impl ClientConfig {
    /// A config for these `host:port` bootstrap brokers with the defaults:
    /// client id `ferrolog`, no TLS or SASL, connect timeout 10 s, request timeout
    /// 30 s, 5 requests in flight per connection, responses up to 100 MiB + 64 KiB,
    /// 5 retries with a 100 ms backoff, no auto topic creation.
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
