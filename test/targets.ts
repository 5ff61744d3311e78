/**
 * The three places one kafkajs-API program runs against, for the suites
 * that run the same cases on each (producer-, admin- and
 * consumer-transport tests): in process (`dataDir`), ferrolog's broker
 * (`kafka.listen()` in this process) and an Apache Kafka cluster (the run's
 * shared one, test/kafka/shared.mjs; unavailable without `java`). Only the
 * `Kafka` config differs between them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from '../ts';
import type { BrokerServer } from '../ts/server/listen';
import { javaAvailable } from './kafka/jars.mjs';
import { type SharedKafka, useKafka } from './kafka/shared.mjs';

export type TargetKind = 'local' | 'broker' | 'kafka';

export interface Target {
  name: string;
  kind: TargetKind;
  available: boolean;
  /** Makes the target (a directory, a broker, the shared cluster): once per describe block. */
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A client of the target, `clientId` as given to `threeTargets`. */
  kafka(): Kafka;
}

/** The three targets, each with state of its own; directories are named after `clientId`. */
export function threeTargets(clientId: string): Target[] {
  let localDir = '';
  let brokerDir = '';
  let server: BrokerServer | null = null;
  let shared: SharedKafka | null = null;
  return [
    {
      name: 'in process',
      kind: 'local',
      available: true,
      setup: async () => {
        localDir = mkdtempSync(join(tmpdir(), `ferrolog-${clientId}-`));
      },
      teardown: async () => {
        if (localDir !== '') rmSync(localDir, { recursive: true, force: true });
      },
      kafka: () => new Kafka({ clientId, dataDir: localDir, logLevel: logLevel.NOTHING }),
    },
    {
      name: "ferrolog's broker",
      kind: 'broker',
      available: true,
      setup: async () => {
        brokerDir = mkdtempSync(join(tmpdir(), `ferrolog-${clientId}-broker-`));
        // The owner keeps the broker's directory open until teardown.
        const owner = new Kafka({ clientId: 'owner', dataDir: brokerDir, logLevel: logLevel.NOTHING });
        server = await owner.listen({ port: 0, host: '127.0.0.1' });
      },
      teardown: async () => {
        await server?.close();
        server = null;
        if (brokerDir !== '') rmSync(brokerDir, { recursive: true, force: true });
      },
      kafka: () =>
        new Kafka({
          clientId,
          brokers: [`127.0.0.1:${(server as BrokerServer).address.port}`],
          logLevel: logLevel.NOTHING,
        }),
    },
    {
      name: 'Apache Kafka 4.1',
      kind: 'kafka',
      available: javaAvailable(),
      setup: async () => {
        shared = await useKafka({ nodes: 1 });
      },
      teardown: async () => {
        await shared?.release();
        shared = null;
      },
      kafka: () =>
        new Kafka({
          clientId,
          brokers: (shared as SharedKafka).bootstrap.split(','),
          logLevel: logLevel.NOTHING,
        }),
    },
  ];
}
