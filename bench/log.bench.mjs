// Benchmarks of the low-level Log API and the codec, from JavaScript.
// Run with `npm run bench:log` after `npm install`; prints a table.
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMessages, encodeBatch, Log } from 'ferrolog';
import { Bench } from 'tinybench';

const seconds = Number(process.env.BENCH_SECONDS ?? 1);
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
function row(name, value, unit) {
  rows.push({ case: name, value: Math.round(value).toLocaleString('en-US'), unit });
}

// 1. Append throughput of pre-encoded 1000 x 100 B batches.
log.createTopic('append', { config: { 'retention.ms': -1 } });
const big = encodeBatch(records(1000));
{
  const { ops, elapsed } = timeFor(() => log.append('append', 0, big));
  row('append 1000 x 100 B batches', (ops * big.length) / elapsed / 1e6, 'MB/s');
  row('append 1000 x 100 B batches', (ops * 1000) / elapsed, 'records/s');
}

// 2. Read and iterate with the lazy decoder, touching every value.
{
  const hw = log.watermarks('append', 0).highWatermark;
  const start = performance.now();
  let offset = 0;
  let n = 0;
  let bytes = 0;
  while (offset < hw) {
    const r = log.read('append', 0, offset, 1 << 20);
    const msgs = decodeMessages(r.batches, offset);
    for (let i = 0; i < msgs.length; i++) bytes += msgs[i].value.length;
    n += msgs.length;
    offset = r.nextOffset;
  }
  const elapsed = (performance.now() - start) / 1000;
  if (bytes !== n * 100) throw new Error('read back the wrong bytes');
  row('read + decode + touch value, zero-copy', n / elapsed, 'records/s');
}

// 3. Encode 100 B records into 1000-record batches.
{
  const rs = records(1000);
  const { ops, elapsed } = timeFor(() => encodeBatch(rs));
  row('encode 100 B records (1000 per batch)', (ops * 1000) / elapsed, 'records/s');
}

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
  row(t.name, t.result.latency.mean * 1e6, 'ns/call (mean)');
}

console.table(rows);
await log.close();
rmSync(dir, { recursive: true, force: true });
