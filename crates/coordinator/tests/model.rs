//! Property test of the group state machine: random clients join, sync,
//! heartbeat, commit, leave, go silent, while time moves; invariants are
//! checked against what the clients saw, then everyone left behaves well
//! for a while and the group must settle.
//!
//! Invariants:
//! * a leader's member list for a generation names each current member
//!   exactly once;
//! * a member's successful SyncGroup returns what the leader assigned it in
//!   that generation;
//! * a commit is accepted only from a current member of the current
//!   generation (or as a simple commit to a group without members);
//! * every JoinGroup and SyncGroup gets an answer;
//! * after a quiet period of well-behaved clients the group is Stable with
//!   exactly those clients (or Empty when none is left).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::*;
use ferrolog_coordinator::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Step(usize),
    Join(usize),
    Heartbeat(usize),
    Commit(usize, bool),
    Leave(usize),
    Crash(usize),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize).prop_map(Op::Step),
        1 => (0..4usize).prop_map(Op::Join),
        2 => (0..4usize).prop_map(Op::Heartbeat),
        2 => (0..4usize, any::<bool>()).prop_map(|(c, s)| Op::Commit(c, s)),
        1 => (0..4usize).prop_map(Op::Leave),
        1 => (0..4usize).prop_map(Op::Crash),
        2 => (0..1500i64).prop_map(Op::Advance),
    ]
}

#[derive(Default)]
struct Client {
    instance: Option<String>,
    require_id: bool,
    member_id: String,
    generation: i32,
    join: Option<Slot<JoinResponse>>,
    sync: Option<Slot<SyncResponse>>,
    stable: bool,
    /// Crashed: sends nothing until restarted.
    dead: bool,
}

struct World {
    h: H,
    clients: Vec<Client>,
    /// generation -> member id -> assignment the leader gave.
    assigned: HashMap<i32, HashMap<String, Vec<u8>>>,
    /// Requests of clients that left or crashed while they were in flight.
    orphans: Vec<Slot<JoinResponse>>,
    orphan_syncs: Vec<Slot<SyncResponse>>,
}

impl World {
    /// Clients 0-3 are in group "g", 4-7 in "g1", and so on.
    fn group(&self, c: usize) -> String {
        if c < 4 {
            "g".into()
        } else {
            format!("g{}", c / 4)
        }
    }

    fn forget(&mut self, c: usize) {
        let cl = &mut self.clients[c];
        cl.member_id.clear();
        cl.stable = false;
        cl.dead = true;
        if let Some(j) = cl.join.take() {
            self.orphans.push(j);
        }
        if let Some(s) = cl.sync.take() {
            self.orphan_syncs.push(s);
        }
    }
}

const SESSION: i32 = 1000;

