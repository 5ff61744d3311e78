/**
 * What ferrolog hands `logCreator` for a sequence of operations, against
 * what kafkajs 2.2.4 logs for the same sequence. The expectations are read
 * off kafkajs' source (each names the file and the call it comes from, and
 * the test checks that call is there), not taken from ferrolog's output.
 * kafkajs' transport namespaces (Connection, BrokerPool, Cluster,
 * RequestQueue) log the wire; an in-process log has none, so they are not
 * expected.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Kafka, type LogEntry, logLevel } from '../ts';
import { tempDir, until } from './helpers';

const kafkajsSrc = join(__dirname, '..', 'node_modules', 'kafkajs', 'src');

interface Expected {
  namespace: string;
  label: 'DEBUG' | 'INFO' | 'WARN';
  message: string;
  /** The fields after kafkajs' timestamp, logger and message. */
  fields: string[];
  /** Where kafkajs logs it: a file under src/ and the text of the call. */
  src: [string, string];
}

/** Where each namespace is created in kafkajs. */
const NAMESPACES: Record<string, [string, string]> = {
  Consumer: ['consumer/index.js', "rootLogger.namespace('Consumer')"],
  ConsumerGroup: ['consumer/consumerGroup.js', "logger.namespace('ConsumerGroup')"],
  Runner: ['consumer/runner.js', "logger.namespace('Runner')"],
  FetchManager: ['consumer/fetchManager.js', "rootLogger.namespace('FetchManager')"],
};

const L = {
  subscribedRegExp: {
    namespace: 'Consumer',
    label: 'DEBUG',
    message: 'Subscription based on RegExp',
    fields: ['groupId', 'topicRegExp', 'matchedTopics'],
    src: ['consumer/index.js', "logger.debug('Subscription based on RegExp', {"],
  },
  starting: {
    namespace: 'Consumer',
    label: 'INFO',
    message: 'Starting',
    fields: ['groupId'],
    src: ['consumer/index.js', "logger.info('Starting', { groupId })"],
  },
  leader: {
    namespace: 'ConsumerGroup',
    label: 'DEBUG',
    message: 'Chosen as group leader',
    fields: ['groupId', 'generationId', 'memberId', 'topics'],
    src: [
      'consumer/consumerGroup.js',
      "this.logger.debug('Chosen as group leader', { groupId, generationId, memberId, topics })",
    ],
  },
  groupAssignment: {
    namespace: 'ConsumerGroup',
    label: 'DEBUG',
    message: 'Group assignment',
    fields: ['groupId', 'generationId', 'groupProtocol', 'assignment', 'topics'],
    src: ['consumer/consumerGroup.js', "this.logger.debug('Group assignment', {"],
  },
  received: {
    namespace: 'ConsumerGroup',
    label: 'DEBUG',
    message: 'Received assignment',
    fields: ['groupId', 'generationId', 'memberId', 'memberAssignment'],
    src: ['consumer/consumerGroup.js', "this.logger.debug('Received assignment', {"],
  },
  joined: {
    namespace: 'ConsumerGroup',
    label: 'INFO',
    message: 'Consumer has joined the group',
    fields: ['groupId', 'memberId', 'leaderId', 'isLeader', 'memberAssignment', 'groupProtocol', 'duration'],
    src: ['consumer/consumerGroup.js', "this.logger.info('Consumer has joined the group', payload)"],
  },
  fetchersStarting: {
    namespace: 'FetchManager',
    label: 'DEBUG',
    message: 'Starting...',
    fields: [],
    src: ['consumer/fetchManager.js', "logger.debug('Starting...')"],
  },
  fetchersCreated: {
    namespace: 'FetchManager',
    label: 'DEBUG',
    message: 'Created 1 fetchers',
    fields: ['nodeIds', 'concurrency'],
    src: [
      'consumer/fetchManager.js',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the text of kafkajs' source, not a template
      'logger.debug(`Created ${fetchers.length} fetchers`, { nodeIds, concurrency })',
    ],
  },
  pausing: {
    namespace: 'ConsumerGroup',
    label: 'INFO',
    message: 'Pausing fetching from 1 topics',
    fields: ['topicPartitions'],
    src: [
      'consumer/consumerGroup.js',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the text of kafkajs' source, not a template
      'this.logger.info(`Pausing fetching from ${topicPartitions.length} topics`, {',
    ],
  },
  resuming: {
    namespace: 'ConsumerGroup',
    label: 'INFO',
    message: 'Resuming fetching from 1 topics',
    fields: ['topicPartitions'],
    src: [
      'consumer/consumerGroup.js',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the text of kafkajs' source, not a template
      'this.logger.info(`Resuming fetching from ${topicPartitions.length} topics`, {',
    ],
  },
  fetchersStopping: {
    namespace: 'FetchManager',
    label: 'DEBUG',
    message: 'Stopping fetchers...',
    fields: [],
    src: ['consumer/fetchManager.js', "logger.debug('Stopping fetchers...')"],
  },
  fetchersStopped: {
    namespace: 'FetchManager',
    label: 'DEBUG',
    message: 'Stopped fetchers',
    fields: [],
    src: ['consumer/fetchManager.js', "logger.debug('Stopped fetchers')"],
  },
  rebalancing: {
    namespace: 'Runner',
    label: 'WARN',
    message: 'The group is rebalancing, re-joining',
    fields: ['groupId', 'memberId', 'error'],
    src: ['consumer/runner.js', "this.logger.warn('The group is rebalancing, re-joining', {"],
  },
  stopGroup: {
    namespace: 'Runner',
    label: 'DEBUG',
    message: 'stop consumer group',
    fields: ['groupId', 'memberId'],
    src: ['consumer/runner.js', "this.logger.debug('stop consumer group', {"],
  },
  waiting: {
    namespace: 'Runner',
    label: 'DEBUG',
    message: 'waiting for consumer to finish...',
    fields: ['groupId', 'memberId'],
    src: ['consumer/runner.js', "this.logger.debug('waiting for consumer to finish...', {"],
  },
  notRunning: {
    namespace: 'Runner',
    label: 'INFO',
    message: 'consumer not running, exiting',
    fields: ['groupId', 'memberId'],
    src: ['consumer/runner.js', "this.logger.info('consumer not running, exiting', {"],
  },
  stopped: {
    namespace: 'Consumer',
    label: 'INFO',
    message: 'Stopped',
    fields: ['groupId'],
    src: ['consumer/index.js', "logger.info('Stopped', { groupId })"],
  },
  disconnecting: {
    namespace: 'Consumer',
    label: 'DEBUG',
    message: 'consumer has stopped, disconnecting',
    fields: ['groupId'],
    src: ['consumer/index.js', "logger.debug('consumer has stopped, disconnecting', { groupId })"],
  },
} satisfies Record<string, Expected>;

