//! Data safety: open never deletes what ferrolog did not create, a failed
//! open changes nothing, damage is set aside and reported, files at rest are
//! exactly Kafka's, reserved names are refused, and a read-only open writes
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use ferrolog_engine::batch::BatchHeader;
use ferrolog_engine::recovery::RecoveryAction;
use ferrolog_engine::{Engine, EngineOptions, Error, TopicConfig};
use proptest::prelude::*;

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn config() -> TopicConfig {
    small_config()
}

/// A directory with topic `t` (1 partition, several segments) holding
/// `RECORDS` records, closed cleanly.
const RECORDS: u64 = 400;
fn build(dir: &Path) {
    let e = open(dir);
    e.create_topic("t", 1, Some(config())).unwrap();
    for o in 0..RECORDS / 4 {
        let values: Vec<Vec<u8>> = (0..4).map(|i| value_for(o * 4 + i, 40)).collect();
        e.append("t", 0, &batch_of(&values, 1_000 + o as i64))
            .unwrap();
    }
    e.close().unwrap();
}

fn logs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    v.sort();
    v
}

fn values(e: &Engine, topic: &str) -> Vec<(u64, Vec<u8>)> {
    let start = e.partition(topic, 0).unwrap().watermarks().log_start_offset;
    read_all(e, topic, 0, start)
}

#[test]
fn partition_dirs_without_metadata_are_adopted_not_deleted() {
    let src = tempfile::tempdir().unwrap();
    build(src.path());
    let expected = values(&open(src.path()), "t");
    // Only the partition directory, as one copied from a Kafka broker.
    let dst = tempfile::tempdir().unwrap();
    let pdir = dst.path().join("orders-0");
    std::fs::create_dir(&pdir).unwrap();
    for f in std::fs::read_dir(src.path().join("t-0")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, pdir.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        pdir.join("partition.metadata"),
        b"version: 0\ntopic_id: x\n",
    )
    .unwrap();
    let before = snapshot(&pdir);
    let e = open(dst.path());
    let reports = e.recovery_reports();
    assert!(
        reports
            .iter()
            .any(|r| r.action == RecoveryAction::Adopted && r.topic == "orders"),
        "{reports:?}"
    );
    assert_eq!(values(&e, "orders"), expected);
    let cfg = e.topic("orders").unwrap().config();
    assert_eq!(
        (cfg.retention_ms, cfg.retention_bytes),
        (-1, -1),
        "no retention on adopted data"
    );
    e.close().unwrap();
    let after = snapshot(&pdir);
    for (name, bytes) in &before {
        assert!(
            after.get(name) == Some(bytes),
            "{name:?} changed or vanished: {} -> {:?} bytes",
            bytes.len(),
            after.get(name).map(Vec::len)
        );
    }
}

#[test]
fn foreign_folders_survive_open_create_and_close() {
    let dir = tempfile::tempdir().unwrap();
    for (d, f) in [
        ("photos-2023", "a.jpg"),
        ("backup-1", "db.sql"),
        ("notes", "x.txt"),
    ] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
        std::fs::write(dir.path().join(d).join(f), b"mine").unwrap();
    }
    std::fs::write(dir.path().join("readme-7"), b"a file, not a folder").unwrap();
    let before = snapshot(dir.path());
    let e = open(dir.path());
    let ignored: Vec<_> = e
        .recovery_reports()
        .into_iter()
        .filter(|r| r.action == RecoveryAction::Ignored)
        .collect();
    assert_eq!(ignored.len(), 2, "{ignored:?}");
    e.create_topic("photos", 1, None).unwrap();
    e.create_topic("backup", 1, None).unwrap();
    // `backup-1` holds someone's files: growing into it is refused.
    assert!(matches!(
        e.create_partitions("backup", 2),
        Err(Error::TopicExists(m)) if m.contains("backup-1")
    ));
    e.delete_topic("photos").unwrap();
    e.close().unwrap();
    let e = open(dir.path());
    e.close().unwrap();
    let after = snapshot(dir.path());
    for (name, bytes) in &before {
        assert!(
            after.get(name) == Some(bytes),
            "{name:?} changed or vanished: {} -> {:?} bytes",
            bytes.len(),
            after.get(name).map(Vec::len)
        );
    }
}

