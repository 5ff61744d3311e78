//! The raw fetch rate of ferrolog-client against a broker, with no JavaScript:
//! how fast can this client pull 100 B records, with which fetch sizes, and who
//! burns the CPU meanwhile (the broker's process or this one).
//!
//!   cargo run --release -p ferrolog-client --example fetch_rate -- HOST:PORT [MESSAGES] [BROKER_PID]
//!
//! It creates a 3-partition topic, fills it with MESSAGES (default 1,000,000)
//! 100 B records in uncompressed batches of 1000, then reads everything back
//! from offset 0 per case: one fetch at a time for all partitions (the Java
//! consumer's model: one fetch per broker in flight) at several byte limits,
//! and one connection per partition fetching concurrently. With BROKER_PID
//! it reports the broker's CPU use during each case from /proc.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ferrolog_client::{
    Client, ClientConfig, FetchOptions, FetchPartitionRequest, NewTopic, ProduceBatch,
};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

const PARTITIONS: i32 = 3;
const BATCH: usize = 1000;

fn batch(value: &Bytes) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let records: Vec<Record> = (0..BATCH)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // offset - sequence constant keeps the records in one batch.
            sequence: -1 + i as i32,
            timestamp: now,
            key: None,
            value: Some(value.clone()),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

/// Records and next offset of the whole batches in `b` (a cut last batch is left out).
fn count(b: &[u8]) -> (u64, i64) {
    let (mut pos, mut n, mut next) = (0usize, 0u64, -1i64);
    while b.len() - pos >= 61 {
        let len = i32::from_be_bytes(b[pos + 8..pos + 12].try_into().unwrap()) as usize;
        if pos + 12 + len > b.len() {
            break;
        }
        let base = i64::from_be_bytes(b[pos..pos + 8].try_into().unwrap());
        let delta = i32::from_be_bytes(b[pos + 23..pos + 27].try_into().unwrap());
        let attrs = i16::from_be_bytes(b[pos + 21..pos + 23].try_into().unwrap());
        if attrs & 0x20 == 0 {
            n += u32::from_be_bytes(b[pos + 57..pos + 61].try_into().unwrap()) as u64;
        }
        next = base + delta as i64 + 1;
        pos += 12 + len;
    }
    (n, next)
}

/// utime + stime of a process in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

async fn read_all(
    client: &Client,
    topic: &str,
    parts: &[i32],
    total: u64,
    opts: FetchOptions,
    part_max: i32,
) -> (u64, u64) {
    let mut offsets: Vec<i64> = parts.iter().map(|_| 0).collect();
    let (mut n, mut fetches) = (0u64, 0u64);
    while n < total {
        let req = parts
            .iter()
            .zip(&offsets)
            .map(|(&p, &o)| FetchPartitionRequest {
                topic: topic.to_string(),
                partition: p,
                offset: o,
                max_bytes: part_max,
            })
            .collect();
        let res = client.fetch(req, opts).await.unwrap();
        fetches += 1;
        for (i, r) in res.iter().enumerate() {
            assert_eq!(r.error_code, 0, "fetch error {}", r.error_code);
            let (c, next) = count(&r.records);
            n += c;
            if next > offsets[i] {
                offsets[i] = next;
            }
        }
    }
    (n, fetches)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bootstrap = args
        .get(1)
        .expect("usage: fetch_rate HOST:PORT [MESSAGES] [BROKER_PID]");
    let total: u64 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(1_000_000);
    let broker_pid = args.get(3).cloned();
    let mut cfg = ClientConfig::new(vec![bootstrap.clone()]);
    cfg.max_response_bytes = 256 * 1024 * 1024;
    let client = Client::connect(cfg).await.unwrap();
    let topic = format!("fetch-rate-{}", std::process::id());
    let created = client
        .create_topics(
            vec![NewTopic {
                name: topic.clone(),
                num_partitions: PARTITIONS,
                replication_factor: 1,
                configs: vec![],
            }],
            30_000,
            false,
        )
        .await
        .unwrap();
    assert_eq!(created[0].error_code, 0, "{created:?}");
    client
        .refresh_metadata(std::slice::from_ref(&topic))
        .await
        .unwrap();

    let value = Bytes::from(vec![b'x'; 100]);
    let one = batch(&value);
    let batches = total.div_ceil(BATCH as u64);
    let total = batches * BATCH as u64;
    let t = Instant::now();
    let mut sent = 0u64;
    while sent < batches {
        let n = (batches - sent).min(30);
        let req = (0..n)
            .map(|i| ProduceBatch {
                topic: topic.clone(),
                partition: ((sent + i) % PARTITIONS as u64) as i32,
                records: one.clone(),
            })
            .collect();
        for r in client.produce(req, 1, 30_000).await.unwrap() {
            assert_eq!(r.error_code, 0, "{r:?}");
        }
        sent += n;
    }
    println!(
        "produced {total} x 100 B records in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    const MIB: i32 = 1024 * 1024;
    let all: Vec<i32> = (0..PARTITIONS).collect();
    println!("case | msg/s | MB/s (records) | fetches | broker CPU % | this process CPU %");
    let cases: [(&str, i32, i32, bool); 6] = [
        (
            "kafkajs defaults: 1 MiB/partition, 10 MiB/fetch",
            MIB,
            10 * MIB,
            false,
        ),
        (
            "Java defaults: 1 MiB/partition, 50 MiB/fetch",
            MIB,
            50 * MIB,
            false,
        ),
        ("4 MiB/partition, 50 MiB/fetch", 4 * MIB, 50 * MIB, false),
        ("16 MiB/partition, 50 MiB/fetch", 16 * MIB, 50 * MIB, false),
        ("64 KiB/partition, 50 MiB/fetch", 64 * 1024, 50 * MIB, false),
        (
            "one connection per partition, 1 MiB/partition",
            MIB,
            50 * MIB,
            true,
        ),
    ];
    for (name, part_max, fetch_max, split) in cases {
        let opts = FetchOptions {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: fetch_max,
            isolation_level: 0,
            lane: 0,
        };
        let cpu0 = broker_pid.as_deref().and_then(cpu_ticks);
        let me0 = cpu_ticks("self");
        let t = Instant::now();
        let (n, fetches) = if split {
            let mut set = tokio::task::JoinSet::new();
            for p in 0..PARTITIONS {
                let (c, tp) = (client.clone(), topic.clone());
                let o = FetchOptions {
                    lane: 100 + p as u32,
                    ..opts
                };
                // Batch i went to partition i % PARTITIONS.
                let mine = (0..batches)
                    .filter(|i| i % PARTITIONS as u64 == p as u64)
                    .count();
                let want = (mine * BATCH) as u64;
                set.spawn(async move { read_all(&c, &tp, &[p], want, o, part_max).await });
            }
            let mut sum = (0, 0);
            while let Some(r) = set.join_next().await {
                let (a, b) = r.unwrap();
                sum = (sum.0 + a, sum.1 + b);
            }
            sum
        } else {
            read_all(&client, &topic, &all, total, opts, part_max).await
        };
        let secs = t.elapsed().as_secs_f64();
        let pct = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.0}", (b - a) as f64 / secs),
            _ => "-".to_string(),
        };
        println!(
            "{name} | {:.0} | {:.1} | {fetches} | {} | {}",
            n as f64 / secs,
            n as f64 * 100.0 / secs / 1e6,
            pct(cpu0, broker_pid.as_deref().and_then(cpu_ticks)),
            pct(me0, cpu_ticks("self")),
        );
    }
}
