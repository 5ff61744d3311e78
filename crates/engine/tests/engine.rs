//! Behaviour of the engine through its public API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferrolog_engine::batch::BatchHeader;
use ferrolog_engine::{Engine, EngineOptions, Error, FlushPolicy, TimestampType, TopicConfig};

#[test]
fn append_assigns_dense_offsets_and_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 2, Some(small_config())).unwrap();
    let mut next = 0;
    for i in 0..200u64 {
        let n = 1 + (i % 7) as usize;
        let values: Vec<Vec<u8>> = (0..n as u64).map(|k| value_for(next + k, 30)).collect();
        let o = e
            .append("t", 0, &batch_of(&values, 1000 + i as i64))
            .unwrap();
        assert_eq!(o.base_offset, next);
        assert_eq!(o.last_offset, next + n as u64 - 1);
        next += n as u64;
    }
    let w = e.partition("t", 0).unwrap().watermarks();
    assert_eq!(w.high_watermark, next);
    assert_eq!(w.log_start_offset, 0);
    let all = read_all(&e, "t", 0, 0);
    assert_eq!(all.len() as u64, next);
    for (o, v) in &all {
        assert_eq!(v, &value_for(*o, 30));
    }
    // Reading from every offset finds the batch that holds it, through the
    // sparse index, across many rolled segments.
    let p = e.partition("t", 0).unwrap();
    assert!(p.segments().len() > 3, "small segments rolled");
    assert!(p.segments().iter().any(|s| s.offset_index_entries > 0));
    for offset in 0..next {
        let r = e.read("t", 0, offset, 1).unwrap();
        let h = BatchHeader::parse(r.chunks[0].bytes()).unwrap();
        assert!(h.base_offset as u64 <= offset && offset <= h.last_offset() as u64);
    }
    // The other partition is untouched.
    assert_eq!(e.partition("t", 1).unwrap().watermarks().high_watermark, 0);
}

#[test]
fn read_returns_at_least_one_batch_and_respects_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 1, None).unwrap();
    let big = batch_of(&[vec![7u8; 5000]], 1);
    e.append("t", 0, &big).unwrap();
    e.append("t", 0, &big).unwrap();
    let r = e.read("t", 0, 0, 10).unwrap();
    assert_eq!(
        r.chunks[0].len as usize,
        big.len(),
        "one whole batch even past max_bytes"
    );
    assert_eq!(r.next_offset, 1);
    let r = e.read("t", 0, 0, 1 << 20).unwrap();
    assert_eq!(r.chunks[0].len as usize, 2 * big.len());
    assert_eq!(r.next_offset, 2);
    let r = e.read("t", 0, 2, 100).unwrap();
    assert!(
        r.chunks.is_empty(),
        "reading at the high watermark is empty"
    );
    assert!(matches!(
        e.read("t", 0, 3, 100),
        Err(Error::OffsetOutOfRange { .. })
    ));
}

#[test]
fn bad_batches_are_rejected_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut c = TopicConfig::default();
    c.set("max.message.bytes", "1000").unwrap();
    e.create_topic("t", 1, Some(c)).unwrap();
    let good = batch_of(&[b"a".to_vec()], 1);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short", good[..30].to_vec()),
        ("truncated", good[..good.len() - 1].to_vec()),
        ("trailing byte", [good.clone(), vec![0]].concat()),
        ("bad magic", {
            let mut b = good.clone();
            b[16] = 1;
            b
        }),
        ("bad crc", {
            let mut b = good.clone();
            let n = b.len();
            b[n - 1] ^= 0xff;
            b
        }),
        ("count mismatch", {
            let mut b = good.clone();
            b[60] = 2;
            b
        }),
        ("too large", batch_of(&[vec![0u8; 2000]], 1)),
    ];
    for (name, bytes) in cases {
        let err = e.append("t", 0, &bytes).expect_err(name);
        assert!(
            matches!(err, Error::InvalidBatch(_) | Error::MessageTooLarge { .. }),
            "{name}: {err}"
        );
    }
    assert_eq!(e.partition("t", 0).unwrap().watermarks().high_watermark, 0);
    assert_eq!(e.partition("t", 0).unwrap().size_bytes(), 0);
    e.append("t", 0, &good).unwrap();
    assert_eq!(read_all(&e, "t", 0, 0), vec![(0, b"a".to_vec())]);
}