impl World {
    fn join(&mut self, c: usize) {
        let cl = &self.clients[c];
        if cl.join.is_some() || cl.dead {
            return;
        }
        let req = JoinRequest {
            group_id: self.group(c),
            member_id: cl.member_id.clone(),
            group_instance_id: cl.instance.clone(),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), subscription(&["t"]))],
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: 2000,
            client_id: format!("c{c}"),
            client_host: String::new(),
            require_known_member_id: cl.require_id,
            in_process: false,
        };
        let slot = self.h.join_with(req);
        self.clients[c].join = Some(slot);
        self.clients[c].stable = false;
        self.check_join(c);
    }

    /// Looks at a join answer, if any: the leader's list is checked and
    /// the leader syncs with an assignment for every member.
    fn check_join(&mut self, c: usize) {
        let Some(slot) = &self.clients[c].join else {
            return;
        };
        let Some(r) = slot.lock().clone() else {
            return;
        };
        self.clients[c].join = None;
        match r.error {
            ErrorCode::None => {
                self.clients[c].member_id = r.member_id.clone();
                self.clients[c].generation = r.generation_id;
                let mut assignments = Vec::new();
                if r.leader == r.member_id && !r.skip_assignment {
                    let mut ids: Vec<String> =
                        r.members.iter().map(|m| m.member_id.clone()).collect();
                    ids.sort();
                    let mut unique = ids.clone();
                    unique.dedup();
                    assert_eq!(ids, unique, "a member listed twice");
                    if self.h.m.generation(&self.group(c)) == Some(r.generation_id)
                        && self.h.m.state(&self.group(c)) == Some(GroupState::CompletingRebalance)
                    {
                        let mut current = self.h.m.member_ids(&self.group(c));
                        current.sort();
                        assert_eq!(ids, current, "the leader's list is the group");
                    }
                    for m in &r.members {
                        let bytes = m
                            .group_instance_id
                            .clone()
                            .unwrap_or_else(|| m.member_id.clone())
                            .into_bytes();
                        assignments.push((m.member_id.clone(), bytes));
                    }
                    self.assigned
                        .entry(r.generation_id)
                        .or_default()
                        .extend(assignments.iter().cloned());
                }
                let slot = self
                    .h
                    .sync(&self.group(c), &r.member_id, r.generation_id, assignments);
                self.clients[c].sync = Some(slot);
                self.check_sync(c);
            }
            ErrorCode::MemberIdRequired => {
                self.clients[c].member_id = r.member_id;
            }
            ErrorCode::UnknownMemberId | ErrorCode::FencedInstanceId => {
                self.clients[c].member_id.clear();
            }
            other => panic!("unexpected join error {other:?}"),
        }
    }

    fn check_sync(&mut self, c: usize) {
        let Some(slot) = &self.clients[c].sync else {
            return;
        };
        let Some(r) = slot.lock().clone() else {
            return;
        };
        self.clients[c].sync = None;
        match r.error {
            ErrorCode::None => {
                let cl = &self.clients[c];
                let key = cl
                    .instance
                    .clone()
                    .unwrap_or_else(|| cl.member_id.clone())
                    .into_bytes();
                if let Some(given) = self
                    .assigned
                    .get(&cl.generation)
                    .and_then(|g| g.get(&cl.member_id))
                {
                    assert_eq!(
                        &r.assignment, given,
                        "sync returned another member's assignment"
                    );
                } else if !r.assignment.is_empty() {
                    // A static member replaced in place keeps the
                    // assignment of its instance.
                    assert_eq!(r.assignment, key);
                }
                self.clients[c].stable = true;
            }
            ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration => {}
            ErrorCode::UnknownMemberId | ErrorCode::FencedInstanceId => {
                self.clients[c].member_id.clear()
            }
            other => panic!("unexpected sync error {other:?}"),
        }
    }

    /// What a well-behaved client does next.
    fn step(&mut self, c: usize) {
        if self.clients[c].dead {
            return;
        }
        self.check_join(c);
        self.check_sync(c);
        let cl = &self.clients[c];
        if cl.join.is_some() || cl.sync.is_some() {
            return;
        }
        if !cl.stable {
            self.join(c);
            return;
        }
        self.heartbeat(c);
    }

    fn heartbeat(&mut self, c: usize) {
        let cl = &self.clients[c];
        if cl.dead || cl.member_id.is_empty() {
            return;
        }
        let e = self.h.m.heartbeat(
            &HeartbeatRequest {
                group_id: self.group(c),
                generation_id: cl.generation,
                member_id: cl.member_id.clone(),
                group_instance_id: cl.instance.clone(),
            },
            self.h.now,
        );
        self.h.flush();
        match e {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration => {
                self.clients[c].stable = false
            }
            ErrorCode::UnknownMemberId | ErrorCode::FencedInstanceId => {
                self.clients[c].stable = false;
                self.clients[c].member_id.clear();
            }
            other => panic!("unexpected heartbeat error {other:?}"),
        }
    }

    fn commit(&mut self, c: usize, simple: bool) {
        let cl = &self.clients[c];
        let (member, generation) = if simple {
            (String::new(), -1)
        } else {
            (cl.member_id.clone(), cl.generation)
        };
        let members = self.h.m.member_ids(&self.group(c));
        let current = self.h.m.generation(&self.group(c));
        let state = self.h.m.state(&self.group(c));
        let r = self.h.commit(&self.group(c), &member, generation, 1);
        let allowed = if simple {
            state.is_none() || state == Some(GroupState::Empty)
        } else {
            members.contains(&member)
                && current == Some(generation)
                && state != Some(GroupState::CompletingRebalance)
                && !self.fenced(c)
        };
        assert_eq!(
            r.is_ok(),
            allowed,
            "commit {member}@{generation} in {state:?} gen {current:?}: {r:?}"
        );
    }

    fn fenced(&self, _c: usize) -> bool {
        // Commits in this test carry no instance id, so nothing is fenced
        // by instance; kept for clarity of the rule.
        false
    }
}

