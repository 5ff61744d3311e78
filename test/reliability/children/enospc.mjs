// Drives producers into ENOSPC on a small filesystem: sends self-checking
// messages with acks -1 from three concurrent loops until sends fail, records
// every acknowledged message, then tries a few more sends (each must fail
// with a typed error, not hang or crash) and disconnects. Prints a JSON
// summary. `append` mode (after space was freed) sends 100 more messages.
import { appendFileSync } from 'node:fs';
import { Kafka } from '../../../dist/index.js';
import { makeValue } from './values.mjs';

const [dataDir, ackFile, mode] = process.argv.slice(2);
const kafka = new Kafka({ dataDir, logLevel: 0 });
const producer = kafka.producer({ idempotent: mode === 'idempotent', retry: { retries: 0 } });
await producer.connect();
const errors = [];
let seq = 0;
async function send(lane, n) {
  const messages = [];
  for (let i = 0; i < n; i++) {
    const id = `${mode}-${lane}-${seq++}`;
    messages.push({
      key: id,
      value: makeValue(id, 200 + Math.floor(Math.random() * 2000)),
      partition: seq % 3,
    });
  }
  let meta;
  let failure = null;
  try {
    meta = await producer.send({ topic: 'full', acks: -1, messages });
  } catch (e) {
    // A partial send reports the partitions it wrote: those are acknowledged too.
    if (!Array.isArray(e.written)) throw e;
    meta = e.written;
    failure = e;
  }
  const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
  const lines = [];
  for (const m of messages) {
    const o = base.get(m.partition);
    if (o === undefined) continue;
    base.set(m.partition, o + 1);
    lines.push(`${m.key} ${m.partition} ${o}\n`);
  }
  appendFileSync(ackFile, lines.join(''));
  if (failure !== null) throw failure;
}
if (mode === 'append') {
  await send('after', 100);
} else {
  await Promise.all(
    ['a', 'b', 'c'].map(async (lane) => {
      for (let i = 0; i < 100_000; i++) {
        try {
          await send(lane, 1 + Math.floor(Math.random() * 10));
        } catch (e) {
          errors.push({ name: e.name, code: e.code, message: String(e.message).slice(0, 200) });
          break;
        }
      }
    }),
  );
  // The disk is still full: more sends fail, each with a typed error.
  for (let i = 0; i < 5; i++) {
    try {
      await send('again', 3);
      errors.push({ name: 'none', code: 'sent' });
    } catch (e) {
      errors.push({ name: e.name, code: e.code, message: String(e.message).slice(0, 200) });
    }
  }
}
await producer.disconnect().catch((e) => errors.push({ name: e.name, code: e.code, where: 'disconnect' }));
process.stdout.write(`${JSON.stringify({ errors })}\n`);
