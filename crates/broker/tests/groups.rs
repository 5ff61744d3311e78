//! The group APIs over a real socket at every version kafka-protocol
//! knows: a whole member lifecycle (join, sync, heartbeat, commit, fetch
//! offsets, describe, list, leave) per step of versions, each answer decoded
//! and checked. The dispatcher fuzzer only proves that answers it happens
//! to reach encode; this walks the success paths, where a field set for a
//! newer version (the LeaveGroup v0-v2 answer once carried the v3+ members
//! list) makes the broker close the connection instead of answering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use common::{start_with, Conn};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const MEMBER_ID_REQUIRED: i16 = 79;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// The versions the broker advertises, by API key.
type Advertised = std::collections::HashMap<i16, (i16, i16)>;

/// Version `step` of `key`, held inside what the broker advertises for it.
fn at(advertised: &Advertised, key: ApiKey, step: i16) -> i16 {
    let (min, max) = advertised[&(key as i16)];
    step.clamp(min, max)
}

/// One member's lifecycle in group `group`, each API at its version for `step`.
fn lifecycle(c: &mut Conn, advertised: &Advertised, group: &str, step: i16) {
    let gid = GroupId(s(group));
    let what = |api: &str, v: i16| format!("{api} v{v} (step {step})");

    // JoinGroup: from v4 the first join hands out a member id to come back with.
    let jv = at(advertised, ApiKey::JoinGroup, step);
    let join = |member: &str| {
        let mut r = JoinGroupRequest::default()
            .with_group_id(gid.clone())
            .with_session_timeout_ms(10_000)
            .with_member_id(s(member))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(b"meta"))]);
        if jv >= 1 {
            r = r.with_rebalance_timeout_ms(10_000);
        }
        r
    };
    let mut joined = c.send(&join(""), jv);
    if jv >= 4 {
        assert_eq!(
            joined.error_code,
            MEMBER_ID_REQUIRED,
            "{}",
            what("JoinGroup", jv)
        );
        let id = joined.member_id.to_string();
        joined = c.send(&join(&id), jv);
    }
    assert_eq!(joined.error_code, 0, "{}", what("JoinGroup", jv));
    let member = joined.member_id.to_string();
    assert!(!member.is_empty());
    assert_eq!(joined.leader.as_str(), member, "{}", what("JoinGroup", jv));
    assert_eq!(joined.members.len(), 1, "{}", what("JoinGroup", jv));
    assert_eq!(
        joined.protocol_name.as_ref().map(|p| p.as_str()),
        Some("range")
    );
    let generation = joined.generation_id;

    // SyncGroup: the leader's assignment comes back to it.
    let sv = at(advertised, ApiKey::SyncGroup, step);
    let mut sync = SyncGroupRequest::default()
        .with_group_id(gid.clone())
        .with_generation_id(generation)
        .with_member_id(s(&member))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(s(&member))
            .with_assignment(Bytes::from_static(b"assigned"))]);
    if sv >= 5 {
        sync = sync
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s("range")));
    }
    let synced = c.send(&sync, sv);
    assert_eq!(synced.error_code, 0, "{}", what("SyncGroup", sv));
    assert_eq!(
        &synced.assignment[..],
        b"assigned",
        "{}",
        what("SyncGroup", sv)
    );

    let hv = at(advertised, ApiKey::Heartbeat, step);
    let beat = c.send(
        &HeartbeatRequest::default()
            .with_group_id(gid.clone())
            .with_generation_id(generation)
            .with_member_id(s(&member)),
        hv,
    );
    assert_eq!(beat.error_code, 0, "{}", what("Heartbeat", hv));

    let ov = at(advertised, ApiKey::OffsetCommit, step);
    let offset = 5 + i64::from(step);
    let committed = c.send(
        &OffsetCommitRequest::default()
            .with_group_id(gid.clone())
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(s(&member))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("t")))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(offset)
                    .with_committed_metadata(Some(s("m")))])]),
        ov,
    );
    assert_eq!(
        committed.topics[0].partitions[0].error_code,
        0,
        "{}",
        what("OffsetCommit", ov)
    );

    let fv = at(advertised, ApiKey::OffsetFetch, step);
    let fetched = if fv >= 8 {
        let r = c.send(
            &OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                .with_group_id(gid.clone())
                .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                    .with_name(TopicName(s("t")))
                    .with_partition_indexes(vec![0])]))]),
            fv,
        );
        assert_eq!(r.groups[0].error_code, 0, "{}", what("OffsetFetch", fv));
        r.groups[0].topics[0].partitions[0].committed_offset
    } else {
        let r = c.send(
            &OffsetFetchRequest::default()
                .with_group_id(gid.clone())
                .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                    .with_name(TopicName(s("t")))
                    .with_partition_indexes(vec![0])])),
            fv,
        );
        assert_eq!(
            r.topics[0].partitions[0].error_code,
            0,
            "{}",
            what("OffsetFetch", fv)
        );
        r.topics[0].partitions[0].committed_offset
    };
    assert_eq!(fetched, offset, "{}", what("OffsetFetch", fv));

    let dv = at(advertised, ApiKey::DescribeGroups, step);
    let described = c.send(
        &DescribeGroupsRequest::default().with_groups(vec![gid.clone()]),
        dv,
    );
    let g = &described.groups[0];
    assert_eq!(g.error_code, 0, "{}", what("DescribeGroups", dv));
    assert_eq!(
        g.group_state.as_str(),
        "Stable",
        "{}",
        what("DescribeGroups", dv)
    );
    assert_eq!(g.members.len(), 1, "{}", what("DescribeGroups", dv));
    assert_eq!(&g.members[0].member_assignment[..], b"assigned");

    let lv = at(advertised, ApiKey::ListGroups, step);
    let listed = c.send(&ListGroupsRequest::default(), lv);
    assert_eq!(listed.error_code, 0, "{}", what("ListGroups", lv));
    assert!(
        listed.groups.iter().any(|l| l.group_id == gid),
        "{}",
        what("ListGroups", lv)
    );

    // LeaveGroup: one member id before v3, a list of members from v3.
    let leave_v = at(advertised, ApiKey::LeaveGroup, step);
    let leave = if leave_v >= 3 {
        LeaveGroupRequest::default()
            .with_group_id(gid.clone())
            .with_members(vec![MemberIdentity::default().with_member_id(s(&member))])
    } else {
        LeaveGroupRequest::default()
            .with_group_id(gid.clone())
            .with_member_id(s(&member))
    };
    let left = c.send(&leave, leave_v);
    assert_eq!(left.error_code, 0, "{}", what("LeaveGroup", leave_v));
    if leave_v >= 3 {
        assert_eq!(left.members.len(), 1, "{}", what("LeaveGroup", leave_v));
        assert_eq!(
            left.members[0].error_code,
            0,
            "{}",
            what("LeaveGroup", leave_v)
        );
    }
    let after = c.send(
        &DescribeGroupsRequest::default().with_groups(vec![gid.clone()]),
        dv,
    );
    assert_eq!(
        after.groups[0].group_state.as_str(),
        "Empty",
        "{}",
        what("LeaveGroup", leave_v)
    );
}

