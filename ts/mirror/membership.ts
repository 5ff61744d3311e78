/**
 * One mirror per name: the mirror joins its progress group on the target as
 * the static member `group.instance.id = <name>` and commits as that member.
 *
 * Why static membership: a second mirror of the same name joining with the
 * same instance id replaces the first at once (Kafka's
 * GroupCoordinator/GroupMetadataManager and ferrolog's coordinator both bind
 * an instance id to one member id), and from then on every heartbeat and
 * commit of the first answers FENCED_INSTANCE_ID: the first stops with
 * `MirrorFencedError` before it can commit over the newer mirror's
 * progress. Nothing is left behind by a SIGKILL: the next mirror's join
 * replaces the dead member the same way (no lock to clear, no session
 * timeout to wait for).
 *
 * The member speaks the consumer protocol (protocol type `consumer`, an
 * empty subscription and assignment in ConsumerProtocol v0), so Kafka's
 * tools (`kafka-consumer-groups --describe`) and ferrolog's list and
 * describe the group like any consumer group.
 */
import { KafkaJSNonRetriableError } from '../errors';

/** The group calls an end's coordinator offers (Kafka's classic group protocol). */
export interface GroupOps {
  join(r: {
    groupId: string;
    memberId: string;
    groupInstanceId: string;
    protocolType: string;
    protocols: { name: string; metadata: Buffer }[];
    sessionTimeout: number;
    rebalanceTimeout: number;
    clientId: string;
  }): Promise<{
    errorCode: number;
    generationId: number;
    protocolName?: string | null;
    leader: string;
    memberId: string;
  }>;
  sync(r: {
    groupId: string;
    generationId: number;
    memberId: string;
    groupInstanceId: string;
    protocolType: string;
    protocolName: string;
    assignments: { memberId: string; assignment: Buffer }[];
  }): Promise<number>;
  heartbeat(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string,
  ): Promise<number>;
  leave(groupId: string, memberId: string, groupInstanceId: string): Promise<number>;
}

/** Who commits: the member's id, generation and instance id. */
export interface MemberIdentity {
  memberId: string;
  generationId: number;
  groupInstanceId: string;
}

/**
 * Another mirror with the same name (the same group.instance.id in the
 * same progress group) started: this one stopped without committing.
 */
export class MirrorFencedError extends KafkaJSNonRetriableError {
  constructor(message: string) {
    super(message);
    this.name = 'MirrorFencedError';
  }
}

