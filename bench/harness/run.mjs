// `npm run bench`: ferrolog against the alternatives, side by side, in one run.
//
//   npm run bench                  defaults (under 3 minutes on 2 quiet cores): 100 B, 1 and 8 partitions,
//                                  relaxed and strict durability; writes bench/results/
//   npm run bench -- --quick       a smoke run (under 30 seconds); writes bench/results/quick/,
//                                  marked NOT REPRESENTATIVE, never the committed report
//   npm run bench -- --messages 50000 --size 100,1024 --partitions 1,8 --only ferrolog,lmdb-js --out DIR
//
// Each contestant runs in a child process per run (peak RSS is its own);
// the child first runs the whole workload once, untimed, in a scratch
// directory (see child.mjs), so every figure is of the steady state with
// the same fixed costs for each contestant, and is the median of --runs,
// with the min-max spread. Every run must read back exactly what it wrote
// (count and digest); a mismatch fails the whole run. The ratios and the
// targets of issue 17 are computed from figures of this same run.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cliArgs,
  fmtNum,
  fmtRatio,
  fmtSummary,
  machineInfo,
  machineLine,
  NOT_REPRESENTATIVE,
  outputDir,
  ratioOf,
  summarize,
  writeResults,
} from '../lib/results.mjs';
import { contestants } from './contestants.mjs';
import { renderHtml, renderSvg } from './report.mjs';
import { computeTargets } from './targets.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = cliArgs();
const has = args.has;

if (has('help')) {
  console.log(`usage: npm run bench -- [--quick] [--messages N] [--size 100,1024] [--partitions 1,8]
       [--durability relaxed,strict] [--runs N] [--only name,...] [--no-latency] [--out DIR]
contestants: ${contestants
    .filter((c) => !c.hidden)
    .map((c) => c.name)
    .join(', ')}`);
  process.exit(0);
}

const quick = has('quick');
const sizes = args.list('size', '100').map(Number);
const partitionCounts = args.list('partitions', '1,8').map(Number);
const durabilities = args.list('durability', 'relaxed,strict');
const runs = args.num('runs', quick ? 1 : 3);
// Warm-up child processes are no longer run: each child warms up itself
// (a warm-up child's JIT state died with it and warmed nothing).
const warmups = 0;
const only = args.opt('only', null);
const outDir = outputDir(args, quick);
const messagesFor = (size) =>
  Number(args.opt('messages', String(quick ? 20_000 : size <= 128 ? 200_000 : 50_000)));
// Names are split at commas, except one inside a number ("10,000 concurrent sends").
const onlyNames = only === null ? [] : only.split(/(?<!\d),|,(?!\d{3}(?!\d))/).map((x) => x.trim());
const chosen = contestants.filter((c) => (only ? onlyNames.includes(c.name) : !c.hidden));
if (chosen.length === 0) {
  console.error(`no contestant matches --only ${only}`);
  process.exit(2);
}
const tty = process.stderr.isTTY === true;

const workloads = [];
for (const size of sizes) {
  for (const partitions of partitionCounts) {
    for (const durability of durabilities) {
      workloads.push({ kind: 'throughput', messages: messagesFor(size), size, partitions, durability });
    }
  }
}
const runsIn = (c, w) => (c.onlyFor ? c.onlyFor(w) : true);
const withLatency = !has('no-latency');
const latencyWorkload = { kind: 'latency', rate: 10_000, seconds: quick ? 0.5 : 1, size: 100 };
const latencyNames = ['ferrolog', 'lmdb-js', 'better-sqlite3'];

const steps =
  workloads.reduce((n, w) => n + chosen.filter((c) => runsIn(c, w)).length, 0) * (runs + warmups) +
  (withLatency ? chosen.filter((c) => latencyNames.includes(c.name)).length : 0);
let step = 0;
function progress(text) {
  step++;
  if (tty) process.stderr.write(`\r\u001b[2K[${step}/${steps}] ${text}`);
  else process.stderr.write(`[${step}/${steps}] ${text}\n`);
}

