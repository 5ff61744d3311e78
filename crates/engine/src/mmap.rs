//! The only module with `unsafe` code: memory maps of segment files.
//!
//! Two kinds of map exist, after Iggy's split of readers and writers:
//!
//! * `WriteMap`: MAP_SHARED, read-write. Only the partition's writer holds
//!   one, for the active segment. It may write only below `backed_bytes`, the
//!   length the writer has really allocated with fallocate, so a full disk is
//!   an ENOSPC from fallocate and never a SIGBUS from a store.
//! * `ReadMap`: MAP_PRIVATE, copy-on-write, MAP_NORESERVE. Readers, including
//!   JavaScript views, get bytes from it. A stray write through a JavaScript
//!   view lands in a private page of this process and never reaches the file,
//!   and cannot fault as a PROT_READ page would. Reads are bounded by
//!   `readable_bytes`, which the writer publishes after each append.
//!
//! Accessing a page of a map that lies past the end of the file raises
//! SIGBUS. Two rules make that impossible:
//!
//! 1. Nobody touches bytes at or past `backed_bytes`, which only grows while
//!    a map exists (checked in every accessor here).
//! 2. No mapped page ever lies past the end of its file: every map
//!    registers its region, and `trim_file`, the only way a segment file is
//!    shrunk, first replaces each live private map's pages past the new end
//!    with anonymous zero pages (mmap MAP_FIXED, atomic per call), and
//!    refuses while a shared (writer) map would reach past it. Views handed
//!    to JavaScript keep their map alive, so they stay valid after close,
//!    trimming, retention and topic deletion (an unlinked file lives on while
//!    mapped); past the data they read zeros instead of faulting.
//!
//! A file shrunk by another program is outside these rules (the directory
//! lock keeps other ferrolog processes out, not `truncate(1)`); lmdb
//! documents the same hazard.

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// Sizes the writer publishes to every map of one segment file.
#[derive(Debug, Default)]
pub struct PublishedSizes {
    /// Bytes of whole, validated batches: readers never see past this.
    readable_bytes: AtomicU64,
    /// Bytes of the file backed by allocated blocks: nobody touches past this.
    backed_bytes: AtomicU64,
}

impl PublishedSizes {
    pub fn new(readable_bytes: u64, backed_bytes: u64) -> Arc<PublishedSizes> {
        assert!(readable_bytes <= backed_bytes);
        Arc::new(PublishedSizes {
            readable_bytes: AtomicU64::new(readable_bytes),
            backed_bytes: AtomicU64::new(backed_bytes),
        })
    }

    pub fn readable_bytes(&self) -> u64 {
        self.readable_bytes.load(Ordering::Acquire)
    }

    pub fn backed_bytes(&self) -> u64 {
        self.backed_bytes.load(Ordering::Acquire)
    }

    /// Publishes newly appended bytes. Release ordering pairs with the
    /// readers' Acquire so they see the bytes the writer copied before this.
    pub fn publish_readable(&self, readable_bytes: u64) {
        assert!(readable_bytes <= self.backed_bytes());
        self.readable_bytes.store(readable_bytes, Ordering::Release);
    }

    /// Publishes space newly allocated with fallocate.
    pub fn publish_backed(&self, backed_bytes: u64) {
        assert!(
            backed_bytes >= self.backed_bytes(),
            "backed size only grows"
        );
        self.backed_bytes.store(backed_bytes, Ordering::Release);
    }
}

type FileKey = (u64, u64);

/// One live region as the registry knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RegionEntry {
    addr: usize,
    len: usize,
    /// MAP_SHARED (the writer's map): never replaced by anonymous pages.
    shared: bool,
}

/// Live regions per file (device, inode), process-wide. The lock is held
/// across every map, unmap and trim, so a trim can never remap an address
/// range that another thread has just unmapped.
static MAPPED_FILES: Mutex<Option<HashMap<FileKey, Vec<RegionEntry>>>> = Mutex::new(None);

fn file_key(file: &File) -> io::Result<FileKey> {
    let meta = file.metadata()?;
    Ok((meta.dev(), meta.ino()))
}

/// Whether any map of this file is alive in this process.
#[cfg(test)]
pub fn is_mapped(file: &File) -> io::Result<bool> {
    let key = file_key(file)?;
    Ok(MAPPED_FILES
        .lock()
        .as_ref()
        .is_some_and(|m| m.get(&key).is_some_and(|v| !v.is_empty())))
}

fn page_bytes() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|n| *n > 0).unwrap_or(4096)
}