#[test]
fn unknown_topics_names_and_partitions_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let b = batch_of(&[b"a".to_vec()], 1);
    assert!(matches!(
        e.append("nope", 0, &b),
        Err(Error::UnknownTopicOrPartition { .. })
    ));
    e.create_topic("t", 1, None).unwrap();
    assert!(matches!(
        e.append("t", 1, &b),
        Err(Error::UnknownTopicOrPartition { .. })
    ));
    assert!(matches!(
        e.create_topic("t", 1, None),
        Err(Error::TopicExists(_))
    ));
    for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(250)] {
        assert!(
            matches!(e.create_topic(bad, 1, None), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        e.create_topic("z", 0, None),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        e.delete_topic("nope"),
        Err(Error::UnknownTopicOrPartition { .. })
    ));
}

#[test]
fn clean_reopen_keeps_everything_and_resumes_offsets() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path());
        e.create_topic("t", 1, Some(small_config())).unwrap();
        for i in 0..100u64 {
            e.append("t", 0, &batch_of(&[value_for(i, 50)], 5)).unwrap();
        }
        e.close().unwrap();
    }
    assert!(dir
        .path()
        .join(ferrolog_engine::CLEAN_SHUTDOWN_FILE)
        .exists());
    let e = open(dir.path());
    assert!(
        !dir.path()
            .join(ferrolog_engine::CLEAN_SHUTDOWN_FILE)
            .exists(),
        "marker removed on open"
    );
    assert!(e.recovery_reports().is_empty());
    let o = e
        .append("t", 0, &batch_of(&[value_for(100, 50)], 5))
        .unwrap();
    assert_eq!(o.base_offset, 100);
    let all = read_all(&e, "t", 0, 0);
    assert_eq!(all.len(), 101);
    for (o, v) in all {
        assert_eq!(v, value_for(o, 50));
    }
    // Closed segments were trimmed to their batches: no preallocated tail.
    let p = e.partition("t", 0).unwrap();
    let segs = p.segments();
    for s in &segs[..segs.len() - 1] {
        assert_eq!(std::fs::metadata(&s.path).unwrap().len(), s.size_bytes);
    }
}

#[test]
fn a_second_open_of_a_locked_directory_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let _e = open(dir.path());
    match Engine::open(dir.path(), EngineOptions::default()) {
        Err(Error::Locked { holder, .. }) => {
            assert!(holder.contains(&std::process::id().to_string()))
        }
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("expected Locked, got an engine"),
    }
}

#[test]
fn retention_by_size_and_time_deletes_closed_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut c = small_config();
    c.retention_bytes = 8192;
    e.create_topic("t", 1, Some(c.clone())).unwrap();
    for i in 0..300u64 {
        e.append("t", 0, &batch_of(&[value_for(i, 60)], 1)).unwrap();
    }
    let p = e.partition("t", 0).unwrap();
    e.enforce_retention().unwrap();
    let total = p.size_bytes();
    let segs = p.segments();
    assert!(
        total - segs[0].size_bytes < 8192,
        "deleted down to the limit"
    );
    assert!(total >= 4096);
    let w = p.watermarks();
    assert_eq!(w.log_start_offset, segs[0].base_offset);
    assert!(w.log_start_offset > 0);
    assert!(matches!(
        e.read("t", 0, 0, 100),
        Err(Error::OffsetOutOfRange { .. })
    ));
    assert_eq!(
        read_all(&e, "t", 0, w.log_start_offset).len() as u64,
        w.high_watermark - w.log_start_offset
    );

    // Time: everything is stamped 1 ms after the epoch, so all but the active segment go.
    c.retention_bytes = -1;
    c.retention_ms = 1000;
    e.set_topic_config("t", c).unwrap();
    e.enforce_retention().unwrap();
    assert_eq!(p.segments().len(), 1, "the active segment is never deleted");
}

