// A consumer-group member in a process of its own, for
// test/groups-multiprocess.test.ts: ferrolog's remote client
// (`new Kafka({ brokers })`), kafkajs 2.2.4, or (in the owner process)
// ferrolog's in-process consumer. It records, as JSON lines appended
// synchronously to its out file before the offsets after them are
// committed:
//   {"k":"assign","m":NAME,"t":MS,"parts":[...]}   at every GROUP_JOIN
//   {"k":"msg","m":NAME,"p":P,"o":OFFSET,"t0":MS,"t1":MS}
// and stops (disconnecting: commit, leave) when OUT.stop appears.
//
// Usage: node member.mjs '{"kind":"ferrolog"|"kafkajs","brokers":[..],"topic":..,"group":..,"out":..,"name":..,"sessionTimeout":..}'
import { appendFileSync, existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export const now = () => performance.timeOrigin + performance.now();

/** Runs one member with `kafka` (a ferrolog or kafkajs client); resolves once it has stopped. */
export async function runMember(kafka, options) {
  const { topic, group, out, name } = options;
  const record = (o) => appendFileSync(out, `${JSON.stringify({ m: name, ...o })}\n`);
  const consumer = kafka.consumer({
    groupId: group,
    sessionTimeout: options.sessionTimeout ?? 6000,
    heartbeatInterval: 500,
    rebalanceTimeout: options.rebalanceTimeout ?? 20_000,
    maxWaitTimeInMs: 200,
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    record({
      k: 'assign',
      t: now(),
      parts: [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b),
    });
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const t0 = now();
      // Some work, so that a second owner would overlap in time.
      if (Math.random() < 0.05) await sleep(1);
      record({ k: 'msg', p: partition, o: Number(message.offset), t0, t1: now() });
    },
  });
  options.onStarted?.();
  while (!existsSync(`${out}.stop`)) await sleep(50);
  await consumer.disconnect();
  record({ k: 'closed', t: now() });
}

if (process.argv[1]?.endsWith('member.mjs')) {
  const options = JSON.parse(process.argv[2]);
  let kafka;
  if (options.kind === 'kafkajs') {
    const { Kafka, logLevel } = await import('kafkajs');
    kafka = new Kafka({ clientId: options.name, brokers: options.brokers, logLevel: logLevel.NOTHING });
  } else {
    const { Kafka } = await import('../../dist/index.js');
    kafka = new Kafka({ clientId: options.name, brokers: options.brokers, logLevel: 0 });
  }
  await runMember(kafka, { ...options, onStarted: () => process.stdout.write('started\n') });
  process.exit(0);
}
