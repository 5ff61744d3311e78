//! The group APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups,
//! DeleteGroups, OffsetDelete), served by the data directory's one group
//! coordinator (`ferrolog-coordinator`), the same one in-process consumers
//! reach through the binding: a group can mix both kinds of members.
//!
//! JoinGroup and SyncGroup wait for the rebalance on a oneshot channel that
//! the coordinator's callback completes; nothing blocks a tokio worker.

use std::sync::Arc;

use ferrolog_coordinator as coord;
use ferrolog_coordinator::{Coordinator, ErrorCode, SystemClock};
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator as FoundCoordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse, GroupId,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest,
    OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::Ctx;
use crate::topic_id::{topic_id, topic_name};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn opt(v: &Option<StrBytes>) -> Option<String> {
    v.as_ref().map(|x| x.as_str().to_string())
}

/// Where the coordinator is kept once loaded.
#[derive(Default)]
pub struct Slot {
    loaded: Mutex<Option<Arc<Coordinator>>>,
}

/// Loads the coordinator (replaying `__consumer_offsets` the first time):
/// the provider's, shared with in-process consumers, or one of our own.
/// The slot stays locked while loading, so there is only ever one.
fn load(ctx: &Ctx) -> Result<Arc<Coordinator>, String> {
    let mut slot = ctx.groups.loaded.lock();
    if let Some(c) = slot.clone() {
        return Ok(c);
    }
    let c = match &ctx.config.groups {
        Some(provide) => provide()?,
        None => Arc::new(
            Coordinator::open(
                ctx.engine.clone(),
                coord::Config::default(),
                Arc::new(SystemClock),
                true,
            )?
            .0,
        ),
    };
    *slot = Some(c.clone());
    Ok(c)
}

/// The coordinator; the first call loads it off the tokio workers.
async fn coordinator(ctx: &Arc<Ctx>) -> Result<Arc<Coordinator>, i16> {
    if let Some(c) = ctx.groups.loaded.try_lock().and_then(|g| g.clone()) {
        return Ok(c);
    }
    let ctx2 = ctx.clone();
    let loaded = tokio::task::spawn_blocking(move || load(&ctx2))
        .await
        .map_err(|_| ErrorCode::CoordinatorNotAvailable.code())?;
    loaded.map_err(|e| {
        (ctx.config.log)(&format!("group coordinator unavailable: {e}"));
        ErrorCode::CoordinatorNotAvailable.code()
    })
}

pub fn find_coordinator(
    ctx: &Ctx,
    req: &FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let (host, port) = (&ctx.advertised.0, i32::from(ctx.advertised.1));
    // Key type 0 is a group; 1, a transactional id (no transactions here).
    let error = if req.key_type == 0 {
        ErrorCode::None.code()
    } else {
        ErrorCode::CoordinatorNotAvailable.code()
    };
    let node = BrokerId(if error == 0 { ctx.config.node_id } else { -1 });
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                FoundCoordinator::default()
                    .with_key(k.clone())
                    .with_node_id(node)
                    .with_host(if error == 0 { s(host) } else { s("") })
                    .with_port(if error == 0 { port } else { -1 })
                    .with_error_code(error)
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    FindCoordinatorResponse::default()
        .with_error_code(error)
        .with_node_id(node)
        .with_host(if error == 0 { s(host) } else { s("") })
        .with_port(if error == 0 { port } else { -1 })
}

pub async fn join_group(
    ctx: &Arc<Ctx>,
    req: JoinGroupRequest,
    version: i16,
    client_id: String,
) -> JoinGroupResponse {
    let fail = |e: i16| {
        JoinGroupResponse::default()
            .with_error_code(e)
            .with_generation_id(-1)
            .with_member_id(req.member_id.clone())
            .with_protocol_name(if version >= 7 { None } else { Some(s("")) })
    };
    let c = match coordinator(ctx).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let request = coord::JoinRequest {
        group_id: req.group_id.as_str().to_string(),
        member_id: req.member_id.as_str().to_string(),
        group_instance_id: opt(&req.group_instance_id),
        protocol_type: req.protocol_type.as_str().to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.as_str().to_string(), p.metadata.to_vec()))
            .collect(),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if version == 0 {
            -1
        } else {
            req.rebalance_timeout_ms
        },
        client_id,
        client_host: "/127.0.0.1".into(),
        require_known_member_id: version >= 4,
        in_process: false,
    };
    let (tx, rx) = oneshot::channel();
    c.join(
        request,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let Ok(r) = rx.await else {
        return fail(ErrorCode::CoordinatorNotAvailable.code());
    };
    JoinGroupResponse::default()
        .with_error_code(r.error.code())
        .with_generation_id(r.generation_id)
        .with_protocol_type(r.protocol_type.as_deref().map(s))
        .with_protocol_name(match r.protocol_name.as_deref() {
            Some(p) => Some(s(p)),
            None if version >= 7 => None,
            None => Some(s("")),
        })
        .with_leader(s(&r.leader))
        .with_skip_assignment(r.skip_assignment)
        .with_member_id(s(&r.member_id))
        .with_members(
            r.members
                .into_iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(s(&m.member_id))
                        .with_group_instance_id(m.group_instance_id.as_deref().map(s))
                        .with_metadata(m.metadata.into())
                })
                .collect(),
        )
}

