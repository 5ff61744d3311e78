// `npm run bench`: ferrolog against the alternatives, side by side, in one run.
//
//   npm run bench                  defaults (under 3 minutes on 2 cores)
//   npm run bench -- --quick       a smaller run (under 30 seconds)
//   npm run bench -- --messages 50000 --size 100,1024 --partitions 1,8 --only ferrolog,lmdb-js
//
// Each contestant runs in a child process per run (peak RSS is its own),
// warm-up runs are not counted, and each figure is the median of --runs,
// with the spread shown. Every run must read back exactly what it wrote
// (count and digest); a mismatch fails the whole run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contestants } from './contestants.mjs';
import { renderHtml, renderSvg } from './report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const has = (f) => args.includes(`--${f}`);
const opt = (f, d) => {
  const i = args.indexOf(`--${f}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : d;
};
const list = (v) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

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
const sizes = list(opt('size', quick ? '100' : '100,1024')).map(Number);
const partitionCounts = list(opt('partitions', quick ? '1' : '1,8')).map(Number);
const durabilities = list(opt('durability', 'relaxed,strict'));
const runs = Number(opt('runs', quick ? '1' : '3'));
const warmups = quick ? 0 : 1;
const only = opt('only', null);
const outDir = opt('out', join(here, '..', 'results'));
const messagesFor = (size) =>
  Number(opt('messages', String(quick ? 20_000 : size <= 128 ? 100_000 : 50_000)));
const chosen = contestants.filter((c) => (only ? list(only).includes(c.name) : !c.hidden));
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
const withLatency = !has('no-latency');
const latencyWorkload = { kind: 'latency', rate: 10_000, seconds: quick ? 0.5 : 1, size: 100 };

const steps = workloads.length * chosen.length * (runs + warmups) + (withLatency ? chosen.length : 0);
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

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const failures = [];
const skipped = [];
const results = [];
for (const w of workloads) {
  const label = `${w.size} B · ${w.partitions} partition${w.partitions > 1 ? 's' : ''} · ${w.durability}`;
  for (const c of chosen) {
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
    const rate = (key) => samples.map((s) => w.messages / s[key]).filter((x) => Number.isFinite(x));
    const produce = rate('produceSeconds');
    const consume = rate('consumeSeconds');
    results.push({
      workload: label,
      size: w.size,
      partitions: w.partitions,
      durability: w.durability,
      contestant: c.name,
      describe: c.describe,
      produce: { median: median(produce), min: Math.min(...produce), max: Math.max(...produce) },
      consume: consume.length
        ? { median: median(consume), min: Math.min(...consume), max: Math.max(...consume) }
        : null,
      peakRssBytes: Math.max(...samples.map((s) => s.peakRssBytes)),
    });
  }
}
const latencies = [];
if (withLatency) {
  for (const c of chosen) {
    const key = c.name === 'ferrolog' || c.name === 'lmdb-js' || c.name === 'better-sqlite3' ? c.name : null;
    progress(`${c.name} · latency at ${latencyWorkload.rate} msg/s`);
    if (key === null) continue;
    const out = runChild(c, latencyWorkload);
    if (out.latency.samples !== latencyWorkload.rate * latencyWorkload.seconds)
      failures.push(`${c.name} latency: read back ${out.latency.samples} messages`);
    latencies.push({ contestant: c.name, ...out.latency, peakRssBytes: out.peakRssBytes });
  }
}
if (tty) process.stderr.write('\n');

// Ratios: to ferrolog (same workload) and to the physical limit (mmap copy).
for (const r of results) {
  const same = (name) => results.find((x) => x.workload === r.workload && x.contestant === name);
  const ref = same('ferrolog');
  const phys = same('physical (mmap copy)');
  r.produceVsFerrolog = ref ? r.produce.median / ref.produce.median : null;
  r.consumeVsFerrolog = ref?.consume && r.consume ? r.consume.median / ref.consume.median : null;
  r.produceVsPhysical = phys ? r.produce.median / phys.produce.median : null;
}

const fmt = (n) =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : Math.round(n).toLocaleString('en-US');
const mb = (rate, size) => (rate ? ((rate * size) / 1e6).toFixed(0) : '—');
const ratio = (x) => (x === null || x === undefined ? '—' : `${x.toFixed(2)}×`);
const spread = (s) => (s && s.max > s.min ? ` ±${(((s.max - s.min) / 2 / s.median) * 100).toFixed(0)}%` : '');
const table = results.map((r) => ({
  workload: r.workload,
  contestant: r.contestant,
  'produce msg/s': fmt(r.produce.median) + spread(r.produce),
  'produce MB/s': mb(r.produce.median, r.size),
  'consume msg/s': r.consume ? fmt(r.consume.median) + spread(r.consume) : '—',
  'consume MB/s': r.consume ? mb(r.consume.median, r.size) : '—',
  'peak RSS MB': (r.peakRssBytes / 1e6).toFixed(0),
  'produce ×ferrolog': ratio(r.produceVsFerrolog),
  'consume ×ferrolog': ratio(r.consumeVsFerrolog),
  'produce ×physical': ratio(r.produceVsPhysical),
}));
console.table(table);
if (latencies.length) {
  console.log(`end-to-end latency at ${latencyWorkload.rate} msg/s, ${latencyWorkload.size} B (µs):`);
  console.table(
    latencies.map((l) => ({
      contestant: l.contestant,
      p50: fmt(l.p50),
      p99: fmt(l.p99),
      p999: fmt(l.p999),
      'peak RSS MB': (l.peakRssBytes / 1e6).toFixed(0),
    })),
  );
}
for (const s of skipped)
  console.log(`skipped ${s}: set KAFKA_BROKERS=host:port to include kafkajs against a broker`);

const report = {
  generatedAt: new Date().toISOString(),
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  options: { quick, runs, warmups, sizes, partitions: partitionCounts, durabilities },
  results,
  latencies,
  skipped,
  failures,
};
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(outDir, 'chart.svg'), renderSvg(report));
writeFileSync(join(outDir, 'index.html'), renderHtml(report, table));
console.log(
  `results: ${join(outDir, 'latest.json')}, chart: ${join(outDir, 'chart.svg')}, page: ${join(outDir, 'index.html')}`,
);

if (failures.length) {
  console.error(`\nverification FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('verification: every contestant read back exactly what it wrote');