#[test]
fn create_topic_refuses_a_partition_dir_that_holds_data() {
    let src = tempfile::tempdir().unwrap();
    build(src.path());
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    // Data appears after open (copied in by hand while running).
    let pdir = dir.path().join("late-0");
    std::fs::create_dir(&pdir).unwrap();
    for f in std::fs::read_dir(src.path().join("t-0")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, pdir.join(f.file_name().unwrap())).unwrap();
    }
    let before = snapshot(&pdir);
    match e.create_topic("late", 1, None) {
        Err(Error::TopicExists(m)) => assert!(m.contains("late-0"), "{m}"),
        other => panic!("expected TopicExists, got {other:?}"),
    }
    assert!(e.topic("late").is_err());
    assert_eq!(snapshot(&pdir), before);
}

#[test]
fn a_failed_open_changes_nothing_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let e = open(dir.path());
        assert_eq!(e.delete_records("t", 0, 5).unwrap(), 5);
        e.create_topic("a", 1, None).unwrap();
        e.close().unwrap();
    }
    std::fs::write(dir.path().join(".meta/topics/a.json"), b"{ broken").unwrap();
    // Unclean too, so a guessing open would also rewrite the recovery point.
    std::fs::remove_file(dir.path().join(ferrolog_engine::CLEAN_SHUTDOWN_FILE)).unwrap();
    let mut before = snapshot(dir.path());
    before.remove(Path::new(".lock"));
    match Engine::open(dir.path(), EngineOptions::default()) {
        Err(Error::Corrupt { path, reason, .. }) => {
            assert!(path.ends_with("a.json"));
            assert!(reason.contains("nothing was changed"), "{reason}");
        }
        other => panic!("expected a corrupt-metadata error, got {:?}", other.err()),
    }
    let mut after = snapshot(dir.path());
    after.remove(Path::new(".lock"));
    assert_eq!(after, before, "a failed open wrote something");
    // Repaired by hand, the directory opens with the deleted records
    // still deleted and the stop still treated as unclean.
    std::fs::remove_file(dir.path().join(".meta/topics/a.json")).unwrap();
    let e = open(dir.path());
    assert_eq!(
        e.partition("t", 0).unwrap().watermarks().log_start_offset,
        5
    );
}

#[test]
fn a_lost_metadata_file_adopts_the_partitions_instead_of_deleting_them() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let expected = values(&open(dir.path()), "t");
    std::fs::remove_file(dir.path().join(".meta/topics/t.json")).unwrap();
    let e = open(dir.path());
    assert_eq!(values(&e, "t"), expected);
    assert!(e
        .recovery_reports()
        .iter()
        .any(|r| r.action == RecoveryAction::Adopted));
}

#[test]
fn a_stray_empty_segment_is_set_aside_and_the_log_kept() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let expected = values(&open(dir.path()), "t");
    let pdir = dir.path().join("t-0");
    assert!(logs(&pdir).len() >= 4);
    let stray = pdir.join("00000000000000000005.log");
    std::fs::write(&stray, b"").unwrap();
    for clean in [true, false] {
        if !clean {
            std::fs::write(&stray, b"").unwrap();
            let _ = std::fs::remove_file(dir.path().join(ferrolog_engine::CLEAN_SHUTDOWN_FILE));
        }
        let e = open(dir.path());
        assert_eq!(values(&e, "t"), expected, "clean {clean}");
        let r = e.recovery_reports();
        let q: Vec<_> = r
            .iter()
            .filter(|r| r.action == RecoveryAction::Quarantined)
            .collect();
        assert_eq!(q.len(), 1, "{r:?}");
        assert!(q[0].moved_to.as_ref().unwrap().exists());
        assert!(!stray.exists());
    }
}

