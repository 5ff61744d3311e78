/**
 * The consumer's log lines, as kafkajs 2.2.4 writes them: the same
 * messages, levels, namespaces and fields at the same moments of a
 * consumer's life (src/consumer/index.js, consumerGroup.js, runner.js,
 * fetchManager.js). Lines of kafkajs' transport (Connection, BrokerPool,
 * Cluster, RequestQueue) have no counterpart in process and are not written.
 *
 * The consumer calls one method per moment; keeping the wording here keeps
 * the consumer's own code about consuming.
 */
import type { Logger } from '../client/logger';
import type { GroupMemberAssignment } from '../group/assigners';

/** The one node of an in-process cluster, which kafkajs' fetch manager runs a fetcher for. */
const NODE_IDS = [0];

export class ConsumerLogs {
  private readonly consumer: Logger;
  private readonly group: Logger;
  private readonly runner: Logger;
  private readonly fetchManager: Logger;

  constructor(root: Logger) {
    this.consumer = root.namespace('Consumer');
    this.group = root.namespace('ConsumerGroup');
    this.runner = root.namespace('Runner');
    this.fetchManager = root.namespace('FetchManager');
  }

  subscribedRegExp(groupId: string, topicRegExp: RegExp, matchedTopics: string[]): void {
    this.consumer.debug('Subscription based on RegExp', {
      groupId,
      topicRegExp: topicRegExp.toString(),
      matchedTopics,
    });
  }

  /** `run`: before joining the group. */
  starting(groupId: string): void {
    this.consumer.info('Starting', { groupId });
  }

  /** A generation's assignment arrived: kafkajs' sync, join and fetch-manager start lines. */
  joined(j: {
    groupId: string;
    generationId: number;
    memberId: string;
    leaderId: string;
    groupProtocol: string;
    /** This member's subscribed topics. */
    topics: string[];
    /** Every member's subscriptions together, and the leader's assigner output. */
    topicsSubscribed?: string[];
    groupAssignment?: GroupMemberAssignment[];
    memberAssignment: Record<string, number[]>;
    duration: number;
    concurrency: number;
  }): void {
    const isLeader = j.leaderId === j.memberId;
    if (isLeader) {
      this.group.debug('Chosen as group leader', {
        groupId: j.groupId,
        generationId: j.generationId,
        memberId: j.memberId,
        topics: j.topics,
      });
      this.group.debug('Group assignment', {
        groupId: j.groupId,
        generationId: j.generationId,
        groupProtocol: j.groupProtocol,
        assignment: j.groupAssignment ?? [],
        topics: j.topicsSubscribed ?? j.topics,
      });
    }
    this.group.debug('Received assignment', {
      groupId: j.groupId,
      generationId: j.generationId,
      memberId: j.memberId,
      memberAssignment: j.memberAssignment,
    });
    this.group.info('Consumer has joined the group', {
      groupId: j.groupId,
      memberId: j.memberId,
      leaderId: j.leaderId,
      isLeader,
      memberAssignment: j.memberAssignment,
      groupProtocol: j.groupProtocol,
      duration: j.duration,
    });
    this.fetchManager.debug('Starting...');
    this.fetchManager.debug(`Created ${NODE_IDS.length} fetchers`, {
      nodeIds: NODE_IDS,
      concurrency: j.concurrency,
    });
  }

  /** A running member learns of a rebalance: its fetchers stop and it re-joins. */
  rebalancing(groupId: string, memberId: string): void {
    this.stoppingFetchers();
    this.runner.warn('The group is rebalancing, re-joining', {
      groupId,
      memberId,
      error: 'The group is rebalancing, so a rejoin is needed',
    });
  }

  /**
   * `stop`/`disconnect` of a running consumer, up to waiting for its
   * handlers. kafkajs' runner is still "consuming" when its fetchers have
   * stopped (its fetch loop notices a tick later), so it always waits.
   */
  stopping(groupId: string, memberId: string): void {
    this.runner.debug('stop consumer group', { groupId, memberId });
    this.stoppingFetchers();
    this.runner.debug('waiting for consumer to finish...', { groupId, memberId });
  }

  /** The handlers are done and the fetch loop has exited. */
  notRunning(groupId: string, memberId: string): void {
    this.runner.info('consumer not running, exiting', { groupId, memberId });
  }

  /** kafkajs logs this on every `stop`, running or not. */
  stopped(groupId: string): void {
    this.consumer.info('Stopped', { groupId });
  }

  disconnecting(groupId: string): void {
    this.consumer.debug('consumer has stopped, disconnecting', { groupId });
  }

  paused(topicPartitions: { topic: string; partitions?: number[] }[]): void {
    this.group.info(`Pausing fetching from ${topicPartitions.length} topics`, { topicPartitions });
  }

  resumed(topicPartitions: { topic: string; partitions?: number[] }[]): void {
    this.group.info(`Resuming fetching from ${topicPartitions.length} topics`, { topicPartitions });
  }

  private stoppingFetchers(): void {
    this.fetchManager.debug('Stopping fetchers...');
    this.fetchManager.debug('Stopped fetchers');
  }
}
