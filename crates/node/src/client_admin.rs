//! Partition reassignment on the remote client (AlterPartitionReassignments,
//! ListPartitionReassignments): one native call per admin call, per-partition
//! results. A child module of `client.rs`, whose promise plumbing it shares.

use ferrolog_client as fc;
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;

use super::{promise, RemoteClient};
use crate::Result;

#[napi(object)]
pub struct RemoteReassignment {
    pub topic: String,
    pub partition: i32,
    /// The wanted replicas; omitted or null cancels a reassignment in progress.
    pub replicas: Option<Vec<i32>>,
}

#[napi(object)]
pub struct RemoteReassignmentResult {
    pub topic: String,
    pub partition: i32,
    pub error_code: i32,
    pub error_message: Option<String>,
}

#[napi(object)]
pub struct RemoteTopicPartitions {
    pub topic: String,
    pub partitions: Vec<i32>,
}

#[napi(object)]
pub struct RemoteOngoingReassignment {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub adding_replicas: Vec<i32>,
    pub removing_replicas: Vec<i32>,
}

#[napi]
impl RemoteClient {
    #[napi(ts_return_type = "Promise<RemoteReassignmentResult[]>")]
    pub fn alter_partition_reassignments<'env>(
        &self,
        env: &'env Env,
        partitions: Vec<RemoteReassignment>,
        timeout_ms: i32,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let req = partitions
            .into_iter()
            .map(|p| fc::ReassignmentRequest {
                topic: p.topic,
                partition: p.partition,
                replicas: p.replicas,
            })
            .collect();
        promise(
            env,
            async move { c.alter_partition_reassignments(req, timeout_ms).await },
            |v| {
                Ok(v.into_iter()
                    .map(|r| RemoteReassignmentResult {
                        topic: r.topic,
                        partition: r.partition,
                        error_code: r.error_code.into(),
                        error_message: r.error_message,
                    })
                    .collect::<Vec<_>>())
            },
        )
    }

    /// `topics` null: every partition being moved.
    #[napi(ts_return_type = "Promise<RemoteOngoingReassignment[]>")]
    pub fn list_partition_reassignments<'env>(
        &self,
        env: &'env Env,
        topics: Option<Vec<RemoteTopicPartitions>>,
        timeout_ms: i32,
    ) -> Result<Object<'env>> {
        let c = self.get()?;
        let req = topics.map(|ts| {
            ts.into_iter()
                .flat_map(|t| {
                    let topic = t.topic;
                    t.partitions.into_iter().map(move |p| (topic.clone(), p))
                })
                .collect()
        });
        promise(
            env,
            async move { c.list_partition_reassignments(req, timeout_ms).await },
            |v| {
                Ok(v.into_iter()
                    .map(|r| RemoteOngoingReassignment {
                        topic: r.topic,
                        partition: r.partition,
                        replicas: r.replicas,
                        adding_replicas: r.adding_replicas,
                        removing_replicas: r.removing_replicas,
                    })
                    .collect::<Vec<_>>())
            },
        )
    }
}