#[test]
fn a_renamed_first_segment_is_set_aside_whole_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let expected = values(&open(dir.path()), "t");
    let pdir = dir.path().join("t-0");
    let all = logs(&pdir);
    let first = std::fs::read(&all[0]).unwrap();
    std::fs::rename(&all[0], pdir.join("00000000000000000001.log")).unwrap();
    let _ = std::fs::remove_file(dir.path().join(ferrolog_engine::CLEAN_SHUTDOWN_FILE));
    let e = open(dir.path());
    let r = e.recovery_reports();
    let q: Vec<_> = r
        .iter()
        .filter(|r| r.action == RecoveryAction::Quarantined)
        .collect();
    assert_eq!(q.len(), 1, "{r:?}");
    assert_eq!(
        std::fs::read(q[0].moved_to.as_ref().unwrap()).unwrap(),
        first
    );
    // Everything after the first segment is still the log.
    let second_base = BatchHeader::parse(&std::fs::read(&all[1]).unwrap())
        .unwrap()
        .base_offset as u64;
    let w = e.partition("t", 0).unwrap().watermarks();
    assert_eq!(
        (w.log_start_offset, w.high_watermark),
        (second_base, RECORDS)
    );
    let tail: Vec<_> = expected
        .into_iter()
        .filter(|(o, _)| *o >= second_base)
        .collect();
    assert_eq!(values(&e, "t"), tail);
}

#[test]
fn a_flipped_or_garbage_log_start_checkpoint_does_not_resurrect_deleted_records() {
    for damage in ["flip", "garbage", "missing"] {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        {
            let e = open(dir.path());
            e.delete_records("t", 0, 50).unwrap();
            e.close().unwrap();
        }
        let cp = dir.path().join("log-start-offset-checkpoint");
        match damage {
            "flip" => {
                let text = std::fs::read_to_string(&cp).unwrap();
                std::fs::write(&cp, text.replace("t 0 50", "t 0 10")).unwrap();
            }
            "garbage" => std::fs::write(&cp, b"junk\n\x00\x01").unwrap(),
            _ => std::fs::remove_file(&cp).unwrap(),
        }
        let e = open(dir.path());
        let w = e.partition("t", 0).unwrap().watermarks();
        assert_eq!(w.log_start_offset, 50, "{damage}");
        assert!(
            e.recovery_reports()
                .iter()
                .any(|r| r.action == RecoveryAction::Corrected),
            "{damage}: the disagreement is reported"
        );
        assert_eq!(values(&e, "t").first().map(|v| v.0), Some(50));
    }
}

#[test]
fn a_log_start_past_the_high_watermark_is_corrected_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    for file in [
        dir.path().join("log-start-offset-checkpoint"),
        dir.path().join(".meta/log-start-offset-checkpoint"),
    ] {
        let _ = std::fs::remove_file(file);
    }
    std::fs::write(
        dir.path().join("log-start-offset-checkpoint"),
        b"0\n1\nt 0 999999\n",
    )
    .unwrap();
    let e = open(dir.path());
    let w = e.partition("t", 0).unwrap().watermarks();
    // Nothing is hidden: the log starts at its first segment.
    assert_eq!((w.log_start_offset, w.high_watermark), (0, RECORDS));
    let r = e.recovery_reports();
    assert!(
        r.iter()
            .any(|r| r.action == RecoveryAction::Corrected && r.offset == 0),
        "{r:?}"
    );
    assert_eq!(values(&e, "t").len() as u64, RECORDS);
    // And retention deletes nothing because of it.
    assert_eq!(e.enforce_retention().unwrap(), 0);
}

