/**
 * SIGKILL of producer processes (acks -1, plain and idempotent) and of
 * consumer-group processes (a group of three members, killed and restarted).
 * Checks: no acknowledged message lost, no offset below a committed one left
 * unprocessed (at least once), every delivered byte as sent (values carry
 * their own checksum), and no message written twice.
 * CI: 200 kills; FERROLOG_SOAK=1: 1,000.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Kafka, Log } from '../../ts';
import { makeValue } from './children/values.mjs';
import { children, killOnce, readAll, report, run, SOAK } from './common';

const KILLS = SOAK ? 1000 : 200;
const PER_LANE = KILLS / 4;
const TIMEOUT = SOAK ? 3_600_000 : 120_000;

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferrolog-rel-kill-'));
  const log = Log.open(dir);
  log.createTopic('k', { partitions: 3 });
  void log.close();
  return dir;
}

function lines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('SIGKILL', () => {
  for (const mode of ['acks-1', 'idempotent'] as const) {
    it.concurrent(
      `producer processes (${mode}): ${PER_LANE} kills, nothing acknowledged lost, every byte right`,
      async () => {
        const dir = freshDir();
        try {
          const ackFile = join(dir, '..', `${dir.split('/').pop()}.acks`);
          let kills = 0;
          for (let round = 0; round < PER_LANE; round++) {
            if (await killOnce(join(children, 'producer.mjs'), [dir, ackFile, `r${round}`, mode])) kills++;
          }
          const acked = lines(ackFile).map((l) => l.split(' '));
          rmSync(ackFile, { force: true });
          const log = await readAll(dir, 'k');
          const lost = acked.filter(([id, p, o]) => log.at.get(`${p} ${o}`) !== id).length;
          report(`kill producer ${mode}`, {
            kills,
            acknowledged: acked.length,
            inLog: log.at.size,
            lost,
            wrong: log.wrong,
            duplicates: log.duplicates,
          });
          expect(kills).toBe(PER_LANE);
          expect(acked.length).toBeGreaterThan(0);
          expect(lost).toBe(0);
          expect(log.wrong).toBe(0);
          expect(log.duplicates).toBe(0);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      TIMEOUT,
    );
  }

  for (const lane of [1, 2]) {
    it.concurrent(
      `consumer-group processes (lane ${lane}): ${PER_LANE} kills, nothing skipped, lag 0 at the end`,
      async () => {
        const dir = freshDir();
        const out = join(dir, '..', `${dir.split('/').pop()}.out`);
        try {
          // A backlog to start with, recorded as acknowledged like the child's.
          const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
          const producer = kafka.producer();
          await producer.connect();
          const messages = Array.from({ length: 300 }, (_, i) => ({
            key: `pre-${i}`,
            value: makeValue(`pre-${i}`),
            partition: i % 3,
          }));
          const meta = await producer.send({ topic: 'k', acks: -1, messages });
          const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
          for (const m of messages) {
            const o = base.get(m.partition) as number;
            base.set(m.partition, o + 1);
            appendFileSync(out, `A ${m.key} ${m.partition} ${o}\n`);
          }
          await producer.disconnect();

          let kills = 0;
          for (let round = 0; round < PER_LANE; round++) {
            if (await killOnce(join(children, 'group.mjs'), [dir, out, `g${round}`])) kills++;
          }
          const last = await run(join(children, 'group.mjs'), [dir, out, 'final', 'final']).exited;
          expect(last.stderr).toBe('');
          expect(last.code).toBe(0);
          const end = JSON.parse(last.stdout.trim().split('\n').pop() as string) as {
            committed: { partition: number; offset: string }[];
            high: { partition: number; high: string }[];
          };

          // Replay the record: each start's committed offsets must be covered
          // by what earlier runs processed.
          const processed = new Set<string>();
          let skipped = 0;
          let bad = 0;
          let checks = 0;
          const acked: string[][] = [];
          for (const l of lines(out)) {
            const f = l.split(' ');
            if (f[0] === 'P') {
              processed.add(`${f[1]} ${f[2]}`);
              if (f[3] !== 'ok') bad++;
            } else if (f[0] === 'A') {
              acked.push(f.slice(1));
            } else if (f[0] === 'C') {
              checks++;
              for (let o = 0; o < Number(f[2]); o++) if (!processed.has(`${f[1]} ${o}`)) skipped++;
            }
          }
          let unprocessed = 0;
          for (const { partition, high } of end.high) {
            for (let o = 0; o < Number(high); o++) if (!processed.has(`${partition} ${o}`)) unprocessed++;
          }
          const log = await readAll(dir, 'k');
          const lost = acked.filter(([id, p, o]) => log.at.get(`${p} ${o}`) !== id).length;
          report(`kill group lane ${lane}`, {
            kills,
            committedChecks: checks,
            processed: processed.size,
            acknowledged: acked.length,
            lost,
            skipped,
            unprocessed,
            wrong: bad + log.wrong,
          });
          expect(kills).toBe(PER_LANE);
          expect(skipped).toBe(0);
          expect(unprocessed).toBe(0);
          expect(lost).toBe(0);
          expect(bad).toBe(0);
          expect(log.wrong).toBe(0);
          expect(log.duplicates).toBe(0);
          for (const { partition, offset } of end.committed) {
            expect(offset).toBe(end.high[partition].high);
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
          rmSync(out, { force: true });
        }
      },
      TIMEOUT,
    );
  }
});
