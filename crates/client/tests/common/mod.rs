//! Test support: an Apache Kafka cluster started through the project's
//! `test/kafka/cluster.mjs` (Maven jars, KRaft, 127.0.0.1), stopped on drop, and
//! RecordBatch helpers built on kafka-protocol's record encoder.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use bytes::{Bytes, BytesMut};
use ferrolog_client::{Client, ClientConfig};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
}

pub struct Cluster {
    pub bootstrap: String,
    /// Process id of node `i + 1`.
    pub pids: Vec<u32>,
    state: PathBuf,
}

fn json_values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let pat = format!("\"{key}\": ");
    text.match_indices(&pat)
        .map(|(i, _)| {
            let rest = &text[i + pat.len()..];
            let end = rest.find([',', '\n', '}']).unwrap_or(rest.len());
            rest[..end].trim().trim_matches('"')
        })
        .collect()
}

impl Cluster {
    /// Starts a cluster, or returns None (after saying so) when java is absent.
    /// `FERROLOG_TEST_BOOTSTRAP=host:port` runs the tests against an existing
    /// broker instead (a ferrolog broker, a cluster started by hand).
    pub fn start(nodes: usize, tag: &str) -> Option<Cluster> {
        if let Ok(b) = std::env::var("FERROLOG_TEST_BOOTSTRAP") {
            eprintln!("using the broker(s) at {b} (FERROLOG_TEST_BOOTSTRAP)");
            return Some(Cluster {
                bootstrap: b,
                pids: vec![],
                state: PathBuf::new(),
            });
        }
        if Command::new("java").arg("-version").output().is_err() {
            eprintln!("SKIPPED: java is not installed; the Apache Kafka cluster tests of ferrolog-client did not run");
            return None;
        }
        let state =
            std::env::temp_dir().join(format!("ferrolog-client-{tag}-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&state);
        let out = Command::new("node")
            .arg(repo_root().join("test/kafka/cluster.mjs"))
            .args(["start", "--nodes", &nodes.to_string(), "--state"])
            .arg(&state)
            .current_dir(repo_root())
            .output()
            .expect("run node test/kafka/cluster.mjs");
        assert!(
            out.status.success(),
            "cluster start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&state).expect("cluster state file");
        let bootstrap = json_values(&text, "bootstrap")[0].to_string();
        let pids = json_values(&text, "pid")
            .iter()
            .map(|p| p.parse().expect("pid"))
            .collect();
        Some(Cluster {
            bootstrap,
            pids,
            state,
        })
    }

    /// The run's shared cluster (`npm test` starts one under
    /// `test/kafka/with-cluster.mjs` and names its state file in
    /// FERROLOG_KAFKA_STATE) when it has at least `nodes` nodes, else a
    /// cluster of this test's own. Tests that kill or restart nodes use
    /// `start` instead.
    pub fn shared(nodes: usize, tag: &str) -> Option<Cluster> {
        if let Ok(file) = std::env::var("FERROLOG_KAFKA_STATE") {
            if let Ok(text) = std::fs::read_to_string(&file) {
                let count = json_values(&text, "pid").len();
                if let Some(b) = json_values(&text, "bootstrap").first() {
                    if count >= nodes {
                        eprintln!("using the run's shared Kafka cluster at {b}");
                        return Some(Cluster {
                            bootstrap: b.to_string(),
                            pids: vec![],
                            state: PathBuf::new(),
                        });
                    }
                }
            }
        }
        Cluster::start(nodes, tag)
    }

    pub fn kill_node(&self, node_id: i32) {
        let pid = self.pids[(node_id - 1) as usize];
        let st = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(st.success(), "kill -9 {pid}");
    }

    pub fn config(&self) -> ClientConfig {
        let mut cfg = ClientConfig::new(self.bootstrap.split(','));
        cfg.client_id = "ferrolog-client-test".to_string();
        cfg
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.config()).await.expect("connect")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.pids.is_empty() {
            return;
        }
        let _ = Command::new("node")
            .arg(repo_root().join("test/kafka/cluster.mjs"))
            .args(["stop", "--state"])
            .arg(&self.state)
            .current_dir(repo_root())
            .output();
    }
}

/// A RecordBatch v2 of `values`, optionally idempotent (producer id, epoch, base sequence).
pub fn batch(values: &[String], producer: Option<(i64, i16, i32)>) -> Bytes {
    let (pid, epoch, seq) = producer.unwrap_or((-1, -1, -1));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // offset - sequence constant keeps the records in one batch (-1 base: none).
            sequence: seq + i as i32,
            timestamp: now + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(v.clone())),
            headers: indexmap::IndexMap::from([(
                StrBytes::from_static_str("h"),
                Some(Bytes::from_static(b"1")),
            )]),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode batch");
    buf.freeze()
}

/// (offset, value) of every record in fetched bytes.
pub fn decode(mut records: Bytes) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    if records.is_empty() {
        return out;
    }
    for set in RecordBatchDecoder::decode_all(&mut records).expect("decode fetched batches") {
        for r in set.records {
            let v = r
                .value
                .map(|v| String::from_utf8_lossy(&v).to_string())
                .unwrap_or_default();
            out.push((r.offset, v));
        }
    }
    out
}

pub fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}
