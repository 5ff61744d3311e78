//! The classic group protocol, step by step, against Kafka's documented
//! behaviour (time driven by hand: no sleeps).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferrolog_coordinator::*;

/// Two members form generation 1; returns (leader, follower, generation).
fn stable_pair(h: &mut H) -> (String, String, i32) {
    let a = h.join_req("g", "", None);
    // The first member alone completes the join at once (no initial delay).
    let ra = take(&a);
    assert_eq!(ra.error, ErrorCode::None);
    let b = h.join_req("g", "", None);
    assert!(b.lock().is_none(), "b waits for a to rejoin");
    assert_eq!(
        h.heartbeat("g", &ra.member_id, ra.generation_id),
        ErrorCode::RebalanceInProgress
    );
    let a2 = h.join_req("g", &ra.member_id, None);
    let (ra, rb) = (take(&a2), take(&b));
    assert_eq!(ra.generation_id, 2);
    assert_eq!(rb.generation_id, 2);
    assert_eq!(ra.leader, ra.member_id);
    assert_eq!(rb.leader, ra.member_id);
    assert_eq!(ra.members.len(), 2, "the leader gets every member");
    assert!(rb.members.is_empty(), "followers get none");
    assert_eq!(ra.protocol_name.as_deref(), Some("range"));
    let sb = h.sync("g", &rb.member_id, 2, vec![]);
    assert!(
        sb.lock().is_none(),
        "followers wait for the leader's assignment"
    );
    let sa = h.sync(
        "g",
        &ra.member_id,
        2,
        vec![
            (ra.member_id.clone(), vec![1]),
            (rb.member_id.clone(), vec![2]),
        ],
    );
    assert_eq!(take(&sa).assignment, vec![1]);
    assert_eq!(take(&sb).assignment, vec![2]);
    assert_eq!(h.m.state("g"), Some(GroupState::Stable));
    (ra.member_id, rb.member_id, 2)
}

#[test]
fn join_sync_heartbeat_and_a_rebalance() {
    let mut h = H::new();
    let (a, b, generation) = stable_pair(&mut h);
    assert_eq!(h.heartbeat("g", &a, generation), ErrorCode::None);
    assert_eq!(
        h.heartbeat("g", &b, generation - 1),
        ErrorCode::IllegalGeneration
    );
    assert_eq!(
        h.heartbeat("g", "nobody", generation),
        ErrorCode::UnknownMemberId
    );
    // A commit of the current generation is accepted, a stale one refused.
    assert!(h.commit("g", &a, generation, 5).is_ok());
    assert_eq!(
        h.commit("g", &a, generation - 1, 6),
        Err(ErrorCode::IllegalGeneration)
    );
    assert_eq!(
        h.commit("g", "nobody", generation, 6),
        Err(ErrorCode::UnknownMemberId)
    );
    assert_eq!(h.m.fetch_offsets("g", None)[0].offset, 5);
    // A stable follower that rejoins with the same metadata gets the
    // current generation back without a rebalance.
    let again = h.join_req("g", &b, None);
    assert_eq!(take(&again).generation_id, generation);
    assert_eq!(h.m.state("g"), Some(GroupState::Stable));
}

#[test]
fn member_id_required_then_join() {
    let mut h = H::new();
    let mut req = JoinRequest {
        group_id: "g".into(),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), vec![])],
        session_timeout_ms: 1000,
        rebalance_timeout_ms: 1000,
        client_id: "cli".into(),
        require_known_member_id: true,
        ..JoinRequest::default()
    };
    let first = take(&h.join_with(req.clone()));
    assert_eq!(first.error, ErrorCode::MemberIdRequired);
    assert!(first.member_id.starts_with("cli-"));
    req.member_id = first.member_id.clone();
    let second = take(&h.join_with(req.clone()));
    assert_eq!(second.error, ErrorCode::None);
    assert_eq!(second.member_id, first.member_id);
    // A pending id not used within the session timeout expires.
    req.member_id = String::new();
    let third = take(&h.join_with(req.clone()));
    h.advance(1001);
    req.member_id = third.member_id;
    assert_eq!(take(&h.join_with(req)).error, ErrorCode::UnknownMemberId);
}

