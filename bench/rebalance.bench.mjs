// Rebalance time of a consumer group: 3 members on a 12-partition topic
// while a producer keeps writing to every partition. `node
// bench/rebalance.bench.mjs` after `npm run build` (BENCH_ROUNDS, default
// 10; BENCH_SKIP_KAFKA=1 leaves Apache Kafka out).
//
// A round: two members consume; a third joins (time from its `run()` until
// every one of the three has been assigned its partitions and processed a
// message after that assignment); then it leaves (time from its
// `disconnect()` until both others consume again under their new
// assignment). The table shows the median and the min-max spread.
//
// Contestants, all with the same consumer settings (heartbeatInterval 100
// ms, sessionTimeout 10 s, maxWaitTimeInMs 100, round-robin):
//  - in process: ferrolog's consumers on the data directory, coordinator in
//    the same process;
//  - ferrolog broker (another process) with ferrolog's remote client, and
//    with kafkajs 2.2.4;
//  - Apache Kafka 4.1.1 (single node KRaft from the cached jars, started by
//    test/kafka/cluster.mjs) with kafkajs 2.2.4 and with ferrolog's remote
//    client.
// The group is never empty during a round, so neither Kafka's
// group.initial.rebalance.delay.ms (3 s) nor ferrolog's (0) is measured.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka as KafkaJS, logLevel as kjsLogLevel } from 'kafkajs';
import { Kafka } from '../dist/index.js';
import { startCluster, stopCluster } from '../test/kafka/cluster.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const PARTITIONS = 12;
const TOPIC = 'rebalance';
const CONSUMER = {
  sessionTimeout: 10_000,
  heartbeatInterval: 100,
  maxWaitTimeInMs: 100,
  rebalanceTimeout: 30_000,
};
const now = () => performance.now();

function stats(xs) {
  if (xs.length === 0) return 'n/a';
  const s = [...xs].sort((a, b) => a - b);
  const fmt = (x) => (x < 10 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US'));
  return `${fmt(s[Math.floor(s.length / 2)])} (${fmt(s[0])}-${fmt(s[s.length - 1])})`;
}

async function until(check, what, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

/** A member: its latest assignment, when it came, and whether it consumed since. */
async function startMember(kafka, groupId) {
  const m = { assignedAt: -1, parts: [], consumedAfter: false, consumer: null };
  const c = kafka.consumer({ groupId, ...CONSUMER });
  m.consumer = c;
  c.on(c.events.GROUP_JOIN, (e) => {
    m.assignedAt = now();
    m.parts = e.payload.memberAssignment[TOPIC] ?? [];
    m.consumedAfter = false;
  });
  await c.connect();
  await c.subscribe({ topic: TOPIC, fromBeginning: false });
  await c.run({
    eachMessage: async () => {
      if (m.assignedAt >= 0) m.consumedAfter = true;
    },
  });
  return m;
}

/** True once every member was assigned after `t0`, all partitions are held once, and each consumed since. */
function settled(members, t0) {
  const parts = members.flatMap((m) => m.parts).sort((a, b) => a - b);
  return (
    members.every((m) => m.assignedAt > t0 && m.parts.length > 0 && m.consumedAfter) &&
    parts.length === PARTITIONS &&
    parts.every((p, i) => p === i)
  );
}

/** Keeps writing one small message to every partition every few ms. */
function startProducer(producer) {
  let stop = false;
  const done = (async () => {
    await producer.connect();
    let i = 0;
    while (!stop) {
      await producer.send({
        topic: TOPIC,
        acks: 1,
        messages: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: `m${i++}` })),
      });
      await sleep(5);
    }
    await producer.disconnect();
  })();
  return async () => {
    stop = true;
    await done;
  };
}

