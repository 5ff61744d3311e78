//! The storage seam: every call that can fail because of the disk (allocate,
//! fsync, atomic file replacement) goes through a `Storage`, so tests can
//! inject ENOSPC and EIO exactly where real disks produce them.
//!
//! Bytes reach segment files through a shared memory map, which cannot
//! report an error on copy. That is why space is allocated for real with
//! fallocate before it is mapped: a full disk then fails here, as ENOSPC,
//! instead of as a SIGBUS inside a memcpy.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
#[cfg(any(test, feature = "fault-injection"))]
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rustix::fs::FallocateFlags;

/// The disk calls that can fail, each with the real system call as its
/// default, so a test storage overrides only what it injects faults into.
pub trait Storage: Send + Sync + 'static {
    /// Allocates real disk blocks for `offset..offset+len`, growing the file
    /// if needed. Must not leave the range sparse.
    fn allocate(&self, file: &File, offset: u64, len: u64) -> io::Result<()> {
        real_allocate(file, offset, len)
    }

    /// fdatasync.
    fn sync_data(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    /// fsync of a directory, after creating, renaming or deleting in it.
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    /// Replaces `path` with `bytes` atomically: temp file, fsync, rename,
    /// fsync of the directory. Readers see the old or the new file, whole.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        replace_atomically(self, path, bytes)
    }
    /// Positional write of several buffers back to back (one pwritev), used
    /// for large appends.
    fn write_vectored_at(&self, file: &File, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        write_all_vectored_at(file, offset, bufs)
    }

    /// Positional write, used for index files.
    fn write_at(&self, file: &File, offset: u64, bytes: &[u8]) -> io::Result<()> {
        file.write_all_at(bytes, offset)
    }
}

/// Temp file, fsync, rename, fsync of the directory, through `storage`'s
/// own sync calls so injected faults reach it.
pub fn replace_atomically<S: Storage + ?Sized>(
    storage: &S,
    path: &Path,
    bytes: &[u8],
) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        storage.sync_data(&f)?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        storage.sync_dir(dir)?;
    }
    Ok(())
}

/// pwritev until every byte is written.
pub fn write_all_vectored_at(file: &File, mut offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
    let mut bufs: Vec<&[u8]> = bufs.iter().copied().filter(|b| !b.is_empty()).collect();
    while !bufs.is_empty() {
        let slices: Vec<std::io::IoSlice<'_>> =
            bufs.iter().map(|b| std::io::IoSlice::new(b)).collect();
        let mut n = rustix::io::pwritev(file, &slices, offset).map_err(io::Error::from)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "pwritev wrote nothing",
            ));
        }
        offset += n as u64;
        // Drop the buffers pwritev finished and trim the one it stopped in.
        while n > 0 {
            let Some(first) = bufs.first_mut() else {
                return Err(io::Error::other(
                    "pwritev reported more bytes than it was given",
                ));
            };
            let current: &[u8] = first;
            if n >= current.len() {
                n -= current.len();
                bufs.remove(0);
            } else {
                *first = current
                    .get(n..)
                    .ok_or_else(|| io::Error::other("pwritev stopped outside its buffer"))?;
                n = 0;
            }
        }
    }
    Ok(())
}

/// Allocates with fallocate(2); where the filesystem lacks it, writes zeros,
/// which allocates just as really, only slower.
pub fn real_allocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    match rustix::fs::fallocate(file, FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {
            let zeros = vec![0u8; 1 << 20];
            let mut at = offset;
            let end = offset + len;
            while at < end {
                let n = (end - at).min(zeros.len() as u64) as usize;
                let chunk = zeros
                    .get(..n)
                    .ok_or_else(|| io::Error::other("zero chunk larger than its buffer"))?;
                file.write_all_at(chunk, at)?;
                at += n as u64;
            }
            Ok(())
        }
        Err(e) => Err(io::Error::from_raw_os_error(e.raw_os_error())),
    }
}

/// The production storage: the real system calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealStorage;

impl Storage for RealStorage {}

