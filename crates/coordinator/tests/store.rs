//! `__consumer_offsets` on the engine: Kafka's format on disk, replay on
//! open, compaction, and the migration of ferrolog's earlier JSON records
//! (the fixture directory was written by the TypeScript coordinator).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use ferrolog_coordinator::records::{OffsetCommitValue, RecordKey};
use ferrolog_coordinator::store::OFFSETS_TOPIC;
use ferrolog_coordinator::*;
use ferrolog_engine::batch::{BatchHeader, RecordIter};
use ferrolog_engine::{Engine, EngineOptions};

fn open(dir: &Path, config: Config) -> (Arc<Engine>, Coordinator, store::LoadReport) {
    let engine = Arc::new(Engine::open(dir, EngineOptions::default()).unwrap());
    let (c, report) =
        Coordinator::open(engine.clone(), config, Arc::new(SystemClock), false).unwrap();
    (engine, c, report)
}

fn config() -> Config {
    Config {
        min_session_timeout_ms: 10,
        initial_rebalance_delay_ms: 0,
        ..Config::default()
    }
}

fn close(engine: Arc<Engine>, c: Coordinator) {
    c.close();
    drop(c);
    engine.close().unwrap();
}

/// Every (key, value) of the offsets topic from its log start.
fn raw_records(engine: &Engine) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let p = engine.partition(OFFSETS_TOPIC, 0).unwrap();
    let w = p.watermarks();
    let mut out = Vec::new();
    let mut offset = w.log_start_offset;
    while offset < w.high_watermark {
        let r = p.read(offset, 1 << 20).unwrap();
        for chunk in &r.chunks {
            let mut bytes = chunk.bytes();
            while !bytes.is_empty() {
                let h = BatchHeader::parse(bytes).unwrap();
                for rec in RecordIter::new(&bytes[..h.size_bytes], &h) {
                    let rec = rec.unwrap();
                    if h.base_offset + i64::from(rec.offset_delta) >= offset as i64 {
                        out.push((rec.key.unwrap().to_vec(), rec.value.map(<[u8]>::to_vec)));
                    }
                }
                bytes = &bytes[h.size_bytes..];
            }
        }
        offset = r.next_offset;
    }
    out
}

fn join(c: &Coordinator, member: &str, instance: Option<&str>) -> JoinResponse {
    let (tx, rx) = mpsc::channel();
    c.join(
        JoinRequest {
            group_id: "g".into(),
            member_id: member.into(),
            group_instance_id: instance.map(String::from),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), vec![0, 0, 0, 0, 0, 0])],
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            require_known_member_id: false,
            in_process: false,
        },
        Box::new(move |r| tx.send(r).unwrap()),
    );
    rx.recv().unwrap()
}

fn sync(
    c: &Coordinator,
    member: &str,
    generation: i32,
    assignment: Vec<(String, Vec<u8>)>,
) -> SyncResponse {
    let (tx, rx) = mpsc::channel();
    c.sync(
        SyncRequest {
            group_id: "g".into(),
            generation_id: generation,
            member_id: member.into(),
            assignments: assignment,
            ..SyncRequest::default()
        },
        Box::new(move |r| tx.send(r).unwrap()),
    );
    rx.recv().unwrap()
}

fn commit(
    c: &Coordinator,
    group: &str,
    member: &str,
    generation: i32,
    partition: i32,
    offset: i64,
) {
    let r = c
        .commit(&CommitRequest {
            group_id: group.into(),
            generation_id: generation,
            member_id: member.into(),
            group_instance_id: None,
            offsets: vec![CommitOffset {
                topic: "t".into(),
                partition,
                offset,
                leader_epoch: 4,
                metadata: Some("meta".into()),
            }],
        })
        .unwrap();
    assert_eq!(r[0].error, ErrorCode::None);
}

