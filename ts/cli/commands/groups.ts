/**
 * `ferrolog groups`: list, describe (members, offsets, lag) and reset
 * offsets. reset-offsets plans by default and applies only with
 * `--execute`, as kafka-consumer-groups does.
 */
import { AssignerProtocol } from '../../group/assigners';
import { intOption, parse, suggest, UsageError, type Values } from '../args';
import { printTable } from '../output';
import { closeTarget, resolveTarget } from '../target';
import type { Command } from './command';

export const HELP = `usage: ferrolog groups list
       ferrolog groups describe <group>
       ferrolog groups reset-offsets <group> --topic T (--to-earliest | --to-latest |
                                     --to-offset N | --to-datetime ISO-8601)
                                     [--dry-run | --execute]

reset-offsets prints the plan (GROUP TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET) and
changes nothing unless --execute is given, as kafka-consumer-groups does.

examples:
  ferrolog groups describe billing
  ferrolog groups reset-offsets billing --topic orders --to-datetime 2026-01-01T00:00:00Z
  ferrolog groups reset-offsets billing --topic orders --to-earliest --execute
  ferrolog groups describe billing --brokers kafka-1:9092`;

type Admin = ReturnType<ReturnType<typeof resolveTarget>['kafka']['admin']>;

async function describe(admin: Admin, group: string): Promise<void> {
  const [d] = (await admin.describeGroups([group])).groups;
  const lag = await admin.fetchLag({ groupId: group });
  const known = d !== undefined && d.state !== 'Dead' && !(d.state === 'Empty' && lag.length === 0);
  if (!known) throw new UsageError(`unknown group "${group}"`);
  process.stdout.write(`group ${group}: state ${d.state}, ${d.members.length} member(s)\n`);
  for (const m of d.members) {
    const a = Object.entries(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {})
      .map(([t, ps]) => `${t}[${ps.join(',')}]`)
      .join(' ');
    process.stdout.write(`  member ${m.memberId} (${m.clientId}): ${a || 'no partitions'}\n`);
  }
  const rows = lag.flatMap((t) =>
    t.partitions.map((p) => ({
      topic: t.topic,
      partition: p.partition,
      committed: p.committed,
      high: p.high,
      lag: p.lag,
    })),
  );
  printTable(rows);
  const total = lag.reduce((n, t) => n + Number(t.totalLag), 0);
  process.stdout.write(`total lag ${total} over ${rows.length} partition(s)\n`);
}

async function resetOffsets(admin: Admin, group: string, values: Values): Promise<void> {
  const topic = values.topic as string | undefined;
  if (!topic) throw new UsageError('groups reset-offsets needs --topic');
  const modes = ['to-earliest', 'to-latest', 'to-offset', 'to-datetime'].filter(
    (m) => values[m] !== undefined,
  );
  if (modes.length !== 1)
    throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime ISO');
  if (values.execute === true && values['dry-run'] === true)
    throw new UsageError('give --dry-run or --execute, not both');
  if (!(await admin.listTopics()).includes(topic)) throw new UsageError(`unknown topic "${topic}"`);
  const offsets = await admin.fetchTopicOffsets(topic);
  let target: { partition: number; offset: string }[];
  if (values['to-earliest']) target = offsets.map((o) => ({ partition: o.partition, offset: o.low }));
  else if (values['to-latest']) target = offsets.map((o) => ({ partition: o.partition, offset: o.high }));
  else if (values['to-offset'] !== undefined) {
    const n = intOption(values, 'to-offset') as number;
    if (n < 0) throw new UsageError('--to-offset must not be negative');
    // Kafka's tool clamps to the partition's range the same way.
    target = offsets.map((o) => ({
      partition: o.partition,
      offset: String(Math.min(Math.max(n, Number(o.low)), Number(o.high))),
    }));
  } else {
    const ts = Date.parse(values['to-datetime'] as string);
    if (Number.isNaN(ts))
      throw new UsageError(`--to-datetime must be an ISO-8601 date, not "${String(values['to-datetime'])}"`);
    target = await admin.fetchTopicOffsetsByTimestamp(topic, ts);
  }
  const current = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const committed = new Map(current[0]?.partitions.map((p) => [p.partition, p.offset]) ?? []);
  target.sort((a, b) => a.partition - b.partition);
  printTable(
    target.map((t) => {
      const c = committed.get(t.partition);
      return {
        group,
        topic,
        partition: t.partition,
        'current-offset': c === undefined || c === '-1' ? '-' : c,
        'new-offset': t.offset,
      };
    }),
  );
  if (values.execute !== true) {
    process.stdout.write('this is a plan: nothing changed; run again with --execute to apply it\n');
    return;
  }
  await admin.setOffsets({ groupId: group, topic, partitions: target });
  process.stdout.write(`reset the offsets of group ${group} on ${topic}\n`);
}

export const groups: Command = {
  name: 'groups',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      topic: { type: 'string' },
      'to-earliest': { type: 'boolean' },
      'to-latest': { type: 'boolean' },
      'to-offset': { type: 'string' },
      'to-datetime': { type: 'string' },
      execute: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    });
    const [sub, group] = positionals;
    if (sub !== 'list' && sub !== 'describe' && sub !== 'reset-offsets')
      throw new UsageError(
        `unknown groups command "${sub ?? ''}"${suggest(sub, ['list', 'describe', 'reset-offsets'])}: use list, describe or reset-offsets`,
      );
    if (sub !== 'list' && !group) throw new UsageError(`groups ${sub} needs a group id`);
    // Only an executed reset writes (and needs the lock).
    const t = resolveTarget(values, { write: sub === 'reset-offsets' && values.execute === true });
    try {
      const admin = t.kafka.admin();
      await admin.connect();
      try {
        if (sub === 'list') {
          const all = (await admin.listGroups()).groups.map((g) => g.groupId).sort();
          for (const g of all) process.stdout.write(`${g}\n`);
        } else if (sub === 'describe') await describe(admin, group as string);
        else await resetOffsets(admin, group as string, values);
      } finally {
        await admin.disconnect();
      }
    } finally {
      await closeTarget(t);
    }
  },
};
