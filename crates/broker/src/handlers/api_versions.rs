//! ApiVersions: what this broker serves, and Kafka's fallback for a client
//! that asks with a newer ApiVersions than the broker knows.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use super::{supported, IMPLEMENTED};
use crate::errors;

fn api_keys() -> Vec<ApiVersion> {
    IMPLEMENTED
        .iter()
        .filter_map(|&k| {
            supported(k).map(|r| {
                ApiVersion::default()
                    .with_api_key(k as i16)
                    .with_min_version(r.min)
                    .with_max_version(r.max)
            })
        })
        .collect()
}

pub fn handle(_req: &ApiVersionsRequest) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(errors::NONE)
        .with_api_keys(api_keys())
}

/// Kafka's answer to an ApiVersions version it does not know: error
/// UNSUPPORTED_VERSION with the full list, to be encoded as v0 so any
/// client can read it and retry with a version it finds there.
pub fn unsupported_version() -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(errors::UNSUPPORTED_VERSION)
        .with_api_keys(api_keys())
}

/// The range the fallback applies above.
pub fn max_version() -> i16 {
    ApiKey::ApiVersions.valid_versions().max
}
