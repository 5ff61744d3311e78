//! A child process for crash tests: appends batches forever and prints
//! `ack <base> <last>` after each append is acknowledged (after the
//! group-committed fdatasync when the topic flushes `always`). The parent
//! kills it with SIGKILL at a random moment and checks the log.
//!
//! Usage: `ferrolog-crash-child <dir> <none|always> <records-per-batch> [threads]`

use std::io::Write;
use std::sync::Arc;

use ferrolog_engine::batch::{encode_batch, ProducerFields, Record};
use ferrolog_engine::{Engine, EngineOptions, FlushPolicy, TopicConfig};

fn main() {
    if let Err(e) = run() {
        eprintln!("crash child: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).ok_or("missing dir")?;
    let flush = match args.get(2).map(String::as_str) {
        Some("always") => FlushPolicy::Always,
        _ => FlushPolicy::None,
    };
    let per_batch: usize = args.get(3).map_or(Ok(10), |s| s.parse())?;
    let threads: usize = args.get(4).map_or(Ok(1), |s| s.parse())?;
    let config = TopicConfig {
        flush,
        segment_bytes: 64 * 1024,
        segment_preallocate_bytes: 16 * 1024,
        index_interval_bytes: 512,
        ..TopicConfig::default()
    };
    // The parent's tests run in parallel and spawn children: a fork of the
    // other test may briefly hold an inherited copy of the parent's lock
    // file descriptor (until its exec closes it), so a Locked here is
    // retried for a moment.
    let mut attempts = 0;
    let engine = loop {
        match Engine::open(dir, EngineOptions::default()) {
            Err(ferrolog_engine::Error::Locked { .. }) if attempts < 100 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => break Arc::new(other?),
        }
    };
    if engine.topic("t").is_err() {
        engine.create_topic("t", 1, Some(config))?;
    }
    let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let mut handles = Vec::new();
    for _ in 0..threads {
        let engine = engine.clone();
        let out = out.clone();
        handles.push(std::thread::spawn(move || -> Result<(), String> {
            let mut buf = Vec::new();
            loop {
                // The value names the record's own offset once the batch
                // lands, so the parent can check content, not just counts.
                // With several threads the offset is not known before the
                // append, so values carry a fixed pattern instead.
                let values: Vec<Vec<u8>> = (0..per_batch)
                    .map(|i| format!("value-{i}").into_bytes())
                    .collect();
                let records: Vec<Record<'_>> = values
                    .iter()
                    .map(|v| Record {
                        timestamp_ms: 1_700_000_000_000,
                        key: None,
                        value: Some(v),
                        headers: &[],
                    })
                    .collect();
                encode_batch(&records, ProducerFields::default(), &mut buf)
                    .map_err(|e| e.to_string())?;
                let o = engine
                    .append_blocking("t", 0, &buf)
                    .map_err(|e| e.to_string())?;
                let mut w = out.lock().map_err(|e| e.to_string())?;
                writeln!(w, "ack {} {}", o.base_offset, o.last_offset)
                    .map_err(|e| e.to_string())?;
                w.flush().map_err(|e| e.to_string())?;
            }
        }));
    }
    for h in handles {
        h.join().map_err(|_| "thread panicked")??;
    }
    Ok(())
}
