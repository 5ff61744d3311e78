/**
 * A manual check, not part of `npm test`: does an Apache Kafka 4.1.1 broker
 * load a data directory that ferrolog wrote and closed cleanly, and serve
 * every record? Needs `npm run build:ts` (it uses dist/), java and python3
 * with confluent_kafka.
 *
 *   node test/kafka/load-into-kafka.mjs [--no-trim] [--keep]
 *
 * It writes a ferrolog directory (keys, headers, lz4, an idempotent producer,
 * rolled segments), then tries two ways in:
 *
 *  A. "as is": the ferrolog directory itself as the broker's log.dirs (after
 *     `kafka-storage format`). Kafka 4 (KRaft) knows topics only from its
 *     metadata log; a partition directory without a topic id that the
 *     metadata knows is a stray, and LogManager renames it
 *     `<topic>-<n>.<uuid>-stray` (moved aside, not deleted).
 *  B. "adopt into Kafka": create the topics in Kafka with the same names and
 *     partition counts, stop the broker cleanly, copy ferrolog's segment
 *     files (.log, .index, .timeindex) into Kafka's partition directories
 *     (keeping Kafka's partition.metadata, which carries the topic id, and
 *     leader-epoch-checkpoint), and start the broker again; then read every
 *     record back with a Kafka client and append one more.
 *
 * Unless --no-trim, each .log is first cut to its data length (the zero
 * tail that ferrolog's active segments keep today; a no-op once ferrolog
 * trims at close). It prints what happened at each step and exits non-zero
 * when B does not serve every record exactly.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomClusterId, startCluster, stopCluster } from './cluster.mjs';
import { REPO_ROOT } from './jars.mjs';

const require = createRequire(import.meta.url);
const { Kafka, Log, encodeBatch } = require(join(REPO_ROOT, 'dist', 'index.js'));

const args = new Set(process.argv.slice(2));
const trim = !args.has('--no-trim');
const keep = args.has('--keep');
const work = mkdtempSync(join(tmpdir(), 'ferrolog-into-kafka-'));
const say = (s) => process.stdout.write(`${s}\n`);

function python() {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import confluent_kafka'], { stdio: 'ignore' });
    if (r.error === undefined && r.status === 0) return py;
  }
  throw new Error('no python3 with confluent_kafka');
}
const PY = python();
function client(...argv) {
  const r = spawnSync(PY, [join(REPO_ROOT, 'test', 'kafka', 'kafka_client.py'), ...argv], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`kafka_client ${argv[0]} failed: ${r.stderr}`);
  return r.stdout;
}

function dataLength(file) {
  const b = readFileSync(file);
  let pos = 0;
  while (pos + 17 <= b.length) {
    const len = b.readInt32BE(pos + 8);
    if (len < 49 || pos + 12 + len > b.length || b[pos + 16] !== 2) break;
    pos += 12 + len;
  }
  return pos;
}

function tree(dir, prefix = '') {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(`${prefix}${e.name}/`, ...tree(p, `${prefix}  `));
    else out.push(`${prefix}${e.name} (${statSync(p).size} B)`);
  }
  return out;
}

const TOPICS = { orders: 2, events: 1, idem: 1 };
const T0 = 1_767_225_600_000;

async function writeFerrolog(dir) {
  const expected = [];
  const log = Log.open(dir);
  log.createTopic('orders', { partitions: 2 });
  log.createTopic('events', {
    partitions: 1,
    config: { 'segment.bytes': 4096, 'index.interval.bytes': 512 },
  });
  log.createTopic('idem', { partitions: 1 });
  for (let p = 0; p < 2; p++) {
    for (let b = 0; b < 5; b++) {
      const recs = Array.from({ length: 20 }, (_, i) => ({
        key: `order-${p}-${b}-${i}`,
        value: JSON.stringify({ p, b, i, total: i * 3 }),
        headers: { source: 'ferrolog', bin: Buffer.from([p, b, i, 0xff]) },
        timestamp: T0 + b * 1000 + i,
      }));
      const base = await log.append('orders', p, encodeBatch(recs));
      for (const [i, r] of recs.entries())
        expected.push({ topic: 'orders', partition: p, offset: base + i, ...r });
    }
  }
  for (let i = 0; i < 60; i++) {
    const r = { key: i % 5 === 0 ? null : `e${i}`, value: `event ${i} `.padEnd(120, '-'), timestamp: T0 + i };
    const base = await log.append('events', 0, encodeBatch([r]));
    expected.push({ topic: 'events', partition: 0, offset: base, ...r });
  }
  await log.close();
  const kafka = new Kafka({ clientId: 'into-kafka', dataDir: dir });
  const producer = kafka.producer({ idempotent: true, compression: 'lz4' });
  await producer.connect();
  for (let b = 0; b < 3; b++) {
    const messages = Array.from({ length: 10 }, (_, i) => ({
      key: `k${i}`,
      value: `idempotent lz4 ${b}.${i} `.repeat(3),
      timestamp: String(T0 + b * 10 + i),
    }));
    const [meta] = await producer.send({ topic: 'idem', acks: -1, messages });
    for (const [i, m] of messages.entries()) {
      expected.push({
        topic: 'idem',
        partition: 0,
        offset: Number(meta.baseOffset) + i,
        key: m.key,
        value: m.value,
        timestamp: Number(m.timestamp),
      });
    }
  }
  await producer.disconnect();
  return expected;
}

function trimLogs(dir) {
  for (const t of Object.keys(TOPICS)) {
    for (let p = 0; p < TOPICS[t]; p++) {
      const pd = join(dir, `${t}-${p}`);
      for (const f of readdirSync(pd).filter((x) => x.endsWith('.log'))) {
        const file = join(pd, f);
        const before = statSync(file).size;
        const len = dataLength(file);
        if (len !== before) {
          truncateSync(file, len);
          say(`  trimmed ${t}-${p}/${f}: ${before} -> ${len} bytes`);
        }
      }
    }
  }
}

function brokerLines(cluster, re) {
  return readFileSync(cluster.nodes[0].outFile, 'utf8')
    .split('\n')
    .filter((l) => re.test(l))
    .map((l) => `    ${l.replace(/^\[[^\]]*\] /, '').slice(0, 400)}`);
}

const fl = join(work, 'ferrolog');
say(`work dir: ${work}`);
say('1. ferrolog writes and closes cleanly');
const expected = await writeFerrolog(fl);
say(`  ${expected.length} records; files:`);
for (const l of tree(fl)) say(`    ${l}`);

// ---- A: the ferrolog directory as a Kafka log dir, as is
say('\nA. the ferrolog directory as the broker log.dirs, as is (after kafka-storage format)');
const a = join(work, 'A');
cpSync(fl, join(a, 'node-1', 'logs'), { recursive: true });
if (trim) trimLogs(join(a, 'node-1', 'logs'));
let clusterA;
try {
  clusterA = await startCluster({ dir: a, timeoutMs: 60_000 });
  say('  broker started');
  say(
    `  topics in Kafka's metadata: ${client('describe', clusterA.bootstrap, ...Object.keys(TOPICS)).trim()}`,
  );
  await stopCluster(clusterA, { keepDir: true });
} catch (e) {
  say(`  broker did not start: ${String(e.message).split('\n')[0]}`);
}
if (existsSync(join(a, 'node-1', 'out.log'))) {
  for (const l of brokerLines(
    { nodes: [{ outFile: join(a, 'node-1', 'out.log') }] },
    /stray|Error|ERROR|FATAL|Exception|not in the form|clean shutdown|Skipping recovery|Recover|\.meta/,
  ).slice(0, 40))
    say(l);
}
say('  log dir afterwards:');
for (const l of tree(join(a, 'node-1', 'logs')).filter((x) => !x.startsWith(' '))) say(`    ${l}`);

// ---- B: create the topics in Kafka, then swap in ferrolog's segments
say(
  "\nB. create the topics in Kafka, stop it, put ferrolog's segment files into Kafka's partition dirs, restart",
);
const b = join(work, 'B');
const clusterId = randomClusterId();
let cluster = await startCluster({ dir: b, clusterId });
client(
  'create',
  cluster.bootstrap,
  ...Object.entries(TOPICS).map(([t, n]) => `${t}:${n}${t === 'events' ? ':index.interval.bytes=512' : ''}`),
);
say(`  created ${Object.keys(TOPICS).join(', ')}`);
const ports = cluster.ports;
await stopCluster(cluster, { keepDir: true });
const kLogs = cluster.nodes[0].logDir;
say(`  clean shutdown marker after stop: ${existsSync(join(kLogs, '.kafka_cleanshutdown'))}`);
for (const [t, n] of Object.entries(TOPICS)) {
  for (let p = 0; p < n; p++) {
    const kd = join(kLogs, `${t}-${p}`);
    const fd = join(fl, `${t}-${p}`);
    for (const f of readdirSync(kd)) {
      if (/\.(log|index|timeindex|snapshot|txnindex)$/.test(f)) unlinkSync(join(kd, f));
    }
    for (const f of readdirSync(fd)) {
      if (/\.(log|index|timeindex)$/.test(f)) cpSync(join(fd, f), join(kd, f));
    }
  }
}
if (trim) trimLogs(kLogs);
say("  replaced; Kafka's partition.metadata and leader-epoch-checkpoint kept");
try {
  cluster = await startCluster({ dir: b, clusterId, format: false, ports, timeoutMs: 60_000 });
} catch (e) {
  say('  the broker did not start:');
  for (const l of String(e.message)
    .split('\n')
    .filter((x) => /ERROR|FATAL|Exception/.test(x))
    .slice(0, 6))
    say(`    ${l.slice(0, 400)}`);
  if (!keep) rmSync(work, { recursive: true, force: true });
  say('\nB: FAILED');
  process.exit(1);
}
say('  broker restarted');
for (const l of brokerLines(
  cluster,
  /clean shutdown|Skipping recovery|Recover|recover|stray|WARN|ERROR|Exception|Loading producer state|Completed load of log/,
).slice(0, 30))
  say(l);
let ok = true;
const got = new Map();
for (const [t, n] of Object.entries(TOPICS)) {
  for (const line of client('consume', cluster.bootstrap, t, String(n)).trim().split('\n')) {
    const r = JSON.parse(line);
    if (r.watermarks) {
      say(`  ${t}-${r.watermarks.partition}: low ${r.watermarks.low} high ${r.watermarks.high}`);
      continue;
    }
    got.set(`${r.topic}/${r.partition}/${r.offset}`, r);
  }
}
let same = 0;
const b64 = (v) => (v === null || v === undefined ? null : Buffer.from(v).toString('base64'));
for (const e of expected) {
  const r = got.get(`${e.topic}/${e.partition}/${e.offset}`);
  const hs = Object.entries(e.headers ?? {}).map(([k, v]) => [k, b64(v)]);
  if (
    r !== undefined &&
    r.key === b64(e.key) &&
    r.value === b64(e.value) &&
    r.timestamp === e.timestamp &&
    JSON.stringify(r.headers) === JSON.stringify(hs)
  )
    same++;
  else if (ok) {
    ok = false;
    say(`  FIRST MISMATCH at ${e.topic}-${e.partition}@${e.offset}: got ${JSON.stringify(r)}`);
  }
}
say(
  `  records served identical to what ferrolog wrote: ${same} of ${expected.length} (Kafka served ${got.size})`,
);
if (got.size !== expected.length) ok = false;
for (const [t, n] of Object.entries(TOPICS)) {
  for (let p = 0; p < n; p++) {
    const off = client('produce', cluster.bootstrap, t, String(p), 'appended by Kafka').trim();
    say(`  appended one record to ${t}-${p} at offset ${off}`);
  }
}
await stopCluster(cluster, { keepDir: true });
const dump = spawnSync(
  'java',
  [
    '-cp',
    (await import('./jars.mjs')).classpath(),
    'kafka.tools.DumpLogSegments',
    '--files',
    readdirSync(join(kLogs, 'orders-0'))
      .filter((f) => f.endsWith('.log'))
      .map((f) => join(kLogs, 'orders-0', f))
      .join(','),
  ],
  { encoding: 'utf8' },
);
say(
  `  orders-0 after Kafka's append: ${dump.stdout.split('\n').filter((l) => l.startsWith('baseOffset')).length} batch(es)`,
);
writeFileSync(join(work, 'expected.json'), JSON.stringify(expected, null, 1));
if (!keep) rmSync(work, { recursive: true, force: true });
else say(`kept ${work}`);
say(ok ? '\nB: every record served as written' : '\nB: FAILED');
process.exitCode = ok ? 0 : 1;
