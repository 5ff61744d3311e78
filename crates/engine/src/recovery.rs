//! Recovery: how a partition directory on disk becomes a list of segments.
//!
//! It runs in two phases, so that an open that fails part-way changes
//! nothing on disk, and so that a read-only open can run the first alone:
//!
//! 1. `scan` reads: it lists the segment files, opens each, CRC-checks
//!    what needs checking (Kafka's rules: everything after an unclean stop
//!    without a recovery point, else from the recovery point on) and decides
//!    what must change. It writes nothing.
//! 2. `apply` writes the decisions, after every partition of the data
//!    directory scanned cleanly.
//!
//! Nothing is ever deleted. What Kafka's recovery deletes (segments after a
//! bad batch, files that do not fit the sequence), ferrolog moves aside into
//! `<dataDir>/.quarantine/<topic>-<partition>/`, and each decision becomes a
//! [`RecoveryReport`]. The bytes cut off a segment at a bad batch are copied
//! there before the cut, unless they are only preallocated zeros.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::Storage;
use crate::segment::{self, ScanMode, ScanStop, Segment};

/// The folder, inside the data directory, that holds what recovery set aside.
pub const QUARANTINE_DIR: &str = ".quarantine";

/// What recovery did (or, read-only, would do) to one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryAction {
    /// A segment was cut at a bad batch; the bytes cut are in `moved_to`.
    Truncated,
    /// A segment's files were moved aside into `moved_to`.
    Quarantined,
    /// A partition directory ferrolog did not create became a topic's.
    Adopted,
    /// Something in the data directory was left as it is, and not used.
    Ignored,
    /// A checkpointed offset contradicted the segments and was corrected.
    Corrected,
}

impl RecoveryAction {
    /// The action's name in reports and in the binding's objects.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryAction::Truncated => "truncated",
            RecoveryAction::Quarantined => "quarantined",
            RecoveryAction::Adopted => "adopted",
            RecoveryAction::Ignored => "ignored",
            RecoveryAction::Corrected => "corrected",
        }
    }
}

/// One decision of recovery, for `Engine::recovery_reports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Empty for findings about the data directory itself.
    pub topic: String,
    /// The partition concerned.
    pub partition: u32,
    /// What recovery did.
    pub action: RecoveryAction,
    /// Where the log now ends (truncation), or the corrected offset.
    pub offset: u64,
    /// The file or directory concerned.
    pub path: PathBuf,
    /// Where it was moved (quarantine), when it was.
    pub moved_to: Option<PathBuf>,
    /// Whether this happened on disk (false: a read-only open only decided it).
    pub applied: bool,
    /// Why, in words an operator can act on.
    pub reason: String,
}

/// A change on disk that scanning decided.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Repair {
    /// Move the segment's files aside.
    Quarantine { base: u64, reason: String },
    /// Cut the segment after its last good batch, at `position`; the bytes
    /// past it are saved first when `save` (they are not only zeros).
    Truncate {
        base: u64,
        position: u64,
        next_offset: u64,
        save: bool,
        reason: String,
    },
}

/// The outcome of scanning one partition directory.
pub(crate) struct Scanned {
    pub segments: Vec<Segment>,
    repairs: Vec<Repair>,
}

impl Scanned {
    /// A partition directory with no segment yet.
    pub fn empty() -> Scanned {
        Scanned {
            segments: Vec::new(),
            repairs: Vec::new(),
        }
    }

    /// Whether recovery would change anything on disk.
    pub fn needs_repair(&self) -> bool {
        !self.repairs.is_empty()
    }

    /// The base offset of the first kept segment.
    pub fn first_base(&self) -> Option<u64> {
        self.segments.first().map(|s| s.base_offset)
    }

    /// The offset after the last kept batch, when any segment was kept.
    pub fn high_watermark(&self) -> Option<u64> {
        self.segments.last().map(Segment::next_offset)
    }

