#!/usr/bin/env node
/**
 * The `ferrolog` command: topics, produce, consume, groups and lag, dump,
 * verify, bench. Conventions follow Kafka's shell tools and kcat.
 *
 * Output pipes well: progress bars only when stderr is a terminal, no
 * colours, and errors are one clear line (with a stack under --verbose)
 * and a non-zero exit code.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Kafka } from '../client/kafka';
import { decodeMessages, readBatchInfo } from '../codec';
import { HEADER_BYTES } from '../codec/format';
import { KafkaJSError, LockedError } from '../errors';
import { AssignerProtocol } from '../group/assigners';
import { Log } from '../log';
import { binding } from '../native';
import { mirrorCommand } from './mirror';
import { serve } from './serve';

/** An error the user caused: printed as one line, exit code 1. */
class UsageError extends Error {}

type Values = Record<string, string | boolean | string[] | undefined>;

const HELP: Record<string, string> = {
  main: `usage: ferrolog <command> [options]

commands:
  topics     list, create, describe, delete and alter topics
  produce    write lines from stdin or a file to a topic
  consume    print a topic's messages (optionally as a group, or following)
  groups     list and describe consumer groups, their offsets and lag; reset offsets
  dump       print the batches (and records) of a segment file
  verify     check every batch CRC and index entry of a data directory
  serve      serve the data directory over the Kafka protocol (kcat, kafkajs, Java clients)
  mirror     copy topics between a data directory and Kafka brokers, resumably
  bench      run the comparison benchmark (npm run bench)

every command takes --data-dir DIR (default ./ferrolog-data, or $FERROLOG_DATA_DIR),
--verbose (stack traces), and --help.

examples:
  ferrolog topics create orders --partitions 3 --config retention.ms=86400000
  seq 1 1000 | ferrolog produce orders
  ferrolog consume orders --from-beginning --max-messages 10
  ferrolog groups describe my-group
  ferrolog verify`,
  topics: `usage: ferrolog topics list
       ferrolog topics create <name> [--partitions N] [--config key=value ...]
       ferrolog topics describe <name>
       ferrolog topics delete <name>
       ferrolog topics alter <name> --config key=value [--config ...]

configs: segment.bytes, segment.ms, retention.ms, retention.bytes, max.message.bytes,
index.interval.bytes, message.timestamp.type, cleanup.policy (delete), flush
(none|interval|always), flush.ms, flush.messages, segment.preallocate.bytes

examples:
  ferrolog topics create orders --partitions 3 --config flush=always
  ferrolog topics alter orders --config retention.ms=3600000`,
  produce: `usage: ferrolog produce <topic> [--file PATH] [--key-separator SEP] [--headers k=v,k2=v2]
                        [--partition N] [--compression none|gzip|snappy|lz4|zstd] [--acks 0|1|-1]

one message per line, from stdin or --file; with --key-separator, the text before the
first separator is the key. Prints how many messages were written.

examples:
  seq 1 100000 | ferrolog produce numbers
  ferrolog produce users --file users.txt --key-separator : --compression zstd`,
  consume: `usage: ferrolog consume <topic> [--group G] [--from-beginning] [--offset N] [--partition N]
                        [--max-messages N] [--follow] [--format value|json]

without --group, reads the log directly (all partitions, or --partition) from the
beginning (--from-beginning), from --offset, or from the end; with --group, consumes
as a member of the group and commits what it printed. Exits at the end of the log
unless --follow; Ctrl-C stops cleanly (and commits, with --group).

examples:
  ferrolog consume orders --from-beginning --format json
  ferrolog consume orders --group audit --follow`,
  groups: `usage: ferrolog groups list
       ferrolog groups describe <group>
       ferrolog groups reset-offsets <group> --topic T (--to-earliest | --to-latest |
                                     --to-offset N | --to-datetime ISO-8601)

examples:
  ferrolog groups describe billing
  ferrolog groups reset-offsets billing --topic orders --to-datetime 2026-01-01T00:00:00Z`,
  dump: `usage: ferrolog dump <segment.log> [--records]

prints each batch: base and last offset, record count, size, position, CRC (valid or
not), compression, timestamps; --records also prints every record.

example:
  ferrolog dump ferrolog-data/orders-0/00000000000000000000.log --records`,
  verify: `usage: ferrolog verify [--repair]

checks every batch (framing, CRC-32C, dense offsets) and every .index and .timeindex
entry in the data directory, and reports what is wrong and where. Exit code 0 only
when everything is sound. --repair applies the engine's recovery: truncate at the
first bad batch, drop later segments, rebuild indexes.

example:
  ferrolog verify --data-dir /var/lib/app/ferrolog`,
  bench: `usage: ferrolog bench [harness options]

runs the comparison harness (see npm run bench -- --help).`,
};

