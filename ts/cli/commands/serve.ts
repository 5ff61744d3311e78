/**
 * `ferrolog serve`: runs the Kafka broker on a data directory in the
 * foreground until Ctrl-C or SIGTERM, then closes the log cleanly (the
 * clean-shutdown marker is written, so the next open skips recovery).
 */
import { readFileSync } from 'node:fs';
import { Kafka } from '../../client/kafka';
import type { GroupCoordinatorOptions } from '../../log';
import type { BrokerServer } from '../../server/listen';
import { intOption, nearest, parse, UsageError } from '../args';
import { dataDir as dataDirOf } from '../target';
import type { Command } from './command';

/**
 * Kafka broker settings `--override` accepts, each a non-negative integer,
 * and where it goes. Only settings ferrolog implements are listed: an
 * unknown one is refused, never silently ignored.
 */
const OVERRIDES: Record<string, { min: number; set: (o: Overrides, v: number) => void }> = {
  'group.initial.rebalance.delay.ms': {
    min: 0,
    set: (o, v) => {
      o.group.initialRebalanceDelayMs = v;
    },
  },
  'offsets.retention.minutes': {
    min: 1,
    set: (o, v) => {
      o.group.offsetsRetentionMinutes = v;
    },
  },
  'offsets.retention.check.interval.ms': {
    min: 1,
    set: (o, v) => {
      o.group.offsetsRetentionCheckIntervalMs = v;
    },
  },
  'num.partitions': {
    min: 1,
    set: (o, v) => {
      o.numPartitions = v;
    },
  },
};
const OVERRIDE_NAMES = Object.keys(OVERRIDES).join(', ');

interface Overrides {
  group: GroupCoordinatorOptions;
  numPartitions: number | undefined;
}

/** Parses `--override key=value` lines; bad ones are usage errors naming the line. */
export function parseOverrides(lines: string[]): Overrides {
  const out: Overrides = { group: {}, numPartitions: undefined };
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new UsageError(`--override takes KEY=VALUE, not "${line}"`);
    const key = line.slice(0, eq);
    const raw = line.slice(eq + 1);
    const spec = OVERRIDES[key];
    if (spec === undefined) {
      const near = nearest(key, Object.keys(OVERRIDES));
      throw new UsageError(
        `--override ${key}: not a setting ferrolog serve takes${near ? `; did you mean "${near}"?` : ''} (it takes ${OVERRIDE_NAMES})`,
      );
    }
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isSafeInteger(v) || v < spec.min || v > 2_147_483_647) {
      throw new UsageError(
        `--override ${key} must be an integer from ${spec.min} to 2147483647, not "${raw}"`,
      );
    }
    spec.set(out, v);
  }
  return out;
}

export const SERVE_HELP = `usage: ferrolog serve [--data-dir DIR] [--listen HOST:PORT] [--advertised-listener HOST:PORT]
                      [--allow-plaintext] [--sasl-users FILE] [--num-partitions N]
                      [--tls-cert PEM --tls-key PEM] [--super-users USER,...]
                      [--allow-everyone-if-no-acl-found] [--status-interval SECONDS]
                      [--override KEY=VALUE ...]

serves the data directory over the Kafka protocol, so kcat, kafkajs, librdkafka and the
Java client in other processes can produce, fetch and administer topics.
--listen defaults to 127.0.0.1:9092 (port 0 picks a free one); a non-loopback address
needs --allow-plaintext (no authentication or encryption) or SASL. --sasl-users
names a file of user:password lines (# comments allowed); clients must then authenticate
with SASL (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512), and ACLs are enforced: --super-users
may do everything, anyone else needs an ACL (kafka-acls.sh or admin.createAcls), unless
--allow-everyone-if-no-acl-found. --tls-cert and --tls-key (PEM files) turn on TLS
(with --sasl-users: SASL_SSL). --override sets a broker setting by its Kafka name, as
kafka-server-start.sh's --override does: ${OVERRIDE_NAMES}.
Prints one status line per interval on a terminal; Ctrl-C or SIGTERM shuts down cleanly.

examples:
  ferrolog serve --data-dir ./data
  kcat -b 127.0.0.1:9092 -L
  ferrolog serve --override group.initial.rebalance.delay.ms=3000
  ferrolog serve --tls-cert cert.pem --tls-key key.pem --sasl-users users.txt --super-users admin
  kcat -b localhost:9092 -X security.protocol=sasl_ssl -X ssl.ca.location=ca.pem ...`;

function hostPort(flag: string, v: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:]+):(\d+)$/.exec(v);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`${flag} takes HOST:PORT, not "${v}"`);
  }
  return { host: m[1] as string, port };
}

