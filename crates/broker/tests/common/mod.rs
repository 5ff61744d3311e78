//! A minimal blocking Kafka client for the broker's tests, built on
//! kafka-protocol's request encoders and response decoders.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrolog_broker::{Broker, BrokerConfig};
use ferrolog_engine::{Engine, EngineOptions};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

pub struct Setup {
    pub broker: Broker,
    pub engine: Arc<Engine>,
    pub dir: tempfile::TempDir,
    pub log_lines: Arc<AtomicUsize>,
}

pub fn start(tune: impl FnOnce(&mut BrokerConfig)) -> Setup {
    start_with(|config, _| tune(config))
}

/// `start`, with the engine at hand while tuning (for a group coordinator
/// of the test's own on it).
pub fn start_with(tune: impl FnOnce(&mut BrokerConfig, &Arc<Engine>)) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(dir.path(), EngineOptions::default()).unwrap());
    let log_lines = Arc::new(AtomicUsize::new(0));
    let counter = log_lines.clone();
    let mut config = BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        log: Arc::new(move |line: &str| {
            eprintln!("broker: {line}");
            counter.fetch_add(1, Ordering::Relaxed);
        }),
        ..BrokerConfig::default()
    };
    tune(&mut config, &engine);
    let broker = Broker::start(engine.clone(), config).unwrap();
    Setup {
        broker,
        engine,
        dir,
        log_lines,
    }
}

pub struct Conn {
    pub stream: TcpStream,
    next_id: i32,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Conn { stream, next_id: 1 }
    }

    pub fn frame<R: Request>(&mut self, req: &R, version: i16) -> Vec<u8> {
        self.next_id += 1;
        request_frame(req, version, self.next_id - 1)
    }

    pub fn send_only<R: Request>(&mut self, req: &R, version: i16) {
        let f = self.frame(req, version);
        self.stream.write_all(&f).unwrap();
    }

    pub fn read_response<R: Request>(&mut self, version: i16) -> R::Response {
        let body = self.read_frame().expect("a response");
        let key = ApiKey::try_from(R::KEY).unwrap();
        let mut b = Bytes::from(body);
        ResponseHeader::decode(&mut b, key.response_header_version(version)).unwrap();
        R::Response::decode(&mut b, version).unwrap()
    }

    pub fn send<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        self.send_only(req, version);
        self.read_response::<R>(version)
    }

    /// One response frame, or None when the broker closed the connection.
    pub fn read_frame(&mut self) -> Option<Vec<u8>> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).ok()?;
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut body).ok()?;
        Some(body)
    }

    /// True once the broker has closed this connection (a read hits EOF or
    /// a reset); false when data arrives or the read times out (30 s).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        match self.stream.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }
}

/// A request as sent on the wire: size prefix, header, body.
pub fn request_frame<R: Request>(req: &R, version: i16, correlation_id: i32) -> Vec<u8> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("ferrolog-test")));
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut body = BytesMut::new();
    header
        .encode(&mut body, key.request_header_version(version))
        .unwrap();
    req.encode(&mut body, version).unwrap();
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

pub fn record(key: &str, value: &str) -> Record {
    let mut headers = IndexMap::new();
    headers.insert(
        StrBytes::from_string(format!("h-{key}")),
        Some(Bytes::from(value.to_string())),
    );
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_700_000_000_000,
        key: Some(Bytes::from(key.to_string())),
        value: Some(Bytes::from(value.to_string())),
        headers,
    }
}

pub fn batch(records: &[Record]) -> Bytes {
    let mut buf = BytesMut::new();
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            offset: i as i64,
            ..r.clone()
        })
        .collect();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

/// (offset, key, value) of every record in `bytes`.
pub fn decode(bytes: &Bytes) -> Vec<(i64, String, String)> {
    let mut b = bytes.clone();
    let sets = RecordBatchDecoder::decode_all(&mut b).unwrap();
    sets.into_iter()
        .flat_map(|s| s.records)
        .map(|r| {
            (
                r.offset,
                String::from_utf8(r.key.unwrap().to_vec()).unwrap(),
                String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
            )
        })
        .collect()
}
