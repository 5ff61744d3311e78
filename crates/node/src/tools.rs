//! The data-directory tools behind `ferrolog verify` and `ferrolog dump`.
//!
//! Both run on libuv's worker pool (napi async tasks): they read whole
//! segments, which must never happen on the JavaScript thread. `verify` is
//! the engine's own recovery scan and CRC check, not a second verifier:
//! read-only it reports what recovery would do, with `repair` it applies it.
//! `dump` walks one segment file's batch headers with the engine's batch
//! parser, a bounded chunk per call.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use ferrolog_engine::batch::{self, BatchHeader, HEADER_BYTES};
use ferrolog_engine::{Engine, EngineOptions};
use napi::bindgen_prelude::{AsyncTask, Buffer, Either};
use napi::{Env, Task};
use napi_derive::napi;

use crate::{coded, invalid, offset_arg, rejection, to_js, Error, Result};

/// One decision of the engine's recovery (`RecoveryReport`).
// Only ever handed to JavaScript: no conversion from JS is generated.
#[napi(object, object_from_js = false)]
pub struct VerifyFinding {
    /// Empty for findings about the data directory itself.
    pub topic: String,
    pub partition: u32,
    /// truncated, quarantined, adopted, ignored or corrected.
    pub action: String,
    pub offset: f64,
    pub path: String,
    pub moved_to: Option<String>,
    /// False when verifying: recovery only decided it.
    pub applied: bool,
    pub reason: String,
}

/// What the engine kept of one partition.
// Only ever handed to JavaScript: no conversion from JS is generated.
#[napi(object, object_from_js = false)]
pub struct VerifiedPartition {
    pub topic: String,
    pub partition: u32,
    pub segments: u32,
    pub bytes: f64,
    pub log_start_offset: f64,
    pub high_watermark: f64,
    /// Batches of the kept segments that fail their CRC or framing.
    pub problems: Vec<String>,
}

// Only ever handed to JavaScript: no conversion from JS is generated.
#[napi(object, object_from_js = false)]
pub struct VerifyResult {
    pub findings: Vec<VerifyFinding>,
    pub partitions: Vec<VerifiedPartition>,
}

/// Both tools as one napi async task type: one copy of napi's async-work
/// machinery in the addon instead of one per tool.
pub enum ToolTask {
    Verify(VerifyTask),
    Dump(DumpTask),
}

type ToolOutput = Either<VerifyResult, DumpChunk>;

impl Task for ToolTask {
    /// The coded error travels to `resolve`, on the JavaScript thread, where
    /// it becomes the JS error (napi's `compute` can only fail with a status).
    type Output = Result<ToolOutput>;
    type JsValue = ToolOutput;

    fn compute(&mut self) -> napi::Result<Result<ToolOutput>> {
        Ok(match self {
            ToolTask::Verify(t) => t.run().map(Either::A),
            ToolTask::Dump(t) => t.run().map(Either::B),
        })
    }

    fn resolve(&mut self, env: Env, output: Result<ToolOutput>) -> napi::Result<ToolOutput> {
        output.map_err(|e| rejection(&env, e))
    }
}

pub struct VerifyTask {
    dir: PathBuf,
    repair: bool,
}

impl VerifyTask {
    fn run(&mut self) -> Result<VerifyResult> {
        // Verifying never creates anything, not even with `repair`.
        if !self.dir.is_dir() {
            return Err(coded(
                "ERR_IO",
                format!("no data directory at {}", self.dir.display()),
            ));
        }
        // Full recovery: every segment is scanned and CRC-checked, whatever
        // the clean-shutdown marker says. Read-only takes no lock and writes
        // nothing, so it works beside a process that owns the directory.
        let engine = crate::open_engine(
            &self.dir,
            EngineOptions {
                read_only: !self.repair,
                full_recovery: true,
                ..EngineOptions::default()
            },
        )
        .map_err(to_js)?;
        let result = verify_open(&engine);
        let closed = engine.close().map_err(to_js);
        let result = result?;
        closed?;
        Ok(result)
    }
}

