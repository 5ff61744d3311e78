//! Partition reassignment (AlterPartitionReassignments, ListPartitionReassignments)
//! against Apache Kafka 4.1: the request each call sends is one Kafka accepts, and
//! its answers come back per partition.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Cluster;
use ferrolog_client::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reassigns_partitions_on_kafka() {
    let Some(cluster) = Cluster::shared(1, "reassign") else {
        return;
    };
    let client = cluster.client().await;
    let topic = format!("reassign-{}", std::process::id());
    let created = client
        .create_topics(
            vec![NewTopic {
                name: topic.clone(),
                num_partitions: 2,
                replication_factor: 1,
                configs: vec![],
            }],
            10_000,
            false,
        )
        .await
        .unwrap();
    assert_eq!(created[0].error_code, 0, "{created:?}");
    let meta = client
        .metadata(Some(std::slice::from_ref(&topic)))
        .await
        .unwrap();
    let node = *meta.brokers.keys().min().expect("a broker");

    // Where the replicas already are: accepted, and nothing is left moving.
    let moved = client
        .alter_partition_reassignments(
            vec![
                ReassignmentRequest {
                    topic: topic.clone(),
                    partition: 0,
                    replicas: Some(vec![node]),
                },
                ReassignmentRequest {
                    topic: topic.clone(),
                    partition: 1,
                    replicas: Some(vec![node]),
                },
            ],
            10_000,
        )
        .await
        .unwrap();
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert!(moved.iter().all(|r| r.error_code == 0), "{moved:?}");
    let listed = client
        .list_partition_reassignments(Some(vec![(topic.clone(), 0), (topic.clone(), 1)]), 10_000)
        .await
        .unwrap();
    assert_eq!(listed, vec![]);
    // All of them: none of this test's topic.
    let all = client
        .list_partition_reassignments(None, 10_000)
        .await
        .unwrap();
    assert!(all.iter().all(|o| o.topic != topic), "{all:?}");

    // A broker that does not exist: refused for that partition only.
    let bad = client
        .alter_partition_reassignments(
            vec![ReassignmentRequest {
                topic: topic.clone(),
                partition: 1,
                replicas: Some(vec![node + 100]),
            }],
            10_000,
        )
        .await
        .unwrap();
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].topic.as_str(), bad[0].partition),
        (topic.as_str(), 1)
    );
    assert_eq!(bad[0].error_code, 39, "INVALID_REPLICA_ASSIGNMENT: {bad:?}");

    // Cancelling where nothing is in progress: NO_REASSIGNMENT_IN_PROGRESS.
    let cancel = client
        .alter_partition_reassignments(
            vec![ReassignmentRequest {
                topic: topic.clone(),
                partition: 0,
                replicas: None,
            }],
            10_000,
        )
        .await
        .unwrap();
    assert_eq!(cancel[0].error_code, 85, "{cancel:?}");
}
