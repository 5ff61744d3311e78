//! ferrolog's storage engine: Kafka-format segmented logs on local disk.
//!
//! Follow an append from the top: [`Engine::append`] finds the
//! [`Partition`], which validates the RecordBatch v2 ([`batch`]), rolls the
//! active `segment` if needed, allocates space with fallocate (`io`),
//! patches the base offset into a copy of the header, copies header and
//! records into the segment's shared map (`mmap`), updates the sparse
//! indexes (`index`) and publishes the new size to readers, who read
//! through copy-on-write maps.
//! Durability comes from the `flusher` thread's group-committed fdatasync.
//!
//! `unsafe` code lives only in `mmap`.

#![deny(unsafe_code)]
// Every byte the engine reads comes from a caller or from disk, so an index
// out of bounds is corrupt or hostile input, never a reason to panic: reads
// are checked (`get`, `split_first_chunk`, `chunks_exact`) and turn into
// typed errors.
#![deny(clippy::indexing_slicing)]
// Every public item says what it is for: the binding, the broker and the
// coordinator are written against these docs.
#![deny(missing_docs)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::type_complexity,
        clippy::indexing_slicing
    )
)]

pub mod batch;
mod checkpoint;
pub mod compression;
mod config;
mod engine;
mod error;
mod flusher;
mod index;
/// The storage seam, public only to tests that inject disk faults.
#[cfg(any(test, feature = "fault-injection"))]
pub mod io;
#[cfg(not(any(test, feature = "fault-injection")))]
mod io;
mod lock;
mod mmap;
mod partition;
pub mod physical;
mod producer_state;
pub mod recovery;
mod segment;
mod varint;

pub use config::{FlushPolicy, TimestampType, TopicConfig};
pub use engine::{validate_topic_name, Engine, EngineOptions, Topic, CLEAN_SHUTDOWN_FILE};
pub use error::{Error, Result};
pub use flusher::SyncBatch;
pub use mmap::ReadMap;
pub use partition::{
    now_ms, AppendOutcome, DataCallback, DataOutcome, Partition, ReadChunk, ReadResult,
    RecoveryReport, SegmentInfo, SyncCallback, Watermarks,
};
