//! The thread-safe coordinator: one lock around the [`GroupManager`], a
//! clock, and one timer thread that fires session and rebalance deadlines.
//! JoinGroup and SyncGroup complete through callbacks, run on whichever
//! thread completed them (the caller's, or the timer's) after the lock is
//! released; a napi binding resolves a promise from them, the broker wakes
//! a tokio task.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ferrolog_engine::Engine;
use parking_lot::{Condvar, Mutex};

use crate::api::*;
use crate::clock::Clock;
use crate::error::ErrorCode;
use crate::manager::{Config, GroupManager, GroupState, RecordSink};
use crate::store::{load, EngineSink, LoadReport};

/// The longest the timer sleeps without being woken (it is woken whenever
/// a call may have moved a deadline closer).
const TIMER_MAX_SLEEP_MS: i64 = 1000;

struct Inner {
    manager: Mutex<GroupManager>,
    clock: Arc<dyn Clock>,
    /// (stopped, changed) under one lock with the timer's condvar.
    timer: Mutex<(bool, bool)>,
    wake: Condvar,
}

/// The group coordinator of one data directory: Kafka's classic group
/// protocol over a `GroupManager`, its deadlines fired by a timer thread,
/// shared by every caller in the process behind one mutex.
pub struct Coordinator {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Coordinator {
    /// Opens the coordinator of `engine`'s data directory: replays (and if
    /// needed migrates) `__consumer_offsets`. With `timer`, a thread fires
    /// deadlines from `clock`; without, the caller calls [`tick`](Self::tick)
    /// (tests with a manual clock).
    pub fn open(
        engine: Arc<Engine>,
        config: Config,
        clock: Arc<dyn Clock>,
        timer: bool,
    ) -> Result<(Coordinator, LoadReport), String> {
        let sink: Box<dyn RecordSink> = Box::new(EngineSink::new(engine.clone()));
        let mut manager = GroupManager::new(config, sink);
        let report = load(&engine, &mut manager, clock.now_ms())?;
        Ok((Self::with_manager(manager, clock, timer)?, report))
    }

    /// A coordinator over any sink (tests; a memory-only coordinator).
    pub fn with_manager(
        manager: GroupManager,
        clock: Arc<dyn Clock>,
        timer: bool,
    ) -> Result<Coordinator, String> {
        let inner = Arc::new(Inner {
            manager: Mutex::new(manager),
            clock,
            timer: Mutex::new((false, false)),
            wake: Condvar::new(),
        });
        let thread = if timer {
            let inner = inner.clone();
            Some(
                std::thread::Builder::new()
                    .name("ferrolog-groups".into())
                    .spawn(move || timer_loop(&inner))
                    .map_err(|e| format!("cannot start the group coordinator's timer: {e}"))?,
            )
        } else {
            None
        };
        Ok(Coordinator {
            inner,
            thread: Mutex::new(thread),
        })
    }

    /// Runs `f` on the manager, then the completions it queued (outside
    /// the lock), and wakes the timer.
    fn with<R>(&self, f: impl FnOnce(&mut GroupManager, i64) -> R) -> R {
        let now = self.inner.clock.now_ms();
        let (r, outbox) = {
            let mut m = self.inner.manager.lock();
            let r = f(&mut m, now);
            m.maybe_compact();
            (r, m.take_outbox())
        };
        for done in outbox {
            done();
        }
        let mut t = self.inner.timer.lock();
        t.1 = true;
        self.inner.wake.notify_one();
        r
    }

    /// JoinGroup: `cb` is called when the rebalance completes (or fails),
    /// possibly from the timer thread.
    pub fn join(&self, req: JoinRequest, cb: JoinCallback) {
        self.with(|m, now| m.join(req, now, cb));
    }

    /// SyncGroup: `cb` gets the member's assignment once the leader sent it.
    pub fn sync(&self, req: SyncRequest, cb: SyncCallback) {
        self.with(|m, now| m.sync(req, now, cb));
    }

