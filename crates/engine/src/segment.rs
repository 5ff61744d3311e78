//! One segment: `<base>.log`, `<base>.index`, `<base>.timeindex`.
//!
//! The `.log` grows by `segment.preallocate.bytes` at a time, allocated with
//! fallocate, and written through a shared map (`WriteMap`). The bytes
//! past the last whole batch are zeros from preallocation; they are trimmed
//! when the segment rolls if no reader maps the file, and otherwise at the
//! next open, when nothing does.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{self, BatchHeader, Compression, RecordIter, HEADER_BYTES};
use crate::error::{Error, Result};
use crate::index::{IndexFile, OffsetEntry, TimeEntry};
use crate::io::Storage;
use crate::mmap::{self, PublishedSizes, ReadMap, WriteMap};

pub fn log_path(dir: &Path, base_offset: u64) -> PathBuf {
    dir.join(format!("{base_offset:020}.log"))
}
pub fn index_path(dir: &Path, base_offset: u64) -> PathBuf {
    dir.join(format!("{base_offset:020}.index"))
}
pub fn time_index_path(dir: &Path, base_offset: u64) -> PathBuf {
    dir.join(format!("{base_offset:020}.timeindex"))
}

/// Parses `00000000000000001234.log` into 1234.
pub fn parse_log_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Batches at least this large are written with pwritev, smaller ones
/// copied into the shared map (see `Segment::append`).
pub const PWRITE_BATCH_BYTES_MIN: usize = 32 * 1024;

/// The largest batch a read-only reader copies in to check (read-only
/// scans read batches with pread, not through a map). Kafka's largest
/// `message.max.bytes` in practice is far below it.
pub const LIVE_BATCH_BYTES_MAX: usize = 256 << 20;

/// How often reads and appends compare a segment file's size with what its
/// maps rely on.
const SIZE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

/// The most checked stretches past damage one segment remembers.
const ISLANDS_MAX: usize = 64;

/// The first allocation step of a segment file.
pub const PREALLOCATE_STEP_MIN_BYTES: u64 = 1 << 20;

/// How much to trust what is on disk when opening a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanMode {
    /// Trust the prefix that the offset index covers (after checking the
    /// index itself and the batch its last entry points at); scan and
    /// CRC-check the rest. For segments known to be flushed.
    Tail,
    /// Scan and CRC-check every batch and rebuild both indexes.
    Full,
}

/// Where an opening scan stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStop {
    /// At the end of the file.
    End,
    /// At preallocated zeros.
    Padding,
    /// At bytes that are not a valid next batch.
    Invalid { position: u64, reason: String },
}

pub struct Segment {
    pub base_offset: u64,
    dir: PathBuf,
    file: Arc<File>,
    sizes: Arc<PublishedSizes>,
    /// Virtual size of the maps; the file never grows past it.
    map_len: usize,
    /// The active segment's shared map for appends; None once rolled.
    write_map: Option<WriteMap>,
    read_map: Option<Arc<ReadMap>>,
    /// Bytes of whole batches.
    size_bytes: u64,
    /// The offset after the last batch.
    next_offset: u64,
    /// The largest batch maxTimestamp seen (-1 when empty).
    max_timestamp: i64,
    /// The base timestamp of the first batch, for `segment.ms`.
    first_timestamp: Option<i64>,
    offset_index: IndexFile<OffsetEntry>,
    time_index: IndexFile<TimeEntry>,
    bytes_since_index_entry: u64,
    /// The offset holding the largest timestamp so far (for the time index).
    offset_of_max_timestamp: u64,
    index_interval_bytes: u64,
    /// Bytes from the start whose CRCs are checked: by the opening scan,
    /// by a reader, or because this process appended them after validating.
    verified_bytes: u64,
    /// The offset of the batch at `verified_bytes`.
    verified_next_offset: u64,
    /// Stretches checked past damage in the prefix: (start, end, offset
    /// after the last batch). Bounded by `ISLANDS_MAX`.
    islands: Vec<(u64, u64, u64)>,
    /// The prefix check stopped at a bad batch (at `verified_bytes`).
    prefix_blocked: bool,
    /// When the file's size was last compared with what maps rely on.
    size_checked_at: Option<std::time::Instant>,
}

fn open_file(path: &Path, create_new: bool, writable: bool) -> Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(writable);
    if create_new {
        o.create(true).truncate(true);
    }
    o.open(path).map_err(|e| Error::io("open segment", path, e))
}

impl Segment {
    /// Creates an empty, active segment.
    pub fn create(
        dir: &Path,
        base_offset: u64,
        segment_bytes: u64,
        index_interval_bytes: u64,
    ) -> Result<Segment> {
        let path = log_path(dir, base_offset);
        let file = open_file(&path, true, true)?;
        let mut offset_index = IndexFile::open(&index_path(dir, base_offset), true)?;
        let mut time_index = IndexFile::open(&time_index_path(dir, base_offset), true)?;
        offset_index.clear();
        time_index.clear();
        let sizes = PublishedSizes::new(0, 0);
        let map_len = segment_bytes as usize;
        let write_map = WriteMap::new(&file, map_len, sizes.clone())
            .map_err(|e| Error::io("map segment", &path, e))?;
        Ok(Segment {
            base_offset,
            dir: dir.to_path_buf(),
            file: Arc::new(file),
            sizes,
            map_len,
            write_map: Some(write_map),
            read_map: None,
            size_bytes: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            first_timestamp: None,
            offset_index,
            time_index,
            bytes_since_index_entry: 0,
            offset_of_max_timestamp: base_offset,
            index_interval_bytes,
            verified_bytes: 0,
            verified_next_offset: base_offset,
            islands: Vec::new(),
            prefix_blocked: false,
            size_checked_at: None,
        })
    }

