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

/// Kafka's error code for a topic the principal may not use.
pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
/// Kafka's error code for a group the principal may not use.
pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
/// Kafka's error code for a cluster-level operation the principal may not do.
pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
/// Kafka's error code for a transactional id the principal may not use.
pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;

/// One request's view of the authorizer.
pub struct Authz<'a> {
    ctx: &'a Ctx,
    /// None: ACLs are not enforced (SASL is off), everything is allowed.
    user: Option<&'a str>,
    host: String,
}

impl<'a> Authz<'a> {
    /// The authorizer for one request of `session`: enforcing only when the
    /// broker has SASL users (without them there is no principal to check).
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

    /// Whether ACLs are checked at all (false: every operation is allowed).
    pub fn enforced(&self) -> bool {
        self.user.is_some()
    }

    /// Whether the principal may do `operation` (an [`op`] code) on the
    /// resource of `resource_type` (a [`resource`] code) named `name`.
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

    /// Whether the principal may do `operation` on the cluster.
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

    /// A topic named in the request or, when the name is absent, by its id;
    /// empty when the id names nothing.
    fn name_or_id(&self, name: &Option<TopicName>, id: uuid::Uuid) -> String {
        match name {
            Some(n) => n.0.to_string(),
            None => topic_name(&self.ctx.engine, id).unwrap_or_default(),
        }
    }