    /// The reports for a read-only open, where nothing is applied.
    pub fn pending_reports(&self, topic: &str, partition: u32, dir: &Path) -> Vec<RecoveryReport> {
        self.repairs
            .iter()
            .map(|r| report_for(r, topic, partition, dir, None, false))
            .collect()
    }
}

fn report_for(
    repair: &Repair,
    topic: &str,
    partition: u32,
    dir: &Path,
    moved_to: Option<PathBuf>,
    applied: bool,
) -> RecoveryReport {
    match repair {
        Repair::Quarantine { base, reason } => RecoveryReport {
            topic: topic.to_string(),
            partition,
            action: RecoveryAction::Quarantined,
            offset: *base,
            path: segment::log_path(dir, *base),
            moved_to,
            applied,
            reason: reason.clone(),
        },
        Repair::Truncate {
            base,
            next_offset,
            reason,
            ..
        } => RecoveryReport {
            topic: topic.to_string(),
            partition,
            action: RecoveryAction::Truncated,
            offset: *next_offset,
            path: segment::log_path(dir, *base),
            moved_to,
            applied,
            reason: reason.clone(),
        },
    }
}

/// How to scan one partition.
pub(crate) struct ScanOptions {
    pub index_interval_bytes: u64,
    /// The previous stop wrote the clean-shutdown marker.
    pub clean: bool,
    pub recovery_point: Option<u64>,
    pub writable: bool,
}

/// Phase 1: reads the partition directory and decides. Writes nothing.
pub(crate) fn scan(dir: &Path, options: &ScanOptions) -> Result<Scanned> {
    let mut bases = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list partition dir", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list partition dir", dir, e))?;
        if let Some(base) = segment::parse_log_file_name(&entry.file_name().to_string_lossy()) {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    let mut segments: Vec<Segment> = Vec::with_capacity(bases.len().max(1));
    let mut repairs = Vec::new();
    let mut rest = bases.iter().copied().enumerate();
    while let Some((i, base)) = rest.next() {
        let is_last = i + 1 == bases.len();
        let path = segment::log_path(dir, base);
        let file_len = std::fs::metadata(&path)
            .map_err(|e| Error::io("stat segment", &path, e))?
            .len();
        let expected = segments.last().map(Segment::next_offset);
        if file_len == 0 && !is_last {
            repairs.push(Repair::Quarantine {
                base,
                reason: "an empty segment file between others".into(),
            });
            continue;
        }
        match expected {
            Some(want) if base < want => {
                repairs.push(Repair::Quarantine {
                    base,
                    reason: format!(
                        "segment {base} starts inside the previous one, which ends at offset {want}"
                    ),
                });
                continue;
            }
            Some(want) if base > want => {
                // Offsets want..base are missing: the log cannot continue
                // past the gap without a hole, so the rest is set aside.
                let reason = format!(
                    "offsets {want}..{base} are missing: no segment holds them, so segment {base} and every later one were set aside"
                );
                repairs.push(Repair::Quarantine {
                    base,
                    reason: reason.clone(),
                });
                for (_, later) in rest.by_ref() {
                    repairs.push(Repair::Quarantine {
                        base: later,
                        reason: reason.clone(),
                    });
                }
                break;
            }
            _ => {}
        }
        let needs_full_scan = !options.clean
            && options.recovery_point.is_none_or(|rp| {
                // Scan this segment if the recovery point is inside or before it.
                bases.get(i + 1).is_none_or(|&next| next > rp)
            });
        let mode = if needs_full_scan {
            ScanMode::Full
        } else {
            ScanMode::Tail
        };
        let (seg, stop) = if !options.writable && is_last {
            // Another process may be appending to it, and may trim it.
            let seg = Segment::open_live(dir, base, options.index_interval_bytes)?;
            (seg, ScanStop::End)
        } else {
            Segment::open(
                dir,
                base,
                options.index_interval_bytes,
                mode,
                options.writable,
            )?
        };
        match stop {
            ScanStop::Invalid { position, reason }
                if seg.is_empty() && misnamed(&path, base).is_some() =>
            {
                // A whole, sound first batch whose offset is not the one the
                // file name says: a renamed or misplaced file, not damage.
                // Set aside whole, and let the next file show whether the
                // sequence goes on without it.
                drop(seg);
                repairs.push(Repair::Quarantine {
                    base,
                    reason: format!("no valid batch at its start (byte {position}: {reason})"),
                });
                continue;
            }
            ScanStop::Invalid { position, reason } => {
                repairs.push(Repair::Truncate {
                    base,
                    position,
                    next_offset: seg.next_offset(),
                    save: true,
                    reason: format!("at byte {position}: {reason}"),
                });
                let later_reason = format!(
                    "segment {base} ends at a bad batch (offset {}), so the log cannot continue into later segments",
                    seg.next_offset()
                );
                for (_, later) in rest.by_ref() {
                    repairs.push(Repair::Quarantine {
                        base: later,
                        reason: later_reason.clone(),
                    });
                }
                segments.push(seg);
                break;
            }
            ScanStop::End | ScanStop::Padding => {
                if file_len > seg.size_bytes() {
                    repairs.push(Repair::Truncate {
                        base,
                        position: seg.size_bytes(),
                        next_offset: seg.next_offset(),
                        save: false,
                        reason: "preallocated zeros after the last batch".into(),
                    });
                }
                segments.push(seg);
            }
        }
    }
    debug_assert!(
        segments
            .windows(2)
            .all(|w| matches!(w, [a, b] if a.next_offset() == b.base_offset)),
        "kept segments are contiguous"
    );
    Ok(Scanned { segments, repairs })
}

