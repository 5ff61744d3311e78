//! One request frame in, one encoded response out (or none, for acks=0).
//! The client-facing APIs Kafka defines but ferrolog does not implement
//! (transactions and a few others, listed in `unsupported`) are answered
//! with that API's response carrying UNSUPPORTED_VERSION, and the
//! connection stays open. A frame that cannot be served at all is an error,
//! and the connection closes, as Kafka's SocketServer does: another API key
//! (controller and inter-broker APIs, ...), a key Kafka does not define, a
//! version outside the range kafka-protocol (Kafka 4.1) knows, a malformed
//! header or body, or a request before SASL authentication. ACLs are applied around each handler by `authz`.

use std::fmt;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiKey, ApiVersionsRequest, CreateAclsRequest, CreatePartitionsRequest,
    CreateTopicsRequest, DeleteAclsRequest, DeleteGroupsRequest, DeleteRecordsRequest,
    DeleteTopicsRequest, DescribeAclsRequest, DescribeClusterRequest, DescribeConfigsRequest,
    DescribeGroupsRequest, DescribeProducersRequest, FetchRequest, FindCoordinatorRequest,
    HeartbeatRequest, IncrementalAlterConfigsRequest, InitProducerIdRequest, JoinGroupRequest,
    LeaveGroupRequest, ListGroupsRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, ProduceRequest, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslHandshakeRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::authz;
use crate::handlers::sasl::Session;
use crate::handlers::{self, Ctx};
use crate::splice::{ResponseBuf, Splices};

