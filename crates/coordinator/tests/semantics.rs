//! Broker settings a Kafka user expects of a coordinator: dynamic members
//! outliving a coordinator restart (session timers restart at the load),
//! `offsets.retention.minutes` expiring the offsets of empty groups as
//! Kafka 2.1+ does, `group.min/max.session.timeout.ms` for clients of the
//! broker (in-process members may go lower), and
//! `group.initial.rebalance.delay.ms`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use ferrolog_coordinator::*;
use ferrolog_engine::{Engine, EngineOptions};

const MINUTE: i64 = 60_000;

fn open(dir: &Path, config: Config, clock: &ManualClock) -> (Arc<Engine>, Coordinator) {
    let engine = Arc::new(Engine::open(dir, EngineOptions::default()).unwrap());
    let (c, _) = Coordinator::open(engine.clone(), config, Arc::new(clock.clone()), false).unwrap();
    (engine, c)
}

fn close(engine: Arc<Engine>, c: Coordinator) {
    c.close();
    drop(c);
    engine.close().unwrap();
}

fn request(group: &str, member: &str, session: i32, in_process: bool) -> JoinRequest {
    JoinRequest {
        group_id: group.into(),
        member_id: member.into(),
        protocol_type: "consumer".into(),
        // Subscription v0 to topic "t": version, one topic, no user data.
        protocols: vec![(
            "range".into(),
            vec![0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 0],
        )],
        session_timeout_ms: session,
        rebalance_timeout_ms: 10_000,
        client_id: "c".into(),
        in_process,
        ..JoinRequest::default()
    }
}

fn join_with(c: &Coordinator, req: JoinRequest) -> mpsc::Receiver<JoinResponse> {
    let (tx, rx) = mpsc::channel();
    c.join(
        req,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    rx
}

fn join(c: &Coordinator, group: &str, member: &str) -> JoinResponse {
    join_with(c, request(group, member, 10_000, false))
        .try_recv()
        .expect("the join completes at once")
}

fn sync(c: &Coordinator, group: &str, j: &JoinResponse) -> SyncResponse {
    let (tx, rx) = mpsc::channel();
    c.sync(
        SyncRequest {
            group_id: group.into(),
            generation_id: j.generation_id,
            member_id: j.member_id.clone(),
            assignments: vec![(j.member_id.clone(), vec![9, 9])],
            ..SyncRequest::default()
        },
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    rx.try_recv().expect("the sync completes at once")
}

fn commit(c: &Coordinator, group: &str, member: &str, generation: i32, topic: &str) {
    let r = c
        .commit(&CommitRequest {
            group_id: group.into(),
            generation_id: generation,
            member_id: member.into(),
            group_instance_id: None,
            offsets: vec![CommitOffset {
                topic: topic.into(),
                partition: 0,
                offset: 5,
                leader_epoch: -1,
                metadata: None,
            }],
        })
        .unwrap();
    assert_eq!(r[0].error, ErrorCode::None);
}

fn heartbeat(c: &Coordinator, group: &str, j: &JoinResponse) -> ErrorCode {
    c.heartbeat(&HeartbeatRequest {
        group_id: group.into(),
        generation_id: j.generation_id,
        member_id: j.member_id.clone(),
        group_instance_id: None,
    })
}

fn config() -> Config {
    Config {
        initial_rebalance_delay_ms: 0,
        ..Config::default()
    }
}

#[test]
fn a_dynamic_member_of_another_process_outlives_a_restart_and_expires_a_session_after_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    let (engine, c) = open(dir.path(), config(), &clock);
    let alive = join(&c, "g", "");
    assert_eq!(sync(&c, "g", &alive).error, ErrorCode::None);
    // A member of the coordinator's own process died with it: it is not
    // loaded again (it would only hold the next rebalance up).
    let local = join_with(&c, request("local", "", 10_000, true))
        .try_recv()
        .unwrap();
    assert_eq!(sync(&c, "local", &local).error, ErrorCode::None);
    close(engine, c);

    // Much later than the session: the timer restarts at the load.
    clock.advance(60 * MINUTE);
    let (engine, c) = open(dir.path(), config(), &clock);
    assert_eq!(c.state("g"), Some(GroupState::Stable));
    assert_eq!(c.member_ids("g"), vec![alive.member_id.clone()]);
    assert!(c.member_ids("local").is_empty());
    assert_eq!(c.state("local"), Some(GroupState::Empty));
    clock.advance(9_000);
    c.tick();
    assert_eq!(heartbeat(&c, "g", &alive), ErrorCode::None);
    // Its assignment is still its own (SyncGroup in Stable answers it).
    assert_eq!(sync(&c, "g", &alive).assignment, vec![9, 9]);
    // Without heartbeats, the session ends as any other would.
    clock.advance(10_001);
    c.tick();
    assert_eq!(c.state("g"), Some(GroupState::Empty));
    assert_eq!(heartbeat(&c, "g", &alive), ErrorCode::UnknownMemberId);
    close(engine, c);
}

#[test]
fn offsets_of_an_empty_group_expire_after_the_retention_and_the_group_goes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    let cfg = Config {
        offsets_retention_ms: 10 * MINUTE,
        offsets_retention_check_interval_ms: MINUTE,
        ..config()
    };
    let (engine, c) = open(dir.path(), cfg.clone(), &clock);
    // "idle" empties now; "busy" stays stable with a member subscribed to
    // "t" and an old commit of topic "gone" it no longer subscribes to;
    // "simple" commits without a group (no protocol type).
    let idle = join(&c, "idle", "");
    sync(&c, "idle", &idle);
    commit(&c, "idle", &idle.member_id, idle.generation_id, "t");
    c.leave(
        "idle",
        &[LeaveMember {
            member_id: idle.member_id.clone(),
            group_instance_id: None,
        }],
    )
    .unwrap();
    assert_eq!(c.state("idle"), Some(GroupState::Empty));
    let busy = join(&c, "busy", "");
    sync(&c, "busy", &busy);
    commit(&c, "busy", &busy.member_id, busy.generation_id, "t");
    commit(&c, "busy", &busy.member_id, busy.generation_id, "gone");
    commit(&c, "simple", "", -1, "t");

    // Before the retention has passed, nothing expires ("busy" keeps its
    // session with heartbeats).
    let pass = |c: &Coordinator, ms: i64| {
        let mut left = ms;
        while left > 0 {
            let step = left.min(5_000);
            clock.advance(step);
            left -= step;
            assert_eq!(heartbeat(c, "busy", &busy), ErrorCode::None);
            c.tick();
        }
    };
    pass(&c, 9 * MINUTE);
    assert_eq!(c.fetch_offsets("idle", None).len(), 1);
    assert_eq!(c.fetch_offsets("simple", None).len(), 1);
    assert_eq!(c.fetch_offsets("busy", None).len(), 2);

    // Across a restart: the empty group's clock started when it emptied,
    // not at the load.
    close(engine, c);
    let (engine, c) = open(dir.path(), cfg.clone(), &clock);
    pass(&c, 30_000);
    assert_eq!(c.fetch_offsets("idle", None).len(), 1);
    pass(&c, 30_000 + 5_000);
    assert!(
        c.fetch_offsets("idle", None).is_empty(),
        "empty group's offsets expire"
    );
    assert!(
        !c.describe(&["idle".into()])[0].found,
        "and the group is deleted"
    );
    assert!(
        c.fetch_offsets("simple", None).is_empty(),
        "simple consumer's expire"
    );
    let busy_left: Vec<String> = c
        .fetch_offsets("busy", None)
        .into_iter()
        .map(|o| o.topic)
        .collect();
    assert_eq!(
        busy_left,
        vec!["t".to_string()],
        "only the unsubscribed topic expires"
    );
    // The expiry is written: it survives a restart.
    close(engine, c);
    let (engine, c) = open(dir.path(), cfg, &clock);
    assert!(c.fetch_offsets("idle", None).is_empty());
    assert!(c.fetch_offsets("simple", None).is_empty());
    assert_eq!(c.fetch_offsets("busy", None).len(), 1);
    close(engine, c);
}

