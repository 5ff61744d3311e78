//! ferrolog-client against a three-node Apache Kafka 4.1 cluster: requests routed
//! to the leader of each partition across brokers, and a leader killed (SIGKILL)
//! during idempotent acks=all production, after which every acknowledged record
//! is present exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{batch, decode, Cluster};
use ferrolog_client::*;

async fn read_all(client: &Client, topic: &str, partition: i32) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let f = client
            .fetch(
                vec![FetchPartitionRequest {
                    topic: topic.into(),
                    partition,
                    offset,
                    max_bytes: 1 << 20,
                }],
                FetchOptions {
                    max_wait_ms: 100,
                    ..FetchOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(f[0].error_code, 0, "fetch {topic}-{partition}@{offset}");
        for (o, v) in decode(f[0].records.clone()) {
            if o >= offset {
                out.push(v);
                offset = o + 1;
            }
        }
        if offset >= f[0].high_watermark {
            return out;
        }
    }
}

/// Topic creation reaches every broker's metadata a little later.
async fn wait_leaders(client: &Client, topic: &str, n: usize) -> Metadata {
    for _ in 0..100 {
        let m = client.metadata(Some(&[topic.to_string()])).await.unwrap();
        if m.topics
            .get(topic)
            .is_some_and(|t| t.partitions.len() == n && t.partitions.iter().all(|p| p.leader >= 0))
        {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{topic} never got {n} partitions with leaders");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_routing_and_failover() {
    let Some(cluster) = Cluster::start(3, "three") else {
        return;
    };
    let mut cfg = cluster.config();
    cfg.retries = 10;
    cfg.retry_backoff = Duration::from_millis(200);
    cfg.request_timeout = Duration::from_secs(10);
    cfg.connect_timeout = Duration::from_secs(3);
    let client = Client::connect(cfg).await.unwrap();
    assert_eq!(client.cached_metadata().brokers.len(), 3);

    // Leader routing: six partitions led by several brokers, one produce call.
    let r = client
        .create_topics(
            vec![NewTopic {
                name: "spread".into(),
                num_partitions: 6,
                replication_factor: 3,
                configs: vec![],
            }],
            30_000,
            false,
        )
        .await
        .unwrap();
    assert_eq!(r[0].error_code, 0, "{r:?}");
    let m = client
        .metadata(Some(&["spread".to_string()]))
        .await
        .unwrap();
    let leaders: HashSet<i32> = m.topics["spread"]
        .partitions
        .iter()
        .map(|p| p.leader)
        .collect();
    assert!(
        leaders.len() > 1,
        "partitions led by more than one broker: {leaders:?}"
    );
    let batches = (0..6)
        .map(|p| ProduceBatch {
            topic: "spread".into(),
            partition: p,
            records: batch(&[format!("spread-{p}")], None),
        })
        .collect();
    let r = client.produce(batches, -1, 30_000).await.unwrap();
    assert!(
        r.iter().all(|x| x.error_code == 0 && x.base_offset == 0),
        "{r:?}"
    );
    for p in 0..6 {
        assert_eq!(
            read_all(&client, "spread", p).await,
            vec![format!("spread-{p}")]
        );
    }

    // Failover under idempotent acks=all production.
    let r = client
        .create_topics(
            vec![NewTopic {
                name: "fo".into(),
                num_partitions: 3,
                replication_factor: 3,
                configs: vec![("min.insync.replicas".into(), "2".into())],
            }],
            30_000,
            false,
        )
        .await
        .unwrap();
    assert_eq!(r[0].error_code, 0, "{r:?}");
    let victim = wait_leaders(&client, "fo", 3)
        .await
        .leader("fo", 0)
        .unwrap();
    let pid = client.init_producer_id(None).await.unwrap();
    const BATCHES: i32 = 40;
    const PER: i32 = 10;
    let acked_p0 = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for p in 0..3 {
        let client = client.clone();
        let acked_p0 = acked_p0.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked: Vec<String> = Vec::new();
            let mut errors: Vec<i16> = Vec::new();
            for b in 0..BATCHES {
                let values: Vec<String> = (0..PER).map(|i| format!("fo-{p}-{b}-{i}")).collect();
                // The same batch, same sequence, until acknowledged: what a producer
                // with an unbounded delivery timeout does. Idempotence makes it safe.
                let records = batch(
                    &values,
                    Some((pid.producer_id, pid.producer_epoch, b * PER)),
                );
                let mut attempts = 0;
                loop {
                    let r = client
                        .produce(
                            vec![ProduceBatch {
                                topic: "fo".into(),
                                partition: p,
                                records: records.clone(),
                            }],
                            -1,
                            10_000,
                        )
                        .await;
                    match r {
                        Ok(r) if r[0].error_code == 0 => break,
                        Ok(r) => errors.push(r[0].error_code),
                        Err(e) => errors.push(e.code()),
                    }
                    attempts += 1;
                    assert!(
                        attempts < 100,
                        "{p}/{b}: never acknowledged; errors {errors:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                acked.extend(values);
                if p == 0 {
                    acked_p0.fetch_add(1, Ordering::SeqCst);
                }
            }
            (acked, errors)
        }));
    }
    while acked_p0.load(Ordering::SeqCst) < 10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.kill_node(victim);
    let mut acked = Vec::new();
    for t in tasks {
        acked.push(t.await.unwrap());
    }
    let new_leader = client
        .metadata(Some(&["fo".to_string()]))
        .await
        .unwrap()
        .leader("fo", 0);
    assert!(
        new_leader.is_some_and(|l| l != victim),
        "partition 0 has a new leader: {new_leader:?}"
    );
    for (p, (values, errors)) in acked.iter().enumerate() {
        assert_eq!(values.len(), (BATCHES * PER) as usize);
        eprintln!("partition {p}: errors seen and retried: {errors:?}");
        let stored = read_all(&client, "fo", p as i32).await;
        assert_eq!(&stored, values, "partition {p}: every acknowledged record exactly once, in order (errors seen: {errors:?})");
    }
}
