/**
 * The offset tracker: per partition, what was processed (resolved) and what
 * the group has (committed), and the commit policy kafkajs documents:
 * after every batch by default, or every `autoCommitInterval` ms and/or
 * every `autoCommitThreshold` resolved messages; and always when
 * partitions are revoked, on stop and on disconnect (the consumer calls
 * `commitResolved` there). Only resolved offsets are ever committed, so
 * delivery is at least once.
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

  /** After a batch: commit per the policy. */
  async afterBatch(states: PartitionOffsets[]): Promise<void> {
    const p = this.policy;
    if (!p.autoCommit) return;
    const timed = typeof p.autoCommitInterval === 'number' && p.autoCommitInterval > 0;
    const threshold = this.threshold;
    // With neither interval nor threshold, commit after every batch (kafkajs' default).
    if (!timed && threshold === 0)
      await this.commitResolved(states).catch((e: Error) =>
        this.host.logger.warn('commit failed', { error: e.message }),
      );
    else if (threshold > 0) for (const s of states) await this.maybeThreshold(s);
  }

  /** Commits a partition once its uncommitted count reaches the threshold. */
  async maybeThreshold(ps: PartitionOffsets): Promise<void> {
    const t = this.threshold;
    if (t > 0 && ps.uncommittedCount >= t) await this.commitResolved([ps]);
  }

  /** Commits what was processed (resolved) and not yet committed. */
  async commitResolved(states: Iterable<PartitionOffsets> = this.host.owned()): Promise<void> {
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
