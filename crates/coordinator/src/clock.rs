//! Time for the coordinator. Session and rebalance deadlines are computed
//! from a `Clock`, so tests drive time by hand instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Where the coordinator reads the time, so deadlines can be tested
/// without waiting for them.
pub trait Clock: Send + Sync {
    /// Milliseconds; only differences matter (plus timestamps in records).
    fn now_ms(&self) -> i64;
}

/// Wall-clock time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        ferrolog_engine::now_ms()
    }
}

/// A clock that moves only when told to.
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock standing at `start_ms` until advanced.
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(start_ms)))
    }
    /// Moves time forward by `ms`, for every holder of a clone.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
