/**
 * `ferrolog mirror`: copies topics between a data directory and Kafka
 * brokers (either way, or directory to directory, brokers to brokers).
 * Its own flag parsing, so the command can move with the CLI's split.
 */
import { parseArgs } from 'node:util';
import {
  type Mirror,
  type MirrorPartitionLag,
  type MirrorResume,
  openMirror,
  parseMirrorEnd,
} from '../../mirror';

export const MIRROR_HELP = `usage: ferrolog mirror --from DIR|BROKERS --to BROKERS|DIR [options]

Copies topics (partition counts and configs), then streams new batches,
forwarding the stored batches without re-encoding them. Progress is the
committed offsets of the group ferrolog-mirror.NAME on the target: kill it
and start it again with the same --name, it goes on where it stopped,
writing nothing twice and losing nothing. One mirror runs per name: a second
one started with the same --name takes over and the first stops (exit 1).

options:
  --from DIR|HOST:PORT[,HOST:PORT]   where to copy from (a directory, or Kafka brokers)
  --to DIR|HOST:PORT[,HOST:PORT]     where to copy to
  --topics REGEX                     topics to copy (default: all but __internal ones)
  --name NAME                        the mirror's name (default: default)
  --once                             stop when every partition has caught up (lag 0)
  --from-offset N                    where partitions with no progress yet start (default: the log start);
                                     inside a batch, only its records from N are copied
  --replication-factor N             for topics created on Kafka (default: the brokers' default)
  --max-bytes N                      bytes read per partition per round (default 1048576)
  --commit-interval-ms N             how often progress is committed (default 1000)
  --max-in-flight N                  produce requests in flight per partition, 1-5 (default 5)
  --json                             print events as JSON lines on stdout
  --quiet                            no status line

The status line (stderr) shows records copied and the total lag; --json
prints one line per event: resume, topic, lag, warning, caughtUp.

examples:
  ferrolog mirror --from ./ferrolog-data --to kafka1:9092,kafka2:9092 --topics '^orders'
  ferrolog mirror --from kafka1:9092 --to ./backup --once`;

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, not ${v}`);
  return n;
}

/** Runs the command; resolves to the exit code (0 once stopped cleanly or caught up with --once). */
export async function mirrorCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        topics: { type: 'string' },
        name: { type: 'string' },
        once: { type: 'boolean' },
        'replication-factor': { type: 'string' },
        'max-bytes': { type: 'string' },
        'commit-interval-ms': { type: 'string' },
        'from-offset': { type: 'string' },
        'max-in-flight': { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`ferrolog: ${(e as Error).message}\n${MIRROR_HELP}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${MIRROR_HELP}\n`);
    return 0;
  }
  if (typeof values.from !== 'string' || typeof values.to !== 'string') {
    process.stderr.write(`ferrolog: mirror needs --from and --to\n${MIRROR_HELP}\n`);
    return 2;
  }
  const json = values.json === true;
  const quiet = values.quiet === true || json;
  let mirror: Mirror;
  try {
    const options: Parameters<typeof openMirror>[0] = {
      from: parseMirrorEnd(values.from),
      to: parseMirrorEnd(values.to),
      stopWhenCaughtUp: values.once === true,
    };
    if (typeof values.topics === 'string') options.topics = new RegExp(values.topics);
    if (typeof values.name === 'string') options.name = values.name;
    const rf = int('replication-factor', values['replication-factor'] as string | undefined);
    if (rf !== undefined) options.replicationFactor = rf;
    const mb = int('max-bytes', values['max-bytes'] as string | undefined);
    if (mb !== undefined) options.maxBytesPerPartition = mb;
    const ci = int('commit-interval-ms', values['commit-interval-ms'] as string | undefined);
    if (ci !== undefined) options.commitIntervalMs = ci;
    const fo = int('from-offset', values['from-offset'] as string | undefined);
    if (fo !== undefined) options.fromOffset = fo;
    const mi = int('max-in-flight', values['max-in-flight'] as string | undefined);
    if (mi !== undefined) options.maxInFlightPerPartition = mi;
    mirror = await openMirror(options);
  } catch (e) {
    process.stderr.write(`ferrolog: ${(e as Error).message}\n`);
    return 1;
  }

  const print = (event: string, data: unknown) => {
    if (json) process.stdout.write(`${JSON.stringify({ event, ...(data as object) })}\n`);
  };
  const tty = process.stderr.isTTY === true;
  let lastStatus = 0;
  let lastTotal = -1;
  mirror.on('resume', (r: MirrorResume) => {
    print('resume', r);
    if (!quiet && r.recovered > 0)
      process.stderr.write(
        `${r.topic}-${r.partition}: ${r.recovered} record(s) were on the target past the committed offset ${r.committed}; resuming at ${r.position}\n`,
      );
  });
  mirror.on('topic', (t: { topic: string; action: string; partitions: number; warnings: string[] }) => {
    print('topic', t);
    if (!quiet) process.stderr.write(`topic ${t.topic}: ${t.action} with ${t.partitions} partition(s)\n`);
  });
  mirror.on('warning', (w: string) => {
    print('warning', { message: w });
    if (!quiet) process.stderr.write(`warning: ${w}\n`);
  });
  mirror.on('lag', (l: { partitions: MirrorPartitionLag[]; total: number; copied: number }) => {
    print('lag', l);
    if (quiet) return;
    // At most a line a second while behind, one when caught up, none while idle.
    const now = Date.now();
    const caughtUp = l.total === 0 && lastTotal !== 0;
    const due = now - lastStatus >= 1000 && !(l.total === 0 && lastTotal === 0);
    if (!caughtUp && !due) return;
    lastStatus = now;
    lastTotal = l.total;
    let worst: MirrorPartitionLag | undefined;
    for (const p of l.partitions) if (worst === undefined || p.lag > worst.lag) worst = p;
    const behind =
      worst !== undefined && worst.lag > 0
        ? `, most behind ${worst.topic}-${worst.partition} (${worst.lag})`
        : '';
    const line = `mirror ${mirror.name}: ${l.copied} record(s) copied, lag ${l.total} over ${l.partitions.length} partition(s)${behind}`;
    process.stderr.write(tty ? `\r${line}\u001b[K` : `${line}\n`);
  });
  mirror.on('caughtUp', () => print('caughtUp', {}));

  const stop = () => {
    void mirror.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await mirror.run();
    if (!quiet && tty) process.stderr.write('\n');
    return 0;
  } catch (e) {
    process.stderr.write(`${tty && !quiet ? '\n' : ''}ferrolog: mirror stopped: ${(e as Error).message}\n`);
    if (values.verbose === true && (e as Error).stack) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