#[test]
fn reserved_and_colliding_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    for name in [
        "__consumer_offsets",
        "__transaction_state",
        ".meta",
        ".lock",
        ".quarantine",
        "recovery-point-offset-checkpoint",
        "log-start-offset-checkpoint",
    ] {
        assert!(
            matches!(
                e.create_topic(name, 1, None),
                Err(Error::InvalidArgument(_))
            ),
            "{name} was accepted"
        );
    }
    e.create_topic("a.b", 1, None).unwrap();
    assert!(
        matches!(e.create_topic("a_b", 1, None), Err(Error::InvalidArgument(m)) if m.contains("a.b"))
    );
    assert!(matches!(
        e.create_topic("t", 0, None),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        e.create_topic("t", 10_001, None),
        Err(Error::InvalidArgument(_))
    ));
    // The internal topic exists only through the internal path.
    e.create_internal_topic("__consumer_offsets", 1, None)
        .unwrap();
    let b = batch_of(&[b"x".to_vec()], 1);
    assert!(matches!(
        e.append("__consumer_offsets", 0, &b),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        e.append_blocking("__consumer_offsets", 0, &b),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        e.delete_topic("__consumer_offsets"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        e.delete_records("__consumer_offsets", 0, 0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        e.set_topic_config("__consumer_offsets", TopicConfig::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(
        e.append_internal("__consumer_offsets", 0, &b)
            .unwrap()
            .base_offset,
        0
    );
    assert!(e.append_internal("a.b", 0, &b).is_err());
}

#[test]
fn files_at_rest_are_exactly_kafkas() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 1, Some(config())).unwrap();
    // One small segment under index.interval.bytes: Kafka leaves its .index empty.
    e.create_topic("small", 1, None).unwrap();
    for o in 0..RECORDS / 4 {
        let values: Vec<Vec<u8>> = (0..4).map(|i| value_for(o * 4 + i, 40)).collect();
        e.append("t", 0, &batch_of(&values, 1_000 + o as i64))
            .unwrap();
    }
    e.append("small", 0, &batch_of(&[b"one".to_vec()], 7))
        .unwrap();
    e.append("small", 0, &batch_of(&[b"two".to_vec()], 9))
        .unwrap();
    e.close().unwrap();
    for topic in ["t-0", "small-0"] {
        for log in logs(&dir.path().join(topic)) {
            let bytes = std::fs::read(&log).unwrap();
            let mut pos = 0;
            while pos < bytes.len() {
                let h = BatchHeader::parse(&bytes[pos..]).unwrap();
                pos += h.size_bytes;
            }
            assert_eq!(pos, bytes.len(), "{log:?} is exactly its batches");
        }
    }
    let small = dir.path().join("small-0/00000000000000000000");
    assert_eq!(
        std::fs::metadata(small.with_extension("index"))
            .unwrap()
            .len(),
        0
    );
    // The final time-index entry: the largest timestamp (9) at the last offset (1).
    let ti = std::fs::read(small.with_extension("timeindex")).unwrap();
    assert_eq!(ti.len(), 12);
    assert_eq!(i64::from_be_bytes(ti[..8].try_into().unwrap()), 9);
    assert_eq!(u32::from_be_bytes(ti[8..].try_into().unwrap()), 1);
    // Reopened (clean and unclean), nothing changes and everything reads.
    let before = snapshot(&dir.path().join("t-0"));
    let e = open(dir.path());
    assert_eq!(values(&e, "t").len() as u64, RECORDS);
    e.close().unwrap();
    let after = snapshot(&dir.path().join("t-0"));
    for (name, bytes) in &before {
        assert!(
            after.get(name) == Some(bytes),
            "{name:?} changed on reopen: {} -> {:?} bytes",
            bytes.len(),
            after.get(name).map(Vec::len)
        );
    }
}

#[test]
fn a_view_held_across_close_and_trim_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 1, None).unwrap();
    e.append("t", 0, &batch_of(&[b"kept".to_vec()], 1)).unwrap();
    let r = e.read("t", 0, 0, 1 << 20).unwrap();
    let chunk = r.chunks[0].clone();
    let before = chunk.bytes().to_vec();
    // The whole map, as a JavaScript ArrayBuffer over it exposes it.
    let (ptr, len) = chunk.map.external_parts();
    assert!(
        len > before.len(),
        "the map reaches into the preallocated tail"
    );
    e.close().unwrap();
    let log = dir.path().join("t-0/00000000000000000000.log");
    assert_eq!(std::fs::metadata(&log).unwrap().len(), before.len() as u64);
    assert_eq!(chunk.bytes(), &before[..]);
    // SAFETY: the test touches every byte a JavaScript view could; the trim
    // must have made the part past the file's end anonymous zero pages.
    let all = unsafe { std::slice::from_raw_parts(ptr, len) };
    assert_eq!(&all[..before.len()], &before[..]);
    assert!(all[before.len()..].iter().all(|b| *b == 0));
    // Reopening in this process while the view lives trims nothing more
    // and needs no FALLOC_FL_ZERO_RANGE (tmpfs has none).
    let e = open(dir.path());
    assert_eq!(read_all(&e, "t", 0, 0).len(), 1);
    assert_eq!(chunk.bytes(), &before[..]);
}

