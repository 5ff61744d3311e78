/**
 * A kafkajs 2.2.4 TypeScript program that imports every name kafkajs
 * exports. It is compiled (strict, module nodenext) twice by `npm test`:
 * against ferrolog (tsconfig.json) and against kafkajs 2.2.4, where
 * tsconfig.kafkajs.json resolves `ferrolog` to kafkajs's declarations.
 * Both must compile.
 * It is only compiled, never run.
 */
import * as net from 'node:net';
import {
  type Acl,
  type AclEntry,
  type AclFilter,
  AclOperationTypes,
  AclPermissionTypes,
  type AclResource,
  AclResourceTypes,
  type Admin,
  type AdminConfig,
  type AdminEvents,
  type ApiVersions,
  type Assigner,
  AssignerProtocol,
  type Assignment,
  type AuthenticationProviderArgs,
  type Authenticator,
  type Batch,
  type Broker,
  type BrokerMetadata,
  type BrokersFunction,
  type Cluster,
  CompressionCodecs,
  CompressionTypes,
  type ConfigEntries,
  ConfigResourceTypes,
  ConfigSource,
  type ConfigSynonyms,
  type ConnectEvent,
  type Consumer,
  type ConsumerCommitOffsetsEvent,
  type ConsumerConfig,
  type ConsumerCrashEvent,
  type ConsumerEachBatchPayload,
  type ConsumerEachMessagePayload,
  type ConsumerEndBatchProcessEvent,
  type ConsumerEvents,
  type ConsumerFetchEvent,
  type ConsumerFetchStartEvent,
  type ConsumerGroup,
  type ConsumerGroupJoinEvent,
  type ConsumerGroupState,
  type ConsumerHeartbeatEvent,
  type ConsumerRebalancingEvent,
  type ConsumerReceivedUnsubcribedTopicsEvent,
  type ConsumerRunConfig,
  type ConsumerStartBatchProcessEvent,
  type ConsumerSubscribeTopic,
  type ConsumerSubscribeTopics,
  type CoordinatorMetadata,
  type DefaultPartitioner,
  type DeleteAclFilterResponses,
  type DeleteAclResponse,
  type DeleteGroupsResult,
  type DescribeAclResource,
  type DescribeAclResponse,
  type DescribeConfigResponse,
  type DisconnectEvent,
  type EachBatchHandler,
  type EachBatchPayload,
  type EachMessageHandler,
  type EachMessagePayload,
  type FetchOffsetsPartition,
  type GroupDescription,
  type GroupDescriptions,
  type GroupMember,
  type GroupMemberAssignment,
  type GroupOverview,
  type GroupState,
  type IBatchProcessEvent,
  type ICustomPartitioner,
  type IHeaders,
  type IMemberAssignment,
  type InstrumentationEvent,
  type IResourceConfig,
  type IResourceConfigEntry,
  type ISerializer,
  type ISocketFactory,
  type ISocketFactoryArgs,
  type ITopicConfig,
  type ITopicMetadata,
  type ITopicPartitionConfig,
  Kafka,
  type KafkaConfig,
  KafkaJSAggregateError,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSBrokerNotFound,
  KafkaJSConnectionError,
  type KafkaJSConnectionErrorMetadata,
  KafkaJSDeleteGroupsError,
  type KafkaJSDeleteGroupsErrorGroups,
  KafkaJSDeleteTopicRecordsError,
  type KafkaJSDeleteTopicRecordsErrorPartition,
  type KafkaJSDeleteTopicRecordsErrorTopic,
  KafkaJSError,
  type KafkaJSErrorMetadata,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSLockTimeout,
  KafkaJSMetadataNotLoaded,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
  KafkaJSNumberOfRetriesExceeded,
  type KafkaJSNumberOfRetriesExceededMetadata,
  KafkaJSOffsetOutOfRange,
  type KafkaJSOffsetOutOfRangeMetadata,
  KafkaJSPartialMessageError,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  type KafkaJSRequestTimeoutErrorMetadata,
  KafkaJSSASLAuthenticationError,
  KafkaJSServerDoesNotSupportApiKey,
  type KafkaJSServerDoesNotSupportApiKeyMetadata,
  KafkaJSStaleTopicMetadataAssignment,
  type KafkaJSStaleTopicMetadataAssignmentMetadata,
  KafkaJSTimeout,
  KafkaJSTopicMetadataNotLoaded,
  type KafkaJSTopicMetadataNotLoadedMetadata,
  KafkaJSUnsupportedMagicByteInMessageSet,
  type KafkaMessage,
  type LegacyPartitioner,
  type ListPartitionReassignmentsResponse,
  type LogEntry,
  type Logger,
  type LoggerEntryContent,
  type logCreator,
  logLevel,
  type MatchingAcl,
  type Mechanism,
  type MemberAssignment,
  type MemberDescription,
  type MemberMetadata,
  type Message,
  type MessageSetEntry,
  type OauthbearerProviderResponse,
  type Offsets,
  type OffsetsByTopicPartition,
  type OngoingPartitionReassignment,
  type OngoingTopicReassignment,
  type PartitionAssigner,
  PartitionAssigners,
  type PartitionerArgs,
  Partitioners,
  type PartitionMetadata,
  type PartitionOffset,
  type PartitionReassignment,
  type Producer,
  type ProducerBatch,
  type ProducerConfig,
  type ProducerEvents,
  type ProducerRecord,
  type RecordBatchEntry,
  type RecordMetadata,
  type RemoveInstrumentationEventListener,
  type ReplicaAssignment,
  type RequestEvent,
  type RequestQueueSizeEvent,
  type RequestTimeoutEvent,
  type ResourceConfigQuery,
  ResourcePatternTypes,
  type RetryOptions,
  type SASLMechanism,
  type SASLMechanismOptions,
  type SASLMechanismOptionsMap,
  type SASLOptions,
  type SaslAuthenticateArgs,
  type SaslAuthenticationRequest,
  type SaslAuthenticationResponse,
  type SeekEntry,
  type Sender,
  type TopicMessages,
  type TopicOffsets,
  type TopicPartition,
  type TopicPartitionOffset,
  type TopicPartitionOffsetAndMetadata,
  type TopicPartitions,
  type Transaction,
  type ValueOf,
  type Without,
  type XOR,
} from 'ferrolog';

