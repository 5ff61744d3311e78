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

#[derive(Clone, Debug)]
pub struct JoinGroupMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

#[derive(Clone, Debug)]
pub struct JoinGroupResult {
    pub error_code: i16,
    pub generation_id: i32,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Filled for the leader only.
    pub members: Vec<JoinGroupMember>,
}

#[derive(Clone, Debug)]
pub struct JoinGroupArgs {
    pub group_id: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: String,
    /// (assignor name, subscription metadata)
    pub protocols: Vec<(String, Bytes)>,
}

#[derive(Clone, Debug)]
pub struct CommitOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub metadata: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: i32,
    /// -1 when the group has no committed offset for the partition.
    pub offset: i64,
    pub metadata: Option<String>,
    pub error_code: i16,
}

#[derive(Clone, Debug)]
pub struct GroupMemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_metadata: Bytes,
    pub member_assignment: Bytes,
}

#[derive(Clone, Debug)]
pub struct GroupDescription {
    pub group_id: String,
    pub error_code: i16,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<GroupMemberDescription>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
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