#[test]
fn an_interrupted_deletion_is_finished_by_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    std::fs::write(dir.path().join("t-0/partition.metadata"), b"kafka's").unwrap();
    // A crash right after deletion started: the metadata is marked.
    std::fs::rename(
        dir.path().join(".meta/topics/t.json"),
        dir.path().join(".meta/topics/t.json.deleting"),
    )
    .unwrap();
    let e = open(dir.path());
    assert!(e.topic("t").is_err());
    assert!(logs(&dir.path().join("t-0")).is_empty());
    // Only segment files went: the rest stays, and is not adopted.
    assert!(dir.path().join("t-0/partition.metadata").exists());
    assert!(!dir.path().join(".meta/topics/t.json.deleting").exists());
}

#[test]
fn read_only_open_takes_no_lock_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let expected = values(&open(dir.path()), "t");
    // A writer holds the directory (lock taken) while it is read.
    let writer = open(dir.path());
    std::fs::remove_file(dir.path().join("t-0/00000000000000000000.index")).unwrap();
    let before = snapshot(dir.path());
    let ro = Engine::open(
        dir.path(),
        EngineOptions {
            read_only: true,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    assert!(ro.is_read_only());
    assert_eq!(values(&ro, "t"), expected);
    let b = batch_of(&[b"x".to_vec()], 1);
    assert!(matches!(ro.append("t", 0, &b), Err(Error::ReadOnly(_))));
    assert!(matches!(
        ro.create_topic("n", 1, None),
        Err(Error::ReadOnly(_))
    ));
    assert!(matches!(
        ro.delete_records("t", 0, 1),
        Err(Error::ReadOnly(_))
    ));
    ro.close().unwrap();
    drop(ro);
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a read-only open wrote something"
    );
    drop(writer);
}

#[derive(Debug, Clone)]
enum Foreign {
    File {
        name: String,
        bytes: Vec<u8>,
    },
    Dir {
        name: String,
        inner: String,
        bytes: Vec<u8>,
    },
}

