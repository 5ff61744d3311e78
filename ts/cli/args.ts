/**
 * The CLI's argument parser: global options are accepted anywhere on the
 * line (`ferrolog --data-dir D topics list` and `ferrolog topics list
 * --data-dir D` are the same), a command's own options after its name, and
 * an unknown option is answered with the nearest known one.
 */
import { parseArgs } from 'node:util';

/** An error the user caused: printed as one line, exit code 1. */
export class UsageError extends Error {}

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
}
export type OptionSpecs = Record<string, OptionSpec>;
export type Values = Record<string, string | boolean | string[] | undefined>;

/** Options every command takes: where the data is, and how to reach brokers. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  'data-dir': { type: 'string' },
  brokers: { type: 'string', short: 'b' },
  ssl: { type: 'boolean' },
  'ssl-ca': { type: 'string' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
  'ssl-servername': { type: 'string' },
  'sasl-mechanism': { type: 'string' },
  'sasl-username': { type: 'string' },
  'sasl-password': { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
};

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/** The closest of `names` to `word`, when it is close enough to be a typo. */
export function nearest(word: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const n of names) {
    const d = editDistance(word, n);
    if (d < bestD) {
      best = n;
      bestD = d;
    }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** `; did you mean "x"?` when `word` looks like a typo of one of `names`, else nothing. */
export function suggest(word: string | undefined, names: string[]): string {
  const near = word === undefined ? undefined : nearest(word, names);
  return near === undefined ? '' : `; did you mean "${near}"?`;
}

/**
 * Finds the command: the first word that is not a global option or the
 * value of one. Returns it and the rest of the line without it.
 */
export function splitCommand(argv: string[]): { command: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') break;
    if (a.startsWith('-')) {
      const name = a.startsWith('--') ? a.slice(2).split('=')[0] : undefined;
      const short = a.length === 2 && !a.startsWith('--') ? a.slice(1) : undefined;
      const spec =
        name !== undefined
          ? GLOBAL_OPTIONS[name as string]
          : Object.values(GLOBAL_OPTIONS).find((s) => s.short === short);
      if (spec?.type === 'string' && !a.includes('=')) i++;
      continue;
    }
    return { command: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { command: undefined, rest: argv };
}

/** Parses a command's line (global options anywhere), strictly. */
export function parse(argv: string[], options: OptionSpecs): { values: Values; positionals: string[] } {
  const all = { ...options, ...GLOBAL_OPTIONS };
  try {
    const r = parseArgs({ args: argv, allowPositionals: true, strict: true, options: all });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    const err = e as Error & { code?: string };
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec(err.message);
    if (unknown) {
      const near = nearest(unknown[2] as string, Object.keys(all));
      throw new UsageError(
        `Unknown option '${unknown[1]}${unknown[2]}'${near ? `; did you mean '--${near}'?` : ''}`,
      );
    }
    throw new UsageError(err.message);
  }
}

export function intOption(values: Values, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isSafeInteger(n))
    throw new UsageError(`--${name} must be an integer, not "${String(v)}"`);
  return n;
}

export function stringOption(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function configs(values: Values): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (values.config as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--config takes key=value, not "${kv}"`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}