/// What recovery says about preallocated space after the last batch: routine
/// (recovery trims it without a report), so not a finding.
const PREALLOCATED_REASON: &str = "preallocated zeros after the last batch";

fn verify_open(engine: &Engine) -> Result<VerifyResult> {
    let read_only = engine.is_read_only();
    let findings = engine
        .recovery_reports()
        .into_iter()
        .filter(|r| r.applied || r.reason != PREALLOCATED_REASON)
        .map(|r| VerifyFinding {
            topic: r.topic,
            partition: r.partition,
            action: r.action.as_str().to_string(),
            offset: r.offset as f64,
            path: r.path.to_string_lossy().into_owned(),
            moved_to: r.moved_to.map(|p| p.to_string_lossy().into_owned()),
            applied: r.applied,
            reason: r.reason,
        })
        .collect();
    let mut partitions = Vec::new();
    for topic in engine.topics() {
        for p in topic.partitions() {
            let segments = p.segments();
            let w = p.watermarks();
            // Recovery read the last segment of a read-only open live (it
            // may be growing); the engine's verify CRC-checks it too.
            let mut problems = p.verify().map_err(to_js)?;
            // Read-only, recovery read the last segment as a live reader
            // does: up to the first batch not (yet) whole and sound. What
            // follows is checked here, so damage at the tail is reported
            // rather than taken for space not yet written.
            if let (true, Some(last)) = (read_only, segments.last()) {
                if let Some((at, reason)) = first_bad_batch(&last.path, last.size_bytes)? {
                    problems.push(format!(
                        "{}: at byte {at} (offset {}): {reason}",
                        last.path.display(),
                        last.next_offset
                    ));
                }
            }
            partitions.push(VerifiedPartition {
                topic: p.topic.clone(),
                partition: p.id,
                segments: u32::try_from(segments.len()).unwrap_or(u32::MAX),
                bytes: segments.iter().map(|s| s.size_bytes).sum::<u64>() as f64,
                log_start_offset: w.log_start_offset as f64,
                high_watermark: w.high_watermark as f64,
                problems,
            });
        }
    }
    Ok(VerifyResult {
        findings,
        partitions,
    })
}

/// Walks the batches of a segment file from `from` (a batch boundary) to
/// its end; returns the first one that is not a whole, sound batch and why.
/// Preallocated zeros end the walk without a finding.
fn first_bad_batch(path: &std::path::Path, from: u64) -> Result<Option<(u64, String)>> {
    let file = File::open(path).map_err(|e| io_err("open", path, e))?;
    let size = file.metadata().map_err(|e| io_err("stat", path, e))?.len();
    let mut pos = from;
    let mut head = [0u8; HEADER_BYTES];
    while pos < size {
        match batch_at(&file, path, pos, size, &mut head)? {
            Walk::Batch(header) => {
                if !crc_matches(&file, path, pos, &head, &header)? {
                    return Ok(Some((pos, "CRC-32C does not match the batch".into())));
                }
                pos += header.size_bytes as u64;
            }
            Walk::Padding => return Ok(None),
            Walk::Bad(reason) => return Ok(Some((pos, reason))),
        }
    }
    Ok(None)
}

enum Walk {
    Batch(BatchHeader),
    Padding,
    Bad(String),
}

/// Reads and parses the batch header at `pos` (`pos < size`).
fn batch_at(
    file: &File,
    path: &std::path::Path,
    pos: u64,
    size: u64,
    head: &mut [u8; HEADER_BYTES],
) -> Result<Walk> {
    let left = size - pos;
    if left < HEADER_BYTES as u64 {
        if read_is_zero(file, path, pos, left)? {
            return Ok(Walk::Padding);
        }
        return Ok(Walk::Bad(format!(
            "{left} trailing bytes, shorter than a batch header"
        )));
    }
    file.read_exact_at(head, pos)
        .map_err(|e| io_err("read", path, e))?;
    if head.iter().all(|&b| b == 0) {
        return Ok(Walk::Padding);
    }
    let available = usize::try_from(left).unwrap_or(usize::MAX);
    Ok(match BatchHeader::parse_header_only(head, available) {
        Ok(h) => Walk::Batch(h),
        Err(e) => Walk::Bad(e.to_string()),
    })
}

