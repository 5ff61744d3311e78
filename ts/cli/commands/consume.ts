/**
 * `ferrolog consume`: prints a topic's messages. Like kafka-console-consumer
 * and kcat, it starts at the end and waits for new messages unless told
 * where to start (`--from-beginning`, `--offset`) and when to stop
 * (`-e`/`--exit-at-end`, `--max-messages`, Ctrl-C).
 */
import { intOption, parse, UsageError, type Values } from '../args';
import { encodingOption, formatMessage, Progress, write } from '../output';
import { type Decoded, readerFor } from '../reader';
import { closeTarget, resolveTarget, type Target } from '../target';
import type { Command } from './command';

export const HELP = `usage: ferrolog consume <topic> [--group G] [--from-beginning] [--offset N] [--partition N]
                        [-e|--exit-at-end] [--max-messages N] [--format value|json]
                        [--key-encoding utf8|base64|hex] [--value-encoding utf8|base64|hex]

without --group, reads the partitions directly (all, or --partition) from the end,
from the beginning (--from-beginning) or from --offset; with --group, consumes as a
member of the group from its committed offsets and commits what it printed.
Waits for new messages until Ctrl-C, like kafka-console-consumer and kcat, unless
-e/--exit-at-end (stop at the end of every partition) or --max-messages N.
--format value prints each value's bytes as they are, one per line; --format json
prints one object per message, keys and values in the chosen encoding (utf8 data
that is not valid UTF-8 comes out as base64, marked "keyEncoding"/"valueEncoding").

examples:
  ferrolog consume orders --from-beginning -e --format json
  ferrolog consume orders --group audit
  ferrolog consume images --from-beginning -e --format json --value-encoding base64
  ferrolog consume orders --brokers kafka-1:9092 --offset 100 --max-messages 10`;

interface Plan {
  topic: string;
  format: 'value' | 'json';
  enc: { key: 'utf8' | 'base64' | 'hex'; value: 'utf8' | 'base64' | 'hex' };
  max: number;
  exitAtEnd: boolean;
}

/**
 * A status line on stderr for long runs whose output goes elsewhere (a file,
 * a pipe): on a terminal that also shows the messages it would only get in
 * their way.
 */
function progressWanted(): boolean {
  return process.stderr.isTTY === true && process.stdout.isTTY !== true;
}

/** Stops on Ctrl-C: the returned signal aborts, and the handler is removed by `done`. */
function interrupt(): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.on('SIGINT', onSigint);
  return { signal: ac.signal, done: () => process.off('SIGINT', onSigint) };
}

async function consumeDirect(t: Target, plan: Plan, values: Values): Promise<void> {
  const reader = readerFor(t);
  const stop = interrupt();
  try {
    const n = await reader.partitions(plan.topic);
    const only = intOption(values, 'partition');
    if (only !== undefined && (only < 0 || only >= n))
      throw new UsageError(`topic "${plan.topic}" has no partition ${only}`);
    const partitions = only === undefined ? Array.from({ length: n }, (_, i) => i) : [only];
    const marks = await reader.watermarks(plan.topic, partitions);
    const start = intOption(values, 'offset');
    if (start !== undefined && start < 0) throw new UsageError('--offset must not be negative');
    const positions = new Map<number, number>();
    /** Where each partition ended when we started: `--exit-at-end` stops there. */
    const ends = new Map<number, number>();
    let total = 0;
    for (const p of partitions) {
      const w = marks.get(p) ?? { low: 0, high: 0 };
      let at = w.high;
      if (start !== undefined) {
        if (start > w.high) {
          process.stderr.write(
            `ferrolog: offset ${start} is past the end of ${plan.topic}-${p} (high watermark ${w.high}); ` +
              `${plan.exitAtEnd ? 'nothing to read' : 'waiting from the end'}\n`,
          );
          at = w.high;
        } else at = Math.max(start, w.low);
      } else if (values['from-beginning'] === true) at = w.low;
      positions.set(p, at);
      ends.set(p, w.high);
      total += Math.max(0, w.high - at);
    }
    const progress = new Progress(`consume ${plan.topic}`, progressWanted());
    let printed = 0;
    const finished = () =>
      printed >= plan.max || (plan.exitAtEnd && [...ends].every(([p, e]) => (positions.get(p) ?? 0) >= e));
    while (!stop.signal.aborted && !finished()) {
      const got = await reader.read(plan.topic, positions, 1000, stop.signal);
      for (const { partition, messages, next } of got) {
        for (const m of messages) {
          if (printed >= plan.max) break;
          const wait = write(formatMessage(plan.format, plan.enc, plan.topic, partition, m));
          if (wait) await wait;
          printed++;
          positions.set(partition, m.offsetNumber + 1);
        }
        if (printed < plan.max) positions.set(partition, Math.max(positions.get(partition) ?? 0, next));
      }
      progress.update(printed, plan.exitAtEnd ? total : 0, 'messages');
    }
    progress.end();
  } finally {
    stop.done();
    await reader.close();
  }
}

