//! Size-prefixed frames, read with every bound checked first: the size
//! against `socket.request.max.bytes` before any buffer exists, idle time
//! between frames, and the time one frame may take to arrive.

use std::fmt;
use std::io;
use std::time::Duration;

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::timeout;

/// api_key (2) + api_version (2) + correlation_id (4): no valid request is shorter.
pub const FRAME_BYTES_MIN: usize = 8;

/// Why a connection's framing stopped; each closes the connection.
#[derive(Debug)]
pub enum FrameError {
    /// The socket failed.
    Io(io::Error),
    /// The size prefix is negative or below the smallest request.
    TooSmall(i32),
    /// The size prefix is over `socket.request.max.bytes`; nothing was
    /// allocated for it.
    TooLarge {
        /// The size the prefix announced.
        size: i32,
        /// The limit.
        max: usize,
    },
    /// Nothing arrived for `idle_timeout`.
    Idle,
    /// A frame started but did not complete within `frame_timeout`.
    Slow,
    /// The peer closed the socket inside a frame.
    Truncated {
        /// Bytes the frame's size prefix announced.
        expected: usize,
        /// Bytes that arrived before the close.
        got: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Io(e) => write!(f, "read failed: {e}"),
            FrameError::TooSmall(n) => write!(
                f,
                "size prefix {n} is below the {FRAME_BYTES_MIN}-byte minimum request"
            ),
            FrameError::TooLarge { size, max } => write!(
                f,
                "size prefix {size} exceeds socket.request.max.bytes ({max})"
            ),
            FrameError::Idle => write!(f, "idle timeout"),
            FrameError::Slow => write!(f, "a request did not arrive within the frame timeout"),
            FrameError::Truncated { expected, got } => write!(
                f,
                "connection closed {got} bytes into a {expected}-byte request"
            ),
        }
    }
}

/// The largest step by which a frame buffer grows ahead of the bytes that
/// actually arrived: a peer that claims 100 MiB and sends 10 bytes costs 64 KiB.
const READ_AHEAD_BYTES: usize = 64 * 1024;

/// The broker-wide budget of request bytes held in memory (read, not yet
/// answered), as Kafka's `queued.max.request.bytes`.
#[derive(Clone)]
pub struct Budget {
    sem: Arc<Semaphore>,
    total: u32,
}

impl Budget {
    /// A budget of `bytes` (clamped to 1..=u32::MAX) shared by every
    /// connection of a broker.
    pub fn new(bytes: usize) -> Budget {
        let total = u32::try_from(bytes).unwrap_or(u32::MAX).max(1);
        Budget {
            sem: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Bytes not taken right now (for tests).
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }
}

/// A frame and its share of the broker-wide budget of request bytes held
/// in memory; the share returns when the frame (and its answer) is dropped.
pub struct Frame {
    /// The request: header and body, without the size prefix.
    pub bytes: Bytes,
    /// Its share of the budget, None for a frame read without one.
    pub permit: Option<OwnedSemaphorePermit>,
}

/// Reads one frame's body (without its size prefix). `Ok(None)` is a clean
/// close between frames. With a `budget`, the frame's declared size is
/// taken from it (capped at the whole budget) before the body is read, so
/// all connections together never hold more request bytes than it allows:
/// a reader waits for room instead.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
    idle: Duration,
    frame: Duration,
    budget: Option<&Budget>,
) -> Result<Option<Frame>, FrameError> {
    let mut prefix = [0u8; 4];
    match timeout(idle, r.read(&mut prefix[..1])).await {
        Err(_) => return Err(FrameError::Idle),
        Ok(Err(e)) => return Err(FrameError::Io(e)),
        Ok(Ok(0)) => return Ok(None),
        Ok(Ok(_)) => {}
    }
    let size = match timeout(frame, read_full(r, &mut prefix[1..])).await {
        Err(_) => return Err(FrameError::Slow),
        Ok(r) => r.map(|()| i32::from_be_bytes(prefix))?,
    };
    if size < FRAME_BYTES_MIN as i32 {
        return Err(FrameError::TooSmall(size));
    }
    if size as usize > max {
        return Err(FrameError::TooLarge { size, max });
    }
    let size = size as usize;
    let permit = match budget {
        None => None,
        Some(b) => {
            // A frame larger than the whole budget waits for all of it.
            let want = u32::try_from(size).unwrap_or(u32::MAX).min(b.total);
            match b.sem.clone().acquire_many_owned(want).await {
                Ok(p) => Some(p),
                Err(_) => return Ok(None),
            }
        }
    };
    let body = async {
        let mut buf = Vec::with_capacity(size.min(READ_AHEAD_BYTES));
        // `take` caps the read at the declared size; the vector grows only
        // with bytes that arrived.
        let got = r
            .take(size as u64)
            .read_to_end(&mut buf)
            .await
            .map_err(FrameError::Io)?;
        if got != size {
            return Err(FrameError::Truncated {
                expected: size,
                got,
            });
        }
        Ok(Bytes::from(buf))
    };
    match timeout(frame, body).await {
        Err(_) => Err(FrameError::Slow),
        Ok(r) => r.map(|bytes| Some(Frame { bytes, permit })),
    }
}

async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> Result<(), FrameError> {
    let mut got = 0;
    while got < buf.len() {
        let n = r.read(&mut buf[got..]).await.map_err(FrameError::Io)?;
        if n == 0 {
            return Err(FrameError::Truncated {
                expected: 4,
                got: got + 1,
            });
        }
        got += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn reads_a_frame_and_a_clean_close() {
        run(async {
            let mut input: &[u8] = &[0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
            let f = read_frame(&mut input, 100, T, T, None)
                .await
                .unwrap()
                .unwrap()
                .bytes;
            assert_eq!(&f[..], &[1, 2, 3, 4, 5, 6, 7, 8]);
            assert!(read_frame(&mut input, 100, T, T, None)
                .await
                .unwrap()
                .is_none());
        });
    }

    #[test]
    fn refuses_sizes_before_allocating() {
        run(async {
            let mut huge: &[u8] = &[0x7f, 0xff, 0xff, 0xff];
            assert!(matches!(
                read_frame(&mut huge, 100 << 20, T, T, None).await,
                Err(FrameError::TooLarge { .. })
            ));
            let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xff];
            assert!(matches!(
                read_frame(&mut negative, 100, T, T, None).await,
                Err(FrameError::TooSmall(-1))
            ));
            let mut short: &[u8] = &[0, 0, 0, 20, 1, 2];
            assert!(matches!(
                read_frame(&mut short, 100, T, T, None).await,
                Err(FrameError::Truncated {
                    expected: 20,
                    got: 2
                })
            ));
            let mut prefix_cut: &[u8] = &[0, 0];
            assert!(matches!(
                read_frame(&mut prefix_cut, 100, T, T, None).await,
                Err(FrameError::Truncated { .. })
            ));
        });
    }
}
