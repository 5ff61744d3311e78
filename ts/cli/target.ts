/**
 * Where a command's data lives: a data directory opened in this process
 * (`local`), or Kafka brokers over the protocol (`remote`): the ones named
 * by `--brokers`, or, when another process holds the data directory and
 * serves it, that process's broker (its address is recorded beside the
 * lock: see server/listener-file.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kafka, type KafkaConfig } from '../client/kafka';
import { Log } from '../log';
import { servingListener } from '../server/listener-file';
import { UsageError, type Values } from './args';

export interface LocalTarget {
  kind: 'local';
  dataDir: string;
  /** Another process holds the directory: this one only reads it. */
  readOnly: boolean;
  kafka: Kafka;
  /** The log, open for the length of the command (a handle on the process's one engine). */
  log: Log;
}

export interface RemoteTarget {
  kind: 'remote';
  /** How the brokers were found. */
  via: 'brokers' | 'served';
  config: KafkaConfig;
  kafka: Kafka;
}

export type Target = LocalTarget | RemoteTarget;

const CLIENT_ID = 'ferrolog-cli';

export function dataDir(values: Values): string {
  return (values['data-dir'] as string | undefined) ?? process.env.FERROLOG_DATA_DIR ?? './ferrolog-data';
}

function readPem(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${flag} ${path}: ${(e as Error).message}`);
  }
}

const MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'];

/** The remote client's config from `--brokers`, `--ssl*` and `--sasl-*` (kafkajs' KafkaConfig). */
export function remoteConfig(values: Values, brokers: string[]): KafkaConfig {
  for (const b of brokers) {
    if (!/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(b))
      throw new UsageError(`--brokers takes host:port[,host:port...], not "${b}"`);
  }
  const config: KafkaConfig = { clientId: CLIENT_ID, brokers, logLevel: 1 };
  const ca = values['ssl-ca'] as string | undefined;
  const cert = values['ssl-cert'] as string | undefined;
  const key = values['ssl-key'] as string | undefined;
  const servername = values['ssl-servername'] as string | undefined;
  if (ca !== undefined || cert !== undefined || key !== undefined || servername !== undefined) {
    const ssl: Record<string, string | string[]> = {};
    if (ca !== undefined) ssl.ca = [readPem('--ssl-ca', ca)];
    if (cert !== undefined) ssl.cert = readPem('--ssl-cert', cert);
    if (key !== undefined) ssl.key = readPem('--ssl-key', key);
    if (servername !== undefined) ssl.servername = servername;
    config.ssl = ssl as KafkaConfig['ssl'];
  } else if (values.ssl === true) config.ssl = true;
  const mechanism = values['sasl-mechanism'] as string | undefined;
  const username = values['sasl-username'] as string | undefined;
  if (mechanism !== undefined || username !== undefined) {
    const m = (mechanism ?? 'plain').toLowerCase();
    if (!MECHANISMS.includes(m))
      throw new UsageError(`--sasl-mechanism must be ${MECHANISMS.join(', ')}, not "${mechanism}"`);
    if (username === undefined) throw new UsageError('--sasl-mechanism needs --sasl-username');
    // The password may come from the environment, out of the process list.
    const password =
      (values['sasl-password'] as string | undefined) ?? process.env.FERROLOG_SASL_PASSWORD ?? '';
    config.sasl = { mechanism: m, username, password } as KafkaConfig['sasl'];
  }
  return config;
}

function remote(values: Values, brokers: string[], via: RemoteTarget['via']): RemoteTarget {
  const config = remoteConfig(values, brokers);
  return { kind: 'remote', via, config, kafka: new Kafka(config) };
}

function connectHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Resolves where a command runs. `write`: the command changes something
 * (it may create the data directory, and needs the lock); reading commands
 * never create anything and read a directory another process holds (and
 * does not serve) read-only.
 */
export function resolveTarget(values: Values, options: { write: boolean }): Target {
  const brokers = values.brokers as string | undefined;
  if (brokers !== undefined) {
    if (values['data-dir'] !== undefined) throw new UsageError('give --data-dir or --brokers, not both');
    const list = brokers
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b !== '');
    if (list.length === 0) throw new UsageError('--brokers needs at least one host:port');
    return remote(values, list, 'brokers');
  }
  const dir = dataDir(values);
  if (!existsSync(dir)) {
    if (!options.write) throw new UsageError(`no data directory at ${resolve(dir)}`);
    return local(dir, Log.open(dir), false);
  }
  const served = servingListener(dir);
  if (served !== undefined) {
    process.stderr.write(
      `ferrolog: ${resolve(dir)} is served by pid ${served.pid}; going through its broker at ${served.host}:${served.port}\n`,
    );
    return remote(values, [`${connectHost(served.host)}:${served.port}`], 'served');
  }
  if (options.write) return local(dir, Log.open(dir), false);
  // A reading command opens read-only: no lock taken, nothing written, so it
  // never stands in the way of a writer, and works beside a running one.
  const holder = lockHolder(dir);
  if (holder !== undefined)
    process.stderr.write(`ferrolog: ${resolve(dir)} is in use by pid ${holder}; reading it read-only\n`);
  return local(dir, Log.open(dir, { readOnly: true }), true);
}

/** The live process the lock file names, if any (the file keeps the last holder's pid). */
function lockHolder(dir: string): number | undefined {
  try {
    const pid = Number(/^pid (\d+)$/.exec(readFileSync(join(dir, '.lock'), 'utf8').trim())?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

function local(dir: string, log: Log, readOnly: boolean): LocalTarget {
  return {
    kind: 'local',
    dataDir: dir,
    readOnly,
    log,
    kafka: new Kafka({ clientId: CLIENT_ID, dataDir: dir, logLevel: 1, readOnly }),
  };
}

/** Ends a command's use of its target. */
export async function closeTarget(t: Target): Promise<void> {
  if (t.kind === 'local') await t.log.close();
}
