//! The broker over a real TCP socket, driven with kafka-protocol's client
//! side: every implemented API, across its version range.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{batch, decode, record, start, Conn};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Record;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn produce_req(
    topic: &str,
    id: uuid::Uuid,
    partition: i32,
    acks: i16,
    records: Bytes,
) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_topic_id(id)
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

fn fetch_req(
    topic: &str,
    id: uuid::Uuid,
    offset: i64,
    max_wait: i32,
    min_bytes: i32,
) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait)
        .with_min_bytes(min_bytes)
        .with_max_bytes(50 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_topic_id(id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

fn metadata(conn: &mut Conn, topic: &str, version: i16) -> MetadataResponse {
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name(topic)))
        ]))
        .with_allow_auto_topic_creation(true);
    conn.send(&req, version)
}

#[test]
fn api_versions_lists_what_is_served_and_falls_back_to_v0() {
    let s = start(|_| {});
    let mut c = Conn::open(s.broker.local_addr());
    for v in 0..=4 {
        let r = c.send(&ApiVersionsRequest::default(), v);
        assert_eq!(r.error_code, 0);
        let keys: Vec<i16> = r.api_keys.iter().map(|k| k.api_key).collect();
        // ... the group APIs (8-16, 42, 47) included.
        for k in [
            0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 29, 30, 31, 32, 33,
            37, 42, 44, 47, 60, 61,
        ] {
            assert!(keys.contains(&k), "v{v} lists api {k}");
        }
        // An API not implemented is not advertised.
        assert!(!keys.contains(&(ApiKey::EndTxn as i16)));
    }
    // A client asking with a newer ApiVersions than the broker knows gets
    // the v0-encoded list with UNSUPPORTED_VERSION, and the connection lives.
    let header = RequestHeader::default()
        .with_request_api_key(18)
        .with_request_api_version(77)
        .with_correlation_id(9);
    let mut body = bytes::BytesMut::new();
    use kafka_protocol::protocol::{Decodable, Encodable};
    header.encode(&mut body, 2).unwrap();
    body.extend_from_slice(&[0, 0, 0]);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    std::io::Write::write_all(&mut c.stream, &frame).unwrap();
    let mut resp = Bytes::from(c.read_frame().unwrap());
    let h = ResponseHeader::decode(&mut resp, 0).unwrap();
    assert_eq!(h.correlation_id, 9);
    let r = ApiVersionsResponse::decode(&mut resp, 0).unwrap();
    assert_eq!(r.error_code, 35);
    assert!(r.api_keys.iter().any(|k| k.api_key == 0));
    let again = c.send(&ApiVersionsRequest::default(), 3);
    assert_eq!(again.error_code, 0);
}

#[test]
fn produce_then_fetch_at_every_version() {
    let s = start(|_| {});
    let mut c = Conn::open(s.broker.local_addr());
    let md = metadata(&mut c, "every-version", 12);
    assert_eq!(md.topics[0].error_code, 0, "auto-created");
    let id = md.topics[0].topic_id;
    assert!(!id.is_nil());
    let mut expected: Vec<(i64, String, String)> = Vec::new();
    let mut next = 0i64;
    for v in 3..=13 {
        let recs: Vec<Record> = (0..3)
            .map(|i| record(&format!("k{v}-{i}"), &format!("value {v} {i}")))
            .collect();
        let r = c.send(&produce_req("every-version", id, 0, 1, batch(&recs)), v);
        let p = &r.responses[0].partition_responses[0];
        assert_eq!(p.error_code, 0, "produce v{v}");
        assert_eq!(p.base_offset, next, "produce v{v} base offset");
        for i in 0..3 {
            expected.push((next + i, format!("k{v}-{i}"), format!("value {v} {i}")));
        }
        next += 3;
    }
    for v in 4..=18 {
        let r = c.send(&fetch_req("every-version", id, 0, 0, 0), v);
        assert_eq!(r.error_code, 0, "fetch v{v}");
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.error_code, 0, "fetch v{v}");
        assert_eq!(p.high_watermark, next);
        let got = decode(p.records.as_ref().unwrap());
        assert_eq!(got, expected, "fetch v{v} returns what was produced");
    }
    // Metadata at every version names the topic and this broker.
    for v in 0..=13 {
        let md = metadata(&mut c, "every-version", v);
        assert_eq!(md.topics[0].error_code, 0, "metadata v{v}");
        assert_eq!(md.topics[0].partitions.len(), 1);
        assert_eq!(md.brokers[0].port, s.broker.local_addr().port() as i32);
    }
}

