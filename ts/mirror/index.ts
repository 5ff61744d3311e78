/**
 * The mirror: `openMirror` connects both ends from a directory or a broker
 * list (what the CLI and `Kafka.mirror` use); `Mirror` does the copying.
 */
import { existsSync } from 'node:fs';
import type { KafkaConfig } from '../client/kafka';
import { InvalidArgumentError } from '../errors';
import { type Endpoint, LocalEndpoint, RemoteEndpoint } from './endpoints';
import { Mirror, type MirrorOptions } from './mirror';

export { MirrorFencedError } from './membership';
export type { MirrorEvent, MirrorOptions, MirrorPartitionLag, MirrorResume } from './mirror';
export { Mirror, mirrorGroupId } from './mirror';

/** One end of a mirror: a data directory, or Kafka brokers (with their `ssl`/`sasl` as in `KafkaConfig`). */
export type MirrorEnd = { dataDir: string } | (KafkaConfig & { brokers: string[] });

export interface OpenMirrorOptions extends MirrorOptions {
  from: MirrorEnd;
  to: MirrorEnd;
  clientId?: string;
  /** Replication factor of topics created on a Kafka target (default: the brokers' default). */
  replicationFactor?: number;
}

/** `Kafka.mirror`'s options: the client's own end fills whichever of `from`/`to` is left out. */
export type MirrorConfig = Omit<OpenMirrorOptions, 'from' | 'to'> & { from?: MirrorEnd; to?: MirrorEnd };

/**
 * `host:port[,host:port...]` is a broker list unless a directory of that
 * name exists; anything else is a directory. What `--from`/`--to` take.
 */
export function parseMirrorEnd(text: string): MirrorEnd {
  if (typeof text !== 'string' || text.length === 0)
    throw new InvalidArgumentError('a mirror end must be a directory or host:port[,host:port]');
  const brokers = text.split(',').map((b) => b.trim());
  if (!existsSync(text) && brokers.every((b) => /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(b))) {
    return { brokers };
  }
  return { dataDir: text };
}

async function connect(end: MirrorEnd, role: 'source' | 'target', o: OpenMirrorOptions): Promise<Endpoint> {
  if ('dataDir' in end && typeof end.dataDir === 'string') {
    // Opening a directory creates it: a mistyped source would mirror nothing, silently.
    if (role === 'source' && !existsSync(end.dataDir)) {
      throw new InvalidArgumentError(`the source directory ${end.dataDir} does not exist`);
    }
    return LocalEndpoint.open(end.dataDir, role);
  }
  const remote = end as KafkaConfig & { brokers: string[] };
  const options = o.replicationFactor === undefined ? {} : { replicationFactor: o.replicationFactor };
  return RemoteEndpoint.connect(remote, o.clientId ?? `ferrolog-mirror-${o.name ?? 'default'}`, options);
}

/** Connects both ends; `run()` the result to copy. */
export async function openMirror(options: OpenMirrorOptions): Promise<Mirror> {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('mirror needs an options object');
  const source = await connect(options.from, 'source', options);
  let target: Endpoint;
  try {
    target = await connect(options.to, 'target', options);
  } catch (e) {
    await source.close();
    throw e;
  }
  try {
    return new Mirror(source, target, options);
  } catch (e) {
    await Promise.allSettled([source.close(), target.close()]);
    throw e;
  }
}
