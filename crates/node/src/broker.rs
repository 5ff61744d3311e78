//! The Kafka broker, started from JavaScript on the engine this process
//! already has open for a data directory. It runs on the broker's own
//! tokio threads; only start (bind) and the stats getter run on the JS
//! thread, and close waits on a thread of its own.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use ferrolog_broker::{Broker, BrokerConfig};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;

use crate::{deferred, invalid, resolve, NativeLog, Result};

#[napi(object)]
pub struct BrokerOptions {
    pub host: String,
    pub port: u32,
    pub advertised_host: Option<String>,
    pub advertised_port: Option<u32>,
    pub num_partitions: Option<u32>,
    pub auto_create_topics: Option<bool>,
    pub max_connections: Option<u32>,
    pub request_max_bytes: Option<u32>,
    /// SASL/PLAIN users and passwords; when given, clients must authenticate.
    pub sasl_users: Option<HashMap<String, String>>,
    /// TLS on the listener: the PEM certificate chain and private key.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// Kafka's `super.users` (user names, without `User:`).
    pub super_users: Option<Vec<String>>,
    /// Kafka's `allow.everyone.if.no.acl.found` (default false).
    pub allow_everyone_if_no_acl_found: Option<bool>,
}

#[napi(object)]
pub struct BrokerStats {
    pub connections: f64,
    pub connections_total: f64,
    pub connections_refused: f64,
    pub requests: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub protocol_errors: f64,
}

#[napi]
pub struct NativeBroker {
    broker: Option<Arc<Broker>>,
    host: String,
    port: u32,
}

fn ip_arg(host: &str) -> Result<IpAddr> {
    if host == "localhost" {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    host.parse::<IpAddr>().map_err(|_| {
        invalid(format!(
            "host must be an IP address or localhost, not `{host}`"
        ))
    })
}

/// Starts a broker serving the engine behind `log`. The socket is bound
/// (or the error thrown) when this returns.
#[napi]
pub fn start_broker(log: &NativeLog, options: BrokerOptions) -> Result<NativeBroker> {
    log.check()?;
    let port = u16::try_from(options.port)
        .map_err(|_| invalid(format!("port must be 0 to 65535, not {}", options.port)))?;
    let listen = SocketAddr::new(ip_arg(&options.host)?, port);
    let mut config = BrokerConfig {
        listen,
        ..BrokerConfig::default()
    };
    if let Some(n) = options.num_partitions {
        if n == 0 {
            return Err(invalid("numPartitions must be at least 1"));
        }
        config.num_partitions = n;
    }
    if let Some(a) = options.auto_create_topics {
        config.auto_create_topics = a;
    }
    if let Some(m) = options.max_connections {
        config.connections_max = m.max(1) as usize;
    }
    if let Some(m) = options.request_max_bytes {
        config.request_bytes_max = m.max(64) as usize;
    }
    if let Some(users) = options.sasl_users {
        if users.is_empty() {
            return Err(invalid("saslUsers must name at least one user"));
        }
        config.sasl_users = Some(Arc::new(users));
    }
    match (options.tls_cert, options.tls_key) {
        (Some(cert), Some(key)) => {
            config.tls = Some(ferrolog_broker::TlsIdentity {
                cert_pem: cert.into_bytes(),
                key_pem: key.into_bytes(),
            })
        }
        (None, None) => {}
        _ => return Err(invalid("a TLS certificate and key go together")),
    }
    if let Some(users) = options.super_users {
        config.acl.super_users = users
            .into_iter()
            .map(|u| u.strip_prefix("User:").map(str::to_string).unwrap_or(u))
            .collect();
    }
    if let Some(a) = options.allow_everyone_if_no_acl_found {
        config.acl.allow_if_no_acl = a;
    }
    if options.advertised_host.is_some() || options.advertised_port.is_some() {
        let host = options
            .advertised_host
            .clone()
            .unwrap_or_else(|| listen.ip().to_string());
        let port = u16::try_from(options.advertised_port.unwrap_or(0))
            .map_err(|_| invalid("advertisedPort must be 0 to 65535"))?;
        // Port 0: the port actually bound.
        config.advertised = Some((host, port));
    }
    // The group APIs are served by the coordinator in-process consumers
    // use, so a group can mix both kinds of members.
    let engine = log.engine.clone();
    config.groups = Some(Arc::new(move || crate::groups::coordinator_for(&engine)));
    let broker = Broker::start(log.engine.clone(), config)
        .map_err(|e| crate::coded("ERR_IO", format!("{e}")))?;
    let bound = broker.local_addr();
    Ok(NativeBroker {
        broker: Some(Arc::new(broker)),
        host: bound.ip().to_string(),
        port: u32::from(bound.port()),
    })
}

#[napi]
impl NativeBroker {
    /// The bound host (an IP address).
    #[napi(getter)]
    pub fn host(&self) -> String {
        self.host.clone()
    }

    /// The bound port (the real one when 0 was asked for).
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.port
    }

    #[napi]
    pub fn stats(&self) -> BrokerStats {
        let s = self.broker.as_ref().map(|b| b.stats());
        let f = |get: fn(&ferrolog_broker::StatsSnapshot) -> u64| {
            s.as_ref().map_or(0.0, |s| get(s) as f64)
        };
        BrokerStats {
            connections: f(|s| s.connections_open),
            connections_total: f(|s| s.connections_total),
            connections_refused: f(|s| s.connections_refused),
            requests: f(|s| s.requests),
            bytes_in: f(|s| s.bytes_in),
            bytes_out: f(|s| s.bytes_out),
            protocol_errors: f(|s| s.protocol_errors),
        }
    }

    /// Stops accepting, closes every connection and stops the broker's
    /// threads, on a thread of its own. The engine stays open.
    #[napi]
    pub fn close<'env>(&mut self, env: &'env Env) -> Result<Object<'env>> {
        let (deferred, promise) = deferred::<()>(env)?;
        let Some(broker) = self.broker.take() else {
            resolve(deferred, ());
            return Ok(promise);
        };
        std::thread::Builder::new()
            .name("ferrolog-broker-close".into())
            .spawn(move || {
                broker.shutdown();
                resolve(deferred, ());
            })
            .map_err(|e| crate::coded("ERR_IO", format!("cannot start close thread: {e}")))?;
        Ok(promise)
    }
}