// ---- client, logging, connection options ----

const entries: LogEntry[] = [];
const myLogCreator: logCreator = (level: logLevel) => (entry: LogEntry) => {
  const content: LoggerEntryContent = entry.log;
  if (level >= logLevel.INFO) entries.push(entry);
  const extra: string = content.groupId;
  void `${entry.namespace} ${entry.label} ${content.timestamp} ${content.message} ${extra}`;
};

const plain: SASLOptions = { mechanism: 'plain', username: 'u', password: 'p' };
const scram: SASLMechanismOptions<'scram-sha-256'> = {
  mechanism: 'scram-sha-256',
  username: 'u',
  password: 'p',
};
const awsOptions: SASLMechanismOptionsMap['aws'] = {
  authorizationIdentity: 'id',
  accessKeyId: 'key',
  secretAccessKey: 'secret',
};
const mechanismName: SASLMechanism = 'oauthbearer';
const oauth: SASLOptions = {
  mechanism: mechanismName,
  oauthBearerProvider: async (): Promise<OauthbearerProviderResponse> => ({ value: 'token' }),
};
const custom: Mechanism = {
  mechanism: 'custom',
  authenticationProvider: ({ host, port, logger, saslAuthenticate }: AuthenticationProviderArgs) => {
    const authenticator: Authenticator = {
      authenticate: async () => {
        const request: SaslAuthenticationRequest = { encode: () => Buffer.from(`${host}:${port}`) };
        const response: SaslAuthenticationResponse<Buffer> = { decode: (b) => b, parse: (b) => b };
        const args: SaslAuthenticateArgs<Buffer> = { request, response };
        await saslAuthenticate(args);
        logger.debug('authenticated');
      },
    };
    return authenticator;
  },
};
const socketFactory: ISocketFactory = ({ host, port, onConnect }: ISocketFactoryArgs) =>
  net.connect({ host, port }, onConnect);
