/**
 * `Kafka`: the kafkajs client, backed by an embedded log in `dataDir`.
 *
 *   const kafka = new Kafka({ clientId: 'my-app', dataDir: './ferrolog-data' })
 *   const producer = kafka.producer()
 *
 * Without `dataDir` but with `brokers`, the same API speaks the Kafka protocol
 * to those brokers (a ferrolog broker or an Apache Kafka cluster), with `ssl`,
 * `sasl`, `connectionTimeout` and `requestTimeout`: the remote transport
 * (`ts/transport/`).
 *
 * With `dataDir`, `brokers`, `ssl`, `sasl`, `socketFactory`,
 * `connectionTimeout`, `authenticationTimeout`, `reauthenticationThreshold`,
 * `requestTimeout` and `enforceRequestTimeout` are accepted and ignored: there
 * is no broker to connect to. Every client of one directory in a process
 * shares one engine.
 */
import type * as tls from 'node:tls';
import { Admin } from '../admin/admin';
import { LocalAdminTransport } from '../admin/local-transport';
import { Consumer, type ConsumerConfig } from '../consumer/consumer';
import { InvalidArgumentError, LockedError } from '../errors';
import { type GroupCoordinatorOptions, Log, type LogOptions, type TopicConfigEntries } from '../log';
import { type Mirror, type MirrorConfig, type MirrorEnd, openMirror } from '../mirror';
import { Producer, type ProducerConfig } from '../producer/producer';
import type { RawValue } from '../producer/serializers';
import { type BrokerServer, type ListenOptions, listen } from '../server/listen';
import { LocalConsumerTransport } from '../transport/fetch-local';
import { RemoteConsumerTransport } from '../transport/fetch-remote';
import { LocalProducerTransport } from '../transport/local-producer';
import { RemoteTransport } from '../transport/remote';
import { RemoteAdminTransport } from '../transport/remote-admin';
import { RemoteProducerTransport } from '../transport/remote-producer';
import type { AdminConfig, BrokersFunction, ISocketFactory, Mechanism, SASLOptions } from '../types/kafkajs';
import { createLogger, type Logger, type logCreator, logLevel } from './logger';
import { type RetryOptions, withRetry } from './retry';

export interface KafkaConfig {
  clientId?: string;
  /** Where the log lives (default `./ferrolog-data` unless `brokers` is given). */
  dataDir?: string;
  /** Without `dataDir`: the Kafka brokers to bootstrap from (`host:port`); ignored with `dataDir`. */
  brokers?: string[] | BrokersFunction;
  ssl?: tls.ConnectionOptions | boolean;
  sasl?: SASLOptions | Mechanism;
  connectionTimeout?: number;
  authenticationTimeout?: number;
  reauthenticationThreshold?: number;
  requestTimeout?: number;
  enforceRequestTimeout?: boolean;
  socketFactory?: ISocketFactory;
  /** Used for retriable errors, and by `connect` while another process holds the data directory. */
  retry?: RetryOptions;
  logLevel?: logLevel;
  logCreator?: logCreator;
  /** Partitions of auto-created topics (default 1, as Kafka's num.partitions). */
  defaultNumPartitions?: number;
  /** Config of topics created without one, Kafka-named (e.g. `{ flush: 'always' }`). */
  defaultTopicConfig?: TopicConfigEntries;
  /**
   * ferrolog: open `dataDir` read-only (no lock, nothing written), to read a
   * directory another process owns. Producing and committing then fail.
   */
  readOnly?: boolean;
  /**
   * ferrolog: the data directory's group coordinator, as Kafka's broker
   * settings `group.initial.rebalance.delay.ms` (ferrolog's default 0, see
   * the README), `offsets.retention.minutes` (default 10080) and
   * `offsets.retention.check.interval.ms` (default 600000). The first
   * opener of a directory in the process wins.
   */
  groupCoordinator?: GroupCoordinatorOptions;
}

