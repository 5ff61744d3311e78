/**
 * One consumer's membership of a group: Kafka's group client, as kafkajs's
 * consumerGroup.js and Java's ConsumerCoordinator are. It talks to the
 * coordinator of the data directory (the same one the broker serves to
 * kafkajs, Java and librdkafka clients) with JoinGroup, SyncGroup,
 * Heartbeat and LeaveGroup; when elected leader it runs the assigner of the
 * chosen protocol over every member's subscription.
 *
 * Partitions move safely:
 * * eager protocols (roundRobin, range, custom): a member releases every
 *   partition (stop, finish the message in hand, commit) before it rejoins,
 *   and the coordinator hands out a generation only when every member has
 *   rejoined, so no partition has two owners;
 * * cooperative-sticky: members keep their partitions while rejoining; the
 *   leader withholds a partition that changes owner for one generation, its
 *   old owner releases it and rejoins, and the next generation gives it to
 *   the new owner. Only partitions that move are ever stopped.
 */
import { KafkaJSError, KafkaJSNonRetriableError } from '../errors';
import type { Assigner, GroupMemberAssignment } from './assigners';
import { AssignerProtocol } from './assigners';
import { ErrorCodes, groupError } from './errors';
import type { DescribedGroup, GroupCalls } from './types';

export type Assignment = Record<string, number[]>;

/** What a consumer gives its group membership. */
export interface MemberHooks {
  readonly clientId: string;
  readonly sessionTimeout: number;
  readonly rebalanceTimeout: number;
  readonly groupInstanceId?: string | null;
  subscribedTopics(): string[];
  assigners(): Assigner[];
  owned(): Assignment;
  /** The partition counts the leader assigns from. */
  partitionCount(topic: string): number;
  onMemberId(memberId: string): void;
  onRebalancing(): void;
  /** Stop these partitions, finish the message in hand, commit; resolve when released. */
  revoke(partitions: Assignment): Promise<void>;
  /** Start these partitions (those not already running) from `committed` ("topic\0partition" -> offset). */
  assign(
    generationId: number,
    assignment: Assignment,
    info: {
      leaderId: string;
      groupProtocol: string;
      /** The leader's assigner output and the group's topics, which kafkajs logs (leader only). */
      groupAssignment?: GroupMemberAssignment[];
      topicsSubscribed?: string[];
    },
    committed: Map<string, number>,
  ): void;
  /** Partitions are lost (the coordinator dropped this member id): stop them without committing. */
  onLost(reason: string): void;
  /** This membership is over (evicted): partitions lost; the consumer joins again with a new one. */
  onEvicted(reason: string): void;
  /** A rejoin nobody awaits failed (INCONSISTENT_GROUP_PROTOCOL, say): the consumer crashes with it. */
  onError(error: Error): void;
}

const COOPERATIVE = 'cooperative-sticky';
const RETRY_BACKOFF_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function count(a: Assignment): number {
  let n = 0;
  for (const ps of Object.values(a)) n += ps.length;
  return n;
}

/** Partitions of `a` that are not in `b`. */
function minus(a: Assignment, b: Assignment): Assignment {
  const out: Assignment = {};
  for (const [t, ps] of Object.entries(a)) {
    const keep = new Set(b[t] ?? []);
    const gone = ps.filter((p) => !keep.has(p));
    if (gone.length > 0) out[t] = gone;
  }
  return out;
}