/** user:password per line; blank lines and # comments are skipped. */
function readUsers(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read --sasl-users ${path}: ${(e as Error).message}`);
  }
  const users: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`${path} line ${i + 1}: expected user:password`);
    users[line.slice(0, colon)] = line.slice(colon + 1);
  });
  if (Object.keys(users).length === 0) throw new Error(`${path} names no user`);
  return users;
}

function rate(n: number, seconds: number): string {
  const v = n / seconds;
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)} MB/s`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} kB/s`;
  return `${v.toFixed(0)} B/s`;
}

export async function serve(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    listen: { type: 'string' },
    'advertised-listener': { type: 'string' },
    'allow-plaintext': { type: 'boolean' },
    'sasl-users': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'super-users': { type: 'string' },
    'allow-everyone-if-no-acl-found': { type: 'boolean' },
    'num-partitions': { type: 'string' },
    'status-interval': { type: 'string' },
    override: { type: 'string', multiple: true },
  });
  if (values.help) {
    process.stdout.write(`${SERVE_HELP}\n`);
    return;
  }
  if (positionals.length > 0) throw new UsageError(`serve takes no argument, not "${positionals[0]}"`);
  if (values.brokers !== undefined) throw new UsageError('serve serves a data directory, not --brokers');
  const dataDir = dataDirOf(values);
  const listen = hostPort('--listen', (values.listen as string | undefined) ?? '127.0.0.1:9092');
  const advertised =
    values['advertised-listener'] === undefined
      ? undefined
      : hostPort('--advertised-listener', values['advertised-listener'] as string);
  const overrides = parseOverrides((values.override as string[] | undefined) ?? []);
  const numPartitionsFlag = intOption(values, 'num-partitions');
  if (numPartitionsFlag !== undefined && numPartitionsFlag < 1)
    throw new UsageError(`--num-partitions must be at least 1, not ${numPartitionsFlag}`);
  if (numPartitionsFlag !== undefined && overrides.numPartitions !== undefined)
    throw new UsageError('--num-partitions and --override num.partitions say the same thing: give one');
  const numPartitions = numPartitionsFlag ?? overrides.numPartitions ?? 1;
  const interval = values['status-interval'] === undefined ? 5 : Number(values['status-interval']);
  if (!Number.isFinite(interval) || interval <= 0)
    throw new UsageError('--status-interval must be a positive number');

  const certPath = values['tls-cert'] as string | undefined;
  const keyPath = values['tls-key'] as string | undefined;
  if ((certPath === undefined) !== (keyPath === undefined))
    throw new UsageError('--tls-cert and --tls-key go together');
  const readPem = (flag: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`cannot read ${flag} ${path}: ${(e as Error).message}`);
    }
  };
  const ssl =
    certPath === undefined || keyPath === undefined
      ? undefined
      : { cert: readPem('--tls-cert', certPath), key: readPem('--tls-key', keyPath) };
  const superUsers =
    values['super-users'] === undefined
      ? undefined
      : (values['super-users'] as string)
          .split(',')
          .map((u) => u.trim())
          .filter((u) => u !== '');

  const kafka = new Kafka({
    clientId: 'ferrolog-serve',
    dataDir,
    logLevel: 2,
    ...(Object.keys(overrides.group).length > 0 ? { groupCoordinator: overrides.group } : {}),
  });
  const server: BrokerServer = await kafka.listen({
    host: listen.host,
    port: listen.port,
    advertisedHost: advertised?.host,
    advertisedPort: advertised?.port,
    allowPlaintext: values['allow-plaintext'] === true,
    saslUsers: values['sasl-users'] === undefined ? undefined : readUsers(values['sasl-users'] as string),
    numPartitions,
    ssl,
    superUsers,
    allowEveryoneIfNoAclFound: values['allow-everyone-if-no-acl-found'] === true,
  });
  // Handlers go in before the serving line, so a signal sent as soon as
  // it appears is always a clean shutdown.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (process.stderr.isTTY) process.stderr.write('\r\u001b[2K');
      process.stderr.write(`ferrolog: ${signal}: shutting down\n`);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  const { host, port } = server.address;
  process.stderr.write(`ferrolog: serving ${dataDir} on ${host}:${port} (pid ${process.pid})\n`);

  let last = server.stats();
  let lastAt = Date.now();
  // The broker runs on native threads; this timer also keeps Node's loop alive.
  const timer = setInterval(() => {
    if (!process.stderr.isTTY) return;
    const now = server.stats();
    const seconds = Math.max(0.001, (Date.now() - lastAt) / 1000);
    const rps = ((now.requests - last.requests) / seconds).toFixed(0);
    process.stderr.write(
      `\r\u001b[2Kconnections ${now.connections}  requests/s ${rps}  in ${rate(now.bytesIn - last.bytesIn, seconds)}  out ${rate(now.bytesOut - last.bytesOut, seconds)}`,
    );
    last = now;
    lastAt = Date.now();
  }, interval * 1000);

  await stopped;
  clearInterval(timer);
  // Closing the broker releases its log handle; the last handle writes
  // the clean-shutdown marker.
  await server.close();
  process.stderr.write('ferrolog: stopped cleanly\n');
}

export const serveCommand: Command = { name: 'serve', help: SERVE_HELP, run: serve };