#[test]
fn delete_records_advances_log_start_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path());
        e.create_topic("t", 1, Some(small_config())).unwrap();
        for i in 0..200u64 {
            e.append("t", 0, &batch_of(&[value_for(i, 60)], 1)).unwrap();
        }
        assert_eq!(e.delete_records("t", 0, 150).unwrap(), 150);
        assert!(matches!(
            e.delete_records("t", 0, 201),
            Err(Error::OffsetOutOfRange { .. })
        ));
        let p = e.partition("t", 0).unwrap();
        assert!(p.segments()[0].base_offset <= 150);
        assert!(p.segments()[0].next_offset > 150);
        // Reading the log start returns the batch holding it.
        assert!(!e.read("t", 0, 150, 10).unwrap().chunks.is_empty());
        assert!(matches!(
            e.read("t", 0, 149, 10),
            Err(Error::OffsetOutOfRange { .. })
        ));
    }
    // Dropped without close: the checkpoint written by delete_records holds.
    let e = open(dir.path());
    assert_eq!(
        e.partition("t", 0).unwrap().watermarks().log_start_offset,
        150
    );
}

#[test]
fn views_outlive_close_retention_and_topic_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 1, Some(small_config())).unwrap();
    for i in 0..100u64 {
        e.append("t", 0, &batch_of(&[value_for(i, 60)], 1)).unwrap();
    }
    let first = e.read("t", 0, 0, 1 << 20).unwrap();
    let copy = first.chunks[0].bytes().to_vec();
    e.delete_records("t", 0, 90).unwrap();
    assert_eq!(
        first.chunks[0].bytes(),
        &copy[..],
        "deleted segment still readable through the view"
    );
    e.delete_topic("t").unwrap();
    assert_eq!(first.chunks[0].bytes(), &copy[..]);
    e.close().unwrap();
    assert_eq!(first.chunks[0].bytes(), &copy[..]);
}

#[test]
fn log_append_time_rewrites_the_header_and_crc() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let c = TopicConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..TopicConfig::default()
    };
    e.create_topic("t", 1, Some(c)).unwrap();
    let before = ferrolog_engine::now_ms();
    let o = e.append("t", 0, &batch_of(&[b"x".to_vec()], 5)).unwrap();
    assert!(o.log_append_time_ms >= before);
    let r = e.read("t", 0, 0, 1000).unwrap();
    let bytes = r.chunks[0].bytes();
    let (h, _) = ferrolog_engine::batch::validate_incoming(bytes).unwrap();
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, o.log_append_time_ms);
}

#[test]
fn wrong_max_timestamp_is_corrected_as_kafka_does() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 1, None).unwrap();
    let mut b = batch_of(&[b"x".to_vec(), b"y".to_vec()], 100);
    // Claim a later max timestamp than the records hold, and re-hash so the CRC is fine.
    let (header, records) = b.split_at_mut(ferrolog_engine::batch::HEADER_BYTES);
    ferrolog_engine::batch::set_header_max_timestamp(header, records, false, 900).unwrap();
    e.append("t", 0, &b).unwrap();
    let r = e.read("t", 0, 0, 1000).unwrap();
    let h = BatchHeader::parse(r.chunks[0].bytes()).unwrap();
    assert_eq!(h.max_timestamp, 100);
}

#[test]
fn offset_for_timestamp_uses_the_time_index() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 1, Some(small_config())).unwrap();
    for i in 0..300i64 {
        e.append(
            "t",
            0,
            &batch_of(
                &[value_for(i as u64, 40), value_for(i as u64, 40)],
                10_000 + i * 10,
            ),
        )
        .unwrap();
    }
    let p = e.partition("t", 0).unwrap();
    assert_eq!(p.offset_for_timestamp(0).unwrap(), Some(0));
    assert_eq!(
        p.offset_for_timestamp(10_000 + 150 * 10).unwrap(),
        Some(300)
    );
    assert_eq!(
        p.offset_for_timestamp(10_000 + 150 * 10 - 5).unwrap(),
        Some(300)
    );
    assert_eq!(p.offset_for_timestamp(99_999_999).unwrap(), None);
}

