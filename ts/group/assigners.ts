/**
 * Partition assigners with kafkajs' protocol, and the Kafka binary formats
 * of member metadata and assignments (kafkajs' `AssignerProtocol`).
 *
 * * `roundRobin` (kafkajs' default): every partition of every subscribed
 *   topic, dealt to the members sorted by id.
 * * `range` (Kafka's RangeAssignor): per topic, contiguous ranges.
 * * `cooperativeSticky`: a balanced assignment that keeps each member's
 *   current partitions where balance allows, so a rebalance moves only the
 *   partitions it must and the others keep flowing.
 */
import { CorruptDataError } from '../errors';

export interface MemberMetadataValue {
  version: number;
  topics: string[];
  userData?: Buffer;
}

export interface MemberAssignmentValue {
  version: number;
  assignment: Record<string, number[]>;
  userData?: Buffer;
}

class Writer {
  private parts: Buffer[] = [];
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  string(s: string): this {
    const bytes = Buffer.from(s, 'utf8');
    this.int16(bytes.length);
    this.parts.push(bytes);
    return this;
  }
  bytes(b: Buffer): this {
    this.int32(b.length);
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CorruptDataError('assignment data is truncated');
  }
  canRead(n: number): boolean {
    return this.pos + n <= this.buf.length;
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  string(): string {
    const n = this.int16();
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes(): Buffer {
    const n = this.int32();
    if (n < 0) return Buffer.alloc(0);
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  array<T>(f: () => T): T[] {
    const n = this.int32();
    if (n < 0) return [];
    if (n > this.buf.length) throw new CorruptDataError('assignment array length is implausible');
    return Array.from({ length: n }, f);
  }
}

export const AssignerProtocol = {
  MemberMetadata: {
    encode({ version, topics, userData = Buffer.alloc(0) }: MemberMetadataValue): Buffer {
      const w = new Writer().int16(version).int32(topics.length);
      for (const t of topics) w.string(t);
      return w.bytes(userData).done();
    },
    decode(buffer: Buffer): MemberMetadataValue {
      const r = new Reader(buffer);
      return { version: r.int16(), topics: r.array(() => r.string()), userData: r.bytes() };
    },
  },
  MemberAssignment: {
    encode({ version, assignment, userData = Buffer.alloc(0) }: MemberAssignmentValue): Buffer {
      const topics = Object.keys(assignment);
      const w = new Writer().int16(version).int32(topics.length);
      for (const t of topics) {
        const ps = assignment[t] as number[];
        w.string(t).int32(ps.length);
        for (const p of ps) w.int32(p);
      }
      return w.bytes(userData).done();
    },
    decode(buffer: Buffer): MemberAssignmentValue | null {
      const r = new Reader(buffer);
      if (!r.canRead(2)) return null;
      const version = r.int16();
      const assignment: Record<string, number[]> = {};
      for (const a of r.array(() => ({ topic: r.string(), partitions: r.array(() => r.int32()) }))) {
        assignment[a.topic] = a.partitions;
      }
      return { version, assignment, userData: r.bytes() };
    },
  },
};

export interface GroupMember {
  memberId: string;
  memberMetadata: Buffer;
}

export interface GroupMemberAssignment {
  memberId: string;
  memberAssignment: Buffer;
}

export interface GroupState {
  name: string;
  metadata: Buffer;
}

/** What assigners get to look topics up: kafkajs' `cluster`, reduced to what they use. */
export interface AssignerCluster {
  findTopicPartitionMetadata(topic: string): { partitionId: number; leader: number }[];
}

export interface Assigner {
  name: string;
  version: number;
  assign(group: { members: GroupMember[]; topics: string[] }): Promise<GroupMemberAssignment[]>;
  protocol(subscription: { topics: string[]; ownedPartitions?: Record<string, number[]> }): GroupState;
}

export type PartitionAssigner = (config: { cluster: AssignerCluster }) => Assigner;

interface TopicPartition {
  topic: string;
  partition: number;
}

function allPartitions(cluster: AssignerCluster, topics: string[]): TopicPartition[] {
  const out: TopicPartition[] = [];
  for (const topic of [...topics].sort()) {
    for (const m of cluster.findTopicPartitionMetadata(topic)) out.push({ topic, partition: m.partitionId });
  }
  return out;
}

function subscriptions(members: GroupMember[]): Map<string, Set<string>> {
  const subs = new Map<string, Set<string>>();
  for (const m of members) {
    subs.set(m.memberId, new Set(AssignerProtocol.MemberMetadata.decode(m.memberMetadata).topics));
  }
  return subs;
}

function encodeAll(version: number, result: Map<string, Record<string, number[]>>): GroupMemberAssignment[] {
  return [...result.entries()].map(([memberId, assignment]) => ({
    memberId,
    memberAssignment: AssignerProtocol.MemberAssignment.encode({ version, assignment }),
  }));
}

function add(result: Map<string, Record<string, number[]>>, memberId: string, tp: TopicPartition): void {
  let a = result.get(memberId);
  if (a === undefined) {
    a = {};
    result.set(memberId, a);
  }
  const list = a[tp.topic] ?? [];
  list.push(tp.partition);
  a[tp.topic] = list;
}

function simpleProtocol(name: string, version: number) {
  return ({ topics }: { topics: string[] }): GroupState => ({
    name,
    metadata: AssignerProtocol.MemberMetadata.encode({ version, topics }),
  });
}

/** kafkajs' round-robin assigner (its default). */
export const roundRobin: PartitionAssigner = ({ cluster }) => ({
  name: 'RoundRobinAssigner',
  version: 0,
  async assign({ members, topics }) {
    const subs = subscriptions(members);
    const sorted = members.map((m) => m.memberId).sort();
    const result = new Map<string, Record<string, number[]>>();
    let i = 0;
    for (const tp of allPartitions(cluster, topics)) {
      // Deal to the next member that subscribes to this topic.
      for (let tries = 0; tries < sorted.length; tries++) {
        const memberId = sorted[i++ % sorted.length] as string;
        if (subs.get(memberId)?.has(tp.topic)) {
          add(result, memberId, tp);
          break;
        }
      }
    }
    return encodeAll(0, result);
  },
  protocol: simpleProtocol('RoundRobinAssigner', 0),
});

/** Kafka's range assignor: each topic's partitions in contiguous ranges. */
export const range: PartitionAssigner = ({ cluster }) => ({
  name: 'RangeAssigner',
  version: 0,
  async assign({ members, topics }) {
    const subs = subscriptions(members);
    const result = new Map<string, Record<string, number[]>>();
    for (const topic of [...topics].sort()) {
      const consumers = members
        .map((m) => m.memberId)
        .filter((id) => subs.get(id)?.has(topic))
        .sort();
      if (consumers.length === 0) continue;
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map((m) => m.partitionId)
        .sort((a, b) => a - b);
      const per = Math.floor(partitions.length / consumers.length);
      const extra = partitions.length % consumers.length;
      let at = 0;
      consumers.forEach((memberId, i) => {
        const n = per + (i < extra ? 1 : 0);
        for (const partition of partitions.slice(at, at + n)) add(result, memberId, { topic, partition });
        at += n;
      });
    }
    return encodeAll(0, result);
  },
  protocol: simpleProtocol('RangeAssigner', 0),
});

/**
 * A sticky, balanced assignment: members keep the partitions they own up to
 * their fair share; only the rest move. Owned partitions travel in the
 * member metadata's userData, as Kafka's cooperative assignor does.
 */
export const cooperativeSticky: PartitionAssigner = ({ cluster }) => ({
  name: 'cooperative-sticky',
  version: 0,
  async assign({ members, topics }) {
    const subs = subscriptions(members);
    const owned = new Map<string, TopicPartition[]>();
    for (const m of members) {
      const userData = AssignerProtocol.MemberMetadata.decode(m.memberMetadata).userData;
      const list: TopicPartition[] = [];
      if (userData !== undefined && userData.length > 0) {
        const parsed = JSON.parse(userData.toString('utf8')) as Record<string, number[]>;
        for (const [topic, ps] of Object.entries(parsed))
          for (const partition of ps) list.push({ topic, partition });
      }
      owned.set(m.memberId, list);
    }
    const partitions = allPartitions(cluster, topics);
    const exists = new Set(partitions.map((tp) => `${tp.topic}\u0000${tp.partition}`));
    const ids = members.map((m) => m.memberId).sort();
    const base = Math.floor(partitions.length / Math.max(1, ids.length));
    let extras = partitions.length % Math.max(1, ids.length);
    // Members owning the most get the extra slots first, so fewer partitions move.
    const byOwned = [...ids].sort(
      (a, b) => (owned.get(b)?.length ?? 0) - (owned.get(a)?.length ?? 0) || (a < b ? -1 : 1),
    );
    const quota = new Map<string, number>();
    for (const id of byOwned) quota.set(id, base + (extras-- > 0 ? 1 : 0));
    const taken = new Set<string>();
    const result = new Map<string, Record<string, number[]>>();
    const counts = new Map<string, number>(ids.map((id) => [id, 0]));
    for (const id of ids) {
      for (const tp of owned.get(id) ?? []) {
        const k = `${tp.topic}\u0000${tp.partition}`;
        if (!exists.has(k) || taken.has(k) || !subs.get(id)?.has(tp.topic)) continue;
        if ((counts.get(id) ?? 0) >= (quota.get(id) ?? 0)) break;
        taken.add(k);
        counts.set(id, (counts.get(id) ?? 0) + 1);
        add(result, id, tp);
      }
    }
    for (const tp of partitions) {
      const k = `${tp.topic}\u0000${tp.partition}`;
      if (taken.has(k)) continue;
      const candidates = ids.filter((id) => subs.get(id)?.has(tp.topic));
      if (candidates.length === 0) continue;
      // The subscribed member furthest below its quota (then the fewest partitions).
      candidates.sort(
        (a, b) =>
          (counts.get(a) ?? 0) - (quota.get(a) ?? 0) - ((counts.get(b) ?? 0) - (quota.get(b) ?? 0)) ||
          (counts.get(a) ?? 0) - (counts.get(b) ?? 0) ||
          (a < b ? -1 : 1),
      );
      const id = candidates[0] as string;
      taken.add(k);
      counts.set(id, (counts.get(id) ?? 0) + 1);
      add(result, id, tp);
    }
    return encodeAll(0, result);
  },
  protocol({ topics, ownedPartitions }) {
    return {
      name: 'cooperative-sticky',
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 0,
        topics,
        userData: Buffer.from(JSON.stringify(ownedPartitions ?? {}), 'utf8'),
      }),
    };
  },
});

/** kafkajs' `PartitionAssigners`, with Kafka's range and a cooperative sticky assigner added. */
export const PartitionAssigners = { roundRobin, range, cooperativeSticky };
