//! Property test: random sequences of append, read, roll, retention,
//! deleteRecords, close and reopen agree with a simple in-memory model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferrolog_engine::batch::{BatchHeader, RecordIter};
use ferrolog_engine::{Engine, Error};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append { records: usize, value_len: usize },
    Read { at: u16, max_bytes: u16 },
    Roll,
    DeleteRecords { at: u16 },
    RetentionBytes { bytes: u16 },
    Reopen { clean: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..20, 0usize..150).prop_map(|(records, value_len)| Op::Append { records, value_len }),
        4 => (any::<u16>(), 1u16..5000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        1 => Just(Op::Roll),
        1 => any::<u16>().prop_map(|at| Op::DeleteRecords { at }),
        1 => (0u16..20000).prop_map(|bytes| Op::RetentionBytes { bytes }),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

struct Model {
    /// values[o] for every offset ever appended.
    values: Vec<Vec<u8>>,
    log_start: u64,
}

fn pick(at: u16, lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        lo
    } else {
        lo + u64::from(at) % (hi - lo + 1)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = Some(open(dir.path()));
        let mut config = small_config();
        engine.as_ref().unwrap().create_topic("t", 1, Some(config.clone())).unwrap();
        let mut m = Model { values: Vec::new(), log_start: 0 };
        for op in ops {
            let e: &Engine = engine.as_ref().unwrap();
            let p = e.partition("t", 0).unwrap();
            match op {
                Op::Append { records, value_len } => {
                    let base = m.values.len() as u64;
                    let vals: Vec<Vec<u8>> = (0..records as u64).map(|i| value_for(base + i, value_len)).collect();
                    let o = e.append("t", 0, &batch_of(&vals, 1_000 + base as i64)).unwrap();
                    prop_assert_eq!(o.base_offset, base);
                    m.values.extend(vals);
                }
                Op::Read { at, max_bytes } => {
                    let hw = m.values.len() as u64;
                    let offset = pick(at, m.log_start, hw);
                    let r = e.read("t", 0, offset, u64::from(max_bytes)).unwrap();
                    if offset == hw {
                        prop_assert!(r.chunks.is_empty());
                    } else {
                        let bytes = r.chunks[0].bytes();
                        let mut pos = 0;
                        let mut first = true;
                        let mut expect_next = None;
                        while pos < bytes.len() {
                            let h = BatchHeader::parse(&bytes[pos..]).unwrap();
                            if first {
                                prop_assert!(h.base_offset as u64 <= offset && offset <= h.last_offset() as u64);
                            } else {
                                // Beyond the first batch, max_bytes is respected.
                                prop_assert!((pos + h.size_bytes) as u64 <= u64::from(max_bytes));
                            }
                            if let Some(n) = expect_next { prop_assert_eq!(h.base_offset as u64, n); }
                            for (i, rec) in RecordIter::new(&bytes[pos..pos + h.size_bytes], &h).enumerate() {
                                let o = h.base_offset as usize + i;
                                prop_assert_eq!(rec.unwrap().value.unwrap(), &m.values[o][..]);
                            }
                            expect_next = Some(h.last_offset() as u64 + 1);
                            pos += h.size_bytes;
                            first = false;
                        }
                        prop_assert_eq!(r.next_offset, expect_next.unwrap());
                    }
                }
                Op::Roll => p.roll().unwrap(),
                Op::DeleteRecords { at } => {
                    let hw = m.values.len() as u64;
                    let offset = pick(at, 0, hw + 1);
                    match e.delete_records("t", 0, offset) {
                        Ok(start) => {
                            prop_assert!(offset <= hw);
                            m.log_start = m.log_start.max(offset);
                            prop_assert_eq!(start, m.log_start);
                        }
                        Err(Error::OffsetOutOfRange { .. }) => prop_assert!(offset > hw),
                        Err(other) => prop_assert!(false, "{}", other),
                    }
                }
                Op::RetentionBytes { bytes } => {
                    config.retention_bytes = i64::from(bytes);
                    e.set_topic_config("t", config.clone()).unwrap();
                    e.enforce_retention().unwrap();
                    let w = p.watermarks();
                    prop_assert!(w.log_start_offset >= m.log_start);
                    m.log_start = w.log_start_offset;
                    // Retention removes only whole segments, never the active one.
                    prop_assert!(p.segments().last().unwrap().next_offset == m.values.len() as u64);
                    config.retention_bytes = -1;
                    e.set_topic_config("t", config.clone()).unwrap();
                }
                Op::Reopen { clean } => {
                    let e = engine.take().unwrap();
                    e.close().unwrap();
                    drop(e);
                    if !clean {
                        std::fs::remove_file(dir.path().join(ferrolog_engine::CLEAN_SHUTDOWN_FILE)).unwrap();
                    }
                    engine = Some(open(dir.path()));
                    prop_assert!(engine.as_ref().unwrap().recovery_reports().is_empty());
                }
            }
            let e = engine.as_ref().unwrap();
            let w = e.partition("t", 0).unwrap().watermarks();
            prop_assert_eq!(w.high_watermark, m.values.len() as u64);
            prop_assert_eq!(w.log_start_offset, m.log_start);
        }
        // Finally everything from the log start reads back exactly.
        let e = engine.as_ref().unwrap();
        let all = read_all(e, "t", 0, m.log_start);
        prop_assert_eq!(all.len() as u64, m.values.len() as u64 - m.log_start);
        for (o, v) in all {
            prop_assert_eq!(&v, &m.values[o as usize]);
        }
    }
}
