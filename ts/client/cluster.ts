/**
 * kafkajs' `Cluster`, answered from the local log: one node (id 0) that
 * leads every partition. Assigners written for kafkajs get it as `cluster`.
 * There are no brokers to talk to, so the calls that would return a
 * `Broker` reject with KafkaJSNotImplemented.
 */
import { KafkaJSNotImplemented } from '../errors';
import type { Log } from '../log';
import type { PartitionMetadata } from '../producer/partitioners';
import type { Broker, BrokerMetadata, Cluster, CoordinatorMetadata, TopicOffsets } from '../types/kafkajs';

/** The one node of an in-process cluster. */
export const LOCAL_NODE = { nodeId: 0, host: 'localhost', port: 0 } as const;

export function partitionMetadata(count: number): PartitionMetadata[] {
  return Array.from({ length: Math.max(0, count) }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: LOCAL_NODE.nodeId,
    replicas: [LOCAL_NODE.nodeId],
    isr: [LOCAL_NODE.nodeId],
    offlineReplicas: [],
  }));
}

export function createLocalCluster(log: () => Log): Cluster {
  const noBroker = (what: string): Promise<Broker> =>
    Promise.reject(new KafkaJSNotImplemented(`${what}: an in-process log has no brokers to talk to`));
  const metadata = async (): Promise<BrokerMetadata> => ({
    brokers: [{ ...LOCAL_NODE }],
    topicMetadata: log()
      .topics()
      .map((t) => ({ topicErrorCode: 0, topic: t.name, partitionMetadata: partitionMetadata(t.partitions) })),
  });
  return {
    getNodeIds: () => [LOCAL_NODE.nodeId],
    metadata,
    removeBroker: () => undefined,
    addMultipleTargetTopics: async () => undefined,
    isConnected: () => !log().closed,
    connect: async () => undefined,
    disconnect: async () => undefined,
    refreshMetadata: async () => undefined,
    refreshMetadataIfNecessary: async () => undefined,
    addTargetTopic: async () => undefined,
    findBroker: () => noBroker('findBroker'),
    findControllerBroker: () => noBroker('findControllerBroker'),
    findTopicPartitionMetadata: (topic) => partitionMetadata(log().partitionCount(topic)),
    findLeaderForPartitions: (_topic, partitions) => ({ [String(LOCAL_NODE.nodeId)]: [...partitions] }),
    findGroupCoordinator: () => noBroker('findGroupCoordinator'),
    findGroupCoordinatorMetadata: async (): Promise<CoordinatorMetadata> => ({
      errorCode: 0,
      coordinator: { ...LOCAL_NODE },
    }),
    // Kafka's ListOffsets timestamps: -2 is the earliest offset, -1 the latest.
    defaultOffset: ({ fromBeginning }) => (fromBeginning ? -2 : -1),
    fetchTopicsOffset: async (topics): Promise<TopicOffsets[]> =>
      topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map(({ partition }) => {
          const l = log();
          const w = l.watermarks(t.topic, partition);
          let offset: number;
          if (typeof t.fromTimestamp === 'number')
            offset = l.offsetForTimestamp(t.topic, partition, t.fromTimestamp) ?? w.highWatermark;
          else offset = t.fromBeginning ? w.logStartOffset : w.highWatermark;
          return { partition, offset: String(offset) };
        }),
      })),
  };
}
