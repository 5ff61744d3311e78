//! The response buffer. Encoding a Fetch response must not copy record
//! batches out of the segment maps: each batch goes in as a `Bytes` that
//! owns its map (no copy), registered here, and when the encoder writes
//! that exact slice the buffer records a reference to it instead of the
//! bytes. The result is a list of slices for one vectored write.
//!
//! `bytes::BufMut` is an unsafe trait, so this module allows `unsafe`: the
//! impl forwards every method to the inner `BytesMut` unchanged, which
//! keeps that type's guarantees.

#![allow(unsafe_code)]

use std::io::IoSlice;
use std::ops::Range;
use std::sync::Arc;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use ferrolog_engine::ReadChunk;
use kafka_protocol::protocol::buf::ByteBufMut;

/// A read chunk as a `Bytes` that keeps the map alive, without copying.
struct ChunkOwner(ReadChunk);

impl AsRef<[u8]> for ChunkOwner {
    fn as_ref(&self) -> &[u8] {
        self.0.bytes()
    }
}

/// Mapped batches shorter than this are copied: one more iovec costs more.
const SPLICE_BYTES_MIN: usize = 512;

/// The mapped record batches one response carries, to be sent as views of
/// the segment maps instead of copies.
#[derive(Default)]
pub struct Splices {
    chunks: Vec<Bytes>,
}

impl Splices {
    /// A `Bytes` over the chunk's mapped bytes, remembered for splicing.
    pub fn add(&mut self, chunk: ReadChunk) -> Bytes {
        let bytes = Bytes::from_owner(ChunkOwner(chunk));
        if bytes.len() >= SPLICE_BYTES_MIN {
            self.chunks.push(bytes.clone());
        }
        bytes
    }
}

enum Part {
    /// Bytes encoded for this response.
    Owned(Bytes),
    /// A view of a segment map (a spliced record batch).
    Mapped(Bytes),
}

/// An encoded response as a list of parts, owned or mapped, for one
/// vectored write.
pub struct ResponseBuf {
    parts: Vec<Part>,
    cur: BytesMut,
    /// Bytes in `parts`.
    done: usize,
    splices: Arc<Vec<Bytes>>,
    /// How many bytes went out as views rather than copies (for tests).
    pub spliced_bytes: usize,
}

impl ResponseBuf {
    /// An empty buffer that will splice `splices` when the encoder writes
    /// their bytes.
    pub fn new(splices: Splices) -> ResponseBuf {
        ResponseBuf {
            parts: Vec::new(),
            cur: BytesMut::with_capacity(256),
            done: 0,
            splices: Arc::new(splices.chunks),
            spliced_bytes: 0,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.done + self.cur.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The finished response: its parts in order.
    pub fn finish(mut self) -> Vec<Bytes> {
        if !self.cur.is_empty() {
            let tail = self.cur.split().freeze();
            self.parts.push(Part::Owned(tail));
        }
        self.parts
            .into_iter()
            .map(|p| match p {
                Part::Owned(b) | Part::Mapped(b) => b,
            })
            .collect()
    }

    fn spliced(&self, src: &[u8]) -> Option<Bytes> {
        if src.len() < SPLICE_BYTES_MIN {
            return None;
        }
        self.splices
            .iter()
            .find(|b| std::ptr::eq(b.as_ptr(), src.as_ptr()) && b.len() == src.len())
            .cloned()
    }
}

/// IoSlices over `parts` starting `skip` bytes in, at most `max` of them.
pub fn io_slices<'a>(parts: &'a [Bytes], mut skip: usize, max: usize) -> Vec<IoSlice<'a>> {
    let mut out = Vec::new();
    for p in parts {
        if out.len() >= max {
            break;
        }
        if skip >= p.len() {
            skip -= p.len();
            continue;
        }
        out.push(IoSlice::new(&p[skip..]));
        skip = 0;
    }
    out
}

// SAFETY: every method forwards to the owned `BytesMut` tail (`cur`), which
// upholds BufMut's contract; `put_slice` only moves whole initialized slices
// into `parts`, so `remaining_mut`/`chunk_mut`/`advance_mut` always describe
// `cur` consistently.
unsafe impl BufMut for ResponseBuf {
    fn remaining_mut(&self) -> usize {
        self.cur.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: forwarded with the caller's contract unchanged: `cnt`
        // bytes of `self.cur.chunk_mut()` were initialized by the caller.
        unsafe { self.cur.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.cur.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        if let Some(view) = self.spliced(src) {
            if !self.cur.is_empty() {
                let head = self.cur.split().freeze();
                self.done += head.len();
                self.parts.push(Part::Owned(head));
            }
            self.done += view.len();
            self.spliced_bytes += view.len();
            self.parts.push(Part::Mapped(view));
        } else {
            self.cur.extend_from_slice(src);
        }
    }
}

impl ByteBufMut for ResponseBuf {
    fn offset(&self) -> usize {
        self.len()
    }

    // The message encoders never seek or patch (only kafka-protocol's record
    // encoder does, which the broker does not use); these act on the
    // unspliced tail, which is all that could be patched.
    fn seek(&mut self, offset: usize) {
        if offset >= self.done {
            self.cur.resize(offset - self.done, 0);
        }
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        let done = self.done;
        if r.start < done || r.end < r.start {
            return &mut [];
        }
        self.cur
            .get_mut(r.start - done..r.end - done)
            .unwrap_or(&mut [])
    }
}