export const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class GroupMember {
  readonly groupId: string;
  private readonly calls: GroupCalls;
  private readonly hooks: MemberHooks;
  memberId = '';
  generationId = -1;
  protocol: string | null = null;
  /** Left the group or evicted: this membership is over. */
  private done = false;
  private rebalancing: Promise<void> | null = null;
  private again = false;
  private heartbeating = false;
  /** The topics of the group's subscriptions, as the leader last assigned them. */
  private leaderTopics: string[] = [];
  /** A JoinGroup or SyncGroup is waiting for the coordinator. */
  private inFlight = false;

  constructor(calls: GroupCalls, groupId: string, hooks: MemberHooks) {
    this.calls = calls;
    this.groupId = groupId;
    this.hooks = hooks;
  }

  get active(): boolean {
    return !this.done;
  }

  /** Joins; resolves once this member has its first assignment. */
  start(): Promise<void> {
    return this.rebalance();
  }

  /** Rejoins (the subscription changed, a heartbeat said so). */
  rebalance(): Promise<void> {
    if (this.done) return Promise.resolve();
    if (this.rebalancing !== null) {
      this.again = true;
      return this.rebalancing;
    }
    const run = (async () => {
      do {
        this.again = false;
        await this.joinAndSync();
      } while (this.again && !this.done);
    })();
    this.rebalancing = run.finally(() => {
      this.rebalancing = null;
    });
    return this.rebalancing;
  }

  private cooperative(): boolean {
    return this.protocol === COOPERATIVE;
  }

  private async joinAndSync(): Promise<void> {
    this.hooks.onRebalancing();
    if (!this.cooperative()) {
      const owned = this.hooks.owned();
      if (count(owned) > 0) await this.hooks.revoke(owned);
    }
    for (let attempt = 0; !this.done; attempt++) {
      const topics = this.hooks.subscribedTopics();
      const owned = this.hooks.owned();
      const assigners = this.hooks.assigners();
      this.inFlight = true;
      const join = await this.calls
        .join({
          groupId: this.groupId,
          memberId: this.memberId,
          groupInstanceId: this.hooks.groupInstanceId ?? undefined,
          protocolType: 'consumer',
          protocols: assigners.map((a) => ({
            name: a.name,
            metadata: a.protocol({ topics, ownedPartitions: owned }).metadata,
          })),
          sessionTimeout: this.hooks.sessionTimeout,
          rebalanceTimeout: this.hooks.rebalanceTimeout,
          clientId: this.hooks.clientId,
          requireKnownMemberId: true,
        })
        .finally(() => {
          this.inFlight = false;
        });
      if (this.done) return;
      switch (join.errorCode) {
        case ErrorCodes.NONE:
          break;
        case ErrorCodes.MEMBER_ID_REQUIRED:
          this.memberId = join.memberId;
          continue;
        case ErrorCodes.UNKNOWN_MEMBER_ID:
        case ErrorCodes.ILLEGAL_GENERATION:
          this.lose('the coordinator no longer knows this member');
          this.memberId = '';
          continue;
        case ErrorCodes.REBALANCE_IN_PROGRESS:
        case ErrorCodes.COORDINATOR_NOT_AVAILABLE:
        case ErrorCodes.COORDINATOR_LOAD_IN_PROGRESS:
        case ErrorCodes.NOT_COORDINATOR:
          await sleep(Math.min(1000, RETRY_BACKOFF_MS * (attempt + 1)));
          continue;
        default:
          throw groupError(join.errorCode, `JoinGroup of group "${this.groupId}"`);
      }
      this.memberId = join.memberId;
      this.generationId = join.generationId;
      this.protocol = join.protocolName;
      this.hooks.onMemberId(this.memberId);
      const leading = join.leader === join.memberId && !join.skipAssignment;
      const assignments = leading ? await this.assignAsLeader(join.members) : [];
      this.inFlight = true;
      const sync = await this.calls
        .sync({
          groupId: this.groupId,
          generationId: join.generationId,
          memberId: this.memberId,
          groupInstanceId: this.hooks.groupInstanceId ?? undefined,
          protocolType: 'consumer',
          protocolName: join.protocolName,
          assignments,
        })
        .finally(() => {
          this.inFlight = false;
        });
      if (this.done) return;
      if (sync.errorCode === ErrorCodes.UNKNOWN_MEMBER_ID) {
        this.lose('the coordinator no longer knows this member');
        this.memberId = '';
        continue;
      }
      if (
        sync.errorCode === ErrorCodes.REBALANCE_IN_PROGRESS ||
        sync.errorCode === ErrorCodes.ILLEGAL_GENERATION
      ) {
        continue;
      }
      if (sync.errorCode !== ErrorCodes.NONE) {
        throw groupError(sync.errorCode, `SyncGroup of group "${this.groupId}"`);
      }
      const decoded =
        sync.assignment.length === 0 ? null : AssignerProtocol.MemberAssignment.decode(sync.assignment);
      const assignment: Assignment = decoded?.assignment ?? {};
      // Cooperative: release only what moved away, then rejoin so that
      // its new owner gets it in the next generation.
      const revoked = minus(this.hooks.owned(), assignment);
      if (count(revoked) > 0) {
        await this.hooks.revoke(revoked);
        if (this.cooperative()) this.again = true;
      }
      const fresh = minus(assignment, this.hooks.owned());
      const committed = new Map<string, number>();
      const wanted = Object.entries(fresh).map(([topic, partitions]) => ({ topic, partitions }));
      if (wanted.length > 0) {
        for (const o of await this.calls.fetchOffsets(this.groupId, wanted)) {
          if (o.offset >= 0) committed.set(partitionKey(o.topic, o.partition), o.offset);
        }
      }
      if (this.done) return;
      this.hooks.assign(
        this.generationId,
        assignment,
        {
          leaderId: join.leader,
          groupProtocol: join.protocolName ?? '',
          ...(leading
            ? {
                groupAssignment: assignments.map((a) => ({
                  memberId: a.memberId,
                  memberAssignment: a.assignment,
                })),
                topicsSubscribed: this.leaderTopics,
              }
            : {}),
        },
        committed,
      );
      return;
    }
  }

  /** The leader's part: run the chosen protocol's assigner over every member. */
  private async assignAsLeader(
    members: { memberId: string; metadata: Buffer }[],
  ): Promise<{ memberId: string; assignment: Buffer }[]> {
    const protocol = this.protocol ?? '';
    const assigner = this.hooks.assigners().find((a) => a.name === protocol);
    if (assigner === undefined) {
      throw new KafkaJSNonRetriableError(`this member has no assigner for the group protocol "${protocol}"`);
    }
    const topics = new Set<string>();
    const owners = new Map<string, string>();
    for (const m of members) {
      const meta = AssignerProtocol.MemberMetadata.decode(m.metadata);
      for (const t of meta?.topics ?? []) topics.add(t);
      if (protocol === COOPERATIVE && meta?.userData !== undefined && meta.userData.length > 0) {
        try {
          const owned = JSON.parse(meta.userData.toString('utf8')) as Assignment;
          for (const [t, ps] of Object.entries(owned))
            for (const p of ps) owners.set(partitionKey(t, p), m.memberId);
        } catch {
          // Not ours (another client's userData): no ownership known.
        }
      }
    }
    this.leaderTopics = [...topics].filter((t) => this.hooks.partitionCount(t) > 0).sort();
    const result = await assigner.assign({
      members: members.map((m) => ({ memberId: m.memberId, memberMetadata: m.metadata })),
      topics: this.leaderTopics,
    });
    if (protocol !== COOPERATIVE) {
      return result.map((r) => ({ memberId: r.memberId, assignment: r.memberAssignment }));
    }
    // A partition still owned by another member is withheld for one
    // generation: that member revokes it and rejoins first.
    return result.map((r) => {
      const decoded = AssignerProtocol.MemberAssignment.decode(r.memberAssignment);
      if (decoded === null) return { memberId: r.memberId, assignment: r.memberAssignment };
      const kept: Assignment = {};
      for (const [t, ps] of Object.entries(decoded.assignment)) {
        const mine = ps.filter((p) => {
          const owner = owners.get(partitionKey(t, p));
          return owner === undefined || owner === r.memberId;
        });
        if (mine.length > 0) kept[t] = mine;
      }
      return {
        memberId: r.memberId,
        assignment: AssignerProtocol.MemberAssignment.encode({
          version: decoded.version,
          assignment: kept,
          userData: decoded.userData,
        }),
      };
    });
  }

  /**
   * A heartbeat; resolves true when the member is still in good standing.
   * A rebalance the coordinator asks for is started here.
   */
  async heartbeat(): Promise<boolean> {
    if (this.done) return false;
    // While a member revokes (before it rejoins) it keeps heartbeating, as
    // the Java client's heartbeat thread does; not while its JoinGroup or
    // SyncGroup waits, when the coordinator keeps it alive.
    if (this.inFlight || this.heartbeating || this.memberId === '') return true;
    this.heartbeating = true;
    let code: number;
    try {
      code = await this.calls.heartbeat({
        groupId: this.groupId,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId: this.hooks.groupInstanceId ?? undefined,
      });
    } finally {
      this.heartbeating = false;
    }
    if (this.done) return false;
    switch (code) {
      case ErrorCodes.NONE:
        return true;
      case ErrorCodes.REBALANCE_IN_PROGRESS:
      case ErrorCodes.ILLEGAL_GENERATION:
        // Already rejoining: that join is the answer.
        if (this.rebalancing === null) void this.rebalance().catch((e: Error) => this.hooks.onError(e));
        return true;
      case ErrorCodes.UNKNOWN_MEMBER_ID:
      case ErrorCodes.FENCED_INSTANCE_ID:
        this.evicted(
          `the coordinator answered the heartbeat with ${code === ErrorCodes.UNKNOWN_MEMBER_ID ? 'UNKNOWN_MEMBER_ID' : 'FENCED_INSTANCE_ID'}`,
        );
        return false;
      default:
        return true;
    }
  }

  /** Partitions owned under a membership the coordinator dropped are lost. */
  private lose(reason: string): void {
    if (count(this.hooks.owned()) > 0) this.hooks.onLost(reason);
  }

  /** The coordinator dropped this member: partitions lost, membership over. */
  private evicted(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.hooks.onEvicted(reason);
  }

  /**
   * Leaves at this member's own request because it cannot keep up (what
   * the Java client does when max.poll.interval.ms passes): partitions are
   * lost, not committed, and move on at once.
   */
  async evict(reason: string): Promise<void> {
    if (this.done) return;
    const memberId = this.memberId;
    this.evicted(reason);
    if (memberId !== '') await this.sendLeave(memberId);
  }

  /** Leaves the group (partitions already released by the caller). */
  async leave(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.again = false;
    if (this.memberId !== '') await this.sendLeave(this.memberId);
  }

  private async sendLeave(memberId: string): Promise<void> {
    try {
      await this.calls.leave(this.groupId, [
        { memberId, groupInstanceId: this.hooks.groupInstanceId ?? undefined },
      ]);
    } catch (e) {
      // The log closing under us: the session timeout removes the member.
      if (!(e instanceof KafkaJSError)) throw e;
    }
  }

  /** Commits as this member; throws the coordinator's refusal as kafkajs does. */
  async commit(
    offsets: { topic: string; partition: number; offset: number; metadata?: string | null }[],
  ): Promise<void> {
    const r = await this.calls.commit({
      groupId: this.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: this.hooks.groupInstanceId ?? undefined,
      offsets: offsets.map(nativeOffset),
    });
    checkCommit(r, this.groupId);
  }
}

