/**
 * Instrumentation events: kafkajs' event names and payload types, and a map
 * from each name to its event, so `on(eventName, listener)` infers the
 * payload from the name.
 */
import { KafkaJSNonRetriableError } from '../errors';
import type { TopicOffsets, ValueOf } from './kafkajs';

export interface InstrumentationEvent<T> {
  id: string;
  type: string;
  timestamp: number;
  payload: T;
}

/** What `on` returns: call it to remove the listener. */
export type RemoveInstrumentationEventListener<_T> = () => void;

export type ConnectEvent = InstrumentationEvent<null>;
export type DisconnectEvent = InstrumentationEvent<null>;
export type RequestEvent = InstrumentationEvent<{
  apiKey: number;
  apiName: string;
  apiVersion: number;
  broker: string;
  clientId: string;
  correlationId: number;
  createdAt: number;
  duration: number;
  pendingDuration: number;
  sentAt: number;
  size: number;
}>;
export type RequestTimeoutEvent = InstrumentationEvent<{
  apiKey: number;
  apiName: string;
  apiVersion: number;
  broker: string;
  clientId: string;
  correlationId: number;
  createdAt: number;
  pendingDuration: number;
  sentAt: number;
}>;
export type RequestQueueSizeEvent = InstrumentationEvent<{
  broker: string;
  clientId: string;
  queueSize: number;
}>;

export type ConsumerHeartbeatEvent = InstrumentationEvent<{
  groupId: string;
  memberId: string;
  groupGenerationId: number;
}>;
export type ConsumerCommitOffsetsEvent = InstrumentationEvent<{
  groupId: string;
  memberId: string;
  groupGenerationId: number;
  topics: TopicOffsets[];
}>;
export interface IMemberAssignment {
  [key: string]: number[];
}
export type ConsumerGroupJoinEvent = InstrumentationEvent<{
  duration: number;
  groupId: string;
  isLeader: boolean;
  leaderId: string;
  groupProtocol: string;
  memberId: string;
  memberAssignment: IMemberAssignment;
}>;
export type ConsumerFetchStartEvent = InstrumentationEvent<{ nodeId: number }>;
export type ConsumerFetchEvent = InstrumentationEvent<{
  numberOfBatches: number;
  duration: number;
  nodeId: number;
}>;
export interface IBatchProcessEvent {
  topic: string;
  partition: number;
  highWatermark: string;
  offsetLag: string;
  offsetLagLow: string;
  batchSize: number;
  firstOffset: string;
  lastOffset: string;
}
export type ConsumerStartBatchProcessEvent = InstrumentationEvent<IBatchProcessEvent>;
export type ConsumerEndBatchProcessEvent = InstrumentationEvent<IBatchProcessEvent & { duration: number }>;
export type ConsumerCrashEvent = InstrumentationEvent<{
  error: Error;
  groupId: string;
  restart: boolean;
}>;
export type ConsumerRebalancingEvent = InstrumentationEvent<{
  groupId: string;
  memberId: string;
}>;
export type ConsumerReceivedUnsubcribedTopicsEvent = InstrumentationEvent<{
  groupId: string;
  generationId: number;
  memberId: string;
  assignedTopics: string[];
  topicsSubscribed: string[];
  topicsNotSubscribed: string[];
}>;

export const PRODUCER_EVENTS = {
  CONNECT: 'producer.connect',
  DISCONNECT: 'producer.disconnect',
  REQUEST: 'producer.network.request',
  REQUEST_TIMEOUT: 'producer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'producer.network.request_queue_size',
} as const;

export const CONSUMER_EVENTS = {
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  GROUP_JOIN: 'consumer.group_join',
  FETCH_START: 'consumer.fetch_start',
  FETCH: 'consumer.fetch',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
  RECEIVED_UNSUBSCRIBED_TOPICS: 'consumer.received_unsubscribed_topics',
  REQUEST: 'consumer.network.request',
  REQUEST_TIMEOUT: 'consumer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'consumer.network.request_queue_size',
} as const;

export const ADMIN_EVENTS = {
  CONNECT: 'admin.connect',
  DISCONNECT: 'admin.disconnect',
  REQUEST: 'admin.network.request',
  REQUEST_TIMEOUT: 'admin.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'admin.network.request_queue_size',
} as const;

