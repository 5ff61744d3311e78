// A consumer-group process for the SIGKILL test: three members of group
// `kg` (groups are in-process) consume topic `k`; a producer in the same
// process keeps adding messages (the directory lock admits one process).
// Lines appended to the out file, synchronously, before anything is
// committed after them:
//   C <partition> <committed>   the group's committed offsets at start
//   P <partition> <offset> <ok|bad>   a message the handler processed
//   A <id> <partition> <offset>  a message the producer had acknowledged
// With `final`, nothing is produced; the process consumes to the end,
// disconnects (committing) and prints the committed offsets as JSON.
import { appendFileSync } from 'node:fs';
import { Kafka } from '../../../dist/index.js';
import { checkValue, makeValue, sleep } from './values.mjs';

const [dataDir, outFile, run, mode] = process.argv.slice(2);
const final = mode === 'final';
const kafka = new Kafka({ dataDir, logLevel: 0 });
const admin = kafka.admin();
await admin.connect();
const committedAtStart = await admin.fetchOffsets({ groupId: 'kg', topics: ['k'] });
appendFileSync(outFile, committedAtStart[0].partitions.map((p) => `C ${p.partition} ${p.offset}\n`).join(''));
const members = [];
// The final run commits after each batch, so its committed offsets reach the end.
const threshold = final ? null : 1 + Math.floor(Math.random() * 20);
for (let m = 0; m < 3; m++) {
  const c = kafka.consumer({ groupId: 'kg', sessionTimeout: 3000, heartbeatInterval: 100 });
  await c.connect();
  await c.subscribe({ topic: 'k', fromBeginning: true });
  await c.run({
    autoCommitThreshold: threshold,
    eachMessage: async ({ partition, message }) => {
      const ok = checkValue(message.value) === message.key?.toString() ? 'ok' : 'bad';
      appendFileSync(outFile, `P ${partition} ${message.offset} ${ok}\n`);
      if (Math.random() < 0.01) await sleep(1);
    },
  });
  members.push(c);
}
process.stdout.write('ready\n');
if (!final) {
  const producer = kafka.producer();
  await producer.connect();
  let seq = 0;
  for (;;) {
    const messages = [];
    for (let i = 0; i < 10; i++) {
      const id = `${run}-${seq++}`;
      messages.push({ key: id, value: makeValue(id), partition: seq % 3 });
    }
    const meta = await producer.send({ topic: 'k', acks: -1, messages });
    const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
    const lines = [];
    for (const m of messages) {
      const o = base.get(m.partition);
      base.set(m.partition, o + 1);
      lines.push(`A ${m.key} ${m.partition} ${o}\n`);
    }
    appendFileSync(outFile, lines.join(''));
    await sleep(2);
  }
} else {
  const high = await admin.fetchTopicOffsets('k');
  const reached = () => {
    // The group has caught up when its members' positions reach the end.
    return admin
      .fetchOffsets({ groupId: 'kg', topics: ['k'] })
      .then((r) => r[0].partitions.every((p) => Number(p.offset) >= Number(high[p.partition].high)));
  };
  const deadline = Date.now() + 60_000;
  while (!(await reached()) && Date.now() < deadline) await sleep(20);
  for (const c of members) await c.disconnect();
  const committed = await admin.fetchOffsets({ groupId: 'kg', topics: ['k'] });
  await admin.disconnect();
  process.stdout.write(`${JSON.stringify({ committed: committed[0].partitions, high })}\n`);
}