const brokers: BrokersFunction = async () => ['localhost:9092'];
const retry: RetryOptions = {
  retries: 3,
  initialRetryTime: 100,
  maxRetryTime: 1000,
  factor: 0.2,
  multiplier: 2,
};

const config: KafkaConfig = {
  clientId: 'kafkajs-program',
  brokers,
  ssl: false,
  sasl: plain,
  connectionTimeout: 1000,
  requestTimeout: 30000,
  retry,
  socketFactory,
  logLevel: logLevel.DEBUG,
  logCreator: myLogCreator,
};
void [scram, awsOptions, oauth, custom];

const kafka = new Kafka(config);
const rootLogger: Logger = kafka.logger();
const adminLogger: Logger = rootLogger.namespace('Admin', logLevel.WARN);
adminLogger.info('ready', { ok: true });
rootLogger.setLogLevel(logLevel.INFO);

// ---- producer ----

const byFirstPartition: ICustomPartitioner = () => (args: PartitionerArgs) => {
  const { topic, partitionMetadata, message } = args;
  const ids = partitionMetadata.map((m: PartitionMetadata) => m.partitionId);
  const header = message.headers?.route;
  return header === undefined && topic.length > 0 ? (ids[0] ?? 0) : (ids[ids.length - 1] ?? 0);
};
const defaultPartitioner: DefaultPartitioner = Partitioners.DefaultPartitioner;
const legacyPartitioner: LegacyPartitioner = Partitioners.LegacyPartitioner;
void [byFirstPartition, legacyPartitioner, Partitioners.JavaCompatiblePartitioner];

const producerConfig: ProducerConfig = {
  createPartitioner: defaultPartitioner,
  retry,
  metadataMaxAge: 300000,
  allowAutoTopicCreation: true,
  idempotent: false,
  maxInFlightRequests: 1,
};
const producer: Producer = kafka.producer(producerConfig);
const producerEvents: ProducerEvents = producer.events;

const onConnect: RemoveInstrumentationEventListener<'producer.connect'> = producer.on(
  producer.events.CONNECT,
  (e: ConnectEvent) => {
    const payload: null = e.payload;
    void payload;
  },
);
producer.on(producerEvents.DISCONNECT, (e: DisconnectEvent) => void e.timestamp);
producer.on(producer.events.REQUEST, (e) => {
  const size: number = e.payload.size;
  const api: string = e.payload.apiName;
  void [size, api];
});
producer.on(producer.events.REQUEST_TIMEOUT, (e: RequestTimeoutEvent) => void e.payload.pendingDuration);
producer.on(producer.events.REQUEST_QUEUE_SIZE, (e: RequestQueueSizeEvent) => void e.payload.queueSize);
const anyProducerEvent: ValueOf<ProducerEvents> = 'producer.connect';
// biome-ignore lint/suspicious/noExplicitAny: kafkajs' catch-all listener type
producer.on(anyProducerEvent, (e: InstrumentationEvent<any>) => void e.id);
onConnect();

const headers: IHeaders = { 'correlation-id': '1', trace: [Buffer.from('a'), 'b'] };
const messages: Message[] = [
  { key: 'k', value: 'v', partition: 0 },
  { key: Buffer.from('k'), value: null, headers, timestamp: String(Date.now()) },
];