#[test]
fn acks_all_waits_for_fsync_and_acks_zero_gets_no_answer() {
    let s = start(|_| {});
    let mut c = Conn::open(s.broker.local_addr());
    let id = metadata(&mut c, "durable", 12).topics[0].topic_id;
    let r = c.send(
        &produce_req("durable", id, 0, -1, batch(&[record("a", "1")])),
        9,
    );
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    let w = s.engine.partition("durable", 0).unwrap().watermarks();
    assert_eq!(w.durable_offset, 1, "acks=-1 answers after the fsync");
    // acks=0: no response; the next request's answer comes first.
    c.send_only(
        &produce_req("durable", id, 0, 0, batch(&[record("b", "2")])),
        9,
    );
    let md = metadata(&mut c, "durable", 9);
    assert_eq!(md.topics[0].error_code, 0);
    assert_eq!(
        s.engine
            .partition("durable", 0)
            .unwrap()
            .watermarks()
            .high_watermark,
        2
    );
    // Invalid acks.
    let r = c.send(
        &produce_req("durable", id, 0, 2, batch(&[record("c", "3")])),
        9,
    );
    assert_eq!(r.responses[0].partition_responses[0].error_code, 21);
}

#[test]
fn produce_errors_map_to_kafka_codes() {
    let s = start(|c| c.auto_create_topics = false);
    let mut c = Conn::open(s.broker.local_addr());
    let r = c.send(
        &produce_req("nope", uuid::Uuid::nil(), 0, 1, batch(&[record("a", "1")])),
        9,
    );
    assert_eq!(r.responses[0].partition_responses[0].error_code, 3);
    s.engine.create_topic("t", 1, None).unwrap();
    let mut bad = batch(&[record("a", "1")]).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let r = c.send(
        &produce_req("t", uuid::Uuid::nil(), 0, 1, Bytes::from(bad)),
        9,
    );
    assert_eq!(
        r.responses[0].partition_responses[0].error_code, 2,
        "CRC → CORRUPT_MESSAGE"
    );
    let r = c.send(
        &produce_req("t", uuid::Uuid::nil(), 5, 1, batch(&[record("a", "1")])),
        9,
    );
    assert_eq!(r.responses[0].partition_responses[0].error_code, 3);
    let big = record("k", &"x".repeat(2 << 20));
    let r = c.send(&produce_req("t", uuid::Uuid::nil(), 0, 1, batch(&[big])), 9);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 10);
    assert_eq!(
        s.engine
            .partition("t", 0)
            .unwrap()
            .watermarks()
            .high_watermark,
        0,
        "nothing written"
    );
}

#[test]
fn idempotent_producer_dedups_and_rejects_gaps() {
    let s = start(|_| {});
    let mut c = Conn::open(s.broker.local_addr());
    let init = c.send(
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60000),
        4,
    );
    assert_eq!(init.error_code, 0);
    let pid = init.producer_id.0;
    assert!(pid >= 0);
    let id = metadata(&mut c, "idem", 12).topics[0].topic_id;
    let with_seq = |seq: i32| {
        let recs: Vec<Record> = (0..2)
            .map(|i| Record {
                producer_id: pid,
                producer_epoch: 0,
                sequence: seq + i,
                ..record(&format!("k{seq}-{i}"), "v")
            })
            .collect();
        batch(&recs)
    };
    let a = c.send(&produce_req("idem", id, 0, -1, with_seq(0)), 9);
    assert_eq!(a.responses[0].partition_responses[0].error_code, 0);
    let dup = c.send(&produce_req("idem", id, 0, -1, with_seq(0)), 9);
    assert_eq!(dup.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(
        dup.responses[0].partition_responses[0].base_offset, 0,
        "a retry gets the original offsets"
    );
    let gap = c.send(&produce_req("idem", id, 0, -1, with_seq(5)), 9);
    assert_eq!(gap.responses[0].partition_responses[0].error_code, 45);
    assert_eq!(
        s.engine
            .partition("idem", 0)
            .unwrap()
            .watermarks()
            .high_watermark,
        2
    );
}

