//! ferrolog-client against a scripted in-test broker (no Java needed): ApiVersions
//! fallback to v0 (KIP-511), SASL/PLAIN, a length prefix over the response limit,
//! and a connection that dies mid-request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ferrolog_client::kafka_protocol::messages::api_versions_response::ApiVersion;
use ferrolog_client::kafka_protocol::messages::metadata_response::MetadataResponseBroker;
use ferrolog_client::kafka_protocol::messages::*;
use ferrolog_client::kafka_protocol::protocol::{
    decode_request_header_from_buffer, Decodable, Encodable, HeaderVersion, StrBytes,
};
use ferrolog_client::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    HugeFrame,
    HangUpOnMetadata,
}

const MAX_API_VERSIONS: i16 = 2;

fn respond<R: Encodable + HeaderVersion>(
    corr: i32,
    version: i16,
    header_version: i16,
    body: &R,
) -> Bytes {
    let mut buf = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(corr)
        .encode(&mut buf, header_version)
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    let mut out = BytesMut::new();
    out.put_i32(buf.len() as i32);
    out.extend_from_slice(&buf);
    out.freeze()
}

async fn serve(mut s: TcpStream, port: u16, mode: Mode) {
    loop {
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut frame = vec![0u8; i32::from_be_bytes(len) as usize];
        if s.read_exact(&mut frame).await.is_err() {
            return;
        }
        let mut b = Bytes::from(frame);
        let h = decode_request_header_from_buffer(&mut b).unwrap();
        let (corr, v) = (h.correlation_id, h.request_api_version);
        let out = match ApiKey::try_from(h.request_api_key).unwrap() {
            ApiKey::ApiVersions if mode == Mode::HugeFrame => {
                s.write_all(&0x7fff_fff0_i32.to_be_bytes()).await.unwrap();
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
            ApiKey::ApiVersions if v > MAX_API_VERSIONS => {
                let body = ApiVersionsResponse::default()
                    .with_error_code(35)
                    .with_api_keys(vec![ApiVersion::default()
                        .with_api_key(18)
                        .with_min_version(0)
                        .with_max_version(MAX_API_VERSIONS)]);
                respond(corr, 0, 0, &body)
            }
            ApiKey::ApiVersions => {
                let key = |k: ApiKey, max: i16| {
                    ApiVersion::default()
                        .with_api_key(k as i16)
                        .with_min_version(0)
                        .with_max_version(max)
                };
                let body = ApiVersionsResponse::default().with_api_keys(vec![
                    key(ApiKey::ApiVersions, MAX_API_VERSIONS),
                    key(ApiKey::Metadata, 12),
                    key(ApiKey::SaslHandshake, 1),
                    key(ApiKey::SaslAuthenticate, 2),
                ]);
                respond(corr, v, ApiVersionsResponse::header_version(v), &body)
            }
            ApiKey::SaslHandshake => {
                let req = SaslHandshakeRequest::decode(&mut b, v).unwrap();
                let code = if req.mechanism.as_str() == "PLAIN" {
                    0
                } else {
                    33
                };
                let body = SaslHandshakeResponse::default()
                    .with_error_code(code)
                    .with_mechanisms(vec![StrBytes::from_static_str("PLAIN")]);
                respond(corr, v, SaslHandshakeResponse::header_version(v), &body)
            }
            ApiKey::SaslAuthenticate => {
                let req = SaslAuthenticateRequest::decode(&mut b, v).unwrap();
                let ok = &req.auth_bytes[..] == b"\0alice\0secret";
                let body = SaslAuthenticateResponse::default()
                    .with_error_code(if ok { 0 } else { 58 })
                    .with_error_message(
                        (!ok).then(|| StrBytes::from_static_str("bad credentials")),
                    );
                respond(corr, v, SaslAuthenticateResponse::header_version(v), &body)
            }
            ApiKey::Metadata if mode == Mode::HangUpOnMetadata => return,
            ApiKey::Metadata => {
                let body = MetadataResponse::default()
                    .with_cluster_id(Some(StrBytes::from_static_str("fake")))
                    .with_controller_id(BrokerId(1))
                    .with_brokers(vec![MetadataResponseBroker::default()
                        .with_node_id(BrokerId(1))
                        .with_host(StrBytes::from_static_str("127.0.0.1"))
                        .with_port(port as i32)]);
                respond(corr, v, MetadataResponse::header_version(v), &body)
            }
            other => panic!("unexpected {other:?}"),
        };
        let _ = b.remaining();
        if s.write_all(&out).await.is_err() {
            return;
        }
    }
}

async fn fake(mode: Mode) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve(s, port, mode));
        }
    });
    format!("127.0.0.1:{port}")
}

#[tokio::test]
async fn falls_back_to_the_brokers_api_versions_version_and_authenticates() {
    let addr = fake(Mode::Normal).await;
    let mut cfg = ClientConfig::new([addr.clone()]);
    cfg.sasl = Some(SaslConfig {
        mechanism: SaslMechanism::Plain,
        username: "alice".into(),
        password: "secret".into(),
    });
    let client = Client::connect(cfg.clone()).await.unwrap();
    let m = client.cached_metadata();
    assert_eq!(m.cluster_id.as_deref(), Some("fake"));
    assert_eq!(m.brokers[&1].addr(), addr);
    let versions = client.api_versions().await.unwrap();
    assert!(versions.contains(&(ApiKey::Metadata as i16, 0, 12)));

    cfg.sasl = Some(SaslConfig {
        mechanism: SaslMechanism::Plain,
        username: "alice".into(),
        password: "wrong".into(),
    });
    let err = Client::connect(cfg.clone()).await.err().unwrap();
    assert!(
        matches!(&err, Error::Authentication(m) if m.contains("bad credentials")),
        "{err:?}"
    );

    cfg.sasl = Some(SaslConfig {
        mechanism: SaslMechanism::ScramSha256,
        username: "alice".into(),
        password: "secret".into(),
    });
    let err = Client::connect(cfg).await.err().unwrap();
    assert!(
        matches!(&err, Error::Authentication(m) if m.contains("PLAIN")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_length_prefix_over_the_limit_closes_the_connection_without_allocating() {
    let addr = fake(Mode::HugeFrame).await;
    let mut cfg = ClientConfig::new([addr]);
    cfg.max_response_bytes = 1 << 20;
    let err = Client::connect(cfg).await.err().unwrap();
    assert!(
        matches!(&err, Error::Protocol(m) if m.contains("limit")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_connection_lost_mid_request_is_a_retriable_error() {
    let addr = fake(Mode::HangUpOnMetadata).await;
    let mut cfg = ClientConfig::new([addr]);
    cfg.retries = 0;
    let err = Client::connect(cfg).await.err().unwrap();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    assert!(err.is_retriable());
}

#[tokio::test]
async fn bad_configuration_is_refused_up_front() {
    assert!(matches!(
        Client::connect(ClientConfig::new(Vec::<String>::new())).await,
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Client::connect(ClientConfig::new(["nohost"])).await,
        Err(Error::Config(_))
    ));
    let mut cfg = ClientConfig::new(["127.0.0.1:9"]);
    cfg.tls = Some(TlsConfig {
        ca_pem: Some(b"not a pem".to_vec()),
        ..TlsConfig::default()
    });
    assert!(matches!(Client::connect(cfg).await, Err(Error::Tls(_))));
}
