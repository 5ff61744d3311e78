//! One request frame in, one encoded response out (or none, for acks=0).
//! A frame that cannot be served as Kafka would serve it is an error, and
//! the connection closes (Kafka closes the connection for an unknown API,
//! an API it does not expose, an unsupported version or a malformed body).

use std::fmt;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiKey, ApiVersionsRequest, CreatePartitionsRequest, CreateTopicsRequest,
    DeleteGroupsRequest, DeleteRecordsRequest, DeleteTopicsRequest, DescribeClusterRequest,
    DescribeConfigsRequest, DescribeGroupsRequest, FetchRequest, FindCoordinatorRequest,
    HeartbeatRequest, IncrementalAlterConfigsRequest, InitProducerIdRequest, JoinGroupRequest,
    LeaveGroupRequest, ListGroupsRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, ProduceRequest, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslHandshakeRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::handlers::sasl::Session;
use crate::handlers::{self, Ctx};
use crate::splice::{ResponseBuf, Splices};

#[derive(Debug)]
pub enum DispatchError {
    UnknownApi(i16),
    NotImplemented(ApiKey),
    /// A request other than ApiVersions or SASL before authenticating.
    Unauthenticated(ApiKey),
    /// An acks=0 produce failed somewhere (it gets no response to say so).
    AcksZeroFailed,
    UnsupportedVersion {
        key: ApiKey,
        version: i16,
    },
    Malformed {
        key: ApiKey,
        version: i16,
        reason: String,
    },
    Encode {
        key: ApiKey,
        version: i16,
        reason: String,
    },
}

impl fmt::Display for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DispatchError::UnknownApi(k) => write!(f, "unknown api key {k}"),
            DispatchError::NotImplemented(k) => write!(f, "{k:?} is not implemented"),
            DispatchError::Unauthenticated(k) => {
                write!(f, "{k:?} before SASL authentication")
            }
            DispatchError::AcksZeroFailed => write!(f, "an acks=0 produce failed"),
            DispatchError::UnsupportedVersion { key, version } => {
                write!(f, "{key:?} v{version} is not supported")
            }
            DispatchError::Malformed {
                key,
                version,
                reason,
            } => write!(f, "malformed {key:?} v{version} request: {reason}"),
            DispatchError::Encode {
                key,
                version,
                reason,
            } => write!(f, "cannot encode the {key:?} v{version} response: {reason}"),
        }
    }
}

/// The response: its size prefix and parts, for one vectored write.
pub type Response = Vec<Bytes>;

struct Req {
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: Bytes,
}

impl Req {
    fn decode<T: Decodable>(&mut self) -> Result<T, DispatchError> {
        T::decode(&mut self.body, self.version).map_err(|e| DispatchError::Malformed {
            key: self.key,
            version: self.version,
            reason: e.to_string(),
        })
    }

    fn encode<T: Encodable>(&self, body: &T, splices: Splices) -> Result<Response, DispatchError> {
        encode(self.key, self.version, self.correlation_id, body, splices)
    }
}

fn encode<T: Encodable>(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &T,
    splices: Splices,
) -> Result<Response, DispatchError> {
    let fail = |reason: String| DispatchError::Encode {
        key,
        version,
        reason,
    };
    let mut buf = ResponseBuf::new(splices);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, key.response_header_version(version))
        .map_err(|e| fail(e.to_string()))?;
    body.encode(&mut buf, version)
        .map_err(|e| fail(e.to_string()))?;
    let len = i32::try_from(buf.len()).map_err(|_| fail("response longer than 2 GiB".into()))?;
    let mut parts = vec![Bytes::copy_from_slice(&len.to_be_bytes())];
    parts.extend(buf.finish());
    Ok(parts)
}