    /// A segment over `file` before any batch of it has been scanned.
    fn unscanned(
        dir: &Path,
        base_offset: u64,
        file: File,
        offset_index: IndexFile<OffsetEntry>,
        time_index: IndexFile<TimeEntry>,
        index_interval_bytes: u64,
    ) -> Segment {
        Segment {
            base_offset,
            dir: dir.to_path_buf(),
            file: Arc::new(file),
            sizes: PublishedSizes::new(0, 0),
            map_len: 0,
            write_map: None,
            read_map: None,
            size_bytes: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            first_timestamp: None,
            offset_index,
            time_index,
            bytes_since_index_entry: 0,
            offset_of_max_timestamp: base_offset,
            index_interval_bytes,
            verified_bytes: 0,
            verified_next_offset: base_offset,
            islands: Vec::new(),
            prefix_blocked: false,
            size_checked_at: None,
        }
    }

    /// Opens an existing segment and finds its last whole batch. The caller
    /// decides what to do with a `ScanStop::Invalid` (Kafka's recovery:
    /// truncate there and drop every later segment) and then calls
    /// `truncate_tail` to remove whatever follows the last batch. Opening
    /// writes nothing: a read-only segment (`writable` false) never does.
    pub fn open(
        dir: &Path,
        base_offset: u64,
        index_interval_bytes: u64,
        mode: ScanMode,
        writable: bool,
    ) -> Result<(Segment, ScanStop)> {
        let path = log_path(dir, base_offset);
        let file = open_file(&path, false, writable)?;
        let file_len = file
            .metadata()
            .map_err(|e| Error::io("stat segment", &path, e))?
            .len();
        if file_len > crate::config::SEGMENT_BYTES_MAX {
            return Err(Error::corrupt(
                &path,
                0,
                format!("segment file is {file_len} bytes, more than a segment may hold"),
            ));
        }
        let offset_index = IndexFile::open(&index_path(dir, base_offset), writable)?;
        let time_index = IndexFile::open(&time_index_path(dir, base_offset), writable)?;
        let mut seg = Segment::unscanned(
            dir,
            base_offset,
            file,
            offset_index,
            time_index,
            index_interval_bytes,
        );
        seg.map_len = file_len as usize;
        let stop = if file_len == 0 {
            seg.offset_index.clear();
            seg.time_index.clear();
            ScanStop::End
        } else {
            // A private scan map; dropped before the caller may shrink the file.
            let scan_sizes = PublishedSizes::new(file_len, file_len);
            let map = ReadMap::new(&seg.file, file_len as usize, scan_sizes)
                .map_err(|e| Error::io("map segment", &path, e))?;
            let bytes = map
                .read(0, file_len as usize)
                .ok_or_else(|| Error::corrupt(&path, 0, "segment shorter than its length"))?;
            let old_offsets = seg.offset_index.entries().to_vec();
            let old_times = seg.time_index.entries().to_vec();
            let stop = match mode {
                ScanMode::Full => seg.scan_full(bytes),
                ScanMode::Tail => match seg.tail_start(bytes) {
                    Some(start) => seg.scan_from(bytes, start),
                    None => seg.scan_full(bytes),
                },
            };
            let last_rel = seg.last_relative_offset();
            let stop = if !seg.time_index.is_consistent(last_rel) {
                // The time index is derived data: rebuild it with a full scan.
                seg.scan_full(bytes)
            } else {
                stop
            };
            if matches!(stop, ScanStop::End | ScanStop::Padding) {
                seg.keep_sound_indexes(bytes, &old_offsets, &old_times);
            }
            stop
        };
        seg.sizes = PublishedSizes::new(seg.size_bytes, file_len);
        if !writable {
            seg.limit_maps_to_data();
        }
        Ok((seg, stop))
    }

    /// Read-only segments are maps of another process's files, which that
    /// process may trim back to its data at any time: so they map, and
    /// expose to views, only the bytes of whole batches, which no writer
    /// ever removes while the file exists.
    fn limit_maps_to_data(&mut self) {
        self.read_map = None;
        self.map_len = self.size_bytes as usize;
        self.sizes = PublishedSizes::new(self.size_bytes, self.size_bytes);
    }

    /// Opens a segment another process may be appending to (read-only):
    /// batches are found with positional reads, never through a map that
    /// could outlive a concurrent trim of the file, and each is CRC-checked.
    pub fn open_live(dir: &Path, base_offset: u64, index_interval_bytes: u64) -> Result<Segment> {
        let path = log_path(dir, base_offset);
        let file = open_file(&path, false, false)?;
        let mut seg = Segment::unscanned(
            dir,
            base_offset,
            file,
            IndexFile::open(&index_path(dir, base_offset), false)?,
            IndexFile::open(&time_index_path(dir, base_offset), false)?,
            index_interval_bytes,
        );
        // The files' index entries are rebuilt from the batches read.
        seg.offset_index.clear();
        seg.time_index.clear();
        seg.extend_live()?;
        Ok(seg)
    }

    /// Reads the batches another process appended since the last call
    /// (read-only). A batch not yet whole, or whose CRC does not match yet
    /// (still being copied in), ends the scan; the next call retries it.
    /// Returns whether any batch was added.
    pub fn extend_live(&mut self) -> Result<bool> {
        let path = log_path(&self.dir, self.base_offset);
        let file_len = self
            .file
            .metadata()
            .map_err(|e| Error::io("stat segment", &path, e))?
            .len();
        let before = self.size_bytes;
        let mut header = [0u8; HEADER_BYTES];
        let mut batch_bytes: Vec<u8> = Vec::new();
        let mut pos = self.size_bytes;
        while pos + HEADER_BYTES as u64 <= file_len {
            if !read_exact_at(&self.file, &mut header, pos) {
                break;
            }
            let Ok(h) = BatchHeader::parse_header_only(&header, (file_len - pos) as usize) else {
                break;
            };
            if h.base_offset != self.next_offset as i64
                || h.size_bytes > LIVE_BATCH_BYTES_MAX
                || (h.last_offset() as u64)
                    .checked_sub(self.base_offset)
                    .is_none_or(|rel| rel > u64::from(u32::MAX >> 1))
            {
                break;
            }
            batch_bytes.resize(h.size_bytes, 0);
            if !read_exact_at(&self.file, &mut batch_bytes, pos)
                || batch::check_crc(&batch_bytes, &h).is_err()
            {
                break;
            }
            self.note_batch(pos, &h);
            pos += h.size_bytes as u64;
        }
        if self.size_bytes == before {
            return Ok(false);
        }
        debug_assert_eq!(self.size_bytes, pos, "every batch read was noted");
        // Everything up to here was CRC-checked just now.
        if self.verified_bytes == before {
            self.verified_bytes = self.size_bytes;
            self.verified_next_offset = self.next_offset;
        }
        self.limit_maps_to_data();
        Ok(true)
    }