fn run(ops: Vec<Op>, statics: [bool; 4], require: [bool; 4]) {
    let mut w = World {
        h: H::new(),
        clients: (0..4)
            .map(|i| Client {
                instance: statics[i].then(|| format!("inst-{i}")),
                require_id: require[i],
                ..Client::default()
            })
            .collect(),
        assigned: HashMap::new(),
        orphans: Vec::new(),
        orphan_syncs: Vec::new(),
    };
    for op in ops {
        match op {
            Op::Step(c) => w.step(c),
            Op::Join(c) => {
                w.clients[c].dead = false;
                w.join(c)
            }
            Op::Heartbeat(c) => w.heartbeat(c),
            Op::Commit(c, simple) => w.commit(c, simple),
            Op::Leave(c) => {
                let cl = &w.clients[c];
                if !cl.member_id.is_empty() {
                    let group = w.group(c);
                    let _ = w.h.m.leave(
                        &group,
                        &[LeaveMember {
                            member_id: cl.member_id.clone(),
                            group_instance_id: cl.instance.clone(),
                        }],
                        w.h.now,
                    );
                    w.h.flush();
                }
                w.forget(c);
            }
            Op::Crash(c) => {
                // The process dies: its requests in flight are lost, its
                // memory too (a static member keeps only its instance id).
                w.forget(c);
            }
            Op::Advance(ms) => w.h.advance(ms),
        }
        for c in 0..4 {
            w.check_join(c);
            w.check_sync(c);
        }
    }
    settle_and_check(&mut w, 1);
}

/// The quiet period: living clients behave well, the dead stay dead; then
/// every group must have settled.
fn settle_and_check(w: &mut World, groups: usize) {
    // Quiet period: the living clients behave well, the dead stay dead.
    for _ in 0..80 {
        for c in 0..w.clients.len() {
            w.step(c);
        }
        w.h.advance(150);
    }
    // Requests in flight when their client died were still answered
    // (by the rebalance that dropped the member, or by its completion).
    for j in &w.orphans {
        assert!(j.lock().is_some(), "a join was never answered");
    }
    for s in &w.orphan_syncs {
        assert!(s.lock().is_some(), "a sync was never answered");
    }
    for g in 0..groups {
        let group = w.group(g * 4);
        let alive: Vec<usize> = (g * 4..g * 4 + 4).filter(|c| !w.clients[*c].dead).collect();
        let mut members = w.h.m.member_ids(&group);
        members.sort();
        let mut expected: Vec<String> = alive
            .iter()
            .map(|c| w.clients[*c].member_id.clone())
            .collect();
        expected.sort();
        if alive.is_empty() {
            assert!(
                matches!(w.h.m.state(&group), None | Some(GroupState::Empty)),
                "{:?}",
                w.h.m.state(&group)
            );
        } else {
            assert_eq!(w.h.m.state(&group), Some(GroupState::Stable));
            assert_eq!(members, expected);
            for c in alive {
                assert!(w.clients[c].stable, "client {c} settled");
                assert_eq!(Some(w.clients[c].generation), w.h.m.generation(&group));
            }
        }
    }
}

/// 50 groups of 4 members churn for a minute of simulated time (joins,
/// leaves, crashes, restarts, commits), then every group settles: no
/// rebalance stays stuck, and groups do not disturb each other.
#[test]
fn fifty_groups_churn_without_a_stuck_rebalance() {
    let n = 200;
    let mut w = World {
        h: H::new(),
        clients: (0..n)
            .map(|i| Client {
                instance: (i % 3 == 0).then(|| format!("inst-{i}")),
                require_id: i % 2 == 0,
                ..Client::default()
            })
            .collect(),
        assigned: HashMap::new(),
        orphans: Vec::new(),
        orphan_syncs: Vec::new(),
    };
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..600 {
        for _ in 0..40 {
            let c = (rand() % n as u64) as usize;
            match rand() % 12 {
                0 => {
                    let cl = &w.clients[c];
                    if !cl.member_id.is_empty() {
                        let group = w.group(c);
                        let leave = LeaveMember {
                            member_id: cl.member_id.clone(),
                            group_instance_id: cl.instance.clone(),
                        };
                        let _ = w.h.m.leave(&group, &[leave], w.h.now);
                        w.h.flush();
                    }
                    w.forget(c);
                }
                1 => w.forget(c),
                2 | 3 => {
                    w.clients[c].dead = false;
                    w.join(c);
                }
                4 => w.commit(c, false),
                _ => w.step(c),
            }
        }
        w.h.advance(100);
        for c in 0..n {
            w.check_join(c);
            w.check_sync(c);
        }
    }
    settle_and_check(&mut w, n / 4);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_group_life(
        ops in proptest::collection::vec(op(), 1..80),
        statics in any::<[bool; 4]>(),
        require in any::<[bool; 4]>(),
    ) {
        run(ops, statics, require);
    }
}
