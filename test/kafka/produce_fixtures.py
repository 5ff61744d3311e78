"""Produces the Kafka fixture records into a running broker (see make-fixtures.mjs).

usage: python3 produce_fixtures.py BOOTSTRAP OUT.json

Writes OUT.json: every record as the producer sent it and the broker acked
it (topic, partition, offset, timestamp from the delivery report), the
transactional outcome of each transactional record, and what a
read_committed and a read_uncommitted consumer of the broker returned, as a
cross-check. Nothing here comes from ferrolog.
"""

import base64
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = sys.argv[1]
OUT = sys.argv[2]

# Fixed timestamps (ms) so the fixture is the same whenever it is remade;
# records without an explicit one get the producer's clock.
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

TOPICS = {
    # name: (partitions, topic config)
    "plain": (2, {}),
    # segment.bytes has a 1 MiB minimum in Kafka 4.x (KIP-1030); the
    # internal.segment.bytes topic config is what Kafka's own tests use for
    # small segments. A small index.interval.bytes gives the .index and
    # .timeindex files entries to compare.
    "rolled": (1, {"internal.segment.bytes": "1024", "index.interval.bytes": "128"}),
    "gzip": (1, {}),
    "snappy": (1, {}),
    "lz4": (1, {}),
    "zstd": (1, {}),
    "idempotent": (1, {}),
    "txn": (1, {}),
}

records = []


def b64(v):
    return None if v is None else base64.b64encode(v).decode("ascii")


def send(producer, topic, value, key=None, partition=None, headers=None, timestamp=None, extra=None):
    """Produces one record and records what the broker acked for it."""
    entry = {
        "topic": topic,
        "key": b64(key),
        "value": b64(value),
        "headers": [[k, b64(v)] for (k, v) in (headers or [])],
    }
    if extra:
        entry.update(extra)

    def on_delivery(err, msg):
        if err is not None:
            raise KafkaException(err)
        entry["partition"] = msg.partition()
        entry["offset"] = msg.offset()
        entry["timestamp"] = msg.timestamp()[1]

    kwargs = {"value": value, "key": key, "on_delivery": on_delivery}
    if partition is not None:
        kwargs["partition"] = partition
    if headers is not None:
        kwargs["headers"] = headers
    if timestamp is not None:
        kwargs["timestamp"] = timestamp
    producer.produce(topic, **kwargs)
    records.append(entry)
    return entry


def flush(producer):
    left = producer.flush(30)
    if left != 0:
        raise RuntimeError(f"{left} record(s) not delivered")


def create_topics():
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    new = [NewTopic(name, num_partitions=p, replication_factor=1, config=c) for name, (p, c) in TOPICS.items()]
    for name, fut in admin.create_topics(new).items():
        fut.result()
    # Wait until every partition has a leader.
    deadline = time.time() + 30
    while True:
        md = admin.list_topics(timeout=10)
        ready = all(
            name in md.topics
            and md.topics[name].error is None
            and len(md.topics[name].partitions) == p
            and all(pm.leader >= 0 for pm in md.topics[name].partitions.values())
            for name, (p, _) in TOPICS.items()
        )
        if ready:
            return
        if time.time() > deadline:
            raise RuntimeError("topics not ready")
        time.sleep(0.2)


def base_conf(**extra):
    conf = {"bootstrap.servers": BOOTSTRAP, "linger.ms": 0, "acks": "all"}
    conf.update(extra)
    return conf


def plain():
    p = Producer(base_conf())
    # One record per batch first: keys, null and empty keys and values, headers, explicit timestamps.
    send(p, "plain", b"v0", key=b"k0", partition=0, timestamp=T0)
    flush(p)
    send(p, "plain", b"no key", key=None, partition=0, timestamp=T0 + 1)
    flush(p)
    send(p, "plain", b"", key=b"", partition=0, timestamp=T0 + 2)
    flush(p)
    send(p, "plain", None, key=b"tombstone", partition=0, timestamp=T0 + 3)
    flush(p)
    send(p, "plain", None, key=None, partition=0, timestamp=T0 + 4)
    flush(p)
    send(
        p,
        "plain",
        b"with headers",
        key=b"h",
        partition=0,
        timestamp=T0 + 5,
        headers=[("text", b"hello"), ("binary", bytes([0, 1, 2, 0xFE, 0xFF])), ("empty", b""), ("null", None)],
    )
    flush(p)
    send(p, "plain", b"repeated header keys", key=b"r", partition=0, timestamp=T0 + 6, headers=[("a", b"1"), ("a", b"2")])
    flush(p)
    # Timestamps out of order and far apart, in one batch (several records, then one flush).
    for i, ts in enumerate([T0 + 1000, T0 + 10, T0 + 86_400_000, T0 - 86_400_000]):
        send(p, "plain", f"batched-{i}".encode(), key=f"b{i}".encode(), partition=0, timestamp=ts)
    flush(p)
    # Binary payloads with every byte value, and partition 1.
    send(p, "plain", bytes(range(256)), key=bytes(range(255, -1, -1)), partition=1, timestamp=T0 + 20)
    for i in range(5):
        send(p, "plain", f"p1-{i}".encode() * (i + 1), key=f"k{i}".encode(), partition=1, timestamp=T0 + 21 + i)
    flush(p)


