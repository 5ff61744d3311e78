import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import {
  CompressionTypes,
  type Consumer,
  compressRecords,
  encodeBatch,
  encodeRecords,
  frameBatch,
  type RecordInput,
} from '../ts';

const dirs: string[] = [];

/** A fresh directory, removed after the test. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ferrolog-test-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * The complete JSON lines of a file another process appends to, one
 * record per line. The text after the last newline is a record still
 * being written, or cut short by a SIGKILL: it is not a record yet
 * (parsing it failed one CI run).
 */
export function jsonLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop();
  return lines.filter((l) => l.length > 0).map((l) => JSON.parse(l) as T);
}

/** Forces a full GC (vitest runs these workers with --expose-gc) and lets finalizers run. */
export async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Waits until `check` is true, failing after `timeoutMs` (a bound, not a timing assertion). */
export async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * The partitions of `topic` a consumer was given at its latest join, as the
 * public `GROUP_JOIN` event reports them (kafkajs emits it for every
 * generation the member joins, with its whole assignment). Call it before
 * `run()` so the first join is seen.
 */
export function assignedTo<K, V>(consumer: Consumer<K, V>, topic: string): () => number[] {
  let owned: number[] = [];
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    owned = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
  });
  return () => owned;
}

/** `until` for an asynchronous check (a describe call, say): polls it one call at a time. */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * One RecordBatch v2 of `records`, its records compressed with
 * `compression` (None: a plain batch), as a producer would send it.
 */
export function compressedBatch(records: RecordInput[], compression: CompressionTypes): Buffer {
  if (compression === CompressionTypes.None) return encodeBatch(records);
  const e = encodeRecords(records, 0);
  const body = compressRecords(compression, e.buf.subarray(e.headroom)) as Buffer;
  return frameBatch(body, e.count, e.baseTimestamp, e.maxTimestamp, { attributes: compression });
}