pub async fn sync_group(ctx: &Arc<Ctx>, req: SyncGroupRequest) -> SyncGroupResponse {
    let c = match coordinator(ctx).await {
        Ok(c) => c,
        Err(e) => return SyncGroupResponse::default().with_error_code(e),
    };
    let request = coord::SyncRequest {
        group_id: req.group_id.as_str().to_string(),
        generation_id: req.generation_id,
        member_id: req.member_id.as_str().to_string(),
        group_instance_id: opt(&req.group_instance_id),
        protocol_type: opt(&req.protocol_type),
        protocol_name: opt(&req.protocol_name),
        assignments: req
            .assignments
            .iter()
            .map(|a| (a.member_id.as_str().to_string(), a.assignment.to_vec()))
            .collect(),
    };
    let (tx, rx) = oneshot::channel();
    c.sync(
        request,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let Ok(r) = rx.await else {
        return SyncGroupResponse::default()
            .with_error_code(ErrorCode::CoordinatorNotAvailable.code());
    };
    SyncGroupResponse::default()
        .with_error_code(r.error.code())
        .with_protocol_type(r.protocol_type.as_deref().map(s))
        .with_protocol_name(r.protocol_name.as_deref().map(s))
        .with_assignment(r.assignment.into())
}

pub async fn heartbeat(ctx: &Arc<Ctx>, req: &HeartbeatRequest) -> HeartbeatResponse {
    let code = match coordinator(ctx).await {
        Ok(c) => c
            .heartbeat(&coord::HeartbeatRequest {
                group_id: req.group_id.as_str().to_string(),
                generation_id: req.generation_id,
                member_id: req.member_id.as_str().to_string(),
                group_instance_id: opt(&req.group_instance_id),
            })
            .code(),
        Err(e) => e,
    };
    HeartbeatResponse::default().with_error_code(code)
}

pub async fn leave_group(
    ctx: &Arc<Ctx>,
    req: &LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let c = match coordinator(ctx).await {
        Ok(c) => c,
        Err(e) => return LeaveGroupResponse::default().with_error_code(e),
    };
    let members: Vec<coord::LeaveMember> = if version >= 3 {
        req.members
            .iter()
            .map(|m| coord::LeaveMember {
                member_id: m.member_id.as_str().to_string(),
                group_instance_id: opt(&m.group_instance_id),
            })
            .collect()
    } else {
        vec![coord::LeaveMember {
            member_id: req.member_id.as_str().to_string(),
            group_instance_id: None,
        }]
    };
    match c.leave(req.group_id.as_str(), &members) {
        Err(e) => LeaveGroupResponse::default().with_error_code(e.code()),
        Ok(results) => {
            // Before v3 the one member's error is the response's, and the
            // response has no members list to carry it (setting one makes
            // the answer unencodable, and the connection closes).
            if version < 3 {
                let top = results.first().map_or(0, |r| r.error.code());
                return LeaveGroupResponse::default().with_error_code(top);
            }
            LeaveGroupResponse::default().with_members(
                results
                    .into_iter()
                    .map(|r| {
                        MemberResponse::default()
                            .with_member_id(s(&r.member_id))
                            .with_group_instance_id(r.group_instance_id.as_deref().map(s))
                            .with_error_code(r.error.code())
                    })
                    .collect(),
            )
        }
    }
}

pub async fn offset_commit(
    ctx: &Arc<Ctx>,
    req: &OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    // Topics named by id (v10+) are resolved to names; an unknown id gets
    // UNKNOWN_TOPIC_ID for each of its partitions.
    let mut offsets = Vec::new();
    let mut unknown = Vec::new();
    for t in &req.topics {
        let name = if version >= 10 {
            topic_name(&ctx.engine, t.topic_id)
        } else {
            Some(t.name.as_str().to_string())
        };
        let Some(name) = name else {
            unknown.push(t);
            continue;
        };
        for p in &t.partitions {
            offsets.push(coord::CommitOffset {
                topic: name.clone(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: opt(&p.committed_metadata),
            });
        }
    }
    let result = match coordinator(ctx).await {
        Ok(c) => c.commit(&coord::CommitRequest {
            group_id: req.group_id.as_str().to_string(),
            generation_id: if version == 0 {
                -1
            } else {
                req.generation_id_or_member_epoch
            },
            member_id: req.member_id.as_str().to_string(),
            group_instance_id: opt(&req.group_instance_id),
            offsets: offsets.clone(),
        }),
        Err(e) => Err(match e {
            15 => ErrorCode::CoordinatorNotAvailable,
            _ => ErrorCode::UnknownServerError,
        }),
    };
    let mut topics: Vec<OffsetCommitResponseTopic> = Vec::new();
    let mut push = |name: &str, partition: i32, code: i16| {
        let part = OffsetCommitResponsePartition::default()
            .with_partition_index(partition)
            .with_error_code(code);
        match topics.iter_mut().find(|t| t.name.as_str() == name) {
            Some(t) => t.partitions.push(part),
            None => topics.push(
                OffsetCommitResponseTopic::default()
                    .with_name(TopicName(s(name)))
                    .with_topic_id(topic_id(name))
                    .with_partitions(vec![part]),
            ),
        }
    };
    match result {
        Ok(rs) => {
            for r in rs {
                push(&r.topic, r.partition, r.error.code());
            }
        }
        Err(e) => {
            for o in &offsets {
                push(&o.topic, o.partition, e.code());
            }
        }
    }
    for t in unknown {
        topics.push(
            OffsetCommitResponseTopic::default()
                .with_topic_id(t.topic_id)
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(crate::errors::UNKNOWN_TOPIC_ID)
                        })
                        .collect(),
                ),
        );
    }
    OffsetCommitResponse::default().with_topics(topics)
}

