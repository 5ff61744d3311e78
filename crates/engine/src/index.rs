//! Sparse indexes beside each segment, in Kafka's on-disk format:
//!
//! * `.index`: 8-byte entries (offset − base : int32, position : int32).
//!   The offset is the last offset of the batch that starts at `position`,
//!   as Kafka writes it.
//! * `.timeindex`: 12-byte entries (timestamp : int64, offset − base : int32),
//!   timestamps strictly increasing.
//!
//! The entries live in memory, bounded by the segment size divided by the
//! index interval, and reach the file in bulk when the segment is flushed,
//! rolled or closed. The files therefore never need preallocating or
//! trimming, and they are never mapped. They are derived data: loading checks
//! every entry, and any doubt leads to a rebuild from the log.

use std::fs::OpenOptions;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::Storage;

/// The largest index file read whole: 64 MiB (Kafka's default
/// segment.index.bytes is 10 MiB).
pub const INDEX_FILE_BYTES_MAX: u64 = 64 << 20;

pub trait IndexEntry: Copy + PartialEq + std::fmt::Debug {
    const SIZE: usize;
    fn encode(&self, out: &mut Vec<u8>);
    fn decode(bytes: &[u8]) -> Option<Self>;
    /// The relative offset this entry refers to.
    fn relative_offset(&self) -> u32;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Option<Self> {
        let (relative_offset, rest) = b.split_first_chunk::<4>()?;
        let (position, _) = rest.split_first_chunk::<4>()?;
        Some(OffsetEntry {
            relative_offset: u32::from_be_bytes(*relative_offset),
            position: u32::from_be_bytes(*position),
        })
    }
    fn relative_offset(&self) -> u32 {
        self.relative_offset
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub timestamp_ms: i64,
    pub relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Option<Self> {
        let (timestamp_ms, rest) = b.split_first_chunk::<8>()?;
        let (relative_offset, _) = rest.split_first_chunk::<4>()?;
        Some(TimeEntry {
            timestamp_ms: i64::from_be_bytes(*timestamp_ms),
            relative_offset: u32::from_be_bytes(*relative_offset),
        })
    }
    fn relative_offset(&self) -> u32 {
        self.relative_offset
    }
}

/// One index file and its entries. The file is open only while it is read
/// or written: a segment holds no descriptor for its indexes, so a data
/// directory needs one descriptor per segment, not three.
pub struct IndexFile<E: IndexEntry> {
    path: PathBuf,
    /// False when opened read-only: entries live in memory only.
    writable: bool,
    entries: Vec<E>,
    /// How many leading entries are already in the file.
    persisted: usize,
    /// The file's length as last seen or written.
    file_bytes: u64,
}

impl<E: IndexEntry> IndexFile<E> {
    /// Opens (creating if absent, when `writable`) and reads every entry
    /// without judging them; `validate` with the segment's facts decides
    /// whether to keep them. Read-only, a missing file is an empty index
    /// that is never written.
    pub fn open(path: &Path, writable: bool) -> Result<IndexFile<E>> {
        let mut options = OpenOptions::new();
        options.read(true);
        if writable {
            options.write(true).create(true).truncate(false);
        }
        let mut file = match options.open(path) {
            Ok(f) => f,
            Err(e) if !writable && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(IndexFile {
                    path: path.to_path_buf(),
                    writable,
                    entries: Vec::new(),
                    persisted: 0,
                    file_bytes: 0,
                })
            }
            Err(e) => return Err(Error::io("open index", path, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat index", path, e))?
            .len();
        // An index holds at most one entry per index interval of a segment
        // no larger than SEGMENT_BYTES_MAX; anything larger is not ours to
        // read whole (Kafka preallocates 10 MiB, still far below this).
        if len > INDEX_FILE_BYTES_MAX {
            return Err(Error::corrupt(
                path,
                0,
                format!("index file is {len} bytes, more than an index may hold"),
            ));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io("read index", path, e))?;
        // A torn tail entry (a crash mid-write) is dropped, not trusted.
        let whole = bytes.len() / E::SIZE;
        let entries = bytes
            .chunks_exact(E::SIZE)
            .enumerate()
            .map(|(i, b)| {
                E::decode(b).ok_or_else(|| {
                    Error::corrupt(path, (i * E::SIZE) as u64, "index entry is truncated")
                })
            })
            .collect::<Result<Vec<E>>>()?;
        debug_assert_eq!(entries.len(), whole);
        Ok(IndexFile {
            path: path.to_path_buf(),
            persisted: if bytes.len() % E::SIZE == 0 && writable {
                whole
            } else {
                0
            },
            writable,
            entries,
            file_bytes: bytes.len() as u64,
        })
    }

    pub fn entries(&self) -> &[E] {
        &self.entries
    }

    pub fn last(&self) -> Option<&E> {
        self.entries.last()
    }

    pub fn push(&mut self, entry: E) {
        // Entries name strictly later offsets (time entries may repeat the
        // offset of the largest timestamp, never go back).
        debug_assert!(
            self.entries
                .last()
                .is_none_or(|l| l.relative_offset() <= entry.relative_offset()),
            "index entries only move forward"
        );
        self.entries.push(entry);
    }

    /// Records that the file already holds the first `n` entries (when a
    /// rebuild produced exactly what the file had).
    pub fn mark_persisted(&mut self, n: usize) {
        if self.writable {
            self.persisted = self.persisted.max(n.min(self.entries.len()));
        }
    }

    /// Takes back entries the file holds, whole (they were checked).
    pub fn restore(&mut self, entries: &[E]) {
        self.entries = entries.to_vec();
        self.persisted = if self.writable { entries.len() } else { 0 };
    }

    /// Forgets every entry (before a rebuild).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.persisted = 0;
    }

    /// Keeps the first `n` entries.
    pub fn truncate(&mut self, n: usize) {
        self.entries.truncate(n);
        self.persisted = self.persisted.min(n);
    }

    /// Writes the entries the file lacks, and trims anything after them.
    /// Opens the file only when there is something to change.
    pub fn persist(&mut self, storage: &dyn Storage) -> Result<()> {
        if !self.writable {
            return Err(Error::ReadOnly(format!(
                "{} was opened read-only",
                self.path.display()
            )));
        }
        let want = (self.entries.len() * E::SIZE) as u64;
        if self.persisted == self.entries.len() && self.file_bytes == want {
            return Ok(());
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(|e| Error::io("open index", &self.path, e))?;
        let on_disk = file
            .metadata()
            .map_err(|e| Error::io("stat index", &self.path, e))?
            .len();
        if on_disk > want || (self.persisted * E::SIZE) as u64 > on_disk {
            file.set_len((self.persisted * E::SIZE) as u64)
                .map_err(|e| Error::io("truncate index", &self.path, e))?;
        }
        debug_assert!(self.persisted <= self.entries.len());
        if let Some(unwritten) = self.entries.get(self.persisted..).filter(|u| !u.is_empty()) {
            let mut buf = Vec::with_capacity(unwritten.len() * E::SIZE);
            for e in unwritten {
                e.encode(&mut buf);
            }
            // Paired with `open`: the bytes decode to the entries written.
            debug_assert!(
                buf.len() == unwritten.len() * E::SIZE
                    && buf
                        .chunks_exact(E::SIZE)
                        .zip(unwritten)
                        .all(|(b, e)| E::decode(b) == Some(*e)),
                "index entries read back as written"
            );
            storage
                .write_at(&file, (self.persisted * E::SIZE) as u64, &buf)
                .map_err(|e| Error::io("write index", &self.path, e))?;
            self.persisted = self.entries.len();
        }
        self.file_bytes = want;
        Ok(())
    }
}

impl IndexFile<OffsetEntry> {
    /// The entry with the largest offset at or below `relative_offset`.
    pub fn lookup(&self, relative_offset: u32) -> Option<OffsetEntry> {
        let i = self
            .entries
            .partition_point(|e| e.relative_offset <= relative_offset);
        let found = i.checked_sub(1).and_then(|i| self.entries.get(i)).copied();
        debug_assert!(found.is_none_or(|e| e.relative_offset <= relative_offset));
        found
    }

    /// True when offsets and positions both strictly increase and every
    /// position lies inside `log_bytes`.
    pub fn is_consistent(&self, log_bytes: u64) -> bool {
        let mut prev: Option<OffsetEntry> = None;
        for e in &self.entries {
            if u64::from(e.position) >= log_bytes {
                return false;
            }
            if let Some(p) = prev {
                if e.relative_offset <= p.relative_offset || e.position <= p.position {
                    return false;
                }
            }
            prev = Some(*e);
        }
        true
    }
}

impl IndexFile<TimeEntry> {
    /// The entry with the largest timestamp at or below `timestamp_ms`.
    pub fn lookup(&self, timestamp_ms: i64) -> Option<TimeEntry> {
        let i = self
            .entries
            .partition_point(|e| e.timestamp_ms <= timestamp_ms);
        let found = i.checked_sub(1).and_then(|i| self.entries.get(i)).copied();
        debug_assert!(found.is_none_or(|e| e.timestamp_ms <= timestamp_ms));
        found
    }

    /// True when timestamps strictly increase, offsets never decrease and
    /// every offset is at most `last_relative_offset`.
    pub fn is_consistent(&self, last_relative_offset: Option<u32>) -> bool {
        let mut prev: Option<TimeEntry> = None;
        for e in &self.entries {
            match last_relative_offset {
                Some(last) if e.relative_offset <= last => {}
                _ => return false,
            }
            if let Some(p) = prev {
                if e.timestamp_ms <= p.timestamp_ms || e.relative_offset < p.relative_offset {
                    return false;
                }
            }
            prev = Some(*e);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::RealStorage;
    use proptest::prelude::*;

    proptest! {
        // Exercises the paired debug assertions of `push`, `persist`,
        // `open` and `lookup` (tests build with debug assertions): strictly
        // increasing entries, persisted in steps and truncated, read back as
        // written, and every lookup lands at or below what it asked for.
        #[test]
        fn entries_persist_read_back_and_look_up(
            steps in proptest::collection::vec((1u32..1000, 1u32..5000), 1..80),
            cut in any::<prop::sample::Index>(),
            probes in proptest::collection::vec(any::<u32>(), 1..20),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("0.index");
            let mut index = IndexFile::<OffsetEntry>::open(&path, true).unwrap();
            let (mut rel, mut pos) = (0u32, 0u32);
            let mut written = Vec::new();
            for (i, (dr, dp)) in steps.iter().enumerate() {
                rel += dr;
                pos += dp;
                let entry = OffsetEntry { relative_offset: rel, position: pos };
                index.push(entry);
                written.push(entry);
                if i % 7 == 0 {
                    index.persist(&RealStorage).unwrap();
                }
            }
            let keep = cut.index(written.len() + 1);
            index.truncate(keep);
            written.truncate(keep);
            index.persist(&RealStorage).unwrap();
            drop(index);

            let reopened = IndexFile::<OffsetEntry>::open(&path, true).unwrap();
            prop_assert_eq!(reopened.entries(), &written[..]);
            prop_assert!(reopened.is_consistent(u64::from(pos) + 1));
            for probe in probes {
                let want = written.iter().rev().find(|e| e.relative_offset <= probe).copied();
                prop_assert_eq!(reopened.lookup(probe), want);
            }
        }
    }
}
