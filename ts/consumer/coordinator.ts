/**
 * The group coordinator: one per data directory in this process, shared by
 * every consumer and admin client of that directory.
 *
 * It does what Kafka's group coordinator does, in memory, with the
 * committed offsets in the log (`OffsetStore`):
 *
 * * Members join and leave; each change, and each member silent for
 *   `sessionTimeout`, starts a rebalance.
 * * A rebalance picks the first assigner of the longest-standing member
 *   that all members support, asks it for an assignment, and moves
 *   partitions safely: the old owner is asked to release a partition
 *   (stop, finish the message in hand, commit) and only then does the new
 *   owner get it, so no partition is ever owned twice. With
 *   `cooperative-sticky` only partitions that move are released; with other
 *   assigners every member releases everything (Kafka's eager protocol).
 * * A member that does not release within `rebalanceTimeout` is evicted.
 * * Commits carry the member's generation; a commit from an evicted member
 *   or an old generation is refused, as Kafka refuses it.
 */
import { KafkaJSError, KafkaJSNonRetriableError, KafkaJSProtocolError } from '../errors';
import type { Log } from '../log';
import { type Assigner, AssignerProtocol, type GroupMemberAssignment } from './assigners';
import { type OffsetCommit, OffsetStore } from './offsets';

export type Assignment = Record<string, number[]>;

/** What a consumer gives the coordinator. */
export interface MemberHooks {
  readonly memberId: string;
  readonly clientId: string;
  readonly sessionTimeout: number;
  readonly rebalanceTimeout: number;
  subscribedTopics(): string[];
  assigners(): Assigner[];
  owned(): Assignment;
  onRebalancing(): void;
  /** Stop these partitions, finish the message in hand, commit; resolve when released. */
  revoke(partitions: Assignment): Promise<void>;
  assign(
    generationId: number,
    assignment: Assignment,
    info: {
      leaderId: string;
      groupProtocol: string;
      /** The leader's assigner output and the group's topics, which kafkajs logs. */
      groupAssignment?: GroupMemberAssignment[];
      topicsSubscribed?: string[];
    },
  ): void;
  onEvicted(reason: string): void;
}

export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

interface Member {
  hooks: MemberHooks;
  joinedAt: number;
  lastHeartbeat: number;
  assignment: Assignment;
  timer: NodeJS.Timeout | null;
  joined: Promise<void>;
  resolveJoined: () => void;
  rejectJoined: (e: Error) => void;
}

interface Group {
  id: string;
  members: Map<string, Member>;
  generation: number;
  state: GroupStateName;
  protocol: string | null;
  leader: string | null;
  running: Promise<void> | null;
  pending: boolean;
}

export class KafkaJSRebalanceError extends KafkaJSProtocolError {
  constructor(message: string, type: 'UNKNOWN_MEMBER_ID' | 'ILLEGAL_GENERATION' | 'REBALANCE_IN_PROGRESS') {
    super(message, type, type === 'UNKNOWN_MEMBER_ID' ? 25 : type === 'ILLEGAL_GENERATION' ? 22 : 27, false);
    this.name = 'KafkaJSRebalanceError';
  }
}

const coordinators = new Map<string, { coordinator: Coordinator; refs: number }>();

export class Coordinator {
  readonly log: Log;
  readonly offsets: OffsetStore;
  private readonly groups = new Map<string, Group>();

  private constructor(log: Log) {
    this.log = log;
    this.offsets = new OffsetStore(log);
  }

  /** The coordinator of `log`'s directory; `release` it when done. */
  static acquire(openLog: () => Log): Coordinator {
    const log = openLog();
    const entry = coordinators.get(log.dataDir);
    if (entry !== undefined) {
      entry.refs++;
      // This handle was only opened to learn the directory; a failure to
      // close it concerns nobody waiting.
      log.close().catch(() => undefined);
      return entry.coordinator;
    }
    const coordinator = new Coordinator(log);
    coordinators.set(log.dataDir, { coordinator, refs: 1 });
    return coordinator;
  }

