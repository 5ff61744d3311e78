// Issue 14: ferrolog's remote client vs kafkajs 2.2.4 against the same
// Apache Kafka 4.1.1 node (KRaft, started here from the cached Maven jars,
// stopped by pid), side by side in one run.
//
//   node bench/remote.bench.mjs                 default run (about 1.5-2 minutes on 2 quiet cores)
//   node bench/remote.bench.mjs --quick         smoke run; writes bench/results/quick/, not representative
//   node bench/remote.bench.mjs --runs 5 --seconds 3 --partitions 3 --in-flight 4 --acks 1
//
// Needs `npm run build` (dist/ and the addon) and Java 17.
//
// Cases (100 B values, a fresh topic of --partitions partitions per run):
//  - produce: sends of 1000 keyed messages, --in-flight of them awaited together, for --seconds;
//  - awaited single sends: one message per send, each awaited, for --single-seconds (p50/p99);
//  - consume: a group consumer (eachBatch) reads back everything produced, count checked.
// The order of the two clients alternates between runs. Target (issue 14):
// ferrolog's remote client at least 5× kafkajs's produce and consume rates.
//
// Mirror throughput (issue 14, "against the cluster's own produce limit
// measured with Kafka's ProducerPerformance"): the limit row is measured
// here; the mirror row runs only when `kafka.mirror` exists in dist/ (the
// mirror branch builds it) and is otherwise reported as skipped. See
// MIRROR HOOK below.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka } from '../dist/index.js';
import { startCluster, stopCluster } from '../test/kafka/cluster.mjs';
import { clientCases, createTopics, makeKafkajs, producerPerformance } from './lib/clients.mjs';
import {
  cliArgs,
  fmtRatio,
  fmtSummary,
  machineInfo,
  machineLine,
  NOT_REPRESENTATIVE,
  outputDir,
  ratioOf,
  ratioRange,
  summarize,
  writeResults,
} from './lib/results.mjs';

const args = cliArgs();
if (args.has('help')) {
  console.log(`usage: node bench/remote.bench.mjs [--quick] [--runs N] [--seconds S] [--single-seconds S]
       [--max-messages N] [--partitions N] [--in-flight N] [--acks 1|-1|0] [--mirror-messages N] [--out DIR]`);
  process.exit(0);
}
const quick = args.has('quick');
const opts = {
  runs: args.num('runs', quick ? 1 : 3),
  seconds: args.num('seconds', quick ? 0.5 : 3),
  singleSeconds: args.num('single-seconds', quick ? 0.3 : 2),
  maxMessages: args.num('max-messages', quick ? 20_000 : 2_000_000),
  partitions: args.num('partitions', 3),
  inFlight: args.num('in-flight', 4),
  acks: Number(args.opt('acks', '1')),
  mirrorMessages: args.num('mirror-messages', quick ? 20_000 : 500_000),
  valueBytes: 100,
};
const outDir = outputDir(args, quick);
const log = (s) => process.stderr.write(`${s}\n`);
const errors = [];
const CLIENTS = {
  'ferrolog remote client': (brokers) => new Kafka({ clientId: 'bench-ferrolog', brokers, logLevel: 0 }),
  'kafkajs 2.2.4': makeKafkajs,
};

// ---- MIRROR HOOK --------------------------------------------------------------
// Issue 14 asks for mirror throughput against the cluster's produce limit.
// `kafka.mirror` is built on the mirror branch; its options are not known
// here. When it exists, fill in the call below (write `messages` records into
// a local directory, mirror them to `brokers`, resolve when the target holds
// them all) and the row appears in the table; until then the row says
// "skipped". Returns msg/s.
async function mirrorThroughput(brokers, messages) {
  const work = mkdtempSync(join(tmpdir(), 'ferrolog-mirror-bench-'));
  try {
    const local = new Kafka({ dataDir: join(work, 'data'), logLevel: 0 });
    if (typeof local.mirror !== 'function')
      return { skipped: 'kafka.mirror does not exist in dist/ (mirror branch not merged)' };
    // The source: `messages` 100 B records on 3 partitions, written in
    // 1000-message sends, then closed so the mirror reads a settled log.
    const topic = 'mirror-bench';
    const admin = local.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    await admin.disconnect();
    const producer = local.producer();
    await producer.connect();
    const value = Buffer.alloc(100, 120);
    for (let sent = 0; sent < messages; sent += 1000) {
      const n = Math.min(1000, messages - sent);
      await producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({ key: String((sent + i) % 64), value })),
      });
    }
    await producer.disconnect();
    // Timed: from opening the mirror to every record acknowledged by the
    // cluster (acks all) and the progress committed (lag 0).
    const started = process.hrtime.bigint();
    const m = await local.mirror({
      to: { brokers },
      topics: `^${topic}$`,
      name: 'bench',
      stopWhenCaughtUp: true,
    });
    await m.run();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const lag = m.lag().reduce((a, p) => a + p.lag, 0);
    if (lag !== 0) throw new Error(`the mirror stopped with lag ${lag}`);
    return { rate: messages / seconds };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
// -------------------------------------------------------------------------------

const machine = machineInfo({ java: true });
log(`machine: ${machineLine(machine)}`);
if (quick) log(NOT_REPRESENTATIVE);

