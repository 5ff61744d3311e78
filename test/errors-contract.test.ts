/**
 * The error contract across the binding: a native error carries ferrolog's
 * stable code as its `code` (napi's status) and its message is the text
 * alone, thrown synchronously or rejected from a promise settled on another
 * thread; `fromNative` picks the typed class by that code.
 */
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