#[test]
fn group_apis_answer_a_whole_lifecycle_at_every_version() {
    // Kafka's 3 s initial rebalance delay would hold every first join.
    let s = start_with(|config, engine| {
        let engine = engine.clone();
        config.groups = Some(Arc::new(move || {
            let (c, _) = ferrolog_coordinator::Coordinator::open(
                engine.clone(),
                ferrolog_coordinator::Config {
                    initial_rebalance_delay_ms: 0,
                    ..ferrolog_coordinator::Config::default()
                },
                Arc::new(ferrolog_coordinator::SystemClock),
                true,
            )
            .map_err(|e| e.to_string())?;
            Ok(Arc::new(c))
        }));
    });
    s.engine.create_topic("t", 1, None).unwrap();
    let mut c = Conn::open(s.broker.local_addr());
    let versions = c.send(&ApiVersionsRequest::default(), 3);
    let advertised: Advertised = versions
        .api_keys
        .iter()
        .map(|k| (k.api_key, (k.min_version, k.max_version)))
        .collect();
    let last = advertised.values().map(|&(_, max)| max).max().unwrap();
    for step in 0..=last {
        lifecycle(&mut c, &advertised, &format!("g{step}"), step);
    }
    // Every answer was encoded: none closed the connection or was logged.
    assert_eq!(s.log_lines.load(Ordering::Relaxed), 0);
}