const samples = {};
const producerLimit = [];
let mirror = null;
let cluster = null;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    (cluster ? stopCluster(cluster) : Promise.resolve()).finally(() => process.exit(130));
  });
}
try {
  log('starting Apache Kafka 4.1.1 (one KRaft node) ...');
  cluster = await startCluster({ nodes: 1 });
  const brokers = cluster.bootstrap.split(',');
  for (let run = 0; run < opts.runs; run++) {
    const names = Object.keys(CLIENTS);
    for (const name of run % 2 === 0 ? names : names.reverse()) {
      const topic = `remote-${name.split(' ')[0]}-r${run}`;
      log(`run ${run + 1}/${opts.runs} · ${name}`);
      try {
        const out = await clientCases(CLIENTS[name](brokers), brokers, topic, opts.partitions, opts);
        samples[name] ??= {};
        for (const [k, v] of Object.entries(out)) {
          if (samples[name][k] === undefined) samples[name][k] = [];
          samples[name][k].push(v);
        }
      } catch (e) {
        errors.push(`run ${run + 1} ${name}: ${e instanceof Error ? e.message : String(e)}`);
        log(`  FAILED: ${errors[errors.length - 1]}`);
      }
    }
  }
  log("the cluster's own produce limit (ProducerPerformance) ...");
  for (let run = 0; run < opts.runs; run++) {
    const topic = `remote-limit-r${run}`;
    try {
      await createTopics(brokers, [topic], opts.partitions);
      producerLimit.push(
        producerPerformance(cluster.bootstrap, topic, {
          records: opts.mirrorMessages,
          valueBytes: opts.valueBytes,
          acks: opts.acks,
        }).rate,
      );
    } catch (e) {
      errors.push(`ProducerPerformance run ${run + 1}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  try {
    mirror = await mirrorThroughput(brokers, opts.mirrorMessages);
  } catch (e) {
    errors.push(`mirror: ${e instanceof Error ? e.message : String(e)}`);
  }
} finally {
  if (cluster) await stopCluster(cluster);
  cluster = null;
}

const S = (name, k) => summarize(samples[name]?.[k] ?? []);
const F = 'ferrolog remote client';
const K = 'kafkajs 2.2.4';
const METRICS = [
  ['produce', 'produce msg/s (1000-msg sends)', 5],
  ['single', 'awaited single sends/s', null],
  ['singleP50ms', 'awaited single send p50 ms', null],
  ['singleP99ms', 'awaited single send p99 ms', null],
  ['consume', 'consume msg/s (group, eachBatch)', 5],
];
const rows = METRICS.map(([k, label, goal]) => {
  const f = S(F, k);
  const j = S(K, k);
  const r = ratioOf(f, j);
  return {
    metric: label,
    [F]: fmtSummary(f, k.endsWith('ms') ? 2 : 0),
    [K]: fmtSummary(j, k.endsWith('ms') ? 2 : 0),
    'ferrolog/kafkajs': fmtRatio(r, ratioRange(f, j)),
    target: goal ? `≥ ${goal}×` : '',
    status: goal ? (r === null ? 'not measured' : r >= goal ? 'met' : 'missed') : '',
  };
});
const limit = summarize(producerLimit);
const mirrorRate = mirror && typeof mirror.rate === 'number' ? summarize([mirror.rate]) : null;
const mirrorRows = [
  {
    case: "Kafka's ProducerPerformance (the cluster's produce limit)",
    'msg/s': fmtSummary(limit),
    ratio: '',
  },
  {
    case: 'ferrolog mirror, local directory → cluster',
    'msg/s': mirrorRate ? fmtSummary(mirrorRate) : `skipped: ${mirror?.skipped ?? 'not run'}`,
    ratio: mirrorRate ? `${fmtRatio(ratioOf(mirrorRate, limit))} of the limit` : '',
  },
];

console.log(
  `\nferrolog remote client vs kafkajs 2.2.4 against one Apache Kafka 4.1.1 node · ${opts.valueBytes} B · ${opts.partitions} partitions · acks ${opts.acks} · median (min-max) of ${opts.runs} run(s)`,
);
if (quick) console.log(NOT_REPRESENTATIVE);
console.table(rows);
console.log('mirror (issue 14):');
console.table(mirrorRows);

const { jsonPath, mdPath } = writeResults(outDir, 'remote', {
  title: 'ferrolog remote client vs kafkajs 2.2.4 against Apache Kafka 4.1.1 (issue 14)',
  command: `node bench/remote.bench.mjs${quick ? ' --quick' : ''}`,
  quick,
  machine,
  options: opts,
  data: { samples, producerLimit, mirror, errors },
  sections: [
    ['Clients against the same Kafka node, with the target of issue 14', rows],
    ['Mirror throughput against the cluster produce limit', mirrorRows],
  ],
  notes: [
    `One Kafka 4.1.1 node (test/kafka/cluster.mjs) on this machine; both clients in this process, one after the other, alternating which goes first. Produce: sends of 1000 keyed ${opts.valueBytes} B messages, ${opts.inFlight} awaited together, for ${opts.seconds} s (at most ${opts.maxMessages}); single sends for ${opts.singleSeconds} s; consume: a group consumer with eachBatch reading back everything produced, count checked.`,
    ...(errors.length ? [`Errors:\n\n${errors.map((e) => `- ${e}`).join('\n')}`] : []),
  ],
});
console.log(`results: ${jsonPath}, ${mdPath}`);
if (errors.length) {
  console.error(`\n${errors.length} case(s) FAILED:\n  ${errors.join('\n  ')}`);
  process.exit(1);
}