#[test]
fn validation_errors() {
    let mut h = H::new();
    let ok = JoinRequest {
        group_id: "g".into(),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), vec![])],
        session_timeout_ms: 1000,
        rebalance_timeout_ms: 1000,
        ..JoinRequest::default()
    };
    let e = |h: &mut H, r: JoinRequest| take(&h.join_with(r)).error;
    assert_eq!(
        e(
            &mut h,
            JoinRequest {
                group_id: String::new(),
                ..ok.clone()
            }
        ),
        ErrorCode::InvalidGroupId
    );
    assert_eq!(
        e(
            &mut h,
            JoinRequest {
                session_timeout_ms: 1,
                ..ok.clone()
            }
        ),
        ErrorCode::InvalidSessionTimeout
    );
    assert_eq!(
        e(
            &mut h,
            JoinRequest {
                protocols: vec![],
                ..ok.clone()
            }
        ),
        ErrorCode::InconsistentGroupProtocol
    );
    assert_eq!(e(&mut h, ok.clone()), ErrorCode::None);
    // No protocol in common with the group.
    assert_eq!(
        e(
            &mut h,
            JoinRequest {
                protocols: vec![("other".into(), vec![])],
                ..ok.clone()
            }
        ),
        ErrorCode::InconsistentGroupProtocol
    );
    assert_eq!(
        e(
            &mut h,
            JoinRequest {
                member_id: "made-up".into(),
                ..ok.clone()
            }
        ),
        ErrorCode::UnknownMemberId
    );
    let mut small = H::with(Config {
        max_group_size: 1,
        ..config()
    });
    assert_eq!(e(&mut small, ok.clone()), ErrorCode::None);
    assert_eq!(e(&mut small, ok), ErrorCode::GroupMaxSizeReached);
}

#[test]
fn session_timeout_evicts_and_the_late_commit_is_refused() {
    let mut h = H::new();
    let (a, b, generation) = stable_pair(&mut h);
    // Only a heartbeats.
    for _ in 0..2 {
        h.advance(400);
        assert_eq!(h.heartbeat("g", &a, generation), ErrorCode::None);
    }
    assert!(h.m.member_ids("g").contains(&b));
    h.advance(400);
    assert!(!h.m.member_ids("g").contains(&b), "b's session expired");
    assert_eq!(h.m.state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(
        h.commit("g", &b, generation, 9),
        Err(ErrorCode::UnknownMemberId)
    );
    assert_eq!(
        h.heartbeat("g", &a, generation),
        ErrorCode::RebalanceInProgress
    );
    let r = take(&h.join_req("g", &a, None));
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.members.len(), 1);
    // a's commit of the old generation is now stale.
    let _ = h.sync("g", &a, r.generation_id, vec![]);
    assert_eq!(
        h.commit("g", &a, generation, 9),
        Err(ErrorCode::IllegalGeneration)
    );
    assert!(h.commit("g", &a, r.generation_id, 9).is_ok());
}

#[test]
fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let mut h = H::new();
    let (a, b, generation) = stable_pair(&mut h);
    let c = h.join_req("g", "", None);
    // a rejoins; b keeps heartbeating but never rejoins.
    let ja = h.join_req("g", &a, None);
    for _ in 0..10 {
        h.advance(400);
        let _ = h.heartbeat("g", &b, generation);
    }
    let (ra, rc) = (take(&ja), take(&c));
    assert_eq!(ra.error, ErrorCode::None);
    assert_eq!(rc.generation_id, ra.generation_id);
    assert_eq!(ra.members.len(), 2);
    assert!(!h.m.member_ids("g").contains(&b));
}