/** bench/harness ships with the source repository only, not in the npm package. */
const BENCH_HARNESS = join(__dirname, '..', '..', 'bench', 'harness', 'run.mjs');

function help(command: string): never {
  let text = HELP[command] ?? HELP.main ?? '';
  // An installed package has no harness: its help does not offer the command.
  if (!existsSync(BENCH_HARNESS)) text = text.replace(/^ {2}bench .*\n/m, '');
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

/** The installed package's version: package.json sits two levels up from both ts/cli and dist/cli. */
function version(): void {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  process.stdout.write(`${pkg.version}\n`);
}

function parse(
  argv: string[],
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>,
): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...options,
        'data-dir': { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function dataDir(values: Values): string {
  return (values['data-dir'] as string | undefined) ?? process.env.FERROLOG_DATA_DIR ?? './ferrolog-data';
}

function intOption(values: Values, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} must be an integer, not "${String(v)}"`);
  return n;
}

function configs(values: Values): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (values.config as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--config takes key=value, not "${kv}"`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** Aligned columns for terminals and pipes alike. */
function printTable(rows: Record<string, string | number>[]): void {
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

function progressBar(label: string, done: number, total: number, startedMs: number): void {
  if (!process.stderr.isTTY || total <= 0) return;
  const frac = Math.min(1, done / total);
  const elapsed = (Date.now() - startedMs) / 1000;
  const rate = elapsed > 0 ? done / elapsed : 0;
  const eta = rate > 0 ? (total - done) / rate : 0;
  const bar = '#'.repeat(Math.round(frac * 30)).padEnd(30, '.');
  process.stderr.write(
    `\r\u001b[2K${label} [${bar}] ${(frac * 100).toFixed(0)}% ${(rate / 1e6).toFixed(1)} MB/s ETA ${eta.toFixed(0)}s`,
  );
}

function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\u001b[2K');
}

function kafkaFor(values: Values, readOnly = false): Kafka {
  return new Kafka({ clientId: 'ferrolog-cli', dataDir: dataDir(values), logLevel: 1, readOnly });
}

/**
 * Opens the data directory for a command that only reads. Reading commands
 * never create a directory, and next to a running application (which holds
 * the lock) they read it read-only instead of failing.
 */
function openForReading(values: Values): { log: Log; readOnly: boolean } {
  const dir = dataDir(values);
  if (!existsSync(dir)) throw new UsageError(`no data directory at ${resolve(dir)}`);
  try {
    return { log: Log.open(dir), readOnly: false };
  } catch (e) {
    if (!(e instanceof LockedError)) throw e;
    process.stderr.write(`ferrolog: ${e.message}; reading it read-only\n`);
    return { log: Log.open(dir, { readOnly: true }), readOnly: true };
  }
}

async function topics(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    partitions: { type: 'string' },
    config: { type: 'string', multiple: true },
  });
  if (values.help) help('topics');
  const [sub, name] = positionals;
  const needName = () => {
    if (!name) throw new UsageError(`topics ${sub} needs a topic name (see ferrolog topics --help)`);
    return name;
  };
  const log = sub === 'list' || sub === 'describe' ? openForReading(values).log : Log.open(dataDir(values));
  try {
    switch (sub) {
      case 'list':
        for (const t of log.topics()) if (!t.name.startsWith('__')) process.stdout.write(`${t.name}\n`);
        return;
      case 'create': {
        const partitions = intOption(values, 'partitions') ?? 1;
        log.createTopic(needName(), { partitions, config: configs(values) });
        process.stdout.write(`created topic ${name} with ${partitions} partition(s)\n`);
        return;
      }
      case 'describe': {
        const t = log.topics().find((x) => x.name === needName());
        if (t === undefined) throw new UsageError(`unknown topic "${name}"`);
        process.stdout.write(`topic ${t.name}: ${t.partitions} partition(s)\n`);
        process.stdout.write(
          `config: ${Object.entries(t.config)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}\n`,
        );
        const rows = [];
        for (let p = 0; p < t.partitions; p++) {
          const w = log.watermarks(t.name, p);
          const segs = log.segments(t.name, p);
          rows.push({
            partition: p,
            low: w.logStartOffset,
            high: w.highWatermark,
            durable: w.durableOffset,
            segments: segs.length,
            bytes: segs.reduce((n, s) => n + s.sizeBytes, 0),
          });
        }
        printTable(rows);
        return;
      }
      case 'delete':
        log.deleteTopic(needName());
        process.stdout.write(`deleted topic ${name}\n`);
        return;
      case 'alter': {
        const c = configs(values);
        if (Object.keys(c).length === 0)
          throw new UsageError('topics alter needs at least one --config key=value');
        log.alterTopicConfig(needName(), c);
        process.stdout.write(
          `altered topic ${name}: ${Object.entries(c)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}\n`,
        );
        return;
      }
      default:
        throw new UsageError(
          `unknown topics command "${sub ?? ''}": use list, create, describe, delete or alter`,
        );
    }
  } finally {
    await log.close();
  }
}

function parseHeaders(spec: string | undefined): Record<string, string> | undefined {
  if (spec === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const kv of spec.split(',')) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--headers takes k=v,k2=v2, not "${spec}"`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

async function produce(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    file: { type: 'string' },
    'key-separator': { type: 'string' },
    headers: { type: 'string' },
    partition: { type: 'string' },
    compression: { type: 'string' },
    acks: { type: 'string' },
  });
  if (values.help) help('produce');
  const topic = positionals[0];
  if (!topic) throw new UsageError('produce needs a topic (see ferrolog produce --help)');
  const headers = parseHeaders(values.headers as string | undefined);
  const partition = intOption(values, 'partition');
  const acks = values.acks === undefined ? 1 : Number(values.acks);
  if (![0, 1, -1].includes(acks))
    throw new UsageError(`--acks must be 0, 1 or -1, not "${String(values.acks)}"`);
  const sep = values['key-separator'] as string | undefined;
  const file = values.file as string | undefined;
  if (file !== undefined && !existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const kafka = kafkaFor(values);
  const producer = kafka.producer({
    acks: acks as 0 | 1 | -1,
    compression: (values.compression as 'none' | undefined) ?? 'none',
    allowAutoTopicCreation: true,
  });
  await producer.connect();
  const input = file === undefined ? process.stdin : createReadStream(file);
  const total = file === undefined ? 0 : statSync(file).size;
  const started = Date.now();
  let bytes = 0;
  let count = 0;
  let lineNo = 0;
  let pending: {
    key?: string | null;
    value: string;
    headers?: Record<string, string>;
    partition?: number;
  }[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const messages = pending;
    pending = [];
    await producer.send({ topic, messages });
    count += messages.length;
  };
  try {
    for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      lineNo++;
      bytes += Buffer.byteLength(line) + 1;
      let key: string | null = null;
      let value = line;
      if (sep !== undefined) {
        const at = line.indexOf(sep);
        if (at < 0)
          throw new UsageError(`line ${lineNo} has no key separator "${sep}": ${line.slice(0, 80)}`);
        key = line.slice(0, at);
        value = line.slice(at + sep.length);
      }
      const m: (typeof pending)[number] = { key, value };
      if (headers) m.headers = headers;
      if (partition !== undefined) m.partition = partition;
      pending.push(m);
      if (pending.length >= 1000) {
        await flush();
        progressBar(`produce ${topic}`, bytes, total, started);
      }
    }
    await flush();
  } finally {
    endProgress();
    await producer.disconnect();
  }
  process.stdout.write(`wrote ${count} message(s) to ${topic}\n`);
}

function formatMessage(
  format: string,
  topic: string,
  partition: number,
  m: {
    offset: string;
    timestamp: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, unknown>;
  },
): string {
  if (format === 'value') return `${m.value === null ? '' : m.value.toString('utf8')}\n`;
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(m.headers)) headers[k] = Array.isArray(v) ? v.map(String) : String(v);
  return `${JSON.stringify({
    topic,
    partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key: m.key === null ? null : m.key.toString('utf8'),
    value: m.value === null ? null : m.value.toString('utf8'),
    headers,
  })}\n`;
}

async function consume(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    group: { type: 'string' },
    'from-beginning': { type: 'boolean' },
    offset: { type: 'string' },
    partition: { type: 'string' },
    'max-messages': { type: 'string' },
    follow: { type: 'boolean' },
    format: { type: 'string' },
  });
  if (values.help) help('consume');
  const topic = positionals[0];
  if (!topic) throw new UsageError('consume needs a topic (see ferrolog consume --help)');
  const format = (values.format as string | undefined) ?? 'value';
  if (format !== 'value' && format !== 'json')
    throw new UsageError(`--format must be value or json, not "${format}"`);
  const max = intOption(values, 'max-messages') ?? Number.POSITIVE_INFINITY;
  const follow = values.follow === true;
  const write = (s: string) => {
    if (!process.stdout.write(s)) return new Promise<void>((r) => process.stdout.once('drain', () => r()));
    return undefined;
  };
  if (values.group !== undefined) return consumeAsGroup(values, topic, format, max, follow, write);
  const { log } = openForReading(values);
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
  });
  try {
    const n = log.partitionCount(topic);
    if (n < 0) throw new UsageError(`unknown topic "${topic}"`);
    const only = intOption(values, 'partition');
    if (only !== undefined && (only < 0 || only >= n))
      throw new UsageError(`topic "${topic}" has no partition ${only}`);
    const partitions = only === undefined ? Array.from({ length: n }, (_, i) => i) : [only];
    const start = intOption(values, 'offset');
    const positions = new Map<number, number>();
    for (const p of partitions) {
      const w = log.watermarks(topic, p);
      positions.set(
        p,
        start !== undefined
          ? Math.max(start, w.logStartOffset)
          : values['from-beginning']
            ? w.logStartOffset
            : w.highWatermark,
      );
    }
    let printed = 0;
    while (!stop && printed < max) {
      let progressed = false;
      for (const p of partitions) {
        const offset = positions.get(p) as number;
        const r = log.read(topic, p, Math.min(offset, log.watermarks(topic, p).highWatermark), 1 << 20);
        if (r.batches.length === 0) continue;
        for (const m of decodeMessages(r.batches, offset)) {
          if (printed >= max) break;
          const wait = write(formatMessage(format, topic, p, m));
          if (wait) await wait;
          printed++;
          positions.set(p, m.offsetNumber + 1);
        }
        if ((positions.get(p) as number) < r.nextOffset && printed < max) positions.set(p, r.nextOffset);
        progressed = true;
      }
      if (!progressed) {
        if (!follow) break;
        const ac = new AbortController();
        const sigint = () => ac.abort();
        process.once('SIGINT', sigint);
        await Promise.race(
          partitions.map((p) => log.waitForData(topic, p, positions.get(p) as number, 1000, ac.signal)),
        );
        ac.abort();
        process.off('SIGINT', sigint);
      }
    }
  } finally {
    await log.close();
  }
}

async function consumeAsGroup(
  values: Values,
  topic: string,
  format: string,
  max: number,
  follow: boolean,
  write: (s: string) => Promise<void> | undefined,
): Promise<void> {
  const kafka = kafkaFor(values);
  const groupId = values.group as string;
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).catch(() => {
    throw new UsageError(`unknown topic "${topic}"`);
  });
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  const fromBeginning = values['from-beginning'] === true;
  // Where each partition starts and where "the end" is, for runs without --follow.
  const remaining = new Map<number, number>();
  for (const o of offsets) {
    const c = Number(committed[0]?.partitions.find((p) => p.partition === o.partition)?.offset ?? -1);
    const startAt = c >= 0 ? c : fromBeginning ? Number(o.low) : Number(o.high);
    if (Number(o.high) > startAt) remaining.set(o.partition, Number(o.high));
  }
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning });
  let printed = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  process.once('SIGINT', () => finish());
  const explicit = intOption(values, 'offset');
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (printed >= max) return finish();
      const wait = write(formatMessage(format, topic, partition, message as never));
      if (wait) await wait;
      printed++;
      const end = remaining.get(partition);
      if (end !== undefined && Number(message.offset) + 1 >= end) remaining.delete(partition);
      if (printed >= max || (!follow && remaining.size === 0)) finish();
    },
  });
  if (explicit !== undefined) {
    const only = intOption(values, 'partition');
    for (const o of offsets)
      if (only === undefined || only === o.partition)
        consumer.seek({ topic, partition: o.partition, offset: String(explicit) });
  }
  if (!follow && remaining.size === 0 && explicit === undefined) finish();
  await finished;
  // Disconnect finishes the message in hand, commits and leaves the group.
  await consumer.disconnect();
}

async function groups(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    topic: { type: 'string' },
    'to-earliest': { type: 'boolean' },
    'to-latest': { type: 'boolean' },
    'to-offset': { type: 'string' },
    'to-datetime': { type: 'string' },
  });
  if (values.help) help('groups');
  const [sub, group] = positionals;
  // list and describe read; reset-offsets writes and needs the lock.
  const reading = sub === 'list' || sub === 'describe' ? openForReading(values) : undefined;
  const admin = kafkaFor(values, reading?.readOnly === true).admin();
  await admin.connect();
  try {
    switch (sub) {
      case 'list':
        for (const g of (await admin.listGroups()).groups) process.stdout.write(`${g.groupId}\n`);
        return;
      case 'describe': {
        if (!group) throw new UsageError('groups describe needs a group id');
        const [d] = (await admin.describeGroups([group])).groups;
        if (d === undefined || d.state === 'Dead') throw new UsageError(`unknown group "${group}"`);
        process.stdout.write(`group ${group}: state ${d.state}, ${d.members.length} member(s)\n`);
        for (const m of d.members) {
          const a = Object.entries(
            AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {},
          )
            .map(([t, ps]) => `${t}[${ps.join(',')}]`)
            .join(' ');
          process.stdout.write(`  member ${m.memberId} (${m.clientId}): ${a || 'no partitions'}\n`);
        }
        const lag = await admin.fetchLag({ groupId: group });
        const rows = lag.flatMap((t) =>
          t.partitions.map((p) => ({
            topic: t.topic,
            partition: p.partition,
            committed: p.committed,
            high: p.high,
            lag: p.lag,
          })),
        );
        printTable(rows);
        const total = lag.reduce((n, t) => n + Number(t.totalLag), 0);
        process.stdout.write(`total lag ${total} over ${rows.length} partition(s)\n`);
        return;
      }
      case 'reset-offsets': {
        if (!group) throw new UsageError('groups reset-offsets needs a group id');
        const topic = values.topic as string | undefined;
        if (!topic) throw new UsageError('groups reset-offsets needs --topic');
        const modes = ['to-earliest', 'to-latest', 'to-offset', 'to-datetime'].filter(
          (m) => values[m] !== undefined,
        );
        if (modes.length !== 1)
          throw new UsageError(
            'give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime ISO',
          );
        const offsets = await admin.fetchTopicOffsets(topic);
        let target: { partition: number; offset: string }[];
        if (values['to-earliest']) target = offsets.map((o) => ({ partition: o.partition, offset: o.low }));
        else if (values['to-latest'])
          target = offsets.map((o) => ({ partition: o.partition, offset: o.high }));
        else if (values['to-offset'] !== undefined) {
          const n = intOption(values, 'to-offset') as number;
          if (n < 0) throw new UsageError('--to-offset must not be negative');
          target = offsets.map((o) => ({
            partition: o.partition,
            offset: String(Math.min(Math.max(n, Number(o.low)), Number(o.high))),
          }));
        } else {
          const ts = Date.parse(values['to-datetime'] as string);
          if (Number.isNaN(ts))
            throw new UsageError(
              `--to-datetime must be an ISO-8601 date, not "${String(values['to-datetime'])}"`,
            );
          target = await admin.fetchTopicOffsetsByTimestamp(topic, ts);
        }
        await admin.setOffsets({ groupId: group, topic, partitions: target });
        printTable(target.map((t) => ({ topic, partition: t.partition, offset: t.offset })));
        return;
      }
      default:
        throw new UsageError(`unknown groups command "${sub ?? ''}": use list, describe or reset-offsets`);
    }
  } finally {
    await admin.disconnect();
    await reading?.log.close();
  }
}

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** Reads a segment batch by batch with positional reads: works on a live directory. */
function* batchesOf(
  path: string,
): Generator<
  | { position: number; bytes: Buffer; ok: true }
  | { position: number; reason: string; ok: false }
  | { position: number; padding: true }
> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(HEADER_BYTES);
    let pos = 0;
    while (pos < size) {
      if (size - pos < HEADER_BYTES) {
        yield {
          position: pos,
          reason: `${size - pos} trailing bytes, shorter than a batch header`,
          ok: false,
        };
        return;
      }
      readSync(fd, head, 0, HEADER_BYTES, pos);
      if (head.every((b) => b === 0)) {
        yield { position: pos, padding: true };
        return;
      }
      const length = head.readInt32BE(8) + 12;
      if (length < HEADER_BYTES || pos + length > size) {
        yield {
          position: pos,
          reason: `batch length ${length} runs past the end of the file (${size} bytes)`,
          ok: false,
        };
        return;
      }
      const bytes = Buffer.alloc(length);
      readSync(fd, bytes, 0, length, pos);
      yield { position: pos, bytes, ok: true };
      pos += length;
    }
  } finally {
    closeSync(fd);
  }
}

function crcOk(bytes: Buffer): boolean {
  return binding.crc32c(bytes, 21, bytes.length) === bytes.readUInt32BE(17);
}

async function dump(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { records: { type: 'boolean' } });
  if (values.help) help('dump');
  const path = positionals[0];
  if (!path) throw new UsageError('dump needs a segment file (see ferrolog dump --help)');
  if (!existsSync(path)) throw new UsageError(`no such file: ${path}`);
  process.stdout.write(`dumping ${path}\n`);
  let bad = false;
  for (const b of batchesOf(path)) {
    if ('padding' in b) {
      process.stdout.write(`position: ${b.position} preallocated zeros to the end of the file\n`);
      break;
    }
    if (!b.ok) {
      process.stdout.write(`position: ${b.position} INVALID: ${b.reason}\n`);
      bad = true;
      break;
    }
    let info: ReturnType<typeof readBatchInfo>;
    try {
      info = readBatchInfo(b.bytes, 0);
    } catch (e) {
      process.stdout.write(`position: ${b.position} INVALID: ${(e as Error).message}\n`);
      bad = true;
      break;
    }
    const valid = crcOk(b.bytes);
    if (!valid) bad = true;
    process.stdout.write(
      `baseOffset: ${info.baseOffset} lastOffset: ${info.lastOffset} count: ${info.recordCount} position: ${b.position} ` +
        `size: ${info.sizeBytes} CreateTime: ${info.maxTimestamp} baseTimestamp: ${info.baseTimestamp} ` +
        `compression: ${CODECS[info.compression] ?? info.compression} producerId: ${info.producerId} ` +
        `baseSequence: ${info.baseSequence} crc: ${b.bytes.readUInt32BE(17)} isValid: ${valid}\n`,
    );
    if (values.records && valid) {
      for (const m of decodeMessages(b.bytes)) {
        const headers = Object.entries(m.headers)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(',');
        process.stdout.write(
          `| offset: ${m.offset} CreateTime: ${m.timestamp} keySize: ${m.key?.length ?? -1} valueSize: ${m.value?.length ?? -1} ` +
            `headers: ${headers} key: ${m.key?.toString('utf8') ?? 'null'} payload: ${m.value?.toString('utf8') ?? 'null'}\n`,
        );
      }
    }
  }
  if (bad) process.exitCode = 1;
}

interface Problem {
  file: string;
  where: string;
  what: string;
}

/** Checks one partition directory's segments and indexes, read-only. */
function verifyPartition(dir: string, problems: Problem[], progress: (bytes: number) => void): number {
  const logs = readdirSync(dir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort();
  let expected: number | null = null;
  let batches = 0;
  for (const name of logs) {
    const path = join(dir, name);
    const base = Number(name.slice(0, 20));
    if (expected !== null && base !== expected) {
      problems.push({
        file: path,
        where: `offset ${expected}`,
        what: `segment starts at ${base}, where ${expected} was expected`,
      });
    }
    let next: number = base;
    const starts = new Map<number, number>();
    for (const b of batchesOf(path)) {
      if ('padding' in b) break;
      if (!b.ok) {
        problems.push({ file: path, where: `byte ${b.position}, offset ${next}`, what: b.reason });
        break;
      }
      const info = readBatchInfo(b.bytes, 0);
      if (info.baseOffset !== next) {
        problems.push({
          file: path,
          where: `byte ${b.position}, offset ${next}`,
          what: `batch has base offset ${info.baseOffset}`,
        });
        break;
      }
      if (!crcOk(b.bytes)) {
        problems.push({
          file: path,
          where: `byte ${b.position}, offset ${next}`,
          what: 'CRC-32C does not match the batch',
        });
        break;
      }
      starts.set(b.position, info.lastOffset);
      next = info.lastOffset + 1;
      batches++;
      progress(b.bytes.length);
    }
    expected = next;
    const index = join(dir, name.replace(/\.log$/, '.index'));
    if (existsSync(index)) {
      const buf = readFileBytes(index);
      if (buf.length % 8 !== 0)
        problems.push({
          file: index,
          where: `byte ${buf.length - (buf.length % 8)}`,
          what: 'a torn entry at the end',
        });
      for (let at = 0; at + 8 <= buf.length; at += 8) {
        const rel = buf.readUInt32BE(at);
        const position = buf.readUInt32BE(at + 4);
        if (starts.get(position) !== base + rel) {
          problems.push({
            file: index,
            where: `entry ${at / 8}`,
            what: `points offset ${base + rel} at byte ${position}, which is not that batch`,
          });
          break;
        }
      }
    }
    const timeIndex = join(dir, name.replace(/\.log$/, '.timeindex'));
    if (existsSync(timeIndex)) {
      const buf = readFileBytes(timeIndex);
      let prev = Number.NEGATIVE_INFINITY;
      for (let at = 0; at + 12 <= buf.length; at += 12) {
        const ts = Number(buf.readBigInt64BE(at));
        const rel = buf.readUInt32BE(at + 8);
        if (ts <= prev || base + rel >= next) {
          problems.push({
            file: timeIndex,
            where: `entry ${at / 12}`,
            what: `timestamp ${ts} for offset ${base + rel} is out of order or past the log`,
          });
          break;
        }
        prev = ts;
      }
    }
  }
  return batches;
}

function readFileBytes(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    readSync(fd, buf, 0, size, 0);
    return buf;
  } finally {
    closeSync(fd);
  }
}

async function verify(argv: string[]): Promise<void> {
  const { values } = parse(argv, { repair: { type: 'boolean' } });
  if (values.help) help('verify');
  const dir = resolve(dataDir(values));
  if (!existsSync(dir)) throw new UsageError(`no data directory at ${dir}`);
  if (values.repair) {
    // The engine's own recovery, with every segment CRC-checked. The open
    // takes the directory lock before anything is touched, so a directory a
    // running application holds fails here with LockedError, unchanged.
    const log = Log.open(dir, { fullRecovery: true });
    const reports = log.recoveryReports();
    await log.close();
    if (reports.length === 0) process.stdout.write('repair: nothing to repair\n');
    for (const r of reports) {
      const where = r.topic === '' ? r.path : `${r.topic}-${r.partition}`;
      const moved = r.movedTo ? `; set aside in ${r.movedTo}` : '';
      process.stdout.write(`${r.action} ${where} at offset ${r.offset}: ${r.reason}${moved}\n`);
    }
  }
  const partitionDirs = readdirSync(dir)
    .filter((d) => /-\d+$/.test(d) && statSync(join(dir, d)).isDirectory())
    .sort();
  const total = partitionDirs
    .flatMap((d) =>
      readdirSync(join(dir, d))
        .filter((f) => f.endsWith('.log'))
        .map((f) => statSync(join(dir, d, f)).size),
    )
    .reduce((a, b) => a + b, 0);
  const started = Date.now();
  let scanned = 0;
  const problems: Problem[] = [];
  let batches = 0;
  for (const d of partitionDirs) {
    batches += verifyPartition(join(dir, d), problems, (n) => {
      scanned += n;
      if (scanned % (8 << 20) < n) progressBar('verify', scanned, total, started);
    });
  }
  endProgress();
  for (const p of problems) process.stdout.write(`PROBLEM ${p.file} at ${p.where}: ${p.what}\n`);
  process.stdout.write(
    `verified ${partitionDirs.length} partition(s), ${batches} batch(es), ${scanned} bytes: ` +
      `${problems.length === 0 ? 'all sound' : `${problems.length} problem(s)${values.repair ? '' : '; run with --repair to apply recovery'}`}\n`,
  );
  if (problems.length > 0) process.exitCode = 1;
}

async function bench(argv: string[]): Promise<void> {
  if (!existsSync(BENCH_HARNESS))
    throw new UsageError(
      'the benchmark harness ships with the source repository (bench/harness), not the npm package',
    );
  const r = spawnSync(process.execPath, [BENCH_HARNESS, ...argv], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      help('main');
      break;
    case '--version':
    case '-V':
      return version();
    case 'topics':
      return topics(rest);
    case 'produce':
      return produce(rest);
    case 'consume':
      return consume(rest);
    case 'groups':
      return groups(rest);
    case 'dump':
      return dump(rest);
    case 'verify':
      return verify(rest);
    case 'bench':
      return bench(rest);
    case 'serve':
      return serve(rest);
    case 'mirror':
      process.exitCode = await mirrorCommand(rest);
      return;
    default:
      throw new UsageError(`unknown command "${command}" (see ferrolog --help)`);
  }
}

// A reader that goes away (`| head`) ends the command quietly, as Unix tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2)).catch((e: unknown) => {
  const verbose = process.argv.includes('--verbose');
  const err = e as Error;
  const kind = e instanceof UsageError ? '' : e instanceof KafkaJSError ? `${err.name}: ` : '';
  process.stderr.write(`ferrolog: ${kind}${err.message}\n`);
  if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
