/**
 * `kafka.listen()`: serves this process's data directory to other
 * processes over the Kafka protocol. The broker runs on native threads of
 * its own (tokio, in the addon); the JavaScript thread only starts it,
 * reads its counters and awaits its close. In-process producers and
 * consumers of the same directory keep going at full speed beside it.
 *
 *   const server = await kafka.listen({ port: 9092 })
 *   // kcat -b 127.0.0.1:9092 -L
 *   await server.close()
 */
import { isIP } from 'node:net';
import { fromNative, InvalidArgumentError } from '../errors';
import type { GroupCoordinatorOptions, TopicConfigEntries } from '../log';
import { binding, type NativeBroker, type NativeLog } from '../native';
import { recordListener } from './listener-file';

export interface ListenOptions {
  /** Default 9092; 0 picks a free port (see `address.port`). */
  port?: number;
  /** An IP address or `localhost`; default 127.0.0.1. */
  host?: string;
  /** Host clients are told to connect to (Kafka's advertised.listeners); default the bound address. */
  advertisedHost?: string;
  advertisedPort?: number;
  /**
   * Listening on a non-loopback address serves the data unauthenticated
   * and unencrypted to the network: refused unless this is true.
   */
  allowPlaintext?: boolean;
  /** auto.create.topics.enable (default true). */
  autoCreateTopics?: boolean;
  /** Partitions of auto-created topics (default: the client's defaultNumPartitions, else 1). */
  numPartitions?: number;
  /** Connections beyond this many are closed on accept (default 1024). */
  maxConnections?: number;
  /** socket.request.max.bytes (default 100 MiB). */
  requestMaxBytes?: number;
  /**
   * SASL users and their passwords: when given, every client must
   * authenticate with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (kafkajs
   * `sasl: { mechanism: 'scram-sha-256', ... }`), and ACLs are enforced on
   * every request (see `superUsers`). Without `ssl`, PLAIN sends the
   * password unencrypted; SCRAM never sends it.
   */
  saslUsers?: Record<string, string>;
  /**
   * TLS on the listener (Kafka's SSL; with `saslUsers`, SASL_SSL): the PEM
   * certificate chain and private key, as strings or Buffers.
   */
  ssl?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Kafka's `super.users`: SASL user names (`alice` or `User:alice`) allowed
   * everything whatever the ACLs say. Everyone else needs an ACL, created
   * with `admin().createAcls` (in process, or remotely by a super user).
   */
  superUsers?: string[];
  /** Kafka's `allow.everyone.if.no.acl.found` (default false): a resource with no ACL at all is open to every user. */
  allowEveryoneIfNoAclFound?: boolean;
}

export interface BrokerStats {
  connections: number;
  connectionsTotal: number;
  connectionsRefused: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  protocolErrors: number;
}

export interface BrokerServer {
  /** Where the broker listens (the real port when 0 was asked for). */
  readonly address: { host: string; port: number };
  stats(): BrokerStats;
  /** Closes every connection and stops the broker; the log stays open for this process. */
  close(): Promise<void>;
}

/**
 * Every broker listening in this process, until its close(): the native
 * handle's finalizer shuts a broker down, so a server whose object the
 * application dropped would otherwise stop serving at the next garbage
 * collection. A listening broker stays up until it is closed, as a
 * net.Server does.
 */
const listening = new Set<NativeBroker>();

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function checkPort(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) {
    throw new InvalidArgumentError(`${name} must be an integer from 0 to 65535, not ${String(v)}`);
  }
  return v;
}

function toEntries(config: TopicConfigEntries | undefined): Record<string, string> | undefined {
  if (config === undefined) return undefined;
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]));
}

