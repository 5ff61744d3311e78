/**
 * `Kafka`: the kafkajs client, backed by an embedded log in `dataDir`.
 *
 *   const kafka = new Kafka({ clientId: 'my-app', dataDir: './ferrolog-data' })
 *   const producer = kafka.producer()
 *
 * `brokers`, `ssl` and `sasl` are accepted and ignored: there is no broker.
 * Every client of one directory in a process shares one engine.
 */

import { Admin } from '../admin/admin';
import { Consumer, type ConsumerConfig } from '../consumer/consumer';
import { InvalidArgumentError } from '../errors';
import { Log, type TopicConfigEntries } from '../log';
import { Producer, type ProducerConfig } from '../producer/producer';
import type { RawValue } from '../producer/serializers';
import { type BrokerServer, type ListenOptions, listen } from '../server/listen';
import { createLogger, type Logger, type logCreator, logLevel } from './logger';
import type { RetryOptions } from './retry';

export interface KafkaConfig {
  clientId?: string;
  /** Where the log lives (default `./ferrolog-data`). */
  dataDir?: string;
  /** Accepted for kafkajs compatibility; unused. */
  brokers?: string[] | (() => string[] | Promise<string[]>);
  ssl?: unknown;
  sasl?: unknown;
  connectionTimeout?: number;
  authenticationTimeout?: number;
  requestTimeout?: number;
  enforceRequestTimeout?: boolean;
  retry?: RetryOptions;
  logLevel?: logLevel;
  logCreator?: logCreator;
  /** Partitions of auto-created topics (default 1, as Kafka's num.partitions). */
  defaultNumPartitions?: number;
  /** Config of topics created without one, Kafka-named (e.g. `{ flush: 'always' }`). */
  defaultTopicConfig?: TopicConfigEntries;
}

export class Kafka {
  readonly clientId: string;
  readonly dataDir: string;
  readonly retry: RetryOptions | undefined;
  readonly defaultNumPartitions: number;
  private readonly config: KafkaConfig;
  private readonly rootLogger: Logger;

  constructor(config: KafkaConfig = {}) {
    if (config === null || typeof config !== 'object')
      throw new InvalidArgumentError('Kafka needs a config object');
    this.config = config;
    this.clientId = config.clientId ?? 'ferrolog';
    this.dataDir = config.dataDir ?? './ferrolog-data';
    if (typeof this.dataDir !== 'string' || this.dataDir.length === 0) {
      throw new InvalidArgumentError('dataDir must be a non-empty string');
    }
    this.retry = config.retry;
    this.defaultNumPartitions = config.defaultNumPartitions ?? 1;
    if (!Number.isInteger(this.defaultNumPartitions) || this.defaultNumPartitions < 1) {
      throw new InvalidArgumentError('defaultNumPartitions must be a positive integer');
    }
    this.rootLogger = createLogger(config.logLevel ?? logLevel.INFO, config.logCreator);
  }

  /** Opens a handle on the shared engine; each client closes its own on disconnect. */
  openLog(): Log {
    const options =
      this.config.defaultTopicConfig === undefined
        ? {}
        : { defaultTopicConfig: this.config.defaultTopicConfig };
    return Log.open(this.dataDir, options);
  }

  producer<K = RawValue, V = RawValue>(config: ProducerConfig<K, V> = {}): Producer<K, V> {
    return new Producer<K, V>(this, config);
  }

  consumer<K = Buffer | null, V = Buffer | null>(config: ConsumerConfig<K, V>): Consumer<K, V> {
    return new Consumer<K, V>(this, config);
  }

  admin(): Admin {
    return new Admin(this);
  }

  logger(): Logger {
    return this.rootLogger;
  }

  /** Serves this data directory to other processes over the Kafka protocol. */
  listen(options: ListenOptions = {}): Promise<BrokerServer> {
    return listen(this.dataDir, options, {
      defaultTopicConfig: this.config.defaultTopicConfig,
      numPartitions: this.defaultNumPartitions,
      warn: (m) => this.rootLogger.warn(m),
    });
  }
}
