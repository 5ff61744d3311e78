import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { encodeBatch, InvalidArgumentError, Kafka, Log, ReadOnlyError } from '../ts';
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
        while (log.watermarks('live', 0).highWatermark < 210) await new Promise((r) => setTimeout(r, 5));
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
      [bin, 'consume', 'orders', '--from-beginning', '--data-dir', dir],
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