    fn last_relative_offset(&self) -> Option<u32> {
        (self.next_offset > self.base_offset)
            .then(|| (self.next_offset - 1 - self.base_offset) as u32)
    }

    /// After a scan rebuilt the indexes, puts back the ones the files held
    /// when they are still right for every batch: the final time-index entry
    /// that sealing adds (rescans do not), and indexes written with another
    /// `index.interval.bytes` (Kafka's own, in an adopted directory). The
    /// files then stay byte for byte as they were.
    fn keep_sound_indexes(
        &mut self,
        bytes: &[u8],
        old_offsets: &[OffsetEntry],
        old_times: &[TimeEntry],
    ) {
        if let Some((&last, before)) = old_times.split_last() {
            let seal = TimeEntry {
                timestamp_ms: self.max_timestamp,
                relative_offset: (self.offset_of_max_timestamp - self.base_offset) as u32,
            };
            if last == seal && self.time_index.entries() == before {
                self.time_index.push(seal);
            }
        }
        if self.offset_index.entries() == old_offsets && self.time_index.entries() == old_times {
            self.offset_index.mark_persisted(old_offsets.len());
            self.time_index.mark_persisted(old_times.len());
            return;
        }
        if !indexes_fit(
            bytes,
            self.size_bytes,
            self.base_offset,
            old_offsets,
            old_times,
        ) {
            return;
        }
        self.offset_index.restore(old_offsets);
        self.time_index.restore(old_times);
        self.bytes_since_index_entry =
            self.size_bytes - old_offsets.last().map_or(0, |e| u64::from(e.position));
    }

    /// Checks the offset index and the batch its last entry points at, and
    /// returns where to start scanning: that batch's position.
    fn tail_start(&mut self, bytes: &[u8]) -> Option<(u64, BatchHeader)> {
        if !self.offset_index.is_consistent(bytes.len() as u64) {
            return None;
        }
        let Some(last) = self.offset_index.last().copied() else {
            return Some((0, BatchHeader::parse(bytes).ok()?))
                .filter(|(_, h)| h.base_offset as u64 == self.base_offset);
        };
        let pos = last.position as usize;
        let header = BatchHeader::parse(bytes.get(pos..)?).ok()?;
        let want_last = self.base_offset + u64::from(last.relative_offset);
        if header.last_offset() != want_last as i64 {
            return None;
        }
        // Also spot-check the first entry, cheaply catching a shifted index.
        if let Some(first) = self.offset_index.entries().first().copied() {
            let h = BatchHeader::parse(bytes.get(first.position as usize..)?).ok()?;
            if h.last_offset() != (self.base_offset + u64::from(first.relative_offset)) as i64 {
                return None;
            }
        }
        Some((last.position as u64, header))
    }

    fn scan_full(&mut self, bytes: &[u8]) -> ScanStop {
        self.offset_index.clear();
        self.time_index.clear();
        self.max_timestamp = -1;
        self.first_timestamp = None;
        self.offset_of_max_timestamp = self.base_offset;
        self.bytes_since_index_entry = 0;
        self.size_bytes = 0;
        self.next_offset = self.base_offset;
        let stop = self.scan_from_position(bytes, 0, self.base_offset);
        self.verified_bytes = self.size_bytes;
        self.verified_next_offset = self.next_offset;
        stop
    }

    fn scan_from(&mut self, bytes: &[u8], start: (u64, BatchHeader)) -> ScanStop {
        let (pos, header) = start;
        // Entries at or past `pos` are rebuilt by the scan.
        let keep = self
            .offset_index
            .entries()
            .partition_point(|e| u64::from(e.position) < pos);
        self.offset_index.truncate(keep);
        let start_rel = (header.base_offset as u64).saturating_sub(self.base_offset) as u32;
        let keep_t = self
            .time_index
            .entries()
            .partition_point(|e| e.relative_offset < start_rel);
        self.time_index.truncate(keep_t);
        if let Some(t) = self.time_index.last() {
            self.max_timestamp = t.timestamp_ms;
            self.offset_of_max_timestamp = self.base_offset + u64::from(t.relative_offset);
        }
        if let Ok(h0) = BatchHeader::parse(bytes) {
            self.first_timestamp = Some(h0.base_timestamp);
        }
        // The batch at `pos` is the one the last kept entry pointed at, so
        // it starts a new index interval; at position 0 there was no entry
        // (Kafka indexes a segment's first batch only once an interval of
        // bytes precedes it, which at the start never does).
        self.bytes_since_index_entry = if pos == 0 {
            0
        } else {
            self.index_interval_bytes + 1
        };
        // The prefix before `pos` is trusted as the index describes it.
        self.size_bytes = pos;
        self.next_offset = header.base_offset as u64;
        let stop = self.scan_from_position(bytes, pos, header.base_offset as u64);
        // Only the tail was hashed; the prefix is checked when first read.
        self.verified_bytes = 0;
        self.verified_next_offset = self.base_offset;
        stop
    }

