/** `ferrolog produce`: lines (or JSON objects) from stdin or a file to a topic. */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { intOption, parse, UsageError, type Values } from '../args';
import { decodeText, type Encoding, encodingOption, Progress } from '../output';
import { closeTarget, resolveTarget, type Target } from '../target';
import type { Command } from './command';

export const HELP = `usage: ferrolog produce <topic> [--file PATH] [--key-separator SEP] [--headers k=v,k2=v2]
                        [--partition N] [--compression none|gzip|snappy|lz4|zstd] [--acks 0|1|-1]
                        [--format value|json] [--key-encoding utf8|base64|hex]
                        [--value-encoding utf8|base64|hex] [--create [--partitions N]]

one message per line, from stdin or --file; with --key-separator, the text before the
first separator is the key. --format json reads one object per line:
{"key": ..., "value": ..., "headers": {...}, "partition": N, "timestamp": "ms"}, with
key and value in --key-encoding / --value-encoding (base64 or hex for binary data).
The topic must exist, unless --create is given. Prints how many messages were written.

examples:
  seq 1 100000 | ferrolog produce numbers --create
  ferrolog produce users --file users.txt --key-separator : --compression zstd
  echo '{"key":"AAE=","value":"aGk="}' | ferrolog produce raw --format json --key-encoding base64 --value-encoding base64
  ferrolog produce orders --brokers kafka-1:9092 --file orders.txt`;

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

interface Outgoing {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
  partition?: number;
  timestamp?: string;
}

/** One `--format json` input line as a message. */
function fromJson(line: string, lineNo: number, enc: { key: Encoding; value: Encoding }): Outgoing {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch (e) {
    throw new UsageError(`line ${lineNo} is not JSON: ${(e as Error).message}`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o))
    throw new UsageError(`line ${lineNo} is not a JSON object`);
  const r = o as Record<string, unknown>;
  const bytes = (field: 'key' | 'value'): Buffer | null => {
    const v = r[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') throw new UsageError(`line ${lineNo}: "${field}" must be a string or null`);
    return decodeText(v, enc[field], `line ${lineNo}: "${field}"`);
  };
  const m: Outgoing = { key: bytes('key'), value: bytes('value') };
  if (r.headers !== undefined) {
    if (r.headers === null || typeof r.headers !== 'object' || Array.isArray(r.headers))
      throw new UsageError(`line ${lineNo}: "headers" must be an object of strings`);
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers as Record<string, unknown>)) {
      if (typeof v !== 'string') throw new UsageError(`line ${lineNo}: header "${k}" must be a string`);
      h[k] = v;
    }
    m.headers = h;
  }
  if (r.partition !== undefined) {
    if (!Number.isInteger(r.partition) || (r.partition as number) < 0)
      throw new UsageError(`line ${lineNo}: "partition" must be a non-negative integer`);
    m.partition = r.partition as number;
  }
  if (r.timestamp !== undefined) {
    const ts = String(r.timestamp);
    if (!/^\d+$/.test(ts)) throw new UsageError(`line ${lineNo}: "timestamp" must be milliseconds`);
    m.timestamp = ts;
  }
  return m;
}

/** The topic exists, or `--create` creates it; otherwise a clear error and nothing written. */
async function ensureTopic(t: Target, topic: string, values: Values): Promise<void> {
  const admin = t.kafka.admin();
  await admin.connect();
  try {
    if ((await admin.listTopics()).includes(topic)) return;
    if (values.create !== true) throw new UsageError(`unknown topic "${topic}": pass --create to create it`);
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: intOption(values, 'partitions') ?? 1 }],
    });
    process.stderr.write(`ferrolog: created topic ${topic}\n`);
  } finally {
    await admin.disconnect();
  }
}

export const produce: Command = {
  name: 'produce',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      file: { type: 'string' },
      'key-separator': { type: 'string' },
      headers: { type: 'string' },
      partition: { type: 'string' },
      compression: { type: 'string' },
      acks: { type: 'string' },
      format: { type: 'string' },
      'key-encoding': { type: 'string' },
      'value-encoding': { type: 'string' },
      create: { type: 'boolean' },
      partitions: { type: 'string' },
    });
    const topic = positionals[0];
    if (!topic) throw new UsageError('produce needs a topic (see ferrolog produce --help)');
    const headers = parseHeaders(values.headers as string | undefined);
    const partition = intOption(values, 'partition');
    const acks = values.acks === undefined ? 1 : Number(values.acks);
    if (![0, 1, -1].includes(acks))
      throw new UsageError(`--acks must be 0, 1 or -1, not "${String(values.acks)}"`);
    const format = (values.format as string | undefined) ?? 'value';
    if (format !== 'value' && format !== 'json')
      throw new UsageError(`--format must be value or json, not "${format}"`);
    const enc = {
      key: encodingOption(values, 'key-encoding'),
      value: encodingOption(values, 'value-encoding'),
    };
    const sep = values['key-separator'] as string | undefined;
    if (sep !== undefined && format === 'json')
      throw new UsageError('--key-separator is for --format value; JSON lines carry their key');
    const compression = (values.compression as string | undefined) ?? 'none';
    if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(compression))
      throw new UsageError(`--compression must be none, gzip, snappy, lz4 or zstd, not "${compression}"`);
    const file = values.file as string | undefined;
    if (file !== undefined && !existsSync(file)) throw new UsageError(`no such file: ${file}`);
    const t = resolveTarget(values, { write: true });
    try {
      await ensureTopic(t, topic, values);
      const producer = t.kafka.producer({
        acks: acks as 0 | 1 | -1,
        compression: compression as 'none',
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      const input = file === undefined ? process.stdin : createReadStream(file);
      const total = file === undefined ? 0 : statSync(file).size;
      const progress = new Progress(`produce ${topic}`);
      let bytes = 0;
      let count = 0;
      let lineNo = 0;
      let pending: Outgoing[] = [];
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
          let m: Outgoing;
          if (format === 'json') {
            if (line.trim() === '') continue;
            m = fromJson(line, lineNo, enc);
          } else {
            m = { key: null, value: line };
            if (sep !== undefined) {
              const at = line.indexOf(sep);
              if (at < 0)
                throw new UsageError(`line ${lineNo} has no key separator "${sep}": ${line.slice(0, 80)}`);
              m.key = line.slice(0, at);
              m.value = line.slice(at + sep.length);
            }
          }
          if (headers) m.headers = { ...headers, ...m.headers };
          if (partition !== undefined) m.partition = partition;
          pending.push(m);
          if (pending.length >= 1000) {
            await flush();
            progress.update(bytes, total, 'bytes');
          }
        }
        await flush();
      } finally {
        progress.end();
        await producer.disconnect();
      }
      process.stdout.write(`wrote ${count} message(s) to ${topic}\n`);
    } finally {
      await closeTarget(t);
    }
  },
};