#[test]
fn groups_offsets_and_members_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, c, _) = open(dir.path(), config());
    let a = join(&c, "", Some("static-a"));
    assert_eq!(a.error, ErrorCode::None);
    let s = sync(
        &c,
        &a.member_id,
        a.generation_id,
        vec![(a.member_id.clone(), vec![1, 2, 3])],
    );
    assert_eq!(s.error, ErrorCode::None);
    commit(&c, "g", &a.member_id, a.generation_id, 0, 41);
    commit(&c, "g", &a.member_id, a.generation_id, 0, 42);
    commit(&c, "simple", "", -1, 3, 7);
    // A dynamic member of another group: it outlives the restart too, as
    // in Kafka, with a fresh session.
    let (tx, rx) = mpsc::channel();
    c.join(
        JoinRequest {
            group_id: "dyn".into(),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), vec![])],
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            ..JoinRequest::default()
        },
        Box::new(move |r| tx.send(r).unwrap()),
    );
    let d = rx.recv().unwrap();
    let (tx, rx) = mpsc::channel();
    c.sync(
        SyncRequest {
            group_id: "dyn".into(),
            generation_id: d.generation_id,
            member_id: d.member_id.clone(),
            assignments: vec![(d.member_id.clone(), vec![1])],
            ..SyncRequest::default()
        },
        Box::new(move |r| tx.send(r).unwrap()),
    );
    assert_eq!(rx.recv().unwrap().error, ErrorCode::None);
    // Every record on disk is in Kafka's format.
    for (k, v) in raw_records(&engine) {
        let key = RecordKey::decode(&k).unwrap();
        if let (RecordKey::OffsetCommit { .. }, Some(v)) = (&key, v) {
            assert_eq!(&v[..2], &[0, 3], "OffsetCommitValue v3");
            OffsetCommitValue::decode(&v).unwrap();
        }
    }
    close(engine, c);

    let (engine, c, report) = open(dir.path(), config());
    assert_eq!(report.migrated, 0);
    assert_eq!(c.state("g"), Some(GroupState::Stable));
    assert_eq!(c.generation("g"), Some(a.generation_id));
    assert_eq!(c.member_ids("g"), vec![a.member_id.clone()]);
    assert_eq!(c.state("dyn"), Some(GroupState::Stable));
    assert_eq!(c.generation("dyn"), Some(d.generation_id));
    assert_eq!(c.member_ids("dyn"), vec![d.member_id.clone()]);
    let hb = c.heartbeat(&HeartbeatRequest {
        group_id: "dyn".into(),
        generation_id: d.generation_id,
        member_id: d.member_id.clone(),
        group_instance_id: None,
    });
    assert_eq!(hb, ErrorCode::None, "the dynamic member's session goes on");
    let f = c.fetch_offsets("g", None);
    assert_eq!(
        (f[0].offset, f[0].leader_epoch, f[0].metadata.as_str()),
        (42, 4, "meta")
    );
    assert_eq!(
        c.fetch_offsets("simple", Some(&[("t".into(), vec![3, 4])]))[0].offset,
        7
    );
    assert_eq!(
        c.fetch_offsets("simple", Some(&[("t".into(), vec![3, 4])]))[1].offset,
        -1
    );
    // The static member comes back with its instance id: same assignment,
    // no rebalance, and its old member id is fenced.
    let again = join(&c, "", Some("static-a"));
    assert_eq!(again.generation_id, a.generation_id);
    let s = sync(&c, &again.member_id, again.generation_id, vec![]);
    assert_eq!(s.assignment, vec![1, 2, 3]);
    let hb = c.heartbeat(&HeartbeatRequest {
        group_id: "g".into(),
        generation_id: a.generation_id,
        member_id: a.member_id.clone(),
        group_instance_id: Some("static-a".into()),
    });
    assert_eq!(hb, ErrorCode::FencedInstanceId);
    // Deleting a group writes tombstones that survive a restart.
    assert_eq!(
        c.delete_groups(&["simple".into()]),
        vec![("simple".into(), ErrorCode::None)]
    );
    close(engine, c);
    let (engine, c, _) = open(dir.path(), config());
    assert!(c.fetch_offsets("simple", None).is_empty());
    assert!(!c.describe(&["simple".into()])[0].found);
    assert_eq!(c.fetch_offsets("g", None)[0].offset, 42);
    close(engine, c);
}