    /// Walks batches from `pos`, expecting dense offsets from `expected`,
    /// indexing each, and stops at the first that is not valid.
    fn scan_from_position(&mut self, bytes: &[u8], mut pos: u64, mut expected: u64) -> ScanStop {
        let len = bytes.len() as u64;
        let stop = loop {
            if pos == len {
                break ScanStop::End;
            }
            let Some(rest) = bytes.get(pos as usize..) else {
                break ScanStop::Invalid {
                    position: pos,
                    reason: format!("position is past the {len} bytes scanned"),
                };
            };
            let header = match BatchHeader::parse(rest) {
                Ok(h) => h,
                Err(e) => {
                    if rest.iter().take(HEADER_BYTES).all(|&b| b == 0) {
                        break ScanStop::Padding;
                    }
                    break ScanStop::Invalid {
                        position: pos,
                        reason: e.to_string(),
                    };
                }
            };
            if header.base_offset != expected as i64 {
                break ScanStop::Invalid {
                    position: pos,
                    reason: format!(
                        "batch has base offset {} where {} was expected",
                        header.base_offset, expected
                    ),
                };
            }
            let relative_last = header.last_offset() as u64 - self.base_offset;
            if relative_last > u64::from(u32::MAX >> 1) {
                break ScanStop::Invalid {
                    position: pos,
                    reason: "offset too far from the segment base".into(),
                };
            }
            if let Err(e) = batch::check_crc(rest, &header) {
                break ScanStop::Invalid {
                    position: pos,
                    reason: e.to_string(),
                };
            }
            self.note_batch(pos, &header);
            pos += header.size_bytes as u64;
            expected = header.last_offset() as u64 + 1;
        };
        stop
    }

