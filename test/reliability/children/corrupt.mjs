// Runs corruption cases, one after another, in this process. For each case:
// copy a template data directory, damage its files as the case's seed says,
// then open it, read every partition of `t` and consume it with group `cg`.
// Prints `start <i>` before and `done <i> <json>` after each case, so the
// parent can tell which case a crash happened in and carry on after it.
// A typed error (a FerrologError) from open or read is an acceptable
// outcome; a delivered value that does not verify, or is not the message
// the template had at that offset, is a wrong byte.
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { decodeMessages, FerrologError, Kafka, KafkaJSError, Log } from '../../../dist/index.js';
import { checkValue, sleep } from './values.mjs';

const [jobFile, firstArg, endArg] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobFile, 'utf8'));
const first = Number(firstArg);
const end = Number(endArg);

/** mulberry32: a small deterministic PRNG, so a seed reproduces a case. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** The kind of a file ferrolog owns, or null for a file it does not. */
function kindOf(rel) {
  if (rel === '.lock') return 'lock';
  if (rel === '.ferrolog_cleanshutdown') return 'marker';
  if (rel === 'recovery-point-offset-checkpoint' || rel === 'log-start-offset-checkpoint')
    return 'checkpoint';
  if (rel.startsWith('.meta/topics/')) return 'topic-meta';
  if (rel === '.meta/producer-ids') return 'producer-ids';
  if (rel.startsWith('.meta/') && rel.endsWith('-checkpoint')) return 'checkpoint-meta';
  const m = /^(.+)-\d+\/\d{20}\.(log|index|timeindex)$/.exec(rel);
  if (m) return m[1] === '__consumer_offsets' ? `offsets-${m[2]}` : m[2];
  return null;
}

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
const OPS = ['flip', 'truncate', 'append-garbage', 'replace-garbage', 'zero-range', 'remove'];

function damage(dir, rand, kind) {
  const files = walk(dir).filter((f) => kindOf(relative(dir, f)) === kind);
  const op = OPS[Math.floor(rand() * OPS.length)];
  const garbage = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  if (files.length === 0) {
    // A file of this kind that is not there (the marker after a crash, an
    // empty index): garbage in its place.
    const name = {
      marker: '.ferrolog_cleanshutdown',
      lock: '.lock',
      checkpoint: rand() < 0.5 ? 'recovery-point-offset-checkpoint' : 'log-start-offset-checkpoint',
      'checkpoint-meta':
        rand() < 0.5 ? '.meta/recovery-point-offset-checkpoint' : '.meta/log-start-offset-checkpoint',
      'producer-ids': '.meta/producer-ids',
    }[kind];
    if (name === undefined) return { kind, op: 'none', file: null };
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), garbage(Math.floor(rand() * 64)));
    return { kind, op: 'create-garbage', file: name };
  }
  const file = files[Math.floor(rand() * files.length)];
  const data = readFileSync(file);
  const at = Math.floor(rand() * Math.max(1, data.length));
  if (op === 'flip' && data.length > 0) {
    const flips = 1 + Math.floor(rand() * 8);
    for (let i = 0; i < flips; i++) data[Math.floor(rand() * data.length)] ^= 1 << Math.floor(rand() * 8);
    writeFileSync(file, data);
  } else if (op === 'truncate') {
    writeFileSync(file, data.subarray(0, at));
  } else if (op === 'append-garbage') {
    writeFileSync(file, Buffer.concat([data, garbage(1 + Math.floor(rand() * 200))]));
  } else if (op === 'replace-garbage') {
    writeFileSync(file, garbage(Math.floor(rand() * Math.max(16, data.length * 2))));
  } else if (op === 'zero-range') {
    data.fill(0, at, Math.min(data.length, at + 1 + Math.floor(rand() * 256)));
    writeFileSync(file, data);
  } else {
    rmSync(file);
  }
  return { kind, op, file: relative(dir, file), at };
}

/** The case's damage: deterministic from its seed and template. */
function applyDamages(dir, c) {
  const rand = prng(c.seed);
  const damages = [];
  const count = rand() < 0.2 ? 2 + Math.floor(rand() * 2) : 1;
  for (let i = 0; i < count; i++) {
    const kind = i === 0 ? c.kind : KINDS[Math.floor(rand() * KINDS.length)];
    damages.push(damage(dir, rand, kind));
  }
  return damages;
}

function typed(e) {
  return e instanceof FerrologError;
}

/** Where the case is, for the harness's watchdog to name if it hangs. */
const phase = (name) => process.stdout.write(`phase ${name}\n`);

