//! The engine's own thread for fsyncs (group commit) and periodic work.
//!
//! Callers that need durability queue a request with a callback and return
//! at once. The thread takes every request queued so far, runs one fdatasync
//! per partition for all of them, and calls back. Appends that arrive while
//! an fdatasync runs are served by the next one, so under load many appends
//! share each fdatasync. Nothing here blocks the caller's thread.
//!
//! One round's fdatasyncs of different partitions run side by side, not one
//! after another: a send to eight partitions waits for about one fdatasync,
//! not eight. A caller asking for several partitions at once holds a
//! [`SyncBatch`] while it queues them, so that they land in the same round.
//!
//! The flusher knows what it syncs only as a [`Syncable`]; it does not know
//! partitions.
//!
//! The same thread runs the periodic work (interval flushes, checkpoints,
//! retention) at the deadlines the engine's tick returns, and sleeps in
//! between: an idle engine wakes only for those deadlines.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};

/// Called once the requested data is durable, or with why it is not.
pub type SyncCallback = Box<dyn FnOnce(Result<()>) + Send>;

/// Something the flusher can make durable (a partition's files).
pub(crate) trait Syncable: Send + Sync {
    /// Makes everything written so far durable.
    fn sync_now(&self) -> Result<()>;
    /// The error for each further waiter once `sync_now` failed with `e`
    /// (the first waiter gets `e` itself): the same failure, not a new one.
    fn repeat_error(&self, e: &Error) -> Error;
}

type Tick = Box<dyn FnMut(Instant) -> Instant + Send>;
type Request = (Arc<dyn Syncable>, SyncCallback);

/// The most fdatasyncs one round runs side by side (threads started for it).
const PARALLEL_SYNCS_MAX: usize = 16;

struct State {
    requests: Vec<Request>,
    /// Live `SyncBatch`es: requests are left queued until they end.
    holds: usize,
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
    pub(crate) fn request(&self, target: Arc<dyn Syncable>, callback: SyncCallback) {
        let mut st = self.shared.state.lock();
        if st.stop {
            drop(st);
            callback(Err(Error::Closed));
            return;
        }
        st.requests.push((target, callback));
        drop(st);
        self.shared.cond.notify_one();
    }

    /// Holds the requests queued from now until the batch is dropped, so
    /// that they are served in one round (their fdatasyncs side by side).
    pub fn batch(&self) -> SyncBatch {
        self.shared.state.lock().holds += 1;
        SyncBatch {
            shared: self.shared.clone(),
        }
    }

    /// Wakes the thread to run its tick now (an interval flush is due).
    pub fn kick(&self) {
        let mut st = self.shared.state.lock();
        st.kicked = true;
        drop(st);
        self.shared.cond.notify_one();
    }
}

/// See [`FlusherHandle::batch`]. Hold it for microseconds: while it lives,
/// no request is served.
pub struct SyncBatch {
    shared: Arc<Shared>,
}

