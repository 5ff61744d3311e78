#!/usr/bin/env node
// The soak: 8 producers and 8 consumers in 3 groups (3, 3 and 2 members) on
// one 6-partition topic, in this one process (the directory lock admits one
// process; groups are in-process), with random consumer disconnects and
// reconnects (and now and then a producer's) for the given minutes. Then the
// producers stop, every member slot is filled again, and each group must
// catch up to lag 0.
//
// It records, and prints as one JSON line at the end:
// - RSS (total, and anonymous: heap and native allocations, without the
//   mapped segment pages, which the kernel counts in RSS too), sampled;
// - per group and partition, the contiguous prefix of offsets processed: a
//   delivery past it is a skipped offset (unless retention had deleted it);
// - every handler call's (member, generation) per partition: two owners
//   whose handler spans overlap, or an owner that handles a partition again
//   after another took it over, is a partition held by two members at once;
// - every value is verified (it carries its own checksum).
//
//   node bench/soak/soak.mjs --seconds 20 --data-dir DIR
import { readFileSync } from 'node:fs';
import { Kafka } from '../../dist/index.js';
import { checkValue, makeValue, sleep } from '../../test/reliability/children/values.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const seconds = Number(arg('seconds', '20'));
const dataDir = arg('data-dir', './soak-data');
const TOPIC = 'soak';
const PARTITIONS = 6;
const GROUPS = [
  ['ga', 3],
  ['gb', 3],
  ['gc', 2],
];

const evictions = [];
const logCreator = () => (entry) => {
  if (/evicted/.test(entry.log.message)) evictions.push({ at: Date.now(), message: entry.log.message });
};
const kafka = new Kafka({ dataDir, logLevel: 4, logCreator });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: [
    {
      topic: TOPIC,
      numPartitions: PARTITIONS,
      // Retention bounds the disk and the mapped pages over a long run.
      configEntries: [
        { name: 'segment.bytes', value: String(2 << 20) },
        { name: 'retention.bytes', value: String(16 << 20) },
      ],
    },
  ],
});
// Watermarks, synchronously, to tell a retention gap from a skip.
const log = kafka.openLog();

// ---- RSS sampling
const samples = [];
function sample() {
  let anon = null;
  try {
    const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) anon = Number(m[1]) * 1024;
  } catch {
    // Not Linux: total RSS only.
  }
  samples.push({ t: Date.now(), rss: process.memoryUsage().rss, anon });
}
sample();
const sampler = setInterval(sample, seconds > 120 ? 1000 : 250);

// ---- producers
let running = true;
let sent = 0;
let sendErrors = 0;
const producers = [];
async function producerLoop(slot) {
  let seq = 0;
  while (running) {
    const p = kafka.producer({ idempotent: slot % 2 === 0 });
    await p.connect();
    producers[slot] = p;
    // Reconnect now and then: a producer's lifetime is random too.
    const until = Date.now() + 2000 + Math.random() * 20_000;
    while (running && Date.now() < until) {
      const n = 1 + Math.floor(Math.random() * 10);
      const messages = [];
      for (let i = 0; i < n; i++) {
        const id = `p${slot}-${seq++}`;
        messages.push({ key: id, value: makeValue(id, 50 + Math.floor(Math.random() * 300)) });
      }
      try {
        await p.send({ topic: TOPIC, acks: -1, messages });
        sent += n;
      } catch (e) {
        sendErrors++;
        console.error('send failed', e);
      }
      await sleep(20 + Math.random() * 40);
    }
    await p.disconnect();
  }
}

// ---- consumers
const frontier = new Map(); // `${group} ${partition}` -> next offset expected
let processed = 0;
let redelivered = 0;
let skipped = 0;
let retentionGaps = 0;
let wrong = 0;
const spans = new Map(); // `${group} ${partition}` -> [{ owner, start, end }]
let memberSeq = 0;
const slots = [];
function onMessage(group, partition, message) {
  const id = checkValue(message.value);
  if (id === null || id !== message.key?.toString()) wrong++;
  const k = `${group} ${partition}`;
  const o = Number(message.offset);
  const f = frontier.get(k) ?? 0;
  if (o < f) redelivered++;
  else {
    if (o > f) {
      if (log.watermarks(TOPIC, partition).logStartOffset >= o) retentionGaps += o - f;
      else skipped += o - f;
    }
    frontier.set(k, o + 1);
  }
  processed++;
}
function spanStart(group, owner, partition) {
  const k = `${group} ${partition}`;
  const list = spans.get(k) ?? [];
  spans.set(k, list);
  const last = list[list.length - 1];
  const now = performance.now();
  if (last !== undefined && last.owner === owner) last.open++;
  else list.push({ owner, start: now, end: now, open: 1 });
}
function spanEnd(group, owner, partition) {
  const list = spans.get(`${group} ${partition}`);
  // The owner's latest span: another owner may have started one since.
  for (let i = list.length - 1; i >= 0; i--) {
    if (list[i].owner === owner) {
      list[i].end = performance.now();
      list[i].open--;
      return;
    }
  }
}
let joins = 0;
async function startMember(slot) {
  const [group] = slot;
  const member = ++memberSeq;
  let generation = 0;
  const c = kafka.consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 500 });
  c.on(c.events.GROUP_JOIN, () => {
    generation++;
    joins++;
  });
  await c.connect();
  await c.subscribe({ topic: TOPIC, fromBeginning: true });
  await c.run({
    partitionsConsumedConcurrently: 1 + (member % 2),
    eachMessage: async ({ partition, message }) => {
      const owner = `${member}/${generation}`;
      spanStart(group, owner, partition);
      try {
        if (Math.random() < 0.02) await sleep(Math.random() * 3);
        onMessage(group, partition, message);
      } finally {
        spanEnd(group, owner, partition);
      }
    },
  });
  slot[1] = c;
}
for (const [group, n] of GROUPS) for (let i = 0; i < n; i++) slots.push([group, null]);
await Promise.all(slots.map((s) => startMember(s)));
const producing = Array.from({ length: 8 }, (_, i) => producerLoop(i));

