//! ACL enforcement per API, as Kafka's KafkaApis does it, kept out of the
//! handlers: before a handler runs, the parts of the request the principal
//! may not touch are taken out (so nothing is written or created for
//! them); after it, they are put back into the response with Kafka's
//! authorization error code. Read-only answers are filtered afterwards.
//!
//! Which operation each API needs (Kafka 4.1's KafkaApis):
//! Produce Write topic; Fetch Read topic; ListOffsets, Metadata Describe
//! topic (Metadata hides the topics it may not describe when listing all,
//! and auto-creates only with Create on the cluster or the topic);
//! CreateTopics Create cluster or topic; DeleteTopics, DeleteRecords
//! Delete topic; CreatePartitions Alter topic; DescribeConfigs
//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs AlterConfigs
//! on the topic or cluster; InitProducerId IdempotentWrite cluster or Write
//! on some topic (Write transactional id when transactional);
//! FindCoordinator, DescribeGroups, OffsetFetch Describe group; JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup, OffsetCommit Read group (OffsetCommit
//! also Read topic); DeleteGroups Delete group; OffsetDelete Delete group
//! and Read topic; ListGroups Describe cluster, else the groups it may
//! describe; DescribeAcls Describe cluster; CreateAcls, DeleteAcls Alter
//! cluster; DescribeProducers Read topic.

use std::sync::Arc;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::acl::{self, op, resource, Requester};
use crate::handlers::sasl::Session;
use crate::handlers::Ctx;
use crate::topic_id::topic_name;

pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;

/// One request's view of the authorizer.
pub struct Authz<'a> {
    ctx: &'a Ctx,
    /// None: ACLs are not enforced (SASL is off), everything is allowed.
    user: Option<&'a str>,
    host: String,
}