const PROTOCOL_TYPE = 'consumer';
const PROTOCOL_NAME = 'ferrolog-mirror';
/** ConsumerProtocol v0: version 0, no topics (or partitions), null user data. Subscription and assignment alike. */
const EMPTY_V0 = Buffer.from([0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);

/** Kafka's FENCED_INSTANCE_ID. */
const FENCED_INSTANCE_ID = 82;
/** Codes (FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID) that mean this member is no longer the group's: another mirror of the name replaced it. */
const FENCED = new Set([FENCED_INSTANCE_ID, 25]);
/** Codes (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION) after which the member joins again (as itself: same member id and instance id). */
const REJOIN = new Set([27, 22]);
/** COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR: try again shortly. */
const RETRY = new Set<number>([14, 15, 16]);

export class StaticMembership {
  private readonly ops: GroupOps;
  private readonly groupId: string;
  private readonly instanceId: string;
  private readonly clientId: string;
  private readonly sessionTimeoutMs: number;
  private member: MemberIdentity | null = null;
  private timer: NodeJS.Timeout | null = null;
  private beating = false;
  /** Set once fenced; every later call throws it. */
  fenced: MirrorFencedError | null = null;
  /** Called once when fenced, from the heartbeat. */
  onFenced: (e: MirrorFencedError) => void = () => undefined;

  constructor(
    ops: GroupOps,
    groupId: string,
    instanceId: string,
    clientId: string,
    sessionTimeoutMs: number,
  ) {
    this.ops = ops;
    this.groupId = groupId;
    this.instanceId = instanceId;
    this.clientId = clientId;
    this.sessionTimeoutMs = sessionTimeoutMs;
  }

  /** Joins (replacing an earlier member of the instance id) and starts heartbeating. */
  async start(): Promise<void> {
    await this.join('');
    // A third of the session, as Kafka's heartbeat.interval.ms default is to session.timeout.ms.
    this.timer = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.sessionTimeoutMs / 3)));
    this.timer.unref();
  }

  /** The identity to commit with; throws MirrorFencedError once fenced. */
  identity(): MemberIdentity {
    if (this.fenced !== null) throw this.fenced;
    if (this.member === null) throw new KafkaJSNonRetriableError('the mirror is not in its progress group');
    return this.member;
  }

  /** Whether a commit's error code means this member was replaced (then it is fenced from now on). */
  checkFenced(code: number): boolean {
    if (!FENCED.has(code)) return false;
    this.fence(code);
    return true;
  }

  /** Stops heartbeating and leaves the group (not when fenced: the member is someone else's now). */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const m = this.member;
    this.member = null;
    if (m === null || this.fenced !== null) return;
    try {
      await this.ops.leave(this.groupId, m.memberId, this.instanceId);
    } catch {
      // Leaving is a courtesy (the next mirror's join replaces the member anyway).
    }
  }

  private async join(memberId: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const j = await this.ops.join({
        groupId: this.groupId,
        memberId,
        groupInstanceId: this.instanceId,
        protocolType: PROTOCOL_TYPE,
        protocols: [{ name: PROTOCOL_NAME, metadata: EMPTY_V0 }],
        sessionTimeout: this.sessionTimeoutMs,
        rebalanceTimeout: this.sessionTimeoutMs,
        clientId: this.clientId,
      });
      if (j.errorCode === FENCED_INSTANCE_ID) return this.fence(j.errorCode);
      if ((RETRY.has(j.errorCode) || REJOIN.has(j.errorCode)) && attempt < 20) {
        await new Promise((r) => setTimeout(r, Math.min(1000, 100 * (attempt + 1))));
        continue;
      }
      if (j.errorCode !== 0) {
        throw new KafkaJSNonRetriableError(
          `joining the mirror's progress group ${this.groupId} failed with error ${j.errorCode}`,
        );
      }
      // The only member: its own assignment (empty; the group is a progress record, not a work split).
      const assignments = j.leader === j.memberId ? [{ memberId: j.memberId, assignment: EMPTY_V0 }] : [];
      const code = await this.ops.sync({
        groupId: this.groupId,
        generationId: j.generationId,
        memberId: j.memberId,
        groupInstanceId: this.instanceId,
        protocolType: PROTOCOL_TYPE,
        protocolName: j.protocolName ?? PROTOCOL_NAME,
        assignments,
      });
      if (FENCED.has(code)) return this.fence(code);
      if ((REJOIN.has(code) || RETRY.has(code)) && attempt < 20) {
        memberId = j.memberId;
        continue;
      }
      if (code !== 0) {
        throw new KafkaJSNonRetriableError(
          `joining the mirror's progress group ${this.groupId} failed with error ${code}`,
        );
      }
      this.member = { memberId: j.memberId, generationId: j.generationId, groupInstanceId: this.instanceId };
      return;
    }
  }

  private async beat(): Promise<void> {
    const m = this.member;
    if (this.beating || m === null || this.fenced !== null) return;
    this.beating = true;
    try {
      const code = await this.ops.heartbeat(this.groupId, m.generationId, m.memberId, this.instanceId);
      if (FENCED.has(code)) this.fence(code);
      else if (REJOIN.has(code)) await this.join(m.memberId);
    } catch {
      // A heartbeat that could not be sent is retried at the next tick; a commit says the rest.
    } finally {
      this.beating = false;
    }
  }

  private fence(code: number): void {
    if (this.fenced !== null) return;
    // FENCED_INSTANCE_ID: the instance id is bound to another member now. UNKNOWN_MEMBER_ID: this
    // member is gone, replaced by a newer mirror that has left since, or expired (no heartbeat for a
    // session). Either way another mirror may be at work: this one must not commit again.
    const why =
      code === FENCED_INSTANCE_ID
        ? 'another mirror of that name took over (FENCED_INSTANCE_ID)'
        : `another mirror of that name took over, or this one's session of ${this.sessionTimeoutMs} ms expired (error ${code})`;
    this.fenced = new MirrorFencedError(
      `mirror ${this.instanceId} lost its progress group ${this.groupId}: ${why}; it stopped`,
    );
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.onFenced(this.fenced);
  }
}
