//! FindCoordinator and the classic group protocol, as typed wrappers routed to the
//! group's coordinator (found again on NOT_COORDINATOR and the like).

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest,
    JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetFetchRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::Request;

use crate::admin::NamedResult;
use crate::client::{name, opt_string, sb, BrokerMeta, Client, Lane};
use crate::error::{codes, is_coordinator_error, Error, Result};

fn gid(s: &str) -> GroupId {
    GroupId(sb(s))
}

/// One member of the group as JoinGroup tells its leader, for the assignment.
#[derive(Clone, Debug)]
pub struct JoinGroupMember {
    /// The member's id, to key its assignment in [`Client::sync_group`].
    pub member_id: String,
    /// The member's static id (KIP-345), when it has one.
    pub group_instance_id: Option<String>,
    /// The member's subscription metadata for the chosen protocol, as it sent it
    /// (for consumers, Kafka's ConsumerProtocolSubscription bytes).
    pub metadata: Bytes,
}

/// The coordinator's answer to [`Client::join_group`].
#[derive(Clone, Debug)]
pub struct JoinGroupResult {
    /// Kafka's error code (e.g. UNKNOWN_MEMBER_ID, 25; INCONSISTENT_GROUP_PROTOCOL,
    /// 23; FENCED_INSTANCE_ID, 82); 0 when joined, and the fields below are valid.
    pub error_code: i16,
    /// The group's new generation, for SyncGroup, Heartbeat and OffsetCommit.
    pub generation_id: i32,
    /// The protocol (assignor) the coordinator chose among the members' common ones.
    pub protocol_name: Option<String>,
    /// The leader's member id: when it equals `member_id`, this member assigns.
    pub leader: String,
    /// This member's id (the one the coordinator assigned on a first join).
    pub member_id: String,
    /// Filled for the leader only.
    pub members: Vec<JoinGroupMember>,
}

/// What [`Client::join_group`] sends.
#[derive(Clone, Debug)]
pub struct JoinGroupArgs {
    /// The group to join.
    pub group_id: String,
    /// How long (ms) the coordinator waits for a heartbeat before removing the
    /// member; within the broker's group.min/max.session.timeout.ms, else
    /// INVALID_SESSION_TIMEOUT (26).
    pub session_timeout_ms: i32,
    /// How long (ms) the coordinator waits for every member to rejoin in a
    /// rebalance; the client also waits this long, on top of the request timeout,
    /// for the answer.
    pub rebalance_timeout_ms: i32,
    /// Empty on a first join (the coordinator assigns one), else the member's id.
    pub member_id: String,
    /// A static member's id (KIP-345, JoinGroup v5+); `None` for a dynamic member.
    pub group_instance_id: Option<String>,
    /// The group's protocol type, `consumer` for consumers.
    pub protocol_type: String,
    /// (assignor name, subscription metadata)
    pub protocols: Vec<(String, Bytes)>,
}

/// One partition's offset for [`Client::offset_commit`].
#[derive(Clone, Debug)]
pub struct CommitOffset {
    /// The partition's topic.
    pub topic: String,
    /// The partition's index.
    pub partition: i32,
    /// The next offset to consume (the last processed one plus one).
    pub offset: i64,
    /// Free text kept with the offset (`None` is sent as empty); the broker limits
    /// it to `offset.metadata.max.bytes` (4096 by default).
    pub metadata: Option<String>,
}

/// One partition's outcome of [`Client::offset_commit`] (the offset and metadata
/// sent) or [`Client::offset_fetch`] (the ones the group has committed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The partition's topic.
    pub topic: String,
    /// The partition's index.
    pub partition: i32,
    /// -1 when the group has no committed offset for the partition.
    pub offset: i64,
    /// The metadata committed with the offset.
    pub metadata: Option<String>,
    /// Kafka's error code for the partition (e.g. ILLEGAL_GENERATION, 22;
    /// REBALANCE_IN_PROGRESS, 27, on commit); 0 on success.
    pub error_code: i16,
}

/// One member of a described group.
#[derive(Clone, Debug)]
pub struct GroupMemberDescription {
    /// The member's id.
    pub member_id: String,
    /// The member's static id (KIP-345), when it has one.
    pub group_instance_id: Option<String>,
    /// The client id the member connected with.
    pub client_id: String,
    /// The member's address as the coordinator saw it (`/10.0.0.5`).
    pub client_host: String,
    /// Its subscription metadata, as sent in JoinGroup (empty unless the group is
    /// Stable).
    pub member_metadata: Bytes,
    /// Its assignment, as the leader sent it in SyncGroup (empty unless Stable).
    pub member_assignment: Bytes,
}

