/**
 * Corruption of every file kind ferrolog writes: segments, indexes, time
 * indexes, both checkpoints and their `.meta` mirrors, topic metadata,
 * producer ids, the `__consumer_offsets` segments and indexes, the lock and
 * the clean-shutdown marker. Each case flips bits, truncates, appends or
 * writes garbage, zeroes a range or removes a file (one in five cases damages
 * two or three files), then opens the directory, reads every partition and
 * consumes with a group. The cases run in child processes, so a crash is
 * seen and counted, not fatal. Passes only with 0 crashes, 0 untyped errors,
 * 0 wrong bytes delivered and every file ferrolog does not own untouched.
 * CI: 300 cases; FERROLOG_SOAK=1: 10,000 (FERROLOG_CORRUPT_CASES overrides;
 * FERROLOG_CORRUPT_SEED fixes the seeds). A case that delivers a wrong byte
 * keeps its damaged directory, as it was before it was opened, in
 * $TMPDIR/ferrolog-rel-failed/case-<seed>.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { children, readAll, report, run, SOAK } from './common';

const CASES = Number(process.env.FERROLOG_CORRUPT_CASES ?? (SOAK ? 10_000 : 300));
// The cases mostly wait (group joins, idle bounds): four children overlap well on 2 cores.
const LANES = 4;
const KINDS = [
  'log',
  'index',
  'timeindex',
  'checkpoint',
  'checkpoint-meta',
  'topic-meta',
  'producer-ids',
  'offsets-log',
  'offsets-index',
  'offsets-timeindex',
  'lock',
  'marker',
];

interface CaseResult {
  damages: { kind: string; op: string; file: string | null }[];
  open: string;
  readErrors: string[];
  delivered: number;
  wrong: string[];
  consumed: number;
  consumerCrashes: number;
  consumerError?: string;
  untypedCrash?: string;
  /** The case's engine outlived its handles (see below). */
  leaked?: boolean;
  cleanupError?: string;
  foreign: boolean;
}

async function expectedOf(dir: string, work: string): Promise<Record<string, string>> {
  // Read a copy: opening recovers, and the template must stay as it is.
  const copy = join(work, 'expected-copy');
  cpSync(dir, copy, { recursive: true });
  const d = await readAll(copy, 't');
  rmSync(copy, { recursive: true, force: true });
  expect(d.wrong).toBe(0);
  return Object.fromEntries(d.at);
}

/**
 * A case that runs this long is hung (cases take about 0.1 s; the slowest
 * wait out a 200 ms idle bound a few times). The lane kills its child and
 * names the case, its seed and the phase it was in, instead of the whole
 * suite timing out with nothing to replay.
 */
const CASE_HANG_MS = 20_000;

interface Lane {
  crashes: string[];
  hangs: string[];
}

/** Runs cases [from, to) of the job in children, restarting after a crash or a hang. */
async function lane(
  jobFile: string,
  from: number,
  to: number,
  results: Map<number, CaseResult>,
  name: (i: number) => string,
): Promise<Lane> {
  const out: Lane = { crashes: [], hangs: [] };
  let next = from;
  while (next < to) {
    let startAt = -1;
    let startedMs = Date.now();
    let hung = false;
    const { child, exited } = run(
      join(children, 'corrupt.mjs'),
      [jobFile, String(next), String(to)],
      (text) => {
        const at = text.lastIndexOf('start ');
        if (at !== startAt) {
          startAt = at;
          startedMs = Date.now();
        }
      },
    );
    const watchdog = setInterval(() => {
      if (Date.now() - startedMs > CASE_HANG_MS) {
        hung = true;
        child.kill('SIGKILL');
      }
    }, 1_000);
    const exit = await exited.finally(() => clearInterval(watchdog));
    for (const line of exit.stdout.split('\n')) {
      const m = /^done (\d+) (.*)$/.exec(line);
      if (m) results.set(Number(m[1]), JSON.parse(m[2]) as CaseResult);
    }
    const started = [...exit.stdout.matchAll(/^start (\d+)$/gm)].map((m) => Number(m[1]));
    const lastStarted = started.length > 0 ? started[started.length - 1] : next;
    if (exit.code === 0 && exit.signal === null && !results.has(lastStarted)) {
      throw new Error(`corruption child exited early: ${exit.stderr}`);
    }
    if (exit.code === 0 && exit.signal === null) break;
    if (hung) {
      const phases = [...exit.stdout.slice(exit.stdout.lastIndexOf('start ')).matchAll(/^phase (\w+)$/gm)];
      const where = `case ${lastStarted} (${name(lastStarted)}) hung for ${CASE_HANG_MS / 1000} s in phase ${phases.at(-1)?.[1] ?? 'setup'}`;
      console.log(`[reliability] corruption: ${where}`);
      out.hangs.push(where);
    } else {
      // The case in hand crashed the process.
      console.log(
        `[reliability] corruption crash in case ${lastStarted} (code ${exit.code}, signal ${exit.signal}): ${exit.stderr}`,
      );
      out.crashes.push(
        `case ${lastStarted}: code ${exit.code} signal ${exit.signal}: ${exit.stderr.split('\n').slice(0, 6).join(' | ')}`,
      );
    }
    next = lastStarted + 1;
  }
  return out;
}