/// Why a request got no answer: each closes the connection, as Kafka does
/// for requests it cannot parse or serve.
#[derive(Debug)]
pub enum DispatchError {
    /// An api_key Kafka does not define.
    UnknownApi(i16),
    /// A Kafka API this broker does not serve.
    NotImplemented(ApiKey),
    /// A request other than ApiVersions or SASL before authenticating.
    Unauthenticated(ApiKey),
    /// An acks=0 produce failed somewhere (it gets no response to say so).
    AcksZeroFailed,
    /// A version outside the range advertised for the API.
    UnsupportedVersion {
        /// The API.
        key: ApiKey,
        /// The version asked for.
        version: i16,
    },
    /// The header or body does not decode as that API's version.
    Malformed {
        /// The API.
        key: ApiKey,
        /// Its version.
        version: i16,
        /// What the decoder refused.
        reason: String,
    },
    /// The response could not be encoded (a field the version cannot carry).
    Encode {
        /// The API.
        key: ApiKey,
        /// Its version.
        version: i16,
        /// What the encoder refused.
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

const ILLEGAL_SASL_STATE: i16 = 34;

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
    let range = handlers::supported(ctx, key);
    if !session.authenticated(ctx)
        && !matches!(
            key,
            ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
        )
    {
        return Err(DispatchError::Unauthenticated(key));
    }
    let Some(range) = range else {
        // An API Kafka defines but this broker does not serve: its own
        // response with UNSUPPORTED_VERSION, when kafka-protocol can encode
        // that version.
        let known = key.valid_versions();
        if version < known.min || version > known.max {
            return Err(DispatchError::UnsupportedVersion { key, version });
        }
        let mut body = frame;
        RequestHeader::decode(&mut body, key.request_header_version(version)).map_err(|e| {
            DispatchError::Malformed {
                key,
                version,
                reason: format!("header: {e}"),
            }
        })?;
        let answer = match key {
            // SASL on a listener without it: Kafka answers ILLEGAL_SASL_STATE.
            ApiKey::SaslHandshake => {
                let r = kafka_protocol::messages::SaslHandshakeResponse::default()
                    .with_error_code(ILLEGAL_SASL_STATE);
                return encode(key, version, correlation_id, &r, Splices::default()).map(Some);
            }
            ApiKey::SaslAuthenticate => {
                let r = kafka_protocol::messages::SaslAuthenticateResponse::default()
                    .with_error_code(ILLEGAL_SASL_STATE);
                return encode(key, version, correlation_id, &r, Splices::default()).map(Some);
            }
            _ => crate::unsupported::respond(key, version, correlation_id, body),
        };
        return match answer {
            Some(Ok(parts)) => Ok(Some(parts)),
            Some(Err(reason)) => Err(DispatchError::Encode {
                key,
                version,
                reason,
            }),
            None => Err(DispatchError::NotImplemented(key)),
        };
    };
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
    let az = authz::Authz::new(ctx, session);
    let none = Splices::default;
    let out = match key {
        ApiKey::ApiVersions => {
            let r: ApiVersionsRequest = req.decode()?;
            req.encode(&handlers::api_versions::handle(ctx, &r), none())?
        }
        ApiKey::Metadata => {
            let mut r: MetadataRequest = req.decode()?;
            let listed_all = match &r.topics {
                None => true,
                Some(t) => t.is_empty() && version == 0,
            };
            let denied = authz::metadata_pre(&az, &mut r);
            let creatable = |name: &str| authz::may_create_topic(&az, name);
            let mut resp = handlers::metadata::handle(ctx, r, version, &creatable).await;
            authz::metadata_post(&az, listed_all, denied, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::Produce => {
            let mut r: ProduceRequest = req.decode()?;
            let denied = authz::pre::<authz::Produce>(&az, &mut r);
            // acks=0 gets no answer to carry the refusal: close, as Kafka
            // does when an acks=0 produce fails.
            if r.acks == 0 && !denied.is_empty() {
                return Err(DispatchError::AcksZeroFailed);
            }
            match handlers::produce::handle(ctx, r, version).await {
                handlers::produce::Outcome::Silent => return Ok(None),
                handlers::produce::Outcome::Close => return Err(DispatchError::AcksZeroFailed),
                handlers::produce::Outcome::Respond(mut resp) => {
                    authz::post(denied, &mut resp);
                    req.encode(&resp, none())?
                }
            }
        }
        ApiKey::Fetch => {
            let mut r: FetchRequest = req.decode()?;
            let denied = authz::pre::<authz::Fetch>(&az, &mut r);
            let mut splices = Splices::default();
            let mut resp = handlers::fetch::handle(ctx, r, version, &mut splices).await;
            authz::post(denied, &mut resp);
            req.encode(&resp, splices)?
        }
        ApiKey::ListOffsets => {
            let r: ListOffsetsRequest = req.decode()?;
            let mut resp = handlers::offsets::list_offsets(ctx, &r, version);
            authz::list_offsets_post(&az, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::DeleteRecords => {
            let mut r: DeleteRecordsRequest = req.decode()?;
            let denied = authz::pre::<authz::DeleteRecords>(&az, &mut r);
            let mut resp = handlers::offsets::delete_records(ctx, r).await;
            authz::post(denied, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::CreateTopics => {
            let mut r: CreateTopicsRequest = req.decode()?;
            let denied = authz::pre::<authz::CreateTopics>(&az, &mut r);
            let mut resp = handlers::admin::create_topics(ctx, r, version).await;
            authz::post(denied, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::DeleteTopics => {
            let mut r: DeleteTopicsRequest = req.decode()?;
            let by_id = authz::pre::<authz::DeleteTopicStates>(&az, &mut r);
            let by_name = authz::pre::<authz::DeleteTopicNames>(&az, &mut r);
            let mut resp = handlers::admin::delete_topics(ctx, r, version).await;
            authz::post(by_id, &mut resp);
            authz::post(by_name, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::CreatePartitions => {
            let mut r: CreatePartitionsRequest = req.decode()?;
            let denied = authz::pre::<authz::CreatePartitions>(&az, &mut r);
            let mut resp = handlers::admin::create_partitions(ctx, r).await;
            authz::post(denied, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::InitProducerId => {
            let r: InitProducerIdRequest = req.decode()?;
            let resp = match authz::init_producer_id(&az, &r) {
                Some(code) => kafka_protocol::messages::InitProducerIdResponse::default()
                    .with_error_code(code)
                    .with_producer_id(kafka_protocol::messages::ProducerId(-1))
                    .with_producer_epoch(-1),
                None => handlers::produce::init_producer_id(ctx, &r).await,
            };
            req.encode(&resp, none())?
        }
        ApiKey::DescribeConfigs => {
            let mut r: DescribeConfigsRequest = req.decode()?;
            let denied = authz::pre::<authz::DescribeConfigs>(&az, &mut r);
            let mut resp = handlers::configs::describe(ctx, &r);
            authz::post(denied, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::AlterConfigs => {
            let mut r: AlterConfigsRequest = req.decode()?;
            let denied = authz::pre::<authz::AlterConfigs>(&az, &mut r);
            let mut resp = handlers::configs::alter(ctx, r).await;
            authz::post(denied, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::IncrementalAlterConfigs => {
            let mut r: IncrementalAlterConfigsRequest = req.decode()?;
            let denied = authz::pre::<authz::IncrementalAlterConfigs>(&az, &mut r);
            let mut resp = handlers::configs::incremental(ctx, r).await;
            authz::post(denied, &mut resp);
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
            let mut resp = handlers::groups::find_coordinator(ctx, &r, version);
            authz::find_coordinator_post(&az, &r, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::JoinGroup => {
            let r: JoinGroupRequest = req.decode()?;
            if !authz::group_read(&az, &r.group_id) {
                let resp = kafka_protocol::messages::JoinGroupResponse::default()
                    .with_error_code(authz::GROUP_AUTHORIZATION_FAILED)
                    .with_generation_id(-1);
                return req.encode(&resp, none()).map(Some);
            }
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
            if !authz::group_read(&az, &r.group_id) {
                let resp = kafka_protocol::messages::SyncGroupResponse::default()
                    .with_error_code(authz::GROUP_AUTHORIZATION_FAILED);
                return req.encode(&resp, none()).map(Some);
            }
            let resp = handlers::groups::sync_group(ctx, r).await;
            req.encode(&resp, none())?
        }
        ApiKey::Heartbeat => {
            let r: HeartbeatRequest = req.decode()?;
            if !authz::group_read(&az, &r.group_id) {
                let resp = kafka_protocol::messages::HeartbeatResponse::default()
                    .with_error_code(authz::GROUP_AUTHORIZATION_FAILED);
                return req.encode(&resp, none()).map(Some);
            }
            let resp = handlers::groups::heartbeat(ctx, &r).await;
            req.encode(&resp, none())?
        }
        ApiKey::LeaveGroup => {
            let r: LeaveGroupRequest = req.decode()?;
            if !authz::group_read(&az, &r.group_id) {
                let resp = kafka_protocol::messages::LeaveGroupResponse::default()
                    .with_error_code(authz::GROUP_AUTHORIZATION_FAILED);
                return req.encode(&resp, none()).map(Some);
            }
            let resp = handlers::groups::leave_group(ctx, &r, version).await;
            req.encode(&resp, none())?
        }
        ApiKey::OffsetCommit => {
            let mut r: OffsetCommitRequest = req.decode()?;
            let denied = authz::pre::<authz::OffsetCommit>(&az, &mut r);
            let mut resp = handlers::groups::offset_commit(ctx, &r, version).await;
            authz::post(denied, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::OffsetFetch => {
            let r: OffsetFetchRequest = req.decode()?;
            let mut resp = handlers::groups::offset_fetch(ctx, &r, version).await;
            authz::offset_fetch_post(&az, &r, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::DescribeGroups => {
            let r: DescribeGroupsRequest = req.decode()?;
            let mut resp = handlers::groups::describe_groups(ctx, &r, version).await;
            authz::describe_groups_post(&az, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::ListGroups => {
            let r: ListGroupsRequest = req.decode()?;
            let mut resp = handlers::groups::list_groups(ctx, &r).await;
            authz::list_groups_post(&az, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::DeleteGroups => {
            let mut r: DeleteGroupsRequest = req.decode()?;
            let denied = authz::pre::<authz::DeleteGroups>(&az, &mut r);
            let mut resp = handlers::groups::delete_groups(ctx, &r).await;
            authz::post(denied, &mut resp);
            req.encode(&resp, none())?
        }
        ApiKey::OffsetDelete => {
            let mut r: OffsetDeleteRequest = req.decode()?;
            let resp = match authz::offset_delete_group(&az, &r) {
                Some(code) => {
                    kafka_protocol::messages::OffsetDeleteResponse::default().with_error_code(code)
                }
                None => {
                    let denied = authz::pre::<authz::OffsetDelete>(&az, &mut r);
                    let mut resp = handlers::groups::offset_delete(ctx, &r).await;
                    authz::post(denied, &mut resp);
                    resp
                }
            };
            req.encode(&resp, none())?
        }
        ApiKey::DescribeAcls => {
            let r: DescribeAclsRequest = req.decode()?;
            req.encode(&handlers::acls::describe(&az, ctx, &r), none())?
        }
        ApiKey::CreateAcls => {
            let r: CreateAclsRequest = req.decode()?;
            let resp = handlers::acls::create(&az, ctx, r).await;
            req.encode(&resp, none())?
        }
        ApiKey::DeleteAcls => {
            let r: DeleteAclsRequest = req.decode()?;
            let resp = handlers::acls::delete(&az, ctx, r).await;
            req.encode(&resp, none())?
        }
        ApiKey::DescribeProducers => {
            let r: DescribeProducersRequest = req.decode()?;
            let mut resp = handlers::producers::describe(ctx, &r);
            authz::describe_producers_post(&az, &mut resp);
            req.encode(&resp, none())?
        }
        other => return Err(DispatchError::NotImplemented(other)),
    };
    Ok(Some(out))
}
