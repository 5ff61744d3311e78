//! A failed fsync reaches the caller as one FsyncFailed whose message says
//! so once: the flusher passes the partition's own error on instead of
//! wrapping it in another.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferrolog_engine::io::{FaultyStorage, EIO};
use ferrolog_engine::{Error, FlushPolicy, TopicConfig};

#[test]
fn a_failed_fsync_is_reported_once_not_wrapped_in_itself() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FaultyStorage::new();
    let e = open_with(dir.path(), storage.clone());
    let c = TopicConfig {
        flush: FlushPolicy::Always,
        ..TopicConfig::default()
    };
    e.create_topic("t", 1, Some(c)).unwrap();
    storage.fail_sync(1, EIO);
    // The flusher's path: append_blocking waits for the fsync.
    let first = e
        .append_blocking("t", 0, &batch_of(&[value_for(0, 10)], 1))
        .unwrap_err();
    // The poisoned partition's path, for comparison.
    let again = e
        .append("t", 0, &batch_of(&[value_for(1, 10)], 1))
        .unwrap_err();
    for err in [&first, &again] {
        assert!(matches!(err, Error::FsyncFailed { .. }), "{err}");
        let text = err.to_string();
        assert_eq!(text.matches("refuses writes").count(), 1, "{text}");
        assert_eq!(text.matches("an earlier fsync failed").count(), 1, "{text}");
    }
    storage.heal();
    let _ = e.close();
}
