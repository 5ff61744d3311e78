//! The physical write limit as a program, for the Node benchmark harness
//! (bench/harness/physical.mjs): a benchmark is no part of the shipped addon,
//! so the harness builds this with `cargo build --release --example
//! physical_write -p ferrolog-engine` and runs it as a child process.
//!
//! Usage: `physical_write <chunk-file> <out-file> <total-bytes> <write|mmap> <strict|none>`
//!
//! Writes `total-bytes` to `out-file` by repeating the bytes of `chunk-file`
//! (see `ferrolog_engine::physical::physical_write`), with an fdatasync per
//! chunk when `strict`, and prints `{"seconds":S}` on stdout. Only the write
//! is timed: reading the chunk and starting the process are not.

use std::path::Path;
use std::process::ExitCode;

use ferrolog_engine::physical::{physical_write, PhysicalMode};

/// The largest chunk accepted: the harness writes one encoded batch of a
/// thousand values, far below this; a larger file is a mistake, not a chunk.
const MAX_CHUNK: u64 = 1 << 30;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(seconds) => {
            println!("{{\"seconds\":{seconds}}}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("physical_write: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<f64, String> {
    let [chunk_path, out, total, mode, durability] = args.as_slice() else {
        return Err(format!(
            "expected 5 arguments (chunk-file out-file total-bytes write|mmap strict|none), got {}",
            args.len()
        ));
    };
    let total: usize = total
        .parse()
        .map_err(|e| format!("total-bytes {total:?}: {e}"))?;
    let mode = match mode.as_str() {
        "write" => PhysicalMode::Write,
        "mmap" => PhysicalMode::Mmap,
        other => return Err(format!("mode must be write or mmap, not {other:?}")),
    };
    let fsync_each_chunk = match durability.as_str() {
        "strict" => true,
        "none" => false,
        other => return Err(format!("durability must be strict or none, not {other:?}")),
    };
    let len = std::fs::metadata(chunk_path)
        .map_err(|e| format!("{chunk_path}: {e}"))?
        .len();
    if len == 0 || len > MAX_CHUNK {
        return Err(format!(
            "{chunk_path}: a chunk must hold 1 to {MAX_CHUNK} bytes, not {len}"
        ));
    }
    let chunk = std::fs::read(chunk_path).map_err(|e| format!("{chunk_path}: {e}"))?;
    physical_write(Path::new(out), &chunk, total, mode, fsync_each_chunk)
        .map(|d| d.as_secs_f64())
        .map_err(|e| format!("{out}: {e}"))
}
