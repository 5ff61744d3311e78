//! The coordinator's own timer thread fires deadlines from its clock: a
//! manual clock is moved past a member's session and the timer (not the
//! test) completes the rebalance that follows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use ferrolog_coordinator::manager::NullSink;
use ferrolog_coordinator::*;

fn join(c: &Coordinator, member: &str) -> mpsc::Receiver<JoinResponse> {
    let (tx, rx) = mpsc::channel();
    c.join(
        JoinRequest {
            group_id: "g".into(),
            member_id: member.into(),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), vec![])],
            session_timeout_ms: 1000,
            rebalance_timeout_ms: 5000,
            ..JoinRequest::default()
        },
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    rx
}

#[test]
fn the_timer_thread_expires_sessions() {
    let clock = ManualClock::new(0);
    let config = Config {
        min_session_timeout_ms: 10,
        initial_rebalance_delay_ms: 0,
        ..Config::default()
    };
    let c = Coordinator::with_manager(
        GroupManager::new(config, Box::new(NullSink)),
        Arc::new(clock.clone()),
        true,
    )
    .unwrap();
    let a = join(&c, "").recv().unwrap();
    let b_rx = join(&c, "");
    let a2 = join(&c, &a.member_id).recv().unwrap();
    let b = b_rx.recv().unwrap();
    assert_eq!(a2.generation_id, b.generation_id);
    // b rejoins for the next generation at once; a goes silent. Only the
    // timer can end this rebalance: by expiring a's session.
    let _ = c.heartbeat(&HeartbeatRequest {
        group_id: "g".into(),
        generation_id: b.generation_id,
        member_id: b.member_id.clone(),
        group_instance_id: None,
    });
    let c_rx = join(&c, "");
    let b_rx = join(&c, &b.member_id);
    clock.advance(1001);
    let b2 = b_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the timer completed the rebalance");
    let c2 = c_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(b2.generation_id, a2.generation_id + 1);
    assert_eq!(c2.generation_id, b2.generation_id);
    assert!(!c.member_ids("g").contains(&a.member_id));
    c.close();
}