/// One group's answer to [`Client::describe_groups`].
#[derive(Clone, Debug)]
pub struct GroupDescription {
    /// The group's id.
    pub group_id: String,
    /// Kafka's error code for the group (e.g. GROUP_AUTHORIZATION_FAILED, 30); 0
    /// when described.
    pub error_code: i16,
    /// `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable` or `Dead`.
    pub state: String,
    /// The group's protocol type (`consumer`, or empty for a group that only
    /// commits offsets).
    pub protocol_type: String,
    /// The protocol (assignor) chosen when Stable, such as `range`; else empty.
    pub protocol: String,
    /// The group's members.
    pub members: Vec<GroupMemberDescription>,
}

/// One group as ListGroups reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedGroup {
    /// The group's id.
    pub group_id: String,
    /// The group's protocol type (`consumer`, or empty for a group that only
    /// commits offsets).
    pub protocol_type: String,
    /// The group's state, as in [`GroupDescription::state`]; empty from a broker
    /// whose ListGroups is older than v4.
    pub state: String,
}

impl Client {
    /// The node id of the coordinator for a group (`key_type` 0) or transactional id (1).
    pub async fn find_coordinator(&self, key: &str, key_type: i8) -> Result<i32> {
        if let Some(n) = self
            .inner
            .coordinators
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(key_type, key.to_string()))
        {
            return Ok(*n);
        }
        let mut last = Error::kafka(codes::COORDINATOR_NOT_AVAILABLE, "no coordinator");
        for attempt in 0..=self.config().retries {
            if attempt > 0 {
                self.backoff(attempt - 1).await;
            }
            let conn = match self.any_conn().await {
                Ok(c) => c,
                Err(e) if e.is_retriable() => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let v = conn.version::<FindCoordinatorRequest>(i16::MAX)?;
            let mut req = FindCoordinatorRequest::default();
            if v >= 4 {
                req = req.with_coordinator_keys(vec![sb(key)]);
            } else {
                req = req.with_key(sb(key));
            }
            if v >= 1 {
                req = req.with_key_type(key_type);
            } else if key_type != 0 {
                return Err(Error::UnsupportedVersion {
                    api_key: FindCoordinatorRequest::KEY,
                });
            }
            let resp = match conn.send(&req, v).await {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (code, msg, node, host, port) = if v >= 4 {
                match resp.coordinators.first() {
                    Some(c) => (
                        c.error_code,
                        opt_string(&c.error_message),
                        c.node_id.0,
                        c.host.to_string(),
                        c.port,
                    ),
                    None => (codes::COORDINATOR_NOT_AVAILABLE, None, -1, String::new(), 0),
                }
            } else {
                (
                    resp.error_code,
                    opt_string(&resp.error_message),
                    resp.node_id.0,
                    resp.host.to_string(),
                    resp.port,
                )
            };
            if code != codes::NONE {
                last = Error::kafka(
                    code,
                    msg.unwrap_or_else(|| "FindCoordinator failed".to_string()),
                );
                if is_coordinator_error(code) {
                    continue;
                }
                return Err(last);
            }
            self.remember_broker(BrokerMeta {
                node_id: node,
                host,
                port,
                rack: None,
            });
            self.inner
                .coordinators
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((key_type, key.to_string()), node);
            return Ok(node);
        }
        Err(last)
    }

    fn forget_coordinator(&self, key: &str) {
        self.inner
            .coordinators
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(0, key.to_string()));
    }

