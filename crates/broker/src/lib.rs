//! ferrolog's Kafka broker: serves the Kafka wire protocol from a
//! [`ferrolog_engine::Engine`] shared with the owning process.
//!
//! Follow a request from the top: `server` accepts a socket and hands it
//! to `connection`, which reads size-prefixed frames through [`framing`]
//! (bounded before anything is allocated), and passes each to [`dispatch`].
//! `dispatch` decodes the header and body with `kafka-protocol`, calls the
//! handler of that API family in [`handlers`], and encodes the response into
//! a [`splice::ResponseBuf`], whose fetched record batches stay views of the
//! engine's segment maps until a vectored write sends them. Engine errors
//! become Kafka error codes in one table, `errors`. Limits live in
//! [`config`].
//!
//! Everything runs on the broker's own tokio runtime; fsync waits go through
//! the engine's callback API and admin writes through `spawn_blocking`, so
//! no worker blocks on the disk and the owning process's threads never run
//! broker code.

#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod acl;
pub(crate) mod authz;
pub mod config;
pub(crate) mod connection;
pub mod dispatch;
pub(crate) mod errors;
pub mod framing;
pub mod handlers;
pub(crate) mod scram;
pub(crate) mod server;
pub mod splice;
pub(crate) mod stats;
pub(crate) mod tls;
pub(crate) mod topic_id;
pub(crate) mod unsupported;

pub use config::{AclConfig, BrokerConfig, LogSink, TlsIdentity};
pub use server::{Broker, BrokerError};
pub use stats::StatsSnapshot;
