/**
 * What the CLI prints: aligned tables, progress lines on a terminal only
 * (so pipes get data alone), and keys and values in a chosen encoding,
 * never with bytes silently replaced.
 */
import { isUtf8 } from 'node:buffer';
import { UsageError, type Values } from './args';

/** Aligned columns for terminals and pipes alike. */
export function printTable(rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0] as object);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) =>
    cells
      .map((s, i) => s.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(cols.map((c) => c.toUpperCase()))}\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map((c) => String(r[c])))}\n`);
}

/** Writes to stdout, resolving only when it can take more (backpressure). */
export function write(s: string | Buffer): Promise<void> | undefined {
  if (!process.stdout.write(s)) return new Promise<void>((r) => process.stdout.once('drain', () => r()));
  return undefined;
}

/** A status line on stderr, redrawn at most every 250 ms, only on a terminal. */
export class Progress {
  private readonly started = Date.now();
  private last = 0;
  constructor(
    private readonly label: string,
    private readonly enabled = process.stderr.isTTY === true,
  ) {}

  /** `done` of `total` units (bytes or messages); total 0 when unknown. */
  update(done: number, total: number, unit: 'bytes' | 'messages', force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 250) return;
    this.last = now;
    const elapsed = (now - this.started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const rateText = unit === 'bytes' ? `${(rate / 1e6).toFixed(1)} MB/s` : `${rate.toFixed(0)} msg/s`;
    let text: string;
    if (total > 0) {
      const frac = Math.min(1, done / total);
      const eta = rate > 0 ? Math.max(0, total - done) / rate : 0;
      const bar = '#'.repeat(Math.round(frac * 30)).padEnd(30, '.');
      text = `${this.label} [${bar}] ${(frac * 100).toFixed(0)}% ${rateText} ETA ${eta.toFixed(0)}s`;
    } else {
      text = `${this.label}: ${done} ${unit}, ${rateText}`;
    }
    process.stderr.write(`\r\u001b[2K${text}`);
  }

  end(): void {
    if (this.enabled) process.stderr.write('\r\u001b[2K');
  }
}

export type Encoding = 'utf8' | 'base64' | 'hex';
const ENCODINGS: Encoding[] = ['utf8', 'base64', 'hex'];

export function encodingOption(values: Values, name: string): Encoding {
  const v = (values[name] as string | undefined) ?? 'utf8';
  if (!ENCODINGS.includes(v as Encoding))
    throw new UsageError(`--${name} must be utf8, base64 or hex, not "${v}"`);
  return v as Encoding;
}

/**
 * Bytes as text in `encoding`. Bytes that are not UTF-8 are never turned
 * into U+FFFD: asked for utf8, they come out as base64 and `fellBack` says so.
 */
export function encodeBytes(b: Buffer, encoding: Encoding): { text: string; fellBack: boolean } {
  if (encoding === 'utf8') {
    if (isUtf8(b)) return { text: b.toString('utf8'), fellBack: false };
    return { text: b.toString('base64'), fellBack: true };
  }
  return { text: b.toString(encoding), fellBack: false };
}

export function decodeText(s: string, encoding: Encoding, what: string): Buffer {
  if (encoding === 'utf8') return Buffer.from(s, 'utf8');
  const re = encoding === 'hex' ? /^(?:[0-9a-fA-F]{2})*$/ : /^[A-Za-z0-9+/]*={0,2}$/;
  if (!re.test(s) || (encoding === 'base64' && s.length % 4 !== 0))
    throw new UsageError(`${what} is not valid ${encoding}`);
  return Buffer.from(s, encoding);
}

export interface PrintedMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, unknown>;
}

/** One consumed message in `--format value` (raw bytes) or `json` (one object per line). */
export function formatMessage(
  format: 'value' | 'json',
  enc: { key: Encoding; value: Encoding },
  topic: string,
  partition: number,
  m: PrintedMessage,
): string | Buffer {
  if (format === 'value') {
    // The value's own bytes, as kcat prints them: nothing is re-encoded.
    return m.value === null ? '\n' : Buffer.concat([m.value, Buffer.from('\n')]);
  }
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(m.headers ?? {}))
    headers[k] = Array.isArray(v) ? v.map(String) : String(v);
  const out: Record<string, unknown> = { topic, partition, offset: m.offset, timestamp: m.timestamp };
  for (const field of ['key', 'value'] as const) {
    const b = m[field];
    if (b === null) {
      out[field] = null;
      continue;
    }
    const e = encodeBytes(b, enc[field]);
    out[field] = e.text;
    if (e.fellBack) out[`${field}Encoding`] = 'base64';
  }
  out.headers = headers;
  return `${JSON.stringify(out)}\n`;
}