async function produce(): Promise<void> {
  await producer.connect();
  const record: ProducerRecord = {
    topic: 'orders',
    messages,
    acks: -1,
    timeout: 30000,
    compression: CompressionTypes.GZIP,
  };
  const sent: RecordMetadata[] = await producer.send(record);
  const first: string | undefined = sent[0]?.baseOffset;
  const topicMessages: TopicMessages[] = [{ topic: 'a', messages: [{ value: 'x' }] }];
  const batch: ProducerBatch = { acks: 1, topicMessages, compression: CompressionTypes.None };
  await producer.sendBatch(batch);
  const sender: Sender = producer;
  await sender.send({ topic: 'b', messages: [{ value: 'y' }] });
  try {
    const transaction: Transaction = await producer.transaction();
    await transaction.send({ topic: 'a', messages });
    await transaction.sendOffsets({ consumerGroupId: 'g', topics: [] });
    if (transaction.isActive()) await transaction.commit();
    else await transaction.abort();
  } catch (e) {
    if (!(e instanceof KafkaJSNotImplemented)) throw e;
  }
  const idempotent: boolean = producer.isIdempotent();
  producer.logger().info('sent', { first, idempotent });
  await producer.disconnect();
}

// ---- assigners and the cluster they get ----

const firstMemberTakesAll: PartitionAssigner = ({ cluster, groupId, logger }) => {
  const assigner: Assigner = {
    name: 'FirstMemberTakesAll',
    version: 1,
    async assign({ members, topics }: { members: GroupMember[]; topics: string[] }) {
      const c: Cluster = cluster;
      const nodes: number[] = c.getNodeIds();
      const assignment: Assignment = {};
      for (const topic of topics) {
        assignment[topic] = c.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
      }
      logger.debug('assigning', { groupId, nodes });
      const result: GroupMemberAssignment[] = members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: i === 0 ? assignment : {},
          userData: Buffer.alloc(0),
        }),
      }));
      return result;
    },
    protocol({ topics }: { topics: string[] }): GroupState {
      return {
        name: 'FirstMemberTakesAll',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
      };
    },
  };
  return assigner;
};

async function clusterCalls(cluster: Cluster, groupId: string): Promise<void> {
  const metadata: BrokerMetadata = await cluster.metadata();
  const coordinator: CoordinatorMetadata = await cluster.findGroupCoordinatorMetadata({ groupId });
  const offsets: TopicOffsets[] = await cluster.fetchTopicsOffset([
    { topic: 't', partitions: [{ partition: 0 }], fromBeginning: true },
  ]);
  const broker: Broker = await cluster.findControllerBroker();
  const versions: ApiVersions = await broker.apiVersions();
  const group: ConsumerGroup = { groupId, generationId: 1, memberId: 'm', coordinator: broker };
  void [metadata.brokers, coordinator.coordinator.nodeId, offsets, versions, group];
}

// ---- consumer ----

const consumerConfig: ConsumerConfig = {
  groupId: 'billing',
  partitionAssigners: [firstMemberTakesAll, PartitionAssigners.roundRobin],
  sessionTimeout: 30000,
  heartbeatInterval: 3000,
  maxBytesPerPartition: 1048576,
  retry: { retries: 2, restartOnFailure: async (e: Error) => e.name !== 'KafkaJSNonRetriableError' },
  readUncommitted: false,
};
const consumer: Consumer = kafka.consumer(consumerConfig);
const consumerEvents: ConsumerEvents = consumer.events;