/// The base offset of the file's first batch when it is a whole batch with
/// a sound CRC but does not start at `base` (the offset in the file name).
fn misnamed(path: &Path, base: u64) -> Option<i64> {
    let mut file = File::open(path).ok()?;
    let file_len = usize::try_from(file.metadata().ok()?.len()).ok()?;
    let mut head = vec![0u8; crate::batch::HEADER_BYTES];
    file.read_exact(&mut head).ok()?;
    // The header's length is checked against the file's before any
    // allocation for the whole batch.
    let header = crate::batch::BatchHeader::parse_header_only(&head, file_len).ok()?;
    if header.base_offset == base as i64 {
        return None;
    }
    let mut whole = vec![0u8; header.size_bytes];
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_exact(&mut whole).ok()?;
    crate::batch::check_crc(&whole, &header).ok()?;
    Some(header.base_offset)
}

/// Phase 2: writes what `scan` decided. Returns the reports worth telling
/// (trimming preallocated zeros is routine and not reported).
pub(crate) fn apply(
    scanned: &mut Scanned,
    dir: &Path,
    data_dir: &Path,
    topic: &str,
    partition: u32,
    storage: &dyn Storage,
) -> Result<Vec<RecoveryReport>> {
    let mut reports = Vec::new();
    let quarantine = data_dir
        .join(QUARANTINE_DIR)
        .join(format!("{topic}-{partition}"));
    let stamp = crate::partition::now_ms();
    for repair in std::mem::take(&mut scanned.repairs) {
        match &repair {
            Repair::Quarantine { base, .. } => {
                let moved = quarantine_segment(dir, *base, &quarantine, stamp, storage)?;
                reports.push(report_for(
                    &repair,
                    topic,
                    partition,
                    dir,
                    Some(moved),
                    true,
                ));
            }
            Repair::Truncate {
                base,
                position,
                save,
                ..
            } => {
                let Some(seg) = scanned.segments.iter_mut().find(|s| s.base_offset == *base) else {
                    return Err(Error::corrupt(
                        segment::log_path(dir, *base),
                        *position,
                        "recovery lost track of the segment it meant to cut",
                    ));
                };
                debug_assert_eq!(
                    seg.size_bytes(),
                    *position,
                    "the cut is after the last good batch"
                );
                let moved = if *save {
                    save_tail(dir, *base, *position, &quarantine, stamp, storage)?
                } else {
                    None
                };
                seg.truncate_tail()?;
                if *save {
                    reports.push(report_for(&repair, topic, partition, dir, moved, true));
                }
            }
        }
    }
    for seg in &mut scanned.segments {
        seg.persist_indexes(storage)?;
    }
    Ok(reports)
}