/// Shrinks `file` to `len` bytes, keeping every live private map of it safe
/// to touch end to end: their pages from the first whole page past `len` are
/// replaced with anonymous zero pages before the truncate (the page holding
/// the new end stays file-backed; the kernel zero-fills past the end within
/// it). Fails, changing nothing, while a shared (writer) map reaches past
/// `len`: its stores would be lost. Growing is refused: that is allocation's job.
pub fn trim_file(file: &File, len: u64) -> io::Result<()> {
    let key = file_key(file)?;
    let current = file.metadata()?.len();
    if len > current {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("trim to {len} bytes would grow a {current}-byte file"),
        ));
    }
    if len == current {
        return Ok(());
    }
    let page = page_bytes();
    let keep = usize::try_from(len)
        .ok()
        .and_then(|l| l.checked_add(page - 1))
        .map(|l| l / page * page)
        .ok_or_else(|| io::Error::other("trim length overflows"))?;
    let guard = MAPPED_FILES.lock();
    let regions: &[RegionEntry] = guard
        .as_ref()
        .and_then(|m| m.get(&key))
        .map_or(&[], |v| v.as_slice());
    if regions.iter().any(|r| r.shared && r.len > keep) {
        return Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            "the writer still maps the bytes to trim",
        ));
    }
    for r in regions.iter().filter(|r| r.len > keep) {
        // SAFETY: addr..addr+len is a live private region of ours (the
        // registry lock is held, and regions unregister under it before
        // they unmap); MAP_FIXED atomically replaces its pages from `keep`
        // to its end with fresh anonymous ones of the same protection, so a
        // concurrent reader sees either the old pages or zeros, never a hole.
        let ptr = unsafe {
            libc::mmap(
                (r.addr + keep) as *mut libc::c_void,
                r.len - keep,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        debug_assert_eq!(ptr as usize, r.addr + keep, "MAP_FIXED keeps the address");
    }
    file.set_len(len)?;
    drop(guard);
    debug_assert_eq!(file.metadata().map(|m| m.len()).ok(), Some(len));
    Ok(())
}

/// One mmap(2) region and its registration.
struct Region {
    ptr: NonNull<u8>,
    len: usize,
    key: FileKey,
}

// SAFETY: the region is plain memory owned by this struct; concurrent access
// is governed by the published sizes and by the partition lock for writes.
unsafe impl Send for Region {}
// SAFETY: as for Send: shared access goes through the accessors, which
// bound every read by the published sizes and every write by `&mut self`.
unsafe impl Sync for Region {}

impl Region {
    fn new(file: &File, len: usize, prot: i32, flags: i32) -> io::Result<Region> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty map"));
        }
        let key = file_key(file)?;
        // Map and register under the registry lock, so a concurrent trim
        // either sees this region or truncated before it existed.
        let mut guard = MAPPED_FILES.lock();
        // SAFETY: a fresh mapping at an address of the kernel's choosing;
        // the fd is valid for the call, and the map outlives the fd safely.
        let ptr =
            unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, file.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let Some(ptr) = NonNull::new(ptr.cast::<u8>()) else {
            return Err(io::Error::other("mmap returned null"));
        };
        guard
            .get_or_insert_with(HashMap::new)
            .entry(key)
            .or_default()
            .push(RegionEntry {
                addr: ptr.as_ptr() as usize,
                len,
                shared: flags & libc::MAP_SHARED != 0,
            });
        Ok(Region { ptr, len, key })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        let mut guard = MAPPED_FILES.lock();
        if let Some(map) = guard.as_mut() {
            if let Some(v) = map.get_mut(&self.key) {
                let addr = self.ptr.as_ptr() as usize;
                v.retain(|r| r.addr != addr);
                if v.is_empty() {
                    map.remove(&self.key);
                }
            }
        }
        // SAFETY: ptr/len came from a successful mmap and are unmapped once,
        // under the registry lock (see `trim_file`).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// The writer's shared, read-write map of the active segment.
pub struct WriteMap {
    region: Region,
    sizes: Arc<PublishedSizes>,
}

impl WriteMap {
    /// Maps `map_len` bytes of `file` (which may exceed its current length:
    /// only `sizes.backed_bytes()` of it will ever be touched).
    pub fn new(file: &File, map_len: usize, sizes: Arc<PublishedSizes>) -> io::Result<WriteMap> {
        let region = Region::new(
            file,
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
        )?;
        Ok(WriteMap { region, sizes })
    }

    fn check(&self, at: usize, len: usize) -> io::Result<()> {
        let end = at
            .checked_add(len)
            .ok_or_else(|| io::Error::other("overflow"))?;
        if end as u64 > self.sizes.backed_bytes() || end > self.region.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "write of {len} bytes at {at} is past the allocated {} bytes",
                    self.sizes.backed_bytes()
                ),
            ));
        }
        Ok(())
    }

    /// Copies `bytes` to `at`. Fails, writing nothing, past the allocated size.
    pub fn write(&mut self, at: usize, bytes: &[u8]) -> io::Result<()> {
        self.check(at, bytes.len())?;
        // SAFETY: at+len is within the region and within allocated blocks;
        // `&mut self` makes this the only writer.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.region.ptr.as_ptr().add(at),
                bytes.len(),
            );
        }
        Ok(())
    }

    /// Mutable access to written bytes, for patching a header in place.
    pub fn slice_mut(&mut self, at: usize, len: usize) -> io::Result<&mut [u8]> {
        self.check(at, len)?;
        // SAFETY: bounds checked as in `write`.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.region.ptr.as_ptr().add(at), len) })
    }

    /// Faults pages in ahead of the writer, so appends copy into resident
    /// pages instead of taking one page fault per 4 KiB. Best effort: an
    /// error (an old kernel without MADV_POPULATE_WRITE) is ignored. The
    /// engine does not use it (measured slower: see the README); the
    /// engine benchmark keeps the comparison.
    pub fn prefault(&self, at: usize, len: usize) {
        if self.check(at, len).is_err() || len == 0 {
            return;
        }
        const MADV_POPULATE_WRITE: i32 = libc::MADV_POPULATE_WRITE;
        let page = page_bytes();
        let start = at / page * page;
        // SAFETY: the range lies inside the region and inside allocated blocks.
        unsafe {
            libc::madvise(
                self.region.ptr.as_ptr().add(start).cast(),
                at + len - start,
                MADV_POPULATE_WRITE,
            );
        }
    }
}

