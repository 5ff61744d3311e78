// The eachMessage loop as callbacks (ts/consumer/runner.ts, MessagePump):
// each handler's promise is followed by a callback instead of an `await`
// per message. Each test pins a kafkajs guarantee that change must keep:
// one handler at a time, in order, a failed message retried and not
// skipped, a thenable's outcome taken once, threshold commits mid-batch,
// and stop and pause ending the batch after the message in hand.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Consumer, Kafka } from '../ts';
import { GroupMember } from '../ts/group/member';
import { tempDir, until } from './helpers';

const open: Consumer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of open.splice(0)) await c.disconnect().catch(() => undefined);
});

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => String(from + i));

async function setup(n: number, groupId: string, config: Record<string, unknown> = {}) {
  const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
  const producer = kafka.producer();
  await producer.connect();
  // One send: one batch, so everything below happens inside one batch in hand.
  await producer.send({
    topic: 't',
    acks: 1,
    messages: Array.from({ length: n }, (_, i) => ({ value: `v${i}` })),
  });
  await producer.disconnect();
  const c = kafka.consumer({ groupId, retry: { retries: 5, initialRetryTime: 5 }, ...config });
  open.push(c);
  await c.connect();
  await c.subscribe({ topic: 't', fromBeginning: true });
  return { kafka, c };
}

async function committed(kafka: Kafka, groupId: string): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const r = await admin.fetchOffsets({ groupId, topics: ['t'] });
    return r[0]?.partitions[0]?.offset ?? 'none';
  } finally {
    await admin.disconnect();
  }
}

describe('eachMessage driven by callbacks', () => {
  it('an async handler that rejects is retried; every message once, in order, one at a time', async () => {
    const { kafka, c } = await setup(50, 'p-reject');
    const seen: string[] = [];
    let running = 0;
    let overlapped = false;
    let failures = 0;
    await c.run({
      eachMessage: async ({ message }) => {
        running++;
        if (running > 1) overlapped = true;
        await new Promise((r) => setImmediate(r));
        running--;
        if ((message.offset === '7' || message.offset === '31') && failures < 4) {
          failures++;
          throw new Error('not yet');
        }
        seen.push(message.offset);
      },
    });
    await until(() => seen.length === 50, 'every message');
    expect(seen).toEqual(range(0, 50));
    expect(failures).toBe(4);
    expect(overlapped).toBe(false);
    await c.disconnect();
    expect(await committed(kafka, 'p-reject')).toBe('50');
  });

  it("a thenable's first outcome counts once, whatever else it calls", async () => {
    const { kafka, c } = await setup(20, 'p-thenable');
    const seen: string[] = [];
    let calls = 0;
    let depth = 0;
    let nested = false;
    await c.run({
      eachMessage: (({ message }: { message: { offset: string } }) => ({
        // biome-ignore lint/suspicious/noThenProperty: a misbehaving thenable is this case's point
        then(resolve: () => void, reject: (e: Error) => void) {
          calls++;
          depth++;
          if (depth > 1) nested = true;
          seen.push(message.offset);
          // Resolves twice and rejects too, synchronously: the message is
          // handled once, and the next one is not handed over from in here.
          resolve();
          resolve();
          reject(new Error('ignored'));
          depth--;
        },
      })) as unknown as () => Promise<void>,
    });
    await until(() => seen.length === 20, 'every message');
    // The position moved once per message: what comes next is read from 20.
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 't', acks: 1, messages: [{ value: 'a' }, { value: 'b' }] });
    await producer.disconnect();
    await until(() => seen.length === 22, 'the messages sent later');
    expect(seen).toEqual(range(0, 22));
    expect(calls).toBe(22);
    expect(nested).toBe(false);
  });

  it('autoCommitThreshold commits inside the batch, after the message that reaches it', async () => {
    const commits: number[] = [];
    const original = GroupMember.prototype.commit;
    vi.spyOn(GroupMember.prototype, 'commit').mockImplementation(async function (this: GroupMember, offsets) {
      for (const o of offsets) commits.push(o.offset);
      return original.call(this, offsets);
    });
    const { c } = await setup(35, 'p-threshold', { autoCommitThreshold: 10 });
    const committedWhenHandled: number[] = [];
    await c.run({
      autoCommitThreshold: 10,
      eachMessage: async ({ message }) => {
        if (message.offset === '10' || message.offset === '20' || message.offset === '30')
          committedWhenHandled.push(commits.length === 0 ? -1 : (commits[commits.length - 1] as number));
      },
    });
    await until(() => commits.includes(30), 'the third threshold commit');
    // Each threshold's commit landed before the next message was handed over.
    expect(committedWhenHandled).toEqual([10, 20, 30]);
    expect(commits.slice(0, 3)).toEqual([10, 20, 30]);
  });

  it('stop ends the batch after the message in hand, which is committed', async () => {
    const { kafka, c } = await setup(100, 'p-stop');
    const seen: string[] = [];
    let stopping: Promise<void> | null = null;
    await c.run({
      eachMessage: async ({ message }) => {
        seen.push(message.offset);
        if (message.offset === '41') {
          stopping = c.stop();
          await new Promise((r) => setTimeout(r, 10));
        }
      },
    });
    await until(() => stopping !== null, 'the stop');
    await stopping;
    expect(seen).toEqual(range(0, 42));
    expect(await committed(kafka, 'p-stop')).toBe('42');
  });

  it('pause from the handler ends the batch after that message; resume goes on from the next', async () => {
    const { c } = await setup(30, 'p-pause');
    const seen: string[] = [];
    let resumeLater: (() => void) | null = null;
    await c.run({
      eachMessage: async ({ message, pause }) => {
        seen.push(message.offset);
        if (message.offset === '12' && resumeLater === null) resumeLater = pause();
      },
    });
    await until(() => resumeLater !== null, 'the pause');
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(range(0, 13));
    (resumeLater as unknown as () => void)();
    await until(() => seen.length === 30, 'the rest after resume');
    expect(seen).toEqual(range(0, 30));
  });
});
