//! ferrolog's group coordinator: Kafka's classic consumer-group protocol
//! (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit/Fetch and the
//! admin group APIs) over the engine, with its state in `__consumer_offsets`
//! in Kafka's own record format.
//!
//! Layering: this crate knows the engine and nothing above it (no sockets,
//! no napi). The broker serves it to Kafka clients; the node binding to
//! in-process consumers. Both talk to one [`Coordinator`] per data
//! directory.

#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api;
pub mod clock;
mod coordinator;
pub mod error;
pub mod manager;
pub mod records;
pub mod store;

pub use api::*;
pub use clock::{Clock, ManualClock, SystemClock};
pub use coordinator::Coordinator;
pub use error::ErrorCode;
pub use manager::{Config, GroupManager, GroupState, RecordSink};