/// One group's committed offsets for OffsetFetch: (name, [(partition, offset)]).
fn fetched(
    c: &Coordinator,
    group: &str,
    wanted: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<(String, Vec<coord::FetchedOffset>)> {
    let got = c.fetch_offsets(group, wanted.as_deref());
    let mut out: Vec<(String, Vec<coord::FetchedOffset>)> = Vec::new();
    for o in got {
        match out.iter_mut().find(|(t, _)| *t == o.topic) {
            Some((_, v)) => v.push(o),
            None => out.push((o.topic.clone(), vec![o])),
        }
    }
    out
}

pub async fn offset_fetch(
    ctx: &Arc<Ctx>,
    req: &OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let c = match coordinator(ctx).await {
        Ok(c) => c,
        Err(e) => {
            return OffsetFetchResponse::default()
                .with_error_code(e)
                .with_groups(
                    req.groups
                        .iter()
                        .map(|g| {
                            OffsetFetchResponseGroup::default()
                                .with_group_id(g.group_id.clone())
                                .with_error_code(e)
                        })
                        .collect(),
                )
        }
    };
    if version < 8 {
        let wanted = req.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.as_str().to_string(), t.partition_indexes.clone()))
                .collect()
        });
        let topics = fetched(&c, req.group_id.as_str(), wanted)
            .into_iter()
            .map(|(name, ps)| {
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(s(&name)))
                    .with_partitions(
                        ps.into_iter()
                            .map(|o| {
                                OffsetFetchResponsePartition::default()
                                    .with_partition_index(o.partition)
                                    .with_committed_offset(o.offset)
                                    .with_committed_leader_epoch(o.leader_epoch)
                                    .with_metadata(Some(s(&o.metadata)))
                            })
                            .collect(),
                    )
            })
            .collect();
        return OffsetFetchResponse::default().with_topics(topics);
    }
    let groups = req
        .groups
        .iter()
        .map(|g| {
            let wanted = g.topics.as_ref().map(|ts| {
                ts.iter()
                    .filter_map(|t| {
                        let name = if version >= 10 {
                            topic_name(&ctx.engine, t.topic_id)?
                        } else {
                            t.name.as_str().to_string()
                        };
                        Some((name, t.partition_indexes.clone()))
                    })
                    .collect()
            });
            let topics = fetched(&c, g.group_id.as_str(), wanted)
                .into_iter()
                .map(|(name, ps)| {
                    OffsetFetchResponseTopics::default()
                        .with_topic_id(topic_id(&name))
                        .with_name(TopicName(s(&name)))
                        .with_partitions(
                            ps.into_iter()
                                .map(|o| {
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(o.partition)
                                        .with_committed_offset(o.offset)
                                        .with_committed_leader_epoch(o.leader_epoch)
                                        .with_metadata(Some(s(&o.metadata)))
                                })
                                .collect(),
                        )
                })
                .collect();
            OffsetFetchResponseGroup::default()
                .with_group_id(g.group_id.clone())
                .with_topics(topics)
        })
        .collect();
    OffsetFetchResponse::default().with_groups(groups)
}

