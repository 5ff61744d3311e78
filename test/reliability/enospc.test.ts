/**
 * ENOSPC on a real small filesystem: as root, a 4 MiB tmpfs is mounted for
 * the test (and unmounted after); producer processes (acks -1, plain and
 * idempotent) write until the disk is full. Every acknowledged message
 * (including the partitions a partial send reports as written) must be
 * readable afterwards, every send after the disk filled must fail with a
 * typed error, the process must not die, and the log must reopen and take
 * appends again once space is freed.
 *
 * EIO cannot be produced with tmpfs (it never reports I/O errors); the
 * engine's storage-seam tests (crates/engine/tests) inject EIO on write and
 * fsync instead. Without root (or where mounting is refused) these tests are
 * skipped, and say so.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../ts';
import { collectGarbage } from '../helpers';
import { children, readAll, report, run } from './common';

const isRoot = process.getuid?.() === 0;

function mountTmpfs(): { dir: string; reason: string | null } {
  const dir = mkdtempSync(join(tmpdir(), 'ferrolog-rel-enospc-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' });
    return { dir, reason: null };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { dir, reason: String((e as { stderr?: Buffer }).stderr ?? e) };
  }
}

async function unmount(dir: string): Promise<void> {
  // Views read earlier keep their segment mapped until they are collected.
  await collectGarbage();
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    // Still busy: detach it now (the kernel frees it when the last user goes).
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
  rmSync(dir, { recursive: true, force: true });
}

describe('ENOSPC on a 4 MiB tmpfs', () => {
  if (!isRoot) console.warn('[reliability] ENOSPC tests skipped: not root, cannot mount a tmpfs');
  for (const mode of ['plain', 'idempotent'] as const) {
    it.skipIf(!isRoot)(
      `producers (${mode}, acks -1) into a full disk: nothing acknowledged lost`,
      async (ctx) => {
        const fs = mountTmpfs();
        if (fs.reason !== null) {
          console.warn(`[reliability] ENOSPC test skipped: mount failed: ${fs.reason}`);
          ctx.skip();
          return;
        }
        const ackFile = join(tmpdir(), `ferrolog-rel-enospc-${process.pid}-${mode}.acks`);
        try {
          const dataDir = join(fs.dir, 'data');
          const log = Log.open(dataDir);
          log.createTopic('full', { partitions: 3, config: { 'segment.bytes': 262144 } });
          await log.close();
          // Space to free later, so the log can be shown to take appends again.
          const filler = join(fs.dir, 'filler');
          writeFileSync(filler, Buffer.alloc(512 * 1024, 1));

          const filled = await run(join(children, 'enospc.mjs'), [dataDir, ackFile, mode]).exited;
          expect(filled.signal).toBeNull();
          expect(filled.stderr).toBe('');
          expect(filled.code).toBe(0);
          const { errors } = JSON.parse(filled.stdout.trim()) as {
            errors: { name: string; code?: string; message?: string }[];
          };
          // Three lanes each stopped by a failure, and five sends after: all typed, none sent.
          expect(errors.length).toBe(8);
          for (const e of errors) {
            expect(e.name).toMatch(/^KafkaJS|Error$/);
            expect(e.code).toBe('ERR_IO');
          }
          expect(errors.some((e) => /No space left on device/.test(e.message ?? ''))).toBe(true);

          const acked = () =>
            readFileSync(ackFile, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => l.split(' '));
          const before = acked();
          const full = await readAll(dataDir, 'full');
          const lostFull = before.filter(([id, p, o]) => full.at.get(`${p} ${o}`) !== id).length;

          unlinkSync(filler);
          const again = await run(join(children, 'enospc.mjs'), [dataDir, ackFile, 'append']).exited;
          expect(again.stderr).toBe('');
          expect(again.code).toBe(0);
          const after = acked();
          const freed = await readAll(dataDir, 'full');
          const lostAfter = after.filter(([id, p, o]) => freed.at.get(`${p} ${o}`) !== id).length;
          report(`enospc ${mode}`, {
            acknowledgedWhenFull: before.length,
            inLog: full.at.size,
            lost: lostFull,
            wrong: full.wrong,
            acknowledgedAfterFreeing: after.length - before.length,
            lostAfterFreeing: lostAfter,
            firstError: errors[0],
          });
          expect(before.length).toBeGreaterThan(100);
          expect(lostFull).toBe(0);
          expect(full.wrong).toBe(0);
          expect(full.duplicates).toBe(0);
          expect(after.length - before.length).toBe(100);
          expect(lostAfter).toBe(0);
          expect(freed.wrong).toBe(0);
        } finally {
          rmSync(ackFile, { force: true });
          await unmount(fs.dir);
        }
      },
    );
  }
});
