/**
 * What a consumer does when it crashes, as kafkajs 2.2.4 does it
 * (consumer/index.js onCrash, runner.js processEachMessage): it restarts
 * only when trying again can help (retries ran out, or the error says it is
 * retriable) and `restartOnFailure` agrees; what the handlers finished is
 * committed first, so a restart goes on from the failed message.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Consumer, encodeBatch, Kafka, type KafkaJSError, Log } from '../ts';
import { tempDir, until } from './helpers';

const open: Consumer[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.disconnect().catch(() => undefined);
});

interface Crash {
  error: KafkaJSError & { code?: string };
  restart: boolean;
}

function watch(c: Consumer): { crashes: Crash[] } {
  const seen = { crashes: [] as Crash[] };
  c.on(c.events.CRASH, (e) => seen.crashes.push(e.payload as unknown as Crash));
  return seen;
}

async function committed(kafka: Kafka, groupId: string, topic: string): Promise<string | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions[0]?.offset;
  } finally {
    await admin.disconnect();
  }
}

/** Topic `t` with ten messages, and a consumer of group `g` with `retries` whose crashes are watched. */
async function tenMessages(retries: number) {
  const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 't', messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })) });
  await producer.disconnect();
  const c = kafka.consumer({ groupId: 'g', retry: { retries, initialRetryTime: 10 } });
  open.push(c);
  return { kafka, c, seen: watch(c) };
}

/** Lets `ms` pass: long enough for a restart (10 ms backoff) to have happened many times over. */
const pass = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('consumer crashes', () => {
  it('stops at a corrupt batch on disk: one crash, no restart, what came before delivered once and committed', async () => {
    const dir = tempDir();
    const log = Log.open(dir);
    log.createTopic('t');
    // 20 batches of 10 records (about 1.6 KB each), flushed: the open after
    // a clean close checks only the segment's tail, so the damage below is
    // found when a read reaches it (as the corruption suite found it).
    for (let b = 0; b < 20; b++) {
      const records = Array.from({ length: 10 }, (_, i) => ({
        key: null,
        value: Buffer.alloc(150, b * 10 + i),
        timestamp: 1_700_000_000_000,
      }));
      log.append('t', 0, encodeBatch(records));
    }
    await log.flush();
    await log.close();
    // Damage the second batch's last byte: its CRC no longer matches.
    const file = join(dir, 't-0', '00000000000000000000.log');
    const bytes = readFileSync(file);
    const first = 12 + bytes.readInt32BE(8);
    const second = 12 + bytes.readInt32BE(first + 8);
    bytes[first + second - 1] ^= 0x20;
    writeFileSync(file, bytes);

    const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
    const c = kafka.consumer({ groupId: 'g', retry: { retries: 0, initialRetryTime: 10 } });
    open.push(c);
    const seen = watch(c);
    const offsets: string[] = [];
    await c.connect();
    await c.subscribe({ topic: 't', fromBeginning: true });
    await c.run({
      eachMessage: async ({ message }) => {
        offsets.push(message.offset);
      },
    });
    await until(() => seen.crashes.length > 0, 'the crash');
    await pass(500);
    // Restarting would fail on the same batch forever, delivering 0-9 again each time.
    expect(seen.crashes).toHaveLength(1);
    expect(seen.crashes[0]?.restart).toBe(false);
    expect(seen.crashes[0]?.error.code).toBe('ERR_CORRUPT');
    expect(seen.crashes[0]?.error.retriable).toBe(false);
    expect(offsets).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    expect(await committed(kafka, 'g', 't')).toBe('10');
  });

  it('restarts after a failing handler from the failed message, not from the last commit', async () => {
    const { c, seen } = await tenMessages(0);
    const offsets: string[] = [];
    let failed = false;
    await c.connect();
    await c.subscribe({ topic: 't', fromBeginning: true });
    await c.run({
      eachMessage: async ({ message }) => {
        offsets.push(message.offset);
        if (message.offset === '5' && !failed) {
          failed = true;
          throw new Error('once');
        }
      },
    });
    await until(() => offsets.length >= 11, 'every message after the restart');
    // A plain Error is retriable: retries (0 here) ran out, so it restarts.
    expect(seen.crashes.map((x) => x.restart)).toEqual([true]);
    expect(offsets).toEqual(['0', '1', '2', '3', '4', '5', '5', '6', '7', '8', '9']);
  });

  it('does not retry or restart a handler’s TypeError (kafkajs’ unrecoverable errors), and commits what came before', async () => {
    const { kafka, c, seen } = await tenMessages(3);
    let calls = 0;
    await c.connect();
    await c.subscribe({ topic: 't', fromBeginning: true });
    await c.run({
      eachMessage: async ({ message }) => {
        calls++;
        if (message.offset === '3') (undefined as unknown as { bug(): void }).bug();
      },
    });
    await until(() => seen.crashes.length > 0, 'the crash');
    await pass(300);
    expect(seen.crashes).toHaveLength(1);
    expect(seen.crashes[0]?.error.name).toBe('TypeError');
    expect(seen.crashes[0]?.restart).toBe(false);
    expect(calls).toBe(4);
    expect(await committed(kafka, 'g', 't')).toBe('3');
  });
});