consumer.on(consumer.events.CRASH, (e: ConsumerCrashEvent) => {
  const error: Error = e.payload.error;
  const restart: boolean = e.payload.restart;
  void [error, restart];
});
consumer.on(consumer.events.GROUP_JOIN, (e: ConsumerGroupJoinEvent) => {
  const assignment: IMemberAssignment = e.payload.memberAssignment;
  const leader: boolean = e.payload.isLeader;
  void [assignment, leader];
});
consumer.on(consumer.events.HEARTBEAT, (e: ConsumerHeartbeatEvent) => void e.payload.groupGenerationId);
consumer.on(consumer.events.COMMIT_OFFSETS, (e: ConsumerCommitOffsetsEvent) => {
  const topics: TopicOffsets[] = e.payload.topics;
  const partitions: PartitionOffset[] = topics[0]?.partitions ?? [];
  void partitions;
});
consumer.on(consumer.events.FETCH_START, (e: ConsumerFetchStartEvent) => void e.payload.nodeId);
consumer.on(consumer.events.FETCH, (e: ConsumerFetchEvent) => void e.payload.numberOfBatches);
consumer.on(consumer.events.START_BATCH_PROCESS, (e: ConsumerStartBatchProcessEvent) => {
  const batchEvent: IBatchProcessEvent = e.payload;
  void batchEvent.offsetLag;
});
consumer.on(consumer.events.END_BATCH_PROCESS, (e: ConsumerEndBatchProcessEvent) => void e.payload.duration);
consumer.on(consumer.events.REBALANCING, (e: ConsumerRebalancingEvent) => void e.payload.memberId);
consumer.on(
  consumerEvents.RECEIVED_UNSUBSCRIBED_TOPICS,
  (e: ConsumerReceivedUnsubcribedTopicsEvent) => void e.payload.topicsNotSubscribed,
);
consumer.on(consumer.events.STOP, (e) => void e.payload);
consumer.on(consumer.events.CONNECT, (e: ConnectEvent) => void e.type);
consumer.on(consumer.events.DISCONNECT, (e: DisconnectEvent) => void e.type);
consumer.on(consumer.events.REQUEST, (e: RequestEvent) => void e.payload.correlationId);
consumer.on(consumer.events.REQUEST_TIMEOUT, (e: RequestTimeoutEvent) => void e.payload.broker);
consumer.on(consumer.events.REQUEST_QUEUE_SIZE, (e: RequestQueueSizeEvent) => void e.payload.clientId);

const eachMessage: EachMessageHandler = async ({ topic, partition, message, heartbeat, pause }) => {
  const m: KafkaMessage = message;
  const text: string | undefined = m.value?.toString();
  const header = m.headers?.['correlation-id'];
  void [topic, partition, text, header, m.offset, m.timestamp, m.attributes, m.key];
  await heartbeat();
  if (text === 'slow down') pause()();
};
const eachBatch: EachBatchHandler = async (payload: EachBatchPayload) => {
  const {
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    uncommittedOffsets,
    isRunning,
    isStale,
  } = payload;
  const b: Batch = batch;
  for (const message of b.messages) {
    if (!isRunning() || isStale()) break;
    resolveOffset(message.offset);
    await heartbeat();
  }
  const pending: OffsetsByTopicPartition = uncommittedOffsets();
  const offsets: Offsets = pending;
  await commitOffsetsIfNecessary(offsets);
  void [b.highWatermark, b.offsetLag(), b.offsetLagLow(), b.firstOffset(), b.lastOffset(), b.isEmpty()];
};
const aliasMessage: (p: ConsumerEachMessagePayload) => Promise<void> = eachMessage;
const aliasBatch: (p: ConsumerEachBatchPayload) => Promise<void> = eachBatch;
const direct: (p: EachMessagePayload) => Promise<void> = aliasMessage;
void [aliasBatch, direct];

// A handler unit-tested with hand-made payloads, as kafkajs users do.
const entry: RecordBatchEntry = {
  key: null,
  value: Buffer.from('v'),
  timestamp: '0',
  attributes: 0,
  offset: '0',
  headers: {},
};
const legacyEntry: MessageSetEntry | undefined = undefined;
const handMade: KafkaMessage = entry;
void legacyEntry;

