// A kafkajs 2.2.4 member that holds its first message until a line "go"
// arrives on stdin, then commits that message's offset with the member id
// and generation it had, and prints "commit <result>": "ok", or the Kafka
// error the broker answered. test/groups-multiprocess.test.ts stops this
// process (SIGSTOP) while it holds, so the coordinator evicts it, and
// checks that the late commit is refused.
//
// Usage: node late-commit.mjs '{"brokers":[..],"topic":..,"group":..}'
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';

const o = JSON.parse(process.argv[2]);
const kafka = new Kafka({
  clientId: 'late',
  brokers: o.brokers,
  logLevel: logLevel.NOTHING,
  retry: { retries: 0 },
});
const consumer = kafka.consumer({
  groupId: o.group,
  sessionTimeout: 6000,
  heartbeatInterval: 500,
  maxWaitTimeInMs: 200,
});
const go = new Promise((resolve) => {
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l.trim() === 'go') resolve();
  });
});
let held = false;
await consumer.connect();
await consumer.subscribe({ topic: o.topic, fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachMessage: async ({ topic, partition, message }) => {
    if (held) return new Promise(() => undefined);
    held = true;
    process.stdout.write('holding\n');
    await go;
    try {
      await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
      process.stdout.write('commit ok\n');
    } catch (e) {
      const type = e.type ?? e.originalError?.type ?? e.cause?.type ?? e.name;
      process.stdout.write(`commit ${type} ${e.message}\n`);
    }
    return new Promise(() => undefined);
  },
});
