// The consumer's per-message and per-batch paths as they were made faster
// (issue 17): eachMessage awaits only what a handler returns that can be
// awaited, makes each message as its turn comes, and the commit after a
// batch runs behind the next fetch instead of in front of it. Each test
// pins a kafkajs guarantee those changes must keep.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Consumer, Kafka } from '../ts';
import { GroupMember } from '../ts/group/member';
import { tempDir, until } from './helpers';

const open: Consumer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of open.splice(0)) await c.disconnect().catch(() => undefined);
});

async function produce(kafka: Kafka, topic: string, from: number, n: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: 1,
    messages: Array.from({ length: n }, (_, i) => ({ key: `k${from + i}`, value: `v${from + i}` })),
  });
  await producer.disconnect();
}

async function consumer(kafka: Kafka, groupId: string, topic: string): Promise<Consumer> {
  const c = kafka.consumer({ groupId });
  open.push(c);
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  return c;
}

async function committed(kafka: Kafka, groupId: string, topic: string): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const r = await admin.fetchOffsets({ groupId, topics: [topic] });
    return r[0]?.partitions[0]?.offset ?? 'none';
  } finally {
    await admin.disconnect();
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => String(from + i));

describe('eachMessage: sync, async and thenable handlers', () => {
  // One send is one batch: the seek lands in the middle of a batch in hand.
  const handlers = {
    sync: (f: () => void) => () => {
      f();
    },
    async: (f: () => void) => async () => {
      await Promise.resolve();
      f();
    },
    // kafkajs awaits whatever the handler returns: a thenable that is not a
    // Promise holds the next message back until it settles.
    thenable: (f: () => void) => () => ({
      // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a Promise is this case's point
      then(resolve: () => void) {
        setTimeout(() => {
          f();
          resolve();
        }, 0);
      },
    }),
  };
  for (const [kind, wrap] of Object.entries(handlers)) {
    it(`${kind}: every message once, in order, one at a time, with a seek during the batch`, async () => {
      const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
      await produce(kafka, 't', 0, 300);
      const c = await consumer(kafka, `g-${kind}`, 't');
      const seen: string[] = [];
      let running = 0;
      let overlapped = false;
      let sought = false;
      await c.run({
        eachMessage: ({ message }) => {
          running++;
          if (running > 1) overlapped = true;
          return wrap(() => {
            seen.push(message.offset);
            // Mid-batch: the rest of this batch is dropped, reading resumes at 200.
            if (message.offset === '100' && !sought) {
              sought = true;
              c.seek({ topic: 't', partition: 0, offset: '200' });
            }
            running--;
          })() as unknown as Promise<void>;
        },
      });
      await until(() => seen.length >= 201, 'the messages up to the seek and after it');
      expect(seen).toEqual([...range(0, 101), ...range(200, 300)]);
      expect(overlapped).toBe(false);
      await c.disconnect();
      expect(await committed(kafka, `g-${kind}`, 't')).toBe('300');
    });
  }

  it('a sync handler that throws is retried, and the message is not skipped', async () => {
    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    await produce(kafka, 't', 0, 5);
    const c = kafka.consumer({ groupId: 'g-throw', retry: { retries: 3, initialRetryTime: 5 } });
    open.push(c);
    await c.connect();
    await c.subscribe({ topic: 't', fromBeginning: true });
    const seen: string[] = [];
    let failures = 0;
    await c.run({
      eachMessage: (({ message }: { message: { offset: string } }) => {
        if (message.offset === '2' && failures < 2) {
          failures++;
          throw new Error('not yet');
        }
        seen.push(message.offset);
      }) as unknown as () => Promise<void>,
    });
    await until(() => seen.length === 5, 'every message');
    expect(seen).toEqual(range(0, 5));
    expect(failures).toBe(2);
  });
});