async function consume(): Promise<void> {
  await consumer.connect();
  const subscription: ConsumerSubscribeTopics = { topics: ['orders', /^user\./], fromBeginning: true };
  await consumer.subscribe(subscription);
  const legacy: ConsumerSubscribeTopic = { topic: 'audit' };
  await consumer.subscribe(legacy);
  const run: ConsumerRunConfig = { eachMessage, autoCommit: true, partitionsConsumedConcurrently: 2 };
  await consumer.run(run);
  await eachMessage({
    topic: 'orders',
    partition: 0,
    message: handMade,
    heartbeat: async () => {},
    pause: () => () => {},
  });
  const seekTo: TopicPartitionOffset = { topic: 'orders', partition: 0, offset: '0' };
  consumer.seek(seekTo);
  const commit: TopicPartitionOffsetAndMetadata = {
    topic: 'orders',
    partition: 0,
    offset: '1',
    metadata: null,
  };
  await consumer.commitOffsets([commit]);
  const tp: TopicPartition = { topic: 'orders', partition: 0 };
  consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
  const paused: TopicPartitions[] = consumer.paused();
  consumer.resume(paused);
  const description: GroupDescription = await consumer.describeGroup();
  const state: ConsumerGroupState = description.state;
  const members: MemberDescription[] = description.members;
  const decoded: MemberAssignment | null = AssignerProtocol.MemberAssignment.decode(
    members[0]?.memberAssignment ?? Buffer.alloc(0),
  );
  const metadataSerializer: ISerializer<MemberMetadata> = AssignerProtocol.MemberMetadata;
  void [state, decoded?.assignment, metadataSerializer];
  consumer.logger().info('consuming');
  await consumer.stop();
  await consumer.disconnect();
}

// ---- admin ----