def rolled():
    p = Producer(base_conf())
    # One batch per record, ~150 bytes each, into 1 KiB segments: a few rolled segments.
    for i in range(18):
        send(p, "rolled", (f"rolled-{i:03d}-" + "x" * 60).encode(), key=f"r{i}".encode(), timestamp=T0 + i * 1000)
        flush(p)


def compressed(codec):
    # linger.ms keeps each loop in one batch; flush() sends it at once.
    p = Producer(base_conf(**{"compression.type": codec, "linger.ms": 500}))
    # Two compressed batches of several records each, plus a one-record batch.
    for batch in range(2):
        for i in range(8):
            send(
                p,
                codec,
                (f"{codec} batch {batch} record {i} " + "compressible " * 4).encode(),
                key=f"{codec}-{batch}-{i}".encode() if i % 3 else None,
                headers=[("n", str(i).encode())] if i % 2 else None,
                timestamp=T0 + batch * 100 + i,
            )
        flush(p)
    send(p, codec, b"single", key=b"single", timestamp=T0 + 500)
    flush(p)


def idempotent():
    p = Producer(base_conf(**{"enable.idempotence": True, "linger.ms": 500}))
    for batch in range(3):
        for i in range(4):
            send(p, "idempotent", f"idem {batch}.{i}".encode(), key=f"i{i}".encode(), timestamp=T0 + batch * 10 + i)
        flush(p)


def txn():
    p = Producer(base_conf(**{"transactional.id": "ferrolog-fixture", "enable.idempotence": True, "linger.ms": 500}))
    p.init_transactions(30)
    outcome = [("committed", 4), ("aborted", 3), ("committed", 2)]
    for n, (result, count) in enumerate(outcome):
        p.begin_transaction()
        entries = [
            send(p, "txn", f"txn {n} record {i}".encode(), key=f"t{n}-{i}".encode(), timestamp=T0 + n * 10 + i, extra={"transaction": result})
            for i in range(count)
        ]
        flush(p)
        assert all("offset" in e for e in entries)
        if result == "committed":
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)


def consume_all(topic, partitions, isolation):
    """Every record the broker returns for the topic, with its offset."""
    c = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"fixture-check-{isolation}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "auto.offset.reset": "earliest",
        }
    )
    got = []
    for part in range(partitions):
        low, high = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
        c.assign([TopicPartition(topic, part, 0)])
        deadline = time.time() + 20
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                if c.position([TopicPartition(topic, part)])[0].offset >= high:
                    break
                continue
            if m.error() is not None:
                raise KafkaException(m.error())
            got.append({"partition": m.partition(), "offset": m.offset(), "value": b64(m.value())})
        c.unassign()
    c.close()
    return got


def main():
    create_topics()
    plain()
    rolled()
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        compressed(codec)
    idempotent()
    txn()

    for r in records:
        if "offset" not in r:
            raise RuntimeError(f"record not acked: {r}")

    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "fixture-watermarks"})
    watermarks = {}
    for name, (parts, _) in TOPICS.items():
        for part in range(parts):
            low, high = c.get_watermark_offsets(TopicPartition(name, part), timeout=10)
            watermarks[f"{name}-{part}"] = {"logStartOffset": low, "highWatermark": high}
    c.close()
    del admin

    # Control batches (transaction markers) take the offsets no data record got.
    controls = []
    for name, (parts, _) in TOPICS.items():
        for part in range(parts):
            taken = {r["offset"] for r in records if r["topic"] == name and r["partition"] == part}
            hw = watermarks[f"{name}-{part}"]["highWatermark"]
            for off in range(hw):
                if off not in taken:
                    controls.append({"topic": name, "partition": part, "offset": off})
    # In the txn topic each marker follows its transaction's last record.
    for ctl in controls:
        if ctl["topic"] != "txn":
            raise RuntimeError(f"unexpected gap at {ctl}")
        before = [r for r in records if r["topic"] == "txn" and r["offset"] == ctl["offset"] - 1]
        ctl["type"] = "COMMIT" if before and before[0]["transaction"] == "committed" else "ABORT"

    # Cross-check with the broker: read_uncommitted sees every data record, read_committed the committed ones.
    uncommitted = consume_all("txn", 1, "read_uncommitted")
    committed = consume_all("txn", 1, "read_committed")
    txn_records = [r for r in records if r["topic"] == "txn"]
    if [x["offset"] for x in uncommitted] != [r["offset"] for r in txn_records]:
        raise RuntimeError(f"read_uncommitted disagrees: {uncommitted}")
    if [x["offset"] for x in committed] != [r["offset"] for r in txn_records if r["transaction"] == "committed"]:
        raise RuntimeError(f"read_committed disagrees: {committed}")

    records.sort(key=lambda r: (r["topic"], r["partition"], r["offset"]))
    out = {
        "producer": f"confluent-kafka-python (librdkafka {__import__('confluent_kafka').libversion()[0]})",
        "topics": {name: {"partitions": p, "config": c} for name, (p, c) in TOPICS.items()},
        "watermarks": watermarks,
        "records": records,
        "controlBatches": controls,
    }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


main()
