/**
 * The producer over its transport seam, with a scripted transport: what
 * crosses the seam (one call per flush, several partitions in it, framed
 * batches with the idempotent producer's identity and sequences) and what
 * the producer makes of the answers, for an asynchronous transport like the
 * remote one. The real transports run the public-API suites (producer,
 * robustness, remote).
 */
import { describe, expect, it } from 'vitest';
import { createLogger, logLevel } from '../ts/client/logger';
import { decodeMessages } from '../ts/codec/decoder';
import { KafkaJSError, KafkaJSNonRetriableError, KafkaJSPartialSendError } from '../ts/errors';
import { Producer } from '../ts/producer/producer';
import {
  NOT_SENT,
  type ProduceFrame,
  type ProduceResult,
  type ProducerIdentity,
  type ProducerTransport,
  type TopicMetadata,
} from '../ts/producer/transport';
import { KafkaJSTopicNotFound } from '../ts/producer/types';

interface Call {
  acks: number;
  frames: {
    topic: string;
    partition: number;
    producerId: number;
    epoch: number;
    sequence: number;
    values: string[];
  }[];
}

/** An in-memory cluster behind the seam; `answer` may script each call's results. */
class FakeTransport implements ProducerTransport {
  readonly broker = 'fake';
  retriesInside = true;
  /** When true, `produce` answers synchronously, having decoded (copied) every frame, as the local engine does. */
  copiesFrames = false;
  calls: Call[] = [];
  logs = new Map<string, string[]>();
  topics = new Map<string, number>([['t', 4]]);
  renewed: ProducerIdentity[] = [];
  private nextId = 7;
  /** Scripted results of a call (null: write that frame), or an Error to lose the whole call. */
  answer: ((call: Call, index: number) => (ProduceResult | null)[] | Error | null) | null = null;
  /** When set, answers wait for it (a request in flight). */
  gate: Promise<void> | null = null;

  async connect(): Promise<void> {}
  async close(): Promise<void> {}

  topic(topic: string, create: boolean): Promise<TopicMetadata> {
    return Promise.resolve().then(() => {
      let n = this.topics.get(topic);
      if (n === undefined) {
        if (!create) throw new KafkaJSTopicNotFound(topic);
        n = 1;
        this.topics.set(topic, n);
      }
      return { partitions: n, batchBytesMax: 1 << 20 };
    });
  }

  initProducerId(): Promise<ProducerIdentity> {
    return Promise.resolve({ producerId: this.nextId++, producerEpoch: 0 });
  }

  renewProducerId(current: ProducerIdentity): Promise<ProducerIdentity> {
    this.renewed.push(current);
    return Promise.resolve({ producerId: current.producerId, producerEpoch: current.producerEpoch + 1 });
  }

  produce(
    acks: -1 | 0 | 1,
    _timeout: number,
    frames: ProduceFrame[],
  ): ProduceResult[] | Promise<ProduceResult[]> {
    const call: Call = {
      acks,
      frames: frames.map((f) => ({
        topic: f.topic,
        partition: f.partition,
        producerId: Number(f.batch.readBigInt64BE(43)),
        epoch: f.batch.readInt16BE(51),
        sequence: f.batch.readInt32BE(53),
        values: decodeMessages(f.batch, 0).map((m) => String(m.value)),
      })),
    };
    const index = this.calls.length;
    this.calls.push(call);
    if (this.copiesFrames) return this.answerCall(call, index, frames);
    return (this.gate ?? Promise.resolve()).then(() => this.answerCall(call, index, frames));
  }

  private answerCall(call: Call, index: number, frames: ProduceFrame[]): ProduceResult[] {
    const scripted = this.answer?.(call, index) ?? null;
    if (scripted instanceof Error) throw scripted;
    return frames.map((f, i) => {
      const r = scripted?.[i];
      if (r !== undefined && r !== null) return r;
      const key = `${f.topic}-${f.partition}`;
      const log = this.logs.get(key) ?? [];
      this.logs.set(key, log);
      const baseOffset = log.length;
      log.push(...(call.frames[i]?.values ?? []));
      return { baseOffset, logAppendTime: -1, logStartOffset: 0, durable: null, error: null };
    });
  }
}