impl<'a> Authz<'a> {
    pub fn new(ctx: &'a Arc<Ctx>, session: &'a Session) -> Authz<'a> {
        let user = if ctx.config.sasl_users.is_some() {
            // Authenticated by now (dispatch refuses anything else); an
            // empty name matches no binding but `User:*`.
            Some(session.principal.as_deref().unwrap_or(""))
        } else {
            None
        };
        Authz {
            ctx,
            user,
            host: session.peer.map(|p| p.ip().to_string()).unwrap_or_default(),
        }
    }

    pub fn enforced(&self) -> bool {
        self.user.is_some()
    }

    pub fn ok(&self, resource_type: i8, name: &str, operation: i8) -> bool {
        let Some(user) = self.user else { return true };
        let who = Requester {
            user,
            host: &self.host,
        };
        acl::authorize(
            &self.ctx.acls.read(),
            &self.ctx.config.acl,
            &who,
            resource_type,
            name,
            operation,
        )
    }

    fn topic(&self, name: &str, operation: i8) -> bool {
        self.ok(resource::TOPIC, name, operation)
    }

    fn group(&self, name: &str, operation: i8) -> bool {
        self.ok(resource::GROUP, name, operation)
    }

    pub fn cluster(&self, operation: i8) -> bool {
        self.ok(resource::CLUSTER, acl::CLUSTER_NAME, operation)
    }

    fn any_topic(&self, operation: i8) -> bool {
        let Some(user) = self.user else { return true };
        let who = Requester {
            user,
            host: &self.host,
        };
        acl::authorize_any(
            &self.ctx.acls.read(),
            &self.ctx.config.acl,
            &who,
            resource::TOPIC,
            operation,
        )
    }

    /// The topic's name, from the name or (newer versions) its id.
    fn name(&self, name: &TopicName, id: uuid::Uuid) -> String {
        if name.0.is_empty() && !id.is_nil() {
            topic_name(&self.ctx.engine, id).unwrap_or_default()
        } else {
            name.0.to_string()
        }
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Takes out the items `keep` refuses and returns them.
fn split_off<T>(items: &mut Vec<T>, mut keep: impl FnMut(&T) -> bool) -> Vec<T> {
    let all = std::mem::take(items);
    let mut denied = Vec::new();
    for it in all {
        if keep(&it) {
            items.push(it);
        } else {
            denied.push(it);
        }
    }
    denied
}

// --- Produce -----------------------------------------------------------

pub fn produce_pre(az: &Authz, req: &mut ProduceRequest) -> Vec<produce_request::TopicProduceData> {
    split_off(&mut req.topic_data, |t| {
        az.topic(&az.name(&t.name, t.topic_id), op::WRITE)
    })
}

pub fn produce_post(denied: Vec<produce_request::TopicProduceData>, resp: &mut ProduceResponse) {
    for t in denied {
        let partitions = t
            .partition_data
            .iter()
            .map(|p| {
                produce_response::PartitionProduceResponse::default()
                    .with_index(p.index)
                    .with_error_code(TOPIC_AUTHORIZATION_FAILED)
                    .with_base_offset(-1)
                    .with_log_append_time_ms(-1)
                    .with_log_start_offset(-1)
            })
            .collect();
        resp.responses.push(
            produce_response::TopicProduceResponse::default()
                .with_name(t.name)
                .with_topic_id(t.topic_id)
                .with_partition_responses(partitions),
        );
    }
}

// --- Fetch -------------------------------------------------------------

pub fn fetch_pre(az: &Authz, req: &mut FetchRequest) -> Vec<fetch_request::FetchTopic> {
    split_off(&mut req.topics, |t| {
        az.topic(&az.name(&t.topic, t.topic_id), op::READ)
    })
}

pub fn fetch_post(denied: Vec<fetch_request::FetchTopic>, resp: &mut FetchResponse) {
    for t in denied {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                fetch_response::PartitionData::default()
                    .with_partition_index(p.partition)
                    .with_error_code(TOPIC_AUTHORIZATION_FAILED)
                    .with_high_watermark(-1)
                    .with_last_stable_offset(-1)
                    .with_log_start_offset(-1)
                    .with_records(Some(Default::default()))
            })
            .collect();
        resp.responses.push(
            fetch_response::FetchableTopicResponse::default()
                .with_topic(t.topic)
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
}

// --- ListOffsets (read-only: filtered afterwards) ------------------------

pub fn list_offsets_post(az: &Authz, resp: &mut ListOffsetsResponse) {
    for t in &mut resp.topics {
        if !az.topic(&t.name.0, op::DESCRIBE) {
            for p in &mut t.partitions {
                *p = list_offsets_response::ListOffsetsPartitionResponse::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(TOPIC_AUTHORIZATION_FAILED)
                    .with_timestamp(-1)
                    .with_offset(-1);
            }
        }
    }
}

// --- Metadata ----------------------------------------------------------

/// Takes out the named topics the principal may not describe; returns
/// them, and whether it may auto-create topics (Create on the cluster).
pub fn metadata_pre(
    az: &Authz,
    req: &mut MetadataRequest,
) -> Vec<metadata_request::MetadataRequestTopic> {
    match &mut req.topics {
        None => Vec::new(),
        Some(topics) => split_off(topics, |t| {
            let name = match &t.name {
                Some(n) => n.0.to_string(),
                None => topic_name(&az.ctx.engine, t.topic_id).unwrap_or_default(),
            };
            // A topic id that names nothing is answered by the handler.
            name.is_empty() || az.topic(&name, op::DESCRIBE)
        }),
    }
}

/// Whether a Metadata request may auto-create `name`.
pub fn may_create_topic(az: &Authz, name: &str) -> bool {
    az.cluster(op::CREATE) || az.topic(name, op::CREATE)
}

pub fn metadata_post(
    az: &Authz,
    listed_all: bool,
    denied: Vec<metadata_request::MetadataRequestTopic>,
    resp: &mut MetadataResponse,
) {
    if listed_all && az.enforced() {
        resp.topics.retain(|t| {
            t.name
                .as_ref()
                .is_some_and(|n| az.topic(&n.0, op::DESCRIBE))
        });
    }
    for t in denied {
        resp.topics.push(
            metadata_response::MetadataResponseTopic::default()
                .with_error_code(TOPIC_AUTHORIZATION_FAILED)
                .with_name(t.name)
                .with_topic_id(t.topic_id),
        );
    }
}

// --- CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords --------

pub fn create_topics_pre(
    az: &Authz,
    req: &mut CreateTopicsRequest,
) -> Vec<create_topics_request::CreatableTopic> {
    if az.cluster(op::CREATE) {
        return Vec::new();
    }
    split_off(&mut req.topics, |t| az.topic(&t.name.0, op::CREATE))
}

pub fn create_topics_post(
    denied: Vec<create_topics_request::CreatableTopic>,
    resp: &mut CreateTopicsResponse,
) {
    for t in denied {
        resp.topics.push(
            create_topics_response::CreatableTopicResult::default()
                .with_name(t.name)
                .with_error_code(TOPIC_AUTHORIZATION_FAILED)
                .with_error_message(Some(s("Authorization failed.")))
                .with_num_partitions(-1)
                .with_replication_factor(-1),
        );
    }
}

pub struct DeleteTopicsDenied {
    states: Vec<delete_topics_request::DeleteTopicState>,
    names: Vec<TopicName>,
}

pub fn delete_topics_pre(az: &Authz, req: &mut DeleteTopicsRequest) -> DeleteTopicsDenied {
    let states = split_off(&mut req.topics, |t| {
        let name = match &t.name {
            Some(n) => n.0.to_string(),
            None => topic_name(&az.ctx.engine, t.topic_id).unwrap_or_default(),
        };
        name.is_empty() || az.topic(&name, op::DELETE)
    });
    let names = split_off(&mut req.topic_names, |n| az.topic(&n.0, op::DELETE));
    DeleteTopicsDenied { states, names }
}

pub fn delete_topics_post(denied: DeleteTopicsDenied, resp: &mut DeleteTopicsResponse) {
    let failed = |name: Option<TopicName>, id: uuid::Uuid| {
        delete_topics_response::DeletableTopicResult::default()
            .with_name(name)
            .with_topic_id(id)
            .with_error_code(TOPIC_AUTHORIZATION_FAILED)
    };
    for t in denied.states {
        resp.responses.push(failed(t.name, t.topic_id));
    }
    for n in denied.names {
        resp.responses.push(failed(Some(n), uuid::Uuid::nil()));
    }
}

pub fn create_partitions_pre(
    az: &Authz,
    req: &mut CreatePartitionsRequest,
) -> Vec<create_partitions_request::CreatePartitionsTopic> {
    split_off(&mut req.topics, |t| az.topic(&t.name.0, op::ALTER))
}

pub fn create_partitions_post(
    denied: Vec<create_partitions_request::CreatePartitionsTopic>,
    resp: &mut CreatePartitionsResponse,
) {
    for t in denied {
        resp.results.push(
            create_partitions_response::CreatePartitionsTopicResult::default()
                .with_name(t.name)
                .with_error_code(TOPIC_AUTHORIZATION_FAILED)
                .with_error_message(Some(s("Authorization failed."))),
        );
    }
}

pub fn delete_records_pre(
    az: &Authz,
    req: &mut DeleteRecordsRequest,
) -> Vec<delete_records_request::DeleteRecordsTopic> {
    split_off(&mut req.topics, |t| az.topic(&t.name.0, op::DELETE))
}

pub fn delete_records_post(
    denied: Vec<delete_records_request::DeleteRecordsTopic>,
    resp: &mut DeleteRecordsResponse,
) {
    for t in denied {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                delete_records_response::DeleteRecordsPartitionResult::default()
                    .with_partition_index(p.partition_index)
                    .with_low_watermark(-1)
                    .with_error_code(TOPIC_AUTHORIZATION_FAILED)
            })
            .collect();
        resp.topics.push(
            delete_records_response::DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
}

// --- InitProducerId ----------------------------------------------------

/// The error InitProducerId answers instead of running, if any.
pub fn init_producer_id(az: &Authz, req: &InitProducerIdRequest) -> Option<i16> {
    match &req.transactional_id {
        Some(id) => (!az.ok(resource::TRANSACTIONAL_ID, &id.0, op::WRITE))
            .then_some(TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
        None => (!(az.cluster(op::IDEMPOTENT_WRITE) || az.any_topic(op::WRITE)))
            .then_some(CLUSTER_AUTHORIZATION_FAILED),
    }
}

// --- Configs -------------------------------------------------------------

/// The error for a config resource (2 topic, 4 broker), or None.
fn config_denied(az: &Authz, resource_type: i8, name: &str, operation: i8) -> Option<i16> {
    match resource_type {
        2 => (!az.topic(name, operation)).then_some(TOPIC_AUTHORIZATION_FAILED),
        // Broker and broker-logger configs are the cluster's.
        _ => (!az.cluster(operation)).then_some(CLUSTER_AUTHORIZATION_FAILED),
    }
}

pub fn describe_configs_pre(
    az: &Authz,
    req: &mut DescribeConfigsRequest,
) -> Vec<(describe_configs_request::DescribeConfigsResource, i16)> {
    let mut codes = Vec::new();
    let denied = split_off(&mut req.resources, |r| {
        match config_denied(az, r.resource_type, &r.resource_name, op::DESCRIBE_CONFIGS) {
            None => true,
            Some(c) => {
                codes.push(c);
                false
            }
        }
    });
    denied.into_iter().zip(codes).collect()
}

pub fn describe_configs_post(
    denied: Vec<(describe_configs_request::DescribeConfigsResource, i16)>,
    resp: &mut DescribeConfigsResponse,
) {
    for (r, code) in denied {
        resp.results.push(
            describe_configs_response::DescribeConfigsResult::default()
                .with_error_code(code)
                .with_error_message(Some(s("Authorization failed.")))
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
}

pub type AlterDenied = Vec<(i8, StrBytes, i16)>;

pub fn alter_configs_pre(az: &Authz, req: &mut AlterConfigsRequest) -> AlterDenied {
    let mut out = Vec::new();
    req.resources.retain(|r| {
        match config_denied(az, r.resource_type, &r.resource_name, op::ALTER_CONFIGS) {
            None => true,
            Some(c) => {
                out.push((r.resource_type, r.resource_name.clone(), c));
                false
            }
        }
    });
    out
}

pub fn incremental_alter_configs_pre(
    az: &Authz,
    req: &mut IncrementalAlterConfigsRequest,
) -> AlterDenied {
    let mut out = Vec::new();
    req.resources.retain(|r| {
        match config_denied(az, r.resource_type, &r.resource_name, op::ALTER_CONFIGS) {
            None => true,
            Some(c) => {
                out.push((r.resource_type, r.resource_name.clone(), c));
                false
            }
        }
    });
    out
}

pub fn alter_configs_post(denied: AlterDenied, resp: &mut AlterConfigsResponse) {
    for (rt, name, code) in denied {
        resp.responses.push(
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(Some(s("Authorization failed.")))
                .with_resource_type(rt)
                .with_resource_name(name),
        );
    }
}

pub fn incremental_alter_configs_post(
    denied: AlterDenied,
    resp: &mut IncrementalAlterConfigsResponse,
) {
    for (rt, name, code) in denied {
        resp.responses.push(
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(Some(s("Authorization failed.")))
                .with_resource_type(rt)
                .with_resource_name(name),
        );
    }
}

// --- Groups --------------------------------------------------------------

/// FindCoordinator: Describe on the group (key type 0) or the
/// transactional id (1), before v4 one key, from v4 a list.
pub fn find_coordinator_post(
    az: &Authz,
    req: &FindCoordinatorRequest,
    resp: &mut FindCoordinatorResponse,
) {
    let (rt, code) = if req.key_type == 1 {
        (
            resource::TRANSACTIONAL_ID,
            TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        )
    } else {
        (resource::GROUP, GROUP_AUTHORIZATION_FAILED)
    };
    if req.coordinator_keys.is_empty() {
        if !az.ok(rt, &req.key, op::DESCRIBE) {
            resp.error_code = code;
            resp.error_message = Some(s("Authorization failed."));
            resp.node_id = BrokerId(-1);
            resp.host = s("");
            resp.port = -1;
        }
        return;
    }
    for c in &mut resp.coordinators {
        if !az.ok(rt, &c.key, op::DESCRIBE) {
            c.error_code = code;
            c.error_message = Some(s("Authorization failed."));
            c.node_id = BrokerId(-1);
            c.host = s("");
            c.port = -1;
        }
    }
}

/// JoinGroup, SyncGroup, Heartbeat and LeaveGroup: Read on the group.
pub fn group_read(az: &Authz, group: &GroupId) -> bool {
    az.group(&group.0, op::READ)
}

pub fn offset_commit_pre(
    az: &Authz,
    req: &mut OffsetCommitRequest,
) -> (bool, Vec<offset_commit_request::OffsetCommitRequestTopic>) {
    if !az.group(&req.group_id.0, op::READ) {
        return (false, std::mem::take(&mut req.topics));
    }
    let denied = split_off(&mut req.topics, |t| {
        az.topic(&az.name(&t.name, t.topic_id), op::READ)
    });
    (true, denied)
}

pub fn offset_commit_post(
    (group_ok, denied): (bool, Vec<offset_commit_request::OffsetCommitRequestTopic>),
    resp: &mut OffsetCommitResponse,
) {
    let code = if group_ok {
        TOPIC_AUTHORIZATION_FAILED
    } else {
        GROUP_AUTHORIZATION_FAILED
    };
    for t in denied {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                offset_commit_response::OffsetCommitResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code)
            })
            .collect();
        resp.topics.push(
            offset_commit_response::OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
}

/// OffsetFetch: Describe on the group; topics it may not describe are
/// dropped from an all-topics answer and refused when asked for by name.
pub fn offset_fetch_post(az: &Authz, req: &OffsetFetchRequest, resp: &mut OffsetFetchResponse) {
    if !az.enforced() {
        return;
    }
    // Before v8: one group.
    if !req.group_id.0.is_empty() || req.groups.is_empty() {
        if !az.group(&req.group_id.0, op::DESCRIBE) {
            resp.error_code = GROUP_AUTHORIZATION_FAILED;
            resp.topics.clear();
            return;
        }
        let asked = req.topics.is_some();
        resp.topics
            .retain(|t| asked || az.topic(&t.name.0, op::DESCRIBE));
        for t in &mut resp.topics {
            if !az.topic(&t.name.0, op::DESCRIBE) {
                for p in &mut t.partitions {
                    p.committed_offset = -1;
                    p.metadata = Some(s(""));
                    p.error_code = TOPIC_AUTHORIZATION_FAILED;
                }
            }
        }
    }
    for g in &mut resp.groups {
        if !az.group(&g.group_id.0, op::DESCRIBE) {
            g.error_code = GROUP_AUTHORIZATION_FAILED;
            g.topics.clear();
            continue;
        }
        let asked = req
            .groups
            .iter()
            .find(|r| r.group_id == g.group_id)
            .is_some_and(|r| r.topics.is_some());
        g.topics
            .retain(|t| asked || az.topic(&t.name.0, op::DESCRIBE));
        for t in &mut g.topics {
            if !az.topic(&t.name.0, op::DESCRIBE) {
                for p in &mut t.partitions {
                    p.committed_offset = -1;
                    p.metadata = Some(s(""));
                    p.error_code = TOPIC_AUTHORIZATION_FAILED;
                }
            }
        }
    }
}

pub fn describe_groups_post(az: &Authz, resp: &mut DescribeGroupsResponse) {
    for g in &mut resp.groups {
        if !az.group(&g.group_id.0, op::DESCRIBE) {
            *g = describe_groups_response::DescribedGroup::default()
                .with_group_id(g.group_id.clone())
                .with_error_code(GROUP_AUTHORIZATION_FAILED)
                .with_error_message(Some(s("Authorization failed.")));
        }
    }
}

pub fn list_groups_post(az: &Authz, resp: &mut ListGroupsResponse) {
    if !az.cluster(op::DESCRIBE) {
        resp.groups
            .retain(|g| az.group(&g.group_id.0, op::DESCRIBE));
    }
}

pub fn delete_groups_pre(az: &Authz, req: &mut DeleteGroupsRequest) -> Vec<GroupId> {
    split_off(&mut req.groups_names, |g| az.group(&g.0, op::DELETE))
}

pub fn delete_groups_post(denied: Vec<GroupId>, resp: &mut DeleteGroupsResponse) {
    for g in denied {
        resp.results.push(
            delete_groups_response::DeletableGroupResult::default()
                .with_group_id(g)
                .with_error_code(GROUP_AUTHORIZATION_FAILED),
        );
    }
}

/// OffsetDelete: the group's error when Delete on it is refused, else the
/// topics taken out for want of Read.
pub fn offset_delete_pre(
    az: &Authz,
    req: &mut OffsetDeleteRequest,
) -> Result<Vec<offset_delete_request::OffsetDeleteRequestTopic>, i16> {
    if !az.group(&req.group_id.0, op::DELETE) {
        return Err(GROUP_AUTHORIZATION_FAILED);
    }
    Ok(split_off(&mut req.topics, |t| {
        az.topic(&t.name.0, op::READ)
    }))
}

pub fn offset_delete_post(
    denied: Vec<offset_delete_request::OffsetDeleteRequestTopic>,
    resp: &mut OffsetDeleteResponse,
) {
    for t in denied {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                offset_delete_response::OffsetDeleteResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(TOPIC_AUTHORIZATION_FAILED)
            })
            .collect();
        resp.topics.push(
            offset_delete_response::OffsetDeleteResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
}

// --- DescribeProducers ---------------------------------------------------

pub fn describe_producers_post(az: &Authz, resp: &mut DescribeProducersResponse) {
    for t in &mut resp.topics {
        if !az.topic(&t.name.0, op::READ) {
            for p in &mut t.partitions {
                p.error_code = TOPIC_AUTHORIZATION_FAILED;
                p.error_message = Some(s("Authorization failed."));
                p.active_producers.clear();
            }
        }
    }
}