/**
 * A coordinator's group description as kafkajs describes a group (the
 * consumer's `describeGroup`, the admin's `describeGroups`): the
 * coordinator's own fields (generation, leader, instance ids) left out, and
 * a group known only by its offsets, with no protocol type of its own,
 * described as a consumer group.
 */
export function kafkajsGroup(d: DescribedGroup) {
  return {
    groupId: d.groupId,
    errorCode: 0,
    state: d.state,
    protocolType: d.protocolType || 'consumer',
    protocol: d.protocol,
    members: d.members.map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      memberMetadata: m.memberMetadata,
      memberAssignment: m.memberAssignment,
    })),
  };
}

/** The binding takes absent fields, not nulls. */
export function nativeOffset(o: {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string | null;
}): {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string;
} {
  return o.metadata === null || o.metadata === undefined
    ? { topic: o.topic, partition: o.partition, offset: o.offset }
    : { topic: o.topic, partition: o.partition, offset: o.offset, metadata: o.metadata };
}

export function checkCommit(
  r: { errorCode: number; partitions: { topic: string; partition: number; errorCode: number }[] },
  groupId: string,
): void {
  if (r.errorCode !== 0) throw groupError(r.errorCode, `OffsetCommit of group "${groupId}"`);
  const bad = r.partitions.find((p) => p.errorCode !== 0);
  if (bad !== undefined) throw groupError(bad.errorCode, `${bad.topic}-${bad.partition}`);
}
