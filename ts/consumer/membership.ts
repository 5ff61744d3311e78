/**
 * The consumer's side of its group: one membership at a time (a new one
 * after an eviction), joined through ts/group's group client. It turns the
 * group's decisions into the runner's partitions (assign: start them from
 * the committed offsets; revoke: stop, finish the message in hand, commit)
 * and keeps the member alive: the heartbeat timer, and leaving when a
 * handler makes no progress within rebalanceTimeout.
 */
import type { Logger } from '../client/logger';
import type { Assigner, GroupMemberAssignment } from '../group/assigners';
import type { Assignment, GroupMember, MemberHooks } from '../group/member';
import type { ConsumerTransport } from '../transport/types';
import { CONSUMER_EVENTS as EVENTS } from '../types/events';
import type { ConsumerLogs } from './kafkajs-log';
import type { OffsetTracker } from './offsets';
import type { Runner } from './runner';
import type { Subscriptions } from './subscriptions';

/** What the membership needs from its consumer. */
export interface MembershipHost<K, V> {
  readonly groupId: string;
  readonly clientId: string;
  readonly sessionTimeout: number;
  readonly rebalanceTimeout: number;
  readonly heartbeatInterval: number;
  readonly transport: ConsumerTransport;
  readonly logger: Logger;
  readonly kjsLog: ConsumerLogs;
  readonly runner: Runner<K, V>;
  readonly offsets: OffsetTracker;
  readonly subscriptions: Subscriptions;
  /** Seeks made before their partition was assigned (kafkajs applies them on assignment). */
  readonly pendingSeeks: Map<string, number>;
  running(): boolean;
  subscribedTopics(): string[];
  assigners(): Assigner[];
  autoCommit(): boolean;
  concurrency(): number;
  emit(type: string, payload: unknown): void;
  crash(error: Error): void;
}

export class Membership<K, V> {
  private readonly host: MembershipHost<K, V>;
  /** The current membership of the group (a new one after an eviction). */
  member: GroupMember | null = null;
  memberId = '';
  generationId = -1;
  /** The coordinator dropped this member (or it left, stuck): no commits until it rejoins. */
  evicted = false;
  private lastHeartbeat = 0;
  private rejoining: Promise<void> | null = null;
  private joinStarted = 0;
  /** Whether this join has had its assignment (kafkajs logs rebalances only then). */
  private joinedGeneration = false;

  constructor(host: MembershipHost<K, V>) {
    this.host = host;
  }

  /** The membership that may commit now, if any. */
  committer(): GroupMember | null {
    return this.evicted ? null : this.member;
  }

  /** Leaves the group (after the caller released the partitions). */
  async leave(): Promise<void> {
    const member = this.member;
    this.member = null;
    if (member !== null) {
      await member.leave();
      this.host.transport.forget(member);
    }
  }

  hooks(): MemberHooks {
    return {
      clientId: this.host.clientId,
      sessionTimeout: this.host.sessionTimeout,
      rebalanceTimeout: this.host.rebalanceTimeout,
      subscribedTopics: () => this.host.subscribedTopics(),
      assigners: () => this.host.assigners(),
      owned: () => this.ownedAssignment(),
      partitionCount: (topic) => this.host.transport.partitionCount(topic),
      onMemberId: (memberId) => {
        this.memberId = memberId;
      },
      onRebalancing: () => {
        // Only a member that has joined learns of a rebalance; a joining one is part of it.
        if (this.joinedGeneration && this.host.running())
          this.host.kjsLog.rebalancing(this.host.groupId, this.memberId);
        this.host.emit(EVENTS.REBALANCING, { groupId: this.host.groupId, memberId: this.memberId });
      },
      revoke: (partitions) => this.revoke(partitions),
      assign: (generationId, assignment, info, committed) =>
        this.assign(generationId, assignment, info, committed),
      onError: (error) => {
        if (this.host.running()) this.host.crash(error);
      },
      onLost: (reason) => {
        this.host.logger.warn('partitions lost', {
          groupId: this.host.groupId,
          memberId: this.memberId,
          reason,
        });
        this.dropPartitions();
      },
      onEvicted: (reason) => {
        this.host.logger.warn('evicted from the group', {
          groupId: this.host.groupId,
          memberId: this.memberId,
          reason,
        });
        this.evicted = true;
        // Partitions are gone: stop them now without committing.
        this.dropPartitions();
        void this.rejoinWhenIdle();
      },
    };
  }

  dropPartitions(): void {
    for (const ps of this.host.runner.partitions.values()) this.host.runner.stopPartition(ps);
    this.host.runner.partitions.clear();
  }

  async join(): Promise<void> {
    if (this.member !== null) this.host.transport.forget(this.member);
    this.memberId = '';
    this.evicted = false;
    this.joinedGeneration = false;
    this.joinStarted = Date.now();
    // A remote target's metadata: the subscription's topics and their partitions.
    const names = this.host.subscriptions.hasRegExp() ? null : this.host.subscribedTopics();
    await this.host.transport.refreshMetadata(names);
    if (!this.host.running()) return;
    const member = this.host.transport.member(this.host.groupId, this.hooks());
    this.member = member;
    try {
      await member.start();
    } catch (e) {
      // stop() or disconnect() during the join left the group: the join is
      // over as asked, not failed.
      if (!this.host.running()) return;
      throw e;
    }
  }