export type ProducerEvents = {
  CONNECT: 'producer.connect';
  DISCONNECT: 'producer.disconnect';
  REQUEST: 'producer.network.request';
  REQUEST_TIMEOUT: 'producer.network.request_timeout';
  REQUEST_QUEUE_SIZE: 'producer.network.request_queue_size';
};

export type ConsumerEvents = {
  HEARTBEAT: 'consumer.heartbeat';
  COMMIT_OFFSETS: 'consumer.commit_offsets';
  GROUP_JOIN: 'consumer.group_join';
  FETCH_START: 'consumer.fetch_start';
  FETCH: 'consumer.fetch';
  START_BATCH_PROCESS: 'consumer.start_batch_process';
  END_BATCH_PROCESS: 'consumer.end_batch_process';
  CONNECT: 'consumer.connect';
  DISCONNECT: 'consumer.disconnect';
  STOP: 'consumer.stop';
  CRASH: 'consumer.crash';
  REBALANCING: 'consumer.rebalancing';
  RECEIVED_UNSUBSCRIBED_TOPICS: 'consumer.received_unsubscribed_topics';
  REQUEST: 'consumer.network.request';
  REQUEST_TIMEOUT: 'consumer.network.request_timeout';
  REQUEST_QUEUE_SIZE: 'consumer.network.request_queue_size';
};

export type AdminEvents = {
  CONNECT: 'admin.connect';
  DISCONNECT: 'admin.disconnect';
  REQUEST: 'admin.network.request';
  REQUEST_TIMEOUT: 'admin.network.request_timeout';
  REQUEST_QUEUE_SIZE: 'admin.network.request_queue_size';
};

/** Each producer event name to the event its listeners get. */
export interface ProducerEventMap {
  'producer.connect': ConnectEvent;
  'producer.disconnect': DisconnectEvent;
  'producer.network.request': RequestEvent;
  'producer.network.request_timeout': RequestTimeoutEvent;
  'producer.network.request_queue_size': RequestQueueSizeEvent;
}

/** Each consumer event name to the event its listeners get. */
export interface ConsumerEventMap {
  'consumer.heartbeat': ConsumerHeartbeatEvent;
  'consumer.commit_offsets': ConsumerCommitOffsetsEvent;
  'consumer.group_join': ConsumerGroupJoinEvent;
  'consumer.fetch_start': ConsumerFetchStartEvent;
  'consumer.fetch': ConsumerFetchEvent;
  'consumer.start_batch_process': ConsumerStartBatchProcessEvent;
  'consumer.end_batch_process': ConsumerEndBatchProcessEvent;
  'consumer.connect': ConnectEvent;
  'consumer.disconnect': DisconnectEvent;
  'consumer.stop': InstrumentationEvent<null>;
  'consumer.crash': ConsumerCrashEvent;
  'consumer.rebalancing': ConsumerRebalancingEvent;
  'consumer.received_unsubscribed_topics': ConsumerReceivedUnsubcribedTopicsEvent;
  'consumer.network.request': RequestEvent;
  'consumer.network.request_timeout': RequestTimeoutEvent;
  'consumer.network.request_queue_size': RequestQueueSizeEvent;
}

/** Each admin event name to the event its listeners get. */
export interface AdminEventMap {
  'admin.connect': ConnectEvent;
  'admin.disconnect': DisconnectEvent;
  'admin.network.request': RequestEvent;
  'admin.network.request_timeout': RequestTimeoutEvent;
  'admin.network.request_queue_size': RequestQueueSizeEvent;
}

// The maps must name every event and nothing else.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _producerMapComplete: Same<keyof ProducerEventMap, ValueOf<ProducerEvents>> = true;
const _consumerMapComplete: Same<keyof ConsumerEventMap, ValueOf<ConsumerEvents>> = true;
const _adminMapComplete: Same<keyof AdminEventMap, ValueOf<AdminEvents>> = true;
void _producerMapComplete;
void _consumerMapComplete;
void _adminMapComplete;

/** kafkajs' check in `on`: an unknown event name throws, naming the valid ones. */
export function checkEventName(
  client: 'producer' | 'consumer' | 'admin',
  names: Record<string, string>,
  eventName: unknown,
): void {
  if (typeof eventName !== 'string' || !Object.values(names).includes(eventName)) {
    const keys = Object.keys(names).map((k) => `${client}.events.${k}`);
    throw new KafkaJSNonRetriableError(`Event name should be one of ${keys.join(', ')}`);
  }
}