function producerOver(transport: FakeTransport, config: ConstructorParameters<typeof Producer>[1] = {}) {
  const logger = createLogger(logLevel.NOTHING);
  return new Producer({ clientId: 'seam', logger, retry: { retries: 0 }, transport }, config);
}

const failed = (error: Error): ProduceResult => ({
  baseOffset: -1,
  logAppendTime: -1,
  logStartOffset: -1,
  durable: null,
  error,
});

describe('the producer over its transport seam', () => {
  it('hands one flush of several partitions to the transport in one call, and answers per partition', async () => {
    const transport = new FakeTransport();
    const producer = producerOver(transport);
    await producer.connect();
    const sends = [0, 1, 2, 3].map((p) =>
      producer.send({ topic: 't', acks: 1, messages: [{ value: `a${p}`, partition: p }] }),
    );
    const batch = producer.sendBatch({
      acks: -1,
      topicMessages: [{ topic: 't', messages: [0, 1, 2, 3].map((p) => ({ value: `b${p}`, partition: p })) }],
    });
    const [single, ...rest] = await Promise.all([...sends, batch]);
    expect(transport.calls).toHaveLength(1);
    const call = transport.calls[0] as Call;
    // The strongest acks of the flush's sends.
    expect(call.acks).toBe(-1);
    expect(call.frames.map((f) => [f.partition, f.values])).toEqual(
      [0, 1, 2, 3].map((p) => [p, [`a${p}`, `b${p}`]]),
    );
    expect(single?.map((r) => [r.partition, r.baseOffset])).toEqual([[0, '0']]);
    expect(rest[3]?.map((r) => [r.partition, r.baseOffset])).toEqual([0, 1, 2, 3].map((p) => [p, '1']));
    await producer.disconnect();
  });

  it('while a call is in flight, later sends gather and leave in one call after it, in order', async () => {
    const transport = new FakeTransport();
    const producer = producerOver(transport);
    await producer.connect();
    await producer.send({ topic: 't', acks: 1, messages: [{ value: 'warm', partition: 0 }] });
    let open!: () => void;
    transport.gate = new Promise((r) => {
      open = r;
    });
    const first = producer.send({ topic: 't', acks: 1, messages: [{ value: 'a', partition: 0 }] });
    const later: Promise<unknown>[] = [];
    for (const v of ['b', 'c', 'd']) {
      // Separate ticks: without the gathering each would be a call of its own.
      await new Promise((r) => setImmediate(r));
      later.push(producer.send({ topic: 't', acks: 1, messages: [{ value: v, partition: 0 }] }));
    }
    expect(transport.calls).toHaveLength(2);
    transport.gate = null;
    open();
    await Promise.all([first, ...later]);
    expect(transport.calls.map((c) => c.frames.map((f) => f.values.join()))).toEqual([
      ['warm'],
      ['a'],
      ['b,c,d'],
    ]);
    expect(transport.logs.get('t-0')).toEqual(['warm', 'a', 'b', 'c', 'd']);
    await producer.disconnect();
  });

  it("waits for an unknown topic's metadata, and queues nothing for a topic that does not exist", async () => {
    const transport = new FakeTransport();
    const producer = producerOver(transport, { allowAutoTopicCreation: false });
    await producer.connect();
    await expect(producer.send({ topic: 'missing', messages: [{ value: 'x' }] })).rejects.toBeInstanceOf(
      KafkaJSTopicNotFound,
    );
    await expect(
      producer.send({ topic: 't', messages: [{ value: 'x', partition: 9 }] }),
    ).rejects.toBeInstanceOf(KafkaJSNonRetriableError);
    expect(transport.calls).toHaveLength(0);
    const [r] = await producer.send({ topic: 't', acks: 1, messages: [{ value: 'x', partition: 2 }] });
    expect(r?.partition).toBe(2);
    expect(transport.calls).toHaveLength(1);
    await producer.disconnect();
  });

  it('reports the written partitions and the failed ones of one call', async () => {
    const transport = new FakeTransport();
    const producer = producerOver(transport);
    await producer.connect();
    const tooLarge = new KafkaJSNonRetriableError('MESSAGE_TOO_LARGE');
    transport.answer = (call) => call.frames.map((f) => (f.partition === 1 ? failed(tooLarge) : null));
    const err = await producer
      .send({ topic: 't', messages: [0, 1, 2].map((p) => ({ value: `v${p}`, partition: p })) })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(KafkaJSPartialSendError);
    const partial = err as KafkaJSPartialSendError;
    expect(partial.written.map((r) => r.partition)).toEqual([0, 2]);
    expect(partial.failed.map((f) => [f.partition, f.error])).toEqual([[1, tooLarge]]);
    await producer.disconnect();
  });

  it('an idempotent producer frames its identity and sequences, and takes a new epoch when a call is lost', async () => {
    const transport = new FakeTransport();
    const producer = producerOver(transport, { idempotent: true });
    await producer.connect();
    await producer.send({
      topic: 't',
      messages: [
        { value: 'a', partition: 0 },
        { value: 'b', partition: 1 },
      ],
    });
    await producer.send({ topic: 't', messages: [{ value: 'c', partition: 0 }] });
    // The next call's fate is unknown (a lost connection).
    transport.answer = (_call, index) => (index === 2 ? new KafkaJSError('connection lost') : null);
    await expect(producer.send({ topic: 't', messages: [{ value: 'd', partition: 0 }] })).rejects.toThrow(
      'connection lost',
    );
    await producer.send({
      topic: 't',
      messages: [
        { value: 'e', partition: 0 },
        { value: 'f', partition: 1 },
      ],
    });
    await producer.disconnect();
    const frames = transport.calls.flatMap((c) => c.frames);
    expect(frames.map((f) => [f.values.join(), f.producerId, f.epoch, f.sequence])).toEqual([
      ['a', 7, 0, 0],
      ['b', 7, 0, 0],
      ['c', 7, 0, 1],
      ['d', 7, 0, 2],
      // A new epoch: every partition's sequences start again at 0.
      ['e', 7, 1, 0],
      ['f', 7, 1, 0],
    ]);
    expect(transport.renewed).toEqual([{ producerId: 7, producerEpoch: 0 }]);
  });

  it('gives a rejected batch its sequence back, so the next one is in order', async () => {
    const transport = new FakeTransport();
    const producer = producerOver(transport, { idempotent: true });
    await producer.connect();
    await producer.send({ topic: 't', messages: [{ value: 'a', partition: 0 }] });
    transport.answer = (call, index) =>
      index === 1 ? call.frames.map(() => failed(new KafkaJSNonRetriableError('INVALID_RECORD'))) : null;
    await expect(producer.send({ topic: 't', messages: [{ value: 'x', partition: 0 }] })).rejects.toThrow(
      'INVALID_RECORD',
    );
    await producer.send({ topic: 't', messages: [{ value: 'b', partition: 0 }] });
    await producer.disconnect();
    const frames = transport.calls.flatMap((c) => c.frames);
    expect(frames.map((f) => [f.values.join(), f.epoch, f.sequence])).toEqual([
      ['a', 0, 0],
      ['x', 0, 1],
      ['b', 0, 1],
    ]);
    expect(transport.renewed).toEqual([]);
  });

  it('retries a frame the transport could not write before the frames it did not try, in order', async () => {
    const transport = new FakeTransport();
    transport.retriesInside = false;
    const logger = createLogger(logLevel.NOTHING);
    const producer = new Producer(
      { clientId: 'seam', logger, retry: { retries: 2, initialRetryTime: 1 }, transport },
      { idempotent: true, batch: { size: 60 } },
    );
    await producer.connect();
    // One call: partition 0's first batch fails retriably, its second is not tried.
    transport.answer = (call, index) =>
      index === 0
        ? call.frames.map((f, i) =>
            f.partition === 0 && i === 0
              ? failed(new KafkaJSError('NOT_LEADER_OR_FOLLOWER', { retriable: true }))
              : f.partition === 0
                ? failed(NOT_SENT)
                : null,
          )
        : null;
    const r = await producer.send({
      topic: 't',
      messages: [
        { value: 'p0-first'.padEnd(40, '.'), partition: 0 },
        { value: 'p0-second'.padEnd(40, '.'), partition: 0 },
        { value: 'p1'.padEnd(40, '.'), partition: 1 },
      ],
    });
    await producer.disconnect();
    expect(r.map((m) => [m.partition, m.baseOffset])).toEqual([
      [0, '0'],
      [1, '0'],
    ]);
    expect(transport.logs.get('t-0')?.map((v) => v.replace(/\.+$/, ''))).toEqual(['p0-first', 'p0-second']);
    const frames = transport.calls.flatMap((c) => c.frames);
    // The retry carries the same sequence; the skipped frame keeps its own.
    expect(frames.map((f) => [f.partition, f.values[0]?.replace(/\.+$/, ''), f.sequence])).toEqual([
      [0, 'p0-first', 0],
      [0, 'p0-second', 1],
      [1, 'p1', 0],
      [0, 'p0-first', 0],
      [0, 'p0-second', 1],
    ]);
  });

  it('over a transport that copies frames, batches encoded into reused memory arrive intact, through growth and retries', async () => {
    const transport = new FakeTransport();
    transport.copiesFrames = true;
    transport.retriesInside = false;
    const logger = createLogger(logLevel.NOTHING);
    // Small batches: one flush of many messages makes many batches, more
    // bytes than the first arena holds, so it grows in the middle of a flush.
    const producer = new Producer(
      { clientId: 'seam', logger, retry: { retries: 3, initialRetryTime: 20 }, transport },
      { idempotent: true, batch: { size: 2000 } },
    );
    await producer.connect();
    // The third call fails retriably on its first frame: the retry sends that
    // frame's bytes again after later flushes were encoded.
    transport.answer = (call, index) =>
      index === 2
        ? call.frames.map((f, i) =>
            i === 0
              ? failed(new KafkaJSError('NOT_LEADER_OR_FOLLOWER', { retriable: true }))
              : // As the transport contract says: later frames of the failed one's partition are not tried.
                f.partition === call.frames[0]?.partition
                ? failed(NOT_SENT)
                : null,
          )
        : null;
    const expected = new Map<number, string[]>();
    const sends: Promise<unknown>[] = [];
    for (let round = 0; round < 6; round++) {
      const messages = [];
      // Varying sizes, so each flush lays its batches out differently.
      for (let i = 0; i < 40 + round * 37; i++) {
        const partition = (i + round) % 4;
        const value = `r${round}-m${i}-`.padEnd(
          10 + ((i * 7 + round * 13) % 300),
          String.fromCharCode(97 + (i % 26)),
        );
        messages.push({ value, partition });
        expected.set(partition, [...(expected.get(partition) ?? []), value]);
      }
      sends.push(producer.send({ topic: 't', messages }));
      // Rounds 0 and 1 are flushed on their own (the second reuses the
      // arena); rounds 3-5 are sent while the retry of round 2's failed frame
      // waits, and gather behind it.
      if (round < 2) await Promise.all(sends);
      else await new Promise((r) => setImmediate(r));
    }
    await Promise.all(sends);
    await producer.disconnect();
    for (const [partition, values] of expected) expect(transport.logs.get(`t-${partition}`)).toEqual(values);
    expect(transport.calls.length).toBeGreaterThan(3);
  });
});