async function administer(): Promise<void> {
  const adminConfig: AdminConfig = { retry };
  const admin: Admin = kafka.admin(adminConfig);
  const adminEvents: AdminEvents = admin.events;
  const removeAdmin = admin.on(adminEvents.CONNECT, (e: ConnectEvent) => void e.payload);
  admin.on(admin.events.REQUEST, (e) => void e.payload.apiKey);
  await admin.connect();
  removeAdmin();

  const replicaAssignment: ReplicaAssignment[] = [{ partition: 0, replicas: [0] }];
  const configEntries: IResourceConfigEntry[] = [{ name: 'retention.ms', value: '86400000' }];
  const topic: ITopicConfig = { topic: 'orders', numPartitions: 3, replicationFactor: 1, configEntries };
  await admin.createTopics({ topics: [topic], waitForLeaders: true, timeout: 5000 });
  await admin.createTopics({ topics: [{ topic: 'assigned', replicaAssignment }] });
  const grow: ITopicPartitionConfig = { topic: 'orders', count: 4 };
  await admin.createPartitions({ topicPartitions: [grow] });
  const topics: string[] = await admin.listTopics();
  const metadata: { topics: ITopicMetadata[] } = await admin.fetchTopicMetadata({ topics });
  const partitions: PartitionMetadata[] = metadata.topics[0]?.partitions ?? [];
  const topicOffsets: Array<SeekEntry & { high: string; low: string }> =
    await admin.fetchTopicOffsets('orders');
  const byTime: SeekEntry[] = await admin.fetchTopicOffsetsByTimestamp('orders', Date.now());
  const groupOffsets: Array<{ topic: string; partitions: FetchOffsetsPartition[] }> =
    await admin.fetchOffsets({
      groupId: 'billing',
      topics: ['orders'],
      resolveOffsets: true,
    });
  const cluster = await admin.describeCluster();
  const controller: number | null = cluster.controller;
  const clusterId: string = cluster.clusterId;
  await admin.setOffsets({
    groupId: 'billing',
    topic: 'orders',
    partitions: [{ partition: 0, offset: '0' }],
  });
  await admin.resetOffsets({ groupId: 'billing', topic: 'orders', earliest: true });

  const query: ResourceConfigQuery = {
    type: ConfigResourceTypes.TOPIC,
    name: 'orders',
    configNames: ['retention.ms'],
  };
  const described: DescribeConfigResponse = await admin.describeConfigs({
    resources: [query],
    includeSynonyms: true,
  });
  const configEntry: ConfigEntries | undefined = described.resources[0]?.configEntries[0];
  const synonyms: ConfigSynonyms[] = configEntry?.configSynonyms ?? [];
  const source: ConfigSource | undefined = synonyms[0]?.configSource;
  const isDefault = configEntry?.configSource === ConfigSource.DEFAULT_CONFIG;
  const alter: IResourceConfig = {
    type: ConfigResourceTypes.TOPIC,
    name: 'orders',
    configEntries: [{ name: 'retention.ms', value: '3600000' }],
  };
  await admin.alterConfigs({ validateOnly: false, resources: [alter] });

  const overview: { groups: GroupOverview[] } = await admin.listGroups();
  const groups: GroupDescriptions = await admin.describeGroups(['billing']);
  const deleted: DeleteGroupsResult[] = await admin.deleteGroups(['old-group']);

  const acl: AclEntry = {
    resourceType: AclResourceTypes.TOPIC,
    resourceName: 'orders',
    resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: 'User:bob',
    host: '*',
    operation: AclOperationTypes.READ,
    permissionType: AclPermissionTypes.ALLOW,
  };
  const aclPart: Acl = acl;
  const resourcePart: AclResource = acl;
  const filter: AclFilter = {
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  };
  try {
    const acls: DescribeAclResponse = await admin.describeAcls(filter);
    const aclResources: DescribeAclResource[] = acls.resources;
    await admin.createAcls({ acl: [acl] });
    const removed: DeleteAclResponse = await admin.deleteAcls({ filters: [filter] });
    const responses: DeleteAclFilterResponses[] = removed.filterResponses;
    const matching: MatchingAcl[] = responses[0]?.matchingAcls ?? [];
    void [aclResources, matching];
  } catch (e) {
    if (e instanceof KafkaJSProtocolError && e.type === 'SECURITY_DISABLED') admin.logger().warn('no ACLs');
    else throw e;
  }

  await admin.deleteTopicRecords({ topic: 'orders', partitions: [{ partition: 0, offset: '-1' }] });
  const move: PartitionReassignment = { topic: 'orders', partitionAssignment: replicaAssignment };
  await admin.alterPartitionReassignments({ topics: [move], timeout: 5000 });
  const ongoing: ListPartitionReassignmentsResponse = await admin.listPartitionReassignments({
    topics: [{ topic: 'orders', partitions: [0] }],
  });
  const ongoingTopics: OngoingTopicReassignment[] = ongoing.topics;
  const ongoingPartitions: OngoingPartitionReassignment[] = ongoingTopics[0]?.partitions ?? [];
  await admin.deleteTopics({ topics: ['assigned'], timeout: 5000 });
  await admin.disconnect();
  void [partitions, topicOffsets, byTime, groupOffsets, controller, clusterId, source, isDefault];
  void [overview, groups, deleted, aclPart, resourcePart, ongoingPartitions];
}

// ---- errors ----

function describeError(e: unknown): string {
  if (e instanceof KafkaJSNumberOfRetriesExceeded) return `after ${e.retryCount} retries (${e.retryTime} ms)`;
  if (e instanceof KafkaJSOffsetOutOfRange) return `${e.topic}-${e.partition}`;
  if (e instanceof KafkaJSAlterPartitionReassignmentsError) return `${e.topic}-${e.partition}`;
  if (e instanceof KafkaJSProtocolError) {
    const code: number = e.code;
    return `${e.type} (${code})`;
  }
  if (e instanceof KafkaJSConnectionError) return e.broker;
  if (e instanceof KafkaJSRequestTimeoutError) return `${e.broker} ${e.correlationId} ${e.pendingDuration}`;
  if (e instanceof KafkaJSTopicMetadataNotLoaded) return e.topic;
  if (e instanceof KafkaJSStaleTopicMetadataAssignment) return `${e.topic} ${e.unknownPartitions}`;
  if (e instanceof KafkaJSServerDoesNotSupportApiKey) return `${e.apiName} ${e.apiKey}`;
  if (e instanceof KafkaJSDeleteGroupsError) return e.groups.map((g) => g.groupId).join();
  if (e instanceof KafkaJSAggregateError) return e.errors.map(String).join();
  if (e instanceof KafkaJSError)
    return `${e.name} retriable=${e.retriable} ${e.helpUrl ?? ''} ${e.cause?.message}`;
  return String(e);
}

