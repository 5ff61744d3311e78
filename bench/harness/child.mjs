// Runs one contestant on one workload in its own process, so its memory is
// its own, and prints one JSON line: times, what it read, and peak RSS.
//
// A throughput run first does the whole workload once, untimed, in a
// scratch directory of its own, then the timed pass in a fresh one: every
// contestant is measured in its steady state (JIT-compiled, allocator and
// native library warm) with the same fixed costs. Without this a 100,000-
// message run of a fast contestant lasts tens of milliseconds and measures
// mostly V8 compiling the producer (the first pass of the kafkajs-API
// producer ran at a third of its later rate).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contestants, latency, makeValues } from './contestants.mjs';

const { contestant: name, workload } = JSON.parse(process.argv[2]);
const c = contestants.find((x) => x.name === name);
if (!c) throw new Error(`unknown contestant ${name}`);

async function measure(dir) {
  if (workload.kind === 'latency') {
    const samples = await latency[name](workload, dir);
    samples.sort((a, b) => a - b);
    const q = (x) => samples[Math.min(samples.length - 1, Math.floor(x * samples.length))] * 1000;
    return { latency: { p50: q(0.5), p99: q(0.99), p999: q(0.999), samples: samples.length } };
  }
  const { values, expected } = makeValues(workload.messages, workload.size);
  if (workload.warmup !== false) {
    const scratch = mkdtempSync(join(dir, 'warm-up-'));
    try {
      await c.produce(workload, values, scratch);
      await c.consume(workload, values);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  const measured = mkdtempSync(join(dir, 'measured-'));
  const produceSeconds = await c.produce(workload, values, measured);
  const read = await c.consume(workload, values);
  return { produceSeconds, consumeSeconds: read.seconds, count: read.count, digest: read.digest, expected };
}

const dir = mkdtempSync(join(process.env.FERROLOG_BENCH_DIR ?? tmpdir(), 'ferrolog-harness-'));
let result;
try {
  result = await measure(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  `${JSON.stringify({ ...result, peakRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
);
process.exit(0);