fn quarantine_segment(
    dir: &Path,
    base: u64,
    quarantine: &Path,
    stamp: i64,
    storage: &dyn Storage,
) -> Result<PathBuf> {
    let to = quarantine.join(format!("{stamp}"));
    std::fs::create_dir_all(&to).map_err(|e| Error::io("create quarantine dir", &to, e))?;
    for from in [
        segment::log_path(dir, base),
        segment::index_path(dir, base),
        segment::time_index_path(dir, base),
    ] {
        let Some(name) = from.file_name() else {
            continue;
        };
        match std::fs::rename(&from, to.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("move segment aside", &from, e)),
        }
    }
    storage
        .sync_dir(&to)
        .and_then(|()| storage.sync_dir(dir))
        .map_err(|e| Error::io("sync quarantine", &to, e))?;
    Ok(to.join(format!("{base:020}.log")))
}

/// Copies `position..` of a segment, without its trailing zeros, into the
/// quarantine before a cut. Returns where, or None when it was all zeros.
fn save_tail(
    dir: &Path,
    base: u64,
    position: u64,
    quarantine: &Path,
    stamp: i64,
    storage: &dyn Storage,
) -> Result<Option<PathBuf>> {
    let path = segment::log_path(dir, base);
    let mut file = File::open(&path).map_err(|e| Error::io("open segment", &path, e))?;
    let file_len = file
        .metadata()
        .map_err(|e| Error::io("stat segment", &path, e))?
        .len();
    let end = last_nonzero_end(&mut file, position, file_len)
        .map_err(|e| Error::io("read segment tail", &path, e))?;
    if end <= position {
        return Ok(None);
    }
    let to_dir = quarantine.join(format!("{stamp}"));
    std::fs::create_dir_all(&to_dir).map_err(|e| Error::io("create quarantine dir", &to_dir, e))?;
    let to = to_dir.join(format!("{base:020}.log.from-byte-{position}"));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&to)
        .map_err(|e| Error::io("create quarantine file", &to, e))?;
    file.seek(SeekFrom::Start(position))
        .map_err(|e| Error::io("read segment tail", &path, e))?;
    let copied = std::io::copy(&mut (&mut file).take(end - position), &mut out)
        .map_err(|e| Error::io("save segment tail", &to, e))?;
    out.flush()
        .map_err(|e| Error::io("save segment tail", &to, e))?;
    if copied != end - position {
        return Err(Error::io(
            "save segment tail",
            &to,
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "segment shrank while saved",
            ),
        ));
    }
    storage
        .sync_data(&out)
        .and_then(|()| storage.sync_dir(&to_dir))
        .map_err(|e| Error::io("sync quarantine", &to, e))?;
    Ok(Some(to))
}

/// The end of the last non-zero byte in `from..len`, reading backwards in
/// 1 MiB steps (preallocated tails are long runs of zeros).
fn last_nonzero_end(file: &mut File, from: u64, len: u64) -> std::io::Result<u64> {
    const STEP_BYTES: u64 = 1 << 20;
    let mut buf = vec![0u8; STEP_BYTES as usize];
    let mut end = len;
    while end > from {
        let start = end.saturating_sub(STEP_BYTES).max(from);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        let window = buf
            .get_mut(..n)
            .ok_or_else(|| std::io::Error::other("scan window larger than its buffer"))?;
        file.read_exact(window)?;
        if let Some(i) = window.iter().rposition(|&b| b != 0) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}