#[test]
fn fetch_long_polls_until_data_arrives() {
    let s = start(|_| {});
    s.engine.create_topic("poll", 1, None).unwrap();
    let addr = s.broker.local_addr();
    let waiter = std::thread::spawn(move || {
        let mut c = Conn::open(addr);
        let r = c.send(&fetch_req("poll", uuid::Uuid::nil(), 0, 20_000, 1), 11);
        decode(r.responses[0].partitions[0].records.as_ref().unwrap())
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut c = Conn::open(addr);
    c.send(
        &produce_req(
            "poll",
            uuid::Uuid::nil(),
            0,
            1,
            batch(&[record("late", "arrival")]),
        ),
        9,
    );
    let got = waiter.join().unwrap();
    assert_eq!(got, vec![(0, "late".to_string(), "arrival".to_string())]);
}

#[test]
fn fetch_waits_for_min_bytes_even_when_some_data_is_there() {
    let s = start(|_| {});
    s.engine.create_topic("minb", 1, None).unwrap();
    let addr = s.broker.local_addr();
    let mut c = Conn::open(addr);
    c.send(
        &produce_req(
            "minb",
            uuid::Uuid::nil(),
            0,
            1,
            batch(&[record("small", "x")]),
        ),
        9,
    );
    let waiter = std::thread::spawn(move || {
        let mut c = Conn::open(addr);
        let r = c.send(&fetch_req("minb", uuid::Uuid::nil(), 0, 20_000, 5_000), 11);
        decode(r.responses[0].partitions[0].records.as_ref().unwrap())
    });
    std::thread::sleep(Duration::from_millis(200));
    let big = "y".repeat(6_000);
    c.send(
        &produce_req(
            "minb",
            uuid::Uuid::nil(),
            0,
            1,
            batch(&[record("big", &big)]),
        ),
        9,
    );
    let got = waiter.join().unwrap();
    assert_eq!(got.len(), 2, "the answer waited for min_bytes");
    assert_eq!(got[1].1, "big");
}

#[test]
fn fetch_limits_and_out_of_range() {
    let s = start(|_| {});
    s.engine.create_topic("lim", 1, None).unwrap();
    let mut c = Conn::open(s.broker.local_addr());
    for i in 0..5 {
        let r = c.send(
            &produce_req(
                "lim",
                uuid::Uuid::nil(),
                0,
                1,
                batch(&[record(&format!("k{i}"), &"v".repeat(1000))]),
            ),
            9,
        );
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    }
    // partition_max_bytes of 1: still one whole batch (the first partition with data).
    let mut req = fetch_req("lim", uuid::Uuid::nil(), 0, 0, 0);
    req.topics[0].partitions[0].partition_max_bytes = 1;
    let r = c.send(&req, 11);
    assert_eq!(
        decode(r.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        1
    );
    // Offset past the end: OFFSET_OUT_OF_RANGE with the watermarks.
    let r = c.send(&fetch_req("lim", uuid::Uuid::nil(), 99, 0, 0), 11);
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 1);
    assert_eq!(p.high_watermark, 5);
    assert_eq!(p.log_start_offset, 0);
    // Unknown topic id at v13+.
    let r = c.send(&fetch_req("", uuid::Uuid::from_u128(7), 0, 0, 0), 13);
    assert_eq!(r.responses[0].partitions[0].error_code, 100);
    // An incremental fetch session is not kept.
    let mut req = fetch_req("lim", uuid::Uuid::nil(), 0, 0, 0);
    req.session_id = 123;
    req.session_epoch = 1;
    assert_eq!(c.send(&req, 11).error_code, 70);
}

#[test]
fn list_offsets_and_delete_records() {
    let s = start(|_| {});
    s.engine.create_topic("lo", 1, None).unwrap();
    let mut c = Conn::open(s.broker.local_addr());
    for i in 0..4 {
        c.send(
            &produce_req(
                "lo",
                uuid::Uuid::nil(),
                0,
                1,
                batch(&[record(&format!("k{i}"), "v")]),
            ),
            9,
        );
    }
    let list = |c: &mut Conn, ts: i64, v: i16| {
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(name("lo"))
                .with_partitions(vec![
                    ListOffsetsPartition::default().with_timestamp(ts)
                ])]);
        let r = c.send(&req, v);
        let p = r.topics[0].partitions[0].clone();
        (p.error_code, p.offset)
    };
    for v in 1..=10 {
        assert_eq!(list(&mut c, -1, v), (0, 4), "latest v{v}");
        assert_eq!(list(&mut c, -2, v), (0, 0), "earliest v{v}");
    }
    assert_eq!(list(&mut c, 1_700_000_000_000, 5), (0, 0));
    assert_eq!(list(&mut c, 1_900_000_000_000, 5), (0, -1));
    let req = DeleteRecordsRequest::default().with_topics(vec![
        kafka_protocol::messages::delete_records_request::DeleteRecordsTopic::default()
            .with_name(name("lo"))
            .with_partitions(vec![
                kafka_protocol::messages::delete_records_request::DeleteRecordsPartition::default()
                    .with_offset(2),
            ]),
    ]);
    let r = c.send(&req, 2);
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(r.topics[0].partitions[0].low_watermark, 2);
    assert_eq!(list(&mut c, -2, 5), (0, 2));
}

