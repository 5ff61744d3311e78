/**
 * The offset tracker: per partition, what was processed (resolved) and what
 * the group has (committed), and the commit policy kafkajs documents:
 * after every batch by default, or every `autoCommitInterval` ms and/or
 * every `autoCommitThreshold` resolved messages; and always when
 * partitions are revoked, on stop and on disconnect (the consumer calls
 * `commitResolved` there). Only resolved offsets are ever committed, so
 * delivery is at least once.
 *
 * The commit after a batch runs behind the fetch loop rather than in
 * front of it: a commit is a hop to the coordinator's thread (locally) or a
 * round trip (remotely), and awaiting it before the next fetch put every
 * message that arrived meanwhile behind it (most of the end-to-end latency
 * tail). One such commit is in flight at a time; batches that end while it
 * runs are covered by one more commit after it, of everything resolved by
 * then. Every other commit (revocation, stop, thresholds, the handler's
 * own) first waits for the one in flight, so commits stay in order.
 */
import type { Logger } from '../client/logger';
import type { GroupMember } from '../group/member';
import type { CommitOffset, ConsumerTransport } from '../transport/types';

/** A partition's offsets (the runner's partition state extends it). */
export interface PartitionOffsets {
  topic: string;
  partition: number;
  /** The offset after the last processed message (what a commit stores). */
  resolved: number;
  committed: number;
  /** Messages resolved since the last commit. */
  uncommittedCount: number;
}

export interface OffsetsByTopicPartition {
  topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
}

export interface CommitPolicy {
  autoCommit: boolean;
  autoCommitInterval: number | null;
  autoCommitThreshold: number | null;
}

export interface OffsetTrackerHost {
  readonly transport: ConsumerTransport;
  readonly logger: Logger;
  /** The current membership, when it may commit (joined, not evicted). */
  committer(): GroupMember | null;
  /** Every partition this consumer owns now. */
  owned(): Iterable<PartitionOffsets>;
  /** After a commit went through: kafkajs' COMMIT_OFFSETS event. */
  committed(commits: CommitOffset[]): void;
}

export class OffsetTracker {
  private readonly host: OffsetTrackerHost;
  policy: CommitPolicy = { autoCommit: true, autoCommitInterval: null, autoCommitThreshold: null };
  private timer: NodeJS.Timeout | null = null;
  /** The background commit in flight (never rejects), or null. */
  private inFlight: Promise<void> | null = null;
  /** Batches ended while `inFlight` ran: one more commit follows it. */
  private again = false;

  constructor(host: OffsetTrackerHost) {
    this.host = host;
  }

  /** The policy of a run; with an interval, a timer commits on it. */
  start(policy: CommitPolicy): void {
    this.stop();
    this.policy = policy;
    const interval = policy.autoCommitInterval;
    if (policy.autoCommit && typeof interval === 'number' && interval > 0) {
      this.timer = setInterval(() => this.commitResolved().catch(() => undefined), interval);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The threshold in force (0: none). */
  get threshold(): number {
    const t = this.policy.autoCommitThreshold;
    return this.policy.autoCommit && typeof t === 'number' && t > 0 ? t : 0;
  }

  /** Marks everything before `next` processed. */
  resolve(ps: PartitionOffsets, next: number): void {
    if (next > ps.resolved) {
      ps.uncommittedCount += next - ps.resolved;
      ps.resolved = next;
    }
  }

  /** True when the policy commits after every batch (neither interval nor threshold: kafkajs' default). */
  private get perBatch(): boolean {
    const p = this.policy;
    return (
      p.autoCommit &&
      !(typeof p.autoCommitInterval === 'number' && p.autoCommitInterval > 0) &&
      this.threshold === 0
    );
  }

  /** After a batch: commit per the policy (awaited: the handler's `commitOffsetsIfNecessary`). */
  async afterBatch(states: PartitionOffsets[]): Promise<void> {
    if (!this.policy.autoCommit) return;
    if (this.perBatch)
      await this.commitResolved(states).catch((e: Error) =>
        this.host.logger.warn('commit failed', { error: e.message }),
      );
    else for (const s of states) await this.maybeThreshold(s);
  }

  /**
   * The runner's commit after a batch: per the policy, as `afterBatch`, but
   * the per-batch commit runs in the background (see the file's comment),
   * so the next fetch does not wait for it. A threshold commit is awaited,
   * as before: it is rare, and the handler asked for that bound.
   */
  async batchDone(ps: PartitionOffsets): Promise<void> {
    if (!this.policy.autoCommit) return;
    if (!this.perBatch) return this.maybeThreshold(ps);
    if (ps.resolved <= ps.committed) return;
    if (this.inFlight !== null) {
      this.again = true;
      return;
    }
    this.inFlight = this.background();
  }

  private async background(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.commitNow(this.host.owned());
      } catch (e) {
        this.host.logger.warn('commit failed', { error: (e as Error)?.message ?? String(e) });
      }
    } while (this.again && this.policy.autoCommit);
    this.inFlight = null;
  }

  /** Resolves once no background commit is in flight. */
  async settled(): Promise<void> {
    while (this.inFlight !== null) await this.inFlight;
  }

  /** Commits a partition once its uncommitted count reaches the threshold. */
  async maybeThreshold(ps: PartitionOffsets): Promise<void> {
    const t = this.threshold;
    if (t > 0 && ps.uncommittedCount >= t) await this.commitResolved([ps]);
  }

  /** Commits what was processed (resolved) and not yet committed, after any commit in flight. */
  async commitResolved(states?: Iterable<PartitionOffsets>): Promise<void> {
    const list = states === undefined ? undefined : [...states];
    await this.settled();
    // Without a list: what is owned once the commit in flight is done.
    await this.commitNow(list ?? this.host.owned());
  }

  private async commitNow(states: Iterable<PartitionOffsets>): Promise<void> {
    const pending = [...states].filter((ps) => ps.resolved > ps.committed);
    const member = this.host.committer();
    if (pending.length === 0 || member === null) return;
    const commits = pending.map((ps) => ({ topic: ps.topic, partition: ps.partition, offset: ps.resolved }));
    this.host.transport.validateCommits(commits);
    await member.commit(commits);
    for (const ps of pending) {
      // A seek or a later resolve may have moved on meanwhile.
      const c = commits.find((x) => x.topic === ps.topic && x.partition === ps.partition);
      if (c !== undefined) {
        ps.committed = c.offset;
        if (ps.resolved === c.offset) ps.uncommittedCount = 0;
      }
    }
    this.host.committed(commits);
  }

  /** kafkajs' `uncommittedOffsets()`. */
  uncommitted(): OffsetsByTopicPartition {
    const topics = new Map<string, { partition: number; offset: string }[]>();
    for (const ps of this.host.owned()) {
      if (ps.resolved > ps.committed) {
        const list = topics.get(ps.topic) ?? [];
        list.push({ partition: ps.partition, offset: String(ps.resolved) });
        topics.set(ps.topic, list);
      }
    }
    return { topics: [...topics.entries()].map(([topic, partitions]) => ({ topic, partitions })) };
  }

  /** Records commits made outside the policy (commitOffsets, a seek's commit). */
  noteCommitted(
    commits: CommitOffset[],
    find: (topic: string, partition: number) => PartitionOffsets | undefined,
  ): void {
    for (const c of commits) {
      const ps = find(c.topic, c.partition);
      if (ps !== undefined) {
        ps.committed = c.offset;
        if (c.offset > ps.resolved) ps.resolved = c.offset;
        ps.uncommittedCount = 0;
      }
    }
  }
}
