// Issue 12: `ferrolog serve` against Apache Kafka 4.1.1 (single node, KRaft,
// from the cached Maven jars), side by side in one run, with the same
// clients, the same topic settings and the same acks.
//
//   node bench/broker-vs-kafka.mjs                 default run (about 4-5 minutes on 2 quiet cores)
//   node bench/broker-vs-kafka.mjs --quick         smoke run; writes bench/results/quick/, not representative
//   node bench/broker-vs-kafka.mjs --runs 5 --seconds 3 --partitions 1,8 --acks 1 --clients kafkajs,ferrolog,java
//
// Needs `npm run build` (dist/ and the addon) and Java 17; the jars are
// fetched by test/kafka/jars.mjs into .cache/kafka-jars when missing.
//
// For each run, each target (ferrolog, Kafka), each client and each
// partition count, on a fresh topic:
//   kafkajs 2.2.4 and ferrolog's remote client (`new Kafka({ brokers })`):
//     produce   awaited sends of 1000-message arrays for --seconds (capped at --max-messages)
//     single    awaited one-message sends for --single-seconds, with p50/p99 latency
//     consume   a group consumer (eachBatch) reads back what `produce` wrote; the count must match
//   Kafka's Java tools (kafka-tools jar):
//     ProducerPerformance --num-records --java-records, 100 B, --throughput -1, Java producer defaults + acks
//     ConsumerPerformance reading those records back in a group (fetch.nMsg.sec: the rate after the group join)
// Then start time: each server is stopped and restarted on its directory,
// which now holds every topic above, and timed until it accepts a TCP
// connection. Ratios are ferrolog/Kafka of the medians of this run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka as Ferrolog } from '../dist/index.js';
import { startCluster, stopCluster } from '../test/kafka/cluster.mjs';
import {
  clientCases,
  consumerPerformance,
  createTopics,
  makeKafkajs,
  producerPerformance,
} from './lib/clients.mjs';
import {
  BENCH_DIR,
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
  console.log(`usage: node bench/broker-vs-kafka.mjs [--quick] [--runs N] [--seconds S] [--single-seconds S]
       [--max-messages N] [--java-records N] [--partitions 1,8] [--acks 1|-1|0]
       [--clients kafkajs,ferrolog,java] [--start-runs N] [--in-flight N] [--out DIR]`);
  process.exit(0);
}
const quick = args.has('quick');
const opts = {
  runs: args.num('runs', quick ? 1 : 3),
  seconds: args.num('seconds', quick ? 0.5 : 2),
  singleSeconds: args.num('single-seconds', quick ? 0.3 : 1),
  maxMessages: args.num('max-messages', quick ? 20_000 : 500_000),
  javaRecords: args.num('java-records', quick ? 5_000 : 200_000),
  partitions: args.list('partitions', quick ? '1' : '1,8').map(Number),
  acks: Number(args.opt('acks', '1')),
  clients: args.list('clients', 'kafkajs,ferrolog,java'),
  startRuns: args.num('start-runs', quick ? 1 : 3),
  inFlight: args.num('in-flight', 1),
  valueBytes: 100,
};
const outDir = outputDir(args, quick);
const ROOT = join(BENCH_DIR, '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const log = (s) => process.stderr.write(`${s}\n`);
const errors = [];

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function canConnect(port) {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/** Spawns a process and resolves with the ms until `port` accepts a TCP connection. */
async function timeToAccept(command, argv, port, timeoutMs = 30_000) {
  const start = performance.now();
  const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  for (;;) {
    if (await canConnect(port)) return { ms: performance.now() - start, child };
    if (exited) throw new Error(`${command} ${argv.join(' ')} exited: ${stderr.slice(-2000)}`);
    if (performance.now() - start > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`${command} did not accept connections in ${timeoutMs} ms`);
    }
    // 1 ms between attempts: fine enough for a figure of tens of
    // milliseconds without this process spinning a core the child needs.
    await new Promise((r) => setTimeout(r, 1));
  }
}

function stopChild(child, graceMs = 15_000) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// ---- the two servers --------------------------------------------------------

async function startFerrolog(dataDir, port) {
  const { child } = await timeToAccept(
    process.execPath,
    [CLI, 'serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`],
    port,
  );
  return child;
}

/**
 * The part of the start that is ferrolog's own: inside a Node process,
 * from before loading ferrolog to `kafka.listen()` resolving on the same
 * directory (what `ferrolog serve` does after Node has started).
 */
function inProcessListenMs(dataDir, port) {
  const script = `const t0 = performance.now();
const { Kafka } = await import(${JSON.stringify(join(ROOT, 'dist', 'index.js'))});
const kafka = new Kafka({ dataDir: ${JSON.stringify(dataDir)}, logLevel: 0 });
const server = await kafka.listen({ host: '127.0.0.1', port: ${port} });
const ms = performance.now() - t0;
await server.close();
process.stdout.write(String(ms));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`in-process listen failed: ${r.stderr}`);
  return Number(r.stdout);
}

// ---- client cases -----------------------------------------------------------

const clientMakers = {
  kafkajs: makeKafkajs,
  ferrolog: (brokers) => new Ferrolog({ clientId: 'bench-ferrolog', brokers, logLevel: 0 }),
};
const CLIENT_LABEL = {
  kafkajs: 'kafkajs 2.2.4',
  ferrolog: 'ferrolog remote client',
  java: "Kafka's Java perf tools",
};

async function javaCase(brokers, topic, partitions) {
  await createTopics(brokers, [topic], partitions);
  const bootstrap = brokers.join(',');
  const p = producerPerformance(bootstrap, topic, {
    records: opts.javaRecords,
    valueBytes: opts.valueBytes,
    acks: opts.acks,
  });
  const c = consumerPerformance(bootstrap, topic, opts.javaRecords);
  return {
    produce: p.rate,
    produceP50ms: p.p50ms,
    produceP99ms: p.p99ms,
    consume: c.fetchRate,
    consumeWithJoin: c.rate,
  };
}

// ---- the run ----------------------------------------------------------------

const machine = machineInfo({ java: true });
log(`machine: ${machineLine(machine)}`);
if (quick) log(NOT_REPRESENTATIVE);

const work = mkdtempSync(join(tmpdir(), 'ferrolog-bvk-'));
const ferroDir = join(work, 'ferrolog-data');
const ferroPort = await freePort();
let ferroChild = null;
let cluster = null;
const cleanup = async () => {
  if (ferroChild) await stopChild(ferroChild);
  if (cluster) await stopCluster(cluster, { keepDir: true });
  rmSync(work, { recursive: true, force: true });
};
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    cleanup().finally(() => process.exit(130));
  });
}

/** samples[target][client][partitions][metric] = [per run] */
const samples = {};
const push = (target, client, partitions, metric, v) => {
  samples[target] ??= {};
  samples[target][client] ??= {};
  samples[target][client][partitions] ??= {};
  const cell = samples[target][client][partitions];
  if (cell[metric] === undefined) cell[metric] = [];
  cell[metric].push(v);
};
const startTimes = { ferrolog: [], kafka: [], node: [], inProcess: [] };
let kafkaFirstStartWithFormatMs = null;

try {
  log('starting Apache Kafka 4.1.1 (one KRaft node) ...');
  const kafkaStart = performance.now();
  cluster = await startCluster({ nodes: 1, dir: join(work, 'kafka') });
  const kafkaFirstStartMs = performance.now() - kafkaStart;
  ferroChild = await startFerrolog(ferroDir, ferroPort);
  const targets = { ferrolog: [`127.0.0.1:${ferroPort}`], kafka: cluster.bootstrap.split(',') };

  for (let run = 0; run < opts.runs; run++) {
    for (const partitions of opts.partitions) {
      for (const client of opts.clients) {
        // Alternate which target goes first, so drift over time is shared.
        const order = run % 2 === 0 ? ['ferrolog', 'kafka'] : ['kafka', 'ferrolog'];
        for (const target of order) {
          const topic = `bench-${client}-p${partitions}-r${run}`;
          const label = `run ${run + 1}/${opts.runs} · ${partitions}p · ${CLIENT_LABEL[client]} → ${target}`;
          log(label);
          try {
            let out;
            if (client === 'java') out = await javaCase(targets[target], topic, partitions);
            else if (clientMakers[client])
              out = await clientCases(
                clientMakers[client](targets[target]),
                targets[target],
                topic,
                partitions,
                opts,
              );
            else throw new Error(`unknown client ${client}`);
            for (const [metric, v] of Object.entries(out)) push(target, client, partitions, metric, v);
          } catch (e) {
            errors.push(`${label}: ${e instanceof Error ? e.message : String(e)}`);
            log(`  FAILED: ${errors[errors.length - 1]}`);
          }
        }
      }
    }
  }

  // Start time on a directory that now holds every topic above.
  log('start time: restarting each server on its data ...');
  await stopChild(ferroChild);
  ferroChild = null;
  for (let i = 0; i < opts.startRuns; i++) {
    const t = await timeToAccept(
      process.execPath,
      [CLI, 'serve', '--data-dir', ferroDir, '--listen', `127.0.0.1:${ferroPort}`],
      ferroPort,
    );
    startTimes.ferrolog.push(t.ms);
    await stopChild(t.child);
    const n = await timeToAccept(
      process.execPath,
      ['-e', `require('net').createServer().listen(${ferroPort}, '127.0.0.1')`],
      ferroPort,
    );
    startTimes.node.push(n.ms);
    await stopChild(n.child);
    startTimes.inProcess.push(inProcessListenMs(ferroDir, ferroPort));
  }
  for (let i = 0; i < opts.startRuns; i++) {
    const { clusterId, ports, dir } = cluster;
    await stopCluster(cluster, { keepDir: true });
    cluster = null;
    const t0 = performance.now();
    cluster = await startCluster({ nodes: 1, dir, clusterId, ports, format: false });
    startTimes.kafka.push(performance.now() - t0);
  }
  kafkaFirstStartWithFormatMs = kafkaFirstStartMs;
} finally {
  await cleanup();
}

// ---- report -----------------------------------------------------------------

const S = (target, client, partitions, metric) =>
  summarize(samples[target]?.[client]?.[partitions]?.[metric] ?? []);
// [key, label, which way is better, the issue's target as ferrolog/Kafka]
const METRICS = [
  ['produce', 'produce msg/s (1000-msg sends)', 'higher', 2],
  ['single', 'awaited single sends/s', 'higher', 2],
  ['singleP50ms', 'awaited single send p50 ms', 'lower', null],
  ['singleP99ms', 'awaited single send p99 ms', 'lower', 0.5],
  ['consume', 'consume msg/s (group, eachBatch)', 'higher', 2],
];
const JAVA_METRICS = [
  ['produce', 'ProducerPerformance msg/s', 'higher', 2],
  ['produceP99ms', 'ProducerPerformance p99 ms', 'lower', 0.5],
  ['consume', 'ConsumerPerformance msg/s (fetch.nMsg.sec)', 'higher', 2],
];

// One row per client, partition count and metric: both servers, the ratio,
// and the issue's target for it (2× throughput, half the p99 latency).
const rows = [];
for (const client of opts.clients) {
  for (const partitions of opts.partitions) {
    for (const [m, label, better, goal] of client === 'java' ? JAVA_METRICS : METRICS) {
      const digits = m.endsWith('ms') ? 2 : 0;
      const f = S('ferrolog', client, partitions, m);
      const k = S('kafka', client, partitions, m);
      const r = ratioOf(f, k);
      const met = goal === null || r === null ? null : better === 'higher' ? r >= goal : r <= goal;
      rows.push({
        client: CLIENT_LABEL[client],
        partitions,
        metric: label,
        'ferrolog serve': fmtSummary(f, digits),
        'Apache Kafka': fmtSummary(k, digits),
        'ferrolog/Kafka': fmtRatio(r, ratioRange(f, k)),
        target: goal === null ? '' : `${better === 'higher' ? '≥' : '≤'} ${goal}×`,
        status: goal === null ? '' : met === null ? 'not measured' : met ? 'met' : 'missed',
      });
    }
  }
}
const fs = summarize(startTimes.ferrolog);
const ns = summarize(startTimes.node);
const is = summarize(startTimes.inProcess);
const ks = summarize(startTimes.kafka);
const startRows = [
  {
    server: 'ferrolog serve, restart on its data (Node start included)',
    'ms to accept TCP': fmtSummary(fs, 1),
    target: '< 50 ms',
    status: fs ? (fs.median < 50 ? 'met' : 'missed') : 'not measured',
  },
  {
    server: 'a Node process that only listens (reference: Node start alone)',
    'ms to accept TCP': fmtSummary(ns, 1),
    target: '',
    status: '',
  },
  {
    server: "ferrolog's own part: import, open the directory, kafka.listen() (inside Node)",
    'ms to accept TCP': fmtSummary(is, 1),
    target: '',
    status: '',
  },
  {
    server: 'Apache Kafka 4.1.1, restart on its data (polled every 200 ms)',
    'ms to accept TCP': fmtSummary(ks, 0),
    target: '',
    status: '',
  },
  {
    server: 'ratio ferrolog/Kafka',
    'ms to accept TCP': fmtRatio(ratioOf(fs, ks), ratioRange(fs, ks)),
    target: '',
    status: '',
  },
];
const met = [...rows, ...startRows].filter((r) => r.status === 'met').length;
const missed = [...rows, ...startRows].filter((r) => r.status === 'missed' || r.status === 'not measured');

console.log(
  `\nferrolog serve vs Apache Kafka 4.1.1 · ${opts.valueBytes} B values · acks ${opts.acks} · median (min-max) of ${opts.runs} run(s)`,
);
if (quick) console.log(NOT_REPRESENTATIVE);
console.table(rows);
console.log('start time:');
console.table(startRows);
console.log(`targets (issue 12): ${met} met, ${missed.length} missed or not measured`);

const { jsonPath, mdPath } = writeResults(outDir, 'broker-vs-kafka', {
  title: 'ferrolog serve vs Apache Kafka 4.1.1 (issue 12)',
  quick,
  machine,
  options: opts,
  data: { samples, startTimes, kafkaFirstStartWithFormatMs, errors },
  sections: [
    ['Throughput and latency, with the targets of issue 12', rows],
    ['Start time', startRows],
  ],
  notes: [
    `Targets: ${met} met; missed or not measured: ${missed.map((r) => `${r.client ?? r.server}${r.partitions ? ` ${r.partitions}p` : ''} ${r.metric ?? ''}`.trim()).join('; ') || 'none'}.`,
    `Both servers on this machine, alternating which goes first, each case on a fresh topic of the given partition count, ${opts.valueBytes} B values, acks ${opts.acks}. Kafka runs with its defaults (no fsync per write) apart from the single-node settings of test/kafka/cluster.mjs; ferrolog serve with its defaults. kafkajs and ferrolog's remote client: sequential awaited sends of 1000 keyed messages for ${opts.seconds} s (at most ${opts.maxMessages} messages); awaited one-message sends for ${opts.singleSeconds} s; a group consumer (eachBatch) reading back everything produced, count checked. Java: ProducerPerformance (${opts.javaRecords} records, Java producer defaults and acks), then ConsumerPerformance reading them back in a group; its fetch.nMsg.sec excludes the group join.`,
    "ferrolog's start time includes starting Node itself (the second row is a Node process that only listens); Kafka's is a restart on its formatted directory, timed around test/kafka/cluster.mjs's startCluster, which polls every 200 ms.",
    ...(errors.length ? [`Errors:\n\n${errors.map((e) => `- ${e}`).join('\n')}`] : []),
  ],
});
console.log(`results: ${jsonPath}, ${mdPath}`);
if (errors.length) {
  console.error(`\n${errors.length} case(s) FAILED:\n  ${errors.join('\n  ')}`);
  process.exit(1);
}
