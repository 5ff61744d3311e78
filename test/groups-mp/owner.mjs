// The process that owns the data directory, for
// test/groups-multiprocess.test.ts: serves it as a Kafka broker
// (`kafka.listen`) on the given port, creates the topic, optionally runs an
// in-process group member (test/groups-mp/member.mjs's runMember) and a
// producer that writes one message to every partition every few
// milliseconds until OUT.produce-stop appears. Prints "ready" once
// serving. SIGTERM: the member and producer stop (the member commits and
// leaves), the broker and log close, exit 0.
//
// Usage: node owner.mjs '{"dataDir":..,"port":..,"topic":..,"partitions":..,"out":..,"member":{name,group}|null,"produce":bool}'
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka } from '../../dist/index.js';
import { runMember } from './member.mjs';

const o = JSON.parse(process.argv[2]);
const kafka = new Kafka({ dataDir: o.dataDir, logLevel: 0 });
const server = await kafka.listen({ port: o.port, host: '127.0.0.1' });
const admin = kafka.admin();
await admin.connect();
if (!(await admin.listTopics()).includes(o.topic)) {
  await admin.createTopics({ topics: [{ topic: o.topic, numPartitions: o.partitions }] });
}
await admin.disconnect();

let stopping = false;
const tasks = [];
if (o.member) {
  const out = o.member.out;
  tasks.push(
    runMember(kafka, {
      topic: o.topic,
      group: o.member.group,
      out,
      name: o.member.name,
      sessionTimeout: 6000,
    }),
  );
}
if (o.produce) {
  const producer = kafka.producer();
  await producer.connect();
  tasks.push(
    (async () => {
      let seq = 0;
      while (!stopping && !existsSync(`${o.out}.produce-stop`)) {
        await producer.send({
          topic: o.topic,
          acks: 1,
          messages: Array.from({ length: o.partitions }, (_, p) => ({ partition: p, value: `m${seq++}` })),
        });
        await sleep(20);
      }
      await producer.disconnect();
      // Written whole, then renamed: the test waits for the file to exist and
      // reads it at once, and would read an empty count from a file that
      // writeFileSync has created but not yet filled.
      writeFileSync(`${o.out}.produced.tmp`, String(seq));
      renameSync(`${o.out}.produced.tmp`, `${o.out}.produced`);
    })(),
  );
}

// The broker runs on native threads that do not keep Node's event loop
// alive: this does, until SIGTERM.
const alive = setInterval(() => undefined, 1000);
process.on('SIGTERM', async () => {
  stopping = true;
  clearInterval(alive);
  if (o.member) writeFileSync(`${o.member.out}.stop`, '');
  await Promise.all(tasks);
  await server.close();
  process.exit(0);
});
process.stdout.write('ready\n');