/** Starts a broker on the engine of `dataDir` (joining the one this process has open). */
export async function listen(
  dataDir: string,
  options: ListenOptions = {},
  defaults: {
    defaultTopicConfig?: TopicConfigEntries;
    groupCoordinator?: GroupCoordinatorOptions;
    numPartitions?: number;
    warn?: (m: string) => void;
  } = {},
): Promise<BrokerServer> {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('listen needs an options object');
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || (host !== 'localhost' && isIP(host) === 0)) {
    throw new InvalidArgumentError(`host must be an IP address or localhost, not ${String(host)}`);
  }
  const port = checkPort('port', options.port ?? 9092);
  const users = options.saslUsers;
  if (users !== undefined) {
    const names = users === null || typeof users !== 'object' ? [] : Object.keys(users);
    if (names.length === 0 || names.some((n) => typeof users[n] !== 'string' || n.length === 0)) {
      throw new InvalidArgumentError('saslUsers must map at least one user name to a password string');
    }
  }
  const ssl = options.ssl;
  let tlsCert: string | undefined;
  let tlsKey: string | undefined;
  if (ssl !== undefined) {
    const pem = (v: unknown): string | undefined =>
      typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
    tlsCert = pem(ssl?.cert);
    tlsKey = pem(ssl?.key);
    if (!tlsCert || !tlsKey)
      throw new InvalidArgumentError('ssl needs cert and key, each a PEM string or Buffer');
  }
  const superUsers = options.superUsers;
  if (
    superUsers !== undefined &&
    (!Array.isArray(superUsers) || superUsers.some((u) => typeof u !== 'string'))
  ) {
    throw new InvalidArgumentError('superUsers must be an array of user names');
  }
  if (!isLoopback(host)) {
    if (users === undefined && options.allowPlaintext !== true) {
      throw new InvalidArgumentError(
        `listening on ${host} would serve the log unauthenticated to the network: pass allowPlaintext: true (--allow-plaintext) to do so anyway`,
      );
    }
    if (users === undefined) {
      defaults.warn?.(
        `the broker listens on ${host} without authentication${ssl === undefined ? ' or encryption' : ''} (allowPlaintext)`,
      );
    } else if (ssl === undefined) {
      defaults.warn?.(
        `the broker listens on ${host} with SASL/PLAIN but no encryption: passwords cross the network in the clear`,
      );
    }
  }
  const numPartitions = options.numPartitions ?? defaults.numPartitions ?? 1;
  if (!Number.isInteger(numPartitions) || numPartitions < 1) {
    throw new InvalidArgumentError(`numPartitions must be a positive integer, not ${String(numPartitions)}`);
  }
  if (defaults.groupCoordinator !== undefined) {
    try {
      binding.groupCheckOptions(defaults.groupCoordinator);
    } catch (e) {
      throw fromNative(e);
    }
  }
  let native: NativeLog;
  let broker: NativeBroker;
  try {
    native = binding.NativeLog.open(dataDir, { defaultConfig: toEntries(defaults.defaultTopicConfig) });
  } catch (e) {
    throw fromNative(e);
  }
  if (defaults.groupCoordinator !== undefined) {
    try {
      binding.groupConfigure(native, defaults.groupCoordinator);
    } catch (e) {
      await native.close();
      throw fromNative(e);
    }
  }
  try {
    broker = binding.startBroker(native, {
      host,
      port,
      advertisedHost: options.advertisedHost,
      advertisedPort:
        options.advertisedPort === undefined
          ? undefined
          : checkPort('advertisedPort', options.advertisedPort),
      numPartitions,
      autoCreateTopics: options.autoCreateTopics,
      maxConnections: options.maxConnections,
      requestMaxBytes: options.requestMaxBytes,
      saslUsers: users,
      tlsCert,
      tlsKey,
      superUsers,
      allowEveryoneIfNoAclFound: options.allowEveryoneIfNoAclFound,
    });
  } catch (e) {
    await native.close();
    throw fromNative(e);
  }
  listening.add(broker);
  // Lets `ferrolog` commands on this directory go through this broker.
  const unrecord = recordListener(native.dataDir, { host: broker.host, port: broker.port });
  let closing: Promise<void> | null = null;
  return {
    address: { host: broker.host, port: broker.port },
    stats: () => broker.stats(),
    close: () => {
      closing ??= (async () => {
        unrecord();
        await broker.close();
        listening.delete(broker);
        // The broker's handle on the engine: the last one closes it.
        await native.close();
      })();
      return closing;
    },
  };
}
