// The contestants: each writes `messages` values of `size` bytes, then reads
// them all back, through its idiomatic, fastest documented API, at the
// durability asked for. Each returns what it read so the harness can check
// it read back exactly what was written.
import { join } from 'node:path';
import { decodeMessages, encodeBatch, Kafka, Log } from 'ferrolog';
import { physicalWrite } from './physical.mjs';

export const BATCH = 1000;

/** Digest of one value, summed order-independently. */
export function digest(v) {
  return (v.readUInt32LE(0) * 31 + v.readUInt32LE(v.length - 4) + v.length) % 2 ** 32;
}

export function addDigest(sum, v) {
  return (sum + digest(v)) % 2 ** 48;
}

/** `addDigest` of the `len` bytes at `start` of `buf`, read in place (the columnar reader's way). */
export function addDigestAt(sum, buf, start, len) {
  const d = (buf.readUInt32LE(start) * 31 + buf.readUInt32LE(start + len - 4) + len) % 2 ** 32;
  return (sum + d) % 2 ** 48;
}

/** The values, as views of one buffer; each carries its index at both ends. */
export function makeValues(messages, size) {
  const data = Buffer.alloc(messages * size, 0x61);
  const values = new Array(messages);
  let expected = 0;
  for (let i = 0; i < messages; i++) {
    const v = data.subarray(i * size, (i + 1) * size);
    v.writeUInt32LE(i, 0);
    v.writeUInt32LE((i ^ 0x5bd1e995) >>> 0, size - 4);
    values[i] = v;
    expected = addDigest(expected, v);
  }
  return { values, expected };
}

function batches(values, fn) {
  const out = [];
  for (let i = 0; i < values.length; i += BATCH) out.push(fn(values.slice(i, i + BATCH), i));
  return out;
}

/**
 * Reads `messages` messages with a kafkajs-API consumer (ferrolog's or
 * kafkajs' itself) and eachBatch, digesting every value.
 */
async function consumeWithGroup(consumer, topic, messages, handler = { eachBatch: onBatch }) {
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  return timedPass(messages, () => consumer.run(handler), consumer);
}

/**
 * One timed consumer pass. The handlers below are made once per process
 * and keep their state in `pass`, so the untimed and the timed pass call
 * the same functions: a handler made afresh for the timed pass ran its
 * first ~16,000 messages deoptimised (V8 had inlined the first pass's
 * closure), a warm-up cost inside what is meant to be the steady state.
 */
const pass = { count: 0, sum: 0, target: 0, done: () => {} };

async function timedPass(messages, run, consumer) {
  pass.count = 0;
  pass.sum = 0;
  pass.target = messages;
  const start = performance.now();
  await new Promise((resolve) => {
    pass.done = resolve;
    run();
  });
  const seconds = (performance.now() - start) / 1000;
  await consumer.disconnect();
  return { seconds, count: pass.count, digest: pass.sum };
}

async function onBatch({ batch }) {
  let sum = pass.sum;
  for (const m of batch.messages) sum = addDigest(sum, m.value);
  pass.sum = sum;
  pass.count += batch.messages.length;
  if (pass.count >= pass.target) pass.done();
}

async function onMessage({ message }) {
  pass.sum = addDigest(pass.sum, message.value);
  if (++pass.count >= pass.target) pass.done();
}

async function onRecords({ batch }) {
  const r = batch.records;
  let sum = pass.sum;
  for (let i = 0; i < r.length; i++) sum = addDigestAt(sum, r.buffer, r.valueStarts[i], r.valueLengths[i]);
  pass.sum = sum;
  pass.count += r.length;
  if (pass.count >= pass.target) pass.done();
}

/** The baseline workload the ratios are stated for: 100 B, 1 partition, relaxed. */
export const isBaseline = (w) => w.size === 100 && w.partitions === 1 && w.durability === 'relaxed';

async function openFerrolog(self, w, dir) {
  self.kafka = new Kafka({ dataDir: join(dir, 'data'), logLevel: 0 });
  const admin = self.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 't', numPartitions: w.partitions }] });
  await admin.disconnect();
  const producer = self.kafka.producer({ acks: w.durability === 'strict' ? -1 : 1 });
  await producer.connect();
  return producer;
}

/**
 * Reads back everything with the Log API, untimed, for the variants that
 * measure only their produce side: the harness still checks count and digest.
 */
async function verifyWithLog(kafka, partitions) {
  const log = kafka.openLog();
  let count = 0;
  let sum = 0;
  try {
    for (let p = 0; p < partitions; p++) {
      const hw = log.watermarks('t', p).highWatermark;
      let offset = 0;
      while (offset < hw) {
        const r = log.read('t', p, offset, 4 << 20);
        const msgs = decodeMessages(r.batches, offset);
        for (let i = 0; i < msgs.length; i++) sum = addDigest(sum, msgs[i].value);
        count += msgs.length;
        offset = r.nextOffset;
      }
    }
  } finally {
    await log.close();
  }
  return { seconds: Number.NaN, count, digest: sum };
}