  async release(): Promise<void> {
    const entry = coordinators.get(this.log.dataDir);
    if (entry === undefined || entry.coordinator !== this) return;
    entry.refs--;
    if (entry.refs > 0) return;
    coordinators.delete(this.log.dataDir);
    for (const g of this.groups.values())
      for (const m of g.members.values()) if (m.timer) clearTimeout(m.timer);
    await this.log.close();
  }

  private group(id: string): Group {
    let g = this.groups.get(id);
    if (g === undefined) {
      g = {
        id,
        members: new Map(),
        generation: 0,
        state: 'Empty',
        protocol: null,
        leader: null,
        running: null,
        pending: false,
      };
      this.groups.set(id, g);
    }
    return g;
  }

  /** Joins a member; resolves once a rebalance including it has assigned its partitions. */
  join(groupId: string, hooks: MemberHooks): Promise<void> {
    const g = this.group(groupId);
    const names = hooks.assigners().map((a) => a.name);
    for (const other of g.members.values()) {
      const theirs = other.hooks.assigners().map((a) => a.name);
      if (!names.some((n) => theirs.includes(n))) {
        return Promise.reject(
          new KafkaJSProtocolError(
            `member ${hooks.memberId} supports none of the assigners of group "${groupId}" (${theirs.join(', ')})`,
            'INCONSISTENT_GROUP_PROTOCOL',
            23,
            false,
          ),
        );
      }
    }
    let resolveJoined!: () => void;
    let rejectJoined!: (e: Error) => void;
    const joined = new Promise<void>((res, rej) => {
      resolveJoined = res;
      rejectJoined = rej;
    });
    joined.catch(() => undefined);
    const member: Member = {
      hooks,
      joinedAt: Date.now(),
      lastHeartbeat: Date.now(),
      assignment: {},
      timer: null,
      joined,
      resolveJoined,
      rejectJoined,
    };
    g.members.set(hooks.memberId, member);
    this.armSession(g, member);
    this.scheduleRebalance(g);
    return joined;
  }

  /** Removes a member that has already released its partitions. */
  leave(groupId: string, memberId: string): Promise<void> {
    const g = this.groups.get(groupId);
    const m = g?.members.get(memberId);
    if (g === undefined || m === undefined) return Promise.resolve();
    if (m.timer) clearTimeout(m.timer);
    g.members.delete(memberId);
    m.rejectJoined(new KafkaJSError('the consumer left the group'));
    return this.scheduleRebalance(g);
  }

  /** Records that a member is alive. Throws when it was evicted. */
  heartbeat(groupId: string, memberId: string): void {
    const m = this.groups.get(groupId)?.members.get(memberId);
    if (m === undefined) {
      throw new KafkaJSRebalanceError('The coordinator is not aware of this member', 'UNKNOWN_MEMBER_ID');
    }
    m.lastHeartbeat = Date.now();
  }

  /**
   * Removes a member at its own request because it cannot keep up (its
   * handler made no progress within rebalanceTimeout): what the Java
   * client's heartbeat thread does when max.poll.interval.ms passes.
   */
  evictMember(groupId: string, memberId: string, reason: string): void {
    const g = this.groups.get(groupId);
    const m = g?.members.get(memberId);
    if (g !== undefined && m !== undefined) this.evict(g, m, reason);
  }

  /** Asks for a new assignment (a subscription changed, a topic appeared). */
  requestRebalance(groupId: string): Promise<void> {
    const g = this.groups.get(groupId);
    return g === undefined ? Promise.resolve() : this.scheduleRebalance(g);
  }

  private armSession(g: Group, m: Member): void {
    if (m.timer) clearTimeout(m.timer);
    const due = m.lastHeartbeat + m.hooks.sessionTimeout - Date.now();
    m.timer = setTimeout(
      () => {
        m.timer = null;
        if (!g.members.has(m.hooks.memberId)) return;
        if (Date.now() - m.lastHeartbeat >= m.hooks.sessionTimeout) {
          this.evict(g, m, `no heartbeat for ${m.hooks.sessionTimeout} ms (sessionTimeout)`);
        } else {
          this.armSession(g, m);
        }
      },
      Math.max(1, due),
    );
    m.timer.unref();
  }

