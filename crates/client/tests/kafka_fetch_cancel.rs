//! Cancelling a long-polling fetch against Apache Kafka: the fetch returns at
//! once, the next fetch of its lane is not held up behind the cancelled poll
//! (the broker answers a connection's requests in order) and reads the right
//! records, and other lanes' fetches are untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{batch, decode, values, Cluster};
use ferrolog_client::*;

/// The polls here wait this long; a step that waits for one fails the bound below.
const LONG_POLL_MS: i32 = 10_000;
const PROMPT: Duration = Duration::from_millis(LONG_POLL_MS as u64 / 2);

fn at(topic: &str, offset: i64) -> Vec<FetchPartitionRequest> {
    vec![FetchPartitionRequest {
        topic: topic.to_string(),
        partition: 0,
        offset,
        max_bytes: 1 << 20,
    }]
}

fn long(lane: u32) -> FetchOptions {
    FetchOptions {
        max_wait_ms: LONG_POLL_MS,
        lane,
        ..FetchOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_long_poll() {
    let Some(cluster) = Cluster::shared(1, "cancel") else {
        return;
    };
    let client = cluster.client().await;
    let topic = format!("cancel-{}", std::process::id());
    let created = client
        .create_topics(
            vec![NewTopic {
                name: topic.clone(),
                num_partitions: 1,
                replication_factor: 1,
                configs: vec![],
            }],
            30_000,
            false,
        )
        .await
        .unwrap();
    assert_eq!(created[0].error_code, 0, "{created:?}");
    let produce = |vals: Vec<String>| {
        let (c, t) = (client.clone(), topic.clone());
        async move {
            let r = c
                .produce(
                    vec![ProduceBatch {
                        topic: t,
                        partition: 0,
                        records: batch(&vals, None),
                    }],
                    -1,
                    30_000,
                )
                .await
                .unwrap();
            assert_eq!(r[0].error_code, 0, "{r:?}");
        }
    };
    produce(values("a", 3)).await;

    for round in 0..3 {
        // A poll at the end of the partition, cancelled while the broker holds it.
        let cancel = client.fetch_canceller(7);
        let (c, t) = (client.clone(), topic.clone());
        let poll = tokio::spawn(async move { c.fetch_or_cancel(at(&t, 3), long(7), cancel).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        assert_eq!(client.cancel_fetches(7), 1, "round {round}");
        assert!(poll.await.unwrap().unwrap().is_none(), "round {round}");
        assert!(
            started.elapsed() < PROMPT,
            "round {round}: {:?}",
            started.elapsed()
        );

        // The lane's next fetch is answered at once, with the right records.
        let started = Instant::now();
        let r = client.fetch(at(&topic, 0), long(7)).await.unwrap();
        assert!(
            started.elapsed() < PROMPT,
            "round {round}: {:?}",
            started.elapsed()
        );
        assert_eq!(r[0].error_code, 0);
        let got: Vec<String> = decode(r[0].records.clone())
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(got, values("a", 3), "round {round}");
    }

    // A cancel of one lane leaves another lane's poll alone: it still gets the
    // record written while it waits.
    let (c, t) = (client.clone(), topic.clone());
    let other = tokio::spawn(async move { c.fetch(at(&t, 3), long(8)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancel = client.fetch_canceller(7);
    assert_eq!(client.cancel_fetches(7), 1);
    assert!(client
        .fetch_or_cancel(at(&topic, 3), long(7), cancel)
        .await
        .unwrap()
        .is_none());
    produce(values("b", 1)).await;
    let r = other.await.unwrap().unwrap();
    assert_eq!(r[0].error_code, 0);
    let got: Vec<(i64, String)> = decode(r[0].records.clone());
    assert_eq!(got, vec![(3, "b-0".to_string())]);

    // A cancel with nothing in flight cancels nothing and breaks nothing.
    assert_eq!(client.cancel_fetches(9), 0);
    let r = client.fetch(at(&topic, 0), long(9)).await.unwrap();
    assert_eq!(decode(r[0].records.clone()).len(), 4);
}
