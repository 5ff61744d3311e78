/** `ferrolog topics`: list, create, describe, delete and alter topics, locally or on brokers. */
import { configs, intOption, parse, suggest, UsageError } from '../args';
import { printTable } from '../output';
import { closeTarget, resolveTarget, type Target } from '../target';
import type { Command } from './command';

export const HELP = `usage: ferrolog topics list
       ferrolog topics create <name> [--partitions N] [--replication-factor N] [--config key=value ...]
       ferrolog topics describe <name>
       ferrolog topics delete <name>
       ferrolog topics alter <name> --config key=value [--config ...]

with --brokers host:port[,...] (and --ssl*, --sasl-*), the same against any Kafka cluster.

configs: segment.bytes, segment.ms, retention.ms, retention.bytes, max.message.bytes,
index.interval.bytes, message.timestamp.type, cleanup.policy (delete), flush
(none|interval|always), flush.ms, flush.messages, segment.preallocate.bytes

examples:
  ferrolog topics create orders --partitions 3 --config flush=always
  ferrolog topics alter orders --config retention.ms=3600000
  ferrolog topics list --brokers kafka-1:9092`;

const SUBCOMMANDS = ['list', 'create', 'describe', 'delete', 'alter'];

function configLine(entries: [string, string | null | undefined][]): string {
  return `config: ${entries.map(([k, v]) => `${k}=${v ?? ''}`).join(' ')}\n`;
}

async function describe(t: Target, name: string): Promise<void> {
  if (t.kind === 'local') {
    const info = t.log.topics().find((x) => x.name === name);
    if (info === undefined) throw new UsageError(`unknown topic "${name}"`);
    process.stdout.write(`topic ${info.name}: ${info.partitions} partition(s)\n`);
    process.stdout.write(configLine(Object.entries(info.config).map(([k, v]) => [k, String(v)])));
    const rows = [];
    for (let p = 0; p < info.partitions; p++) {
      const w = t.log.watermarks(info.name, p);
      const segs = t.log.segments(info.name, p);
      rows.push({
        partition: p,
        low: w.logStartOffset,
        high: w.highWatermark,
        durable: w.durableOffset,
        segments: segs.length,
        bytes: segs.reduce((n, s) => n + s.sizeBytes, 0),
      });
    }
    printTable(rows);
    return;
  }
  const admin = t.kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(name)) throw new UsageError(`unknown topic "${name}"`);
    const meta = (await admin.fetchTopicMetadata({ topics: [name] })).topics[0];
    const offsets = await admin.fetchTopicOffsets(name);
    const described = await admin.describeConfigs({
      resources: [{ type: 2, name }],
      includeSynonyms: false,
    });
    const entries = (described.resources[0]?.configEntries ?? [])
      .filter((e) => !e.isDefault)
      .map((e) => [e.configName, e.configValue] as [string, string]);
    const partitions = meta?.partitions ?? [];
    process.stdout.write(`topic ${name}: ${partitions.length} partition(s)\n`);
    process.stdout.write(configLine(entries));
    printTable(
      [...partitions]
        .sort((a, b) => a.partitionId - b.partitionId)
        .map((p) => {
          const o = offsets.find((x) => x.partition === p.partitionId);
          return {
            partition: p.partitionId,
            leader: p.leader,
            replicas: p.replicas.join(','),
            isr: p.isr.join(','),
            low: o?.low ?? '',
            high: o?.high ?? '',
          };
        }),
    );
  } finally {
    await admin.disconnect();
  }
}

type Admin = ReturnType<Target['kafka']['admin']>;

/**
 * Kafka's AlterConfigs replaces a topic's whole configuration: the topic's
 * own entries are read first and kept, so `alter` changes only what it names.
 */
async function alterRemote(admin: Admin, name: string, config: Record<string, string>): Promise<void> {
  const described = await admin.describeConfigs({ resources: [{ type: 2, name }], includeSynonyms: false });
  const own: Record<string, string> = {};
  for (const e of described.resources[0]?.configEntries ?? []) {
    // configSource 1 is DYNAMIC_TOPIC_CONFIG: set on this topic.
    const source = (e as { configSource?: number }).configSource;
    if ((source === undefined ? !e.isDefault : source === 1) && e.configValue != null)
      own[e.configName] = e.configValue;
  }
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: 2,
        name,
        configEntries: Object.entries({ ...own, ...config }).map(([k, v]) => ({ name: k, value: v })),
      },
    ],
  });
}

export const topics: Command = {
  name: 'topics',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      partitions: { type: 'string' },
      'replication-factor': { type: 'string' },
      config: { type: 'string', multiple: true },
    });
    const [sub, name] = positionals;
    if (sub === undefined || !SUBCOMMANDS.includes(sub))
      throw new UsageError(
        `unknown topics command "${sub ?? ''}"${suggest(sub, SUBCOMMANDS)}: use list, create, describe, delete or alter`,
      );
    const needName = () => {
      if (!name) throw new UsageError(`topics ${sub} needs a topic name (see ferrolog topics --help)`);
      return name;
    };
    const partitions = intOption(values, 'partitions');
    const replicationFactor = intOption(values, 'replication-factor');
    const config = configs(values);
    if (sub === 'create') needName();
    const t = resolveTarget(values, { write: sub !== 'list' && sub !== 'describe' });
    try {
      if (sub === 'describe') return await describe(t, needName());
      const admin = t.kafka.admin();
      await admin.connect();
      try {
        switch (sub) {
          case 'list':
            for (const n of (await admin.listTopics()).filter((x) => !x.startsWith('__')).sort())
              process.stdout.write(`${n}\n`);
            return;
          case 'create': {
            const n = partitions ?? 1;
            const created = await admin.createTopics({
              validateOnly: false,
              waitForLeaders: true,
              topics: [
                {
                  topic: needName(),
                  numPartitions: n,
                  ...(replicationFactor === undefined ? {} : { replicationFactor }),
                  configEntries: Object.entries(config).map(([k, v]) => ({ name: k, value: v })),
                },
              ],
            });
            if (!created) throw new UsageError(`topic "${name}" already exists`);
            process.stdout.write(`created topic ${name} with ${n} partition(s)\n`);
            return;
          }
          case 'delete':
            await admin.deleteTopics({ topics: [needName()] });
            process.stdout.write(`deleted topic ${name}\n`);
            return;
          case 'alter': {
            if (Object.keys(config).length === 0)
              throw new UsageError('topics alter needs at least one --config key=value');
            if (t.kind === 'local') t.log.alterTopicConfig(needName(), config);
            else await alterRemote(admin, needName(), config);
            process.stdout.write(
              `altered topic ${name}: ${Object.entries(config)
                .map(([k, v]) => `${k}=${v}`)
                .join(' ')}\n`,
            );
            return;
          }
        }
      } finally {
        await admin.disconnect();
      }
    } finally {
      await closeTarget(t);
    }
  },
};