    /// Heartbeat: keeps the member's session alive and tells it of a rebalance.
    pub fn heartbeat(&self, req: &HeartbeatRequest) -> ErrorCode {
        self.with(|m, now| m.heartbeat(req, now))
    }

    /// LeaveGroup for one or more members (by member id or instance id).
    pub fn leave(
        &self,
        group: &str,
        members: &[LeaveMember],
    ) -> Result<Vec<LeaveResult>, ErrorCode> {
        self.with(|m, now| m.leave(group, members, now))
    }

    /// OffsetCommit: checks the member and generation, then records the
    /// offsets in `__consumer_offsets`.
    pub fn commit(&self, req: &CommitRequest) -> Result<Vec<PartitionResult>, ErrorCode> {
        self.with(|m, now| m.commit(req, now))
    }

    /// OffsetFetch: the group's committed offsets, for the given partitions
    /// or (None) all of them.
    pub fn fetch_offsets(
        &self,
        group: &str,
        partitions: Option<&[(String, Vec<i32>)]>,
    ) -> Vec<FetchedOffset> {
        self.inner.manager.lock().fetch_offsets(group, partitions)
    }

    /// DescribeGroups: state, protocol and members of each group.
    pub fn describe(&self, groups: &[String]) -> Vec<GroupDescription> {
        let m = self.inner.manager.lock();
        groups.iter().map(|g| m.describe(g)).collect()
    }

    /// ListGroups, filtered by state when `states` is not empty.
    pub fn list(&self, states: &[String]) -> Vec<ListedGroup> {
        self.inner.manager.lock().list(states)
    }

    /// DeleteGroups: removes empty groups and their offsets, one result each.
    pub fn delete_groups(&self, groups: &[String]) -> Vec<(String, ErrorCode)> {
        self.with(|m, now| m.delete_groups(groups, now))
    }

    /// OffsetDelete: removes committed offsets of partitions the group does
    /// not consume.
    pub fn delete_offsets(
        &self,
        group: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<PartitionResult>, ErrorCode> {
        self.with(|m, _| m.delete_offsets(group, partitions))
    }

    /// Fires due deadlines now (what the timer thread does).
    pub fn tick(&self) {
        self.with(|m, now| m.tick(now));
    }

    /// The group's state, None for an unknown group (for tests and tools).
    pub fn state(&self, group: &str) -> Option<GroupState> {
        self.inner.manager.lock().state(group)
    }

    /// The group's generation id, None for an unknown group.
    pub fn generation(&self, group: &str) -> Option<i32> {
        self.inner.manager.lock().generation(group)
    }

    /// The ids of the group's current members.
    pub fn member_ids(&self, group: &str) -> Vec<String> {
        self.inner.manager.lock().member_ids(group)
    }

    /// Stops the timer and answers every waiting join/sync. Idempotent.
    pub fn close(&self) {
        {
            let mut t = self.inner.timer.lock();
            t.0 = true;
            self.inner.wake.notify_all();
        }
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
        self.with(|m, _| m.shutdown());
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.close();
    }
}

fn timer_loop(inner: &Inner) {
    loop {
        let now = inner.clock.now_ms();
        let (outbox, next) = {
            let mut m = inner.manager.lock();
            m.tick(now);
            m.maybe_compact();
            (m.take_outbox(), m.next_deadline())
        };
        for done in outbox {
            done();
        }
        let mut t = inner.timer.lock();
        if t.0 {
            return;
        }
        if !t.1 {
            let now = inner.clock.now_ms();
            let wait = next.map_or(TIMER_MAX_SLEEP_MS, |n| {
                (n - now).clamp(1, TIMER_MAX_SLEEP_MS)
            });
            inner
                .wake
                .wait_for(&mut t, Duration::from_millis(wait as u64));
        }
        t.1 = false;
        if t.0 {
            return;
        }
    }
}