/// A storage that fails on command. Each counter says how many of the next
/// calls of that kind fail (`u32::MAX`: all of them) and with which errno.
#[cfg(any(test, feature = "fault-injection"))]
#[derive(Debug, Default)]
pub struct FaultyStorage {
    allocate_failures: AtomicU32,
    allocate_errno: AtomicU32,
    sync_failures: AtomicU32,
    sync_errno: AtomicU32,
    write_failures: AtomicU32,
    write_errno: AtomicU32,
}

/// errno of a full disk, for `fail_allocate`.
#[cfg(any(test, feature = "fault-injection"))]
pub const ENOSPC: i32 = libc::ENOSPC;
/// errno of a failing disk, for `fail_sync` and `fail_write`.
#[cfg(any(test, feature = "fault-injection"))]
pub const EIO: i32 = libc::EIO;

#[cfg(any(test, feature = "fault-injection"))]
impl FaultyStorage {
    /// A storage that fails nothing until told to, shared with the engine.
    pub fn new() -> Arc<FaultyStorage> {
        Arc::new(FaultyStorage::default())
    }

    /// The next `count` allocations fail with `errno` (ENOSPC for a full disk).
    pub fn fail_allocate(&self, count: u32, errno: i32) {
        self.allocate_errno.store(errno as u32, Ordering::SeqCst);
        self.allocate_failures.store(count, Ordering::SeqCst);
    }

    /// The next `count` fsyncs fail with `errno` (EIO for a bad disk).
    pub fn fail_sync(&self, count: u32, errno: i32) {
        self.sync_errno.store(errno as u32, Ordering::SeqCst);
        self.sync_failures.store(count, Ordering::SeqCst);
    }

    /// The next `count` positional and atomic writes fail with `errno`.
    pub fn fail_write(&self, count: u32, errno: i32) {
        self.write_errno.store(errno as u32, Ordering::SeqCst);
        self.write_failures.store(count, Ordering::SeqCst);
    }

    /// Cancels every pending failure: the disk works again.
    pub fn heal(&self) {
        self.allocate_failures.store(0, Ordering::SeqCst);
        self.sync_failures.store(0, Ordering::SeqCst);
        self.write_failures.store(0, Ordering::SeqCst);
    }

    fn take(counter: &AtomicU32, errno: &AtomicU32) -> io::Result<()> {
        let taken = counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
            0 => None,
            u32::MAX => Some(u32::MAX),
            n => Some(n - 1),
        });
        match taken {
            Ok(_) => Err(io::Error::from_raw_os_error(
                errno.load(Ordering::SeqCst) as i32
            )),
            Err(_) => Ok(()),
        }
    }
}

#[cfg(any(test, feature = "fault-injection"))]
impl Storage for FaultyStorage {
    fn allocate(&self, file: &File, offset: u64, len: u64) -> io::Result<()> {
        Self::take(&self.allocate_failures, &self.allocate_errno)?;
        real_allocate(file, offset, len)
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        Self::take(&self.sync_failures, &self.sync_errno)?;
        file.sync_data()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        Self::take(&self.sync_failures, &self.sync_errno)?;
        File::open(dir)?.sync_all()
    }

    fn write_at(&self, file: &File, offset: u64, bytes: &[u8]) -> io::Result<()> {
        Self::take(&self.write_failures, &self.write_errno)?;
        file.write_all_at(bytes, offset)
    }
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        Self::take(&self.write_failures, &self.write_errno)?;
        replace_atomically(self, path, bytes)
    }

    fn write_vectored_at(&self, file: &File, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        Self::take(&self.write_failures, &self.write_errno)?;
        write_all_vectored_at(file, offset, bufs)
    }
}

impl<S: Storage + ?Sized> Storage for Arc<S> {
    fn allocate(&self, file: &File, offset: u64, len: u64) -> io::Result<()> {
        (**self).allocate(file, offset, len)
    }
    fn sync_data(&self, file: &File) -> io::Result<()> {
        (**self).sync_data(file)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        (**self).sync_dir(dir)
    }
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        (**self).write_atomic(path, bytes)
    }
    fn write_at(&self, file: &File, offset: u64, bytes: &[u8]) -> io::Result<()> {
        (**self).write_at(file, offset, bytes)
    }
    fn write_vectored_at(&self, file: &File, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        (**self).write_vectored_at(file, offset, bufs)
    }
}