export class Kafka {
  readonly clientId: string;
  readonly dataDir: string;
  readonly retry: RetryOptions | undefined;
  readonly defaultNumPartitions: number;
  private readonly config: KafkaConfig;
  private readonly rootLogger: Logger;
  /** The remote transport, when this client talks to brokers instead of a directory. */
  private readonly remote: RemoteTransport | null;

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
    const hasBrokers =
      typeof config.brokers === 'function' || (Array.isArray(config.brokers) && config.brokers.length > 0);
    this.remote =
      config.dataDir === undefined && hasBrokers ? new RemoteTransport(config, this.clientId) : null;
  }

  /** `local` (an embedded log in `dataDir`) or `remote` (Kafka brokers). */
  get transport(): 'local' | 'remote' {
    return this.remote === null ? 'local' : 'remote';
  }

  /** Opens a handle on the shared engine; each client closes its own on disconnect. */
  openLog(): Log {
    const options: LogOptions = { readOnly: this.config.readOnly === true };
    if (this.config.defaultTopicConfig !== undefined)
      options.defaultTopicConfig = this.config.defaultTopicConfig;
    if (this.config.groupCoordinator !== undefined) options.groupCoordinator = this.config.groupCoordinator;
    return Log.open(this.dataDir, options);
  }

  producer<K = RawValue, V = RawValue>(config: ProducerConfig<K, V> = {}): Producer<K, V> {
    // One producer over either transport; it sees only this context, never the client.
    const transport =
      this.remote !== null
        ? new RemoteProducerTransport(this.remote, this.defaultNumPartitions)
        : new LocalProducerTransport((retry) => this.openLogWithRetry(retry), this.defaultNumPartitions);
    return new Producer<K, V>(
      { clientId: this.clientId, logger: this.rootLogger, retry: this.retry, transport },
      config,
    );
  }

  consumer<K = Buffer | null, V = Buffer | null>(config: ConsumerConfig<K, V>): Consumer<K, V> {
    // One consumer over either transport: the data directory's engine and
    // coordinator, or the Kafka protocol to `brokers`.
    const transport =
      this.remote !== null ? new RemoteConsumerTransport(this.remote) : new LocalConsumerTransport(this);
    return new Consumer<K, V>(
      {
        clientId: this.clientId,
        logger: this.rootLogger,
        retry: this.retry,
        defaultNumPartitions: this.defaultNumPartitions,
        transport,
      },
      config,
    );
  }

  admin(config: AdminConfig = {}): Admin {
    // One admin over either transport: the data directory's engine and
    // coordinator, or the Kafka protocol to `brokers`.
    const transport =
      this.remote !== null ? new RemoteAdminTransport(this.remote) : new LocalAdminTransport(this);
    return new Admin({ logger: this.rootLogger, retry: this.retry, transport }, config);
  }

  /** The directory-wide topic defaults this client was given, as strings (what `describeConfigs` calls broker config). */
  directoryTopicDefaults(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.config.defaultTopicConfig ?? {})) out[k] = String(v);
    return out;
  }

  /**
   * Opens the log for a client's `connect`. Another process holding the
   * directory is waited for per `retry` while it is alive (it may be
   * restarting); when it cannot be waited for, or the retries run out, the
   * error says what to do instead.
   */
  async openLogWithRetry(retry: RetryOptions | undefined = this.retry): Promise<Log> {
    return withRetry(retry, () => {
      try {
        return this.openLog();
      } catch (e) {
        if (!(e instanceof LockedError)) throw e;
        throw lockedAdvice(e, this.dataDir);
      }
    });
  }

  logger(): Logger {
    return this.rootLogger;
  }

  /**
   * A mirror between this client's end (its `dataDir`, or its brokers) and
   * `from` or `to`: `await kafka.mirror({ to: { brokers: ['k1:9092'] }, topics: /^orders/ })`,
   * then `run()` it (see ts/mirror).
   */
  mirror(options: MirrorConfig): Promise<Mirror> {
    const self: MirrorEnd =
      this.remote === null
        ? { dataDir: this.dataDir }
        : ({ ...this.config, brokers: this.config.brokers } as MirrorEnd);
    return openMirror({
      clientId: this.clientId,
      ...options,
      from: options.from ?? self,
      to: options.to ?? self,
    });
  }

  /** Serves this data directory to other processes over the Kafka protocol. */
  listen(options: ListenOptions = {}): Promise<BrokerServer> {
    return listen(this.dataDir, options, {
      defaultTopicConfig: this.config.defaultTopicConfig,
      groupCoordinator: this.config.groupCoordinator,
      numPartitions: this.defaultNumPartitions,
      warn: (m) => this.rootLogger.warn(m),
    });
  }
}

/**
 * Adds what to do to a LockedError. The lock is an flock, so while it is
 * held some process holds it; if its pid is not one this process can see
 * (another container or host), waiting on it is pointless and the error is
 * not retriable.
 */
function lockedAdvice(e: LockedError, dataDir: string): LockedError {
  const pid = Number(/\(pid (\d+)\)/.exec(e.message)?.[1] ?? Number.NaN);
  let visible = true;
  if (Number.isSafeInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 0);
    } catch (err) {
      visible = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  const advice =
    `Only one process may write ${dataDir}: connect to the owning process's broker by passing its ` +
    'address in `brokers`, or open the directory read-only with `readOnly: true` to read next to it.';
  return new LockedError(`${e.message}. ${advice}`, visible);
}
