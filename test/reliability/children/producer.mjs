// A producer process for the SIGKILL test: sends self-checking messages to
// topic `k` with acks -1 (idempotent or not) from two concurrent loops and
// appends `id partition offset` to the ack file after each acknowledged
// send (synchronously, so a recorded ack was really acknowledged).
import { appendFileSync } from 'node:fs';
import { Kafka } from '../../../dist/index.js';
import { makeValue } from './values.mjs';

const [dataDir, ackFile, run, mode] = process.argv.slice(2);
const idempotent = mode === 'idempotent';
const kafka = new Kafka({ dataDir, logLevel: 0 });
const producer = kafka.producer({ idempotent, retry: { retries: 3, initialRetryTime: 20 } });
await producer.connect();
process.stdout.write('ready\n');
let seq = 0;
async function loop(lane) {
  for (;;) {
    const n = 1 + Math.floor(Math.random() * 20);
    const messages = [];
    for (let i = 0; i < n; i++) {
      const id = `${run}-${lane}-${seq++}`;
      messages.push({ key: id, value: makeValue(id), partition: (seq + i) % 3 });
    }
    const meta = await producer.send({ topic: 'k', acks: -1, messages });
    const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
    const lines = [];
    for (const m of messages) {
      const o = base.get(m.partition);
      base.set(m.partition, o + 1);
      lines.push(`${m.key} ${m.partition} ${o}\n`);
    }
    appendFileSync(ackFile, lines.join(''));
  }
}
await Promise.all([loop('a'), loop('b')]);