fn read_is_zero(file: &File, path: &std::path::Path, pos: u64, len: u64) -> Result<bool> {
    let mut buf = [0u8; HEADER_BYTES];
    let n = usize::try_from(len).unwrap_or(0).min(HEADER_BYTES);
    let Some(part) = buf.get_mut(..n) else {
        return Ok(false);
    };
    file.read_exact_at(part, pos)
        .map_err(|e| io_err("read", path, e))?;
    Ok(part.iter().all(|&b| b == 0))
}

/// CRC-32C of the batch at `pos`, read in slices: a damaged header may claim
/// any length up to the file's size, which is never allocated at once.
fn crc_matches(
    file: &File,
    path: &std::path::Path,
    pos: u64,
    head: &[u8; HEADER_BYTES],
    header: &BatchHeader,
) -> Result<bool> {
    let size = header.size_bytes;
    // The CRC covers the attributes to the end of the batch.
    let mut crc = crc32c::crc32c(head.get(batch::ATTRIBUTES_OFFSET..).unwrap_or(&[]));
    let mut slice = vec![0u8; CRC_SLICE_BYTES.min(size)];
    let mut at = HEADER_BYTES;
    while at < size {
        let n = (size - at).min(slice.len());
        let Some(buf) = slice.get_mut(..n) else {
            break;
        };
        file.read_exact_at(buf, pos + at as u64)
            .map_err(|e| io_err("read", path, e))?;
        crc = crc32c::crc32c_append(crc, buf);
        at += n;
    }
    Ok(crc == header.crc)
}

/// Checks a data directory with the engine's recovery (read-only), or with
/// `repair` applies it (takes the directory lock). One call per directory.
#[napi]
pub fn verify_data_dir(dir: String, repair: bool) -> Result<AsyncTask<ToolTask>> {
    if dir.is_empty() {
        return Err(invalid("dataDir must be a non-empty path"));
    }
    Ok(AsyncTask::new(ToolTask::Verify(VerifyTask {
        dir: PathBuf::from(dir),
        repair,
    })))
}

/// One batch of a segment file, as its header says.
// Only ever handed to JavaScript: no conversion from JS is generated.
#[napi(object, object_from_js = false)]
pub struct DumpedBatch {
    pub position: f64,
    pub base_offset: f64,
    pub last_offset: f64,
    pub record_count: i32,
    pub size_bytes: f64,
    pub partition_leader_epoch: i32,
    pub crc: u32,
    pub crc_valid: bool,
    pub compression: String,
    pub log_append_time: bool,
    pub transactional: bool,
    pub control: bool,
    pub base_timestamp: f64,
    pub max_timestamp: f64,
    pub producer_id: f64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    /// The whole batch, when records were asked for and its CRC holds.
    pub bytes: Option<Buffer>,
}

// Only ever handed to JavaScript: no conversion from JS is generated.
#[napi(object, object_from_js = false)]
pub struct DumpChunk {
    pub batches: Vec<DumpedBatch>,
    /// Where the next call starts; equal to `fileSize` at the end.
    pub next_position: f64,
    pub file_size: f64,
    /// Why the walk stopped before the end of the file: `padding` (only
    /// preallocated zeros follow), or what is wrong with the bytes at
    /// `nextPosition`. None when it did not stop.
    pub stop: Option<String>,
}

pub struct DumpTask {
    path: PathBuf,
    position: u64,
    max_bytes: u64,
    records: bool,
}

