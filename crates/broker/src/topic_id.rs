//! Topic ids. The engine names topics only; Kafka's newer Produce, Fetch,
//! Metadata and DeleteTopics versions also address them by a UUID. The id
//! is derived from the name, so it is stable across restarts without a
//! file (a topic deleted and created again under the same name gets the
//! same id, which Kafka would not do).

use ferrolog_engine::batch::crc32c;
use ferrolog_engine::Engine;
use uuid::Uuid;

pub fn topic_id(name: &str) -> Uuid {
    let mut b = [0u8; 16];
    for (i, part) in b.chunks_exact_mut(4).enumerate() {
        let mut input = Vec::with_capacity(name.len() + 1);
        input.push(i as u8);
        input.extend_from_slice(name.as_bytes());
        part.copy_from_slice(&crc32c(&input).to_be_bytes());
    }
    // RFC 4122 version 4 / variant bits, so tools print a well-formed id
    // (and it is never the nil id, which means "no id" in the protocol).
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Uuid::from_bytes(b)
}

/// The name of the topic with this id, if one exists.
pub fn topic_name(engine: &Engine, id: Uuid) -> Option<String> {
    engine
        .topics()
        .into_iter()
        .map(|t| t.name.clone())
        .find(|name| topic_id(name) == id)
}