  /** After an eviction: once the stalled handler is done, join again. */
  rejoinWhenIdle(): Promise<void> {
    if (this.rejoining !== null) return this.rejoining;
    this.rejoining = (async () => {
      while (this.host.runner.handlersRunning > 0 && this.host.running())
        await new Promise((r) => setTimeout(r, 10));
      if (this.host.running()) {
        try {
          await this.join();
        } catch (e) {
          this.host.logger.error('rejoin failed', { error: (e as Error).message });
        }
      }
    })().finally(() => {
      this.rejoining = null;
    });
    return this.rejoining;
  }

  /** The heartbeat timer: a heartbeat, or leaving when a handler is stuck. */
  tick(): void {
    if (!this.host.running() || this.evicted) return;
    const ps = this.host.runner.stalled(Date.now(), this.host.rebalanceTimeout);
    if (ps !== undefined) {
      void this.member?.evict(
        `a handler for ${ps.topic}-${ps.partition} made no progress within ${this.host.rebalanceTimeout} ms (rebalanceTimeout)`,
      );
      return;
    }
    this.sendHeartbeat(true);
  }

  /**
   * A heartbeat to the coordinator (which answers whether a rebalance is
   * under way): on the timer, and between batches at most once per
   * heartbeatInterval.
   */
  sendHeartbeat(timer = false): void {
    const member = this.member;
    if (member === null || !this.host.running() || this.evicted) return;
    const now = Date.now();
    if (!timer && now - this.lastHeartbeat < this.host.heartbeatInterval) return;
    this.lastHeartbeat = now;
    member.heartbeat().then(
      (ok) => {
        if (ok)
          this.host.emit(EVENTS.HEARTBEAT, {
            groupId: this.host.groupId,
            memberId: this.memberId,
            groupGenerationId: this.generationId,
          });
      },
      // The log closing under a stopping consumer: nothing to tell anyone.
      () => undefined,
    );
  }

  private ownedAssignment(): Assignment {
    const out: Assignment = {};
    for (const ps of this.host.runner.partitions.values()) {
      const list = out[ps.topic] ?? [];
      list.push(ps.partition);
      out[ps.topic] = list;
    }
    for (const ps of Object.values(out)) ps.sort((a, b) => a - b);
    return out;
  }

  private assign(
    generationId: number,
    assignment: Assignment,
    info: {
      leaderId: string;
      groupProtocol: string;
      groupAssignment?: GroupMemberAssignment[];
      topicsSubscribed?: string[];
    },
    committedOffsets: Map<string, number>,
  ): void {
    this.generationId = generationId;
    this.joinedGeneration = true;
    this.host.kjsLog.joined({
      groupId: this.host.groupId,
      generationId,
      memberId: this.memberId,
      leaderId: info.leaderId,
      groupProtocol: info.groupProtocol,
      topics: this.host.subscribedTopics(),
      ...(info.topicsSubscribed === undefined ? {} : { topicsSubscribed: info.topicsSubscribed }),
      ...(info.groupAssignment === undefined ? {} : { groupAssignment: info.groupAssignment }),
      memberAssignment: assignment,
      duration: Date.now() - this.joinStarted,
      concurrency: this.host.concurrency(),
    });
    // kafkajs emits GROUP_JOIN for every generation a member joins.
    this.host.emit(EVENTS.GROUP_JOIN, {
      duration: Date.now() - this.joinStarted,
      groupId: this.host.groupId,
      isLeader: info.leaderId === this.memberId,
      leaderId: info.leaderId,
      groupProtocol: info.groupProtocol,
      memberId: this.memberId,
      memberAssignment: assignment,
    });
    for (const [topic, parts] of Object.entries(assignment)) {
      for (const partition of parts) {
        if (this.host.runner.get(topic, partition) !== undefined) continue;
        const k = `${topic}\u0000${partition}`;
        const committed = committedOffsets.get(k);
        const sought = this.host.pendingSeeks.get(k);
        this.host.pendingSeeks.delete(k);
        // A committed offset the log no longer has (or not yet) is out of
        // range on the first fetch, which resets it per fromBeginning; with
        // none, the position starts there (-1 until looked up).
        const position = sought ?? committed ?? -1;
        this.host.runner.add(
          topic,
          partition,
          position,
          committed ?? -1,
          this.host.subscriptions.isPaused(topic, partition),
        );
      }
    }
  }

  /** Releases partitions for a rebalance: stop, finish the message in hand, commit. */
  private async revoke(partitions: Assignment): Promise<void> {
    const states = [];
    for (const [topic, ps] of Object.entries(partitions)) {
      for (const p of ps) {
        const s = this.host.runner.get(topic, p);
        if (s !== undefined) states.push(s);
      }
    }
    for (const s of states) this.host.runner.stopPartition(s);
    await Promise.all(states.map((s) => s.done));
    if (this.host.autoCommit()) await this.host.offsets.commitResolved(states).catch(() => undefined);
    for (const s of states) this.host.runner.partitions.delete(`${s.topic}\u0000${s.partition}`);
  }
}