/// A reader's private, copy-on-write map of a segment.
pub struct ReadMap {
    region: Region,
    sizes: Arc<PublishedSizes>,
    id: u64,
}

static NEXT_READ_MAP_ID: AtomicU64 = AtomicU64::new(1);

impl ReadMap {
    /// Maps `map_len` bytes of `file` privately, for readers; only the range
    /// `sizes` publishes is ever handed out.
    pub(crate) fn new(
        file: &File,
        map_len: usize,
        sizes: Arc<PublishedSizes>,
    ) -> io::Result<ReadMap> {
        let region = Region::new(
            file,
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_NORESERVE,
        )?;
        let id = NEXT_READ_MAP_ID.fetch_add(1, Ordering::Relaxed);
        Ok(ReadMap { region, sizes, id })
    }

    /// A process-unique id, so bindings can cache one buffer per map.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Bytes `at..at+len`, or None if any of them is not yet published.
    pub fn read(&self, at: usize, len: usize) -> Option<&[u8]> {
        let end = at.checked_add(len)?;
        if end as u64 > self.sizes.readable_bytes() || end > self.region.len {
            return None;
        }
        // SAFETY: the range is published, hence written and backed by blocks
        // that stay allocated while this map lives.
        Some(unsafe { std::slice::from_raw_parts(self.region.ptr.as_ptr().add(at), len) })
    }

    /// Bytes of the file published to readers now; grows as appends land.
    pub fn readable_bytes(&self) -> u64 {
        self.sizes.readable_bytes()
    }

    /// The base pointer and the length that may safely be exposed as one
    /// external buffer: the backed size, capped by the map. Every byte below
    /// it is backed by allocated blocks for as long as this map lives, so a
    /// JavaScript ArrayBuffer of this length can be read end to end without
    /// a SIGBUS. Bytes past `readable_bytes` read as zeros or as data not yet
    /// published; views are only ever created over published ranges.
    pub fn external_parts(&self) -> (*mut u8, usize) {
        let len = (self.sizes.backed_bytes() as usize).min(self.region.len);
        (self.region.ptr.as_ptr(), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_published_size_and_trim_keeps_views_safe() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("open");
        crate::io::real_allocate(&file, 0, 8192).expect("allocate");
        let sizes = PublishedSizes::new(0, 8192);
        let mut w = WriteMap::new(&file, 1 << 20, sizes.clone()).expect("map");
        let r = ReadMap::new(&file, 1 << 20, sizes.clone()).expect("map");
        w.write(0, b"hello").expect("write");
        assert!(r.read(0, 5).is_none(), "unpublished bytes are invisible");
        sizes.publish_readable(5);
        assert_eq!(r.read(0, 5), Some(&b"hello"[..]));
        assert!(w.write(8190, b"abc").is_err(), "past allocation is refused");
        assert!(is_mapped(&file).expect("meta"));
        assert!(
            trim_file(&file, 5).is_err(),
            "the writer's map blocks a trim"
        );
        drop(w);
        // A reader's view over the whole map stays touchable after the trim.
        trim_file(&file, 5).expect("trim with a live reader");
        let (ptr, len) = r.external_parts();
        // SAFETY: the test reads every byte of the exposed range, as a
        // JavaScript view over it may; the trim replaced the tail with zeros.
        let all = unsafe { std::slice::from_raw_parts(ptr, len) };
        assert_eq!(&all[..5], b"hello");
        assert!(all[5..].iter().all(|b| *b == 0), "the tail reads zeros");
        assert_eq!(r.read(0, 5), Some(&b"hello"[..]));
        drop(r);
        assert!(!is_mapped(&file).expect("meta"));
        assert_eq!(file.metadata().expect("meta").len(), 5);
    }
}
