//! Apache Kafka 4.1.1's `DumpLogSegments --offsets-decoder` reads the
//! `__consumer_offsets` segment ferrolog's coordinator writes, and prints
//! the committed offsets and the group metadata.
//!
//! Needs `java` and `node` (the jars are fetched and cached by
//! test/kafka/jars.mjs, as for the other Kafka compatibility tests); without
//! java the test says so and passes vacuously, as the vitest suites do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::sync::Arc;

use ferrolog_coordinator::store::OFFSETS_TOPIC;
use ferrolog_coordinator::*;
use ferrolog_engine::{Engine, EngineOptions};

fn java_available() -> bool {
    Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn kafka_classpath(repo: &Path) -> String {
    let out = Command::new("node")
        .current_dir(repo)
        .args([
            "--input-type=module",
            "-e",
            "import { ensureKafkaJars } from './test/kafka/jars.mjs'; process.stdout.write(ensureKafkaJars());",
        ])
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn kafka_dump_log_segments_decodes_ferrolog_offsets() {
    if !java_available() {
        eprintln!("kafka_dump: `java` not found, DumpLogSegments check SKIPPED");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(dir.path(), EngineOptions::default()).unwrap());
    let config = Config {
        min_session_timeout_ms: 10,
        initial_rebalance_delay_ms: 0,
        ..Config::default()
    };
    let (c, _) = Coordinator::open(engine.clone(), config, Arc::new(SystemClock), false).unwrap();
    let (tx, rx) = mpsc::channel();
    c.join(
        JoinRequest {
            group_id: "dump-group".into(),
            group_instance_id: Some("instance-7".into()),
            protocol_type: "consumer".into(),
            protocols: vec![(
                "range".into(),
                vec![
                    0, 0, 0, 0, 0, 1, 0, 6, b'o', b'r', b'd', b'e', b'r', b's', 0, 0, 0, 0,
                ],
            )],
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            client_id: "dump-client".into(),
            client_host: "/127.0.0.1".into(),
            ..JoinRequest::default()
        },
        Box::new(move |r| tx.send(r).unwrap()),
    );
    let j = rx.recv().unwrap();
    let (tx, rx) = mpsc::channel();
    c.sync(
        SyncRequest {
            group_id: "dump-group".into(),
            generation_id: j.generation_id,
            member_id: j.member_id.clone(),
            assignments: vec![(j.member_id.clone(), vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
            ..SyncRequest::default()
        },
        Box::new(move |r| tx.send(r).unwrap()),
    );
    assert_eq!(rx.recv().unwrap().error, ErrorCode::None);
    let r = c
        .commit(&CommitRequest {
            group_id: "dump-group".into(),
            generation_id: j.generation_id,
            member_id: j.member_id.clone(),
            group_instance_id: Some("instance-7".into()),
            offsets: vec![
                CommitOffset {
                    topic: "orders".into(),
                    partition: 0,
                    offset: 1234,
                    leader_epoch: -1,
                    metadata: Some("hello".into()),
                },
                CommitOffset {
                    topic: "orders".into(),
                    partition: 5,
                    offset: 98765,
                    leader_epoch: 3,
                    metadata: None,
                },
            ],
        })
        .unwrap();
    assert!(r.iter().all(|p| p.error == ErrorCode::None));
    c.commit(&CommitRequest {
        group_id: "simple-group".into(),
        generation_id: -1,
        offsets: vec![CommitOffset {
            topic: "t".into(),
            partition: 2,
            offset: 77,
            leader_epoch: -1,
            metadata: None,
        }],
        ..CommitRequest::default()
    })
    .unwrap();
    assert_eq!(
        c.delete_groups(&["simple-group".into()])[0].1,
        ErrorCode::None
    );
    c.close();
    drop(c);
    engine.close().unwrap();

    let log = dir
        .path()
        .join(format!("{OFFSETS_TOPIC}-0"))
        .join("00000000000000000000.log");
    let cp = kafka_classpath(&repo);
    let out = Command::new("java")
        .args([
            "-Xmx256m",
            "-cp",
            &cp,
            "kafka.tools.DumpLogSegments",
            "--offsets-decoder",
            "--files",
        ])
        .arg(&log)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    eprintln!("{stdout}");
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("key:")).collect();
    let find = |needle: &[&str]| lines.iter().any(|l| needle.iter().all(|n| l.contains(n)));
    assert!(
        !stdout.contains("Could not deserialize") && !stdout.contains("Exception"),
        "{stdout}"
    );
    assert!(
        find(&[
            "\"group\":\"dump-group\"",
            "\"topic\":\"orders\"",
            "\"partition\":0",
            "\"offset\":1234",
            "\"metadata\":\"hello\""
        ]),
        "offset 1234 not printed:\n{stdout}"
    );
    assert!(
        find(&["\"partition\":5", "\"offset\":98765", "\"leaderEpoch\":3"]),
        "offset 98765 not printed:\n{stdout}"
    );
    assert!(
        find(&[
            "\"group\":\"dump-group\"",
            "\"protocolType\":\"consumer\"",
            "\"protocol\":\"range\"",
            "\"groupInstanceId\":\"instance-7\"",
            "\"clientId\":\"dump-client\""
        ]),
        "group metadata not printed:\n{stdout}"
    );
    assert!(
        find(&[
            "\"group\":\"simple-group\"",
            "\"partition\":2",
            "payload: <DELETE>"
        ]),
        "tombstone not printed:\n{stdout}"
    );
}