#[test]
fn flush_always_acknowledges_after_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let e = std::sync::Arc::new(open(dir.path()));
    let c = TopicConfig {
        flush: FlushPolicy::Always,
        ..TopicConfig::default()
    };
    e.create_topic("t", 1, Some(c)).unwrap();
    let mut handles = Vec::new();
    for t in 0..8u64 {
        let e = e.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..50u64 {
                let o = e
                    .append_blocking("t", 0, &batch_of(&[value_for(t * 1000 + i, 20)], 1))
                    .unwrap();
                let w = e.partition("t", 0).unwrap().watermarks();
                assert!(
                    w.durable_offset > o.last_offset,
                    "acknowledged only once durable"
                );
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        e.partition("t", 0).unwrap().watermarks().high_watermark,
        400
    );
}

#[test]
fn interval_flush_advances_the_durable_offset_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let c = TopicConfig {
        flush: FlushPolicy::Interval {
            interval_ms: 0,
            interval_messages: 10,
        },
        ..TopicConfig::default()
    };
    e.create_topic("t", 1, Some(c)).unwrap();
    for i in 0..10u64 {
        e.append("t", 0, &batch_of(&[value_for(i, 20)], 1)).unwrap();
    }
    let p = e.partition("t", 0).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while p.watermarks().durable_offset < 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "interval flush never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn waiters_fire_on_append_and_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    e.create_topic("t", 1, None).unwrap();
    let p = e.partition("t", 0).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    let id = p
        .wait_for_data(0, Box::new(move |o| tx.send(o).unwrap()))
        .unwrap();
    assert!(id.is_some());
    assert!(rx.try_recv().is_err());
    e.append("t", 0, &batch_of(&[b"x".to_vec()], 1)).unwrap();
    assert_eq!(
        rx.recv().unwrap(),
        ferrolog_engine::DataOutcome::Data { high_watermark: 1 }
    );
    let id = p
        .wait_for_data(5, Box::new(move |o| tx2.send(o).unwrap()))
        .unwrap()
        .unwrap();
    assert!(p.cancel_wait(id).is_some());
    assert!(p.cancel_wait(id).is_none());
    let (tx3, rx3) = std::sync::mpsc::channel();
    p.wait_for_data(5, Box::new(move |o| tx3.send(o).unwrap()))
        .unwrap();
    e.close().unwrap();
    assert_eq!(rx3.recv().unwrap(), ferrolog_engine::DataOutcome::Closed);
    assert!(rx.try_recv().is_err(), "a cancelled waiter is never called");
    assert!(matches!(
        e.append("t", 0, &batch_of(&[b"x".to_vec()], 1)),
        Err(Error::Closed)
    ));
}

#[test]
fn create_partitions_and_configs_persist() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path());
        e.create_topic("t", 2, Some(small_config())).unwrap();
        e.create_partitions("t", 5).unwrap();
        assert!(e.create_partitions("t", 3).is_err());
        e.append("t", 4, &batch_of(&[b"x".to_vec()], 1)).unwrap();
        e.close().unwrap();
    }
    let e = open(dir.path());
    let t = e.topic("t").unwrap();
    assert_eq!(t.partition_count(), 5);
    assert_eq!(t.config().segment_bytes, 4096);
    assert_eq!(e.partition("t", 4).unwrap().watermarks().high_watermark, 1);
    e.delete_topic("t").unwrap();
    assert!(!dir.path().join("t-0").exists());
    drop(e);
    let e = open(dir.path());
    assert!(e.topics().is_empty());
}