impl Drop for SyncBatch {
    fn drop(&mut self) {
        let mut st = self.shared.state.lock();
        st.holds = st.holds.saturating_sub(1);
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
                holds: 0,
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
            while (st.requests.is_empty() || st.holds > 0)
                && !st.kicked
                && !st.stop
                && Instant::now() < next_tick
            {
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

/// One fdatasync per target for all of its queued requests; the targets'
/// fdatasyncs run side by side.
fn serve(requests: Vec<Request>) {
    if requests.is_empty() {
        return;
    }
    // Keyed by the target's address (its data pointer, without the vtable).
    let mut by_target: HashMap<usize, (Arc<dyn Syncable>, Vec<SyncCallback>)> = HashMap::new();
    for (target, cb) in requests {
        let key = Arc::as_ptr(&target) as *const () as usize;
        by_target
            .entry(key)
            .or_insert_with(|| (target, Vec::new()))
            .1
            .push(cb);
    }
    let workers = by_target.len().min(PARALLEL_SYNCS_MAX);
    let queue = Mutex::new(by_target.into_values());
    let work = || loop {
        // The lock is released before the fdatasync.
        let next = queue.lock().next();
        match next {
            Some((target, callbacks)) => finish(target.as_ref(), callbacks),
            None => break,
        }
    };
    if workers <= 1 {
        work();
        return;
    }
    // Scoped threads for the round: an fdatasync costs milliseconds, a thread
    // start microseconds, and nothing is left running between rounds. A
    // thread that cannot be started leaves its share to the others, so every
    // request is served either way.
    std::thread::scope(|scope| {
        for _ in 1..workers {
            let _ = std::thread::Builder::new()
                .name("ferrolog-fsync".into())
                .spawn_scoped(scope, work);
        }
        work();
    });
}

/// Syncs one target and answers its waiters, each with the same outcome.
fn finish(target: &dyn Syncable, callbacks: Vec<SyncCallback>) {
    match target.sync_now() {
        Ok(()) => {
            for cb in callbacks {
                cb(Ok(()));
            }
        }
        Err(e) => {
            let mut callbacks = callbacks.into_iter();
            let first = callbacks.next();
            for cb in callbacks {
                cb(Err(target.repeat_error(&e)));
            }
            if let Some(cb) = first {
                cb(Err(e));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    /// A target whose fdatasync returns only once `n` targets are inside
    /// theirs at the same time (or fails after a generous guard): served one
    /// after another, the first would never see the others arrive.
    struct Meets {
        inside: Arc<(Mutex<usize>, Condvar)>,
        n: usize,
        calls: AtomicUsize,
    }

    impl Syncable for Meets {
        fn sync_now(&self) -> Result<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let (m, c) = &*self.inside;
            let mut k = m.lock();
            *k += 1;
            c.notify_all();
            let guard = Instant::now() + Duration::from_secs(30);
            while *k < self.n {
                if c.wait_until(&mut k, guard).timed_out() {
                    return Err(Error::InvalidArgument("served one after another".into()));
                }
            }
            Ok(())
        }

        fn repeat_error(&self, e: &Error) -> Error {
            Error::InvalidArgument(e.to_string())
        }
    }

    #[test]
    fn one_rounds_fdatasyncs_run_side_by_side_and_each_target_syncs_once() {
        let mut flusher = Flusher::start(Box::new(|now| now + Duration::from_secs(3600))).unwrap();
        let handle = flusher.handle();
        let inside = Arc::new((Mutex::new(0), Condvar::new()));
        let targets: Vec<Arc<Meets>> = (0..4)
            .map(|_| {
                Arc::new(Meets {
                    inside: inside.clone(),
                    n: 4,
                    calls: AtomicUsize::new(0),
                })
            })
            .collect();
        let (tx, rx) = mpsc::channel();
        {
            // Without the batch the thread could start a round with the first request alone.
            let _together = handle.batch();
            for t in &targets {
                for _ in 0..3 {
                    let tx = tx.clone();
                    handle.request(t.clone(), Box::new(move |r| tx.send(r).unwrap()));
                }
            }
        }
        for _ in 0..12 {
            let r = rx.recv_timeout(Duration::from_secs(60)).unwrap();
            assert!(r.is_ok(), "{r:?}");
        }
        for t in &targets {
            assert_eq!(
                t.calls.load(Ordering::SeqCst),
                1,
                "one fdatasync per target"
            );
        }
        flusher.stop();
    }

    struct Fails;

    impl Syncable for Fails {
        fn sync_now(&self) -> Result<()> {
            Err(Error::FsyncFailed {
                topic: "t".into(),
                partition: 0,
                reason: "EIO".into(),
            })
        }

        fn repeat_error(&self, e: &Error) -> Error {
            match e {
                Error::FsyncFailed { reason, .. } => Error::FsyncFailed {
                    topic: "t".into(),
                    partition: 0,
                    reason: reason.clone(),
                },
                other => Error::InvalidArgument(other.to_string()),
            }
        }
    }

    #[test]
    fn every_waiter_hears_of_a_failure_once_not_wrapped() {
        let mut flusher = Flusher::start(Box::new(|now| now + Duration::from_secs(3600))).unwrap();
        let handle = flusher.handle();
        let (tx, rx) = mpsc::channel();
        let target: Arc<dyn Syncable> = Arc::new(Fails);
        {
            let _together = handle.batch();
            for _ in 0..3 {
                let tx = tx.clone();
                handle.request(target.clone(), Box::new(move |r| tx.send(r).unwrap()));
            }
        }
        for _ in 0..3 {
            let e = rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap()
                .unwrap_err();
            assert!(matches!(e, Error::FsyncFailed { .. }), "{e}");
            assert_eq!(e.to_string().matches("refuses writes").count(), 1, "{e}");
        }
        flusher.stop();
    }
}
