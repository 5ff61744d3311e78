/**
 * Consumer groups across processes. One process owns the data directory
 * and serves it as a broker (test/groups-mp/owner.mjs: `kafka.listen`, an
 * in-process consumer, a producer); other processes join the same group
 * through the broker: ferrolog's remote client, kafkajs 2.2.4 and the Java
 * client 4.1.1 (test/java/FerrologJavaGroupMember.java). Each member
 * records, in its own process, when it was assigned partitions (and, for
 * Java, revoked) and every message it processed, with timestamps; the test
 * checks from those records that:
 * - no two members ever processed one partition at overlapping times: an
 *   eager member stops processing before it rejoins, and the coordinator
 *   hands the partition on only once every member has rejoined, so the
 *   interval from a member's assignment to its last message (its
 *   revocation, for Java) never overlaps another member's on that
 *   partition; and every message was processed by a member whose latest
 *   assignment held that partition;
 * - every message written was processed at least once, and the group's
 *   committed offsets reach the end of every partition (lag 0).
 * A member process is SIGKILLed mid-way: its partitions move after its
 * session timeout and nothing is skipped. The owner restarting keeps the
 * group, its offsets and a static member's assignment. Two groups on one
 * topic are independent; an evicted member's late commit is refused.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Kafka } from '../ts';
import { jsonLines, tempDir, until } from './helpers';
import { javaClasspath } from './java-build';

const here = join(__dirname, 'groups-mp');
const PARTITIONS = 12;

const children: ChildProcess[] = [];
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

let classpath = '';
beforeAll(() => {
  classpath = javaClasspath();
}, 300_000);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts a child and resolves once it printed `ready` (or `started`). */
function start(cmd: string, args: string[], word: string): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${out}${err}`)), 60_000);
    child.stdout?.on('data', (d) => {
      out += d;
      if (out.includes(word)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.stderr?.on('data', (d) => {
      err += d;
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code ?? signal}) before starting: ${out}${err}`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

interface OwnerOptions {
  dataDir: string;
  port: number;
  topic: string;
  out: string;
  member: { name: string; group: string; out: string } | null;
  produce: boolean;
}

function startOwner(o: OwnerOptions): Promise<ChildProcess> {
  return start('node', [join(here, 'owner.mjs'), JSON.stringify({ ...o, partitions: PARTITIONS })], 'ready');
}

function startNodeMember(kind: 'ferrolog' | 'kafkajs', o: Record<string, unknown>): Promise<ChildProcess> {
  return start(
    'node',
    [join(here, 'member.mjs'), JSON.stringify({ kind, sessionTimeout: 6000, ...o })],
    'started',
  );
}

function startJavaMember(
  brokers: string,
  topic: string,
  group: string,
  out: string,
  name: string,
  instance?: string,
): Promise<ChildProcess> {
  const args = [
    '-cp',
    classpath,
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
    'FerrologJavaGroupMember',
    brokers,
    topic,
    group,
    out,
    name,
    '6000',
  ];
  if (instance !== undefined) args.push(instance);
  return start('java', args, 'started');
}

type Rec =
  | { k: 'assign' | 'revoke' | 'lost'; m: string; t: number; parts: number[] }
  | { k: 'msg'; m: string; p: number; o: number; t0: number; t1: number }
  | { k: 'closed' | 'commit-error'; m: string; t: number; error?: string };

/** A member's records so far. */
function records(file: string): Rec[] {
  return jsonLines<Rec>(file);
}

interface Interval {
  member: string;
  start: number;
  end: number;
}

/**
 * Ownership intervals per partition from the members' own records, and
 * the messages processed by a member not assigned their partition.
 */
