//! Corruption tests: flipped bytes, truncation and appended garbage in
//! `.log`, `.index` and `.timeindex`. Opening must repair (truncate at the
//! first bad batch, rebuild indexes) or fail with a typed error; reads must
//! never return a batch whose CRC fails, nor wrong data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use ferrolog_engine::batch::{BatchHeader, RecordIter};
use ferrolog_engine::recovery::RecoveryAction;
use ferrolog_engine::{Engine, EngineOptions, Error, TopicConfig};
use proptest::prelude::*;

const RECORDS: u64 = 400;

fn build(dir: &Path) {
    let e = open(dir);
    e.create_topic("t", 1, Some(small_config())).unwrap();
    for i in 0..RECORDS / 2 {
        let vals = vec![value_for(2 * i, 40), value_for(2 * i + 1, 40)];
        e.append("t", 0, &batch_of(&vals, 1_000 + i as i64))
            .unwrap();
    }
    e.close().unwrap();
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("t-0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

/// Reads everything it can. Every record returned must be the original;
/// a read may stop with a typed Corrupt error, never with bad data.
fn check_reads(e: &Engine) -> u64 {
    let p = e.partition("t", 0).unwrap();
    let w = p.watermarks();
    let mut offset = w.log_start_offset;
    let mut seen = 0;
    while offset < w.high_watermark {
        let r = match e.read("t", 0, offset, 2048) {
            Ok(r) => r,
            Err(Error::Corrupt { .. }) => break,
            Err(other) => panic!("unexpected error {other}"),
        };
        let mut bytes = r.chunks[0].bytes();
        while !bytes.is_empty() {
            let h = BatchHeader::parse(bytes).unwrap();
            ferrolog_engine::batch::check_crc(&bytes[..h.size_bytes], &h)
                .expect("a returned batch has a valid CRC");
            for (i, rec) in RecordIter::new(&bytes[..h.size_bytes], &h).enumerate() {
                let o = h.base_offset as u64 + i as u64;
                assert_eq!(
                    rec.unwrap().value.unwrap(),
                    &value_for(o, 40)[..],
                    "offset {o}"
                );
                seen += 1;
            }
            bytes = &bytes[h.size_bytes..];
        }
        offset = r.next_offset;
    }
    // Every offset can still be looked up (or reports corruption).
    for o in w.log_start_offset..w.high_watermark {
        match e.read("t", 0, o, 1) {
            Ok(_) | Err(Error::Corrupt { .. }) => {}
            Err(other) => panic!("offset {o}: {other}"),
        }
    }
    seen
}

#[derive(Debug, Clone)]
enum Damage {
    Flip { file: usize, at: u64, bit: u8 },
    Truncate { file: usize, at: u64 },
    Garbage { file: usize, len: usize, byte: u8 },
}

fn apply(path: &Path, damage: &Damage) {
    let mut bytes = std::fs::read(path).unwrap();
    match *damage {
        Damage::Flip { at, bit, .. } => {
            if bytes.is_empty() {
                return;
            }
            let i = (at % bytes.len() as u64) as usize;
            bytes[i] ^= 1 << bit;
        }
        Damage::Truncate { at, .. } => {
            let n = (at % (bytes.len() as u64 + 1)) as usize;
            bytes.truncate(n);
        }
        Damage::Garbage { len, byte, .. } => bytes.extend(std::iter::repeat_n(byte, len)),
    }
    std::fs::write(path, bytes).unwrap();
}

fn damage_strategy() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0usize..8, any::<u64>(), 0u8..8).prop_map(|(file, at, bit)| Damage::Flip {
            file,
            at,
            bit
        }),
        (0usize..8, any::<u64>()).prop_map(|(file, at)| Damage::Truncate { file, at }),
        (0usize..8, 1usize..200, 1u8..=255).prop_map(|(file, len, byte)| Damage::Garbage {
            file,
            len,
            byte
        }),
    ]
}