#[test]
fn admin_topics_partitions_configs_cluster() {
    let s = start(|_| {});
    let mut c = Conn::open(s.broker.local_addr());
    let create = |topic: &str, n: i32, rf: i16, configs: Vec<(&str, &str)>| {
        CreateTopicsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(n)
                .with_replication_factor(rf)
                .with_configs(
                    configs
                        .into_iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(StrBytes::from_string(k.into()))
                                .with_value(Some(StrBytes::from_string(v.into())))
                        })
                        .collect(),
                )])
    };
    let r = c.send(&create("admin", 3, 1, vec![("retention.ms", "1000")]), 7);
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].num_partitions, 3);
    assert_eq!(s.engine.topic("admin").unwrap().partition_count(), 3);
    assert_eq!(
        c.send(&create("admin", 3, 1, vec![]), 4).topics[0].error_code,
        36
    );
    assert_eq!(
        c.send(&create("rf", 1, 3, vec![]), 4).topics[0].error_code,
        38
    );
    assert_eq!(
        c.send(&create("bad name!", 1, 1, vec![]), 4).topics[0].error_code,
        17
    );
    assert_eq!(
        c.send(&create("cfg", 1, 1, vec![("nope", "1")]), 4).topics[0].error_code,
        40
    );
    assert_eq!(
        c.send(&create("zero", 0, 1, vec![]), 4).topics[0].error_code,
        37
    );

    let grow = CreatePartitionsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![
            kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic::default()
                .with_name(name("admin"))
                .with_count(5),
        ]);
    assert_eq!(c.send(&grow, 3).results[0].error_code, 0);
    assert_eq!(s.engine.topic("admin").unwrap().partition_count(), 5);
    assert_eq!(c.send(&grow, 3).results[0].error_code, 37, "not larger");

    let describe = DescribeConfigsRequest::default().with_resources(vec![
        kafka_protocol::messages::describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("admin")),
        kafka_protocol::messages::describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(StrBytes::from_static_str("0")),
    ]);
    for v in 1..=4 {
        let r = c.send(&describe, v);
        let topic = &r.results[0];
        assert_eq!(topic.error_code, 0);
        let retention = topic
            .configs
            .iter()
            .find(|e| e.name.as_str() == "retention.ms")
            .unwrap();
        assert_eq!(retention.value.as_deref(), Some("1000"));
        assert!(r.results[1]
            .configs
            .iter()
            .any(|e| e.name.as_str() == "num.partitions"));
    }
    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource::default(
        )
        .with_resource_type(2)
        .with_resource_name(StrBytes::from_static_str("admin"))
        .with_configs(vec![
            kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig::default()
                .with_name(StrBytes::from_static_str("retention.ms"))
                .with_config_operation(0)
                .with_value(Some(StrBytes::from_static_str("5000"))),
        ]),
    ]);
    assert_eq!(c.send(&alter, 1).responses[0].error_code, 0);
    assert_eq!(s.engine.topic("admin").unwrap().config().retention_ms, 5000);

    let cluster = c.send(&DescribeClusterRequest::default(), 0);
    assert_eq!(cluster.brokers.len(), 1);
    assert_eq!(cluster.brokers[0].port, s.broker.local_addr().port() as i32);

    for v in [1i16, 5, 6] {
        let topic = format!("del{v}");
        s.engine.create_topic(&topic, 1, None).unwrap();
        let req = if v >= 6 {
            DeleteTopicsRequest::default().with_topics(vec![
                kafka_protocol::messages::delete_topics_request::DeleteTopicState::default()
                    .with_name(Some(name(&topic))),
            ])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![name(&topic)])
        };
        assert_eq!(c.send(&req, v).responses[0].error_code, 0);
        assert!(s.engine.topic(&topic).is_err());
    }
}