/**
 * kafkajs' order for a join (consumerGroup.js joinAndSync: sync logs the
 * leader's lines and the received assignment, then "joined"; runner.js then
 * schedules the fetch manager, which logs "Starting..." before creating its
 * fetchers).
 */
const join_ = (leader: boolean): Expected[] => [
  ...(leader ? [L.leader, L.groupAssignment] : []),
  L.received,
  L.joined,
  L.fetchersStarting,
  L.fetchersCreated,
];
/** A running member told to rebalance: fetchManager.start stops its fetchers and rethrows; runner.js warns and re-joins. */
const rebalance = (leader: boolean): Expected[] => [
  L.fetchersStopping,
  L.fetchersStopped,
  L.rebalancing,
  ...join_(leader),
];
/** consumer/index.js stop -> runner.stop (stop, fetchers, wait) -> scheduleFetchManager exits -> "Stopped". */
const stopRunning: Expected[] = [
  L.stopGroup,
  L.fetchersStopping,
  L.fetchersStopped,
  L.waiting,
  L.notRunning,
  L.stopped,
];

function capture(): { entries: LogEntry[]; kafka: (dir: string) => Kafka } {
  const entries: LogEntry[] = [];
  return {
    entries,
    kafka: (dir) =>
      new Kafka({
        clientId: 'log-test',
        dataDir: dir,
        logLevel: logLevel.DEBUG,
        logCreator: () => (entry) => entries.push(entry),
      }),
  };
}

function shape(entries: LogEntry[]) {
  return entries.map((e) => ({
    namespace: e.namespace,
    label: e.label,
    message: e.log.message,
    fields: Object.keys(e.log).filter((k) => !['timestamp', 'logger', 'message'].includes(k)),
  }));
}

function expected(list: Expected[]) {
  return list.map(({ namespace, label, message, fields }) => ({ namespace, label, message, fields }));
}