/**
 * A ferrolog kafkajs-API contestant: `send` produces the values (timed),
 * `consume` reads them back (timed, or NaN for produce-only variants).
 * Adding a variant (a columnar eachBatch, say) is one more call of this in
 * `contestants` below, with its own `consume`.
 */
export function ferrologVariant({
  name,
  describe,
  prepare = (values) => values,
  send,
  consume,
  hidden = false,
  onlyFor = null,
  shows,
}) {
  return {
    name,
    describe,
    hidden,
    onlyFor,
    // Which figures are this variant's own (the others repeat another contestant's or are not measured).
    shows: shows ?? (consume ? ['produce', 'consume'] : ['produce']),
    async produce(w, values, dir) {
      const producer = await openFerrolog(this, w, dir);
      // The input is made before the clock starts, as the Log API's encoded
      // batches and the other contestants' values are: only writing is timed.
      const input = prepare(values);
      const start = performance.now();
      await send(producer, input, w);
      const seconds = (performance.now() - start) / 1000;
      // Connected until the read is done, so the engine stays open between
      // the two, as the Log API contestant's log does: closed, it would be
      // reopened by the consumer, whose first read of each recovered
      // segment checks every batch's CRC again (5-9 ms of a 200,000-message
      // pass), a cost of opening a directory, not of reading.
      this.producer = producer;
      return seconds;
    },
    async consume(w) {
      const kafka = this.kafka;
      try {
        return await (consume ? consume(kafka, w) : verifyWithLog(kafka, w.partitions));
      } finally {
        await this.producer.disconnect();
      }
    },
  };
}

/** The values as kafkajs messages, in 1000-message arrays (made untimed). */
export const messageArrays = (values) => batches(values, (vs) => vs.map((value) => ({ value })));

export async function sendArrays(producer, groups) {
  for (const messages of groups) await producer.send({ topic: 't', messages });
}

/** A ferrolog group consumer of the harness's topic, reading `w.messages` with `handler` (eachBatch over messages by default). */
const groupConsume = (handler) => (kafka, w) =>
  consumeWithGroup(
    kafka.consumer({ groupId: 'bench', maxBytesPerPartition: 4 << 20 }),
    't',
    w.messages,
    handler,
  );

export const eachBatchConsume = groupConsume({ eachBatch: onBatch });

const ferrologClient = ferrologVariant({
  name: 'ferrolog',
  describe: 'producer.send of 1000-message arrays; consumer eachBatch (group) touching every value',
  prepare: messageArrays,
  send: sendArrays,
  consume: eachBatchConsume,
});

const ferrologSingle = ferrologVariant({
  name: 'ferrolog (awaited single sends)',
  describe: 'producer.send of one message, each awaited before the next (produce only)',
  onlyFor: isBaseline,
  prepare: (values) => values.map((value) => ({ topic: 't', messages: [{ value }] })),
  async send(producer, records) {
    for (let i = 0; i < records.length; i++) await producer.send(records[i]);
  },
});

export const CONCURRENT = 10_000;
const ferrologConcurrent = ferrologVariant({
  name: 'ferrolog (10,000 concurrent sends)',
  describe: `producer.send of one message, ${CONCURRENT.toLocaleString('en-US')} in flight, awaited together (produce only)`,
  onlyFor: isBaseline,
  prepare: (values) => values.map((value) => ({ topic: 't', messages: [{ value }] })),
  async send(producer, records) {
    for (let i = 0; i < records.length; i += CONCURRENT) {
      const wave = [];
      const end = Math.min(records.length, i + CONCURRENT);
      for (let k = i; k < end; k++) wave.push(producer.send(records[k]));
      await Promise.all(wave);
    }
  },
});

const ferrologEachMessage = ferrologVariant({
  name: 'ferrolog (eachMessage)',
  describe: 'producer.send of 1000-message arrays; consumer eachMessage (group) touching every value',
  onlyFor: isBaseline,
  shows: ['consume'],
  prepare: messageArrays,
  send: sendArrays,
  consume: groupConsume({ eachMessage: onMessage }),
});

const ferrologColumnar = ferrologVariant({
  name: 'ferrolog (eachBatch records)',
  describe:
    'producer.send of 1000-message arrays; consumer eachBatch (group) over batch.records, the columnar view beyond kafkajs, touching every value in place',
  onlyFor: isBaseline,
  shows: ['consume'],
  prepare: messageArrays,
  send: sendArrays,
  consume: groupConsume({ eachBatch: onRecords }),
});