describe('the commit after each batch', () => {
  /** Holds every commit until released; counts how many are in flight at once. */
  function holdCommits() {
    const original = GroupMember.prototype.commit;
    const held: (() => void)[] = [];
    const state = { calls: 0, inFlight: 0, maxInFlight: 0, offsets: [] as number[] };
    vi.spyOn(GroupMember.prototype, 'commit').mockImplementation(async function (this: GroupMember, offsets) {
      state.calls++;
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      for (const o of offsets) state.offsets.push(o.offset);
      await new Promise<void>((r) => held.push(r));
      try {
        await original.call(this, offsets);
      } finally {
        state.inFlight--;
      }
    });
    const release = () => {
      for (const r of held.splice(0)) r();
    };
    return { state, release, held };
  }

  it('does not hold up the next batch; one commit in flight, the next carries what ended meanwhile', async () => {
    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    await produce(kafka, 't', 0, 5);
    const { state, release, held } = holdCommits();
    const c = await consumer(kafka, 'g-commit', 't');
    const batches: string[][] = [];
    await c.run({
      eachBatch: async ({ batch }) => {
        batches.push(batch.messages.map((m) => m.offset));
      },
    });
    await until(() => held.length === 1, 'the first batch commit, held');
    expect(state.offsets).toEqual([5]);
    // The first commit has not landed; the next batches are consumed anyway.
    await produce(kafka, 't', 5, 5);
    await until(() => batches.flat().length === 10, 'the second batch while the first commit is held');
    await produce(kafka, 't', 10, 5);
    await until(() => batches.flat().length === 15, 'the third batch while the first commit is held');
    expect(batches.flat()).toEqual(range(0, 15));
    // Still one commit: the batches that ended meanwhile wait for it.
    expect(state.calls).toBe(1);
    release();
    // Then one commit of everything resolved by then.
    await until(() => state.calls === 2, 'the follow-up commit');
    expect(state.offsets).toEqual([5, 15]);
    release();
    await until(() => state.inFlight === 0, 'the follow-up commit landed');
    expect(state.maxInFlight).toBe(1);
    expect(await committed(kafka, 'g-commit', 't')).toBe('15');
  });

  it('stop waits for the commit in flight, then commits the rest', async () => {
    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    await produce(kafka, 't', 0, 5);
    const { state, release, held } = holdCommits();
    const c = await consumer(kafka, 'g-stop', 't');
    let n = 0;
    await c.run({
      eachBatch: async ({ batch }) => {
        n += batch.messages.length;
      },
    });
    await until(() => held.length === 1, 'the first batch commit, held');
    await produce(kafka, 't', 5, 3);
    await until(() => n === 8, 'the second batch');
    const order: string[] = [];
    const stopped = c.stop().then(() => order.push('stopped'));
    await new Promise((r) => setTimeout(r, 20));
    order.push('released');
    release();
    // The final commit (of offset 8) is held too: release it as it comes.
    await until(() => {
      release();
      return order.includes('stopped');
    }, 'stop');
    await stopped;
    expect(order).toEqual(['released', 'stopped']);
    expect(state.maxInFlight).toBe(1);
    expect(state.offsets.at(-1)).toBe(8);
    expect(await committed(kafka, 'g-stop', 't')).toBe('8');
  });
});

describe('the event loop while a backlog is consumed', () => {
  it('turns between batches: timers and I/O of the application run, not only after the backlog', async () => {
    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    // 40 sends are 40 batches; a fetch limit below one batch reads one per round.
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 40; i++)
      await producer.send({ topic: 't', acks: 1, messages: [{ value: `v${i}` }, { value: `w${i}` }] });
    await producer.disconnect();
    const c = kafka.consumer({ groupId: 'g-turns', maxBytesPerPartition: 1 });
    open.push(c);
    await c.connect();
    await c.subscribe({ topic: 't', fromBeginning: true });
    let batches = 0;
    let firedAt = -1;
    await c.run({
      eachBatch: async () => {
        batches++;
        if (batches === 1)
          setImmediate(() => {
            firedAt = batches;
          });
      },
    });
    await until(() => batches === 40, 'the backlog');
    expect(firedAt).toBeGreaterThan(0);
    expect(firedAt).toBeLessThanOrEqual(3);
  });
});

describe('eachBatch after the handler', () => {
  it('a batch kept past its handler still gives its messages (made again, the same records)', async () => {
    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    await produce(kafka, 't', 0, 20);
    const c = await consumer(kafka, 'g-kept', 't');
    const kept: { messages: { offset: string; value: Buffer | null }[] }[] = [];
    const inHandler: string[] = [];
    await c.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) inHandler.push(`${m.offset}:${String(m.value)}`);
        kept.push(batch);
      },
    });
    await until(() => inHandler.length === 20, 'every message');
    const later = kept.flatMap((b) => b.messages.map((m) => `${m.offset}:${String(m.value)}`));
    expect(later).toEqual(inHandler);
    expect(inHandler[19]).toBe('19:v19');
  });
});