#[test]
fn a_leader_that_never_syncs_is_removed() {
    let mut h = H::new();
    let a = take(&h.join_req("g", "", None));
    let b = h.join_req("g", "", None);
    let _ = h.join_req("g", &a.member_id, None);
    let b = take(&b);
    let sb = h.sync("g", &b.member_id, b.generation_id, vec![]);
    // Both stay alive by heartbeats; only the leader fails to sync.
    for _ in 0..6 {
        h.advance(501);
        let _ = h.heartbeat("g", &a.member_id, b.generation_id);
        let _ = h.heartbeat("g", &b.member_id, b.generation_id);
    }
    assert_eq!(take(&sb).error, ErrorCode::RebalanceInProgress);
    assert_eq!(h.m.member_ids("g"), vec![b.member_id.clone()]);
}

#[test]
fn initial_rebalance_delay_waits_for_more_members() {
    let mut h = H::with(Config {
        initial_rebalance_delay_ms: 100,
        ..config()
    });
    let a = h.join_req("g", "", None);
    h.advance(60);
    let b = h.join_req("g", "", None);
    h.advance(60);
    assert!(a.lock().is_none(), "the delay was extended by b's arrival");
    h.advance(100);
    let (ra, rb) = (take(&a), take(&b));
    assert_eq!(ra.generation_id, 1);
    assert_eq!(rb.generation_id, 1);
}

#[test]
fn leave_group_batch_and_by_instance_id() {
    let mut h = H::new();
    let a = take(&h.join_req("g", "", Some("i-a")));
    let b = h.join_req("g", "", Some("i-b"));
    let _ = h.join_req("g", &a.member_id, Some("i-a"));
    let b = take(&b);
    let out =
        h.m.leave(
            "g",
            &[
                LeaveMember {
                    member_id: String::new(),
                    group_instance_id: Some("i-b".into()),
                },
                LeaveMember {
                    member_id: "ghost".into(),
                    group_instance_id: None,
                },
                LeaveMember {
                    member_id: b.member_id.clone(),
                    group_instance_id: Some("i-b".into()),
                },
            ],
            h.now,
        )
        .unwrap();
    h.flush();
    assert_eq!(out[0].error, ErrorCode::None);
    assert_eq!(out[1].error, ErrorCode::UnknownMemberId);
    assert_eq!(out[2].error, ErrorCode::UnknownMemberId, "already gone");
    assert_eq!(h.m.member_ids("g"), vec![a.member_id.clone()]);
    let out =
        h.m.leave(
            "g",
            &[LeaveMember {
                member_id: a.member_id.clone(),
                group_instance_id: None,
            }],
            h.now,
        )
        .unwrap();
    h.flush();
    assert_eq!(out[0].error, ErrorCode::None);
    assert_eq!(h.m.state("g"), Some(GroupState::Empty));
}

#[test]
fn static_member_rejoin_fences_the_old_id_without_a_rebalance() {
    let mut h = H::new();
    let a = take(&h.join_req("g", "", Some("inst")));
    let _ = take(&h.sync(
        "g",
        &a.member_id,
        a.generation_id,
        vec![(a.member_id.clone(), vec![7])],
    ));
    assert_eq!(h.m.state("g"), Some(GroupState::Stable));
    // The process restarts and joins with its instance id and no member id.
    let again = take(&h.join_req("g", "", Some("inst")));
    assert_eq!(again.error, ErrorCode::None);
    assert_ne!(again.member_id, a.member_id);
    assert_eq!(again.generation_id, a.generation_id, "no rebalance");
    assert!(again.skip_assignment, "it was the leader");
    assert_eq!(h.m.state("g"), Some(GroupState::Stable));
    let s = take(&h.sync("g", &again.member_id, again.generation_id, vec![]));
    assert_eq!(s.assignment, vec![7], "its assignment survived");
    let old = h.m.heartbeat(
        &HeartbeatRequest {
            group_id: "g".into(),
            generation_id: a.generation_id,
            member_id: a.member_id.clone(),
            group_instance_id: Some("inst".into()),
        },
        h.now,
    );
    assert_eq!(old, ErrorCode::FencedInstanceId);
    let c = h.m.commit(
        &CommitRequest {
            group_id: "g".into(),
            generation_id: a.generation_id,
            member_id: a.member_id,
            group_instance_id: Some("inst".into()),
            offsets: vec![],
        },
        h.now,
    );
    assert_eq!(c, Err(ErrorCode::FencedInstanceId));
}

