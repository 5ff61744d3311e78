//! ferrolog's storage engine: Kafka-format segmented logs on local disk.
//!
//! Follow an append from the top: [`Engine::append`] finds the
//! [`Partition`], which validates the RecordBatch v2 ([`batch`]), rolls the
//! active [`segment`] if needed, allocates space with fallocate (`io`),
//! patches the base offset into a copy of the header, copies header and
//! records into the segment's shared map (`mmap`), updates the sparse
//! indexes ([`index`]) and publishes the new size to readers, who read
//! through copy-on-write maps.
//! Durability comes from the `flusher` thread's group-committed fdatasync.
//!
//! `unsafe` code lives only in `mmap`.

#![deny(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::type_complexity
    )
)]

pub mod batch;
pub mod checkpoint;
pub mod compression;
pub mod config;
mod engine;
pub mod error;
mod flusher;
pub mod index;
pub mod io;
mod lock;
pub mod mmap;
mod partition;
pub mod producer_state;
pub mod recovery;
pub mod segment;
pub mod varint;

pub use config::{FlushPolicy, TimestampType, TopicConfig};
pub use engine::{validate_topic_name, Engine, EngineOptions, Topic, CLEAN_SHUTDOWN_FILE};
pub use error::{Error, Result};
pub use flusher::SyncBatch;
pub use mmap::ReadMap;
pub use partition::{
    now_ms, AppendOutcome, DataCallback, DataOutcome, Partition, ReadChunk, ReadResult,
    RecoveryReport, SegmentInfo, SyncCallback, Watermarks,
};