    /// `code` unless the principal may do `operation` on the topic.
    fn topic_or(&self, name: &str, operation: i8, code: i16) -> Option<i16> {
        (!self.topic(name, operation)).then_some(code)
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn auth_failed() -> Option<StrBytes> {
    Some(s("Authorization failed."))
}

/// An API whose request carries a list of items (topics, groups, config
/// resources) that the principal may be refused one by one. Before the
/// handler runs, [`pre`] takes the refused items out of the request, so
/// nothing is written or created for them; after it, [`post`] answers each
/// with its error code in the response. Adding such an API is one impl.
pub trait Guard {
    /// The decoded request.
    type Request;
    /// The handler's response, which the refusals are added to.
    type Response;
    /// One item of the request's list.
    type Item;
    /// The request's list of items.
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item>;
    /// The error code refusing `item`, or None when it is allowed. `req` is
    /// the request without its items, for what applies to all of them (the
    /// group of an OffsetCommit, say).
    fn refusal(az: &Authz, req: &Self::Request, item: &Self::Item) -> Option<i16>;
    /// Adds the answer to a refused `item` to `resp`.
    fn answer(item: Self::Item, code: i16, resp: &mut Self::Response);
}

/// The items of one request that [`pre`] took out, with their error codes.
pub struct Denied<G: Guard>(Vec<(G::Item, i16)>);

impl<G: Guard> Denied<G> {
    /// Whether every item was allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Takes the items the principal is refused out of `req` and returns them.
pub fn pre<G: Guard>(az: &Authz, req: &mut G::Request) -> Denied<G> {
    let all = std::mem::take(G::items(req));
    let mut kept = Vec::with_capacity(all.len());
    let mut denied = Vec::new();
    for item in all {
        match G::refusal(az, req, &item) {
            None => kept.push(item),
            Some(code) => denied.push((item, code)),
        }
    }
    *G::items(req) = kept;
    Denied(denied)
}

/// Answers every item [`pre`] took out, in the request's order.
pub fn post<G: Guard>(denied: Denied<G>, resp: &mut G::Response) {
    for (item, code) in denied.0 {
        G::answer(item, code, resp);
    }
}

/// Produce: Write on each topic.
pub enum Produce {}

impl Guard for Produce {
    type Request = ProduceRequest;
    type Response = ProduceResponse;
    type Item = produce_request::TopicProduceData;
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        &mut req.topic_data
    }
    fn refusal(az: &Authz, _: &Self::Request, t: &Self::Item) -> Option<i16> {
        az.topic_or(
            &az.name(&t.name, t.topic_id),
            op::WRITE,
            TOPIC_AUTHORIZATION_FAILED,
        )
    }
    fn answer(t: Self::Item, code: i16, resp: &mut Self::Response) {
        let partitions = t
            .partition_data
            .iter()
            .map(|p| {
                produce_response::PartitionProduceResponse::default()
                    .with_index(p.index)
                    .with_error_code(code)
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

/// Fetch: Read on each topic.
pub enum Fetch {}

impl Guard for Fetch {
    type Request = FetchRequest;
    type Response = FetchResponse;
    type Item = fetch_request::FetchTopic;
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        &mut req.topics
    }
    fn refusal(az: &Authz, _: &Self::Request, t: &Self::Item) -> Option<i16> {
        az.topic_or(
            &az.name(&t.topic, t.topic_id),
            op::READ,
            TOPIC_AUTHORIZATION_FAILED,
        )
    }
    fn answer(t: Self::Item, code: i16, resp: &mut Self::Response) {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                fetch_response::PartitionData::default()
                    .with_partition_index(p.partition)
                    .with_error_code(code)
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

/// ListOffsets: the partitions of a topic the principal may not describe
/// answer TOPIC_AUTHORIZATION_FAILED instead of their offsets.
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

/// Metadata: Describe on each topic named (a listing of all topics is
/// filtered afterwards by [`metadata_post`]).
pub enum Metadata {}

impl Guard for Metadata {
    type Request = MetadataRequest;
    type Response = MetadataResponse;
    type Item = metadata_request::MetadataRequestTopic;
    /// Only called by [`metadata_pre`] when the request names topics.
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        req.topics.get_or_insert_with(Vec::new)
    }
    fn refusal(az: &Authz, _: &Self::Request, t: &Self::Item) -> Option<i16> {
        let name = az.name_or_id(&t.name, t.topic_id);
        // A topic id that names nothing is answered by the handler.
        if name.is_empty() {
            return None;
        }
        az.topic_or(&name, op::DESCRIBE, TOPIC_AUTHORIZATION_FAILED)
    }
    fn answer(t: Self::Item, code: i16, resp: &mut Self::Response) {
        resp.topics.push(
            metadata_response::MetadataResponseTopic::default()
                .with_error_code(code)
                .with_name(t.name)
                .with_topic_id(t.topic_id),
        );
    }
}

/// Takes out the named topics the principal may not describe and returns
/// them; a request for all topics (no list) is left as it is.
pub fn metadata_pre(az: &Authz, req: &mut MetadataRequest) -> Denied<Metadata> {
    if req.topics.is_none() {
        return Denied(Vec::new());
    }
    pre::<Metadata>(az, req)
}

/// Whether a Metadata request may auto-create `name`.
pub fn may_create_topic(az: &Authz, name: &str) -> bool {
    az.cluster(op::CREATE) || az.topic(name, op::CREATE)
}

/// Metadata: drops the topics the principal may not describe from a
/// listing of all topics, and answers the named ones [`metadata_pre`] took
/// out.
pub fn metadata_post(
    az: &Authz,
    listed_all: bool,
    denied: Denied<Metadata>,
    resp: &mut MetadataResponse,
) {
    if listed_all && az.enforced() {
        resp.topics.retain(|t| {
            t.name
                .as_ref()
                .is_some_and(|n| az.topic(&n.0, op::DESCRIBE))
        });
    }
    post(denied, resp);
}

// --- CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords --------

/// CreateTopics: Create on the cluster, or else on each topic.
pub enum CreateTopics {}

impl Guard for CreateTopics {
    type Request = CreateTopicsRequest;
    type Response = CreateTopicsResponse;
    type Item = create_topics_request::CreatableTopic;
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        &mut req.topics
    }
    fn refusal(az: &Authz, _: &Self::Request, t: &Self::Item) -> Option<i16> {
        if az.cluster(op::CREATE) {
            return None;
        }
        az.topic_or(&t.name.0, op::CREATE, TOPIC_AUTHORIZATION_FAILED)
    }
    fn answer(t: Self::Item, code: i16, resp: &mut Self::Response) {
        resp.topics.push(
            create_topics_response::CreatableTopicResult::default()
                .with_name(t.name)
                .with_error_code(code)
                .with_error_message(auth_failed())
                .with_num_partitions(-1)
                .with_replication_factor(-1),
        );
    }
}

/// DeleteTopics from v6: Delete on each topic, named or given by id.
pub enum DeleteTopicStates {}

impl Guard for DeleteTopicStates {
    type Request = DeleteTopicsRequest;
    type Response = DeleteTopicsResponse;
    type Item = delete_topics_request::DeleteTopicState;
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        &mut req.topics
    }
    fn refusal(az: &Authz, _: &Self::Request, t: &Self::Item) -> Option<i16> {
        let name = az.name_or_id(&t.name, t.topic_id);
        // A topic id that names nothing is answered by the handler.
        if name.is_empty() {
            return None;
        }
        az.topic_or(&name, op::DELETE, TOPIC_AUTHORIZATION_FAILED)
    }
    fn answer(t: Self::Item, code: i16, resp: &mut Self::Response) {
        resp.responses.push(
            delete_topics_response::DeletableTopicResult::default()
                .with_name(t.name)
                .with_topic_id(t.topic_id)
                .with_error_code(code),
        );
    }
}

/// DeleteTopics before v6: Delete on each topic named.
pub enum DeleteTopicNames {}

impl Guard for DeleteTopicNames {
    type Request = DeleteTopicsRequest;
    type Response = DeleteTopicsResponse;
    type Item = TopicName;
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        &mut req.topic_names
    }
    fn refusal(az: &Authz, _: &Self::Request, n: &Self::Item) -> Option<i16> {
        az.topic_or(&n.0, op::DELETE, TOPIC_AUTHORIZATION_FAILED)
    }
    fn answer(n: Self::Item, code: i16, resp: &mut Self::Response) {
        resp.responses.push(
            delete_topics_response::DeletableTopicResult::default()
                .with_name(Some(n))
                .with_topic_id(uuid::Uuid::nil())
                .with_error_code(code),
        );
    }
}

/// CreatePartitions: Alter on each topic.
pub enum CreatePartitions {}

impl Guard for CreatePartitions {
    type Request = CreatePartitionsRequest;
    type Response = CreatePartitionsResponse;
    type Item = create_partitions_request::CreatePartitionsTopic;
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        &mut req.topics
    }
    fn refusal(az: &Authz, _: &Self::Request, t: &Self::Item) -> Option<i16> {
        az.topic_or(&t.name.0, op::ALTER, TOPIC_AUTHORIZATION_FAILED)
    }
    fn answer(t: Self::Item, code: i16, resp: &mut Self::Response) {
        resp.results.push(
            create_partitions_response::CreatePartitionsTopicResult::default()
                .with_name(t.name)
                .with_error_code(code)
                .with_error_message(auth_failed()),
        );
    }
}

/// DeleteRecords: Delete on each topic.
pub enum DeleteRecords {}

impl Guard for DeleteRecords {
    type Request = DeleteRecordsRequest;
    type Response = DeleteRecordsResponse;
    type Item = delete_records_request::DeleteRecordsTopic;
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        &mut req.topics
    }
    fn refusal(az: &Authz, _: &Self::Request, t: &Self::Item) -> Option<i16> {
        az.topic_or(&t.name.0, op::DELETE, TOPIC_AUTHORIZATION_FAILED)
    }
    fn answer(t: Self::Item, code: i16, resp: &mut Self::Response) {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                delete_records_response::DeleteRecordsPartitionResult::default()
                    .with_partition_index(p.partition_index)
                    .with_low_watermark(-1)
                    .with_error_code(code)
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

/// A [`Guard`] for a configs API: `$op` on each topic resource, or on the
/// cluster for broker resources; the three APIs differ only in types.
macro_rules! config_guard {
    ($(#[$doc:meta])* $name:ident, $req:ty, $resp:ty, $item:ty, $answers:ident, $answer:ty, $op:expr) => {
        $(#[$doc])*
        pub enum $name {}

        impl Guard for $name {
            type Request = $req;
            type Response = $resp;
            type Item = $item;
            fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
                &mut req.resources
            }
            fn refusal(az: &Authz, _: &Self::Request, r: &Self::Item) -> Option<i16> {
                config_denied(az, r.resource_type, &r.resource_name, $op)
            }
            fn answer(r: Self::Item, code: i16, resp: &mut Self::Response) {
                resp.$answers.push(
                    <$answer>::default()
                        .with_error_code(code)
                        .with_error_message(auth_failed())
                        .with_resource_type(r.resource_type)
                        .with_resource_name(r.resource_name),
                );
            }
        }
    };
}

config_guard!(
    /// DescribeConfigs: DescribeConfigs on each topic, or on the cluster
    /// for broker resources.
    DescribeConfigs,
    DescribeConfigsRequest,
    DescribeConfigsResponse,
    describe_configs_request::DescribeConfigsResource,
    results,
    describe_configs_response::DescribeConfigsResult,
    op::DESCRIBE_CONFIGS
);
config_guard!(
    /// AlterConfigs: AlterConfigs on each topic, or on the cluster for
    /// broker resources.
    AlterConfigs,
    AlterConfigsRequest,
    AlterConfigsResponse,
    alter_configs_request::AlterConfigsResource,
    responses,
    alter_configs_response::AlterConfigsResourceResponse,
    op::ALTER_CONFIGS
);
config_guard!(
    /// IncrementalAlterConfigs: as [`AlterConfigs`].
    IncrementalAlterConfigs,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
    incremental_alter_configs_request::AlterConfigsResource,
    responses,
    incremental_alter_configs_response::AlterConfigsResourceResponse,
    op::ALTER_CONFIGS
);

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
            resp.error_message = auth_failed();
            resp.node_id = BrokerId(-1);
            resp.host = s("");
            resp.port = -1;
        }
        return;
    }
    for c in &mut resp.coordinators {
        if !az.ok(rt, &c.key, op::DESCRIBE) {
            c.error_code = code;
            c.error_message = auth_failed();
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

/// OffsetCommit: Read on the group (refused, every topic answers
/// GROUP_AUTHORIZATION_FAILED), then Read on each topic.
pub enum OffsetCommit {}

impl Guard for OffsetCommit {
    type Request = OffsetCommitRequest;
    type Response = OffsetCommitResponse;
    type Item = offset_commit_request::OffsetCommitRequestTopic;
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        &mut req.topics
    }
    fn refusal(az: &Authz, req: &Self::Request, t: &Self::Item) -> Option<i16> {
        if !az.group(&req.group_id.0, op::READ) {
            return Some(GROUP_AUTHORIZATION_FAILED);
        }
        az.topic_or(
            &az.name(&t.name, t.topic_id),
            op::READ,
            TOPIC_AUTHORIZATION_FAILED,
        )
    }
    fn answer(t: Self::Item, code: i16, resp: &mut Self::Response) {
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

/// DescribeGroups: a group the principal may not describe answers
/// GROUP_AUTHORIZATION_FAILED and nothing else.
pub fn describe_groups_post(az: &Authz, resp: &mut DescribeGroupsResponse) {
    for g in &mut resp.groups {
        if !az.group(&g.group_id.0, op::DESCRIBE) {
            *g = describe_groups_response::DescribedGroup::default()
                .with_group_id(g.group_id.clone())
                .with_error_code(GROUP_AUTHORIZATION_FAILED)
                .with_error_message(auth_failed());
        }
    }
}

/// ListGroups: Describe on the cluster lists every group; without it, only
/// the groups the principal may describe.
pub fn list_groups_post(az: &Authz, resp: &mut ListGroupsResponse) {
    if !az.cluster(op::DESCRIBE) {
        resp.groups
            .retain(|g| az.group(&g.group_id.0, op::DESCRIBE));
    }
}

/// DeleteGroups: Delete on each group.
pub enum DeleteGroups {}

impl Guard for DeleteGroups {
    type Request = DeleteGroupsRequest;
    type Response = DeleteGroupsResponse;
    type Item = GroupId;
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        &mut req.groups_names
    }
    fn refusal(az: &Authz, _: &Self::Request, g: &Self::Item) -> Option<i16> {
        (!az.group(&g.0, op::DELETE)).then_some(GROUP_AUTHORIZATION_FAILED)
    }
    fn answer(g: Self::Item, code: i16, resp: &mut Self::Response) {
        resp.results.push(
            delete_groups_response::DeletableGroupResult::default()
                .with_group_id(g)
                .with_error_code(code),
        );
    }
}

/// OffsetDelete: Read on each topic, once [`offset_delete_group`] allowed
/// the group.
pub enum OffsetDelete {}

impl Guard for OffsetDelete {
    type Request = OffsetDeleteRequest;
    type Response = OffsetDeleteResponse;
    type Item = offset_delete_request::OffsetDeleteRequestTopic;
    fn items(req: &mut Self::Request) -> &mut Vec<Self::Item> {
        &mut req.topics
    }
    fn refusal(az: &Authz, _: &Self::Request, t: &Self::Item) -> Option<i16> {
        az.topic_or(&t.name.0, op::READ, TOPIC_AUTHORIZATION_FAILED)
    }
    fn answer(t: Self::Item, code: i16, resp: &mut Self::Response) {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                offset_delete_response::OffsetDeleteResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code)
            })
            .collect();
        resp.topics.push(
            offset_delete_response::OffsetDeleteResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
}

/// OffsetDelete: the error the whole request answers when Delete on its
/// group is refused (the handler does not run), else None.
pub fn offset_delete_group(az: &Authz, req: &OffsetDeleteRequest) -> Option<i16> {
    (!az.group(&req.group_id.0, op::DELETE)).then_some(GROUP_AUTHORIZATION_FAILED)
}

// --- DescribeProducers ---------------------------------------------------

/// DescribeProducers: the partitions of a topic the principal may not read
/// answer TOPIC_AUTHORIZATION_FAILED and no producers.
pub fn describe_producers_post(az: &Authz, resp: &mut DescribeProducersResponse) {
    for t in &mut resp.topics {
        if !az.topic(&t.name.0, op::READ) {
            for p in &mut t.partitions {
                p.error_code = TOPIC_AUTHORIZATION_FAILED;
                p.error_message = auth_failed();
                p.active_producers.clear();
            }
        }
    }
}