describe('logCreator receives kafkajs log lines', () => {
  it('expects only lines kafkajs writes, in namespaces kafkajs creates', () => {
    for (const e of Object.values(L) as Expected[]) {
      const [file, call] = e.src;
      expect(readFileSync(join(kafkajsSrc, file), 'utf8'), `${e.message} in ${file}`).toContain(call);
      const [nsFile, nsCall] = NAMESPACES[e.namespace] as [string, string];
      expect(readFileSync(join(kafkajsSrc, nsFile), 'utf8')).toContain(nsCall);
    }
  });

  it('logs a group consumer through subscribe, join, pause, rebalance, stop and disconnect', async () => {
    const dir = tempDir();
    const a = capture();
    const b = capture();
    const kafkaA = a.kafka(dir);
    const admin = kafkaA.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2 }] });
    const producer = kafkaA.producer();
    await producer.connect();
    await producer.send({ topic: 't', messages: [{ key: 'k', value: 'v' }] });
    await producer.disconnect();
    // kafkajs' admin and producer write nothing at INFO or DEBUG for these outside the transport.
    expect(shape(a.entries)).toEqual([]);

    let seen = 0;
    const c1 = kafkaA.consumer({ groupId: 'g' });
    await c1.connect();
    await c1.subscribe({ topics: [/^t$/], fromBeginning: true });
    await c1.run({
      eachMessage: async () => {
        seen++;
      },
    });
    await until(() => seen === 1, 'the message');
    c1.pause([{ topic: 't' }]);
    c1.resume([{ topic: 't' }]);
    const first = a.entries.length;
    expect(shape(a.entries)).toEqual(
      expected([L.subscribedRegExp, L.starting, ...join_(true), L.pausing, L.resuming]),
    );

    const c2 = b.kafka(dir).consumer({ groupId: 'g' });
    await c2.connect();
    await c2.subscribe({ topics: ['t'] });
    await c2.run({ eachMessage: async () => {} });
    expect(shape(b.entries)).toEqual(expected([L.starting, ...join_(false)]));
    await until(() => a.entries.length >= first + rebalance(true).length, 'the first member to rejoin');
    expect(shape(a.entries.slice(first))).toEqual(expected(rebalance(true)));

    const secondJoin = a.entries.length;
    const joinedB = b.entries.length;
    await c2.disconnect();
    expect(shape(b.entries.slice(joinedB))).toEqual(expected([...stopRunning, L.disconnecting]));
    await until(() => a.entries.length >= secondJoin + rebalance(true).length, 'the first member to rejoin');
    expect(shape(a.entries.slice(secondJoin))).toEqual(expected(rebalance(true)));

    const beforeStop = a.entries.length;
    await c1.stop();
    // kafkajs' disconnect calls stop again, which logs "Stopped" again even though nothing runs.
    await c1.disconnect();
    expect(shape(a.entries.slice(beforeStop))).toEqual(
      expected([...stopRunning, L.stopped, L.disconnecting]),
    );
    await admin.disconnect();

    // The values kafkajs puts in them.
    const byMessage = (m: string) => a.entries.filter((e) => e.log.message === m).map((e) => e.log);
    expect(byMessage('Subscription based on RegExp')[0]).toMatchObject({
      groupId: 'g',
      topicRegExp: '/^t$/',
      matchedTopics: ['t'],
    });
    const joins = byMessage('Consumer has joined the group');
    expect(joins[0]).toMatchObject({
      groupId: 'g',
      isLeader: true,
      groupProtocol: 'RoundRobinAssigner',
      memberAssignment: { t: [0, 1] },
    });
    expect(joins[0]?.leaderId).toBe(joins[0]?.memberId);
    // Two members share the two partitions (which one is whose depends on the member ids).
    expect(joins[1]?.memberAssignment.t).toHaveLength(1);
    expect(byMessage('Created 1 fetchers')[0]).toMatchObject({ nodeIds: [0], concurrency: 1 });
    expect(byMessage('Pausing fetching from 1 topics')[0]?.topicPartitions).toEqual([{ topic: 't' }]);
    const assignment = byMessage('Group assignment')[0]?.assignment as { memberId: string }[];
    expect(assignment.map((x) => x.memberId)).toEqual([joins[0]?.memberId]);
    for (const e of [...a.entries, ...b.entries]) expect(e.log.logger).toBe('ferrolog');
  });

  it('logs the idempotent producer getting its id, as the kafkajs eosManager does on connect', async () => {
    const sources: [string, string][] = [
      ['producer/index.js', "rootLogger.namespace('Producer')"],
      [
        'producer/eosManager/transactionStateMachine.js',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the text of kafkajs' source, not a template
        'logger.debug(`Transaction state transition ${currentState} --> ${state}`)',
      ],
      ['producer/eosManager/transactionStateMachine.js', '[STATES.UNINITIALIZED]: [STATES.READY]'],
      [
        'producer/eosManager/index.js',
        "logger.debug('Initialized producer id & epoch', { producerId, producerEpoch })",
      ],
    ];
    for (const [file, call] of sources) expect(readFileSync(join(kafkajsSrc, file), 'utf8')).toContain(call);
    const { entries, kafka } = capture();
    const producer = kafka(tempDir()).producer({ idempotent: true });
    await producer.connect();
    await producer.disconnect();
    expect(shape(entries)).toEqual([
      {
        namespace: 'Producer',
        label: 'DEBUG',
        message: 'Transaction state transition UNINITIALIZED --> READY',
        fields: [],
      },
      {
        namespace: 'Producer',
        label: 'DEBUG',
        message: 'Initialized producer id & epoch',
        fields: ['producerId', 'producerEpoch'],
      },
    ]);
    expect(typeof entries[1]?.log.producerId).toBe('number');
  });

  it('logs nothing below the configured level', async () => {
    const entries: LogEntry[] = [];
    const kafka = new Kafka({
      dataDir: tempDir(),
      logLevel: logLevel.INFO,
      logCreator: () => (e) => entries.push(e),
    });
    const c = kafka.consumer({ groupId: 'g' });
    await c.connect();
    await c.subscribe({ topics: ['t'] });
    await c.run({ eachMessage: async () => {} });
    await c.disconnect();
    expect(entries.map((e) => `${e.namespace} ${e.label} ${e.log.message}`)).toEqual([
      'Consumer INFO Starting',
      'ConsumerGroup INFO Consumer has joined the group',
      'Runner INFO consumer not running, exiting',
      'Consumer INFO Stopped',
    ]);
  });
});
