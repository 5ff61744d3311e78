//! Call order for produce requests.
//!
//! Each produce call runs as its own task, and the tasks of two calls made one
//! after the other may be polled in either order: without a gate the later
//! call's request can reach a connection's write queue first. Kafka's clients
//! keep requests on a connection in the order they were made (the Java
//! producer's per-node queue, kafkajs's single writer), and users rely on it:
//! a non-idempotent producer's concurrent sends land in the order they were
//! made, and an idempotent one's pipelined batches are not refused as out of
//! order and sent again. A ticket, taken when the call is made (on the caller's
//! thread, so in call order), makes each call wait until every earlier call
//! has queued its requests, or given up, before queueing its own; waiting for
//! the answers is not ordered.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// The gate: tickets are served in the order they were issued.
#[derive(Default)]
pub(crate) struct Turnstile {
    issued: AtomicU64,
    state: Mutex<State>,
    turn: Notify,
}

#[derive(Default)]
struct State {
    /// The ticket whose turn it is: every lower one is done.
    serving: u64,
    /// Tickets done before their turn (their call failed early); bounded by the
    /// calls in flight.
    done_early: BTreeSet<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Changes under these locks are single inserts, increments and takes,
    // never left half-done.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Turnstile {
    /// The next place in line. Take it when the call is made, not when its task
    /// first runs: that is what fixes the order.
    pub(crate) fn ticket(self: &Arc<Self>) -> Ticket {
        Ticket {
            n: self.issued.fetch_add(1, Ordering::Relaxed),
            gate: self.clone(),
        }
    }
}

/// A produce call's place in line. Dropping it (or [`Ticket::done`]) lets the
/// next call go once every earlier one is done too; a call that fails before
/// its turn therefore never holds the others up.
pub struct Ticket {
    n: u64,
    gate: Arc<Turnstile>,
}

#[cfg(test)]
impl Ticket {
    /// Returns once every earlier ticket is done.
    pub(crate) async fn wait_turn(&self) {
        wait_for(&self.gate, self.n).await;
    }

    /// This call's requests are queued (or will never be): the next may go.
    pub(crate) fn done(self) {}
}

async fn wait_for(gate: &Turnstile, n: u64) {
    loop {
        let notified = gate.turn.notified();
        tokio::pin!(notified);
        // Registered before the check, so a turn that moves between the
        // check and the await still wakes this waiter.
        notified.as_mut().enable();
        // `>=`: a retry, which comes after its call's turn has passed, does
        // not wait for it again.
        if lock(&gate.state).serving >= n {
            return;
        }
        notified.await;
    }
}

/// A produce call's turn: its requests wait for it before they are queued,
/// and it passes to the next call once every request of the first attempt of
/// each of the call's rounds (see `Client::route_rounds`) is queued or failed. Retries are not ordered: an idempotent producer's sequences keep
/// their order, and Kafka's own clients reorder on retry without idempotence.
pub(crate) struct CallTurn {
    n: u64,
    gate: Arc<Turnstile>,
    ticket: Mutex<Option<Ticket>>,
    /// Requests of the current round's first attempt not queued yet.
    pending: AtomicUsize,
    /// Rounds whose first attempt has not begun.
    rounds_left: AtomicUsize,
}

impl CallTurn {
    /// `rounds`: how many rounds the call makes (at least 1).
    pub(crate) fn new(ticket: Ticket, rounds: usize) -> CallTurn {
        CallTurn {
            n: ticket.n,
            gate: ticket.gate.clone(),
            ticket: Mutex::new(Some(ticket)),
            pending: AtomicUsize::new(0),
            rounds_left: AtomicUsize::new(rounds.max(1)),
        }
    }

    fn held(&self) -> bool {
        lock(&self.ticket).is_some()
    }

    /// Before an attempt of `requests` requests (one per leader): counts the
    /// first attempt's requests of each round, which hold the turn until queued.
    pub(crate) fn begin(&self, attempt: u32, requests: usize) {
        if attempt > 0 || !self.held() {
            return;
        }
        let _ = self
            .rounds_left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| r.checked_sub(1));
        self.pending.fetch_add(requests, Ordering::AcqRel);
        self.release_if_all_queued();
    }

    /// Returns once every earlier call has queued its requests: a request is
    /// queued only after this. Connecting and building the request come
    /// before, outside the turn.
    pub(crate) async fn wait(&self) {
        wait_for(&self.gate, self.n).await;
    }

    /// One request is queued, or will never be.
    pub(crate) fn queued(&self) {
        if !self.held() {
            return;
        }
        let _ = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| p.checked_sub(1));
        self.release_if_all_queued();
    }

    fn release_if_all_queued(&self) {
        if self.pending.load(Ordering::Acquire) == 0
            && self.rounds_left.load(Ordering::Acquire) == 0
        {
            let ticket = lock(&self.ticket).take();
            drop(ticket);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut s = lock(&self.gate.state);
        s.done_early.insert(self.n);
        let before = s.serving;
        loop {
            let next = s.serving;
            if !s.done_early.remove(&next) {
                break;
            }
            s.serving = next + 1;
        }
        let moved = s.serving != before;
        drop(s);
        if moved {
            self.gate.turn.notify_waiters();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tickets_are_served_in_issue_order_whatever_order_their_tasks_run() {
        let gate = Arc::new(Turnstile::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let tickets: Vec<Ticket> = (0..50).map(|_| gate.ticket()).collect();
        let mut tasks = Vec::new();
        // Spawned in reverse, with the early ones delayed: without the gate
        // the order would come out reversed.
        for (i, t) in tickets.into_iter().enumerate().rev() {
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis((50 - i as u64) / 10)).await;
                t.wait_turn().await;
                order.lock().unwrap().push(i);
                t.done();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_ticket_dropped_before_its_turn_does_not_hold_later_ones() {
        let gate = Arc::new(Turnstile::default());
        let first = gate.ticket();
        let second = gate.ticket();
        let third = gate.ticket();
        drop(second);
        let waiting = tokio::spawn(async move {
            third.wait_turn().await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "third waits for first");
        first.done();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("third's turn came")
            .unwrap();
    }
}
