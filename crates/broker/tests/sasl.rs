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
        c.sasl_plain_users = Some(Arc::new(users));
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
    let h = handshake(&mut c, "SCRAM-SHA-256");
    assert_eq!(h.error_code, 33);
    assert_eq!(h.mechanisms[0].as_str(), "PLAIN");
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
    let f = c.frame(
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
        1,
    );
    std::io::Write::write_all(&mut c.stream, &f).unwrap();
    assert!(c.is_closed());
}