#[test]
fn offsets_are_kept_seven_days_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    let (engine, c) = open(dir.path(), config(), &clock);
    commit(&c, "simple", "", -1, "t");
    clock.advance(7 * 24 * 60 * MINUTE - 1);
    c.tick();
    assert_eq!(c.fetch_offsets("simple", None).len(), 1);
    clock.advance(10 * MINUTE + 1);
    c.tick();
    assert!(c.fetch_offsets("simple", None).is_empty());
    close(engine, c);
}

#[test]
fn session_timeouts_outside_the_brokers_bounds_are_refused_except_in_process_ones() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    let cfg = Config {
        in_process_min_session_timeout_ms: 1,
        ..config()
    };
    let (engine, c) = open(dir.path(), cfg, &clock);
    let answer = |session: i32, in_process: bool| {
        let group = format!("bounds-{session}-{in_process}");
        join_with(&c, request(&group, "", session, in_process))
            .try_recv()
            .unwrap()
            .error
    };
    // Kafka's group.min.session.timeout.ms 6000 and max 1800000.
    assert_eq!(answer(5_999, false), ErrorCode::InvalidSessionTimeout);
    assert_eq!(answer(1_800_001, false), ErrorCode::InvalidSessionTimeout);
    assert_eq!(answer(1_800_001, true), ErrorCode::InvalidSessionTimeout);
    assert_eq!(answer(100, true), ErrorCode::None);
    assert_eq!(answer(6_000, false), ErrorCode::None);
    close(engine, c);
}

#[test]
fn the_initial_rebalance_delay_waits_for_more_members() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    let cfg = Config {
        initial_rebalance_delay_ms: 3_000,
        ..config()
    };
    let (engine, c) = open(dir.path(), cfg, &clock);
    let first = join_with(&c, request("slow", "", 10_000, false));
    clock.advance(2_000);
    c.tick();
    assert!(first.try_recv().is_err(), "the first join waits");
    // A second member within the delay extends it and joins the same
    // first generation.
    let second = join_with(&c, request("slow", "", 10_000, false));
    // Kafka's InitialDelayedJoin: at the end of the first delay, a member
    // having joined, another delay (up to the rebalance timeout).
    clock.advance(1_000);
    c.tick();
    assert!(first.try_recv().is_err());
    clock.advance(2_999);
    c.tick();
    assert!(first.try_recv().is_err());
    clock.advance(1);
    c.tick();
    let (a, b) = (first.try_recv().unwrap(), second.try_recv().unwrap());
    assert_eq!((a.error, b.error), (ErrorCode::None, ErrorCode::None));
    assert_eq!((a.generation_id, b.generation_id), (1, 1));

    // With the delay at 0 (ferrolog's default), the first join completes
    // at once.
    let quick = join_with(&c, request("quick", "", 10_000, false));
    assert!(quick.try_recv().is_err(), "a delay is configured here");
    close(engine, c);
    let dir = tempfile::tempdir().unwrap();
    let (engine, c) = open(dir.path(), config(), &clock);
    assert_eq!(
        join_with(&c, request("quick", "", 10_000, false))
            .try_recv()
            .unwrap()
            .generation_id,
        1
    );
    close(engine, c);
}