function ownership(all: Rec[][]): { intervals: Map<number, Interval[]>; strays: string[] } {
  const intervals = new Map<number, Interval[]>();
  const strays: string[] = [];
  const add = (p: number, i: Interval) => {
    if (!intervals.has(p)) intervals.set(p, []);
    intervals.get(p)?.push(i);
  };
  for (const recs of all) {
    // One epoch per assignment: it lasts until the revocation (Java) or
    // the member's last message on the partition before its next
    // assignment (the JavaScript clients, which revoke everything before
    // rejoining and report no revocation).
    let epoch: { t: number; parts: Set<number>; last: Map<number, number>; revoked: number | null } | null =
      null;
    const close = () => {
      if (epoch === null) return;
      for (const [p, last] of epoch.last) {
        add(p, { member: recs[0]?.m ?? '?', start: epoch.t, end: epoch.revoked ?? last });
      }
    };
    for (const r of recs) {
      if (r.k === 'assign') {
        close();
        epoch = { t: r.t, parts: new Set(r.parts), last: new Map(), revoked: null };
      } else if ((r.k === 'revoke' || r.k === 'lost') && epoch !== null) {
        epoch.revoked = r.t;
      } else if (r.k === 'msg') {
        if (epoch === null || epoch.revoked !== null || !epoch.parts.has(r.p)) {
          strays.push(`${r.m} processed ${r.p}:${r.o} at ${r.t0} without owning it`);
        } else {
          epoch.last.set(r.p, r.t1);
        }
      }
    }
    close();
  }
  return { intervals, strays };
}

function overlaps(intervals: Map<number, Interval[]>): string[] {
  const bad: string[] = [];
  for (const [p, list] of intervals) {
    const sorted = [...list].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      for (let j = 0; j < i; j++) {
        const a = sorted[j];
        const b = sorted[i];
        if (a.member !== b.member && b.start < a.end) {
          bad.push(
            `partition ${p}: ${a.member} [${a.start}, ${a.end}] overlaps ${b.member} [${b.start}, ${b.end}]`,
          );
        }
      }
    }
  }
  return bad;
}

/** Offsets in [0, end) that no member processed, per partition. */
function missing(all: Rec[][], ends: number[]): string[] {
  const seen = ends.map(() => new Set<number>());
  for (const recs of all) for (const r of recs) if (r.k === 'msg') seen[r.p]?.add(r.o);
  const out: string[] = [];
  ends.forEach((end, p) => {
    for (let o = 0; o < end; o++) if (!seen[p].has(o)) out.push(`${p}:${o}`);
  });
  return out;
}

async function remoteAdmin(brokers: string) {
  const kafka = new Kafka({ brokers: [brokers], logLevel: 0 });
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  return admin;
}

type Admin = Awaited<ReturnType<typeof remoteAdmin>>;

async function ends(admin: Admin, topic: string): Promise<number[]> {
  const offs = await admin.fetchTopicOffsets(topic);
  const out = new Array<number>(PARTITIONS).fill(0);
  for (const o of offs) out[o.partition] = Number(o.high);
  return out;
}

async function committed(admin: Admin, group: string, topic: string): Promise<number[]> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const out = new Array<number>(PARTITIONS).fill(-1);
  for (const p of t?.partitions ?? []) out[p.partition] = Number(p.offset);
  return out;
}