fn damage_file(dir: &Path, ext: &str, damage: &Damage) {
    let fs = files(dir, ext);
    let i = match damage {
        Damage::Flip { file, .. }
        | Damage::Truncate { file, .. }
        | Damage::Garbage { file, .. } => *file,
    };
    apply(&fs[i % fs.len()], damage);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn damaged_log_is_repaired_or_reported(damage in damage_strategy(), shutdown in 0u8..3) {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        damage_file(dir.path(), "log", &damage);
        // 0: clean; 1: unclean, segments before the recovery point trusted;
        // 2: unclean with no recovery point, so every segment is scanned.
        let clean = shutdown == 0;
        let full_scan = shutdown == 2;
        if !clean {
            std::fs::remove_file(dir.path().join(ferrolog_engine::CLEAN_SHUTDOWN_FILE)).unwrap();
        }
        if full_scan {
            std::fs::remove_file(dir.path().join("recovery-point-offset-checkpoint")).unwrap();
            std::fs::remove_file(dir.path().join(".meta/recovery-point-offset-checkpoint")).unwrap();
        }
        match Engine::open(dir.path(), EngineOptions::default()) {
            Ok(e) => {
                let seen = check_reads(&e);
                let w = e.partition("t", 0).unwrap().watermarks();
                prop_assert!(w.high_watermark <= RECORDS);
                // After a full scan everything left was CRC-checked and is readable.
                if full_scan {
                    prop_assert_eq!(seen, w.high_watermark - w.log_start_offset);
                }
                // The repaired log takes new appends at its end.
                let o = e.append("t", 0, &batch_of(&[value_for(w.high_watermark, 40)], 5)).unwrap();
                prop_assert_eq!(o.base_offset, w.high_watermark);
            }
            Err(e) => prop_assert!(matches!(e, Error::Corrupt { .. }), "untyped failure: {e}"),
        }
    }

    #[test]
    fn damaged_indexes_are_rebuilt(damage in damage_strategy(), ext in prop_oneof![Just("index"), Just("timeindex")], clean in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        damage_file(dir.path(), ext, &damage);
        if !clean {
            std::fs::remove_file(dir.path().join(ferrolog_engine::CLEAN_SHUTDOWN_FILE)).unwrap();
        }
        let e = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        // Indexes are derived data: nothing is lost, every offset is found.
        let seen = check_reads(&e);
        prop_assert_eq!(seen, RECORDS);
        for o in (0..RECORDS).step_by(7) {
            let r = e.read("t", 0, o, 1).unwrap();
            let h = BatchHeader::parse(r.chunks[0].bytes()).unwrap();
            prop_assert!(h.base_offset as u64 <= o && o <= h.last_offset() as u64);
        }
        let p = e.partition("t", 0).unwrap();
        prop_assert_eq!(p.offset_for_timestamp(1_000 + 100).unwrap(), Some(200));
    }
}

#[test]
fn a_flipped_byte_in_an_old_segment_is_caught_on_read_after_a_clean_open() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let log = &files(dir.path(), "log")[0];
    let mut bytes = std::fs::read(log).unwrap();
    // Inside the value of the second batch: only the CRC can tell.
    let h = BatchHeader::parse(&bytes).unwrap();
    let at = h.size_bytes + 70;
    bytes[at] ^= 0x01;
    std::fs::write(log, bytes).unwrap();
    let e = open(dir.path());
    // The first batch is fine and is returned alone, the second is refused.
    let r = e.read("t", 0, 0, 1 << 20).unwrap();
    assert_eq!(r.chunks[0].len as usize, h.size_bytes);
    assert_eq!(r.next_offset, 2);
    assert!(matches!(
        e.read("t", 0, 2, 1 << 20),
        Err(Error::Corrupt { .. })
    ));
    assert!(!e.partition("t", 0).unwrap().verify().unwrap().is_empty());
    // The damage stays local: the batch after the bad one reads, checked.
    let r = e.read("t", 0, 4, 100).unwrap();
    let h4 = BatchHeader::parse(r.chunks[0].bytes()).unwrap();
    assert_eq!(h4.base_offset, 4);
}

#[test]
fn one_bad_batch_leaves_every_later_batch_of_its_segment_readable() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("big", 1, None).unwrap();
    // 5000 one-record batches in one segment, with index entries.
    for o in 0..5000u64 {
        e.append("big", 0, &batch_of(&[value_for(o, 60)], 1_000 + o as i64))
            .unwrap();
    }
    e.close().unwrap();
    let log = dir.path().join("big-0/00000000000000000000.log");
    let mut bytes = std::fs::read(&log).unwrap();
    // Find the batch holding offset 1000 and flip a byte of its value.
    let mut pos = 0;
    loop {
        let h = BatchHeader::parse(&bytes[pos..]).unwrap();
        if h.base_offset == 1000 {
            bytes[pos + h.size_bytes - 5] ^= 0x01;
            break;
        }
        pos += h.size_bytes;
    }
    std::fs::write(&log, &bytes).unwrap();
    let e = open(dir.path());
    let before = e.read("big", 0, 999, 1 << 20).unwrap();
    assert_eq!(
        before.next_offset, 1000,
        "the good batch before the damage reads"
    );
    match e.read("big", 0, 1000, 1 << 20) {
        Err(Error::Corrupt { reason, .. }) => {
            assert!(
                reason.contains(
                    "offsets 1000..1001 cannot be read; the next readable offset is 1001"
                ),
                "{reason}"
            );
        }
        other => panic!(
            "expected corruption, got {:?}",
            other.map(|r| r.next_offset)
        ),
    }
    for o in [1001u64, 1050, 2500, 4999] {
        let got = read_all(&e, "big", 0, o);
        assert_eq!(got.first(), Some(&(o, value_for(o, 60))), "read at {o}");
        assert_eq!(got.len() as u64, 5000 - o);
    }
    // A read that starts before the damage stops at it, with what is good.
    let r = e.read("big", 0, 990, 1 << 20).unwrap();
    assert_eq!(r.next_offset, 1000);
}

