//! One connection to one broker: TLS, ApiVersions negotiation, SASL, and request
//! pipelining (a writer task, a reader task, responses matched by correlation id,
//! at most `max_in_flight` requests awaiting an answer).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::TlsConnector;

use crate::config::{ClientConfig, SaslConfig, SaslMechanism, TlsConfig};
use crate::error::{codes, Error, Result};
use crate::scram::Scram;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

type Reply = oneshot::Sender<Result<Bytes>>;
/// `None` once the connection is closed: nothing new may wait on it.
type Pending = Arc<Mutex<Option<HashMap<i32, Reply>>>>;

fn lock(p: &Pending) -> std::sync::MutexGuard<'_, Option<HashMap<i32, Reply>>> {
    // A panic cannot happen while the lock is held (plain map operations), so a
    // poisoned lock still guards a consistent map.
    p.lock().unwrap_or_else(|e| e.into_inner())
}

fn fail_all(pending: &Pending, closed: &AtomicBool, err: Error) {
    closed.store(true, Ordering::Release);
    let waiting = lock(pending).take();
    for (_, tx) in waiting.into_iter().flatten() {
        let _ = tx.send(Err(err.clone()));
    }
}

/// Builds the rustls connector for `cfg`, once per client: the roots from `ca_pem`
/// (else the system bundle), and a client certificate when both `cert_pem` and
/// `key_pem` are given. [`Error::Tls`] for a bad PEM, [`Error::Config`] for a
/// certificate without its key or the reverse.
pub(crate) fn tls_connector(cfg: &TlsConfig) -> Result<TlsConnector> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let ca = match &cfg.ca_pem {
        Some(p) => p.clone(),
        None => std::fs::read("/etc/ssl/certs/ca-certificates.crt")
            .map_err(|e| Error::Tls(format!("no CA given and no system bundle: {e}")))?,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        let cert = cert.map_err(|e| Error::Tls(format!("bad CA PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| Error::Tls(format!("bad CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(Error::Tls("the CA PEM holds no certificate".to_string()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match (&cfg.cert_pem, &cfg.key_pem) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::Tls(format!("bad certificate PEM: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| Error::Tls(format!("bad key PEM: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::Tls(e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(Error::Config(
                "a TLS client certificate and key go together".to_string(),
            ))
        }
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// One connection to one broker, set up (TLS, ApiVersions, SASL) before use and
/// shared by the client's callers: requests are pipelined, at most `max_in_flight`
/// awaiting an answer, and matched to their responses by correlation id. Once closed
/// (I/O error, a timed-out request, [`Connection::close`]) it stays closed; the
/// client connects afresh.
pub(crate) struct Connection {
    /// The `host:port` it is connected to, for error messages.
    addr: String,
    tx: mpsc::Sender<Bytes>,
    pending: Pending,
    closed: Arc<AtomicBool>,
    inflight: Arc<Semaphore>,
    next_corr: AtomicI32,
    client_id: StrBytes,
    request_timeout: Duration,
    versions: OnceLock<HashMap<i16, (i16, i16)>>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Connection {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Connection {
    /// Connects to `addr` (`host:port`): TCP within `connect_timeout`, then TLS when
    /// `tls` is given, ApiVersions, and SASL when configured, the whole within
    /// `connect_timeout + request_timeout` (else [`Error::Timeout`]).
    pub(crate) async fn connect(
        addr: &str,
        cfg: &ClientConfig,
        tls: Option<&TlsConnector>,
    ) -> Result<Arc<Connection>> {
        let work = Self::connect_inner(addr, cfg, tls);
        match tokio::time::timeout(cfg.connect_timeout + cfg.request_timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout(format!("connecting to {addr}"))),
        }
    }

    async fn connect_inner(
        addr: &str,
        cfg: &ClientConfig,
        tls: Option<&TlsConnector>,
    ) -> Result<Arc<Connection>> {
        let tcp = match tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Error::Connection(format!("{addr}: {e}"))),
            Err(_) => return Err(Error::Timeout(format!("connecting to {addr}"))),
        };
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = match tls {
            Some(connector) => {
                let host = match cfg.tls.as_ref().and_then(|t| t.server_name.clone()) {
                    Some(h) => h,
                    None => addr
                        .rsplit_once(':')
                        .map(|(h, _)| h)
                        .unwrap_or(addr)
                        .trim_matches(['[', ']'])
                        .to_string(),
                };
                let name = rustls_pki_types::ServerName::try_from(host)
                    .map_err(|e| Error::Tls(format!("bad server name: {e}")))?;
                let s = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| Error::Tls(format!("{addr}: {e}")))?;
                Box::new(s)
            }
            None => Box::new(tcp),
        };
        let (rd, wr) = tokio::io::split(stream);
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let closed = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Bytes>(cfg.max_in_flight.max(1) * 2);
        let reader = tokio::spawn(read_loop(
            BufReader::with_capacity(64 * 1024, rd),
            pending.clone(),
            closed.clone(),
            cfg.max_response_bytes,
        ));
        let writer = tokio::spawn(write_loop(
            BufWriter::with_capacity(64 * 1024, wr),
            rx,
            pending.clone(),
            closed.clone(),
        ));
        let conn = Connection {
            addr: addr.to_string(),
            tx,
            pending,
            closed,
            inflight: Arc::new(Semaphore::new(cfg.max_in_flight.max(1))),
            next_corr: AtomicI32::new(1),
            client_id: StrBytes::from_string(cfg.client_id.clone()),
            request_timeout: cfg.request_timeout,
            versions: OnceLock::new(),
            tasks: [reader, writer],
        };
        conn.negotiate().await?;
        if let Some(sasl) = &cfg.sasl {
            conn.authenticate(sasl).await?;
        }
        Ok(Arc::new(conn))
    }

    /// Closes the connection now: requests waiting on it fail with a connection
    /// error and the socket is dropped (so whatever the broker still sends is
    /// never matched against a later request).
    pub(crate) fn close(&self) {
        fail_all(
            &self.pending,
            &self.closed,
            Error::Connection(format!("{}: closed", self.addr)),
        );
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Whether the connection is closed (it then fails every request).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// (api key, min, max) for every API the broker offers.
    pub(crate) fn api_versions(&self) -> Vec<(i16, i16, i16)> {
        self.versions
            .get()
            .map(|m| m.iter().map(|(k, (a, b))| (*k, *a, *b)).collect())
            .unwrap_or_default()
    }

    /// The highest version both sides support, capped by `cap` (for features the
    /// caller cannot fill in at newer versions).
    pub(crate) fn version<R: Request>(&self, cap: i16) -> Result<i16> {
        let (bmin, bmax) = self
            .versions
            .get()
            .and_then(|m| m.get(&R::KEY).copied())
            .ok_or(Error::UnsupportedVersion { api_key: R::KEY })?;
        let max = bmax.min(R::VERSIONS.max).min(cap);
        let min = bmin.max(R::VERSIONS.min);
        if max < min {
            return Err(Error::UnsupportedVersion { api_key: R::KEY });
        }
        Ok(max)
    }

    fn frame<R: Request>(&self, req: &R, version: i16, corr: i32) -> Result<Bytes> {
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(corr)
            .with_client_id(Some(self.client_id.clone()));
        let hv = R::header_version(version);
        let size = header
            .compute_size(hv)
            .and_then(|h| req.compute_size(version).map(|b| h + b));
        let size = size.map_err(|e| {
            Error::Protocol(format!("cannot encode API {} v{version}: {e}", R::KEY))
        })?;
        let len = i32::try_from(size)
            .map_err(|_| Error::Config(format!("request of {size} bytes is too large")))?;
        let mut buf = BytesMut::with_capacity(size + 4);
        buf.put_i32(len);
        header
            .encode(&mut buf, hv)
            .and_then(|_| req.encode(&mut buf, version))
            .map_err(|e| {
                Error::Protocol(format!("cannot encode API {} v{version}: {e}", R::KEY))
            })?;
        Ok(buf.freeze())
    }

    /// Sends a request and returns the whole response frame (header included).
    async fn roundtrip<R: Request>(&self, req: &R, version: i16, extra: Duration) -> Result<Bytes> {
        self.roundtrip_queued(req, version, extra, &mut || {}).await
    }

    /// As `roundtrip`, calling `queued` once the request is in the write queue
    /// (before its answer is awaited), so a caller can let the next request go.
    async fn roundtrip_queued<R: Request>(
        &self,
        req: &R,
        version: i16,
        extra: Duration,
        queued: &mut (dyn FnMut() + Send),
    ) -> Result<Bytes> {
        let permit = self
            .inflight
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Connection(format!("{}: closed", self.addr)))?;
        let corr = self.next_corr.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let frame = self.frame(req, version, corr)?;
        let (tx, rx) = oneshot::channel();
        match lock(&self.pending).as_mut() {
            Some(m) => {
                m.insert(corr, tx);
            }
            None => return Err(Error::Connection(format!("{}: closed", self.addr))),
        }
        if self.tx.send(frame).await.is_err() {
            if let Some(m) = lock(&self.pending).as_mut() {
                m.remove(&corr);
            }
            return Err(Error::Connection(format!("{}: closed", self.addr)));
        }
        queued();
        let res = tokio::time::timeout(self.request_timeout + extra, rx).await;
        drop(permit);
        match res {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::Connection(format!("{}: closed", self.addr))),
            Err(_) => {
                // Like the Java client: a connection that does not answer in time is
                // closed, so the in-flight window and the ordering stay simple.
                let err = Error::Timeout(format!("API {} to {}", R::KEY, self.addr));
                fail_all(&self.pending, &self.closed, err.clone());
                for t in &self.tasks {
                    t.abort();
                }
                Err(err)
            }
        }
    }

    fn decode<R: Request>(mut frame: Bytes, version: i16) -> Result<R::Response> {
        let hv = R::Response::header_version(version);
        ResponseHeader::decode(&mut frame, hv)
            .and_then(|_| R::Response::decode(&mut frame, version))
            .map_err(|e| {
                Error::Protocol(format!(
                    "cannot decode API {} v{version} response: {e}",
                    R::KEY
                ))
            })
    }

    /// Sends `req` at `version` and waits for its response, at most the request
    /// timeout: past it the connection is closed and the call is [`Error::Timeout`];
    /// a broken connection is [`Error::Connection`], an undecodable answer
    /// [`Error::Protocol`].
    pub(crate) async fn send<R: Request>(&self, req: &R, version: i16) -> Result<R::Response> {
        self.send_with_wait(req, version, Duration::ZERO).await
    }

    /// As `send`, calling `queued` once the request is in the write queue.
    pub(crate) async fn send_queued<R: Request>(
        &self,
        req: &R,
        version: i16,
        queued: &mut (dyn FnMut() + Send),
    ) -> Result<R::Response> {
        let frame = self
            .roundtrip_queued(req, version, Duration::ZERO, queued)
            .await?;
        Self::decode::<R>(frame, version)
    }

    /// As `send`, allowing `extra` time on top of the request timeout (a fetch's max wait).
    pub(crate) async fn send_with_wait<R: Request>(
        &self,
        req: &R,
        version: i16,
        extra: Duration,
    ) -> Result<R::Response> {
        let frame = self.roundtrip(req, version, extra).await?;
        Self::decode::<R>(frame, version)
    }

    /// Sends a request the broker does not answer (Produce with acks=0).
    pub(crate) async fn send_oneway<R: Request>(&self, req: &R, version: i16) -> Result<()> {
        let corr = self.next_corr.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let frame = self.frame(req, version, corr)?;
        if self.is_closed() || self.tx.send(frame).await.is_err() {
            return Err(Error::Connection(format!("{}: closed", self.addr)));
        }
        Ok(())
    }

    async fn negotiate(&self) -> Result<()> {
        let mut version: i16 = 3;
        for _ in 0..2 {
            let mut req = ApiVersionsRequest::default();
            if version >= 3 {
                req = req
                    .with_client_software_name(StrBytes::from_static_str("ferrolog"))
                    .with_client_software_version(StrBytes::from_static_str(env!(
                        "CARGO_PKG_VERSION"
                    )));
            }
            let frame = self.roundtrip(&req, version, Duration::ZERO).await?;
            let decoded = Self::decode::<ApiVersionsRequest>(frame.clone(), version);
            let resp = match decoded {
                Ok(r) if r.error_code == codes::NONE => r,
                _ => {
                    // A broker that does not know this ApiVersions version answers in v0
                    // with its own range (KIP-511); retry at the highest it supports.
                    let v0: ApiVersionsResponse = Self::decode::<ApiVersionsRequest>(frame, 0)?;
                    let theirs = v0
                        .api_keys
                        .iter()
                        .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                        .map(|k| k.max_version)
                        .ok_or_else(|| Error::kafka(v0.error_code, "ApiVersions refused"))?;
                    if theirs >= version || theirs < 0 {
                        return Err(Error::kafka(v0.error_code, "ApiVersions refused"));
                    }
                    version = theirs;
                    continue;
                }
            };
            let map = resp
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect();
            let _ = self.versions.set(map);
            return Ok(());
        }
        Err(Error::Protocol(
            "ApiVersions negotiation failed".to_string(),
        ))
    }

    async fn authenticate(&self, sasl: &SaslConfig) -> Result<()> {
        let hv = self.version::<SaslHandshakeRequest>(1)?;
        if hv < 1 {
            return Err(Error::Authentication(
                "the broker only offers SaslHandshake v0 (unframed SASL)".to_string(),
            ));
        }
        let resp = self
            .send(
                &SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_static_str(sasl.mechanism.name())),
                hv,
            )
            .await?;
        if resp.error_code != codes::NONE {
            let offered: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(Error::Authentication(format!(
                "mechanism {} not enabled (the broker offers {})",
                sasl.mechanism.name(),
                offered.join(", ")
            )));
        }
        let av = self.version::<SaslAuthenticateRequest>(i16::MAX)?;
        match sasl.mechanism {
            SaslMechanism::Plain => {
                let msg = format!("\0{}\0{}", sasl.username, sasl.password);
                self.sasl_step(Bytes::from(msg.into_bytes()), av).await?;
            }
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                let mut scram = Scram::new(
                    sasl.mechanism,
                    &sasl.username,
                    &sasl.password,
                    Scram::random_nonce()?,
                );
                let server_first = self
                    .sasl_step(Bytes::from(scram.client_first()), av)
                    .await?;
                let client_final = scram.client_final(&server_first)?;
                let server_final = self.sasl_step(Bytes::from(client_final), av).await?;
                scram.verify_server_final(&server_final)?;
            }
        }
        Ok(())
    }

    async fn sasl_step(&self, auth: Bytes, version: i16) -> Result<Bytes> {
        let resp = self
            .send(
                &SaslAuthenticateRequest::default().with_auth_bytes(auth),
                version,
            )
            .await?;
        if resp.error_code != codes::NONE {
            let msg = resp
                .error_message
                .map(|m| m.to_string())
                .unwrap_or_default();
            return Err(Error::Authentication(msg));
        }
        Ok(resp.auth_bytes)
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut rd: R,
    pending: Pending,
    closed: Arc<AtomicBool>,
    max: usize,
) {
    let err = loop {
        let mut len = [0u8; 4];
        if let Err(e) = rd.read_exact(&mut len).await {
            break Error::Connection(format!("read: {e}"));
        }
        let len = i32::from_be_bytes(len);
        // Check the length before allocating for it: a broken or hostile peer
        // must not make the client reserve gigabytes.
        if len < 4 || len as usize > max {
            break Error::Protocol(format!("response frame of {len} bytes (limit {max})"));
        }
        let mut buf = BytesMut::zeroed(len as usize);
        if let Err(e) = rd.read_exact(&mut buf).await {
            break Error::Connection(format!("read: {e}"));
        }
        let corr = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let waiter = lock(&pending).as_mut().and_then(|m| m.remove(&corr));
        match waiter {
            Some(tx) => {
                let _ = tx.send(Ok(buf.freeze()));
            }
            // A response nobody waits for cannot happen (a timed-out request closes
            // the connection); treat it as a protocol violation.
            None => break Error::Protocol(format!("response with unknown correlation id {corr}")),
        }
    };
    fail_all(&pending, &closed, err);
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<Bytes>,
    pending: Pending,
    closed: Arc<AtomicBool>,
) {
    let mut failed = None;
    'outer: while let Some(frame) = rx.recv().await {
        if let Err(e) = wr.write_all(&frame).await {
            failed = Some(e);
            break;
        }
        // Coalesce whatever else is queued into the same flush (pipelining).
        while let Ok(more) = rx.try_recv() {
            if let Err(e) = wr.write_all(&more).await {
                failed = Some(e);
                break 'outer;
            }
        }
        if let Err(e) = wr.flush().await {
            failed = Some(e);
            break;
        }
    }
    let _ = wr.shutdown().await;
    let msg = failed
        .map(|e| format!("write: {e}"))
        .unwrap_or_else(|| "closed".to_string());
    fail_all(&pending, &closed, Error::Connection(msg));
}
