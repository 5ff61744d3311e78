/**
 * Shared pieces of the reliability suite. CI mode is bounded (the whole
 * suite in about a minute and a half on 2 cores); `FERROLOG_SOAK=1`
 * (`npm run soak`) selects the long mode.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { decodeMessages, Log } from '../../ts';
import { checkValue } from './children/values.mjs';

export const SOAK = process.env.FERROLOG_SOAK === '1';
export const root = join(__dirname, '..', '..');
export const children = join(__dirname, 'children');

/** A figure for the record: printed, so `npm run soak` output carries it. */
export function report(name: string, figures: Record<string, unknown>): void {
  console.log(`[reliability] ${name} ${JSON.stringify(figures)}`);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function run(script: string, args: string[], onStdout?: (text: string, child: ChildProcess) => void) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    stdout += d;
    onStdout?.(stdout, child);
  });
  child.stderr.on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exited };
}

/**
 * Runs `script` and SIGKILLs it: mostly a random 0-120 ms after it says
 * `ready` (mid-work), one time in ten at a random moment of its start-up
 * (mid-open, mid-recovery). Resolves true when our SIGKILL ended it; a
 * child that ended on its own is a failure, reported with its stderr.
 */
export async function killOnce(script: string, args: string[]): Promise<boolean> {
  const early = Math.random() < 0.1;
  let armed = false;
  const arm = (child: ChildProcess, ms: number) => {
    if (armed) return;
    armed = true;
    setTimeout(() => child.kill('SIGKILL'), ms);
  };
  const { child, exited } = run(script, args, (text, c) => {
    if (!early && text.includes('ready')) arm(c, Math.random() * 120);
  });
  if (early) arm(child, Math.random() * 300);
  // A bound, not a timing assertion: a child that never gets ready is killed too.
  const stuck = setTimeout(() => arm(child, 0), 20_000);
  const exit = await exited;
  clearTimeout(stuck);
  if (exit.signal === 'SIGKILL') return true;
  throw new Error(`child ended on its own (code ${exit.code}, signal ${exit.signal}): ${exit.stderr}`);
}

export interface Delivered {
  /** `partition offset` -> id, for every message in the log. */
  at: Map<string, string>;
  /** Messages whose value did not verify. */
  wrong: number;
  /** Ids found more than once. */
  duplicates: number;
  high: number[];
}

/** Reads every message of `topic` and verifies each value. */
export async function readAll(dataDir: string, topic: string): Promise<Delivered> {
  const log = Log.open(dataDir);
  const out: Delivered = { at: new Map(), wrong: 0, duplicates: 0, high: [] };
  const ids = new Set<string>();
  try {
    const n = log.partitionCount(topic);
    for (let p = 0; p < n; p++) {
      const w = log.watermarks(topic, p);
      out.high.push(w.highWatermark);
      let offset = w.logStartOffset;
      while (offset < w.highWatermark) {
        const r = log.read(topic, p, offset);
        for (const m of decodeMessages(r.batches, offset)) {
          const id = checkValue(m.value);
          if (id === null || id !== m.key?.toString()) out.wrong++;
          else if (ids.has(id)) out.duplicates++;
          else ids.add(id);
          out.at.set(`${p} ${m.offset}`, id ?? '');
        }
        offset = r.nextOffset;
      }
    }
  } finally {
    await log.close();
  }
  return out;
}