#[test]
fn simple_consumer_commits_only_to_groups_without_members() {
    let mut h = H::new();
    assert!(h.commit("solo", "", -1, 3).is_ok());
    assert_eq!(h.m.state("solo"), Some(GroupState::Empty));
    assert_eq!(
        h.commit("nope", "x", 4, 3),
        Err(ErrorCode::IllegalGeneration)
    );
    let (_a, _b, _) = stable_pair(&mut h);
    assert_eq!(h.commit("g", "", -1, 3), Err(ErrorCode::UnknownMemberId));
    let too_long = h.m.commit(
        &CommitRequest {
            group_id: "solo".into(),
            generation_id: -1,
            offsets: vec![CommitOffset {
                topic: "t".into(),
                partition: 1,
                offset: 1,
                leader_epoch: -1,
                metadata: Some("x".repeat(5000)),
            }],
            ..CommitRequest::default()
        },
        h.now,
    );
    assert_eq!(
        too_long.unwrap()[0].error,
        ErrorCode::OffsetMetadataTooLarge
    );
}

#[test]
fn commits_during_completing_rebalance_are_refused() {
    let mut h = H::new();
    let a = take(&h.join_req("g", "", None));
    assert_eq!(h.m.state("g"), Some(GroupState::CompletingRebalance));
    assert_eq!(
        h.commit("g", &a.member_id, a.generation_id, 1),
        Err(ErrorCode::RebalanceInProgress)
    );
    let b = h.join_req("g", "", None);
    // PreparingRebalance: the old generation may still commit (Kafka lets
    // members commit what they processed before rejoining).
    assert_eq!(h.m.state("g"), Some(GroupState::PreparingRebalance));
    assert!(h.commit("g", &a.member_id, a.generation_id, 1).is_ok());
    drop(b);
}

#[test]
fn describe_list_delete_and_offset_delete() {
    let mut h = H::new();
    let (a, _b, generation) = stable_pair(&mut h);
    assert!(h.commit("g", &a, generation, 10).is_ok());
    assert!(h.commit("other", "", -1, 1).is_ok());
    let d = h.m.describe("g");
    assert!(d.found);
    assert_eq!(d.state, "Stable");
    assert_eq!(d.protocol, "range");
    assert_eq!(d.members.len(), 2);
    assert!(!h.m.describe("missing").found);
    let listed = h.m.list(&[]);
    assert_eq!(listed.len(), 2);
    assert_eq!(h.m.list(&["empty".into()]).len(), 1);
    assert_eq!(
        h.m.delete_groups(&["g".into(), "missing".into()], h.now),
        vec![
            ("g".into(), ErrorCode::NonEmptyGroup),
            ("missing".into(), ErrorCode::GroupIdNotFound)
        ]
    );
    // The group is subscribed to `t`: its offsets stay.
    let r =
        h.m.delete_offsets("g", &[("t".into(), 0), ("u".into(), 0)])
            .unwrap();
    assert_eq!(r[0].error, ErrorCode::GroupSubscribedToTopic);
    assert_eq!(r[1].error, ErrorCode::None);
    assert_eq!(
        h.m.delete_offsets("missing", &[]),
        Err(ErrorCode::GroupIdNotFound)
    );
    let r = h.m.delete_offsets("other", &[("t".into(), 0)]).unwrap();
    assert_eq!(r[0].error, ErrorCode::None);
    assert_eq!(h.m.fetch_offsets("other", None).len(), 0);
    assert_eq!(
        h.m.delete_groups(&["other".into()], h.now),
        vec![("other".into(), ErrorCode::None)]
    );
    assert!(!h.m.describe("other").found);
}
