//! SASL/PLAIN: nothing but ApiVersions and SASL before authenticating; a
//! wrong password is refused and closes the connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use common::{start, Conn};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn sasl_broker() -> common::Setup {
    start(|c| {
        let mut users = HashMap::new();
        users.insert("alice".to_string(), "s3cret".to_string());
        c.sasl_users = Some(Arc::new(users));
    })
}

fn handshake(c: &mut Conn, mechanism: &'static str) -> SaslHandshakeResponse {
    c.send(
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism)),
        1,
    )
}

fn authenticate(c: &mut Conn, token: &'static [u8]) -> SaslAuthenticateResponse {
    c.send(
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(token)),
        2,
    )
}

#[test]
fn plain_authenticates_then_serves() {
    let s = sasl_broker();
    let addr = s.broker.local_addr();
    let mut c = Conn::open(addr);
    let v = c.send(&ApiVersionsRequest::default(), 3);
    let keys: Vec<i16> = v.api_keys.iter().map(|k| k.api_key).collect();
    assert!(keys.contains(&17) && keys.contains(&36));
    let h = handshake(&mut c, "PLAIN");
    assert_eq!(h.error_code, 0);
    assert_eq!(h.mechanisms[0].as_str(), "PLAIN");
    assert_eq!(authenticate(&mut c, b"\0alice\0s3cret").error_code, 0);
    let md = c.send(&MetadataRequest::default().with_topics(None), 12);
    assert_eq!(md.brokers.len(), 1);
}

#[test]
fn requests_before_authentication_close_the_connection() {
    let s = sasl_broker();
    let mut c = Conn::open(s.broker.local_addr());
    let f = c.frame(&MetadataRequest::default().with_topics(None), 12);
    std::io::Write::write_all(&mut c.stream, &f).unwrap();
    assert!(c.is_closed());
}

#[test]
fn a_wrong_password_or_user_is_refused_and_closes() {
    let s = sasl_broker();
    let addr = s.broker.local_addr();
    for token in [
        &b"\0alice\0wrong"[..],
        &b"\0mallory\0s3cret"[..],
        &b"\0alice\0s3cret\0extra"[..],
        &b"bob\0alice\0s3cret"[..],
        &b"garbage"[..],
    ] {
        let mut c = Conn::open(addr);
        assert_eq!(handshake(&mut c, "PLAIN").error_code, 0);
        let token: &'static [u8] = Box::leak(token.to_vec().into_boxed_slice());
        let r = authenticate(&mut c, token);
        assert_eq!(r.error_code, 58, "{:?}", String::from_utf8_lossy(token));
        assert!(c.is_closed());
    }
    let mut c = Conn::open(addr);
    let h = handshake(&mut c, "SCRAM-SHA-1");
    assert_eq!(h.error_code, 33);
    let listed: Vec<&str> = h.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(listed, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    // A SCRAM first message for an unknown user is refused and closes.
    let mut c = Conn::open(addr);
    assert_eq!(handshake(&mut c, "SCRAM-SHA-256").error_code, 0);
    assert_eq!(authenticate(&mut c, b"n,,n=mallory,r=abc").error_code, 58);
    assert!(c.is_closed());
}

#[test]
fn without_users_sasl_is_neither_advertised_nor_served() {
    let s = start(|_| {});
    let mut c = Conn::open(s.broker.local_addr());
    let v = c.send(&ApiVersionsRequest::default(), 3);
    assert!(!v
        .api_keys
        .iter()
        .any(|k| k.api_key == 17 || k.api_key == 36));
    // Kafka answers SASL on a listener without it with ILLEGAL_SASL_STATE;
    // nothing is authenticated and the connection goes on as before.
    assert_eq!(handshake(&mut c, "PLAIN").error_code, 34);
    assert_eq!(authenticate(&mut c, b"\0alice\0s3cret").error_code, 34);
    let md = c.send(&MetadataRequest::default().with_topics(None), 12);
    assert_eq!(md.brokers.len(), 1);
}

/// A SCRAM client (RFC 5802) written out here, so the exchange is checked
/// independently of the broker's code.
fn scram_client(c: &mut Conn, mechanism: &'static str, password: &str) -> (i16, Vec<u8>) {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    assert_eq!(mechanism, "SCRAM-SHA-256");
    assert_eq!(handshake(c, mechanism).error_code, 0);
    let first_bare = "n=alice,r=fyko+d2lbbFgONRv9qkxdawL";
    let token: &'static [u8] =
        Box::leak(format!("n,,{first_bare}").into_bytes().into_boxed_slice());
    let r = authenticate(c, token);
    assert_eq!(r.error_code, 0);
    let server_first = String::from_utf8(r.auth_bytes.to_vec()).unwrap();
    let mut fields = std::collections::HashMap::new();
    for f in server_first.split(',') {
        let (k, v) = f.split_once('=').unwrap();
        fields.insert(k.to_string(), v.to_string());
    }
    assert!(fields["r"].starts_with("fyko+d2lbbFgONRv9qkxdawL"));
    let salt = B64.decode(&fields["s"]).unwrap();
    let iterations: u32 = fields["i"].parse().unwrap();
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
    let mac = |key: &[u8], data: &[u8]| {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    };
    let client_key = mac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key).to_vec();
    let without_proof = format!("c=biws,r={}", fields["r"]);
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let signature = mac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let fin = format!("{without_proof},p={}", B64.encode(proof));
    let fin: &'static [u8] = Box::leak(fin.into_bytes().into_boxed_slice());
    let r = authenticate(c, fin);
    if r.error_code == 0 {
        let server_key = mac(&salted, b"Server Key");
        let expected = format!(
            "v={}",
            B64.encode(mac(&server_key, auth_message.as_bytes()))
        );
        assert_eq!(
            r.auth_bytes.to_vec(),
            expected.into_bytes(),
            "server signature"
        );
    }
    (r.error_code, r.auth_bytes.to_vec())
}

#[test]
fn scram_sha_256_authenticates_and_proves_the_server() {
    let s = sasl_broker();
    let addr = s.broker.local_addr();
    let mut c = Conn::open(addr);
    assert_eq!(scram_client(&mut c, "SCRAM-SHA-256", "s3cret").0, 0);
    let md = c.send(&MetadataRequest::default().with_topics(None), 12);
    assert_eq!(md.brokers.len(), 1);
    let mut c = Conn::open(addr);
    assert_eq!(scram_client(&mut c, "SCRAM-SHA-256", "wrong").0, 58);
    assert!(c.is_closed());
}
