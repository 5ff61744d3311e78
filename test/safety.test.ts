import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  CompressionTypes,
  decodeMessages,
  encodeBatch,
  InvalidArgumentError,
  Kafka,
  Log,
  ReadOnlyError,
} from '../ts';
import { tempDir } from './helpers';

const root = join(__dirname, '..');
const bin = join(root, 'dist', 'cli', 'main.js');

function batchOf(values: string[]): Buffer {
  return encodeBatch(values.map((value) => ({ value, timestamp: 1 })));
}

describe('data safety', () => {
  it('lets another process read a directory this one owns, following new appends', async () => {
    const dir = tempDir();
    const log = Log.open(dir);
    log.createTopic('live', { config: { 'segment.bytes': 4096 } });
    for (let i = 0; i < 10; i++) log.append('live', 0, batchOf([`early-${i}`]));
    const script = `
      const { Log, decodeMessages } = require(${JSON.stringify(join(root, 'dist', 'index.js'))});
      (async () => {
        const log = Log.open(${JSON.stringify(dir)}, { readOnly: true });
        const hw = log.watermarks('live', 0).highWatermark;
        let error = 'none';
        try { log.createTopic('x'); } catch (e) { error = e.name; }
        console.log('ready ' + hw + ' ' + error);
        const woke = await log.waitForData('live', 0, hw, 20000);
        // Wait until the parent's whole burst is visible.
        const deadline = Date.now() + 30000;
        while (log.watermarks('live', 0).highWatermark < 210) {
          if (Date.now() > deadline) throw new Error('the appends never became visible');
          await new Promise((r) => setTimeout(r, 5));
        }
        const values = [];
        let offset = 0;
        while (offset < log.watermarks('live', 0).highWatermark) {
          const r = log.read('live', 0, offset, 1 << 16);
          for (const m of decodeMessages(r.batches, offset)) values.push(m.value.toString());
          offset = r.nextOffset;
        }
        console.log('done ' + woke + ' ' + JSON.stringify(values));
        await log.close();
      })().catch((e) => { console.log('error ' + e.stack); process.exit(1); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    // A failing assertion below must not leave the reader running.
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const lines = createInterface({ input: child.stdout });
    const expected = Array.from({ length: 10 }, (_, i) => `early-${i}`);
    for await (const line of lines) {
      if (line.startsWith('ready ')) {
        expect(line).toBe('ready 10 ReadOnlyError');
        // Enough to roll the 4 KiB segments many times while it watches.
        for (let i = 0; i < 200; i++) {
          log.append('live', 0, batchOf([`late-${i}`]));
          expected.push(`late-${i}`);
        }
      } else if (line.startsWith('done ')) {
        expect(line.slice(5, 10)).toBe('true ');
        expect(JSON.parse(line.slice(10))).toEqual(expected);
        break;
      } else {
        throw new Error(`child: ${line}`);
      }
    }
    expect(log.segments('live', 0).length).toBeGreaterThan(3);
    await log.close();
  });

  it('lets the CLI read next to a running application instead of failing', async () => {
    const dir = tempDir();
    const log = Log.open(dir);
    log.createTopic('orders');
    log.append('orders', 0, batchOf(['a', 'b', 'c']));
    const list = spawnSync(process.execPath, [bin, 'topics', 'list', '--data-dir', dir], {
      encoding: 'utf8',
    });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toBe('orders\n');
    expect(list.stderr).toMatch(/reading it read-only/);
    const consume = spawnSync(
      process.execPath,
      [bin, 'consume', 'orders', '--from-beginning', '-e', '--data-dir', dir],
      { encoding: 'utf8' },
    );
    expect(consume.status, consume.stderr).toBe(0);
    expect(consume.stdout).toBe('a\nb\nc\n');
    // A reading command never creates a directory.
    const typo = spawnSync(process.execPath, [bin, 'topics', 'list', '--data-dir', join(dir, 'typo')], {
      encoding: 'utf8',
    });
    expect(typo.status).toBe(1);
    expect(typo.stderr).toMatch(/no data directory/);
    await log.close();
  });

  it('keeps __consumer_offsets out of reach of producers and admins', async () => {
    const dir = tempDir();
    const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
    const consumer = kafka.consumer({ groupId: 'g' });
    await consumer.connect();
    await consumer.disconnect();
    const producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    const sent = producer.send({ topic: '__consumer_offsets', messages: [{ value: 'junk' }] });
    await expect(sent).rejects.toThrow(/internal topic/);
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await expect(admin.deleteTopics({ topics: ['__consumer_offsets'] })).rejects.toThrow(/internal topic/);
    await admin.disconnect();
    // Groups still load and commit afterwards.
    const again = kafka.consumer({ groupId: 'g' });
    await again.connect();
    await again.disconnect();
    const log = Log.open(dir);
    expect(() => log.createTopic('w', { partitions: 2 ** 32 + 1 })).toThrow(InvalidArgumentError);
    expect(log.hasTopic('w')).toBe(false);
    expect(() => log.createTopic('.meta')).toThrow(InvalidArgumentError);
    log.createTopic('a.b');
    expect(() => log.createTopic('a_b')).toThrow(/collides with existing topic `a.b`/);
    await log.close();
  });

  it('keeps a zero-copy view readable end to end across close and the trim', async () => {
    const dir = tempDir();
    const log = Log.open(dir);
    log.createTopic('v');
    log.append('v', 0, batchOf(['kept']));
    const { batches } = log.read('v', 0, 0, 1 << 20);
    expect(log.zeroCopy).toBe(true);
    // The view's ArrayBuffer is the whole segment map, past the data.
    const whole = new Uint8Array(batches.buffer);
    expect(whole.byteLength).toBeGreaterThan(batches.byteLength);
    const copy = Buffer.from(batches);
    await log.close();
    // The .log is trimmed to its batches while the view lives...
    expect(readFileSync(join(dir, 'v-0', '00000000000000000000.log')).byteLength).toBe(copy.byteLength);
    // ...and every byte of the map still reads: the data, then zeros.
    let sum = 0;
    for (let i = 0; i < whole.byteLength; i++) sum += whole[i] as number;
    expect(Buffer.compare(batches, copy)).toBe(0);
    expect(sum).toBe(copy.reduce((a, b) => a + b, 0));
  });

  it('opens a directory again at once after an unawaited close', async () => {
    const dir = tempDir();
    for (let i = 0; i < 50; i++) {
      const log = Log.open(dir);
      if (i === 0) log.createTopic('t');
      log.append('t', 0, batchOf([`v${i}`]));
      const closing = log.close();
      const next = Log.open(dir);
      expect(next.watermarks('t', 0).highWatermark).toBe(i + 1);
      await closing;
      await next.close();
    }
    const ro = Log.open(dir, { readOnly: true });
    expect(() => ro.append('t', 0, batchOf(['x']))).toThrow(ReadOnlyError);
    await ro.close();
  });
});

describe('robustness (engine)', () => {
  it('runs retention at the interval Log.open asks for', async () => {
    const dir = tempDir();
    const log = Log.open(dir, { retentionCheckIntervalMs: 20 });
    log.createTopic('r', { config: { 'segment.bytes': 4096, 'retention.bytes': 8192 } });
    for (let i = 0; i < 400; i++) log.append('r', 0, batchOf([`value-${i}-${'x'.repeat(80)}`]));
    // Retention runs on the engine's thread every 20 ms: wait (bounded) until
    // it has brought the partition back under retention.bytes plus the
    // active segment. With the default 5-minute interval it would not.
    const size = () => log.segments('r', 0).reduce((n, s) => n + s.sizeBytes, 0);
    const start = Date.now();
    while (size() >= 8192 + 4096) {
      if (Date.now() - start > 15_000) throw new Error(`retention never ran: ${size()} bytes`);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(log.watermarks('r', 0).logStartOffset).toBeGreaterThan(0);
    expect(() => Log.open(tempDir(), { retentionCheckIntervalMs: 0 })).toThrow(InvalidArgumentError);
    await log.close();
  });

  it('releases every descriptor when close resolves', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const dir = tempDir();
    const before = fds();
    const log = Log.open(dir);
    for (let t = 0; t < 20; t++) {
      log.createTopic(`t${t}`, { partitions: 5 });
      log.append(`t${t}`, 0, batchOf(['x']));
    }
    expect(fds()).toBeGreaterThan(before + 100);
    await log.close();
    expect(fds()).toBeLessThanOrEqual(before + 2);
  });

  it('holds one descriptor per segment, so 1500 partitions fit under ulimit -n 2048', () => {
    const dir = tempDir();
    const script = `
      const { Log, encodeBatch } = require(${JSON.stringify(join(root, 'dist', 'index.js'))});
      (async () => {
        for (let round = 0; round < 2; round++) {
          const log = Log.open(${JSON.stringify(dir)});
          if (round === 0) log.createTopic('many', { partitions: 1500 });
          for (let p = 0; p < 1500; p++) log.append('many', p, encodeBatch([{ value: 'v' + p, timestamp: 1 }]));
          await log.close();
        }
        console.log('ok');
      })().catch((e) => { console.log(e.name + ': ' + e.message); process.exit(1); });`;
    const r = spawnSync('sh', ['-c', 'ulimit -n 2048 && exec "$0" -e "$1"', process.execPath, script], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.stdout.trim(), r.stderr).toBe('ok');
  }, 180_000);

  it('keeps reading past a corrupt batch, naming the offsets it lost', async () => {
    const dir = tempDir();
    const log = Log.open(dir);
    log.createTopic('c');
    for (let i = 0; i < 100; i++) log.append('c', 0, batchOf([`v${i}`]));
    await log.close();
    const file = join(dir, 'c-0', '00000000000000000000.log');
    const bytes = readFileSync(file);
    // Walk to the batch at offset 50 and flip the last byte of its value.
    let pos = 0;
    while (Number(bytes.readBigInt64BE(pos)) !== 50) pos += bytes.readInt32BE(pos + 8) + 12;
    const end = pos + bytes.readInt32BE(pos + 8) + 12;
    bytes[end - 2] = (bytes[end - 2] as number) ^ 1;
    writeFileSync(file, bytes);
    const again = Log.open(dir);
    expect(again.read('c', 0, 49, 1 << 20).nextOffset).toBe(50);
    expect(() => again.read('c', 0, 50, 1 << 20)).toThrow(/the next readable offset is 51/);
    const after = [...decodeMessages(again.read('c', 0, 51, 1 << 20).batches, 51)].map((m) =>
      String(m.value),
    );
    expect(after).toEqual(Array.from({ length: 49 }, (_, i) => `v${i + 51}`));
    await again.close();
  });
});

describe('bounded decompression', () => {
  it('hands a consumer compressed batches one at a time past maxBytesPerPartition', async () => {
    const dir = tempDir();
    const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 6; i++) {
      // Each inflates to 4 MiB: far past the consumer's 1 MiB per partition.
      await producer.send({
        topic: 'z',
        compression: CompressionTypes.ZSTD,
        messages: [{ value: `${i}`.padEnd(4 << 20, 'z') }],
      });
    }
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'z', maxBytesPerPartition: 1 << 20 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'z', fromBeginning: true });
    const sizes: number[] = [];
    const firsts: string[] = [];
    await consumer.run({
      eachBatch: async ({ batch }) => {
        sizes.push(batch.messages.length);
        for (const m of batch.messages) firsts.push(String(m.value?.subarray(0, 1)));
      },
    });
    const start = Date.now();
    while (firsts.length < 6 && Date.now() - start < 15_000) await new Promise((r) => setTimeout(r, 10));
    await consumer.disconnect();
    expect(firsts).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(Math.max(...sizes)).toBe(1);
  });
});
