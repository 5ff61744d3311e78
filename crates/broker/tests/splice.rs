//! Fetched batches leave as views of the segment map, not copies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::BytesMut;
use common::{batch, record};
use ferrolog_broker::splice::{ResponseBuf, Splices};
use ferrolog_engine::{Engine, EngineOptions};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchResponse, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes};

#[test]
fn fetch_response_splices_the_mapped_batch() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineOptions::default()).unwrap();
    engine.create_topic("s", 1, None).unwrap();
    let b = batch(&[record("k", &"v".repeat(4000))]);
    engine.append("s", 0, &b).unwrap();
    let read = engine.read("s", 0, 0, 1 << 20).unwrap();
    let chunk = read.chunks[0].clone();
    let chunk_len = chunk.len as usize;
    let mut splices = Splices::default();
    let records = splices.add(chunk);
    let resp = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("s")))
        .with_partitions(vec![PartitionData::default().with_records(Some(records))])]);
    for version in [4i16, 11, 12, 16] {
        let mut copy = BytesMut::new();
        resp.encode(&mut copy, version).unwrap();
        let mut buf = ResponseBuf::new(Splices::default());
        resp.encode(&mut buf, version).unwrap();
        assert_eq!(buf.spliced_bytes, 0, "unregistered bytes are copied");
        // Registered chunks are recognised by address: encode the response
        // that holds exactly that registered view.
        let again = engine.read("s", 0, 0, 1 << 20).unwrap().chunks[0].clone();
        let mut reg = Splices::default();
        let view = reg.add(again);
        let resp2 =
            FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_static_str("s")))
                .with_partitions(vec![PartitionData::default().with_records(Some(view))])]);
        let mut out = ResponseBuf::new(reg);
        resp2.encode(&mut out, version).unwrap();
        assert_eq!(
            out.spliced_bytes, chunk_len,
            "v{version}: the batch is a view"
        );
        let joined: Vec<u8> = out.finish().iter().flat_map(|p| p.to_vec()).collect();
        assert_eq!(
            joined,
            copy.to_vec(),
            "v{version}: same bytes as a copying encode"
        );
    }
}
