/**
 * A listening broker stays up when the application drops the object
 * `kafka.listen()` returned: the native handle's finalizer would otherwise
 * shut it down at the next garbage collection. Runs in a child with
 * --expose-gc so the collection is forced, not hoped for.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers';

const dist = join(__dirname, '..', 'dist', 'index.js');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('kafka.listen', () => {
  it('keeps serving after its handle is dropped and collected', () => {
    const dir = tempDir();
    dirs.push(dir);
    const script = `
      const net = require('node:net');
      const { Kafka, logLevel } = require(${JSON.stringify(dist)});
      const kafka = new Kafka({ clientId: 'gc', dataDir: ${JSON.stringify(dir)}, logLevel: logLevel.NOTHING });
      const connects = (port) => new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      });
      (async () => {
        let port;
        {
          const server = await kafka.listen({ port: 0 });
          port = server.address.port;
        }
        // Finalizers run some ticks after the collection that found the
        // object dead: collect, allocate, and give them time, several times.
        for (let i = 0; i < 20; i++) {
          global.gc();
          const junk = [];
          for (let j = 0; j < 100000; j++) junk.push({ j });
          await new Promise((r) => setTimeout(r, 100));
        }
        process.stdout.write(String(await connects(port)));
        process.exit(0);
      })().catch((e) => { console.error(e); process.exit(2); });
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('true');
  });
});
