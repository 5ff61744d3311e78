//! ApiVersions: what this broker serves, and Kafka's fallback for a client
//! that asks with a newer ApiVersions than the broker knows.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::{supported, Ctx, IMPLEMENTED, SASL};
use crate::errors;

fn api_keys(ctx: &Ctx) -> Vec<ApiVersion> {
    IMPLEMENTED
        .iter()
        .chain(SASL.iter().map(|(k, _)| k))
        .filter_map(|&k| {
            supported(ctx, k).map(|r| {
                ApiVersion::default()
                    .with_api_key(k as i16)
                    .with_min_version(r.min)
                    .with_max_version(r.max)
            })
        })
        .collect()
}

pub fn handle(ctx: &Ctx, _req: &ApiVersionsRequest) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(errors::NONE)
        .with_api_keys(api_keys(ctx))
}

/// Kafka's answer to an ApiVersions version it does not know: error
/// UNSUPPORTED_VERSION with the full list, to be encoded as v0 so any
/// client can read it and retry with a version it finds there.
pub fn unsupported_version(ctx: &Ctx) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(errors::UNSUPPORTED_VERSION)
        .with_api_keys(api_keys(ctx))
}