  private evict(g: Group, m: Member, reason: string): void {
    if (!g.members.delete(m.hooks.memberId)) return;
    if (m.timer) clearTimeout(m.timer);
    m.rejectJoined(new KafkaJSRebalanceError(`evicted: ${reason}`, 'UNKNOWN_MEMBER_ID'));
    m.hooks.onEvicted(reason);
    void this.scheduleRebalance(g);
  }

  private scheduleRebalance(g: Group): Promise<void> {
    if (g.running !== null) {
      g.pending = true;
      return g.running;
    }
    g.state = 'PreparingRebalance';
    const run = (async () => {
      // Let joins made in the same tick land in one rebalance.
      await new Promise((r) => setImmediate(r));
      do {
        g.pending = false;
        try {
          await this.rebalance(g);
        } catch (e) {
          // An assigner or a member's hook threw. Callers hold this promise
          // without awaiting it, so it must not reject: the members still
          // waiting to join hear of it instead (their run() rejects).
          const error = e instanceof Error ? e : new KafkaJSError(String(e));
          for (const m of g.members.values()) m.rejectJoined(error);
        }
      } while (g.pending);
    })();
    g.running = run.finally(() => {
      g.running = null;
    });
    return g.running;
  }

  private async rebalance(g: Group): Promise<void> {
    g.state = 'PreparingRebalance';
    const members = [...g.members.values()].sort(
      (a, b) => a.joinedAt - b.joinedAt || (a.hooks.memberId < b.hooks.memberId ? -1 : 1),
    );
    for (const m of members) m.hooks.onRebalancing();
    if (members.length === 0) {
      g.generation++;
      g.state = 'Empty';
      g.protocol = null;
      g.leader = null;
      return;
    }
    const leader = members[0] as Member;
    const protocolName =
      leader.hooks
        .assigners()
        .map((a) => a.name)
        .find((n) => members.every((m) => m.hooks.assigners().some((a) => a.name === n))) ?? '';
    const assignerOf = (m: Member): Assigner =>
      m.hooks.assigners().find((a) => a.name === protocolName) as Assigner;
    const topics = [...new Set(members.flatMap((m) => m.hooks.subscribedTopics()))].filter(
      (t) => this.log.partitionCount(t) > 0,
    );
    const groupMembers = members.map((m) => ({
      memberId: m.hooks.memberId,
      memberMetadata: assignerOf(m).protocol({
        topics: m.hooks.subscribedTopics(),
        ownedPartitions: m.hooks.owned(),
      }).metadata,
    }));
    // Built-in assigners take the cluster at creation; hand each this directory's.
    const result = await assignerOf(leader).assign({ members: groupMembers, topics });
    const next = new Map<string, Assignment>();
    for (const m of members) next.set(m.hooks.memberId, {});
    for (const r of result) {
      const decoded = AssignerProtocol.MemberAssignment.decode(r.memberAssignment);
      if (decoded !== null && next.has(r.memberId)) next.set(r.memberId, decoded.assignment);
    }
    const cooperative = protocolName === 'cooperative-sticky';
    // Release first: no partition may have two owners at once.
    const releases = members.map((m) => {
      const owned = m.hooks.owned();
      const keep = next.get(m.hooks.memberId) ?? {};
      const revoke: Assignment = {};
      for (const [topic, ps] of Object.entries(owned)) {
        const still = new Set(cooperative ? (keep[topic] ?? []) : []);
        const gone = ps.filter((p) => !still.has(p));
        if (gone.length > 0) revoke[topic] = gone;
      }
      if (Object.keys(revoke).length === 0) return Promise.resolve(true);
      const timeout = new Promise<boolean>((r) =>
        setTimeout(() => r(false), m.hooks.rebalanceTimeout).unref(),
      );
      // A revoke that throws has not provably released: treat it as one that timed out.
      return Promise.race([
        m.hooks.revoke(revoke).then(
          () => true,
          () => false,
        ),
        timeout,
      ]);
    });
    const released = await Promise.all(releases);
    let evicted = false;
    released.forEach((ok, i) => {
      if (!ok) {
        const m = members[i] as Member;
        evicted = true;
        this.evict(
          g,
          m,
          `did not release its partitions within ${m.hooks.rebalanceTimeout} ms (rebalanceTimeout)`,
        );
      }
    });
    // A member evicted or gone meanwhile invalidates this assignment: do it again.
    if (evicted || members.some((m) => !g.members.has(m.hooks.memberId))) {
      g.pending = true;
      return;
    }
    g.generation++;
    g.state = 'Stable';
    g.protocol = protocolName;
    g.leader = leader.hooks.memberId;
    for (const m of members) {
      m.assignment = next.get(m.hooks.memberId) ?? {};
      m.lastHeartbeat = Date.now();
      m.hooks.assign(g.generation, m.assignment, {
        leaderId: leader.hooks.memberId,
        groupProtocol: protocolName,
        groupAssignment: result,
        topicsSubscribed: topics,
      });
      m.resolveJoined();
    }
  }