// ---- chaos: random disconnects and reconnects of members
let disconnects = 0;
const deadline = Date.now() + seconds * 1000;
while (Date.now() < deadline) {
  await sleep(300 + Math.random() * 1200);
  const slot = slots[Math.floor(Math.random() * slots.length)];
  const c = slot[1];
  slot[1] = null;
  await c.disconnect();
  disconnects++;
  await sleep(100 + Math.random() * 700);
  await startMember(slot);
}
running = false;
await Promise.all(producing);

// ---- catch up: lag back to 0 in every group
const high = await admin.fetchTopicOffsets(TOPIC);
const lagOf = async (group) => {
  const [r] = await admin.fetchOffsets({ groupId: group, topics: [TOPIC] });
  return r.partitions.reduce(
    (s, p) => s + Math.max(0, Number(high[p.partition].high) - Math.max(0, Number(p.offset))),
    0,
  );
};
const catchUpStarted = Date.now();
let lags = [];
for (;;) {
  lags = await Promise.all(GROUPS.map(([g]) => lagOf(g)));
  if (lags.every((l) => l === 0) || Date.now() - catchUpStarted > 120_000) break;
  await sleep(100);
}
const catchUpMs = Date.now() - catchUpStarted;
clearInterval(sampler);
sample();
for (const [, c] of slots) await c.disconnect();

// ---- ownership: overlapping spans, or an owner back after another took over
let overlaps = 0;
let returns = 0;
const examples = [];
for (const [k, list] of spans) {
  const seen = new Set();
  for (let i = 0; i < list.length; i++) {
    if (seen.has(list[i].owner)) {
      returns++;
      if (examples.length < 5) examples.push(`${k}: ${list[i].owner} again after another owner`);
    }
    seen.add(list[i].owner);
    if (i > 0 && list[i].start < list[i - 1].end) {
      overlaps++;
      if (examples.length < 5)
        examples.push(
          `${k}: ${list[i].owner} started ${(list[i - 1].end - list[i].start).toFixed(2)} ms before ${list[i - 1].owner} ended`,
        );
    }
  }
}
let unprocessed = 0;
for (const [g] of GROUPS) {
  for (const { partition, high: h, low } of high) {
    const f = frontier.get(`${g} ${partition}`) ?? Number(low);
    unprocessed += Math.max(0, Number(h) - Math.max(f, Number(low)));
  }
}
await log.close();
await admin.disconnect();

// ---- RSS figures
const mib = (b) => (b === null ? null : Math.round((b / 1048576) * 10) / 10);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const quarter = (q, field) => {
  const n = samples.length;
  return median(
    samples
      .slice(Math.floor((n * q) / 4), Math.max(Math.floor((n * (q + 1)) / 4), 1 + Math.floor((n * q) / 4)))
      .map((s) => s[field] ?? 0),
  );
};
const rss = samples.map((s) => s.rss);
const anon = samples.map((s) => s.anon ?? 0);
const result = {
  seconds,
  sent,
  sendErrors,
  processed,
  redelivered,
  skipped,
  retentionGaps,
  unprocessed,
  wrong,
  lags,
  catchUpMs,
  disconnects,
  joins,
  evictions: evictions.length,
  overlaps,
  returns,
  examples,
  samples: samples.length,
  rssMiB: { first: mib(rss[0]), last: mib(rss[rss.length - 1]), max: mib(Math.max(...rss)) },
  anonMiB: { first: mib(anon[0]), last: mib(anon[anon.length - 1]), max: mib(Math.max(...anon)) },
  // Steady growth: the last quarter's median against the second quarter's.
  rssGrowthMiB: mib(quarter(3, 'rss') - quarter(1, 'rss')),
  anonGrowthMiB: mib(quarter(3, 'anon') - quarter(1, 'anon')),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