const errorMetadata: KafkaJSErrorMetadata = { retriable: false, topic: 't', partitionId: 0 };
const offsetMetadata: KafkaJSOffsetOutOfRangeMetadata = { topic: 't', partition: 0 };
const retriesMetadata: KafkaJSNumberOfRetriesExceededMetadata = { retryCount: 5, retryTime: 1000 };
const connectionMetadata: KafkaJSConnectionErrorMetadata = { broker: 'localhost:9092', code: 'ECONNREFUSED' };
const timeoutMetadata: KafkaJSRequestTimeoutErrorMetadata = {
  broker: 'localhost:9092',
  clientId: 'c',
  correlationId: 1,
  createdAt: 0,
  sentAt: 0,
  pendingDuration: 0,
};
const topicMetadata: KafkaJSTopicMetadataNotLoadedMetadata = { topic: 't' };
const staleMetadata: KafkaJSStaleTopicMetadataAssignmentMetadata = { topic: 't', unknownPartitions: [] };
const apiKeyMetadata: KafkaJSServerDoesNotSupportApiKeyMetadata = { apiKey: 1, apiName: 'Fetch' };
const deleteGroupsError: KafkaJSDeleteGroupsErrorGroups = {
  groupId: 'g',
  errorCode: 68,
  error: new KafkaJSError('The group is not empty'),
};
const recordsPartition: KafkaJSDeleteTopicRecordsErrorPartition = {
  partition: 0,
  offset: '1',
  error: new KafkaJSError('x'),
};
const recordsTopic: KafkaJSDeleteTopicRecordsErrorTopic = { topic: 't', partitions: [recordsPartition] };

const errors: Error[] = [
  new KafkaJSError('x', errorMetadata),
  new KafkaJSNonRetriableError('x'),
  new KafkaJSProtocolError('x'),
  new KafkaJSAggregateError('x', [new Error('y'), 'z']),
  new KafkaJSOffsetOutOfRange('x', offsetMetadata),
  new KafkaJSAlterPartitionReassignmentsError('x', 't', 0),
  new KafkaJSNumberOfRetriesExceeded(new Error('x'), retriesMetadata),
  new KafkaJSConnectionError('x', connectionMetadata),
  new KafkaJSRequestTimeoutError('x', timeoutMetadata),
  new KafkaJSMetadataNotLoaded(),
  new KafkaJSTopicMetadataNotLoaded('x', topicMetadata),
  new KafkaJSStaleTopicMetadataAssignment('x', staleMetadata),
  new KafkaJSServerDoesNotSupportApiKey('x', apiKeyMetadata),
  new KafkaJSBrokerNotFound(),
  new KafkaJSPartialMessageError(),
  new KafkaJSSASLAuthenticationError(),
  new KafkaJSGroupCoordinatorNotFound(),
  new KafkaJSNotImplemented(),
  new KafkaJSTimeout(),
  new KafkaJSLockTimeout(),
  new KafkaJSUnsupportedMagicByteInMessageSet(),
  new KafkaJSDeleteGroupsError('x', [deleteGroupsError]),
  new KafkaJSDeleteTopicRecordsError(recordsTopic),
];

// ---- the remaining helper types ----

type Either = XOR<{ fromBeginning: boolean }, { fromTimestamp: number }>;
const either: Either = { fromTimestamp: 0 };
const without: Without<{ a: number; b: number }, { a: number }> = {};
const gzip = CompressionCodecs[CompressionTypes.GZIP];

export async function main(): Promise<void> {
  await produce();
  await consume();
  await administer();
  await clusterCalls({} as Cluster, 'billing');
  for (const e of errors) rootLogger.error(describeError(e));
  void [entries, either, without, gzip];
}
