//! The physical write limit: the same bytes written with plain write(2) or
//! copied into a fallocated shared map, the two ways the engine could put
//! bytes on disk. It is the yardstick the benchmarks (`cargo bench`, and the
//! Node harness through `examples/physical_write.rs`, run as a child process
//! so that no benchmark ships in the addon) compare the engine against;
//! nothing on the data path uses
//! it, and it lives here only because the map is the engine's (`mmap` keeps
//! every `unsafe` block of the crate).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::io::real_allocate;
use crate::mmap::{PublishedSizes, WriteMap};

/// How [`physical_write`] puts the bytes on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhysicalMode {
    /// Sequential write(2) calls, one per chunk.
    Write,
    /// fallocate the whole file, then copy each chunk into a shared map of it,
    /// as a segment append does.
    Mmap,
    /// As `Mmap`, touching each 16 MiB of the map before copying into it, to
    /// show what page faults cost.
    MmapPrefaulted,
}

/// Writes `total_bytes` to a new file at `path` by repeating `chunk`, with an
/// fdatasync after every chunk when `fsync_each_chunk`, and returns the time
/// taken. It runs on the calling thread: it exists to be measured, not to
/// serve. An empty `chunk` with a nonzero total is an invalid-input error.
pub fn physical_write(
    path: &Path,
    chunk: &[u8],
    total_bytes: usize,
    mode: PhysicalMode,
    fsync_each_chunk: bool,
) -> io::Result<Duration> {
    if chunk.is_empty() && total_bytes > 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "chunk must not be empty",
        ));
    }
    let start = Instant::now();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    let mut written = 0;
    match mode {
        PhysicalMode::Write => {
            while written < total_bytes {
                let n = chunk.len().min(total_bytes - written);
                file.write_all(head(chunk, n)?)?;
                if fsync_each_chunk {
                    file.sync_data()?;
                }
                written += n;
            }
        }
        PhysicalMode::Mmap | PhysicalMode::MmapPrefaulted => {
            const PREFAULT_STEP: usize = 16 << 20;
            real_allocate(&file, 0, total_bytes as u64)?;
            let sizes = PublishedSizes::new(0, total_bytes as u64);
            let mut map = WriteMap::new(&file, total_bytes, sizes)?;
            let mut prefaulted_to = 0;
            while written < total_bytes {
                if mode == PhysicalMode::MmapPrefaulted && written >= prefaulted_to {
                    let len = PREFAULT_STEP.min(total_bytes - written);
                    map.prefault(written, len);
                    prefaulted_to = written + len;
                }
                let n = chunk.len().min(total_bytes - written);
                map.write(written, head(chunk, n)?)?;
                if fsync_each_chunk {
                    file.sync_data()?;
                }
                written += n;
            }
        }
    }
    debug_assert_eq!(written, total_bytes);
    Ok(start.elapsed())
}

/// The first `n` bytes of `chunk`; `n` never exceeds its length.
fn head(chunk: &[u8], n: usize) -> io::Result<&[u8]> {
    chunk
        .get(..n)
        .ok_or_else(|| io::Error::other(format!("{n} bytes asked of a {}-byte chunk", chunk.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_writes_the_repeated_chunk_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [
            PhysicalMode::Write,
            PhysicalMode::Mmap,
            PhysicalMode::MmapPrefaulted,
        ] {
            let path = dir.path().join(format!("{mode:?}"));
            physical_write(&path, b"abc", 10, mode, true).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"abcabcabca", "{mode:?}");
        }
        assert!(physical_write(&dir.path().join("x"), b"", 1, PhysicalMode::Write, false).is_err());
    }
}