fn idempotent_batch(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Vec<u8> {
    use ferrolog_engine::batch::{encode_batch, ProducerFields, Record};
    let records: Vec<Record<'_>> = values
        .iter()
        .map(|v| Record {
            timestamp_ms: 1,
            key: None,
            value: Some(v.as_bytes()),
            headers: &[],
        })
        .collect();
    let mut out = Vec::new();
    encode_batch(
        &records,
        ProducerFields {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
        },
        &mut out,
    )
    .unwrap();
    out
}

#[test]
fn idempotent_producers_dedupe_retries_and_reject_gaps_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let pid;
    {
        let e = open(dir.path());
        e.create_topic("t", 1, None).unwrap();
        pid = e.allocate_producer_id().unwrap();
        assert_ne!(pid, e.allocate_producer_id().unwrap());
        let a = idempotent_batch(pid, 0, 0, &["a", "b"]);
        let first = e.append("t", 0, &a).unwrap();
        assert!(!first.duplicate);
        // A retried batch gets the original offsets and is not written twice.
        let retry = e.append("t", 0, &a).unwrap();
        assert!(retry.duplicate);
        assert_eq!((retry.base_offset, retry.last_offset), (0, 1));
        assert_eq!(e.partition("t", 0).unwrap().watermarks().high_watermark, 2);
        // A gap is rejected, typed, and writes nothing.
        let gap = e
            .append("t", 0, &idempotent_batch(pid, 0, 5, &["x"]))
            .unwrap_err();
        assert!(
            matches!(
                gap,
                Error::OutOfOrderSequence {
                    expected: 2,
                    got: 5,
                    ..
                }
            ),
            "{gap}"
        );
        e.append("t", 0, &idempotent_batch(pid, 0, 2, &["c"]))
            .unwrap();
        // A newer epoch fences the older one.
        e.append("t", 0, &idempotent_batch(pid, 1, 0, &["d"]))
            .unwrap();
        let fenced = e
            .append("t", 0, &idempotent_batch(pid, 0, 3, &["e"]))
            .unwrap_err();
        assert!(
            matches!(fenced, Error::InvalidProducerEpoch { .. }),
            "{fenced}"
        );
        assert_eq!(e.partition("t", 0).unwrap().watermarks().high_watermark, 4);
    }
    // The state is rebuilt on open: the retry is still a duplicate.
    let e = open(dir.path());
    let again = e
        .append("t", 0, &idempotent_batch(pid, 1, 0, &["d"]))
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.base_offset, 3);
    assert!(
        e.allocate_producer_id().unwrap() > pid + 1,
        "ids are not reused after a restart"
    );
}

/// A log holding producer id i64::MAX (damaged or hostile data): the open
/// must not overflow computing the next id, and allocation must refuse with
/// a typed error rather than hand out an id the log already holds state for.
#[test]
fn a_log_holding_the_largest_producer_id_opens_and_allocation_refuses_to_reuse_ids() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path());
        e.create_topic("t", 1, None).unwrap();
        e.append("t", 0, &idempotent_batch(i64::MAX, 0, 0, &["x"]))
            .unwrap();
    }
    let e = open(dir.path());
    // The producer's state survived the open: its retry is a duplicate.
    let retry = e
        .append("t", 0, &idempotent_batch(i64::MAX, 0, 0, &["x"]))
        .unwrap();
    assert!(retry.duplicate);
    for _ in 0..2 {
        let refused = e.allocate_producer_id().unwrap_err();
        assert!(
            matches!(&refused, Error::InvalidArgument(m) if m.contains("no producer id is left")),
            "{refused}"
        );
    }
    // Refusing wrote nothing and broke nothing: the log still takes writes.
    assert_eq!(
        e.append("t", 0, &batch_of(&[b"y".to_vec()], 2))
            .unwrap()
            .base_offset,
        1
    );
}

/// Just below the maximum: no id at or below the log's is handed out, none
/// twice, and allocation ends in a typed error instead of wrapping around
/// (a reservation block no longer fits below i64::MAX).
#[test]
fn producer_ids_near_the_maximum_run_out_with_a_typed_error_not_a_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let near = i64::MAX - 3;
    {
        let e = open(dir.path());
        e.create_topic("t", 1, None).unwrap();
        e.append("t", 0, &idempotent_batch(near, 0, 0, &["x"]))
            .unwrap();
    }
    let e = open(dir.path());
    let mut handed_out = Vec::new();
    let refused = loop {
        match e.allocate_producer_id() {
            Ok(id) => {
                assert!(id > near, "{id} is not above the log's {near}");
                assert!(!handed_out.contains(&id), "{id} handed out twice");
                handed_out.push(id);
                assert!(handed_out.len() <= 3, "more ids than exist: {handed_out:?}");
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(refused, Error::InvalidArgument(_)), "{refused}");
}