/// Batches larger than this are reported but not handed over for decoding.
const RECORDS_BYTES_MAX: usize = 64 << 20;
/// CRC-checking reads a batch in slices of this size: a damaged header may
/// claim any length up to the file's size, which is never allocated at once.
const CRC_SLICE_BYTES: usize = 1 << 20;

fn io_err(what: &str, path: &std::path::Path, e: std::io::Error) -> Error {
    coded("ERR_IO", format!("{what} {}: {e}", path.display()))
}

impl DumpTask {
    fn run(&mut self) -> Result<DumpChunk> {
        let file = File::open(&self.path).map_err(|e| io_err("open", &self.path, e))?;
        let size = file
            .metadata()
            .map_err(|e| io_err("stat", &self.path, e))?
            .len();
        let mut pos = self.position.min(size);
        let mut batches = Vec::new();
        let mut taken = 0u64;
        let mut stop = None;
        let mut head = [0u8; HEADER_BYTES];
        while pos < size && (batches.is_empty() || taken < self.max_bytes) {
            let header = match batch_at(&file, &self.path, pos, size, &mut head)? {
                Walk::Batch(h) => h,
                Walk::Padding => {
                    stop = Some("padding".to_string());
                    break;
                }
                Walk::Bad(reason) => {
                    stop = Some(reason);
                    break;
                }
            };
            let (crc_valid, bytes) = self.check(&file, pos, &head, &header)?;
            batches.push(DumpedBatch {
                position: pos as f64,
                base_offset: header.base_offset as f64,
                last_offset: header.last_offset() as f64,
                record_count: header.record_count,
                size_bytes: header.size_bytes as f64,
                partition_leader_epoch: header.partition_leader_epoch,
                crc: header.crc,
                crc_valid,
                compression: header.compression().name().to_string(),
                log_append_time: header.is_log_append_time(),
                transactional: header.attributes & batch::TRANSACTIONAL_MASK != 0,
                control: header.attributes & batch::CONTROL_MASK != 0,
                base_timestamp: header.base_timestamp as f64,
                max_timestamp: header.max_timestamp as f64,
                producer_id: header.producer_id as f64,
                producer_epoch: header.producer_epoch,
                base_sequence: header.base_sequence,
                bytes: bytes.map(Buffer::from),
            });
            pos += header.size_bytes as u64;
            taken += header.size_bytes as u64;
        }
        Ok(DumpChunk {
            batches,
            next_position: pos as f64,
            file_size: size as f64,
            stop,
        })
    }
}

impl DumpTask {
    /// CRC-checks the batch at `pos`; returns its bytes too when records
    /// were asked for, it is sound and not too large.
    fn check(
        &self,
        file: &File,
        pos: u64,
        head: &[u8; HEADER_BYTES],
        header: &BatchHeader,
    ) -> Result<(bool, Option<Vec<u8>>)> {
        let size = header.size_bytes;
        if self.records && size <= RECORDS_BYTES_MAX {
            let mut whole = vec![0u8; size];
            file.read_exact_at(&mut whole, pos)
                .map_err(|e| io_err("read", &self.path, e))?;
            let ok = batch::check_crc(&whole, header).is_ok();
            return Ok((ok, ok.then_some(whole)));
        }
        Ok((crc_matches(file, &self.path, pos, head, header)?, None))
    }
}

/// Reads the batches of one segment file from byte `position`, about
/// `maxBytes` of them (at least one batch) per call; with `records`, the
/// sound batches' bytes come along for the codec to decode.
#[napi]
pub fn dump_segment(
    path: String,
    position: f64,
    max_bytes: f64,
    records: bool,
) -> Result<AsyncTask<ToolTask>> {
    if path.is_empty() {
        return Err(invalid("path must be a non-empty path"));
    }
    Ok(AsyncTask::new(ToolTask::Dump(DumpTask {
        path: PathBuf::from(path),
        position: offset_arg("position", position)?,
        max_bytes: offset_arg("maxBytes", max_bytes)?.max(1),
        records,
    })))
}