async function runCase(c) {
  // A directory of its own per case: a handle left open by an earlier case
  // must not stand in for this case's damaged files.
  const dir = join(job.work, `case-${process.pid}-${c.seed}`);
  rmSync(dir, { recursive: true, force: true });
  cpSync(job.templates[c.template].dir, dir, { recursive: true });
  const expected = job.templates[c.template].expected;
  const damages = applyDamages(dir, c);
  const r = { damages, open: 'ok', readErrors: [], delivered: 0, wrong: [], consumed: 0, consumerCrashes: 0 };
  const check = (p, offset, value, key) => {
    const id = checkValue(value);
    const want = expected[`${p} ${offset}`];
    if (id === null || id !== key?.toString() || (want !== undefined && want !== id)) {
      r.wrong.push(`${p}:${offset}`);
    }
  };
  let log = null;
  phase('open');
  try {
    log = Log.open(dir);
  } catch (e) {
    if (!typed(e)) throw e;
    r.open = `typed:${e.code}`;
    r.openMessage = e.message.replaceAll(dir, '<dir>');
  }
  if (log !== null) {
    const high = [];
    try {
      const n = log.partitionCount('t');
      for (let p = 0; p < n; p++) {
        const w = log.watermarks('t', p);
        high.push(w.highWatermark);
        let offset = w.logStartOffset;
        let guard = 0;
        while (offset < w.highWatermark && guard++ < 5000) {
          try {
            const res = log.read('t', p, offset);
            for (const m of decodeMessages(res.batches, offset)) {
              r.delivered++;
              check(p, m.offset, m.value, m.key);
            }
            if (res.nextOffset <= offset) throw new Error(`read at ${offset} made no progress`);
            offset = res.nextOffset;
          } catch (e) {
            if (!typed(e)) throw e;
            if (r.readErrors.length < 5) r.readErrors.push(`${p}:${offset}:${e.code}`);
            offset++;
          }
        }
      }
    } catch (e) {
      if (!typed(e)) throw e;
      r.readErrors.push(`topic:${e.code}`);
    }
    phase('close');
    await log.close();
    // Consume with the group, from its committed offsets.
    const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
    const consumer = kafka.consumer({ groupId: 'cg', retry: { retries: 0, initialRetryTime: 10 } });
    const reached = new Map();
    let last = Date.now();
    try {
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        r.consumerCrashes++;
        // A crash from a typed error is the consumer reporting damage; anything else is a bug.
        if (!(payload.error instanceof KafkaJSError))
          r.untypedCrash = String(payload.error?.stack ?? payload.error);
      });
      phase('connect');
      await consumer.connect();
      phase('subscribe');
      await consumer.subscribe({ topic: 't', fromBeginning: true });
      phase('run');
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          r.consumed++;
          last = Date.now();
          check(partition, message.offset, message.value, message.key);
          reached.set(partition, Number(message.offset) + 1);
        },
      });
      // Until every partition reaches its end, or nothing happens for 200 ms.
      phase('consume');
      while (Date.now() - last < 200 && !high.every((h, p) => (reached.get(p) ?? 0) >= h)) await sleep(10);
    } catch (e) {
      // The kafkajs-compatible layer's errors (FerrologError is one of them).
      if (!(e instanceof KafkaJSError)) throw e;
      r.consumerError = `${e.name}:${e.code ?? ''}`;
    } finally {
      phase('disconnect');
      await consumer.disconnect().catch(() => undefined);
    }
  }
  // Files ferrolog does not own are as they were.
  r.foreign =
    existsSync(join(dir, 'notes.txt')) &&
    readFileSync(join(dir, 'notes.txt'), 'utf8') === 'not ferrolog data\n' &&
    existsSync(join(dir, 'backup', 'old.bin')) &&
    statSync(join(dir, 'backup', 'old.bin')).size === 3000 &&
    readFileSync(join(dir, 'backup', 'old.bin')).every((b) => b === 7);
  if (r.wrong.length > 0) {
    // Keep the damaged directory (as it was before it was opened) to reproduce.
    r.kept = join(tmpdir(), 'ferrolog-rel-failed', `case-${c.seed}`);
    rmSync(r.kept, { recursive: true, force: true });
    cpSync(job.templates[c.template].dir, r.kept, { recursive: true });
    applyDamages(r.kept, c);
  }
  // Removing the case is the harness's business: a failure here (a leaked
  // engine still writing into it) is recorded, not counted as a crash.
  const cleanup = () => {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    } catch (e) {
      r.cleanupError = String(e.message);
    }
  };
  cleanup();
  // Every handle of this case was closed, so the directory is gone for good:
  // an open now makes a new, empty log. Topic `t` in it means the engine
  // lived on (a handle was not released).
  phase('probe');
  const probe = Log.open(dir);
  r.leaked = probe.partitionCount('t') >= 0;
  await probe.close();
  cleanup();
  return r;
}

for (let i = first; i < end; i++) {
  process.stdout.write(`start ${i}\n`);
  const r = await runCase(job.cases[i]);
  process.stdout.write(`done ${i} ${JSON.stringify(r)}\n`);
}