function logContestant(name, broken) {
  return {
    name,
    describe: broken
      ? 'deliberately loses one message (harness self-test)'
      : 'Log.append of encoded 1000-record batches; Log.read + lazy decode',
    hidden: broken,
    async produce(w, values, dir) {
      this.log = Log.open(join(dir, 'data'));
      this.log.createTopic('t', {
        partitions: w.partitions,
        config: { flush: w.durability === 'strict' ? 'always' : 'none' },
      });
      const now = Date.now();
      const encoded = batches(values, (vs) =>
        encodeBatch(vs.map((value) => ({ key: null, value, timestamp: now }))),
      );
      const start = performance.now();
      for (let b = 0; b < encoded.length; b++) {
        const r = this.log.append('t', b % w.partitions, encoded[b]);
        if (typeof r !== 'number') await r;
      }
      return (performance.now() - start) / 1000;
    },
    async consume(w) {
      let count = 0;
      let sum = 0;
      const start = performance.now();
      for (let p = 0; p < w.partitions; p++) {
        const hw = this.log.watermarks('t', p).highWatermark;
        let offset = 0;
        while (offset < hw) {
          const r = this.log.read('t', p, offset, 4 << 20);
          const msgs = decodeMessages(r.batches, offset);
          for (let i = 0; i < msgs.length; i++) sum = addDigest(sum, msgs[i].value);
          count += msgs.length;
          offset = r.nextOffset;
        }
      }
      const seconds = (performance.now() - start) / 1000;
      await this.log.close();
      // The self-test contestant loses one message, which the harness must catch.
      return broken ? { seconds, count: count - 1, digest: sum } : { seconds, count, digest: sum };
    },
  };
}

const lmdbContestant = {
  name: 'lmdb-js',
  describe: 'one write transaction per 1000 puts (key = offset); getRange to read',
  async produce(w, values, dir) {
    const { open } = await import('lmdb');
    this.db = open({
      path: join(dir, 'lmdb'),
      encoding: 'binary',
      noSync: w.durability !== 'strict',
      compression: false,
    });
    const start = performance.now();
    for (let i = 0; i < values.length; i += BATCH) {
      const end = Math.min(values.length, i + BATCH);
      await this.db.transaction(() => {
        for (let k = i; k < end; k++) this.db.put(k, values[k]);
      });
    }
    return (performance.now() - start) / 1000;
  },
  async consume() {
    let count = 0;
    let sum = 0;
    const start = performance.now();
    for (const { value } of this.db.getRange({})) {
      sum = addDigest(sum, value);
      count++;
    }
    const seconds = (performance.now() - start) / 1000;
    await this.db.close();
    return { seconds, count, digest: sum };
  },
};

