/**
 * The remote transport: one native Kafka protocol client per `Kafka` object,
 * shared by its producers and admins (connections, metadata), connected on
 * first use and closed when the last user disconnects.
 */
import type { KafkaConfig } from '../client/kafka';
import { KafkaJSNonRetriableError } from '../errors';
import { call } from './kafka-errors';
import { connectRemote, type NativeRemoteClient, type RemoteClientOptions } from './native-remote';

interface SaslOptions {
  mechanism: string;
  username?: string;
  password?: string;
}

interface SslOptions {
  ca?: string | Buffer | (string | Buffer)[];
  cert?: string | Buffer;
  key?: string | Buffer;
  servername?: string;
}

function pem(v: string | Buffer | (string | Buffer)[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.map((x) => x.toString()).join('\n');
  return v.toString();
}

/** The native client's options from kafkajs' `KafkaConfig`. */
export async function remoteOptions(config: KafkaConfig, clientId: string): Promise<RemoteClientOptions> {
  const brokers = typeof config.brokers === 'function' ? await config.brokers() : config.brokers;
  if (!Array.isArray(brokers) || brokers.length === 0 || brokers.some((b) => typeof b !== 'string'))
    throw new KafkaJSNonRetriableError('brokers must be a non-empty array of host:port strings');
  const o: RemoteClientOptions = { brokers, clientId };
  const ssl = config.ssl as boolean | SslOptions | undefined;
  if (ssl === true) o.ssl = true;
  else if (ssl !== undefined && ssl !== null && typeof ssl === 'object') {
    o.ssl = true;
    const ca = pem(ssl.ca);
    if (ca !== undefined) o.sslCa = ca;
    const cert = pem(ssl.cert);
    if (cert !== undefined) o.sslCert = cert;
    const key = pem(ssl.key);
    if (key !== undefined) o.sslKey = key;
    if (ssl.servername !== undefined) o.sslServerName = ssl.servername;
  }
  const sasl = config.sasl as SaslOptions | undefined;
  if (sasl !== undefined && sasl !== null) {
    o.saslMechanism = sasl.mechanism;
    o.saslUsername = sasl.username ?? '';
    o.saslPassword = sasl.password ?? '';
  }
  if (config.connectionTimeout !== undefined) o.connectionTimeoutMs = config.connectionTimeout;
  if (config.requestTimeout !== undefined) o.requestTimeoutMs = config.requestTimeout;
  if (config.retry?.retries !== undefined) o.retries = config.retry.retries;
  if (config.retry?.initialRetryTime !== undefined) o.retryBackoffMs = config.retry.initialRetryTime;
  return o;
}

export class RemoteTransport {
  readonly kind = 'remote' as const;
  private readonly config: KafkaConfig;
  private readonly clientId: string;
  private users = 0;
  private connecting: Promise<NativeRemoteClient> | null = null;

  constructor(config: KafkaConfig, clientId: string) {
    this.config = config;
    this.clientId = clientId;
  }

  /** Registers a user and connects (once); every acquire is paired with a release. */
  async acquire(): Promise<NativeRemoteClient> {
    this.users++;
    try {
      return await this.client();
    } catch (e) {
      this.users--;
      if (this.users === 0) this.connecting = null;
      throw e;
    }
  }

  client(): Promise<NativeRemoteClient> {
    if (this.connecting === null) {
      const p = remoteOptions(this.config, this.clientId).then((o) => call(() => connectRemote(o)));
      this.connecting = p;
      // A failed connect is not kept: the next acquire tries again.
      p.catch(() => {
        if (this.connecting === p) this.connecting = null;
      });
    }
    return this.connecting;
  }

  async release(): Promise<void> {
    if (this.users === 0) return;
    this.users--;
    if (this.users > 0) return;
    const c = this.connecting;
    this.connecting = null;
    if (c !== null) (await c.catch(() => null))?.close();
  }
}
