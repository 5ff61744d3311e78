#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use ferrolog_coordinator::manager::NullSink;
use ferrolog_coordinator::*;
use parking_lot::Mutex;

pub type Slot<T> = Arc<Mutex<Option<T>>>;

/// A manager driven by hand: explicit time, callbacks collected in slots.
pub struct H {
    pub m: GroupManager,
    pub now: i64,
}

pub fn config() -> Config {
    Config {
        min_session_timeout_ms: 10,
        initial_rebalance_delay_ms: 0,
        ..Config::default()
    }
}

impl H {
    pub fn new() -> H {
        H::with(config())
    }

    pub fn with(config: Config) -> H {
        H {
            m: GroupManager::new(config, Box::new(NullSink)),
            now: 1_000_000,
        }
    }

    pub fn flush(&mut self) {
        for done in self.m.take_outbox() {
            done();
        }
    }

    pub fn advance(&mut self, ms: i64) {
        self.now += ms;
        self.m.tick(self.now);
        self.flush();
    }

    pub fn join_req(
        &mut self,
        group: &str,
        member: &str,
        instance: Option<&str>,
    ) -> Slot<JoinResponse> {
        self.join_with(JoinRequest {
            group_id: group.into(),
            member_id: member.into(),
            group_instance_id: instance.map(String::from),
            protocol_type: "consumer".into(),
            protocols: vec![
                ("range".into(), subscription(&["t"])),
                ("roundrobin".into(), vec![9]),
            ],
            session_timeout_ms: 1000,
            rebalance_timeout_ms: 3000,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            require_known_member_id: false,
            in_process: false,
        })
    }

    pub fn join_with(&mut self, req: JoinRequest) -> Slot<JoinResponse> {
        let slot: Slot<JoinResponse> = Arc::new(Mutex::new(None));
        let s = slot.clone();
        self.m
            .join(req, self.now, Box::new(move |r| *s.lock() = Some(r)));
        self.flush();
        slot
    }

    pub fn sync(
        &mut self,
        group: &str,
        member: &str,
        generation: i32,
        assignments: Vec<(String, Vec<u8>)>,
    ) -> Slot<SyncResponse> {
        let slot: Slot<SyncResponse> = Arc::new(Mutex::new(None));
        let s = slot.clone();
        self.m.sync(
            SyncRequest {
                group_id: group.into(),
                generation_id: generation,
                member_id: member.into(),
                assignments,
                ..SyncRequest::default()
            },
            self.now,
            Box::new(move |r| *s.lock() = Some(r)),
        );
        self.flush();
        slot
    }

    pub fn heartbeat(&mut self, group: &str, member: &str, generation: i32) -> ErrorCode {
        let e = self.m.heartbeat(
            &HeartbeatRequest {
                group_id: group.into(),
                generation_id: generation,
                member_id: member.into(),
                group_instance_id: None,
            },
            self.now,
        );
        self.flush();
        e
    }

    pub fn commit(
        &mut self,
        group: &str,
        member: &str,
        generation: i32,
        offset: i64,
    ) -> Result<Vec<PartitionResult>, ErrorCode> {
        let r = self.m.commit(
            &CommitRequest {
                group_id: group.into(),
                generation_id: generation,
                member_id: member.into(),
                group_instance_id: None,
                offsets: vec![CommitOffset {
                    topic: "t".into(),
                    partition: 0,
                    offset,
                    leader_epoch: -1,
                    metadata: None,
                }],
            },
            self.now,
        );
        self.flush();
        r
    }
}

/// A `consumer` protocol subscription (v0) to `topics`.
pub fn subscription(topics: &[&str]) -> Vec<u8> {
    let mut b = vec![0, 0];
    b.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for t in topics {
        b.extend_from_slice(&(t.len() as i16).to_be_bytes());
        b.extend_from_slice(t.as_bytes());
    }
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b
}

pub fn take<T: Clone>(slot: &Slot<T>) -> T {
    slot.lock().clone().expect("the callback has run")
}