async function consumeAsGroup(t: Target, plan: Plan, values: Values): Promise<void> {
  const groupId = values.group as string;
  const admin = t.kafka.admin();
  await admin.connect();
  let offsets: { partition: number; low: string; high: string }[];
  let committed: Awaited<ReturnType<typeof admin.fetchOffsets>>;
  try {
    if (!(await admin.listTopics()).includes(plan.topic))
      throw new UsageError(`unknown topic "${plan.topic}"`);
    offsets = await admin.fetchTopicOffsets(plan.topic);
    committed = await admin.fetchOffsets({ groupId, topics: [plan.topic] });
  } finally {
    await admin.disconnect();
  }
  const fromBeginning = values['from-beginning'] === true;
  // Where each partition ends now, for --exit-at-end.
  const remaining = new Map<number, number>();
  for (const o of offsets) {
    const c = Number(committed[0]?.partitions.find((p) => p.partition === o.partition)?.offset ?? -1);
    const startAt = c >= 0 ? c : fromBeginning ? Number(o.low) : Number(o.high);
    if (Number(o.high) > startAt) remaining.set(o.partition, Number(o.high));
  }
  const consumer = t.kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic: plan.topic, fromBeginning });
  let printed = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  const stop = interrupt();
  stop.signal.addEventListener('abort', () => finish(), { once: true });
  const progress = new Progress(`consume ${plan.topic} as ${groupId}`, progressWanted());
  // Commits cover exactly what was printed: the runner may hand over more
  // messages after the last one wanted, and those stay unconsumed.
  const printedUpTo = new Map<number, number>();
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (printed >= plan.max) return finish();
      const wait = write(
        formatMessage(plan.format, plan.enc, plan.topic, partition, message as unknown as Decoded),
      );
      if (wait) await wait;
      printed++;
      printedUpTo.set(partition, Number(message.offset) + 1);
      progress.update(printed, 0, 'messages');
      const end = remaining.get(partition);
      if (end !== undefined && Number(message.offset) + 1 >= end) remaining.delete(partition);
      if (printed >= plan.max || (plan.exitAtEnd && remaining.size === 0)) finish();
    },
  });
  const explicit = intOption(values, 'offset');
  if (explicit !== undefined) {
    const only = intOption(values, 'partition');
    for (const o of offsets)
      if (only === undefined || only === o.partition)
        consumer.seek({ topic: plan.topic, partition: o.partition, offset: String(explicit) });
  }
  if (plan.exitAtEnd && remaining.size === 0 && explicit === undefined) finish();
  await finished;
  stop.done();
  progress.end();
  try {
    if (printedUpTo.size > 0)
      await consumer.commitOffsets(
        [...printedUpTo].map(([partition, offset]) => ({
          topic: plan.topic,
          partition,
          offset: String(offset),
        })),
      );
  } finally {
    // Leaves the group.
    await consumer.disconnect();
  }
}

export const consume: Command = {
  name: 'consume',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      group: { type: 'string', short: 'G' },
      'from-beginning': { type: 'boolean' },
      offset: { type: 'string', short: 'o' },
      partition: { type: 'string', short: 'p' },
      'max-messages': { type: 'string', short: 'c' },
      'exit-at-end': { type: 'boolean', short: 'e' },
      // Accepted for scripts written before waiting became the default.
      follow: { type: 'boolean', short: 'f' },
      format: { type: 'string' },
      'key-encoding': { type: 'string' },
      'value-encoding': { type: 'string' },
    });
    const topic = positionals[0];
    if (!topic) throw new UsageError('consume needs a topic (see ferrolog consume --help)');
    const format = (values.format as string | undefined) ?? 'value';
    if (format !== 'value' && format !== 'json')
      throw new UsageError(`--format must be value or json, not "${format}"`);
    if (values.follow === true && values['exit-at-end'] === true)
      throw new UsageError('--follow and --exit-at-end contradict each other');
    const max = intOption(values, 'max-messages') ?? Number.POSITIVE_INFINITY;
    if (max < 1) throw new UsageError('--max-messages must be at least 1');
    const plan: Plan = {
      topic,
      format,
      enc: { key: encodingOption(values, 'key-encoding'), value: encodingOption(values, 'value-encoding') },
      max,
      exitAtEnd: values['exit-at-end'] === true,
    };
    // With a group, offsets are committed: that writes, and needs the lock.
    const t = resolveTarget(values, { write: values.group !== undefined });
    try {
      if (values.group !== undefined) await consumeAsGroup(t, plan, values);
      else await consumeDirect(t, plan, values);
    } finally {
      await closeTarget(t);
    }
  },
};