    /// Records an appended or scanned batch at `pos` in the indexes and
    /// counters (Kafka's `LogSegment.append` rules).
    fn note_batch(&mut self, pos: u64, header: &BatchHeader) {
        // Batches are noted back to back, each continuing the offsets.
        debug_assert_eq!(pos, self.size_bytes, "batches are noted in file order");
        debug_assert_eq!(
            header.base_offset as u64, self.next_offset,
            "offsets are dense"
        );
        let last_offset = header.last_offset() as u64;
        debug_assert!(header.record_count >= 1 && last_offset >= header.base_offset as u64);
        debug_assert!(
            last_offset - self.base_offset <= u64::from(u32::MAX >> 1),
            "relative offsets fit the index"
        );
        debug_assert!(pos <= u64::from(u32::MAX), "positions fit the index");
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = last_offset;
        }
        if self.first_timestamp.is_none() {
            self.first_timestamp = Some(header.base_timestamp);
        }
        if self.bytes_since_index_entry > self.index_interval_bytes {
            // Paired with `IndexFile::is_consistent` on the read side: offsets
            // and positions strictly increase.
            debug_assert!(
                self.offset_index.last().is_none_or(|l| {
                    u64::from(l.position) < pos
                        && u64::from(l.relative_offset) < last_offset - self.base_offset
                }),
                "offset index entries strictly increase"
            );
            self.offset_index.push(OffsetEntry {
                relative_offset: (last_offset - self.base_offset) as u32,
                position: pos as u32,
            });
            let grows = self
                .time_index
                .last()
                .is_none_or(|t| self.max_timestamp > t.timestamp_ms);
            if grows && self.max_timestamp >= 0 {
                self.time_index.push(TimeEntry {
                    timestamp_ms: self.max_timestamp,
                    relative_offset: (self.offset_of_max_timestamp - self.base_offset) as u32,
                });
            }
            self.bytes_since_index_entry = 0;
        }
        self.bytes_since_index_entry += header.size_bytes as u64;
        self.size_bytes = pos + header.size_bytes as u64;
        self.next_offset = last_offset + 1;
    }

    /// Removes whatever follows the last whole batch, so the file at rest
    /// is exactly its batches, as Kafka's are. Live private maps of the file
    /// (views still held by readers, even from an earlier open in this
    /// process) stay safe to touch: `mmap::trim_file` swaps their tail for
    /// zero pages first. Fails while the writer's map is alive.
    pub fn truncate_tail(&mut self) -> Result<()> {
        self.read_map = None;
        let path = log_path(&self.dir, self.base_offset);
        let file_len = self
            .file
            .metadata()
            .map_err(|e| Error::io("stat segment", &path, e))?
            .len();
        if file_len <= self.size_bytes {
            return Ok(());
        }
        mmap::trim_file(&self.file, self.size_bytes)
            .map_err(|e| Error::io("truncate segment", &path, e))?;
        self.sizes = PublishedSizes::new(self.size_bytes, self.size_bytes);
        self.map_len = self.map_len.min(self.size_bytes as usize);
        Ok(())
    }

    /// Makes this segment the active one: maps it for writing, with room to
    /// grow to `segment_bytes`.
    pub fn activate(&mut self, segment_bytes: u64) -> Result<()> {
        if self.write_map.is_some() {
            return Ok(());
        }
        let path = log_path(&self.dir, self.base_offset);
        self.map_len = (segment_bytes.max(self.size_bytes)) as usize;
        self.read_map = None;
        if self.map_len == 0 {
            return Err(Error::InvalidArgument("segment_bytes is zero".into()));
        }
        let wm = WriteMap::new(&self.file, self.map_len, self.sizes.clone())
            .map_err(|e| Error::io("map segment", &path, e))?;
        self.write_map = Some(wm);
        Ok(())
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Bytes of the file allocated for the writer.
    pub fn backed_bytes(&self) -> u64 {
        self.sizes.backed_bytes()
    }

    /// Refuses, with a typed error instead of a SIGBUS later, when the file
    /// is shorter than `needed` bytes: another program truncated it (the
    /// directory lock keeps other ferrolog processes out, not `truncate`).
    /// Looks at most every `SIZE_CHECK_INTERVAL` so the hot paths pay one
    /// clock read, not a system call; a truncation inside that window can
    /// still fault, as with any mmap-based store (lmdb documents the same).
    pub fn check_not_shrunk(&mut self, needed: u64) -> Result<()> {
        let now = std::time::Instant::now();
        if self
            .size_checked_at
            .is_some_and(|at| now.duration_since(at) < SIZE_CHECK_INTERVAL)
        {
            return Ok(());
        }
        let path = log_path(&self.dir, self.base_offset);
        let len = self
            .file
            .metadata()
            .map_err(|e| Error::io("stat segment", &path, e))?
            .len();
        if len < needed {
            return Err(Error::corrupt(
                &path,
                len,
                format!(
                    "the file shrank to {len} bytes while open (another program truncated it); it held {} bytes of batches. Close and reopen the log to recover what is left",
                    self.size_bytes
                ),
            ));
        }
        self.size_checked_at = Some(now);
        Ok(())
    }
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    pub fn first_timestamp(&self) -> Option<i64> {
        self.first_timestamp
    }
    pub fn is_empty(&self) -> bool {
        self.size_bytes == 0
    }
    pub fn file(&self) -> &Arc<File> {
        &self.file
    }
    pub fn log_path(&self) -> PathBuf {
        log_path(&self.dir, self.base_offset)
    }
    pub fn offset_index_entries(&self) -> &[OffsetEntry] {
        self.offset_index.entries()
    }
    pub fn time_index_entries(&self) -> &[TimeEntry] {
        self.time_index.entries()
    }

    /// Whether a batch of `len` bytes ending at `last_offset` fits.
    pub fn has_room(&self, len: u64, last_offset: u64) -> bool {
        self.size_bytes + len <= self.map_len as u64
            && last_offset - self.base_offset <= u64::from(u32::MAX >> 1)
    }

    /// Appends a validated batch at the end, assigning `base_offset`.
    /// `rewrite_max_timestamp` is Some((log_append_time, ts)) when the header
    /// must be rewritten and re-hashed. Nothing is published on failure.
    pub fn append(
        &mut self,
        storage: &dyn Storage,
        bytes: &[u8],
        base_offset: u64,
        rewrite_max_timestamp: Option<(bool, i64)>,
        preallocate_bytes: u64,
    ) -> Result<u64> {
        // The file's path only for an error: formatting it on every append
        // was 2% of a one-record send's CPU (issue 17's profile).
        let base = self.base_offset;
        let dir = &self.dir;
        let path = || log_path(dir, base);
        let pos = self.size_bytes;
        let end = pos + bytes.len() as u64;
        // The log hands out offsets densely: this batch continues the
        // segment, which only ever grows at its end.
        debug_assert_eq!(
            base_offset, self.next_offset,
            "appends continue the offsets"
        );
        debug_assert!(base_offset >= self.base_offset);
        debug_assert!(
            pos <= self.sizes.backed_bytes(),
            "whole batches lie in backed bytes"
        );
        if self.write_map.is_none() {
            return Err(Error::InvalidArgument("append to a closed segment".into()));
        }
        if end > self.map_len as u64 {
            return Err(Error::InvalidArgument(
                "batch does not fit the segment".into(),
            ));
        }
        let backed = self.sizes.backed_bytes();
        if end > backed {
            // Grow geometrically, from 1 MiB up to `preallocate_bytes` per
            // step: small partitions stay small on disk, busy ones make few
            // fallocate calls.
            let step = backed.clamp(
                PREALLOCATE_STEP_MIN_BYTES,
                preallocate_bytes.max(PREALLOCATE_STEP_MIN_BYTES),
            );
            let new_backed = end.max(backed + step).min(self.map_len as u64);
            storage
                .allocate(&self.file, backed, new_backed - backed)
                .map_err(|e| Error::io("allocate segment space", path(), e))?;
            self.sizes.publish_backed(new_backed);
        }
        debug_assert!(
            end <= self.sizes.backed_bytes() && end <= self.map_len as u64,
            "the batch is written inside allocated, mapped bytes"
        );
        // The header is patched in a copy (base offset, and the timestamp
        // fields and CRC when they change), then header and records go into
        // the file below the allocated size, by whichever way was measured
        // faster for their size on this kind of machine: small batches are
        // copied into the shared map (no system call: one-record appends ran
        // ~3x faster than with a pwritev each), large ones are written with
        // one pwritev (no page fault and zero-fill per fresh 4 KiB page:
        // ~2x faster into new files). Both land in the same page cache, so
        // readers see one file either way. The caller's bytes were validated
        // before.
        let (caller_header, records) =
            bytes
                .split_first_chunk::<HEADER_BYTES>()
                .ok_or(batch::BatchError::TooShort {
                    size_bytes: bytes.len(),
                })?;
        let mut header = *caller_header;
        batch::set_base_offset(&mut header, base_offset as i64)?;
        if let Some((log_append_time, ts)) = rewrite_max_timestamp {
            batch::set_header_max_timestamp(&mut header, records, log_append_time, ts)?;
        }
        let header_view = BatchHeader::parse_header_only(&header, bytes.len()).map_err(|e| {
            Error::corrupt(path(), pos, format!("patched header does not parse: {e}"))
        })?;
        if header_view.base_offset != base_offset as i64 || header_view.size_bytes != bytes.len() {
            return Err(Error::corrupt(
                path(),
                pos,
                "patched header differs from the batch",
            ));
        }
        let Some(wm) = self.write_map.as_mut() else {
            return Err(Error::InvalidArgument("append to a closed segment".into()));
        };
        if bytes.len() >= PWRITE_BATCH_BYTES_MIN {
            storage
                .write_vectored_at(&self.file, pos, &[&header, records])
                .map_err(|e| Error::io("write segment", path(), e))?;
        } else {
            wm.write(pos as usize, &header)
                .and_then(|()| wm.write(pos as usize + HEADER_BYTES, records))
                .map_err(|e| Error::io("write segment", path(), e))?;
        }
        // Check after writing: the header in the map is the one we meant.
        let written = wm
            .slice_mut(pos as usize, HEADER_BYTES)
            .map_err(|e| Error::io("write segment", path(), e))?;
        if written[..] != header[..] {
            return Err(Error::corrupt(
                path(),
                pos,
                "batch header differs right after writing",
            ));
        }
        // Paired with the read side: read back from the map, the batch is
        // exactly the one meant, header (length, offsets) and CRC included.
        debug_assert!(
            Self::reads_back(wm, pos, bytes.len(), &header_view),
            "the batch reads back as written"
        );
        let header = header_view;
        let contiguous = self.verified_bytes == pos;
        self.note_batch(pos, &header);
        debug_assert_eq!(self.size_bytes, end, "the segment grew by the batch");
        debug_assert_eq!(self.next_offset, header.last_offset() as u64 + 1);
        if contiguous {
            self.verified_bytes = self.size_bytes;
            self.verified_next_offset = self.next_offset;
        }
        self.sizes.publish_readable(self.size_bytes);
        Ok(pos)
    }

    /// Whether the `len` bytes at `pos` in the writer's map parse as the
    /// batch `expected` describes and pass its CRC (debug builds only).
    fn reads_back(wm: &mut WriteMap, pos: u64, len: usize, expected: &BatchHeader) -> bool {
        let Ok(written) = wm.slice_mut(pos as usize, len) else {
            return false;
        };
        let Ok(header) = BatchHeader::parse(written) else {
            return false;
        };
        header == *expected
            && header.size_bytes == len
            && batch::check_crc(written, &header).is_ok()
    }

    /// The shared read map, created on first use.
    pub fn read_map(&mut self) -> Result<Arc<ReadMap>> {
        if let Some(m) = &self.read_map {
            return Ok(m.clone());
        }
        let path = log_path(&self.dir, self.base_offset);
        if self.map_len == 0 {
            return Err(Error::InvalidArgument("empty segment has no map".into()));
        }
        let m = Arc::new(
            ReadMap::new(&self.file, self.map_len, self.sizes.clone())
                .map_err(|e| Error::io("map segment", &path, e))?,
        );
        self.read_map = Some(m.clone());
        Ok(m)
    }

    fn header_at(&self, map: &ReadMap, pos: u64) -> Result<BatchHeader> {
        let path = log_path(&self.dir, self.base_offset);
        let avail =
            self.size_bytes.checked_sub(pos).ok_or_else(|| {
                Error::corrupt(&path, pos, "batch position past the segment's end")
            })? as usize;
        let bytes = map
            .read(pos as usize, avail)
            .ok_or_else(|| Error::corrupt(&path, pos, "batch outside published bytes"))?;
        BatchHeader::parse(bytes).map_err(|e| Error::corrupt(&path, pos, e.to_string()))
    }

    /// The position of the batch that holds `offset`, through the index and
    /// a short forward scan. The index is derived data: if the scan from its
    /// entry runs into anything odd, the lookup starts over from the start
    /// of the segment before it reports corruption.
    pub fn find_position(&mut self, offset: u64) -> Result<Option<(u64, BatchHeader)>> {
        if offset < self.base_offset || offset >= self.next_offset {
            return Ok(None);
        }
        let map = self.read_map()?;
        let rel = (offset - self.base_offset) as u32;
        let from_index = self
            .offset_index
            .lookup(rel)
            .map_or(0, |e| u64::from(e.position));
        match self.scan_for(&map, from_index, offset) {
            Ok(found) => Ok(Some(found)),
            Err(_) if from_index > 0 => self.scan_for(&map, 0, offset).map(Some),
            Err(e) => Err(e),
        }
    }

    fn scan_for(&self, map: &ReadMap, mut pos: u64, offset: u64) -> Result<(u64, BatchHeader)> {
        while pos < self.size_bytes {
            let header = self.header_at(map, pos)?;
            if header.last_offset() >= offset as i64 {
                if header.base_offset > offset as i64 {
                    return Err(Error::corrupt(
                        self.log_path(),
                        pos,
                        format!("batch at this position starts after offset {offset}"),
                    ));
                }
                return Ok((pos, header));
            }
            pos += header.size_bytes as u64;
        }
        Err(Error::corrupt(
            self.log_path(),
            pos,
            format!("offset {offset} not found"),
        ))
    }

    /// From a batch boundary `start`, the end of whole batches totalling at
    /// most `max_bytes` (at least one batch, as Kafka returns), and the
    /// offset after the last of them.
    pub fn span_from(&mut self, start: u64, max_bytes: u64) -> Result<(u64, u64)> {
        let map = self.read_map()?;
        let mut end = start;
        let mut next_offset = self.next_offset;
        while end < self.size_bytes {
            let h = self.header_at(&map, end)?;
            let next = end + h.size_bytes as u64;
            if end > start && next - start > max_bytes {
                break;
            }
            end = next;
            next_offset = h.last_offset() as u64 + 1;
            if end - start >= max_bytes {
                break;
            }
        }
        Ok((end, next_offset))
    }

    /// Checks the batches in `start..end` that are not yet checked: CRC, and
    /// a base offset that continues the offsets before it (the base offset
    /// is outside the CRC). Checked bytes grow as one prefix of the segment
    /// from its start, where the expected offset is known from the file
    /// name, so each batch is hashed once. Past a bad batch, checking starts
    /// again at `start` (a boundary the index and a header walk found, for
    /// the batch that holds the offset asked for) and the stretch checked
    /// from there is remembered: damage stays local to the bad batch.
    /// Returns the end of the good batches: `end`, or the position of a bad
    /// batch after `start`. A bad batch at `start` is an error naming the
    /// offsets it held and the next readable one.
    pub fn verify_range(&mut self, start: u64, end: u64) -> Result<u64> {
        if end <= self.verified_bytes {
            return Ok(end);
        }
        let map = self.read_map()?;
        // The prefix from the segment's start first: there the expected
        // offset is known from the file name, so a batch whose base offset
        // (outside the CRC) was changed is caught.
        if !self.prefix_blocked {
            let (pos, expected, bad) =
                self.check_batches(&map, self.verified_bytes, self.verified_next_offset, end);
            self.verified_bytes = pos;
            self.verified_next_offset = expected;
            match bad {
                None => return Ok(end),
                Some(_) if pos > start => return Ok(pos),
                Some(reason) if pos == start => {
                    return Err(self.damage_error(&map, pos, expected, reason))
                }
                Some(_) => self.prefix_blocked = true,
            }
        }
        if start <= self.verified_bytes {
            // The damage is at the end of the prefix, at or after `start`.
            let bad = self.verified_bytes;
            return if bad > start {
                Ok(bad)
            } else {
                let (_, expected, reason) =
                    self.check_batches(&map, bad, self.verified_next_offset, end);
                Err(self.damage_error(
                    &map,
                    bad,
                    expected,
                    reason.unwrap_or_else(|| "bad batch".into()),
                ))
            };
        }
        // Past the damage: a stretch checked earlier, or a new one anchored
        // at an index entry after the damage (whose offset the index names),
        // never at a header's own base offset alone.
        if let Some(&(_, to, _)) = self
            .islands
            .iter()
            .find(|(from, to, _)| *from <= start && start < *to)
        {
            if end <= to {
                return Ok(end);
            }
        }
        let (from, expected) = match self
            .islands
            .iter()
            .find(|(from, to, _)| *from <= start && start <= *to)
        {
            Some(&(from, to, next)) => (from.min(to), Some((to, next))),
            None => (start, self.anchor_for(&map, start)),
        };
        let Some((resume, resume_offset)) = expected else {
            return Err(self.damage_error(
                &map,
                self.verified_bytes,
                self.verified_next_offset,
                "no index entry after the damage anchors the offsets that follow it".into(),
            ));
        };
        let (pos, next, bad) = self.check_batches(&map, resume, resume_offset, end);
        self.remember_island(from.min(resume), pos, next);
        match bad {
            None => Ok(end),
            Some(_) if pos > start => Ok(pos),
            Some(reason) => Err(self.damage_error(&map, pos, next, reason)),
        }
    }

    /// Where checking can start again past damage, for the batch at
    /// `start`: the last offset-index entry at or before `start` and past
    /// the damage, whose batch must end at the offset the entry names; from
    /// there a header walk to `start` must continue the offsets. Returns
    /// (position, expected base offset) of that entry's batch.
    fn anchor_for(&self, map: &ReadMap, start: u64) -> Option<(u64, u64)> {
        let damage = self.verified_bytes;
        let Some(entry) = self
            .offset_index
            .entries()
            .iter()
            .rev()
            .find(|e| u64::from(e.position) <= start && u64::from(e.position) > damage)
        else {
            return self.anchor_forward(map, start);
        };
        let pos = u64::from(entry.position);
        let h = self.header_at(map, pos).ok()?;
        let last = self.base_offset + u64::from(entry.relative_offset);
        if h.last_offset() != last as i64 {
            return None;
        }
        // The entry names the batch's last offset; the base follows from
        // the offset delta, which the CRC covers (the header's own base
        // offset does not count: it agreed with the entry just above).
        last.checked_sub(u64::from(h.last_offset_delta.max(0) as u32))
            .map(|base| (pos, base))
    }

    /// With no index entry between the damage and `start`: the batches
    /// from `start` must chain (CRC and dense offsets, taking `start`'s
    /// header at its word) up to the next index entry, whose offset the
    /// index names, or to the segment's end, whose offset the next segment
    /// or the high watermark fixes. Then `start`'s base offset is proven.
    fn anchor_forward(&self, map: &ReadMap, start: u64) -> Option<(u64, u64)> {
        let claimed = self.header_at(map, start).ok()?.base_offset;
        let claimed = u64::try_from(claimed).ok()?;
        let next_entry = self
            .offset_index
            .entries()
            .iter()
            .find(|e| u64::from(e.position) > start)
            .copied();
        match next_entry {
            Some(e) => {
                let target = u64::from(e.position);
                let (pos, next, bad) = self.check_batches(map, start, claimed, target);
                let h = self.header_at(map, target).ok()?;
                let named_last = self.base_offset + u64::from(e.relative_offset);
                (bad.is_none()
                    && pos == target
                    && h.base_offset == next as i64
                    && h.last_offset() == named_last as i64)
                    .then_some((start, claimed))
            }
            None => {
                let (pos, next, bad) = self.check_batches(map, start, claimed, self.size_bytes);
                (bad.is_none() && pos == self.size_bytes && next == self.next_offset)
                    .then_some((start, claimed))
            }
        }
    }

    /// Hashes batches from `pos` (expected to start at offset `expected`)
    /// up to `end`; returns where and at which offset the good ones end,
    /// and why the next one is bad, if one is.
    fn check_batches(
        &self,
        map: &ReadMap,
        mut pos: u64,
        mut expected: u64,
        end: u64,
    ) -> (u64, u64, Option<String>) {
        while pos < end {
            let h = match self.header_at(map, pos) {
                Ok(h) => h,
                Err(e) => return (pos, expected, Some(e.to_string())),
            };
            if h.base_offset != expected as i64 {
                return (
                    pos,
                    expected,
                    Some(format!(
                        "batch has base offset {} where {expected} was expected",
                        h.base_offset
                    )),
                );
            }
            let Some(bytes) = map.read(pos as usize, h.size_bytes) else {
                return (pos, expected, Some("batch outside published bytes".into()));
            };
            if let Err(e) = batch::check_crc(bytes, &h) {
                return (pos, expected, Some(e.to_string()));
            }
            pos += h.size_bytes as u64;
            expected = h.last_offset() as u64 + 1;
        }
        (pos, expected, None)
    }

    /// Keeps a checked stretch `from..to` (ending at offset `next`), merged
    /// with one it extends; at most `ISLANDS_MAX` are kept.
    fn remember_island(&mut self, from: u64, to: u64, next: u64) {
        if to <= from {
            return;
        }
        if let Some(i) = self
            .islands
            .iter_mut()
            .find(|(f, t, _)| *f <= from && from <= *t)
        {
            if to > i.1 {
                i.1 = to;
                i.2 = next;
            }
            return;
        }
        if self.islands.len() >= ISLANDS_MAX {
            self.islands.remove(0);
        }
        self.islands.push((from, to, next));
    }

    /// The error for a bad batch at `pos` that should hold offset `first`:
    /// names the unreadable offsets and where reading can go on, found from
    /// the bad batch's own length when its header holds, else from the
    /// offset index.
    fn damage_error(&self, map: &ReadMap, pos: u64, first: u64, reason: String) -> Error {
        let mut candidates: Vec<u64> = Vec::new();
        if let Ok(h) = self.header_at(map, pos) {
            candidates.push(pos + h.size_bytes as u64);
        }
        candidates.extend(
            self.offset_index
                .entries()
                .iter()
                .map(|e| u64::from(e.position))
                .filter(|p| *p > pos),
        );
        let next = candidates.into_iter().find_map(|at| {
            let h = self.header_at(map, at).ok()?;
            let bytes = map.read(at as usize, h.size_bytes)?;
            batch::check_crc(bytes, &h).ok()?;
            (h.base_offset >= first as i64).then_some(h.base_offset as u64)
        });
        let skip = match next {
            Some(n) => {
                format!("offsets {first}..{n} cannot be read; the next readable offset is {n}")
            }
            None => format!(
                "offsets from {first} to the end of this segment ({}) cannot be read",
                self.next_offset
            ),
        };
        Error::corrupt(self.log_path(), pos, format!("{reason}: {skip}"))
    }

    /// Calls `f` with the header of every batch, in order (a header walk:
    /// no CRC checks, no record bytes touched).
    pub fn for_each_batch(&mut self, mut f: impl FnMut(&BatchHeader)) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let map = self.read_map()?;
        let mut pos = 0;
        while pos < self.size_bytes {
            let h = self.header_at(&map, pos)?;
            f(&h);
            pos += h.size_bytes as u64;
        }
        Ok(())
    }

    /// The first offset whose record timestamp is at or after `timestamp_ms`.
    pub fn offset_for_timestamp(&mut self, timestamp_ms: i64) -> Result<Option<u64>> {
        if self.is_empty() || self.max_timestamp < timestamp_ms {
            return Ok(None);
        }
        let map = self.read_map()?;
        let start_rel = self
            .time_index
            .lookup(timestamp_ms)
            .map_or(0, |t| t.relative_offset);
        let mut pos = self
            .offset_index
            .lookup(start_rel)
            .map_or(0, |e| u64::from(e.position));
        while pos < self.size_bytes {
            let h = self.header_at(&map, pos)?;
            if h.max_timestamp >= timestamp_ms {
                if h.compression() == Compression::None && !h.is_log_append_time() {
                    self.verify_range(pos, pos + h.size_bytes as u64)?;
                    let bytes = map.read(pos as usize, h.size_bytes).ok_or_else(|| {
                        Error::corrupt(self.log_path(), pos, "batch outside published bytes")
                    })?;
                    for (i, r) in RecordIter::new(bytes, &h).enumerate() {
                        let r =
                            r.map_err(|e| Error::corrupt(self.log_path(), pos, e.to_string()))?;
                        if h.base_timestamp + r.timestamp_delta >= timestamp_ms {
                            return Ok(Some(h.base_offset as u64 + i as u64));
                        }
                    }
                }
                return Ok(Some(h.base_offset as u64));
            }
            pos += h.size_bytes as u64;
        }
        Ok(None)
    }

    /// Writes index entries not yet on disk.
    pub fn persist_indexes(&mut self, storage: &dyn Storage) -> Result<()> {
        self.offset_index.persist(storage)?;
        self.time_index.persist(storage)
    }

    /// Closes the segment for writing, as Kafka's `onBecomeInactiveSegment`
    /// does at roll and at close: a last time-index entry for the largest
    /// timestamp, the indexes persisted, the write map dropped and the
    /// preallocated tail trimmed, so the files at rest are Kafka's.
    pub fn seal(&mut self, storage: &dyn Storage) -> Result<()> {
        let grows = self
            .time_index
            .last()
            .is_none_or(|t| self.max_timestamp > t.timestamp_ms);
        if grows && self.max_timestamp >= 0 && !self.is_empty() {
            self.time_index.push(TimeEntry {
                timestamp_ms: self.max_timestamp,
                relative_offset: (self.offset_of_max_timestamp - self.base_offset) as u32,
            });
        }
        self.persist_indexes(storage)?;
        self.write_map = None;
        self.truncate_tail()?;
        // Paired with the trim: a sealed segment is exactly its batches,
        // unless another program cut the file under us.
        let path = log_path(&self.dir, self.base_offset);
        let len = self
            .file
            .metadata()
            .map_err(|e| Error::io("stat segment", &path, e))?
            .len();
        if len != self.size_bytes {
            return Err(Error::corrupt(
                &path,
                len,
                format!(
                    "sealed at {len} bytes but it holds {} bytes of batches: another program changed the file",
                    self.size_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Deletes the three files. Readers still holding a map keep their bytes:
    /// an unlinked file lives on while mapped.
    pub fn delete(self) -> Result<()> {
        for p in [
            log_path(&self.dir, self.base_offset),
            index_path(&self.dir, self.base_offset),
            time_index_path(&self.dir, self.base_offset),
        ] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("delete segment", &p, e)),
            }
        }
        Ok(())
    }
}

/// Whether index entries are exactly right for the batches in
/// `bytes[..size]`: every offset entry names a batch's start and last
/// offset, every time entry a batch's last offset and max timestamp, both
/// strictly increasing. Walks headers only (the scan checked the CRCs).
fn indexes_fit(
    bytes: &[u8],
    size: u64,
    base_offset: u64,
    offsets: &[OffsetEntry],
    times: &[TimeEntry],
) -> bool {
    let mut o = offsets.iter().peekable();
    let mut t = times.iter().peekable();
    let mut pos = 0u64;
    let mut prev_ts = i64::MIN;
    while pos < size {
        let Some(rest) = bytes.get(pos as usize..size as usize) else {
            return false;
        };
        let Ok(h) = BatchHeader::parse(rest) else {
            return false;
        };
        let Some(last_rel) = (h.last_offset() as u64).checked_sub(base_offset) else {
            return false;
        };
        if let Some(e) = o.peek() {
            match u64::from(e.position).cmp(&pos) {
                std::cmp::Ordering::Less => return false,
                std::cmp::Ordering::Equal => {
                    if u64::from(e.relative_offset) != last_rel {
                        return false;
                    }
                    o.next();
                }
                std::cmp::Ordering::Greater => {}
            }
        }
        if let Some(e) = t.peek() {
            match u64::from(e.relative_offset).cmp(&last_rel) {
                std::cmp::Ordering::Less => return false,
                std::cmp::Ordering::Equal => {
                    if e.timestamp_ms != h.max_timestamp || e.timestamp_ms <= prev_ts {
                        return false;
                    }
                    prev_ts = e.timestamp_ms;
                    t.next();
                }
                std::cmp::Ordering::Greater => {}
            }
        }
        pos += h.size_bytes as u64;
    }
    o.next().is_none() && t.next().is_none()
}

/// pread until `buf` is full; false at the end of the file or on an error
/// (a read-only scan then stops and retries later).
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> bool {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset).is_ok()
}