#[test]
fn unclean_open_truncates_at_the_first_bad_batch_and_sets_later_segments_aside() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let logs = files(dir.path(), "log");
    assert!(logs.len() >= 4);
    let mut bytes = std::fs::read(&logs[1]).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&logs[1], &bytes).unwrap();
    std::fs::remove_file(dir.path().join(ferrolog_engine::CLEAN_SHUTDOWN_FILE)).unwrap();
    std::fs::remove_file(dir.path().join("recovery-point-offset-checkpoint")).unwrap();
    std::fs::remove_file(dir.path().join(".meta/recovery-point-offset-checkpoint")).unwrap();
    let later: Vec<Vec<u8>> = logs[2..]
        .iter()
        .map(|l| std::fs::read(l).unwrap())
        .collect();
    let e = open(dir.path());
    let reports = e.recovery_reports();
    let truncated: Vec<_> = reports
        .iter()
        .filter(|r| r.action == RecoveryAction::Truncated)
        .collect();
    let quarantined: Vec<_> = reports
        .iter()
        .filter(|r| r.action == RecoveryAction::Quarantined)
        .collect();
    assert_eq!(truncated.len(), 1, "{reports:?}");
    assert_eq!(quarantined.len(), logs.len() - 2, "{reports:?}");
    assert_eq!(reports.len(), logs.len() - 1, "{reports:?}");
    // Nothing was deleted: the cut bytes and the later segments are in
    // the quarantine, byte for byte.
    let cut = std::fs::read(truncated[0].moved_to.as_ref().unwrap()).unwrap();
    assert!(bytes.ends_with(&cut) || bytes[..bytes.len()].windows(cut.len()).any(|w| w == cut));
    for (r, original) in quarantined.iter().zip(&later) {
        assert!(r.applied);
        assert_eq!(
            &std::fs::read(r.moved_to.as_ref().unwrap()).unwrap(),
            original
        );
    }
    let p = e.partition("t", 0).unwrap();
    assert_eq!(p.segments().len(), 2);
    let hw = p.watermarks().high_watermark;
    assert_eq!(check_reads(&e), hw);
    assert!(hw < RECORDS);
}

#[test]
fn a_changed_base_offset_in_a_sealed_segment_is_never_delivered_under_the_wrong_offset() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let config = TopicConfig {
        segment_bytes: 8192,
        index_interval_bytes: 128,
        retention_ms: -1,
        ..TopicConfig::default()
    };
    e.create_topic("t", 1, Some(config)).unwrap();
    for b in 0..200u64 {
        let values: Vec<Vec<u8>> = (0..3).map(|i| value_for(b * 3 + i, 20)).collect();
        e.append("t", 0, &batch_of(&values, 1)).unwrap();
    }
    e.close().unwrap();
    let logs = files(dir.path(), "log");
    assert!(logs.len() > 2);
    // Lower the base offset (outside the CRC) of the fifth batch of the
    // second segment by one.
    let mut bytes = std::fs::read(&logs[1]).unwrap();
    let mut pos = 0;
    for _ in 0..4 {
        pos += BatchHeader::parse(&bytes[pos..]).unwrap().size_bytes;
    }
    let base = BatchHeader::parse(&bytes[pos..]).unwrap().base_offset;
    bytes[pos..pos + 8].copy_from_slice(&(base - 1).to_be_bytes());
    std::fs::write(&logs[1], &bytes).unwrap();
    let e = open(dir.path());
    for o in 0..600u64 {
        match e.read("t", 0, o, 1 << 20) {
            Ok(r) => {
                // Whatever is delivered is what was written at that offset.
                let mut at = r.chunks[0].bytes();
                while !at.is_empty() {
                    let h = BatchHeader::parse(at).unwrap();
                    for (i, rec) in RecordIter::new(&at[..h.size_bytes], &h).enumerate() {
                        let off = h.base_offset as u64 + i as u64;
                        assert_eq!(
                            rec.unwrap().value.unwrap(),
                            &value_for(off, 20)[..],
                            "offset {off}"
                        );
                    }
                    at = &at[h.size_bytes..];
                }
            }
            // Only the changed batch's own offsets are unreadable.
            Err(Error::Corrupt { .. }) => {
                assert!(
                    (base as u64..base as u64 + 3).contains(&o),
                    "offset {o} failed"
                )
            }
            Err(other) => panic!("{other}"),
        }
    }
}