function runChild(contestant, workload) {
  const out = execFileSync(
    process.execPath,
    [join(here, 'child.mjs'), JSON.stringify({ contestant: contestant.name, workload })],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

const machine = machineInfo();
const startedAt = Date.now();
if (quick) process.stderr.write(`${NOT_REPRESENTATIVE}\n`);

const failures = [];
const skipped = [];
const results = [];
for (const w of workloads) {
  const label = `${w.size} B · ${w.partitions} partition${w.partitions > 1 ? 's' : ''} · ${w.durability}`;
  for (const c of chosen) {
    if (!runsIn(c, w)) continue;
    if (c.needsBroker && !process.env.KAFKA_BROKERS) {
      if (!skipped.includes(c.name)) skipped.push(c.name);
      step += runs + warmups;
      continue;
    }
    const samples = [];
    for (let r = 0; r < runs + warmups; r++) {
      progress(`${c.name} · ${label} · ${r < warmups ? 'warm-up' : `run ${r - warmups + 1}/${runs}`}`);
      const out = runChild(c, w);
      if (out.count !== w.messages || out.digest !== out.expected) {
        failures.push(
          `${c.name} (${label}): read back ${out.count} messages with digest ${out.digest}; wrote ${w.messages} with digest ${out.expected}`,
        );
      }
      if (r >= warmups) samples.push(out);
    }
    const shows = c.shows ?? ['produce', 'consume'];
    const rate = (key) => samples.map((s) => w.messages / s[key]);
    results.push({
      workload: label,
      size: w.size,
      partitions: w.partitions,
      durability: w.durability,
      messages: w.messages,
      contestant: c.name,
      describe: c.describe,
      produce: shows.includes('produce') ? summarize(rate('produceSeconds')) : null,
      consume: shows.includes('consume') ? summarize(rate('consumeSeconds')) : null,
      peakRssBytes: Math.max(...samples.map((s) => s.peakRssBytes)),
    });
  }
}
const latencies = [];
if (withLatency) {
  for (const c of chosen) {
    if (!latencyNames.includes(c.name)) continue;
    progress(`${c.name} · latency at ${latencyWorkload.rate} msg/s`);
    const out = runChild(c, latencyWorkload);
    if (out.latency.samples !== latencyWorkload.rate * latencyWorkload.seconds)
      failures.push(`${c.name} latency: read back ${out.latency.samples} messages`);
    latencies.push({ contestant: c.name, ...out.latency, peakRssBytes: out.peakRssBytes });
  }
}
if (tty) process.stderr.write('\n');
const elapsedSeconds = (Date.now() - startedAt) / 1000;

// Ratios: to ferrolog (same workload) and to the physical limit (mmap copy).
for (const r of results) {
  const same = (name) => results.find((x) => x.workload === r.workload && x.contestant === name);
  const ref = same('ferrolog');
  const phys = same('physical (mmap copy)');
  r.produceVsFerrolog = ratioOf(r.produce, ref?.produce);
  r.consumeVsFerrolog = ratioOf(r.consume, ref?.consume);
  r.produceVsPhysical = ratioOf(r.produce, phys?.produce);
}

const mb = (s, size) => (s ? ((s.median * size) / 1e6).toFixed(0) : '—');
const table = results.map((r) => ({
  workload: r.workload,
  contestant: r.contestant,
  'produce msg/s (min-max)': fmtSummary(r.produce),
  'produce MB/s': mb(r.produce, r.size),
  'consume msg/s (min-max)': fmtSummary(r.consume),
  'consume MB/s': mb(r.consume, r.size),
  'peak RSS MB': (r.peakRssBytes / 1e6).toFixed(0),
  'produce ×ferrolog': fmtRatio(r.produceVsFerrolog),
  'consume ×ferrolog': fmtRatio(r.consumeVsFerrolog),
  'produce ×physical': fmtRatio(r.produceVsPhysical),
}));
const targets = computeTargets(results);
const targetTable = targets.map((t) => ({
  target: t.label,
  measured: t.kind === 'ratio' ? fmtRatio(t.value, t.range) : t.value === null ? '—' : `${fmtNum(t.value)}/s`,
  goal: t.goal === null ? '—' : t.kind === 'ratio' ? `≥ ${t.goal}×` : `≥ ${fmtNum(t.goal)}/s`,
  status: t.status,
}));
const latencyTable = latencies.map((l) => ({
  contestant: l.contestant,
  'p50 µs': fmtNum(l.p50),
  'p99 µs': fmtNum(l.p99),
  'p999 µs': fmtNum(l.p999),
  'peak RSS MB': (l.peakRssBytes / 1e6).toFixed(0),
}));

if (quick) console.log(NOT_REPRESENTATIVE);
console.log(
  `median (min-max) of ${runs} run(s), one child process per run, each timed after an untimed pass of the same workload · ${machineLine(machine)}`,
);
console.table(table);
if (latencies.length) {
  console.log(`end-to-end latency at ${latencyWorkload.rate} msg/s, ${latencyWorkload.size} B:`);
  console.table(latencyTable);
}
console.log('targets (issue 17), ratios of medians from this run (worst-best pairing of runs):');
console.table(targetTable);
for (const s of skipped)
  console.log(`skipped ${s}: set KAFKA_BROKERS=host:port to include kafkajs against a broker`);

const options = {
  quick,
  runs,
  warmups,
  sizes,
  partitions: partitionCounts,
  durabilities,
  messages: messagesFor(100),
};
const report = {
  generatedAt: new Date().toISOString(),
  quick,
  machine,
  options,
  elapsedSeconds,
  results,
  latencies,
  targets,
  skipped,
  failures,
};
const { jsonPath, mdPath } = writeResults(outDir, 'latest', {
  title: 'ferrolog benchmark harness (npm run bench)',
  command: `npm run bench${quick ? ' -- --quick' : ''}`,
  quick,
  machine,
  options,
  data: { elapsedSeconds, results, latencies, targets, skipped, failures },
  sections: [
    ['Throughput', table],
    [`End-to-end latency at ${latencyWorkload.rate} msg/s, ${latencyWorkload.size} B`, latencyTable],
    ['Targets (issue 17)', targetTable],
  ],
  notes: [
    `The whole run took ${elapsedSeconds.toFixed(0)} s.`,
    'Each run is one child process that first does the whole workload once, untimed, in a scratch directory, then the timed pass in a fresh one; set-up (open, topic creation, connect) and making the input (message objects, encoded batches) are untimed for every contestant, and only the writing or reading is timed.',
    failures.length
      ? `**Verification failed:** ${failures.join('; ')}`
      : 'Every contestant read back exactly what it wrote (count and digest).',
  ],
});
writeFileSync(join(outDir, 'chart.svg'), renderSvg(report));
writeFileSync(join(outDir, 'index.html'), renderHtml(report, table, targetTable, latencyTable));
console.log(
  `results: ${jsonPath}, ${mdPath}, chart: ${join(outDir, 'chart.svg')}, page: ${join(outDir, 'index.html')} (${elapsedSeconds.toFixed(0)} s)`,
);

if (failures.length) {
  console.error(`\nverification FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('verification: every contestant read back exactly what it wrote');
