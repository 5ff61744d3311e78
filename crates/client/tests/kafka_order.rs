//! Produce calls reach the broker in the order they were made, whatever order
//! their tasks run in: each takes its ticket (`Client::produce_ticket`) when it
//! is made, as the binding does on the JavaScript thread.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{batch, decode, Cluster};
use ferrolog_client::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_calls_land_in_call_order() {
    let Some(cluster) = Cluster::shared(1, "order") else {
        return;
    };
    let client = cluster.client().await;
    let topic = format!("order-{}", std::process::id());
    let created = client
        .create_topics(
            vec![NewTopic {
                name: topic.clone(),
                num_partitions: 1,
                replication_factor: 1,
                configs: vec![],
            }],
            10_000,
            false,
        )
        .await
        .unwrap();
    assert_eq!(created[0].error_code, 0, "{created:?}");
    // An acknowledged write first: the new partition's leader is ready.
    let mut ready = false;
    for _ in 0..100 {
        let r = client
            .produce(
                vec![ProduceBatch {
                    topic: topic.clone(),
                    partition: 0,
                    records: batch(&["first".to_string()], None),
                }],
                1,
                10_000,
            )
            .await;
        if matches!(r.as_deref(), Ok([p]) if p.error_code == 0) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the topic never took a write");

    // 60 calls, one batch each to the same partition, tickets taken in call
    // order; the tasks are spawned last-first, the early ones after a pause,
    // so without the ordering the later calls would reach Kafka first.
    const CALLS: usize = 60;
    let tickets: Vec<Ticket> = (0..CALLS).map(|_| client.produce_ticket()).collect();
    let mut tasks = Vec::new();
    for (i, ticket) in tickets.into_iter().enumerate().rev() {
        let client = client.clone();
        let topic = topic.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(((CALLS - i) / 6) as u64)).await;
            client
                .produce_ordered(
                    vec![ProduceBatch {
                        topic,
                        partition: 0,
                        records: batch(&[format!("call-{i}")], None),
                    }],
                    if i % 3 == 0 { 0 } else { 1 },
                    10_000,
                    ticket,
                )
                .await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        assert_eq!(r[0].error_code, 0, "{r:?}");
    }

    let mut seen = Vec::new();
    let mut offset = 0;
    for _ in 0..100 {
        let f = client
            .fetch(
                vec![FetchPartitionRequest {
                    topic: topic.clone(),
                    partition: 0,
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
        for (o, v) in decode(f[0].records.clone()) {
            if o >= offset {
                seen.push(v);
                offset = o + 1;
            }
        }
        if seen.len() > CALLS {
            break;
        }
    }
    let expected: Vec<String> = std::iter::once("first".to_string())
        .chain((0..CALLS).map(|i| format!("call-{i}")))
        .collect();
    assert_eq!(seen, expected);
}
