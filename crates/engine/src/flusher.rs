//! The engine's own thread for fsyncs (group commit) and periodic work.
//!
//! Callers that need durability queue a request with a callback and return
//! at once. The thread takes every request queued so far, runs one fdatasync
//! per partition for all of them, and calls back. Appends that arrive while
//! an fdatasync runs are served by the next one, so under load many appends
//! share each fdatasync. Nothing here blocks the caller's thread.
//!
//! The same thread runs the periodic work (interval flushes, checkpoints,
//! retention) at the deadlines the engine's tick returns, and sleeps in
//! between: an idle engine wakes only for those deadlines.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::Error;
use crate::partition::{Partition, SyncCallback};

type Tick = Box<dyn FnMut(Instant) -> Instant + Send>;

struct State {
    requests: Vec<(Arc<Partition>, SyncCallback)>,
    kicked: bool,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    cond: Condvar,
}

/// A cheap handle for queueing work on the flusher.
#[derive(Clone)]
pub struct FlusherHandle {
    shared: Arc<Shared>,
}

impl FlusherHandle {
    pub fn request(&self, partition: Arc<Partition>, callback: SyncCallback) {
        let mut st = self.shared.state.lock();
        if st.stop {
            drop(st);
            callback(Err(Error::Closed));
            return;
        }
        st.requests.push((partition, callback));
        drop(st);
        self.shared.cond.notify_one();
    }

    /// Wakes the thread to run its tick now (an interval flush is due).
    pub fn kick(&self) {
        let mut st = self.shared.state.lock();
        st.kicked = true;
        drop(st);
        self.shared.cond.notify_one();
    }
}

pub struct Flusher {
    handle: FlusherHandle,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    pub fn handle(&self) -> FlusherHandle {
        self.handle.clone()
    }

    /// Starts the thread. `tick` runs periodic work and returns its next deadline.
    pub fn start(tick: Tick) -> std::io::Result<Flusher> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                requests: Vec::new(),
                kicked: false,
                stop: false,
            }),
            cond: Condvar::new(),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("ferrolog-flusher".into())
            .spawn(move || run(s, tick))?;
        Ok(Flusher {
            handle: FlusherHandle { shared },
            thread: Some(thread),
        })
    }

    /// Serves the requests already queued, then stops the thread.
    pub fn stop(&mut self) {
        {
            let mut st = self.handle.shared.state.lock();
            st.stop = true;
        }
        self.handle.shared.cond.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: Arc<Shared>, mut tick: Tick) {
    let mut next_tick = Instant::now() + Duration::from_millis(10);
    loop {
        let (requests, run_tick, stop) = {
            let mut st = shared.state.lock();
            while st.requests.is_empty() && !st.kicked && !st.stop && Instant::now() < next_tick {
                shared.cond.wait_until(&mut st, next_tick);
            }
            let run_tick = st.kicked || Instant::now() >= next_tick;
            st.kicked = false;
            (std::mem::take(&mut st.requests), run_tick, st.stop)
        };
        serve(requests);
        if run_tick && !stop {
            next_tick = tick(Instant::now());
        }
        if stop {
            // Serve anything queued while we served the last round.
            let rest = std::mem::take(&mut shared.state.lock().requests);
            serve(rest);
            return;
        }
    }
}

/// One fdatasync per partition for all of its queued requests.
fn serve(requests: Vec<(Arc<Partition>, SyncCallback)>) {
    if requests.is_empty() {
        return;
    }
    let mut by_partition: HashMap<*const Partition, (Arc<Partition>, Vec<SyncCallback>)> =
        HashMap::new();
    for (p, cb) in requests {
        let key = Arc::as_ptr(&p);
        by_partition
            .entry(key)
            .or_insert_with(|| (p, Vec::new()))
            .1
            .push(cb);
    }
    for (_, (partition, callbacks)) in by_partition {
        let result = partition.sync_now();
        for cb in callbacks {
            cb(match &result {
                Ok(()) => Ok(()),
                // Already the partition's own FsyncFailed: passed on as it is
                // (wrapping it again repeated the message inside itself).
                Err(Error::FsyncFailed {
                    topic,
                    partition,
                    reason,
                }) => Err(Error::FsyncFailed {
                    topic: topic.clone(),
                    partition: *partition,
                    reason: reason.clone(),
                }),
                Err(e) => Err(Error::FsyncFailed {
                    topic: partition.topic.clone(),
                    partition: partition.id,
                    reason: e.to_string(),
                }),
            });
        }
    }
}
