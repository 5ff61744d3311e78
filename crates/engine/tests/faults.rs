//! Injected I/O faults through the storage seam: ENOSPC and EIO where real
//! disks produce them. The partition stays consistent and says what failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use ferrolog_engine::io::{FaultyStorage, EIO, ENOSPC};
use ferrolog_engine::{Error, FlushPolicy, TopicConfig};

#[test]
fn a_full_disk_fails_the_append_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FaultyStorage::new();
    let e = open_with(dir.path(), storage.clone());
    e.create_topic("t", 1, Some(small_config())).unwrap();
    e.append("t", 0, &batch_of(&[value_for(0, 100)], 1))
        .unwrap();
    storage.fail_allocate(u32::MAX, ENOSPC);
    // Fill until an append needs new space (a new chunk or a new segment).
    let mut failed = None;
    for i in 1..200u64 {
        match e.append("t", 0, &batch_of(&[value_for(i, 100)], 1)) {
            Ok(o) => assert_eq!(o.base_offset, i),
            Err(err) => {
                failed = Some((i, err));
                break;
            }
        }
    }
    let (at, err) = failed.expect("an allocation was needed");
    match &err {
        Error::Io { source, .. } => assert_eq!(source.raw_os_error(), Some(ENOSPC)),
        other => panic!("expected an I/O error, got {other}"),
    }
    assert!(err.to_string().contains("allocate"), "{err}");
    let p = e.partition("t", 0).unwrap();
    assert_eq!(
        p.watermarks().high_watermark,
        at,
        "nothing of the failed append is visible"
    );
    assert_eq!(read_all(&e, "t", 0, 0).len() as u64, at);
    storage.heal();
    let o = e
        .append("t", 0, &batch_of(&[value_for(at, 100)], 1))
        .unwrap();
    assert_eq!(o.base_offset, at, "the failed append left no gap");
    for (o, v) in read_all(&e, "t", 0, 0) {
        assert_eq!(v, value_for(o, 100));
    }
}

#[test]
fn a_failed_fsync_refuses_further_writes_until_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FaultyStorage::new();
    {
        let e = open_with(dir.path(), storage.clone());
        let c = TopicConfig {
            flush: FlushPolicy::Always,
            ..TopicConfig::default()
        };
        e.create_topic("t", 1, Some(c)).unwrap();
        e.append_blocking("t", 0, &batch_of(&[value_for(0, 10)], 1))
            .unwrap();
        storage.fail_sync(1, EIO);
        let err = e
            .append_blocking("t", 0, &batch_of(&[value_for(1, 10)], 1))
            .unwrap_err();
        assert!(matches!(err, Error::FsyncFailed { .. }), "{err}");
        // The flusher passes the partition's error on as it is, not wrapped in another.
        assert_eq!(
            err.to_string().matches("refuses writes").count(),
            1,
            "{err}"
        );
        storage.heal();
        // Healing the disk does not make a failed fsync retryable.
        let err = e
            .append("t", 0, &batch_of(&[value_for(2, 10)], 1))
            .unwrap_err();
        assert!(matches!(err, Error::FsyncFailed { .. }), "{err}");
        assert!(err.to_string().contains("refuses writes"));
        // Reads still work; the durable offset stayed where it was.
        let w = e.partition("t", 0).unwrap().watermarks();
        assert_eq!(w.durable_offset, 1);
        assert_eq!(read_all(&e, "t", 0, 0).len(), 2);
        assert!(e.close().is_err(), "close reports the poisoned partition");
    }
    assert!(!dir
        .path()
        .join(ferrolog_engine::CLEAN_SHUTDOWN_FILE)
        .exists());
    let e = open_with(dir.path(), Arc::new(ferrolog_engine::io::RealStorage));
    let o = e
        .append_blocking("t", 0, &batch_of(&[value_for(9, 10)], 1))
        .unwrap();
    assert!(o.base_offset >= 1);
}

#[test]
fn failed_index_and_metadata_writes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FaultyStorage::new();
    let e = open_with(dir.path(), storage.clone());
    storage.fail_sync(1, EIO);
    let err = e.create_topic("t", 1, None).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(
        e.topic("t").is_err(),
        "a topic whose metadata failed does not exist"
    );
    storage.heal();
    e.create_topic("t", 1, Some(small_config())).unwrap();
    for i in 0..50u64 {
        e.append("t", 0, &batch_of(&[value_for(i, 100)], 1))
            .unwrap();
    }
    storage.fail_write(u32::MAX, EIO);
    let err = e.close().unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    storage.heal();
    drop(e);
    // No clean marker: the next open rebuilds the indexes from the log.
    let e = open(dir.path());
    assert_eq!(read_all(&e, "t", 0, 0).len(), 50);
}
