"""Small Kafka client commands for the scripts in test/kafka (confluent-kafka-python).

  python3 kafka_client.py create BOOTSTRAP TOPIC:PARTITIONS[:k=v,...] ...
  python3 kafka_client.py describe BOOTSTRAP TOPIC ...          prints {topic: {id, partitions}} as JSON
  python3 kafka_client.py consume BOOTSTRAP TOPIC PARTITIONS    prints every record of every partition as JSON lines
  python3 kafka_client.py produce BOOTSTRAP TOPIC PARTITION VALUE   prints the acked offset
"""

import base64
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def b64(v):
    return None if v is None else base64.b64encode(v).decode("ascii")


def create(bootstrap, specs):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = []
    for spec in specs:
        parts = spec.split(":")
        config = dict(kv.split("=", 1) for kv in parts[2].split(",")) if len(parts) > 2 and parts[2] else {}
        topics.append(NewTopic(parts[0], num_partitions=int(parts[1]), replication_factor=1, config=config))
    for _, fut in admin.create_topics(topics).items():
        fut.result()
    deadline = time.time() + 30
    while time.time() < deadline:
        md = admin.list_topics(timeout=10)
        if all(
            t.topic in md.topics and all(p.leader >= 0 for p in md.topics[t.topic].partitions.values()) for t in topics
        ):
            return
        time.sleep(0.2)
    raise RuntimeError("topics not ready")


def describe(bootstrap, names):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(timeout=10)
    out = {}
    for n in names:
        t = md.topics.get(n)
        out[n] = None if t is None or t.error is not None else {"partitions": len(t.partitions)}
    print(json.dumps(out))


def consume(bootstrap, topic, partitions):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "ferrolog-load-check",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_uncommitted",
        }
    )
    for part in range(partitions):
        low, high = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
        print(json.dumps({"watermarks": {"topic": topic, "partition": part, "low": low, "high": high}}))
        if high <= low:
            continue
        c.assign([TopicPartition(topic, part, low)])
        deadline = time.time() + 30
        last = low - 1
        while time.time() < deadline and last < high - 1:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error() is not None:
                raise KafkaException(m.error())
            last = m.offset()
            print(
                json.dumps(
                    {
                        "topic": m.topic(),
                        "partition": m.partition(),
                        "offset": m.offset(),
                        "timestamp": m.timestamp()[1],
                        "key": b64(m.key()),
                        "value": b64(m.value()),
                        "headers": [[k, b64(v)] for (k, v) in (m.headers() or [])],
                    }
                )
            )
        c.unassign()
    c.close()


def produce(bootstrap, topic, partition, value):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    acked = {}

    def on_delivery(err, msg):
        if err is not None:
            raise KafkaException(err)
        acked["offset"] = msg.offset()

    p.produce(topic, value=value.encode(), partition=int(partition), on_delivery=on_delivery)
    p.flush(30)
    print(acked["offset"])


cmd, bootstrap, *rest = sys.argv[1:]
if cmd == "create":
    create(bootstrap, rest)
elif cmd == "describe":
    describe(bootstrap, rest)
elif cmd == "consume":
    consume(bootstrap, rest[0], int(rest[1]))
elif cmd == "produce":
    produce(bootstrap, *rest)
else:
    raise SystemExit(f"unknown command {cmd}")
