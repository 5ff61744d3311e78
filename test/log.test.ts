import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ClosedError,
  decodeMessages,
  encodeBatch,
  InvalidArgumentError,
  InvalidBatchError,
  InvalidConfigError,
  KafkaJSError,
  Log,
  MessageTooLargeError,
  OffsetOutOfRangeError,
  TopicExistsError,
  UnknownTopicOrPartitionError,
} from '../ts';
import { collectGarbage, tempDir } from './helpers';

const root = join(__dirname, '..');

function batchOf(values: string[], timestamp = 1000): Buffer {
  return encodeBatch(values.map((v) => ({ key: null, value: v, timestamp })));
}

function mappedCount(dir: string): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir) && l.endsWith('.log')).length;
}

describe('Log', () => {
  it('appends batches, assigns offsets and reads them back', async () => {
    const log = Log.open(tempDir());
    log.createTopic('t', { partitions: 3 });
    expect(log.topics()).toMatchObject([{ name: 't', partitions: 3 }]);
    expect(log.append('t', 1, batchOf(['a', 'b', 'c']))).toBe(0);
    expect(log.append('t', 1, batchOf(['d']))).toBe(3);
    expect(log.watermarks('t', 1)).toMatchObject({ logStartOffset: 0, highWatermark: 4 });
    const r = log.read('t', 1, 2);
    expect(r.nextOffset).toBe(4);
    expect(r.highWatermark).toBe(4);
    expect(decodeMessages(r.batches, 2).map((m) => [m.offset, m.value?.toString()])).toEqual([
      ['2', 'c'],
      ['3', 'd'],
    ]);
    expect(log.read('t', 1, 4).batches.length).toBe(0);
    expect(log.watermarks('t', 0).highWatermark).toBe(0);
    // maxBytes: at least one whole batch, then whole batches only.
    const one = log.read('t', 1, 0, 1);
    expect(one.nextOffset).toBe(3);
    await log.close();
  });

  it('hands out views that outlive close, retention and topic deletion', async () => {
    const log = Log.open(tempDir());
    log.createTopic('t', { config: { 'segment.bytes': 4096, 'retention.ms': -1 } });
    for (let i = 0; i < 200; i++) log.append('t', 0, batchOf([`value-${i}-${'x'.repeat(40)}`]));
    expect(log.segments('t', 0).length).toBeGreaterThan(3);
    const first = log.read('t', 0, 0, 1 << 20);
    const copy = Buffer.from(first.batches);
    log.deleteRecords('t', 0, 150);
    expect(log.segments('t', 0)[0]?.baseOffset).toBeGreaterThan(0);
    expect(Buffer.compare(first.batches, copy)).toBe(0);
    log.deleteTopic('t');
    expect(Buffer.compare(first.batches, copy)).toBe(0);
    await log.close();
    expect(decodeMessages(first.batches)[0]?.value?.toString()).toMatch(/^value-0-/);
  });

  it('keeps a write into a view out of the file (copy-on-write maps)', async () => {
    const dir = tempDir();
    const log = Log.open(dir);
    log.createTopic('t');
    for (let i = 0; i < 10; i++) log.append('t', 0, batchOf([`value-${i}`]));
    const view = log.read('t', 0, 0, 1 << 20).batches;
    const before = Buffer.from(view);
    expect(view.length).toBeGreaterThan(70);
    view[70] = (view[70] ?? 0) ^ 0xff;
    expect(view[70]).not.toBe(before[70]);
    await log.close();
    // A fresh engine maps the file again: it holds what was appended, not the write.
    const reopened = Log.open(dir);
    const after = reopened.read('t', 0, 0, 1 << 20).batches;
    expect(Buffer.compare(after, before)).toBe(0);
    await reopened.close();
  });

  it('uses one external buffer per mapped segment and frees maps when views are collected', async () => {
    const dir = tempDir();
    const log = Log.open(dir);
    expect(log.zeroCopy).toBe(true);
    log.createTopic('t', { config: { 'segment.bytes': 8192 } });
    for (let i = 0; i < 300; i++) log.append('t', 0, batchOf([`v${i}-${'y'.repeat(60)}`]));
    const segments = log.segments('t', 0).length;
    expect(segments).toBeGreaterThan(2);
    let views: Buffer[] = [];
    for (let o = 0; o < 300; o++) views.push(log.read('t', 0, o, 100).batches);
    // Views of one segment share its ArrayBuffer.
    expect(views[0]?.buffer).toBe(views[1]?.buffer);
    expect(new Set(views.map((v) => v.buffer)).size).toBeLessThanOrEqual(segments);
    expect(mappedCount(dir)).toBeGreaterThan(0);
    log.deleteTopic('t');
    views = [];
    await collectGarbage();
    // The engine dropped its own maps with the topic; the views' maps go with the views.
    expect(mappedCount(dir)).toBe(0);
    await log.close();
  });

  it('long-polls: resolves on append, on timeout and on close', async () => {
    const log = Log.open(tempDir());
    log.createTopic('t');
    expect(await log.waitForData('t', 0, 0, 10)).toBe(false);
    const waiting = log.waitForData('t', 0, 0, 5000);
    setTimeout(() => log.append('t', 0, batchOf(['x'])), 5);
    expect(await waiting).toBe(true);
    expect(await log.waitForData('t', 0, 0, 5000)).toBe(true);
    const pending = log.waitForData('t', 0, 1, 60000);
    await log.close();
    expect(await pending).toBe(false);
  });

  it('shares one engine between opens of one directory in a process', async () => {
    const dir = tempDir();
    const a = Log.open(dir);
    const b = Log.open(dir);
    a.createTopic('t');
    b.append('t', 0, batchOf(['from b']));
    expect(a.watermarks('t', 0).highWatermark).toBe(1);
    const wait = a.waitForData('t', 0, 1, 5000);
    b.append('t', 0, batchOf(['again']));
    expect(await wait).toBe(true);
    await a.close();
    expect(() => a.topics()).toThrow(ClosedError);
    expect(b.append('t', 0, batchOf(['still open']))).toBe(2);
    await b.close();
    const c = Log.open(dir);
    expect(c.watermarks('t', 0).highWatermark).toBe(3);
    await c.close();
  });

  it('gives another process a lock error naming this one', async () => {
    const dir = tempDir();
    const log = Log.open(dir);
    const script = `
      const { Log } = require(${JSON.stringify(join(root, 'dist', 'index.js'))});
      try { Log.open(${JSON.stringify(dir)}); console.log('opened'); }
      catch (e) { console.log(e.name + '|' + e.code + '|' + e.message); }`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim();
    const [name, code, message] = out.split('|');
    expect(name).toBe('LockedError');
    expect(code).toBe('ERR_LOCKED');
    expect(message).toContain(`pid ${process.pid}`);
    await log.close();
    const after = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(after.stdout.trim()).toBe('opened');
  });

  it('acknowledges flush=always appends after the fsync', async () => {
    const log = Log.open(tempDir());
    log.createTopic('d', { config: { flush: 'always' } });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => log.append('d', 0, batchOf([`m${i}`]))),
    );
    expect(new Set(results).size).toBe(50);
    expect(log.watermarks('d', 0).durableOffset).toBe(50);
    const meta = log.appendWithMetadata('d', 0, batchOf(['x']));
    expect(meta.durable).not.toBeNull();
    await meta.durable;
    expect(log.watermarks('d', 0).durableOffset).toBe(51);
    log.createTopic('n');
    expect(log.appendWithMetadata('n', 0, batchOf(['x'])).durable).toBeNull();
    await log.flush();
    expect(log.watermarks('n', 0).durableOffset).toBe(1);
    await log.close();
  });

  it('appendWithMetadata reports each field the engine wrote (offsets, log-append time, log start, duplicates)', async () => {
    const log = Log.open(tempDir());
    log.createTopic('r', { config: { 'message.timestamp.type': 'LogAppendTime' } });
    const before = Date.now();
    const first = log.appendWithMetadata('r', 0, batchOf(['a', 'b', 'c']));
    const second = log.appendWithMetadata('r', 0, batchOf(['d', 'e']));
    expect([first.baseOffset, first.lastOffset, second.baseOffset, second.lastOffset]).toEqual([0, 2, 3, 4]);
    expect(first.logAppendTime).toBeGreaterThanOrEqual(before);
    expect(first.logAppendTime).toBeLessThanOrEqual(Date.now());
    expect(first.duplicate || second.duplicate).toBe(false);
    expect(log.deleteRecords('r', 0, 2)).toBe(2);
    expect(log.appendWithMetadata('r', 0, batchOf(['f'])).logStartOffset).toBe(2);
    // CreateTime (the default): no log-append time; an idempotent batch sent
    // twice is the same append, reported as a duplicate at its own offsets.
    log.createTopic('c');
    const producerId = log.allocateProducerId();
    const idempotent = encodeBatch(
      ['x', 'y'].map((v) => ({ key: null, value: v, timestamp: 1000 })),
      { producerId, producerEpoch: 0, baseSequence: 0 },
    );
    log.append('c', 0, batchOf(['z']));
    const once = log.appendWithMetadata('c', 0, idempotent);
    const again = log.appendWithMetadata('c', 0, idempotent);
    expect([once.baseOffset, once.lastOffset, once.logAppendTime, once.duplicate]).toEqual([1, 2, -1, false]);
    expect([again.baseOffset, again.lastOffset, again.duplicate]).toEqual([1, 2, true]);
    expect(log.watermarks('c', 0).highWatermark).toBe(3);
    await log.close();
  });

  it('finds offsets by timestamp and keeps deleteRecords across reopen', async () => {
    const dir = tempDir();
    let log = Log.open(dir);
    log.createTopic('t', { config: { 'segment.bytes': 4096 } });
    for (let i = 0; i < 100; i++) log.append('t', 0, batchOf([`v${i}`, `w${i}`], 10_000 + i * 10));
    expect(log.offsetForTimestamp('t', 0, 10_000 + 50 * 10)).toBe(100);
    expect(log.offsetForTimestamp('t', 0, 1e12)).toBeNull();
    expect(log.deleteRecords('t', 0, 120)).toBe(120);
    await log.close();
    log = Log.open(dir);
    expect(log.watermarks('t', 0)).toMatchObject({ logStartOffset: 120, highWatermark: 200 });
    expect(() => log.read('t', 0, 119)).toThrow(OffsetOutOfRangeError);
    await log.close();
  });

  describe('bad input gets a typed error and writes nothing', () => {
    it('rejects bad arguments', async () => {
      const log = Log.open(tempDir());
      log.createTopic('t');
      const good = batchOf(['ok']);
      const cases: [string, () => unknown, new (...a: never[]) => Error][] = [
        ['topic not a string', () => log.append(5 as unknown as string, 0, good), InvalidArgumentError],
        ['empty topic', () => log.append('', 0, good), InvalidArgumentError],
        ['partition negative', () => log.append('t', -1, good), InvalidArgumentError],
        ['partition fractional', () => log.append('t', 0.5, good), InvalidArgumentError],
        [
          'partition not a number',
          () => log.append('t', '0' as unknown as number, good),
          InvalidArgumentError,
        ],
        ['batch not bytes', () => log.append('t', 0, 'nope' as unknown as Buffer), InvalidArgumentError],
        ['unknown topic', () => log.append('nope', 0, good), UnknownTopicOrPartitionError],
        ['unknown partition', () => log.append('t', 1, good), UnknownTopicOrPartitionError],
        ['empty batch', () => log.append('t', 0, Buffer.alloc(0)), InvalidBatchError],
        ['truncated batch', () => log.append('t', 0, good.subarray(0, good.length - 1)), InvalidBatchError],
        [
          'bad crc',
          () =>
            log.append(
              't',
              0,
              Buffer.concat([good.subarray(0, -1), Buffer.from([good[good.length - 1]! ^ 1])]),
            ),
          InvalidBatchError,
        ],
        ['negative offset', () => log.read('t', 0, -1), InvalidArgumentError],
        ['offset past the end', () => log.read('t', 0, 5), OffsetOutOfRangeError],
        ['unsafe offset', () => log.read('t', 0, 2 ** 60), InvalidArgumentError],
        ['NaN maxBytes', () => log.read('t', 0, 0, Number.NaN), InvalidArgumentError],
        ['duplicate topic', () => log.createTopic('t'), TopicExistsError],
        ['bad topic name', () => log.createTopic('a/b'), InvalidArgumentError],
        ['zero partitions', () => log.createTopic('z', { partitions: 0 }), InvalidArgumentError],
        ['unknown config', () => log.createTopic('z', { config: { 'no.such': 1 } }), InvalidConfigError],
        [
          'bad config value',
          () => log.createTopic('z', { config: { 'segment.bytes': 'big' } }),
          InvalidConfigError,
        ],
        ['delete records past end', () => log.deleteRecords('t', 0, 10), OffsetOutOfRangeError],
        ['wait with bad timeout', () => log.waitForData('t', 0, 0, -5), InvalidArgumentError],
      ];
      for (const [name, fn, Ctor] of cases) {
        let thrown: unknown;
        try {
          fn();
        } catch (e) {
          thrown = e;
        }
        expect(thrown, name).toBeInstanceOf(Ctor);
        expect(thrown, name).toBeInstanceOf(KafkaJSError);
        expect((thrown as Error).message.length, name).toBeGreaterThan(5);
      }
      expect(log.watermarks('t', 0).highWatermark).toBe(0);
      expect(log.topics().map((t) => t.name)).toEqual(['t']);
      log.append('t', 0, good);
      expect(log.watermarks('t', 0).highWatermark).toBe(1);
      await log.close();
    });

    it('rejects an oversized batch', async () => {
      const log = Log.open(tempDir());
      log.createTopic('t', { config: { 'max.message.bytes': 1000 } });
      expect(() => log.append('t', 0, batchOf(['x'.repeat(2000)]))).toThrow(MessageTooLargeError);
      expect(log.watermarks('t', 0).highWatermark).toBe(0);
      await log.close();
    });

    it('rejects every call on a closed log', async () => {
      const log = Log.open(tempDir());
      log.createTopic('t');
      await log.close();
      await log.close();
      expect(() => log.append('t', 0, batchOf(['x']))).toThrow(ClosedError);
      expect(() => log.read('t', 0, 0)).toThrow(ClosedError);
      expect(() => log.createTopic('u')).toThrow(ClosedError);
      await expect(log.waitForData('t', 0, 0, 10)).rejects.toThrow(ClosedError);
      await expect(log.flush()).rejects.toThrow(ClosedError);
    });

    it('rejects a bad data directory', () => {
      expect(() => Log.open('')).toThrow(InvalidArgumentError);
      expect(() => Log.open(join(root, 'package.json'))).toThrow(/ERR_IO|exists|directory|Not a directory/i);
    });
  });

  it('loads from CommonJS and from ESM', () => {
    const cjs = execFileSync(process.execPath, ['-e', `console.log(typeof require('ferrolog').Log.open)`], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(cjs.trim()).toBe('function');
    const esm = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { Log, encodeBatch } from 'ferrolog'; console.log(typeof Log.open, typeof encodeBatch)`,
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(esm.trim()).toBe('function function');
  });
});
