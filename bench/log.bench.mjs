// Benchmarks of the low-level Log API and the codec, from JavaScript:
// `npm run bench:log` (node bench/log.bench.mjs [--quick] [--runs N] [--out DIR]).
// The throughput cases run --runs times (default 3; a fresh topic each) and
// show the median with the min-max spread; the single-call costs come from
// tinybench (median and min-max of its samples). These are the references
// the producer and consumer benches compare against (their ×Log columns).
// Results: bench/results/log.{json,md} (--quick: bench/results/quick/, not representative).
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMessages, encodeBatch, Log } from 'ferrolog';
import { Bench } from 'tinybench';
import {
  cliArgs,
  fmtSummary,
  machineInfo,
  machineLine,
  NOT_REPRESENTATIVE,
  outputDir,
  summarize,
  writeResults,
} from './lib/results.mjs';

const args = cliArgs();
const quick = args.has('quick');
const seconds = args.num('seconds', Number(process.env.BENCH_SECONDS ?? (quick ? 0.2 : 1)));
const runs = args.num('runs', Number(process.env.BENCH_RUNS ?? (quick ? 1 : 3)));
const outDir = outputDir(args, quick);
const machine = machineInfo();
if (quick) process.stderr.write(`${NOT_REPRESENTATIVE}\n`);
// Start from a clean page cache: dirty pages left by earlier runs throttle
// appends to disk speed and would make the figures depend on history.
execSync('sync');
const dir = mkdtempSync(join(tmpdir(), 'ferrolog-bench-'));
const log = Log.open(dir);
const value = Buffer.alloc(100, 'x');

function records(n) {
  const out = new Array(n);
  const now = Date.now();
  for (let i = 0; i < n; i++) out[i] = { key: null, value, timestamp: now };
  return out;
}

function timeFor(fn) {
  const end = performance.now() + seconds * 1000;
  let ops = 0;
  const start = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 16; i++) fn();
    ops += 16;
  }
  return { ops, elapsed: (performance.now() - start) / 1000 };
}

const rows = [];
const results = [];
function row(name, samples, unit, digits = 0) {
  const summary = summarize(samples);
  results.push({ case: name, unit, summary, samples });
  rows.push({ case: name, 'median (min-max)': fmtSummary(summary, digits), unit });
}

const appendMBs = [];
const appendRecs = [];
const readRecs = [];
const encodeRecs = [];
const big = encodeBatch(records(1000));
for (let run = 0; run < runs; run++) {
  // 1. Append throughput of pre-encoded 1000 x 100 B batches.
  const topic = `append-${run}`;
  log.createTopic(topic, { config: { 'retention.ms': -1 } });
  {
    const { ops, elapsed } = timeFor(() => log.append(topic, 0, big));
    appendMBs.push((ops * big.length) / elapsed / 1e6);
    appendRecs.push((ops * 1000) / elapsed);
  }

  // 2. Read and iterate with the lazy decoder, touching every value.
  {
    const hw = log.watermarks(topic, 0).highWatermark;
    const start = performance.now();
    let offset = 0;
    let n = 0;
    let bytes = 0;
    while (offset < hw) {
      const r = log.read(topic, 0, offset, 1 << 20);
      const msgs = decodeMessages(r.batches, offset);
      for (let i = 0; i < msgs.length; i++) bytes += msgs[i].value.length;
      n += msgs.length;
      offset = r.nextOffset;
    }
    const elapsed = (performance.now() - start) / 1000;
    if (bytes !== n * 100) throw new Error('read back the wrong bytes');
    readRecs.push(n / elapsed);
  }

  // 3. Encode 100 B records into 1000-record batches.
  {
    const rs = records(1000);
    const { ops, elapsed } = timeFor(() => encodeBatch(rs));
    encodeRecs.push((ops * 1000) / elapsed);
  }
}
row('append 1000 x 100 B batches', appendMBs, 'MB/s');
row('append 1000 x 100 B batches', appendRecs, 'records/s');
row('read + decode + touch value, zero-copy', readRecs, 'records/s');
row('encode 100 B records (1000 per batch)', encodeRecs, 'records/s');

// 4. Cost of single calls.
log.createTopic('calls');
const one = encodeBatch(records(1));
for (let i = 0; i < 1000; i++) log.append('calls', 0, one);
const bench = new Bench({ time: seconds * 1000 });
bench
  .add('append() one 1-record batch', () => {
    log.append('calls', 0, one);
  })
  .add('read() one batch', () => {
    log.read('calls', 0, 500, 100);
  })
  .add('watermarks()', () => {
    log.watermarks('calls', 0);
  });
await bench.run();
for (const t of bench.tasks) {
  const l = t.result.latency;
  // tinybench's samples are in ms: median (p50) with the min-max of the samples.
  results.push({
    case: t.name,
    unit: 'ns/call (range: min-p99)',
    summary: {
      median: l.p50 * 1e6,
      min: l.min * 1e6,
      max: l.p99 * 1e6,
      runs: l.samplesCount ?? t.result.samples?.length ?? 0,
    },
  });
  rows.push({
    case: t.name,
    'median (min-max)': fmtSummary(results[results.length - 1].summary),
    unit: 'ns/call (range: min-p99)',
  });
}

if (quick) console.log(NOT_REPRESENTATIVE);
console.log(`${runs} run(s) of ${seconds} s per case · ${machineLine(machine)}`);
console.table(rows);
const { jsonPath, mdPath } = writeResults(outDir, 'log', {
  title: 'Log API and codec (npm run bench:log)',
  command: `node bench/log.bench.mjs${quick ? ' --quick' : ''}`,
  quick,
  machine,
  options: { runs, seconds, valueBytes: 100 },
  data: { results },
  sections: [['Log API and codec', rows]],
  notes: [
    'Single-call costs: tinybench samples, median with the range from the fastest sample to the 99th percentile (a preempted call on a shared machine takes milliseconds).',
  ],
});
console.log(`results: ${jsonPath}, ${mdPath}`);
await log.close();
rmSync(dir, { recursive: true, force: true });
