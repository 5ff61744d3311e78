/**
 * The error contract across the binding: a native error carries ferrolog's
 * stable code as its `code` (napi's status) and its message is the text
 * alone, thrown synchronously or rejected from a promise settled on another
 * thread; `fromNative` picks the typed class by that code.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromNative, InvalidArgumentError, TopicExistsError } from '../ts/errors';
import { binding } from '../ts/native';
import { connectRemote } from '../ts/transport/native-remote';
import { tempDir } from './helpers';

function caught(f: () => unknown): Error & { code?: string } {
  try {
    f();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('did not throw');
}

describe('error contract', () => {
  it('throws with the code as `code` and the text alone as the message', async () => {
    const e = caught(() => binding.NativeLog.open(''));
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toBe('dataDir must be a non-empty path');
    expect(fromNative(e)).toBeInstanceOf(InvalidArgumentError);
    const log = binding.NativeLog.open(tempDir());
    log.createTopic('t', 1);
    const exists = caught(() => log.createTopic('t', 1));
    expect(exists.code).toBe('ERR_TOPIC_EXISTS');
    expect(exists.message).not.toMatch(/^ERR_/);
    expect(fromNative(exists)).toBeInstanceOf(TopicExistsError);
    await log.close();
  });

  it('rejects promises with the code as `code`', async () => {
    const missing = join(tempDir(), 'no', 'such');
    const verify = await binding.verifyDataDir(missing, false).catch((e: unknown) => e);
    expect((verify as { code?: string }).code).toBe('ERR_IO');
    expect((verify as Error).message).not.toMatch(/^ERR_/);
    // Not even repair creates a directory.
    const repair = await binding.verifyDataDir(missing, true).catch((e: unknown) => e);
    expect((repair as { code?: string }).code).toBe('ERR_IO');
    expect(existsSync(missing)).toBe(false);
    const dump = await binding.dumpSegment(join(missing, 'x.log'), 0, 1, false).catch((e: unknown) => e);
    expect((dump as { code?: string }).code).toBe('ERR_IO');
    // The remote client's rejections, from its own threads.
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as { port: number };
    server.close();
    const refused = await connectRemote({
      brokers: [`127.0.0.1:${port}`],
      connectionTimeoutMs: 2000,
      retries: 0,
    }).catch((e: unknown) => e);
    expect((refused as { code?: string }).code).toBe('ERR_CONNECTION');
    expect((refused as Error).message).not.toMatch(/^ERR_/);
  });
});

describe("Kafka's numeric error codes", () => {
  it('come from one table that the transport, the group client and the errors agree with', async () => {
    const { KAFKA_ERRORS, KafkaErrorCode, NAMED_UNLIKE_KAFKAJS } = await import('../ts/kafka-codes');
    const { kafkaError } = await import('../ts/transport/kafka-errors');
    const { ErrorCodes, groupError } = await import('../ts/group/errors');
    const { PROTOCOL_RETRIABLE } = await import('../ts/errors');
    for (const [code, [type, retriable]] of Object.entries(KAFKA_ERRORS)) {
      if (Number(code) === 0) continue;
      const e = kafkaError(Number(code));
      expect([e.code, e.type, e.retriable]).toEqual([Number(code), type, retriable]);
      expect(PROTOCOL_RETRIABLE[type]).toBe(NAMED_UNLIKE_KAFKAJS.has(Number(code)) ? undefined : retriable);
    }
    for (const [name, code] of Object.entries(ErrorCodes)) expect(KafkaErrorCode[name]).toBe(code);
    const rebalance = groupError(KafkaErrorCode.UNKNOWN_MEMBER_ID as number);
    expect([rebalance.name, rebalance.type, rebalance.code]).toEqual([
      'KafkaJSRebalanceError',
      'UNKNOWN_MEMBER_ID',
      25,
    ]);
  });
});
