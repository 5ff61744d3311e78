//! The broker: its own tokio runtime, the listening socket, the accept loop
//! with the connection limit, and shutdown.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ferrolog_engine::Engine;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::config::BrokerConfig;
use crate::connection;
use crate::handlers::Ctx;
use crate::stats::{Stats, StatsSnapshot};

/// Why a broker did not start.
#[derive(Debug)]
pub enum BrokerError {
    /// Its tokio runtime could not start.
    Runtime(std::io::Error),
    /// No system randomness for SCRAM salts.
    Random,
    /// The listen address could not be bound.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// The TLS certificate or key cannot be used.
    Tls(String),
    /// The ACL file in the data directory cannot be read or is damaged.
    Acls(String),
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokerError::Runtime(e) => write!(f, "cannot start the broker runtime: {e}"),
            BrokerError::Random => write!(f, "no system randomness for SCRAM salts"),
            BrokerError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            BrokerError::Tls(e) => write!(f, "TLS: {e}"),
            BrokerError::Acls(e) => write!(f, "ACLs: {e}"),
        }
    }
}

impl std::error::Error for BrokerError {}

/// A running broker: its own runtime serving the Kafka protocol on one
/// listener until [`Broker::shutdown`] or drop.
pub struct Broker {
    ctx: Arc<Ctx>,
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    runtime: Mutex<Option<Runtime>>,
}

/// Decrements the open-connection count however the connection ends.
struct OpenGuard(Arc<Ctx>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0
            .stats
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl Broker {
    /// Binds `config.listen` and starts serving `engine` on threads of the
    /// broker's own. Returns once the socket accepts connections.
    pub fn start(engine: Arc<Engine>, config: BrokerConfig) -> Result<Broker, BrokerError> {
        let tls = match &config.tls {
            None => None,
            Some(id) => Some(crate::tls::acceptor(id).map_err(BrokerError::Tls)?),
        };
        let acls = crate::acl::Store::shared(engine.dir()).map_err(BrokerError::Acls)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("ferrolog-broker")
            .enable_all()
            .build()
            .map_err(BrokerError::Runtime)?;
        let addr = config.listen;
        let listener = runtime
            .block_on(TcpListener::bind(addr))
            .map_err(|source| BrokerError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| BrokerError::Bind { addr, source })?;
        let advertised = match config.advertised.clone() {
            // Port 0 advertises the port actually bound.
            Some((host, 0)) => Some((host, local_addr.port())),
            other => other,
        };
        let advertised = advertised.unwrap_or_else(|| {
            let ip = local_addr.ip();
            let host = if ip.is_unspecified() {
                "localhost".to_string()
            } else {
                ip.to_string()
            };
            (host, local_addr.port())
        });
        let budget = crate::framing::Budget::new(config.queued_bytes_max);
        let scram = match &config.sasl_users {
            None => Default::default(),
            Some(users) => crate::scram::derive(users).ok_or(BrokerError::Random)?,
        };
        let ctx = Arc::new(Ctx {
            engine,
            budget,
            scram,
            config,
            stats: Stats::default(),
            advertised,
            groups: Default::default(),
            tls,
            acls,
        });
        let (shutdown, rx) = watch::channel(false);
        runtime.spawn(accept_loop(listener, ctx.clone(), rx));
        Ok(Broker {
            ctx,
            local_addr,
            shutdown,
            runtime: Mutex::new(Some(runtime)),
        })
    }

    /// The bound address (the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Request bytes that may still be read before readers wait (see
    /// `BrokerConfig::queued_bytes_max`).
    pub fn queued_bytes_available(&self) -> usize {
        self.ctx.budget.available()
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.ctx.stats.snapshot()
    }

    /// Stops accepting, closes every connection and stops the runtime's
    /// threads. Call it from outside the broker's runtime (it waits).
    /// The engine stays open: it belongs to the caller.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        if let Some(rt) = self.runtime.lock().take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(rt) = self.runtime.lock().take() {
            // Dropping a runtime from inside async code panics; background
            // shutdown is safe anywhere.
            rt.shutdown_background();
        }
    }
}

async fn accept_loop(listener: TcpListener, ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                (ctx.config.log)(&format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        Stats::add(&ctx.stats.connections_total, 1);
        let open = ctx.stats.connections_open.fetch_add(1, Ordering::Relaxed);
        let guard = OpenGuard(ctx.clone());
        if open as usize >= ctx.config.connections_max {
            Stats::add(&ctx.stats.connections_refused, 1);
            (ctx.config.log)(&format!(
                "refusing connection from {peer}: {} connections are open (max.connections)",
                open
            ));
            drop(stream);
            drop(guard);
            continue;
        }
        let c = ctx.clone();
        let rx = shutdown.clone();
        tokio::spawn(async move {
            let _guard = guard;
            let Some(tls) = c.tls.clone() else {
                connection::serve(stream, peer, c, rx).await;
                return;
            };
            let _ = stream.set_nodelay(true);
            // The handshake is bounded like a frame: a client that opens a
            // socket and says nothing is dropped.
            match tokio::time::timeout(c.config.frame_timeout, tls.accept(stream)).await {
                Ok(Ok(tls_stream)) => connection::serve(tls_stream, peer, c, rx).await,
                Ok(Err(e)) => {
                    Stats::add(&c.stats.protocol_errors, 1);
                    (c.config.log)(&format!("TLS handshake with {peer} failed: {e}"));
                }
                Err(_) => {
                    Stats::add(&c.stats.protocol_errors, 1);
                    (c.config.log)(&format!("TLS handshake with {peer} timed out"));
                }
            }
        });
    }
}
