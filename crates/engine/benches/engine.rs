//! Engine throughput: `cargo bench -p ferrolog-engine` (or `npm run bench:engine`).
//!
//! Prints msg/s and MB/s for appends of pre-encoded batches and for
//! zero-copy reads, for 100 B and 1 KiB records in batches of 1, 100 and
//! 1000, with flush none and always; then the physical write paths the
//! engine chose between. `BENCH_SECONDS` bounds each case (default 0.7).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrolog_engine::batch::{encode_batch, BatchHeader, ProducerFields, Record};
use ferrolog_engine::physical::{physical_write, PhysicalMode};
use ferrolog_engine::{Engine, EngineOptions, FlushPolicy, TopicConfig};

fn seconds() -> Duration {
    let s: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.7);
    Duration::from_secs_f64(s)
}

fn batch(records: usize, value_bytes: usize) -> Vec<u8> {
    let value = vec![b'x'; value_bytes];
    let recs: Vec<Record<'_>> = (0..records)
        .map(|_| Record {
            timestamp_ms: 1_700_000_000_000,
            key: None,
            value: Some(&value),
            headers: &[],
        })
        .collect();
    let mut out = Vec::new();
    encode_batch(&recs, ProducerFields::default(), &mut out).unwrap();
    out
}

fn row(name: &str, msgs: u64, bytes: u64, elapsed: Duration) {
    let s = elapsed.as_secs_f64();
    println!(
        "{name:<44} {:>12.0} msg/s {:>9.0} MB/s",
        msgs as f64 / s,
        bytes as f64 / s / 1e6
    );
}

fn main() {
    // `cargo bench` passes --bench; ignore arguments.
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(dir.path(), EngineOptions::default()).unwrap());
    println!(
        "ferrolog engine bench ({} s per case)",
        seconds().as_secs_f64()
    );
    println!("{:<44} {:>18} {:>14}", "case", "messages", "bytes");
    let mut n = 0;
    for &value_bytes in &[100usize, 1024] {
        for &records in &[1usize, 100, 1000] {
            for flush in [FlushPolicy::None, FlushPolicy::Always] {
                n += 1;
                let topic = format!("b{n}");
                let config = TopicConfig {
                    flush,
                    retention_ms: -1,
                    ..TopicConfig::default()
                };
                engine.create_topic(&topic, 1, Some(config)).unwrap();
                let b = batch(records, value_bytes);
                let flush_name = if flush == FlushPolicy::None {
                    "none"
                } else {
                    "always"
                };
                let case = format!("{value_bytes}B x{records} flush={flush_name}");
                if std::env::var("BENCH_ONLY").is_ok_and(|only| !case.contains(&only)) {
                    engine.delete_topic(&topic).unwrap();
                    continue;
                }
                // Start every case from a clean page cache: dirty pages left
                // by an earlier case would throttle this one to disk speed.
                // SAFETY: sync(2) takes no arguments and cannot fail.
                unsafe { libc::sync() };
                // Appends: one thread for flush none; eight for always, so
                // group commit has concurrent appends to share fsyncs.
                let threads = if flush == FlushPolicy::None { 1 } else { 8 };
                let start = Instant::now();
                let limit = seconds();
                let mut handles = Vec::new();
                for _ in 0..threads {
                    let engine = engine.clone();
                    let topic = topic.clone();
                    let b = b.clone();
                    handles.push(std::thread::spawn(move || {
                        let mut appended = 0u64;
                        let t0 = Instant::now();
                        while t0.elapsed() < limit {
                            for _ in 0..16 {
                                engine.append_blocking(&topic, 0, &b).unwrap();
                                appended += 1;
                            }
                        }
                        appended
                    }));
                }
                let appended: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
                let elapsed = start.elapsed();
                row(
                    &format!("append {value_bytes}B x{records} flush={flush_name} t={threads}"),
                    appended * records as u64,
                    appended * b.len() as u64,
                    elapsed,
                );
                if flush == FlushPolicy::None {
                    // Reads: walk every batch header of what was appended,
                    // through zero-copy views, 1 MiB per read call.
                    let p = engine.partition(&topic, 0).unwrap();
                    let hw = p.watermarks().high_watermark;
                    let start = Instant::now();
                    let (mut offset, mut msgs, mut bytes) = (0u64, 0u64, 0u64);
                    while offset < hw {
                        let r = p.read(offset, 1 << 20).unwrap();
                        for c in &r.chunks {
                            let mut view = c.bytes();
                            while !view.is_empty() {
                                let h = BatchHeader::parse(view).unwrap();
                                msgs += h.record_count as u64;
                                view = &view[h.size_bytes..];
                            }
                            bytes += c.len;
                        }
                        offset = r.next_offset;
                    }
                    row(
                        &format!("read   {value_bytes}B x{records} zero-copy"),
                        msgs,
                        bytes,
                        start.elapsed(),
                    );
                }
                engine.delete_topic(&topic).unwrap();
            }
        }
    }
    physical_limits(dir.path());
    std::io::stdout().flush().unwrap();
}

/// The two ways to get bytes into a file that the engine chose between.
fn physical_limits(dir: &std::path::Path) {
    let total: usize = 1 << 30;
    let chunk = vec![b'y'; 4 << 20];
    println!("physical write paths, {} MiB:", total >> 20);

    let path = dir.join("plain");
    let f = std::fs::File::create(&path).unwrap();
    let start = Instant::now();
    let mut at = 0;
    while at < total {
        f.write_all_at(&chunk, at as u64).unwrap();
        at += chunk.len();
    }
    row("  write(2), 4 MiB chunks", 0, total as u64, start.elapsed());
    drop(f);
    std::fs::remove_file(&path).unwrap();

    for prefault in [false, true] {
        let path = dir.join("mapped");
        let mode = if prefault {
            PhysicalMode::MmapPrefaulted
        } else {
            PhysicalMode::Mmap
        };
        let took = physical_write(&path, &chunk, total, mode, false).unwrap();
        let label = if prefault {
            "  memcpy into fallocated map, prefaulted"
        } else {
            "  memcpy into fallocated map"
        };
        row(label, 0, total as u64, took);
        std::fs::remove_file(&path).unwrap();
    }
}