pub async fn describe_groups(
    ctx: &Arc<Ctx>,
    req: &DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let c = match coordinator(ctx).await {
        Ok(c) => c,
        Err(e) => {
            return DescribeGroupsResponse::default().with_groups(
                req.groups
                    .iter()
                    .map(|g| {
                        DescribedGroup::default()
                            .with_group_id(g.clone())
                            .with_error_code(e)
                    })
                    .collect(),
            )
        }
    };
    let ids: Vec<String> = req.groups.iter().map(|g| g.as_str().to_string()).collect();
    let groups = c
        .describe(&ids)
        .into_iter()
        .map(|d| {
            let error = if !d.found && version >= 6 {
                ErrorCode::GroupIdNotFound.code()
            } else {
                0
            };
            DescribedGroup::default()
                .with_error_code(error)
                .with_group_id(GroupId(s(&d.group_id)))
                .with_group_state(s(d.state))
                .with_protocol_type(s(&d.protocol_type))
                .with_protocol_data(s(&d.protocol))
                .with_authorized_operations(i32::MIN)
                .with_members(
                    d.members
                        .into_iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(s(&m.member_id))
                                .with_group_instance_id(m.group_instance_id.as_deref().map(s))
                                .with_client_id(s(&m.client_id))
                                .with_client_host(s(&m.client_host))
                                .with_member_metadata(m.metadata.into())
                                .with_member_assignment(m.assignment.into())
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub async fn list_groups(ctx: &Arc<Ctx>, req: &ListGroupsRequest) -> ListGroupsResponse {
    let c = match coordinator(ctx).await {
        Ok(c) => c,
        Err(e) => return ListGroupsResponse::default().with_error_code(e),
    };
    // Only classic groups exist here.
    if !req.types_filter.is_empty()
        && !req
            .types_filter
            .iter()
            .any(|t| t.as_str().eq_ignore_ascii_case("classic"))
    {
        return ListGroupsResponse::default();
    }
    let states: Vec<String> = req
        .states_filter
        .iter()
        .map(|s| s.as_str().to_string())
        .collect();
    ListGroupsResponse::default().with_groups(
        c.list(&states)
            .into_iter()
            .map(|g| {
                ListedGroup::default()
                    .with_group_id(GroupId(s(&g.group_id)))
                    .with_protocol_type(s(&g.protocol_type))
                    .with_group_state(s(g.state))
                    .with_group_type(s("Classic"))
            })
            .collect(),
    )
}

pub async fn delete_groups(ctx: &Arc<Ctx>, req: &DeleteGroupsRequest) -> DeleteGroupsResponse {
    let ids: Vec<String> = req
        .groups_names
        .iter()
        .map(|g| g.as_str().to_string())
        .collect();
    let results = match coordinator(ctx).await {
        Ok(c) => c
            .delete_groups(&ids)
            .into_iter()
            .map(|(g, e)| (g, e.code()))
            .collect(),
        Err(e) => ids.into_iter().map(|g| (g, e)).collect::<Vec<_>>(),
    };
    DeleteGroupsResponse::default().with_results(
        results
            .into_iter()
            .map(|(g, e)| {
                DeletableGroupResult::default()
                    .with_group_id(GroupId(s(&g)))
                    .with_error_code(e)
            })
            .collect(),
    )
}

pub async fn offset_delete(ctx: &Arc<Ctx>, req: &OffsetDeleteRequest) -> OffsetDeleteResponse {
    let c = match coordinator(ctx).await {
        Ok(c) => c,
        Err(e) => return OffsetDeleteResponse::default().with_error_code(e),
    };
    let partitions: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.as_str().to_string(), p.partition_index))
        })
        .collect();
    match c.delete_offsets(req.group_id.as_str(), &partitions) {
        Err(e) => OffsetDeleteResponse::default().with_error_code(e.code()),
        Ok(rs) => {
            let mut topics: Vec<OffsetDeleteResponseTopic> = Vec::new();
            for r in rs {
                let part = OffsetDeleteResponsePartition::default()
                    .with_partition_index(r.partition)
                    .with_error_code(r.error.code());
                match topics.iter_mut().find(|t| t.name.as_str() == r.topic) {
                    Some(t) => t.partitions.push(part),
                    None => topics.push(
                        OffsetDeleteResponseTopic::default()
                            .with_name(TopicName(s(&r.topic)))
                            .with_partitions(vec![part]),
                    ),
                }
            }
            OffsetDeleteResponse::default().with_topics(topics)
        }
    }
}
