//! TLS on the listener, ACLs enforced with SASL (and managed through the
//! ACL APIs), and DescribeProducers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use common::{batch, record, request_frame, start, Conn};
use ferrolog_broker::{AclConfig, TlsIdentity};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_protocol::records::Record;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn login(c: &mut Conn, user: &str, password: &str) {
    let h = c.send(
        &SaslHandshakeRequest::default().with_mechanism(s("PLAIN")),
        1,
    );
    assert_eq!(h.error_code, 0);
    let token = format!("\0{user}\0{password}");
    let r = c.send(
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token)),
        2,
    );
    assert_eq!(r.error_code, 0, "{user} logs in");
}

fn produce(topic: &str, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records)),
            ])])
}

fn produce_code(c: &mut Conn, topic: &str) -> i16 {
    let r = c.send(&produce(topic, batch(&[record("k", "v")])), 9);
    r.responses[0].partition_responses[0].error_code
}

fn acl(
    resource_type: i8,
    name: &str,
    pattern: i8,
    principal: &str,
    operation: i8,
    permission: i8,
) -> create_acls_request::AclCreation {
    create_acls_request::AclCreation::default()
        .with_resource_type(resource_type)
        .with_resource_name(s(name))
        .with_resource_pattern_type(pattern)
        .with_principal(s(principal))
        .with_host(s("*"))
        .with_operation(operation)
        .with_permission_type(permission)
}

fn listed(c: &mut Conn) -> Vec<String> {
    let md = c.send(&MetadataRequest::default().with_topics(None), 12);
    md.topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
        .collect()
}