/** Waits (bounded) until the group's committed offsets reach every partition's end. */
async function untilLagZero(
  admin: Admin,
  group: string,
  topic: string,
  timeoutMs = 60_000,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const e = await ends(admin, topic);
    const c = await committed(admin, group, topic);
    if (e.every((end, p) => c[p] === end)) return e;
    if (Date.now() > deadline) throw new Error(`lag not 0: ends ${e}, committed ${c}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits (bounded) until every named member's latest assignment together covers all partitions, each once. */
async function untilAssigned(files: Record<string, string>, names: string[], what: string): Promise<void> {
  await until(
    () => {
      const latest = names.map((n) => {
        const a = records(files[n])
          .filter((r) => r.k === 'assign')
          .at(-1);
        return a?.k === 'assign' ? a.parts : null;
      });
      if (latest.some((l) => l === null || l.length === 0)) return false;
      const all = latest.flatMap((l) => l ?? []).sort((a, b) => a - b);
      return all.length === PARTITIONS && all.every((p, i) => p === i);
    },
    what,
    90_000,
  );
}

describe('consumer groups across processes', () => {
  it('the ownership check finds overlapping owners, strays and skipped offsets', () => {
    const m = (who: string, p: number, o: number, t: number): Rec => ({
      k: 'msg',
      m: who,
      p,
      o,
      t0: t,
      t1: t + 1,
    });
    const a: Rec[] = [{ k: 'assign', m: 'a', t: 0, parts: [0] }, m('a', 0, 0, 10), m('a', 0, 1, 20)];
    // b is assigned partition 0 before a processed its last message there.
    const b: Rec[] = [{ k: 'assign', m: 'b', t: 15, parts: [0] }, m('b', 0, 1, 30)];
    expect(overlaps(ownership([a, b]).intervals)).toHaveLength(1);
    // After a's last message, no overlap.
    const c: Rec[] = [{ k: 'assign', m: 'c', t: 22, parts: [0] }, m('c', 0, 2, 30)];
    expect(overlaps(ownership([a, c]).intervals)).toEqual([]);
    // A Java member's revocation ends its interval, even without messages after.
    const j: Rec[] = [
      { k: 'assign', m: 'j', t: 0, parts: [0] },
      m('j', 0, 0, 1),
      { k: 'revoke', m: 'j', t: 40, parts: [0] },
    ];
    expect(overlaps(ownership([j, c]).intervals)).toHaveLength(1);
    // A message of a partition the member was not assigned, or after its revocation.
    expect(ownership([[{ k: 'assign', m: 'd', t: 0, parts: [1] }, m('d', 0, 0, 5)]]).strays).toHaveLength(1);
    expect(ownership([[...j, m('j', 0, 1, 50)]]).strays).toHaveLength(1);
    expect(missing([a, c], [4])).toEqual(['0:3']);
  });

  it('an in-process member, two ferrolog processes, kafkajs and Java share a 12-partition group; a SIGKILLed member is replaced', async () => {
    const dir = tempDir();
    const port = await freePort();
    const brokers = `127.0.0.1:${port}`;
    const topic = 'mp';
    const group = 'mp-group';
    const out = (n: string) => join(dir, `${n}.jsonl`);
    const names = ['owner', 'remote-a', 'remote-b', 'kafkajs', 'java'];
    const files = Object.fromEntries(names.map((n) => [n, out(n)]));
    const owner = await startOwner({
      dataDir: join(dir, 'data'),
      port,
      topic,
      out: join(dir, 'owner'),
      member: { name: 'owner', group, out: files.owner },
      produce: true,
    });
    const common = { brokers: [brokers], topic, group };
    const remoteA = await startNodeMember('ferrolog', {
      ...common,
      name: 'remote-a',
      out: files['remote-a'],
    });
    const remoteB = await startNodeMember('ferrolog', {
      ...common,
      name: 'remote-b',
      out: files['remote-b'],
    });
    const kjs = await startNodeMember('kafkajs', { ...common, name: 'kafkajs', out: files.kafkajs });
    const java = await startJavaMember(brokers, topic, group, files.java, 'java');
    await untilAssigned(files, names, 'all five members to share the partitions');

    // SIGKILL a member process: after its session timeout (6 s) the
    // others take its partitions over.
    const killedAssign = records(files['remote-b'])
      .filter((r) => r.k === 'assign')
      .at(-1);
    remoteB.kill('SIGKILL');
    await exited(remoteB);
    const killedAt = performance.timeOrigin + performance.now();
    const survivors = names.filter((n) => n !== 'remote-b');
    await until(
      () =>
        records(files.owner)
          .concat(...survivors.slice(1).map((n) => records(files[n])))
          .some((r) => r.k === 'assign' && r.t > killedAt && r.parts.length > 0),
      'a rebalance after the kill',
      60_000,
    );
    await untilAssigned(files, survivors, 'the survivors to share every partition');

    // The producer stops; the group drains to lag 0.
    writeFileSync(join(dir, 'owner.produce-stop'), '');
    await until(() => existsSync(join(dir, 'owner.produced')), 'the producer to stop', 30_000);
    const admin = await remoteAdmin(brokers);
    const end = await untilLagZero(admin, group, topic);
    expect(end.reduce((a, b) => a + b, 0)).toBe(Number(readFileSync(join(dir, 'owner.produced'), 'utf8')));

    for (const n of ['remote-a', 'kafkajs', 'java']) writeFileSync(`${files[n]}.stop`, '');
    await Promise.all([exited(remoteA), exited(kjs), exited(java)]);
    owner.kill('SIGTERM');
    await exited(owner);
    expect(owner.exitCode).toBe(0);

    const all = names.map((n) => records(files[n]));
    for (const [i, recs] of all.entries()) {
      expect(
        recs.some((r) => r.k === 'msg'),
        `${names[i]} processed messages`,
      ).toBe(true);
    }
    const { intervals, strays } = ownership(all);
    expect(strays).toEqual([]);
    expect(overlaps(intervals)).toEqual([]);
    expect(missing(all, end)).toEqual([]);
    // The killed member's partitions moved: each was processed by another
    // member after the kill.
    expect(killedAssign?.k).toBe('assign');
    const moved = killedAssign?.k === 'assign' ? killedAssign.parts : [];
    expect(moved.length).toBeGreaterThan(0);
    for (const p of moved) {
      expect(
        all.some((recs) =>
          recs.some((r) => r.k === 'msg' && r.p === p && r.m !== 'remote-b' && r.t0 > killedAt),
        ),
        `partition ${p} consumed after the kill`,
      ).toBe(true);
    }
  }, 240_000);

  it.each([
    'SIGTERM',
    'SIGKILL',
  ] as const)('the owner restarts (%s): the group, its offsets and a static member’s assignment survive; members rejoin', async (signal) => {
    const dir = tempDir();
    const port = await freePort();
    const brokers = `127.0.0.1:${port}`;
    const topic = 'restart';
    const group = 'restart-group';
    const files = { java: join(dir, 'java.jsonl'), kafkajs: join(dir, 'kafkajs.jsonl') };
    const ownerOptions: OwnerOptions = {
      dataDir: join(dir, 'data'),
      port,
      topic,
      out: join(dir, 'owner'),
      member: null,
      produce: true,
    };
    let owner = await startOwner(ownerOptions);
    const java = await startJavaMember(brokers, topic, group, files.java, 'java', 'java-static');
    const kjs = await startNodeMember('kafkajs', {
      brokers: [brokers],
      topic,
      group,
      name: 'kafkajs',
      out: files.kafkajs,
    });
    await untilAssigned(files, ['java', 'kafkajs'], 'both members to share the partitions');
    // Some progress committed, then the owner stops with the producer.
    const admin = await remoteAdmin(brokers);
    await until(
      () => records(files.java).filter((r) => r.k === 'msg').length > 50,
      'java to consume',
      60_000,
    );
    writeFileSync(`${ownerOptions.out}.produce-stop`, '');
    await until(() => existsSync(`${ownerOptions.out}.produced`), 'the producer to stop', 30_000);
    const end = await untilLagZero(admin, group, topic);
    const before = await admin.describeGroups([group]);
    const javaBefore = records(files.java).filter((r) => r.k === 'assign' || r.k === 'revoke');
    await admin.disconnect();
    cleanups.length = 0;

    owner.kill(signal);
    await exited(owner);
    owner = await startOwner({ ...ownerOptions, out: join(dir, 'owner2'), produce: false });

    const again = await remoteAdmin(brokers);
    // Offsets survive.
    expect((await committed(again, group, topic)).join(' ')).toBe(end.join(' '));
    // The group and its members survive: the same generation, the
    // static member with its id, the dynamic one too (as in Kafka, each
    // with a fresh session).
    const after = await again.describeGroups([group]);
    const ids = (g: typeof before) => g.groups[0].members.map((m) => m.memberId).sort();
    expect(after.groups[0].state).toBe('Stable');
    expect(ids(after)).toEqual(ids(before));

    // Members carry on: new messages are consumed to lag 0, and the
    // static member kept its assignment through the restart without a
    // rebalance.
    const producer = new Kafka({ brokers: [brokers], logLevel: 0 }).producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: PARTITIONS * 5 }, (_, i) => ({
        partition: i % PARTITIONS,
        value: `after${i}`,
      })),
    });
    await producer.disconnect();
    const end2 = await untilLagZero(again, group, topic);
    expect(end2.reduce((a, b) => a + b, 0)).toBe(end.reduce((a, b) => a + b, 0) + PARTITIONS * 5);
    const javaAfter = records(files.java).filter((r) => r.k === 'assign' || r.k === 'revoke');
    expect(javaAfter).toEqual(javaBefore);

    for (const f of Object.values(files)) writeFileSync(`${f}.stop`, '');
    await Promise.all([exited(java), exited(kjs)]);
    owner.kill('SIGTERM');
    await exited(owner);
    const all = [records(files.java), records(files.kafkajs)];
    const { intervals, strays } = ownership(all);
    expect(strays).toEqual([]);
    expect(overlaps(intervals)).toEqual([]);
    expect(missing(all, end2)).toEqual([]);
  }, 180_000);

  it('two groups on one topic are independent, and an evicted member’s late commit is refused', async () => {
    const dir = tempDir();
    const port = await freePort();
    const brokers = `127.0.0.1:${port}`;
    const topic = 'two';
    const owner = await startOwner({
      dataDir: join(dir, 'data'),
      port,
      topic,
      out: join(dir, 'owner'),
      member: null,
      produce: false,
    });
    const producer = new Kafka({ brokers: [brokers], logLevel: 0 }).producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: PARTITIONS * 10 }, (_, i) => ({
        partition: i % PARTITIONS,
        value: `v${i}`,
      })),
    });

    // Group "one": a ferrolog process and a kafkajs process. Group "two":
    // one ferrolog process. Each consumes everything; a member leaving
    // "one" does not touch "two".
    const f = (n: string) => join(dir, `${n}.jsonl`);
    const one1 = await startNodeMember('ferrolog', {
      brokers: [brokers],
      topic,
      group: 'one',
      name: 'one1',
      out: f('one1'),
    });
    const one2 = await startNodeMember('kafkajs', {
      brokers: [brokers],
      topic,
      group: 'one',
      name: 'one2',
      out: f('one2'),
    });
    const two = await startNodeMember('ferrolog', {
      brokers: [brokers],
      topic,
      group: 'two',
      name: 'two',
      out: f('two'),
    });
    const admin = await remoteAdmin(brokers);
    await untilAssigned({ one1: f('one1'), one2: f('one2') }, ['one1', 'one2'], 'group one to settle');
    await untilAssigned({ two: f('two') }, ['two'], 'group two to settle');
    const end = await untilLagZero(admin, 'one', topic);
    await untilLagZero(admin, 'two', topic);
    const twoGeneration = (await admin.describeGroups(['two'])).groups[0];
    const twoAssigns = records(f('two')).filter((r) => r.k === 'assign').length;
    writeFileSync(`${f('one2')}.stop`, '');
    await exited(one2);
    await untilAssigned({ one1: f('one1') }, ['one1'], 'group one without its second member');
    expect(records(f('two')).filter((r) => r.k === 'assign').length).toBe(twoAssigns);
    expect((await admin.describeGroups(['two'])).groups[0].members.map((m) => m.memberId)).toEqual(
      twoGeneration.members.map((m) => m.memberId),
    );
    expect(missing([records(f('one1')), records(f('one2'))], end)).toEqual([]);
    expect(missing([records(f('two'))], end)).toEqual([]);
    for (const n of ['one1', 'two']) writeFileSync(`${f(n)}.stop`, '');
    await Promise.all([exited(one1), exited(two)]);

    // An evicted member's late commit: a kafkajs member in another process
    // is stopped (SIGSTOP) mid-message for longer than its session; the
    // coordinator evicts it; resumed, its commit with its old member id
    // and generation is refused, and the group's offsets do not move.
    const late = spawn(
      'node',
      [join(here, 'late-commit.mjs'), JSON.stringify({ brokers: [brokers], topic, group: 'late' })],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    children.push(late);
    let lateOut = '';
    late.stdout?.on('data', (d) => {
      lateOut += d;
    });
    await until(() => lateOut.includes('holding'), 'the late member to hold a message', 60_000);
    const committedBefore = await committed(admin, 'late', topic);
    late.kill('SIGSTOP');
    // Evicted once its session (6 s) has passed without a heartbeat.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const g = (await admin.describeGroups(['late'])).groups[0];
      if (g.members.length === 0) break;
      if (Date.now() > deadline) throw new Error(`the stopped member was not evicted: ${JSON.stringify(g)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    late.kill('SIGCONT');
    late.stdin?.write('go\n');
    await until(() => lateOut.includes('commit '), 'the late commit', 30_000);
    expect(lateOut).toMatch(/commit (UNKNOWN_MEMBER_ID|ILLEGAL_GENERATION)/);
    expect(await committed(admin, 'late', topic)).toEqual(committedBefore);
    late.kill('SIGKILL');
    owner.kill('SIGTERM');
    await exited(owner);
  }, 180_000);
});
