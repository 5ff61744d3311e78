//! Helpers shared by the engine's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use ferrolog_engine::batch::{encode_batch, BatchHeader, ProducerFields, Record, RecordIter};
use ferrolog_engine::io::Storage;
use ferrolog_engine::{Engine, EngineOptions, FlushPolicy, TopicConfig};

/// A small-segment config so tests roll often.
pub fn small_config() -> TopicConfig {
    TopicConfig {
        segment_bytes: 4096,
        segment_preallocate_bytes: 4096,
        index_interval_bytes: 256,
        retention_ms: -1,
        flush: FlushPolicy::None,
        ..TopicConfig::default()
    }
}

pub fn open(dir: &Path) -> Engine {
    Engine::open(dir, EngineOptions::default()).expect("open engine")
}

pub fn open_with(dir: &Path, storage: Arc<dyn Storage>) -> Engine {
    Engine::open(
        dir,
        EngineOptions {
            storage,
            ..EngineOptions::default()
        },
    )
    .expect("open engine")
}

/// One batch of `values`, each record stamped `ts`.
pub fn batch_of(values: &[Vec<u8>], ts: i64) -> Vec<u8> {
    let records: Vec<Record<'_>> = values
        .iter()
        .map(|v| Record {
            timestamp_ms: ts,
            key: None,
            value: Some(v),
            headers: &[],
        })
        .collect();
    let mut out = Vec::new();
    encode_batch(&records, ProducerFields::default(), &mut out).expect("encode");
    out
}

pub fn value_for(offset: u64, len: usize) -> Vec<u8> {
    let mut v = format!("v{offset}-").into_bytes();
    v.resize(len.max(v.len()), b'x');
    v
}

/// Every (offset, value) from `from` to the high watermark, decoded from
/// the bytes the engine hands out.
pub fn read_all(engine: &Engine, topic: &str, partition: u32, from: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut offset = from;
    loop {
        let r = engine
            .read(topic, partition, offset, 64 * 1024)
            .expect("read");
        if r.chunks.is_empty() {
            break;
        }
        for chunk in &r.chunks {
            let mut bytes = chunk.bytes();
            while !bytes.is_empty() {
                let h = BatchHeader::parse(bytes).expect("header");
                ferrolog_engine::batch::check_crc(&bytes[..h.size_bytes], &h).expect("crc");
                for (i, rec) in RecordIter::new(&bytes[..h.size_bytes], &h).enumerate() {
                    let rec = rec.expect("record");
                    let o = h.base_offset as u64 + i as u64;
                    if o >= offset {
                        out.push((o, rec.value.unwrap_or(&[]).to_vec()));
                    }
                }
                bytes = &bytes[h.size_bytes..];
            }
        }
        assert!(r.next_offset > offset, "reads make progress");
        offset = r.next_offset;
    }
    out
}