#[test]
fn acls_are_enforced_with_sasl_and_managed_through_the_acl_apis() {
    let st = start(|c| {
        let mut users = HashMap::new();
        users.insert("alice".to_string(), "a-pw".to_string());
        users.insert("admin".to_string(), "admin-pw".to_string());
        c.sasl_users = Some(Arc::new(users));
        c.acl = AclConfig {
            super_users: vec!["admin".to_string()],
            allow_if_no_acl: false,
        };
    });
    st.engine.create_topic("secret", 1, None).unwrap();
    let addr = st.broker.local_addr();
    let mut alice = Conn::open(addr);
    login(&mut alice, "alice", "a-pw");
    let mut admin = Conn::open(addr);
    login(&mut admin, "admin", "admin-pw");

    // No ACL: alice sees nothing, writes nothing, creates nothing.
    assert!(
        listed(&mut alice).is_empty(),
        "unauthorized topics are hidden"
    );
    assert_eq!(listed(&mut admin), vec!["secret"]);
    let md = alice.send(
        &MetadataRequest::default().with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default()
                .with_name(Some(TopicName(s("secret")))),
            metadata_request::MetadataRequestTopic::default().with_name(Some(TopicName(s("auto")))),
        ])),
        12,
    );
    assert!(
        md.topics.iter().all(|t| t.error_code == 29),
        "{:?}",
        md.topics
    );
    assert!(
        st.engine.topic("auto").is_err(),
        "no auto-create without Create"
    );
    assert_eq!(produce_code(&mut alice, "secret"), 29);
    let hw = |st: &common::Setup| {
        st.engine
            .partition("secret", 0)
            .unwrap()
            .watermarks()
            .high_watermark
    };
    assert_eq!(hw(&st), 0, "nothing written");
    let join = alice.send(
        &JoinGroupRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_protocol_type(s("consumer")),
        9,
    );
    assert_eq!(join.error_code, 30);
    let init = alice.send(
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(1000),
        4,
    );
    assert_eq!(init.error_code, 31);
    // Only the cluster's Alter may change ACLs.
    let denied = alice.send(
        &CreateAclsRequest::default().with_creations(vec![acl(2, "secret", 3, "User:alice", 2, 3)]),
        3,
    );
    assert_eq!(denied.results[0].error_code, 31);
    let d = alice.send(
        &DescribeAclsRequest::default()
            .with_resource_type_filter(1)
            .with_pattern_type_filter(1)
            .with_operation(1)
            .with_permission_type(1),
        3,
    );
    assert_eq!(d.error_code, 31);

    // admin allows alice Write on topics prefixed "sec" and Read on group g.
    let created = admin.send(
        &CreateAclsRequest::default().with_creations(vec![
            acl(2, "sec", 4, "User:alice", 4, 3),
            acl(3, "g", 3, "User:alice", 3, 3),
            acl(2, "x", 3, "alice", 4, 3), // not a principal
        ]),
        3,
    );
    let codes: Vec<i16> = created.results.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![0, 0, 42]);
    assert!(st.dir.path().join("acls.ferrolog").exists());
    assert_eq!(produce_code(&mut alice, "secret"), 0);
    assert_eq!(hw(&st), 1);
    assert_eq!(listed(&mut alice), vec!["secret"], "Write implies Describe");
    let init = alice.send(
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(1000),
        4,
    );
    assert_eq!(
        init.error_code, 0,
        "Write on a topic allows an idempotent producer"
    );
    let fetch = alice.send(
        &FetchRequest::default()
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_topics(vec![fetch_request::FetchTopic::default()
                .with_topic(TopicName(s("secret")))
                .with_partitions(vec![
                    fetch_request::FetchPartition::default().with_partition_max_bytes(1 << 20)
                ])]),
        11,
    );
    assert_eq!(
        fetch.responses[0].partitions[0].error_code, 29,
        "Write does not imply Read"
    );

    // Deny wins over the prefixed allow.
    let r = admin.send(
        &CreateAclsRequest::default().with_creations(vec![acl(2, "secret", 3, "User:alice", 4, 2)]),
        3,
    );
    assert_eq!(r.results[0].error_code, 0);
    assert_eq!(produce_code(&mut alice, "secret"), 29);
    let all = DescribeAclsRequest::default()
        .with_resource_name_filter(None)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_resource_type_filter(1)
        .with_pattern_type_filter(1)
        .with_operation(1)
        .with_permission_type(1);
    let d = admin.send(&all, 3);
    assert_eq!(d.error_code, 0);
    assert_eq!(d.resources.iter().map(|r| r.acls.len()).sum::<usize>(), 3);
    // MATCH finds the literal deny and the prefix allow that apply to "secret".
    let matching = admin.send(
        &all.clone()
            .with_resource_type_filter(2)
            .with_resource_name_filter(Some(s("secret")))
            .with_pattern_type_filter(2),
        3,
    );
    assert_eq!(matching.resources.len(), 2);

    let del = admin.send(
        &DeleteAclsRequest::default().with_filters(vec![
            delete_acls_request::DeleteAclsFilter::default()
                .with_resource_name_filter(None)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_resource_type_filter(2)
                .with_pattern_type_filter(1)
                .with_operation(1)
                .with_permission_type(1),
        ]),
        3,
    );
    assert_eq!(del.filter_results[0].error_code, 0);
    assert_eq!(del.filter_results[0].matching_acls.len(), 2);
    assert_eq!(
        produce_code(&mut alice, "secret"),
        29,
        "the allow is gone too"
    );
    assert_eq!(
        admin.send(&all, 3).resources.len(),
        1,
        "the group ACL stays"
    );

    // The ACLs are the data directory's: a broker started again reads them.
    drop((alice, admin));
    // Dropping the broker drops the last handle on the in-memory store.
    let common::Setup {
        broker,
        engine,
        dir: _dir,
        ..
    } = st;
    broker.shutdown();
    drop(broker);
    let mut users = HashMap::new();
    users.insert("admin".to_string(), "admin-pw".to_string());
    let again = ferrolog_broker::Broker::start(
        engine.clone(),
        ferrolog_broker::BrokerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            sasl_users: Some(Arc::new(users)),
            acl: AclConfig {
                super_users: vec!["admin".to_string()],
                allow_if_no_acl: false,
            },
            ..Default::default()
        },
    )
    .unwrap();
    let mut admin = Conn::open(again.local_addr());
    login(&mut admin, "admin", "admin-pw");
    let d = admin.send(&all, 3);
    assert_eq!(d.resources.len(), 1);
    assert_eq!(d.resources[0].resource_name.as_str(), "g");
    assert_eq!(d.resources[0].acls[0].principal.as_str(), "User:alice");
    again.shutdown();
}

#[test]
fn without_sasl_nothing_is_enforced_and_allow_if_no_acl_found_works() {
    let st = start(|c| {
        let mut users = HashMap::new();
        users.insert("bob".to_string(), "pw".to_string());
        c.sasl_users = Some(Arc::new(users));
        c.acl.allow_if_no_acl = true;
    });
    st.engine.create_topic("open", 1, None).unwrap();
    let mut bob = Conn::open(st.broker.local_addr());
    login(&mut bob, "bob", "pw");
    assert_eq!(
        produce_code(&mut bob, "open"),
        0,
        "no ACL for the topic: allowed"
    );
    let plain = start(|_| {});
    plain.engine.create_topic("t", 1, None).unwrap();
    let mut c = Conn::open(plain.broker.local_addr());
    assert_eq!(produce_code(&mut c, "t"), 0);
}