#[test]
fn compaction_keeps_the_topic_small_and_the_state_whole() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        compact_every_records: 50,
        ..config()
    };
    let (engine, c, _) = open(dir.path(), cfg.clone());
    for i in 0..500 {
        commit(&c, "simple", "", -1, i % 4, i64::from(i));
    }
    let w = engine.partition(OFFSETS_TOPIC, 0).unwrap().watermarks();
    assert!(
        w.log_start_offset > 400,
        "compaction moved the log start: {w:?}"
    );
    assert!(raw_records(&engine).len() < 60);
    close(engine, c);
    let (engine, c, _) = open(dir.path(), cfg);
    let mut got: Vec<(i32, i64)> = c
        .fetch_offsets("simple", None)
        .iter()
        .map(|f| (f.partition, f.offset))
        .collect();
    got.sort_unstable();
    assert_eq!(got, vec![(0, 496), (1, 497), (2, 498), (3, 499)]);
    close(engine, c);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn json_offsets_from_the_typescript_coordinator_are_migrated() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures/legacy-offsets");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.join("expected.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("data"), dir.path());
    let before = {
        let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
        let n = raw_records(&engine);
        engine.close().unwrap();
        n
    };
    assert!(
        before.iter().all(|(k, _)| k.first() == Some(&b'{')),
        "the fixture holds JSON records"
    );

    let check = |c: &Coordinator| {
        for group in ["billing", "audit"] {
            let mut got: Vec<(i32, i64)> = c
                .fetch_offsets(group, None)
                .iter()
                .map(|f| {
                    assert_eq!(f.topic, "orders");
                    (f.partition, f.offset)
                })
                .collect();
            got.sort_unstable();
            let want: Vec<(i32, i64)> = expected[group]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["partition"].as_i64().unwrap() as i32,
                        p["offset"].as_i64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(got, want, "group {group}");
        }
        // `gone` was deleted with a JSON tombstone.
        assert!(c.fetch_offsets("gone", None).is_empty());
        assert!(!c.describe(&["gone".into()])[0].found);
    };

    let (engine, c, report) = open(dir.path(), config());
    assert_eq!(report.migrated, before.len() as u64);
    assert_eq!(report.skipped, 0);
    check(&c);
    // Only Kafka-format records remain readable.
    let after = raw_records(&engine);
    assert_eq!(after.len(), 5, "one record per live offset");
    for (k, v) in &after {
        assert!(matches!(
            RecordKey::decode(k).unwrap(),
            RecordKey::OffsetCommit { .. }
        ));
        OffsetCommitValue::decode(v.as_ref().unwrap()).unwrap();
    }
    close(engine, c);

    let (engine, c, report) = open(dir.path(), config());
    assert_eq!(report.migrated, 0, "migrated once");
    check(&c);
    // A migrated group is usable: a simple commit on top.
    commit(&c, "audit", "", -1, 0, 9);
    assert_eq!(
        c.fetch_offsets("audit", Some(&[("t".into(), vec![0])]))[0].offset,
        9
    );
    close(engine, c);
}

#[test]
fn unknown_and_corrupt_records_are_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, c, _) = open(dir.path(), config());
    commit(&c, "g", "", -1, 0, 1);
    // Foreign records appended behind the coordinator's back.
    let mut buf = Vec::new();
    let recs = [
        ferrolog_engine::batch::Record {
            timestamp_ms: 0,
            key: Some(&[0, 9, 0, 0]),
            value: Some(b"x"),
            headers: &[],
        },
        ferrolog_engine::batch::Record {
            timestamp_ms: 0,
            key: Some(&[0, 1, 0, 1, b'g']),
            value: Some(b"x"),
            headers: &[],
        },
        ferrolog_engine::batch::Record {
            timestamp_ms: 0,
            key: Some(b"{not json"),
            value: None,
            headers: &[],
        },
    ];
    ferrolog_engine::batch::encode_batch(&recs, Default::default(), &mut buf).unwrap();
    engine.append_internal(OFFSETS_TOPIC, 0, &buf).unwrap();
    close(engine, c);
    let (engine, c, report) = open(dir.path(), config());
    assert_eq!(report.skipped, 3);
    assert_eq!(c.fetch_offsets("g", None)[0].offset, 1);
    close(engine, c);
}