  /**
   * Commits offsets for a group. With a member and generation, refuses an
   * evicted member or an old generation. Offsets must lie within the log.
   */
  commit(
    groupId: string,
    commits: OffsetCommit[],
    member?: { memberId: string; generationId: number },
  ): void {
    if (member !== undefined) {
      const g = this.groups.get(groupId);
      if (g === undefined || !g.members.has(member.memberId)) {
        throw new KafkaJSRebalanceError('The coordinator is not aware of this member', 'UNKNOWN_MEMBER_ID');
      }
      if (g.generation !== member.generationId) {
        throw new KafkaJSRebalanceError(
          `Specified group generation id ${member.generationId} is not valid (current ${g.generation})`,
          'ILLEGAL_GENERATION',
        );
      }
    }
    for (const c of commits) {
      if (!Number.isSafeInteger(c.offset) || c.offset < 0) {
        throw new KafkaJSNonRetriableError(
          `invalid offset ${String(c.offset)} for ${c.topic}-${c.partition}`,
        );
      }
      const n = this.log.partitionCount(c.topic);
      if (n < 0 || !Number.isInteger(c.partition) || c.partition < 0 || c.partition >= n) {
        throw new KafkaJSProtocolError(
          `unknown topic or partition ${c.topic}-${c.partition}`,
          'UNKNOWN_TOPIC_OR_PARTITION',
          3,
          false,
        );
      }
      const hw = this.log.watermarks(c.topic, c.partition).highWatermark;
      if (c.offset > hw) {
        throw new KafkaJSProtocolError(
          `cannot commit offset ${c.offset} to ${c.topic}-${c.partition}: past the high watermark ${hw}`,
          'OFFSET_OUT_OF_RANGE',
          1,
          false,
        );
      }
    }
    this.offsets.commit(groupId, commits);
  }

  describe(groupId: string): {
    groupId: string;
    state: GroupStateName;
    protocol: string;
    protocolType: string;
    generationId: number;
    leader: string | null;
    members: { memberId: string; clientId: string; clientHost: string; assignment: Assignment }[];
  } {
    const g = this.groups.get(groupId);
    const known = g !== undefined || this.offsets.groupIds().includes(groupId);
    return {
      groupId,
      state: g === undefined ? (known ? 'Empty' : 'Dead') : g.members.size === 0 ? 'Empty' : g.state,
      protocol: g?.protocol ?? '',
      protocolType: 'consumer',
      generationId: g?.generation ?? 0,
      leader: g?.leader ?? null,
      members: [...(g?.members.values() ?? [])].map((m) => ({
        memberId: m.hooks.memberId,
        clientId: m.hooks.clientId,
        clientHost: '/127.0.0.1',
        assignment: m.assignment,
      })),
    };
  }

  memberCount(groupId: string): number {
    return this.groups.get(groupId)?.members.size ?? 0;
  }

  groupIds(): string[] {
    const ids = new Set(this.offsets.groupIds());
    for (const [id, g] of this.groups) if (g.members.size > 0) ids.add(id);
    return [...ids].sort();
  }

  deleteGroup(groupId: string): void {
    if (this.memberCount(groupId) > 0) {
      throw new KafkaJSProtocolError(`group "${groupId}" has active members`, 'NON_EMPTY_GROUP', 68, false);
    }
    if (!this.groupIds().includes(groupId)) {
      throw new KafkaJSProtocolError(`group "${groupId}" does not exist`, 'GROUP_ID_NOT_FOUND', 69, false);
    }
    this.offsets.delete(groupId);
    this.groups.delete(groupId);
  }
}