#[test]
fn describe_producers_reports_the_engine_producer_state() {
    let st = start(|_| {});
    st.engine.create_topic("idem", 2, None).unwrap();
    let mut c = Conn::open(st.broker.local_addr());
    let init = c.send(
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(1000),
        4,
    );
    let pid = init.producer_id.0;
    let recs: Vec<Record> = (0..3)
        .map(|i| Record {
            producer_id: pid,
            producer_epoch: 0,
            sequence: i,
            ..record("k", "v")
        })
        .collect();
    let r = c.send(&produce("idem", batch(&recs)), 9);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    let v = c.send(&ApiVersionsRequest::default(), 3);
    assert!(
        v.api_keys.iter().any(|k| k.api_key == 61),
        "DescribeProducers advertised"
    );
    let d = c.send(
        &DescribeProducersRequest::default().with_topics(vec![
            describe_producers_request::TopicRequest::default()
                .with_name(TopicName(s("idem")))
                .with_partition_indexes(vec![0, 1, 7]),
        ]),
        0,
    );
    let parts = &d.topics[0].partitions;
    assert_eq!(parts[0].error_code, 0);
    assert_eq!(parts[0].active_producers.len(), 1);
    let p = &parts[0].active_producers[0];
    assert_eq!(
        (p.producer_id.0, p.producer_epoch, p.last_sequence),
        (pid, 0, 2)
    );
    assert!(parts[1].active_producers.is_empty());
    assert_eq!(parts[2].error_code, 3, "no partition 7");
}

/// A test CA and a localhost certificate it signs (EC P-256), made with
/// the openssl CLI into `dir`. Test-only keys, never committed.
pub fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ferrolog-test-ca",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
}

#[test]
fn tls_listener_serves_tls_clients_and_drops_plaintext_ones() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls;
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let id = TlsIdentity {
        cert_pem: std::fs::read(certs.path().join("cert.pem")).unwrap(),
        key_pem: std::fs::read(certs.path().join("key.pem")).unwrap(),
    };
    let st = start(|c| c.tls = Some(id));
    let addr = st.broker.local_addr();

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(certs.path().join("ca.pem")).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
    for (i, version) in [0i16, 3, 4].into_iter().enumerate() {
        tls.write_all(&request_frame(
            &ApiVersionsRequest::default()
                .with_client_software_name(s("t"))
                .with_client_software_version(s("1")),
            version,
            i as i32,
        ))
        .unwrap();
        let mut len = [0u8; 4];
        tls.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        tls.read_exact(&mut body).unwrap();
        let mut b = Bytes::from(body);
        let h = ResponseHeader::decode(&mut b, 0).unwrap();
        assert_eq!(h.correlation_id, i as i32);
        let r = ApiVersionsResponse::decode(&mut b, version).unwrap();
        assert_eq!(r.error_code, 0);
        assert!(r.api_keys.len() > 20);
    }
    // A plaintext Kafka client fails the handshake and is dropped; the TLS
    // connection is still served.
    let mut plain = Conn::open(addr);
    let f = plain.frame(&ApiVersionsRequest::default(), 3);
    plain.stream.write_all(&f).unwrap();
    let mut got = Vec::new();
    plain
        .stream
        .read_to_end(&mut got)
        .expect("closed, not timed out");
    assert!(
        got.is_empty() || got[0] == 0x15,
        "at most a TLS alert: {got:?}"
    );
    tls.write_all(&request_frame(
        &MetadataRequest::default().with_topics(None),
        12,
        9,
    ))
    .unwrap();
    let mut len = [0u8; 4];
    tls.read_exact(&mut len).unwrap();
    assert!(i32::from_be_bytes(len) > 0);
}

#[test]
fn a_bad_certificate_or_key_is_a_clear_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(ferrolog_engine::Engine::open(dir.path(), Default::default()).unwrap());
    let config = ferrolog_broker::BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(TlsIdentity {
            cert_pem: b"not a pem".to_vec(),
            key_pem: b"nor this".to_vec(),
        }),
        ..Default::default()
    };
    let e = ferrolog_broker::Broker::start(engine, config)
        .err()
        .expect("refused");
    assert!(e.to_string().starts_with("TLS:"), "{e}");
}
