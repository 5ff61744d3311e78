//! ferrolog's Kafka protocol client: tokio + the `kafka-protocol` crate. It knows the
//! protocol only (nothing of the engine): connections with pipelining, ApiVersions
//! negotiation, metadata and leader routing with retries, produce of already-encoded
//! RecordBatch bytes, fetch returning raw batch bytes, admin and group APIs, SASL, TLS.

// Every public item says what it is for, with its units and error codes: the
// binding (crates/node) is written against these docs.
#![deny(missing_docs)]

mod admin;
mod client;
mod config;
mod conn;
mod data;
mod error;
mod groups;
mod order;
mod scram;

pub use admin::admin_ops::{OngoingReassignment, ReassignmentRequest, ReassignmentResult};
pub use admin::{
    AclBinding, AclFilter, AlterConfigsResourceInput, ConfigEntry, ConfigResource,
    ConfigResourceResult, DeleteAclsResult, NamedResult, NewTopic, RESOURCE_BROKER, RESOURCE_TOPIC,
};
pub use client::{BrokerMeta, Client, Metadata, PartitionMeta, TopicMeta};
pub use config::{ClientConfig, SaslConfig, SaslMechanism, TlsConfig};
pub use data::*;
pub use error::{
    codes, is_coordinator_error, is_metadata_error, is_retriable_produce, Error, Result,
};
pub use groups::*;
pub use kafka_protocol;
pub use order::Ticket;