const sqliteContestant = {
  name: 'better-sqlite3',
  describe: 'WAL, one transaction per 1000 inserts; ordered SELECT to read',
  async produce(w, values, dir) {
    const Database = (await import('better-sqlite3')).default;
    this.db = new Database(join(dir, 'log.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${w.durability === 'strict' ? 'FULL' : 'OFF'}`);
    this.db.exec('CREATE TABLE log (id INTEGER PRIMARY KEY, p INTEGER NOT NULL, v BLOB NOT NULL)');
    const insert = this.db.prepare('INSERT INTO log (id, p, v) VALUES (?, ?, ?)');
    const tx = this.db.transaction((from, to) => {
      for (let k = from; k < to; k++) insert.run(k, k % w.partitions, values[k]);
    });
    const start = performance.now();
    for (let i = 0; i < values.length; i += BATCH) tx(i, Math.min(values.length, i + BATCH));
    return (performance.now() - start) / 1000;
  },
  async consume() {
    let count = 0;
    let sum = 0;
    const start = performance.now();
    for (const v of this.db.prepare('SELECT v FROM log ORDER BY id').pluck().iterate()) {
      sum = addDigest(sum, v);
      count++;
    }
    const seconds = (performance.now() - start) / 1000;
    this.db.close();
    return { seconds, count, digest: sum };
  },
};

function physical(mode) {
  return {
    name: `physical (${mode === 'write' ? 'write(2)' : 'mmap copy'})`,
    describe:
      mode === 'write'
        ? 'the same encoded batches, sequential write(2), natively'
        : 'the same encoded batches copied into a fallocated shared map, natively',
    produceOnly: true,
    async produce(w, values, dir) {
      const now = Date.now();
      const one = encodeBatch(values.slice(0, BATCH).map((value) => ({ key: null, value, timestamp: now })));
      const total = Math.ceil(values.length / BATCH) * one.length;
      return physicalWrite(join(dir, `physical-${mode}`), one, total, mode, w.durability === 'strict');
    },
    async consume(w, values) {
      // Nothing to read back: the physical limit is a write measurement.
      // Verification is of the bytes written, recomputed from the values.
      let sum = 0;
      for (const v of values) sum = addDigest(sum, v);
      return { seconds: Number.NaN, count: w.messages, digest: sum };
    },
  };
}

const kafkajsContestant = {
  name: 'kafkajs',
  describe: 'kafkajs 2.2.4 against KAFKA_BROKERS: send of 1000-message arrays, eachBatch',
  needsBroker: true,
  async produce(w, values) {
    const { Kafka: KafkaJS, logLevel } = await import('kafkajs');
    this.topic = `ferrolog-bench-${process.pid}-${Date.now()}`;
    this.kafka = new KafkaJS({
      clientId: 'ferrolog-bench',
      brokers: process.env.KAFKA_BROKERS.split(','),
      logLevel: logLevel.NOTHING,
    });
    const admin = this.kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: this.topic, numPartitions: w.partitions }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const producer = this.kafka.producer();
    await producer.connect();
    const groups = batches(values, (vs) => vs.map((value) => ({ value })));
    const start = performance.now();
    for (const messages of groups)
      await producer.send({ topic: this.topic, acks: w.durability === 'strict' ? -1 : 1, messages });
    const seconds = (performance.now() - start) / 1000;
    await producer.disconnect();
    return seconds;
  },
  consume(w) {
    return consumeWithGroup(this.kafka.consumer({ groupId: `${this.topic}-g` }), this.topic, w.messages);
  },
};

export const contestants = [
  ferrologClient,
  ferrologSingle,
  ferrologConcurrent,
  ferrologEachMessage,
  ferrologColumnar,
  logContestant('ferrolog (Log API)', false),
  lmdbContestant,
  sqliteContestant,
  physical('write'),
  physical('mmap'),
  kafkajsContestant,
  logContestant('broken', true),
];

/**
 * End-to-end latency at a fixed rate: `rate` messages a second for
 * `seconds`, each value stamped with its send time, read back as it lands.
 * ferrolog's reader waits on the engine's long-poll; lmdb and SQLite have
 * no change notification, so their readers poll on every turn of the loop.
 */
export const latency = {
  ferrolog: async (w, dir) => {
    const kafka = new Kafka({ dataDir: join(dir, 'data'), logLevel: 0 });
    const producer = kafka.producer({ acks: 1 });
    await producer.connect();
    const consumer = kafka.consumer({ groupId: 'lat' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'lat' });
    const out = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push(performance.now() - message.value.readDoubleLE(0));
      },
    });
    await pace(w, (values) => producer.send({ topic: 'lat', messages: values.map((value) => ({ value })) }));
    await until(() => out.length >= w.rate * w.seconds);
    await consumer.disconnect();
    await producer.disconnect();
    return out;
  },
  'lmdb-js': async (w, dir) => {
    const { open } = await import('lmdb');
    const db = open({ path: join(dir, 'lmdb'), encoding: 'binary', noSync: true, compression: false });
    const out = [];
    let next = 0;
    let written = 0;
    let polling = true;
    const poll = () => {
      for (const { value } of db.getRange({ start: next })) {
        out.push(performance.now() - value.readDoubleLE(0));
        next++;
      }
      if (polling) setImmediate(poll);
    };
    poll();
    await pace(w, (values) =>
      db.transaction(() => {
        for (const v of values) db.put(written++, v);
      }),
    );
    await until(() => out.length >= w.rate * w.seconds);
    polling = false;
    await db.close();
    return out;
  },
  'better-sqlite3': async (w, dir) => {
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(dir, 'log.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    db.exec('CREATE TABLE log (id INTEGER PRIMARY KEY, v BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO log (v) VALUES (?)');
    const tx = db.transaction((values) => {
      for (const v of values) insert.run(v);
    });
    const select = db.prepare('SELECT id, v FROM log WHERE id > ? ORDER BY id');
    const out = [];
    let last = 0;
    let polling = true;
    const poll = () => {
      for (const row of select.iterate(last)) {
        out.push(performance.now() - row.v.readDoubleLE(0));
        last = row.id;
      }
      if (polling) setImmediate(poll);
    };
    poll();
    await pace(w, (values) => tx(values));
    await until(() => out.length >= w.rate * w.seconds);
    polling = false;
    db.close();
    return out;
  },
};

/** Sends `rate` stamped values a second, in steps of one millisecond. */
async function pace(w, send) {
  const total = w.rate * w.seconds;
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * w.rate));
    if (due > sent) {
      const values = [];
      for (let i = sent; i < due; i++) {
        const v = Buffer.alloc(w.size);
        v.writeDoubleLE(performance.now(), 0);
        values.push(v);
      }
      await send(values);
      sent = due;
    }
    await new Promise((r) => setImmediate(r));
  }
}

async function until(check) {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('latency run did not read everything back');
    await new Promise((r) => setTimeout(r, 2));
  }
}