/// Serves one frame (without its size prefix).
pub async fn handle(
    ctx: &Arc<Ctx>,
    session: &mut Session,
    frame: Bytes,
) -> Result<Option<Response>, DispatchError> {
    let mut peek = &frame[..];
    if peek.len() < 8 {
        // framing guarantees 8 bytes; kept so this function stands alone.
        return Err(DispatchError::UnknownApi(-1));
    }
    let api_key = peek.get_i16();
    let version = peek.get_i16();
    let correlation_id = peek.get_i32();
    let key = ApiKey::try_from(api_key).map_err(|_| DispatchError::UnknownApi(api_key))?;
    let Some(range) = handlers::supported(ctx, key) else {
        return Err(DispatchError::NotImplemented(key));
    };
    if !session.authenticated(ctx)
        && !matches!(
            key,
            ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
        )
    {
        return Err(DispatchError::Unauthenticated(key));
    }
    if key == ApiKey::ApiVersions && version > range.max {
        // Kafka's fallback: a v0 response listing the versions, so the
        // client can pick one and ask again.
        let body = handlers::api_versions::unsupported_version(ctx);
        return encode(key, 0, correlation_id, &body, Splices::default()).map(Some);
    }
    if version < range.min || version > range.max {
        return Err(DispatchError::UnsupportedVersion { key, version });
    }
    let mut body = frame;
    let header =
        RequestHeader::decode(&mut body, key.request_header_version(version)).map_err(|e| {
            DispatchError::Malformed {
                key,
                version,
                reason: format!("header: {e}"),
            }
        })?;
    let mut req = Req {
        key,
        version,
        correlation_id,
        body,
    };
    let none = Splices::default;
    let out = match key {
        ApiKey::ApiVersions => {
            let r: ApiVersionsRequest = req.decode()?;
            req.encode(&handlers::api_versions::handle(ctx, &r), none())?
        }
        ApiKey::Metadata => {
            let r: MetadataRequest = req.decode()?;
            let resp = handlers::metadata::handle(ctx, r, version).await;
            req.encode(&resp, none())?
        }
        ApiKey::Produce => {
            let r: ProduceRequest = req.decode()?;
            match handlers::produce::handle(ctx, r, version).await {
                handlers::produce::Outcome::Silent => return Ok(None),
                handlers::produce::Outcome::Close => return Err(DispatchError::AcksZeroFailed),
                handlers::produce::Outcome::Respond(resp) => req.encode(&resp, none())?,
            }
        }
        ApiKey::Fetch => {
            let r: FetchRequest = req.decode()?;
            let mut splices = Splices::default();
            let resp = handlers::fetch::handle(ctx, r, version, &mut splices).await;
            req.encode(&resp, splices)?
        }
        ApiKey::ListOffsets => {
            let r: ListOffsetsRequest = req.decode()?;
            req.encode(&handlers::offsets::list_offsets(ctx, &r, version), none())?
        }
        ApiKey::DeleteRecords => {
            let r: DeleteRecordsRequest = req.decode()?;
            let resp = handlers::offsets::delete_records(ctx, r).await;
            req.encode(&resp, none())?
        }
        ApiKey::CreateTopics => {
            let r: CreateTopicsRequest = req.decode()?;
            let resp = handlers::admin::create_topics(ctx, r, version).await;
            req.encode(&resp, none())?
        }
        ApiKey::DeleteTopics => {
            let r: DeleteTopicsRequest = req.decode()?;
            let resp = handlers::admin::delete_topics(ctx, r, version).await;
            req.encode(&resp, none())?
        }
        ApiKey::CreatePartitions => {
            let r: CreatePartitionsRequest = req.decode()?;
            let resp = handlers::admin::create_partitions(ctx, r).await;
            req.encode(&resp, none())?
        }
        ApiKey::InitProducerId => {
            let r: InitProducerIdRequest = req.decode()?;
            let resp = handlers::produce::init_producer_id(ctx, &r).await;
            req.encode(&resp, none())?
        }
        ApiKey::DescribeConfigs => {
            let r: DescribeConfigsRequest = req.decode()?;
            req.encode(&handlers::configs::describe(ctx, &r), none())?
        }
        ApiKey::AlterConfigs => {
            let r: AlterConfigsRequest = req.decode()?;
            let resp = handlers::configs::alter(ctx, r).await;
            req.encode(&resp, none())?
        }
        ApiKey::IncrementalAlterConfigs => {
            let r: IncrementalAlterConfigsRequest = req.decode()?;
            let resp = handlers::configs::incremental(ctx, r).await;
            req.encode(&resp, none())?
        }
        ApiKey::SaslHandshake => {
            let r: SaslHandshakeRequest = req.decode()?;
            req.encode(&handlers::sasl::handshake(&r, session), none())?
        }
        ApiKey::SaslAuthenticate => {
            let r: SaslAuthenticateRequest = req.decode()?;
            req.encode(&handlers::sasl::authenticate(ctx, &r, session), none())?
        }
        ApiKey::DescribeCluster => {
            let r: DescribeClusterRequest = req.decode()?;
            req.encode(&handlers::metadata::describe_cluster(ctx, &r), none())?
        }
        ApiKey::FindCoordinator => {
            let r: FindCoordinatorRequest = req.decode()?;
            req.encode(
                &handlers::groups::find_coordinator(ctx, &r, version),
                none(),
            )?
        }
        ApiKey::JoinGroup => {
            let r: JoinGroupRequest = req.decode()?;
            let client_id = header
                .client_id
                .as_ref()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default();
            let resp = handlers::groups::join_group(ctx, r, version, client_id).await;
            req.encode(&resp, none())?
        }
        ApiKey::SyncGroup => {
            let r: SyncGroupRequest = req.decode()?;
            let resp = handlers::groups::sync_group(ctx, r).await;
            req.encode(&resp, none())?
        }
        ApiKey::Heartbeat => {
            let r: HeartbeatRequest = req.decode()?;
            let resp = handlers::groups::heartbeat(ctx, &r).await;
            req.encode(&resp, none())?
        }
        ApiKey::LeaveGroup => {
            let r: LeaveGroupRequest = req.decode()?;
            let resp = handlers::groups::leave_group(ctx, &r, version).await;
            req.encode(&resp, none())?
        }
        ApiKey::OffsetCommit => {
            let r: OffsetCommitRequest = req.decode()?;
            let resp = handlers::groups::offset_commit(ctx, &r, version).await;
            req.encode(&resp, none())?
        }
        ApiKey::OffsetFetch => {
            let r: OffsetFetchRequest = req.decode()?;
            let resp = handlers::groups::offset_fetch(ctx, &r, version).await;
            req.encode(&resp, none())?
        }
        ApiKey::DescribeGroups => {
            let r: DescribeGroupsRequest = req.decode()?;
            let resp = handlers::groups::describe_groups(ctx, &r, version).await;
            req.encode(&resp, none())?
        }
        ApiKey::ListGroups => {
            let r: ListGroupsRequest = req.decode()?;
            let resp = handlers::groups::list_groups(ctx, &r).await;
            req.encode(&resp, none())?
        }
        ApiKey::DeleteGroups => {
            let r: DeleteGroupsRequest = req.decode()?;
            let resp = handlers::groups::delete_groups(ctx, &r).await;
            req.encode(&resp, none())?
        }
        ApiKey::OffsetDelete => {
            let r: OffsetDeleteRequest = req.decode()?;
            let resp = handlers::groups::offset_delete(ctx, &r).await;
            req.encode(&resp, none())?
        }
        other => return Err(DispatchError::NotImplemented(other)),
    };
    Ok(Some(out))
}
