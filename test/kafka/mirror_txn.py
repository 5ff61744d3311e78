"""Writes transactions into a new one-partition topic for test/mirror.test.ts:
10 records committed, 10 aborted, 20 committed (two transactions), with
librdkafka's transactional producer (each transaction ends in a marker)."""
import sys

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({'bootstrap.servers': bootstrap})
for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
    f.result()
p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'mirror-test-' + topic})
p.init_transactions()
n = 0
for commit in [True, False, True, True]:
    p.begin_transaction()
    for _ in range(10):
        p.produce(topic, key=b'k%d' % n, value=(b'committed-%d' if commit else b'aborted-%d') % n)
        n += 1
    p.flush()
    if commit:
        p.commit_transaction()
    else:
        p.abort_transaction()
