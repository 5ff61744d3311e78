//! Metadata and DescribeCluster: one broker, leader of every partition.

use std::sync::Arc;

use ferrolog_engine::Topic;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, MetadataRequest, MetadataResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::{topic_or_create, Ctx};
use crate::errors;
use crate::topic_id::{topic_id, topic_name};

fn describe(ctx: &Ctx, t: &Topic) -> MetadataResponseTopic {
    let node = BrokerId(ctx.config.node_id);
    let partitions = (0..t.partition_count())
        .map(|p| {
            MetadataResponsePartition::default()
                .with_error_code(errors::NONE)
                .with_partition_index(p as i32)
                .with_leader_id(node)
                .with_leader_epoch(0)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_error_code(errors::NONE)
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(topic_id(&t.name))
        .with_partitions(partitions)
}

fn failed(name: Option<String>, id: Uuid, code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code)
        .with_name(name.map(|n| TopicName(StrBytes::from_string(n))))
        .with_topic_id(id)
}

/// `may_create` says whether the requester may auto-create a topic
/// (Create on the cluster or the topic, when ACLs are enforced).
pub async fn handle(
    ctx: &Arc<Ctx>,
    req: MetadataRequest,
    version: i16,
    may_create: &(dyn Fn(&str) -> bool + Sync),
) -> MetadataResponse {
    // v0 asks for every topic with an empty list; v1+ with a null one.
    let all = match &req.topics {
        None => true,
        Some(t) => t.is_empty() && version == 0,
    };
    // Before v4 the field does not exist and Kafka always auto-creates.
    let may_create_any = version < 4 || req.allow_auto_topic_creation;
    let mut topics = Vec::new();
    if all {
        for t in ctx.engine.topics() {
            topics.push(describe(ctx, &t));
        }
    } else {
        for wanted in req.topics.unwrap_or_default() {
            let name = match wanted.name {
                Some(n) => n.0.to_string(),
                None => match topic_name(&ctx.engine, wanted.topic_id) {
                    Some(n) => n,
                    None => {
                        topics.push(failed(None, wanted.topic_id, errors::UNKNOWN_TOPIC_ID));
                        continue;
                    }
                },
            };
            let create = may_create_any && may_create(&name);
            match topic_or_create(ctx, &name, create).await {
                Ok(t) => topics.push(describe(ctx, &t)),
                Err(ferrolog_engine::Error::InvalidArgument(_)) => topics.push(failed(
                    Some(name),
                    Uuid::nil(),
                    errors::INVALID_TOPIC_EXCEPTION,
                )),
                Err(e) => topics.push(failed(Some(name), Uuid::nil(), errors::code_of(&e))),
            }
        }
    }
    let (host, port) = ctx.advertised.clone();
    MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(ctx.config.node_id))
            .with_host(StrBytes::from_string(host))
            .with_port(i32::from(port))])
        .with_cluster_id(Some(StrBytes::from_string(ctx.config.cluster_id.clone())))
        .with_controller_id(BrokerId(ctx.config.node_id))
        .with_topics(topics)
}

pub fn describe_cluster(ctx: &Ctx, req: &DescribeClusterRequest) -> DescribeClusterResponse {
    let (host, port) = ctx.advertised.clone();
    DescribeClusterResponse::default()
        .with_error_code(errors::NONE)
        .with_endpoint_type(req.endpoint_type)
        .with_cluster_id(StrBytes::from_string(ctx.config.cluster_id.clone()))
        .with_controller_id(BrokerId(ctx.config.node_id))
        .with_brokers(vec![DescribeClusterBroker::default()
            .with_broker_id(BrokerId(ctx.config.node_id))
            .with_host(StrBytes::from_string(host))
            .with_port(i32::from(port))])
}
