//! One client connection: a reader that frames requests (bounded), a
//! bounded queue of frames read ahead, and a writer that answers them in
//! order, as Kafka does per connection. Any failure closes only this
//! connection, with one log line.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::dispatch;
use crate::framing::{read_frame, Frame, FrameError};
use crate::handlers::sasl::Session;
use crate::handlers::Ctx;
use crate::splice::io_slices;
use crate::stats::Stats;

/// iovecs per writev call (Linux allows 1024).
const IOV_MAX: usize = 256;

/// A socket the broker can serve: plain TCP or TLS over it.
pub trait Socket: AsyncRead + AsyncWrite + Send + Unpin + 'static {
    fn no_delay(&self);
    fn is_tls(&self) -> bool;
}

impl Socket for TcpStream {
    fn no_delay(&self) {
        let _ = self.set_nodelay(true);
    }
    fn is_tls(&self) -> bool {
        false
    }
}

impl Socket for tokio_rustls::server::TlsStream<TcpStream> {
    fn no_delay(&self) {
        let _ = self.get_ref().0.set_nodelay(true);
    }
    fn is_tls(&self) -> bool {
        true
    }
}

pub async fn serve<S: Socket>(
    stream: S,
    peer: SocketAddr,
    ctx: Arc<Ctx>,
    mut shutdown: watch::Receiver<bool>,
) {
    stream.no_delay();
    let tls = stream.is_tls();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Frame>(ctx.config.in_flight_max.max(1));
    let reader_ctx = ctx.clone();
    let reader = async move {
        let c = &reader_ctx.config;
        loop {
            let budget = Some(&reader_ctx.budget);
            let (max, idle, slow) = (c.request_bytes_max, c.idle_timeout, c.frame_timeout);
            match read_frame(&mut rd, max, idle, slow, budget).await {
                Ok(Some(frame)) => {
                    Stats::add(&reader_ctx.stats.bytes_in, frame.bytes.len() as u64 + 4);
                    if tx.send(frame).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    };
    let writer_ctx = ctx.clone();
    let writer = async move {
        let mut session = Session::default();
        session.peer = Some(peer);
        session.tls = tls;
        while let Some(frame) = rx.recv().await {
            Stats::add(&writer_ctx.stats.requests, 1);
            // The frame's budget share is held until its answer is written.
            let Frame { bytes, permit } = frame;
            let result = dispatch::handle(&writer_ctx, &mut session, bytes).await;
            let _permit = permit;
            match result {
                Ok(Some(parts)) => {
                    let n = write_parts(&mut wr, &parts)
                        .await
                        .map_err(|e| e.to_string())?;
                    Stats::add(&writer_ctx.stats.bytes_out, n as u64);
                    if session.close_after_response {
                        return Err("SASL authentication failed".to_string());
                    }
                }
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    };
    tokio::pin!(reader);
    tokio::pin!(writer);
    let mut reading = true;
    let log = &ctx.config.log;
    loop {
        tokio::select! {
            r = &mut reader, if reading => match r {
                // The peer closed; answer what it sent before closing.
                Ok(()) => reading = false,
                Err(FrameError::Io(_)) => return,
                Err(e) => {
                    Stats::add(&ctx.stats.protocol_errors, 1);
                    log(&format!("closing connection from {peer}: {e}"));
                    return;
                }
            },
            w = &mut writer => {
                if let Err(e) = w {
                    Stats::add(&ctx.stats.protocol_errors, 1);
                    log(&format!("closing connection from {peer}: {e}"));
                }
                return;
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// Writes every part with as few writev calls as the socket allows.
async fn write_parts<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    parts: &[Bytes],
) -> std::io::Result<usize> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut written = 0;
    while written < total {
        let slices = io_slices(parts, written, IOV_MAX);
        let n = w.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        written += n;
    }
    // TLS buffers what it encrypts; plain TCP's flush does nothing.
    w.flush().await?;
    Ok(total)
}
