//! Partition reassignment (AlterPartitionReassignments v0-1, ListPartitionReassignments
//! v0): sent to the controller like the other admin requests in `admin.rs`, whose
//! retry loop they share. A child module of `admin` so that loop stays private.

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, BrokerId, ListPartitionReassignmentsRequest,
};

use super::Pick;
use crate::client::{name, opt_string, Client};
use crate::error::{codes, Error, Result};

/// One partition's wanted replicas; `None` cancels a reassignment in progress.
#[derive(Clone, Debug)]
pub struct ReassignmentRequest {
    /// The partition's topic.
    pub topic: String,
    /// The partition's index.
    pub partition: i32,
    /// The broker node ids to hold the partition, preferred leader first; `None`
    /// cancels the partition's reassignment in progress.
    pub replicas: Option<Vec<i32>>,
}

/// The controller's answer for one partition of an AlterPartitionReassignments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReassignmentResult {
    /// The partition's topic.
    pub topic: String,
    /// The partition's index.
    pub partition: i32,
    /// Kafka's error code for the partition (e.g. NO_REASSIGNMENT_IN_PROGRESS, 85,
    /// when cancelling; INVALID_REPLICA_ASSIGNMENT, 39); 0 when accepted.
    pub error_code: i16,
    /// The controller's message for the error, when it sent one.
    pub error_message: Option<String>,
}

/// A reassignment in progress, as ListPartitionReassignments reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OngoingReassignment {
    /// The partition's topic.
    pub topic: String,
    /// The partition's index.
    pub partition: i32,
    /// The broker node ids holding the partition now (old and new replicas).
    pub replicas: Vec<i32>,
    /// The node ids being added (catching up).
    pub adding_replicas: Vec<i32>,
    /// The node ids to be removed once the added ones are in sync.
    pub removing_replicas: Vec<i32>,
}

fn ids(v: &[i32]) -> Vec<BrokerId> {
    v.iter().map(|n| BrokerId(*n)).collect()
}

fn plain(v: Vec<BrokerId>) -> Vec<i32> {
    v.into_iter().map(|b| b.0).collect()
}

/// Groups (topic, partition, x) items by topic, keeping the callers' order.
fn by_topic<T: Clone>(items: &[(String, i32, T)]) -> Vec<(String, Vec<(i32, T)>)> {
    let mut out: Vec<(String, Vec<(i32, T)>)> = Vec::new();
    for (t, p, x) in items {
        match out.iter_mut().find(|(n, _)| n == t) {
            Some((_, v)) => v.push((*p, x.clone())),
            None => out.push((t.clone(), vec![(*p, x.clone())])),
        }
    }
    out
}

impl Client {
    /// AlterPartitionReassignments: one request for every partition given. A
    /// request-level error (e.g. CLUSTER_AUTHORIZATION_FAILED) is the call's
    /// error; partition-level ones are in the results.
    pub async fn alter_partition_reassignments(
        &self,
        partitions: Vec<ReassignmentRequest>,
        timeout_ms: i32,
    ) -> Result<Vec<ReassignmentResult>> {
        let items: Vec<(String, i32, Option<Vec<i32>>)> = partitions
            .into_iter()
            .map(|p| (p.topic, p.partition, p.replicas))
            .collect();
        let topics = by_topic(&items);
        let build = |_v: i16| {
            AlterPartitionReassignmentsRequest::default()
                .with_timeout_ms(timeout_ms)
                .with_topics(
                    topics
                        .iter()
                        .map(|(t, ps)| {
                            ReassignableTopic::default()
                                .with_name(name(t))
                                .with_partitions(
                                    ps.iter()
                                        .map(|(p, r)| {
                                            ReassignablePartition::default()
                                                .with_partition_index(*p)
                                                .with_replicas(r.as_deref().map(ids))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
        };
        let resp = self
            .admin(Pick::Controller, build, |r| {
                r.error_code == codes::NOT_CONTROLLER
            })
            .await?;
        if resp.error_code != 0 {
            let msg = opt_string(&resp.error_message).unwrap_or_default();
            return Err(Error::kafka(resp.error_code, msg));
        }
        Ok(resp
            .responses
            .into_iter()
            .flat_map(|t| {
                let topic = t.name.0.to_string();
                t.partitions.into_iter().map(move |p| ReassignmentResult {
                    topic: topic.clone(),
                    partition: p.partition_index,
                    error_code: p.error_code,
                    error_message: opt_string(&p.error_message),
                })
            })
            .collect())
    }

    /// ListPartitionReassignments of `partitions` ((topic, partition) pairs), or of
    /// every partition when `None`. Partitions not being moved are not listed.
    pub async fn list_partition_reassignments(
        &self,
        partitions: Option<Vec<(String, i32)>>,
        timeout_ms: i32,
    ) -> Result<Vec<OngoingReassignment>> {
        let topics = partitions.map(|ps| {
            let items: Vec<(String, i32, ())> = ps.into_iter().map(|(t, p)| (t, p, ())).collect();
            by_topic(&items)
        });
        let build = |_v: i16| {
            ListPartitionReassignmentsRequest::default()
                .with_timeout_ms(timeout_ms)
                .with_topics(topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|(t, ps)| {
                            ListPartitionReassignmentsTopics::default()
                                .with_name(name(t))
                                .with_partition_indexes(ps.iter().map(|(p, _)| *p).collect())
                        })
                        .collect()
                }))
        };
        let resp = self
            .admin(Pick::Controller, build, |r| {
                r.error_code == codes::NOT_CONTROLLER
            })
            .await?;
        if resp.error_code != 0 {
            let msg = opt_string(&resp.error_message).unwrap_or_default();
            return Err(Error::kafka(resp.error_code, msg));
        }
        Ok(resp
            .topics
            .into_iter()
            .flat_map(|t| {
                let topic = t.name.0.to_string();
                t.partitions.into_iter().map(move |p| OngoingReassignment {
                    topic: topic.clone(),
                    partition: p.partition_index,
                    replicas: plain(p.replicas),
                    adding_replicas: plain(p.adding_replicas),
                    removing_replicas: plain(p.removing_replicas),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::by_topic;

    #[test]
    fn groups_by_topic_in_order() {
        let items = vec![
            ("b".to_string(), 1, 10),
            ("a".to_string(), 0, 20),
            ("b".to_string(), 0, 30),
        ];
        let g = by_topic(&items);
        assert_eq!(
            g,
            vec![
                ("b".to_string(), vec![(1, 10), (0, 30)]),
                ("a".to_string(), vec![(0, 20)]),
            ]
        );
    }
}