fn foreign_strategy() -> impl Strategy<Value = Foreign> {
    let name = prop_oneof![
        "[a-z]{1,8}-[0-9]{1,4}",
        "[a-z]{1,8}",
        "t-[0-9]{1,2}",
        "[a-z]{1,4}\\.[a-z]{1,4}-[0-9]",
    ];
    prop_oneof![
        (name.clone(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(name, bytes)| Foreign::File { name, bytes }),
        (
            name,
            prop_oneof![
                "[a-z]{1,8}\\.[a-z]{1,3}",
                Just("00000000000000000000.log".to_string())
            ],
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(name, inner, bytes)| Foreign::Dir { name, inner, bytes }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Whatever else lies in a data directory, open, create, append and
    /// close change no byte of it and remove none of it.
    #[test]
    fn foreign_files_are_never_changed(foreign in proptest::collection::vec(foreign_strategy(), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        {
            let e = open(dir.path());
            e.create_topic("t", 2, Some(config())).unwrap();
            e.close().unwrap();
        }
        let mut theirs = Vec::new();
        for f in &foreign {
            match f {
                Foreign::File { name, bytes } => {
                    let p = dir.path().join(name);
                    if !p.exists() {
                        std::fs::write(&p, bytes).unwrap();
                        theirs.push(p);
                    }
                }
                Foreign::Dir { name, inner, bytes } => {
                    let d = dir.path().join(name);
                    if !d.exists() {
                        std::fs::create_dir(&d).unwrap();
                        std::fs::write(d.join(inner), bytes).unwrap();
                        theirs.push(d.join(inner));
                    }
                }
            }
        }
        let before: Vec<(PathBuf, Vec<u8>)> = theirs.iter().map(|p| (p.clone(), std::fs::read(p).unwrap())).collect();
        // Opening may fail (a foreign segment that is not one), but must
        // not change anything when it does, nor when it succeeds.
        if let Ok(e) = Engine::open(dir.path(), EngineOptions::default()) {
            let _ = e.create_topic("new", 1, None);
            let _ = e.append("t", 0, &batch_of(&[b"v".to_vec()], 1));
            e.close().unwrap();
        }
        for (p, bytes) in &before {
            prop_assert_eq!(&std::fs::read(p).unwrap(), bytes, "{:?}", p);
        }
    }
}

#[test]
fn a_read_only_reader_follows_a_live_writer_across_rolls_and_its_close() {
    let dir = tempfile::tempdir().unwrap();
    let writer = open(dir.path());
    writer.create_topic("t", 1, Some(config())).unwrap();
    writer
        .append("t", 0, &batch_of(&[value_for(0, 40)], 1))
        .unwrap();
    let ro = Engine::open(
        dir.path(),
        EngineOptions {
            read_only: true,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    assert_eq!(ro.partition("t", 0).unwrap().watermarks().high_watermark, 1);
    // A waiter resolves when the writer appends, through the poller.
    let (tx, rx) = std::sync::mpsc::channel();
    ro.partition("t", 0)
        .unwrap()
        .wait_for_data(
            1,
            Box::new(move |o| {
                let _ = tx.send(o);
            }),
        )
        .unwrap();
    // Enough records to roll the small segments several times.
    for o in 1..RECORDS {
        writer
            .append("t", 0, &batch_of(&[value_for(o, 40)], 1 + o as i64))
            .unwrap();
    }
    match rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap() {
        ferrolog_engine::DataOutcome::Data { high_watermark } => assert!(high_watermark > 1),
        other => panic!("{other:?}"),
    }
    assert!(logs(&dir.path().join("t-0")).len() > 3, "the writer rolled");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let seen = read_all(&ro, "t", 0, 0);
    assert_eq!(seen.len() as u64, RECORDS);
    for (o, v) in &seen {
        assert_eq!(v, &value_for(*o, 40));
    }
    // The writer closes (trimming its active segment) while views live.
    let r = ro.read("t", 0, RECORDS - 1, 1 << 20).unwrap();
    let chunk = r.chunks[0].clone();
    let (ptr, len) = chunk.map.external_parts();
    writer.close().unwrap();
    // SAFETY: every byte a JavaScript view over this map could touch.
    let all = unsafe { std::slice::from_raw_parts(ptr, len) };
    assert!(all.iter().any(|b| *b != 0));
    assert_eq!(read_all(&ro, "t", 0, 0).len() as u64, RECORDS);
}

#[test]
fn a_segment_truncated_by_another_program_is_an_error_not_a_sigbus() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 1, None).unwrap();
    for o in 0..100u64 {
        e.append("t", 0, &batch_of(&[value_for(o, 100)], 1))
            .unwrap();
    }
    assert_eq!(read_all(&e, "t", 0, 0).len(), 100);
    let log = dir.path().join("t-0/00000000000000000000.log");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(
        matches!(e.read("t", 0, 0, 1 << 20), Err(Error::Corrupt { reason, .. }) if reason.contains("shrank"))
    );
    assert!(matches!(
        e.append("t", 0, &batch_of(&[b"x".to_vec()], 1)),
        Err(Error::Corrupt { reason, .. }) if reason.contains("shrank")
    ));
}

/// `batch` with its records section compressed by `codec` (Kafka's layout:
/// the header stays, the records become one compressed block).
fn compressed(batch: &[u8], codec: ferrolog_engine::batch::Compression, id: u16) -> Vec<u8> {
    use ferrolog_engine::batch::{compute_crc, HEADER_BYTES};
    let block =
        ferrolog_engine::compression::compress(codec, &batch[HEADER_BYTES..], None).unwrap();
    let mut out = batch[..HEADER_BYTES].to_vec();
    out.extend_from_slice(&block);
    let len = (out.len() - 12) as i32;
    out[8..12].copy_from_slice(&len.to_be_bytes());
    out[21..23].copy_from_slice(&id.to_be_bytes());
    let crc = compute_crc(&out).unwrap();
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

#[test]
fn a_decompression_bomb_is_refused_after_bounded_work_and_writes_nothing() {
    use ferrolog_engine::batch::Compression;
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 1, None).unwrap();
    // 40 MiB of zeros in one record compress to a few KiB.
    let bomb = compressed(&batch_of(&[vec![0u8; 40 << 20]], 1), Compression::Zstd, 4);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    match e.append("t", 0, &bomb) {
        Err(Error::InvalidBatch(err)) => assert!(
            err.to_string().contains("32 times max.message.bytes"),
            "{err}"
        ),
        other => panic!(
            "expected the bomb refused, got {:?}",
            other.map(|o| o.base_offset)
        ),
    }
    // Within the bound, compressed batches are looked inside and taken.
    let fine = compressed(&batch_of(&[vec![7u8; 4 << 20]], 1), Compression::Zstd, 4);
    assert_eq!(e.append("t", 0, &fine).unwrap().base_offset, 0);
    // Too large on the wire is refused before any decompression.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let big: Vec<Vec<u8>> = (0..13)
        .map(|_| {
            (0..1 << 20)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect();
    let wire = compressed(&batch_of(&big, 1), Compression::Snappy, 2);
    assert!(wire.len() > 1 << 20);
    assert!(matches!(
        e.append("t", 0, &wire),
        Err(Error::MessageTooLarge { .. })
    ));
    assert_eq!(e.partition("t", 0).unwrap().watermarks().high_watermark, 1);
}

#[test]
fn a_lost_producer_id_reservation_never_hands_out_an_id_the_log_holds() {
    use ferrolog_engine::batch::{encode_batch, ProducerFields, Record};
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 1, None).unwrap();
    let id = e.allocate_producer_id().unwrap();
    let mut b = Vec::new();
    let value = b"old message".to_vec();
    let rec = [Record {
        timestamp_ms: 1,
        key: None,
        value: Some(&value),
        headers: &[],
    }];
    encode_batch(
        &rec,
        ProducerFields {
            producer_id: id,
            producer_epoch: 0,
            base_sequence: 0,
        },
        &mut b,
    )
    .unwrap();
    e.append("t", 0, &b).unwrap();
    e.close().unwrap();
    std::fs::remove_file(dir.path().join(".meta/producer-ids")).unwrap();
    let e = open(dir.path());
    let fresh = e.allocate_producer_id().unwrap();
    assert!(fresh > id, "id {fresh} was handed out again");
    // And garbage in the reservation is corruption, not an I/O error.
    e.close().unwrap();
    std::fs::write(dir.path().join(".meta/producer-ids"), [0xff, 0xfe]).unwrap();
    assert!(matches!(
        Engine::open(dir.path(), EngineOptions::default()),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn a_lost_offsets_topic_metadata_adopts_it_as_the_internal_topic() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path());
        e.create_internal_topic("__consumer_offsets", 1, None)
            .unwrap();
        e.append_internal("__consumer_offsets", 0, &batch_of(&[b"o".to_vec()], 1))
            .unwrap();
        e.close().unwrap();
    }
    std::fs::remove_file(dir.path().join(".meta/topics/__consumer_offsets.json")).unwrap();
    let e = open(dir.path());
    assert_eq!(
        e.partition("__consumer_offsets", 0)
            .unwrap()
            .watermarks()
            .high_watermark,
        1
    );
    let b = batch_of(&[b"x".to_vec()], 1);
    assert!(matches!(
        e.append("__consumer_offsets", 0, &b),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(
        e.append_internal("__consumer_offsets", 0, &b)
            .unwrap()
            .base_offset,
        1
    );
}