async function measure(name, makeClient, createTopic) {
  await createTopic();
  const producerStop = startProducer(makeClient('producer').producer());
  const groupId = `g-${Math.random().toString(36).slice(2)}`;
  const join = [];
  const leave = [];
  try {
    const base = [await startMember(makeClient('a'), groupId), await startMember(makeClient('b'), groupId)];
    await until(() => settled(base, -1), `${name}: the first two members`);
    for (let r = 0; r < ROUNDS; r++) {
      let t0 = now();
      const third = await startMember(makeClient(`c${r}`), groupId);
      await until(() => settled([...base, third], t0), `${name}: the third member's join`);
      join.push(now() - t0);
      t0 = now();
      await third.consumer.disconnect();
      await until(() => settled(base, t0), `${name}: the third member's leave`);
      leave.push(now() - t0);
    }
    for (const m of base) await m.consumer.disconnect();
  } finally {
    await producerStop();
  }
  return { name, join, leave };
}

/** ferrolog's broker in a process of its own; resolves with its address and a stop function. */
async function startFerrologBroker(dataDir) {
  const script = `
    import { Kafka } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    const kafka = new Kafka({ dataDir: ${JSON.stringify(dataDir)}, logLevel: 0 });
    const server = await kafka.listen({ port: 0, host: '127.0.0.1' });
    const alive = setInterval(() => undefined, 1000);
    process.on('SIGTERM', async () => { clearInterval(alive); await server.close(); process.exit(0); });
    process.stdout.write('port ' + server.address.port + '\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`the ferrolog broker exited (${c})`)));
  });
  return {
    bootstrap: `127.0.0.1:${port}`,
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      }),
  };
}

const remoteTopic = (bootstrap) => async () => {
  const admin = new KafkaJS({ brokers: [bootstrap], logLevel: kjsLogLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
  await admin.disconnect();
};
const kafkajsClient = (bootstrap) => (id) =>
  new KafkaJS({ clientId: id, brokers: [bootstrap], logLevel: kjsLogLevel.NOTHING });
const ferrologRemoteClient = (bootstrap) => (id) =>
  new Kafka({ clientId: id, brokers: [bootstrap], logLevel: 0 });

const results = [];
const dirs = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ferrolog-rebalance-'));
  dirs.push(d);
  return d;
};
try {
  {
    const kafka = new Kafka({ dataDir: tmp(), logLevel: 0 });
    results.push(
      await measure(
        'in process (ferrolog consumers)',
        () => kafka,
        async () => {
          const admin = kafka.admin();
          await admin.connect();
          await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
          await admin.disconnect();
        },
      ),
    );
  }
  {
    const broker = await startFerrologBroker(tmp());
    try {
      await remoteTopic(broker.bootstrap)();
      results.push(
        await measure(
          'ferrolog broker + ferrolog remote client',
          ferrologRemoteClient(broker.bootstrap),
          async () => {},
        ),
      );
      results.push(
        await measure('ferrolog broker + kafkajs', kafkajsClient(broker.bootstrap), async () => {}),
      );
    } finally {
      await broker.stop();
    }
  }
  if (process.env.BENCH_SKIP_KAFKA !== '1') {
    const cluster = await startCluster({ nodes: 1 });
    try {
      await remoteTopic(cluster.bootstrap)();
      results.push(
        await measure('Apache Kafka 4.1.1 + kafkajs', kafkajsClient(cluster.bootstrap), async () => {}),
      );
      results.push(
        await measure(
          'Apache Kafka 4.1.1 + ferrolog remote client',
          ferrologRemoteClient(cluster.bootstrap),
          async () => {},
        ),
      );
    } finally {
      await stopCluster(cluster);
    }
  }
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

console.log(
  `\nRebalance time, 3 members, ${PARTITIONS} partitions, ${ROUNDS} rounds: ms, median (min-max)\n`,
);
const w = Math.max(...results.map((r) => r.name.length));
console.log(`${'contestant'.padEnd(w)} | ${'third member joins'.padEnd(22)} | third member leaves`);
console.log(`${'-'.repeat(w)}-|-${'-'.repeat(22)}-|-${'-'.repeat(22)}`);
for (const r of results) console.log(`${r.name.padEnd(w)} | ${stats(r.join).padEnd(22)} | ${stats(r.leave)}`);
process.exit(0);