#[test]
fn fetch_max_bytes_spans_partitions_as_kafka_applies_it() {
    let s = start(|_| {});
    s.engine.create_topic("two", 2, None).unwrap();
    let mut c = Conn::open(s.broker.local_addr());
    for p in 0..2 {
        for i in 0..3 {
            let b = batch(&[record(&format!("p{p}-{i}"), &"v".repeat(1000))]);
            let r = c.send(&produce_req("two", uuid::Uuid::nil(), p, 1, b), 9);
            assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
        }
    }
    let fetch = |max_bytes: i32| {
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_bytes(max_bytes)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(name("two"))
                .with_partitions(
                    (0..2)
                        .map(|p| {
                            FetchPartition::default()
                                .with_partition(p)
                                .with_fetch_offset(0)
                                .with_partition_max_bytes(1 << 20)
                        })
                        .collect(),
                )])
    };
    let counts = |r: &FetchResponse| -> Vec<usize> {
        r.responses[0]
            .partitions
            .iter()
            .map(|p| decode(p.records.as_ref().unwrap()).len())
            .collect()
    };
    // Room for everything.
    assert_eq!(counts(&c.send(&fetch(1 << 20), 11)), vec![3, 3]);
    // 1 byte: the first partition still returns one batch, the second none.
    assert_eq!(counts(&c.send(&fetch(1), 11)), vec![1, 0]);
    // Room for about two and a half batches: two from the first partition,
    // none from the second (its first batch does not fit what is left).
    let one = batch(&[record("p0-0", &"v".repeat(1000))]).len() as i32;
    assert_eq!(counts(&c.send(&fetch(one * 2 + one / 2), 11)), vec![2, 0]);
    // Room for four: three from the first, one from the second.
    assert_eq!(counts(&c.send(&fetch(one * 4), 11)), vec![3, 1]);
}

#[test]
fn list_offsets_max_timestamp_finds_the_newest_record() {
    let s = start(|_| {});
    s.engine.create_topic("mt", 1, None).unwrap();
    let mut c = Conn::open(s.broker.local_addr());
    let now = ferrolog_engine::now_ms();
    for (i, ts) in [now - 3000, now + 2000, now - 1000].into_iter().enumerate() {
        let b = batch(&[Record {
            timestamp: ts,
            ..record(&format!("k{i}"), "v")
        }]);
        c.send(&produce_req("mt", uuid::Uuid::nil(), 0, 1, b), 9);
    }
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name("mt"))
            .with_partitions(vec![
                ListOffsetsPartition::default().with_timestamp(-3)
            ])]);
    let r = c.send(&req, 7);
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.offset, p.timestamp), (0, 1, now + 2000));
}
