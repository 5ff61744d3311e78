/**
 * The soak (bench/soak/soak.mjs, in a child process so its RSS is its own):
 * 8 producers, 8 consumers in 3 groups, random disconnects and reconnects.
 * CI runs it for 15 s; `npm run soak` for FERROLOG_SOAK_MINUTES (default 30).
 *
 * Passes with no send error, no skipped or unprocessed offset, no wrong
 * byte, every group's lag back to 0, no eviction, no partition handled by
 * two members at once (overlapping handler spans, or a (member, generation)
 * handling a partition again after another took it over), and RSS within
 * bounds:
 * - anonymous RSS (heap and native allocations) may not grow by more than
 *   64 MiB from the second quarter of the run to the last: the working set
 *   is bounded by design (fetches per partition, in-flight sends), so steady
 *   growth is a leak;
 * - total RSS also counts mapped segment pages, bounded by retention
 *   (6 partitions x (16 MiB retention.bytes + a 2 MiB active segment), about
 *   110 MiB, plus the offsets topic): 64 + 120 MiB of growth at most.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { report, root, run, SOAK } from './common';

const SECONDS = SOAK ? Number(process.env.FERROLOG_SOAK_MINUTES ?? 30) * 60 : 15;

describe('soak', () => {
  it(
    `8 producers, 8 consumers, 3 groups, random disconnects for ${SECONDS} s`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ferrolog-rel-soak-'));
      try {
        const exit = await run(join(root, 'bench', 'soak', 'soak.mjs'), [
          '--seconds',
          String(SECONDS),
          '--data-dir',
          dir,
        ]).exited;
        expect(exit.stderr).toBe('');
        expect(exit.signal).toBeNull();
        expect(exit.code).toBe(0);
        const r = JSON.parse(exit.stdout.trim().split('\n').pop() as string);
        report('soak', r);
        expect(r.sent).toBeGreaterThan(0);
        expect(r.sendErrors).toBe(0);
        expect(r.disconnects).toBeGreaterThan(0);
        expect(r.skipped).toBe(0);
        expect(r.unprocessed).toBe(0);
        expect(r.wrong).toBe(0);
        expect(r.lags).toEqual([0, 0, 0]);
        expect(r.evictions).toBe(0);
        expect(r.examples).toEqual([]);
        expect(r.overlaps).toBe(0);
        expect(r.returns).toBe(0);
        expect(r.anonGrowthMiB).toBeLessThanOrEqual(64);
        expect(r.rssGrowthMiB).toBeLessThanOrEqual(64 + 120);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    (SECONDS + 300) * 1000,
  );
});
