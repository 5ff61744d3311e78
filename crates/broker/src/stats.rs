//! Counters for the status line and tests.

use std::sync::atomic::{AtomicU64, Ordering};

/// The broker's live counters, bumped by the connections (relaxed: they are
/// for display and tests, never for decisions).
#[derive(Default)]
pub struct Stats {
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Connections accepted since the broker started.
    pub connections_total: AtomicU64,
    /// Connections closed at once for being over `connections_max` (max.connections).
    pub connections_refused: AtomicU64,
    /// Requests taken from a connection and dispatched.
    pub requests: AtomicU64,
    /// Bytes read from clients, frames' size prefixes included.
    pub bytes_in: AtomicU64,
    /// Bytes written to clients.
    pub bytes_out: AtomicU64,
    /// Connections closed because of a bad, oversized, unknown or slow frame.
    pub protocol_errors: AtomicU64,
}

/// The broker's counters at one moment (each read on its own: they
/// need not add up to one instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Connections open now.
    pub connections_open: u64,
    /// Connections accepted since the broker started.
    pub connections_total: u64,
    /// Connections closed at once for being over `connections_max` (max.connections).
    pub connections_refused: u64,
    /// Requests dispatched.
    pub requests: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// Connections closed because of a bad, oversized, unknown or slow frame.
    pub protocol_errors: u64,
}

impl Stats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            connections_open: get(&self.connections_open),
            connections_total: get(&self.connections_total),
            connections_refused: get(&self.connections_refused),
            requests: get(&self.requests),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            protocol_errors: get(&self.protocol_errors),
        }
    }
}
