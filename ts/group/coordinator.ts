/**
 * The consumers and admin clients of one data directory in this process,
 * and their way to its group coordinator (Rust, in the engine's process:
 * crates/coordinator). Each consumer's membership is a `GroupMember`,
 * Kafka's group client; this class only keeps them together so that a
 * local member's join or leave makes the other local members of its group
 * heartbeat at once instead of at their next interval (members in other
 * processes learn it from their own heartbeats, as with Kafka).
 */
import { KafkaJSNonRetriableError, KafkaJSProtocolError } from '../errors';
import { groupCalls, type Log } from '../log';
import { groupError } from './errors';
import { checkCommit, GroupMember, type MemberHooks, nativeOffset } from './member';
import type { CommittedOffset, DescribedGroup, GroupCalls } from './types';

export type { Assignment, MemberHooks } from './member';
export { GroupMember } from './member';

export const OFFSETS_TOPIC = '__consumer_offsets';

export interface OffsetCommit {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string | null;
}

const shared = new Map<string, { coordinator: GroupCoordinator; refs: number }>();

export class GroupCoordinator {
  readonly calls: GroupCalls;
  private readonly log: Log;
  private readonly members = new Set<GroupMember>();
  private loaded: Promise<void> | null = null;

  private constructor(log: Log) {
    this.log = log;
    this.calls = log[groupCalls]();
  }

  /**
   * Resolves once the coordinator has loaded `__consumer_offsets` (creating
   * it if needed), off the JavaScript thread. Consumers and admins await it
   * in connect, so that errors of the offsets topic surface there.
   */
  ready(): Promise<void> {
    this.loaded ??= this.calls.list([]).then(() => undefined);
    return this.loaded;
  }

  /** The one instance for `log`'s directory in this process; `release` it when done. */
  static acquire(openLog: () => Log): GroupCoordinator {
    const log = openLog();
    const entry = shared.get(log.dataDir);
    if (entry !== undefined) {
      entry.refs++;
      // Opened only to learn the directory; nobody waits on its close.
      log.close().catch(() => undefined);
      return entry.coordinator;
    }
    const coordinator = new GroupCoordinator(log);
    shared.set(log.dataDir, { coordinator, refs: 1 });
    return coordinator;
  }

  async release(): Promise<void> {
    const entry = shared.get(this.log.dataDir);
    if (entry === undefined || entry.coordinator !== this) return;
    entry.refs--;
    if (entry.refs > 0) return;
    shared.delete(this.log.dataDir);
    await this.log.close();
  }

  /** A membership for a consumer; `start()` it to join. */
  member(groupId: string, hooks: MemberHooks): GroupMember {
    const m = new GroupMember(this.calls, groupId, {
      ...hooks,
      onRebalancing: () => {
        hooks.onRebalancing();
        this.nudge(groupId, m);
      },
    });
    this.members.add(m);
    return m;
  }

  /** Forgets a membership that is over. */
  forget(m: GroupMember): void {
    this.members.delete(m);
    this.nudge(m.groupId, m);
  }

  /** The other local members of the group heartbeat now. */
  private nudge(groupId: string, except: GroupMember): void {
    for (const other of this.members) {
      if (other !== except && other.groupId === groupId && other.active) {
        setImmediate(() => void other.heartbeat().catch(() => undefined));
      }
    }
  }

  /** Checks commits against the log, as Kafka's broker does for OffsetCommit. */
  validate(commits: OffsetCommit[]): void {
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
  }

  /** A commit outside group management (generation -1): only to a group without members. */
  async commitSimple(groupId: string, commits: OffsetCommit[]): Promise<void> {
    this.validate(commits);
    const r = await this.calls.commit({
      groupId,
      generationId: -1,
      memberId: '',
      offsets: commits.map(nativeOffset),
    });
    checkCommit(r, groupId);
  }

  /** Every committed offset of a group. */
  async offsets(groupId: string): Promise<CommittedOffset[]> {
    return this.calls.fetchOffsets(groupId, null);
  }

  async describe(groupId: string): Promise<DescribedGroup> {
    const [d] = await this.calls.describe([groupId]);
    if (d === undefined) throw new KafkaJSNonRetriableError(`no description of group "${groupId}"`);
    return d;
  }

  async deleteGroup(groupId: string): Promise<void> {
    const [r] = await this.calls.delete([groupId]);
    if (r !== undefined && r.errorCode !== 0) throw groupError(r.errorCode, `group "${groupId}"`);
  }
}