    /// Sends a group request to the group's coordinator; finds it again and retries
    /// on coordinator errors and connection loss.
    async fn group_call<R: Request>(
        &self,
        group: &str,
        extra_wait: Duration,
        build: impl Fn(i16) -> R,
        code: impl Fn(&R::Response) -> i16,
    ) -> Result<R::Response> {
        let mut last = Error::kafka(codes::COORDINATOR_NOT_AVAILABLE, "no coordinator");
        for attempt in 0..=self.config().retries {
            if attempt > 0 {
                self.backoff(attempt - 1).await;
            }
            let conn = match self.find_coordinator(group, 0).await {
                Ok(node) => self.conn_node_lane(Lane::Group, node).await,
                Err(e) => Err(e),
            };
            let conn = match conn {
                Ok(c) => c,
                Err(e) if e.is_retriable() => {
                    self.forget_coordinator(group);
                    last = e;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let v = conn.version::<R>(i16::MAX)?;
            match conn.send_with_wait(&build(v), v, extra_wait).await {
                Ok(r) if is_coordinator_error(code(&r)) => {
                    self.forget_coordinator(group);
                    last = Error::kafka(code(&r), "coordinator moved");
                }
                Ok(r) => return Ok(r),
                Err(e) if e.is_retriable() => {
                    self.forget_coordinator(group);
                    last = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// JoinGroup. A MEMBER_ID_REQUIRED answer (KIP-394) is followed by the join with
    /// the id the coordinator assigned, as the Java client does.
    pub async fn join_group(&self, args: JoinGroupArgs) -> Result<JoinGroupResult> {
        let mut member_id = args.member_id.clone();
        let wait = Duration::from_millis(args.rebalance_timeout_ms.max(0) as u64);
        for _ in 0..2 {
            let build = |v: i16| {
                let mut req = JoinGroupRequest::default()
                    .with_group_id(gid(&args.group_id))
                    .with_session_timeout_ms(args.session_timeout_ms)
                    .with_member_id(sb(&member_id))
                    .with_protocol_type(sb(&args.protocol_type))
                    .with_protocols(
                        args.protocols
                            .iter()
                            .map(|(n, m)| {
                                JoinGroupRequestProtocol::default()
                                    .with_name(sb(n))
                                    .with_metadata(m.clone())
                            })
                            .collect(),
                    );
                if v >= 1 {
                    req = req.with_rebalance_timeout_ms(args.rebalance_timeout_ms);
                }
                if v >= 5 {
                    req = req.with_group_instance_id(args.group_instance_id.as_deref().map(sb));
                }
                req
            };
            let r = self
                .group_call(&args.group_id, wait, build, |r| r.error_code)
                .await?;
            if r.error_code == codes::MEMBER_ID_REQUIRED && member_id.is_empty() {
                member_id = r.member_id.to_string();
                continue;
            }
            return Ok(JoinGroupResult {
                error_code: r.error_code,
                generation_id: r.generation_id,
                protocol_name: opt_string(&r.protocol_name),
                leader: r.leader.to_string(),
                member_id: r.member_id.to_string(),
                members: r
                    .members
                    .into_iter()
                    .map(|m| JoinGroupMember {
                        member_id: m.member_id.to_string(),
                        group_instance_id: opt_string(&m.group_instance_id),
                        metadata: m.metadata,
                    })
                    .collect(),
            });
        }
        Err(Error::kafka(
            codes::MEMBER_ID_REQUIRED,
            "the coordinator kept asking for a member id",
        ))
    }

    /// SyncGroup: the leader sends the assignments; every member gets its own back.
    #[allow(clippy::too_many_arguments)]
    pub async fn sync_group(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
        protocol_type: &str,
        protocol_name: &str,
        assignments: Vec<(String, Bytes)>,
    ) -> Result<(i16, Bytes)> {
        let build = |v: i16| {
            let mut req = SyncGroupRequest::default()
                .with_group_id(gid(group_id))
                .with_generation_id(generation_id)
                .with_member_id(sb(member_id))
                .with_assignments(
                    assignments
                        .iter()
                        .map(|(m, a)| {
                            SyncGroupRequestAssignment::default()
                                .with_member_id(sb(m))
                                .with_assignment(a.clone())
                        })
                        .collect(),
                );
            if v >= 3 {
                req = req.with_group_instance_id(group_instance_id.map(sb));
            }
            if v >= 5 {
                req = req
                    .with_protocol_type(Some(sb(protocol_type)))
                    .with_protocol_name(Some(sb(protocol_name)));
            }
            req
        };
        let r = self
            .group_call(group_id, Duration::ZERO, build, |r| r.error_code)
            .await?;
        Ok((r.error_code, r.assignment))
    }

    /// Heartbeat for a member of `generation_id`, keeping it in the group for
    /// another session timeout. Returns Kafka's code: 0, or REBALANCE_IN_PROGRESS
    /// (27: rejoin), ILLEGAL_GENERATION (22), UNKNOWN_MEMBER_ID (25),
    /// FENCED_INSTANCE_ID (82).
    pub async fn heartbeat(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<i16> {
        let build = |v: i16| {
            let mut req = HeartbeatRequest::default()
                .with_group_id(gid(group_id))
                .with_generation_id(generation_id)
                .with_member_id(sb(member_id));
            if v >= 3 {
                req = req.with_group_instance_id(group_instance_id.map(sb));
            }
            req
        };
        Ok(self
            .group_call(group_id, Duration::ZERO, build, |r| r.error_code)
            .await?
            .error_code)
    }

    /// LeaveGroup for one member (by member id, or for a static member by instance
    /// id too, v3+), so the group rebalances without waiting for its session to
    /// expire. Returns Kafka's code: the group's, else the member's (0 when it left).
    pub async fn leave_group(
        &self,
        group_id: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<i16> {
        let build = |v: i16| {
            let req = LeaveGroupRequest::default().with_group_id(gid(group_id));
            if v >= 3 {
                req.with_members(vec![MemberIdentity::default()
                    .with_member_id(sb(member_id))
                    .with_group_instance_id(group_instance_id.map(sb))])
            } else {
                req.with_member_id(sb(member_id))
            }
        };
        let r = self
            .group_call(group_id, Duration::ZERO, build, |r| r.error_code)
            .await?;
        Ok(if r.error_code != codes::NONE {
            r.error_code
        } else {
            r.members
                .first()
                .map(|m| m.error_code)
                .unwrap_or(codes::NONE)
        })
    }

    /// OffsetCommit; generation -1 and an empty member id commit as a simple
    /// (non-member) consumer, as kafkajs's admin does.
    pub async fn offset_commit(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
        offsets: Vec<CommitOffset>,
    ) -> Result<Vec<CommittedOffset>> {
        let mut topics: Vec<(String, Vec<&CommitOffset>)> = Vec::new();
        for o in &offsets {
            match topics.iter_mut().find(|(t, _)| *t == o.topic) {
                Some((_, v)) => v.push(o),
                None => topics.push((o.topic.clone(), vec![o])),
            }
        }
        let build = |v: i16| {
            let mut req = OffsetCommitRequest::default()
                .with_group_id(gid(group_id))
                .with_generation_id_or_member_epoch(generation_id)
                .with_member_id(sb(member_id))
                .with_topics(
                    topics
                        .iter()
                        .map(|(t, ps)| {
                            OffsetCommitRequestTopic::default()
                                .with_name(name(t))
                                .with_partitions(
                                    ps.iter()
                                        .map(|o| {
                                            OffsetCommitRequestPartition::default()
                                                .with_partition_index(o.partition)
                                                .with_committed_offset(o.offset)
                                                .with_committed_metadata(Some(sb(o
                                                    .metadata
                                                    .as_deref()
                                                    .unwrap_or(""))))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                );
            if v >= 7 {
                req = req.with_group_instance_id(group_instance_id.map(sb));
            }
            req
        };
        let first_code = |r: &kafka_protocol::messages::OffsetCommitResponse| {
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .map(|p| p.error_code)
                .find(|c| *c != 0)
                .unwrap_or(0)
        };
        let r = self
            .group_call(group_id, Duration::ZERO, build, first_code)
            .await?;
        let mut out = Vec::new();
        for t in r.topics {
            for p in t.partitions {
                let o = offsets
                    .iter()
                    .find(|o| o.topic == t.name.0.as_str() && o.partition == p.partition_index);
                out.push(CommittedOffset {
                    topic: t.name.0.to_string(),
                    partition: p.partition_index,
                    offset: o.map(|o| o.offset).unwrap_or(-1),
                    metadata: o.and_then(|o| o.metadata.clone()),
                    error_code: p.error_code,
                });
            }
        }
        Ok(out)
    }

    /// OffsetFetch: the group's committed offsets (`None`: every partition it has).
    pub async fn offset_fetch(
        &self,
        group_id: &str,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<CommittedOffset>> {
        let build = |v: i16| {
            if v >= 8 {
                let topics = partitions.as_ref().map(|ps| {
                    ps.iter()
                        .map(|(t, p)| {
                            OffsetFetchRequestTopics::default()
                                .with_name(name(t))
                                .with_partition_indexes(p.clone())
                        })
                        .collect()
                });
                OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                    .with_group_id(gid(group_id))
                    .with_topics(topics)])
            } else {
                let topics = partitions.as_ref().map(|ps| {
                    ps.iter()
                        .map(|(t, p)| {
                            OffsetFetchRequestTopic::default()
                                .with_name(name(t))
                                .with_partition_indexes(p.clone())
                        })
                        .collect()
                });
                OffsetFetchRequest::default()
                    .with_group_id(gid(group_id))
                    .with_topics(topics)
            }
        };
        let code = |r: &kafka_protocol::messages::OffsetFetchResponse| {
            if r.error_code != 0 {
                r.error_code
            } else {
                r.groups.first().map(|g| g.error_code).unwrap_or(0)
            }
        };
        let r = self
            .group_call(group_id, Duration::ZERO, build, code)
            .await?;
        let c = code(&r);
        if c != codes::NONE {
            return Err(Error::kafka(c, format!("OffsetFetch for group {group_id}")));
        }
        let mut out = Vec::new();
        for t in r.topics {
            for p in t.partitions {
                out.push(CommittedOffset {
                    topic: t.name.0.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    metadata: opt_string(&p.metadata),
                    error_code: p.error_code,
                });
            }
        }
        for g in r.groups {
            for t in g.topics {
                for p in t.partitions {
                    out.push(CommittedOffset {
                        topic: t.name.0.to_string(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        metadata: opt_string(&p.metadata),
                        error_code: p.error_code,
                    });
                }
            }
        }
        Ok(out)
    }

    /// DescribeGroups, one request per group to its coordinator: one description per
    /// group, in order.
    pub async fn describe_groups(&self, groups: Vec<String>) -> Result<Vec<GroupDescription>> {
        let mut out = Vec::new();
        for g in &groups {
            let build = |_v: i16| DescribeGroupsRequest::default().with_groups(vec![gid(g)]);
            let r = self
                .group_call(g, Duration::ZERO, build, |r| {
                    r.groups.first().map(|d| d.error_code).unwrap_or(0)
                })
                .await?;
            for d in r.groups {
                out.push(GroupDescription {
                    group_id: d.group_id.0.to_string(),
                    error_code: d.error_code,
                    state: d.group_state.to_string(),
                    protocol_type: d.protocol_type.to_string(),
                    protocol: d.protocol_data.to_string(),
                    members: d
                        .members
                        .into_iter()
                        .map(|m| GroupMemberDescription {
                            member_id: m.member_id.to_string(),
                            group_instance_id: opt_string(&m.group_instance_id),
                            client_id: m.client_id.to_string(),
                            client_host: m.client_host.to_string(),
                            member_metadata: m.member_metadata,
                            member_assignment: m.member_assignment,
                        })
                        .collect(),
                });
            }
        }
        Ok(out)
    }

    /// ListGroups, asked of every broker (each lists the groups it coordinates).
    pub async fn list_groups(&self) -> Result<Vec<ListedGroup>> {
        let nodes: Vec<i32> = self.cached_metadata().brokers.keys().copied().collect();
        let mut out: Vec<ListedGroup> = Vec::new();
        for node in nodes {
            let conn = self.conn_node(node).await?;
            let v = conn.version::<ListGroupsRequest>(i16::MAX)?;
            let r = conn.send(&ListGroupsRequest::default(), v).await?;
            if r.error_code != codes::NONE {
                return Err(Error::kafka(
                    r.error_code,
                    format!("ListGroups on broker {node}"),
                ));
            }
            for g in r.groups {
                let id = g.group_id.0.to_string();
                if !out.iter().any(|x| x.group_id == id) {
                    out.push(ListedGroup {
                        group_id: id,
                        protocol_type: g.protocol_type.to_string(),
                        state: g.group_state.to_string(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// DeleteGroups, one request per group to its coordinator: one result per group,
    /// e.g. NON_EMPTY_GROUP (68) while it has members, GROUP_ID_NOT_FOUND (69).
    pub async fn delete_groups(&self, groups: Vec<String>) -> Result<Vec<NamedResult>> {
        let mut out = Vec::new();
        for g in &groups {
            let build = |_v: i16| DeleteGroupsRequest::default().with_groups_names(vec![gid(g)]);
            let r = self
                .group_call(g, Duration::ZERO, build, |r| {
                    r.results.first().map(|d| d.error_code).unwrap_or(0)
                })
                .await?;
            out.extend(r.results.into_iter().map(|d| NamedResult {
                name: d.group_id.0.to_string(),
                error_code: d.error_code,
                error_message: None,
            }));
        }
        Ok(out)
    }
}