describe('corruption of every file kind', () => {
  it(
    `${CASES} cases: no crash, typed errors only, no wrong byte, nothing foreign touched`,
    async () => {
      const work = mkdtempSync(join(tmpdir(), 'ferrolog-rel-corrupt-'));
      try {
        const clean = join(work, 'template-clean');
        const crashed = join(work, 'template-crashed');
        const built = await run(join(children, 'template.mjs'), [clean, 'clean']).exited;
        expect(built.stderr).toBe('');
        expect(built.code).toBe(0);
        // Killed mid-write once it is built (never during its setup).
        const crash = run(join(children, 'template.mjs'), [crashed, 'crashed'], (text, child) => {
          if (text.includes('ready')) setTimeout(() => child.kill('SIGKILL'), 150);
        });
        expect((await crash.exited).signal).toBe('SIGKILL');
        const outside = join(work, 'outside.txt');
        writeFileSync(outside, 'beside the data directory\n');
        const seedBase = Number(process.env.FERROLOG_CORRUPT_SEED ?? Date.now() % 1_000_000_000);
        // Printed before the cases run, so a run that hangs or times out can be replayed.
        console.log(`[reliability] corruption: ${CASES} cases from FERROLOG_CORRUPT_SEED=${seedBase}`);
        const job = {
          work,
          templates: {
            clean: { dir: clean, expected: await expectedOf(clean, work) },
            crashed: { dir: crashed, expected: await expectedOf(crashed, work) },
          },
          cases: Array.from({ length: CASES }, (_, i) => ({
            seed: seedBase + i,
            kind: KINDS[i % KINDS.length],
            // Each kind against both templates in turn.
            template: Math.floor(i / KINDS.length) % 2 === 0 ? 'clean' : 'crashed',
          })),
        };
        const jobFile = join(work, 'job.json');
        writeFileSync(jobFile, JSON.stringify(job));
        const results = new Map<number, CaseResult>();
        const per = Math.ceil(CASES / LANES);
        const name = (i: number) => {
          const c = job.cases[i];
          return `seed ${c?.seed}, ${c?.kind}, ${c?.template}`;
        };
        const lanes = await Promise.all(
          Array.from({ length: LANES }, (_, l) =>
            lane(jobFile, l * per, Math.min(CASES, (l + 1) * per), results, name),
          ),
        );
        const crashes = lanes.flatMap((l) => l.crashes);
        const hangs = lanes.flatMap((l) => l.hangs);

        const all = [...results.values()];
        const wrong = [...results].flatMap(([i, r]) => (r.wrong.length > 0 ? [{ case: i, r }] : []));
        const foreign = all.filter((r) => !r.foreign).length;
        // Cases whose engine stayed open after every handle was closed (a
        // failed consumer.connect() once left its handle open).
        const leaked = [...results].filter(([, r]) => r.leaked === true).map(([i]) => i);
        const untyped = all.filter((r) => r.untypedCrash !== undefined).map((r) => r.untypedCrash);
        const byKind: Record<string, number> = {};
        const opens: Record<string, number> = {};
        for (const r of all) {
          for (const d of r.damages) byKind[`${d.kind}/${d.op}`] = (byKind[`${d.kind}/${d.op}`] ?? 0) + 1;
          opens[r.open] = (opens[r.open] ?? 0) + 1;
        }
        report('corruption', {
          cases: CASES,
          seedBase,
          completed: results.size,
          crashes: crashes.length,
          hangs: hangs.length,
          wrongCases: wrong.length,
          untypedConsumerCrashes: untyped.length,
          foreignDamaged: foreign,
          leakedEngines: leaked.length,
          cleanupErrors: all.filter((r) => r.cleanupError !== undefined).length,
          leakedExamples: leaked.slice(0, 3).map((i) => results.get(i)?.damages),
          delivered: all.reduce((s, r) => s + r.delivered + r.consumed, 0),
          withReadErrors: all.filter((r) => r.readErrors.length > 0).length,
          consumerCrashEvents: all.reduce((s, r) => s + r.consumerCrashes, 0),
          opens,
        });
        if (wrong.length > 0) console.log(JSON.stringify(wrong.slice(0, 5)));
        if (process.env.FERROLOG_CORRUPT_DUMP) console.log(JSON.stringify([...results]));
        expect(crashes).toEqual([]);
        expect(hangs).toEqual([]);
        expect(wrong.slice(0, 5)).toEqual([]);
        expect(foreign).toBe(0);
        expect(untyped.slice(0, 3)).toEqual([]);
        // Every handle closed releases the directory, even after a failed connect.
        expect(leaked.slice(0, 3).map((i) => results.get(i)?.damages)).toEqual([]);
        expect(results.size).toBe(CASES);
        expect(readFileSync(outside, 'utf8')).toBe('beside the data directory\n');
        // Every kind was damaged, with every operation that applies to it.
        for (const k of KINDS) expect(Object.keys(byKind).some((key) => key.startsWith(`${k}/`))).toBe(true);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
    SOAK ? 6 * 3_600_000 : 120_000,
  );
});
