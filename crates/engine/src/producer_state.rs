//! Idempotent producers, as Kafka tracks them: per (producer id, partition),
//! the epoch and the sequence ranges of the last five batches.
//!
//! * A batch whose first sequence follows the last one (with the wrap from
//!   i32::MAX to 0) is in order and is appended.
//! * A batch equal to one of the last five is a retried duplicate: the log
//!   answers with the original offsets and writes nothing.
//! * Anything else is an out-of-order sequence, a typed error.
//! * A newer epoch must start at sequence 0; an older one is fenced.
//!
//! A producer id with no state (new, or whose batches were all deleted or
//! are older than the segments scanned on open) is accepted at any sequence,
//! which is Kafka's behaviour for an unknown producer since KIP-360.

use std::collections::{HashMap, VecDeque};

use crate::batch::BatchHeader;

/// How many recent batches per producer are remembered for deduplication.
pub const BATCHES_PER_PRODUCER_MAX: usize = 5;
/// How many producers one partition remembers; the least recently used
/// beyond this are forgotten (they then count as unknown).
pub const PRODUCERS_PER_PARTITION_MAX: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    pub first_seq: i32,
    pub last_seq: i32,
    pub base_offset: u64,
    pub last_offset: u64,
}

#[derive(Debug, Default)]
struct Entry {
    epoch: i16,
    batches: VecDeque<BatchMeta>,
    last_used: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Append it.
    InOrder,
    /// Already in the log at these offsets.
    Duplicate(BatchMeta),
    OutOfOrder {
        expected: i32,
    },
    Fenced {
        current: i16,
    },
}

#[derive(Debug, Default)]
pub struct ProducerStates {
    entries: HashMap<i64, Entry>,
    clock: u64,
}

/// The last sequence of a batch: first + count - 1, wrapping past i32::MAX.
pub fn last_sequence(first: i32, last_offset_delta: i32) -> i32 {
    ((i64::from(first) + i64::from(last_offset_delta)) % (i64::from(i32::MAX) + 1)) as i32
}

fn next_sequence(last: i32) -> i32 {
    if last == i32::MAX {
        0
    } else {
        last + 1
    }
}

impl ProducerStates {
    pub fn check(&self, h: &BatchHeader) -> Check {
        let Some(e) = self.entries.get(&h.producer_id) else {
            return Check::InOrder;
        };
        if h.producer_epoch < e.epoch {
            return Check::Fenced { current: e.epoch };
        }
        if h.producer_epoch > e.epoch {
            return if h.base_sequence == 0 {
                Check::InOrder
            } else {
                Check::OutOfOrder { expected: 0 }
            };
        }
        let last_seq = last_sequence(h.base_sequence, h.last_offset_delta);
        if let Some(dup) = e
            .batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
        {
            return Check::Duplicate(*dup);
        }
        match e.batches.back() {
            Some(last) if next_sequence(last.last_seq) != h.base_sequence => Check::OutOfOrder {
                expected: next_sequence(last.last_seq),
            },
            _ => Check::InOrder,
        }
    }

    /// Records an appended (or, on open, scanned) batch.
    pub fn record(&mut self, h: &BatchHeader, base_offset: u64) {
        if h.producer_id < 0 {
            return;
        }
        self.clock += 1;
        let clock = self.clock;
        if !self.entries.contains_key(&h.producer_id)
            && self.entries.len() >= PRODUCERS_PER_PARTITION_MAX
        {
            if let Some((&oldest, _)) = self.entries.iter().min_by_key(|(_, e)| e.last_used) {
                self.entries.remove(&oldest);
            }
        }
        let e = self.entries.entry(h.producer_id).or_default();
        if h.producer_epoch != e.epoch {
            e.epoch = h.producer_epoch;
            e.batches.clear();
        }
        e.last_used = clock;
        e.batches.push_back(BatchMeta {
            first_seq: h.base_sequence,
            last_seq: last_sequence(h.base_sequence, h.last_offset_delta),
            base_offset,
            last_offset: base_offset + h.last_offset_delta as u64,
        });
        while e.batches.len() > BATCHES_PER_PRODUCER_MAX {
            e.batches.pop_front();
        }
    }

    /// Each producer with state here: (id, epoch, its last batch), for
    /// Kafka's DescribeProducers.
    pub fn snapshot(&self) -> Vec<(i64, i16, Option<BatchMeta>)> {
        let mut v: Vec<_> = self
            .entries
            .iter()
            .map(|(&id, e)| (id, e.epoch, e.batches.back().copied()))
            .collect();
        v.sort_unstable_by_key(|p| p.0);
        v
    }

    /// The largest producer id with state here.
    pub fn max_producer_id(&self) -> Option<i64> {
        self.entries.keys().copied().max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{encode_batch, ProducerFields, Record};

    fn header(pid: i64, epoch: i16, seq: i32, count: usize) -> BatchHeader {
        let records: Vec<Record<'_>> = (0..count)
            .map(|_| Record {
                timestamp_ms: 1,
                key: None,
                value: Some(b"v"),
                headers: &[],
            })
            .collect();
        let mut out = Vec::new();
        encode_batch(
            &records,
            ProducerFields {
                producer_id: pid,
                producer_epoch: epoch,
                base_sequence: seq,
            },
            &mut out,
        )
        .unwrap();
        BatchHeader::parse(&out).unwrap()
    }

    #[test]
    fn sequences_dedupe_wrap_and_fence() {
        let mut s = ProducerStates::default();
        let a = header(7, 0, 0, 3);
        assert_eq!(s.check(&a), Check::InOrder);
        s.record(&a, 100);
        assert!(matches!(
            s.check(&a),
            Check::Duplicate(BatchMeta {
                base_offset: 100,
                last_offset: 102,
                ..
            })
        ));
        assert_eq!(
            s.check(&header(7, 0, 4, 1)),
            Check::OutOfOrder { expected: 3 }
        );
        let b = header(7, 0, 3, 1);
        assert_eq!(s.check(&b), Check::InOrder);
        s.record(&b, 103);
        // Only the last five batches are remembered.
        for i in 0..5 {
            let h = header(7, 0, 4 + i, 1);
            s.record(&h, 104 + i as u64);
        }
        assert_eq!(s.check(&a), Check::OutOfOrder { expected: 9 });
        // The wrap from i32::MAX to 0 is in order.
        let top = header(8, 0, i32::MAX - 1, 2);
        s.record(&top, 0);
        assert_eq!(s.check(&header(8, 0, 0, 1)), Check::InOrder);
        // A newer epoch starts at 0; an older one is fenced.
        assert_eq!(
            s.check(&header(7, 1, 5, 1)),
            Check::OutOfOrder { expected: 0 }
        );
        let new_epoch = header(7, 1, 0, 1);
        assert_eq!(s.check(&new_epoch), Check::InOrder);
        s.record(&new_epoch, 200);
        assert_eq!(s.check(&header(7, 0, 9, 1)), Check::Fenced { current: 1 });
        assert_eq!(last_sequence(i32::MAX, 1), 0);
    }
}
