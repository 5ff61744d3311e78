/**
 * The broker's security against real clients: TLS (kafkajs, kcat and
 * ferrolog's own remote client), SASL_SSL through `ferrolog serve`, and ACLs
 * (Kafka's model, enforced with SASL) managed through kafkajs' admin, the
 * remote admin and the in-process admin, with kcat refused when no ACL
 * allows it.
 *
 * Certificates are made per run with the openssl CLI (a throwaway CA and a
 * localhost/127.0.0.1 certificate): no key is committed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Kafka as KafkaJS,
  logLevel as kjsLogLevel,
  ResourcePatternTypes,
} from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessages, Kafka, Log } from '../ts';
import { tempDir, until } from './helpers';

const bin = join(__dirname, '..', 'dist', 'cli', 'main.js');
const KCAT = '/usr/bin/kcat';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Certs {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** A throwaway CA and a certificate it signs for localhost and 127.0.0.1 (EC P-256). */
function makeCerts(): Certs {
  // Not tempDir(): that one is removed after each test, these serve the file.
  const dir = mkdtempSync(join(tmpdir(), 'ferrolog-certs-'));
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  writeFileSync(
    join(dir, 'leaf.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n',
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=ferrolog-test-ca',
  ]);
  run(['req', ...ec, '-keyout', 'key.pem', '-out', 'leaf.csr', '-subj', '/CN=localhost']);
  run([
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'cert.pem',
    '-days',
    '2',
    '-extfile',
    'leaf.ext',
  ]);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'cert.pem'),
    key: join(dir, 'key.pem'),
  };
}

let certs: Certs;
beforeAll(() => {
  certs = makeCerts();
});
afterAll(() => {
  rmSync(certs.dir, { recursive: true, force: true });
});

function kcatRun(broker: string, args: string[], input?: string) {
  return spawnSync(KCAT, ['-b', broker, ...args], { encoding: 'utf8', input, timeout: 60_000 });
}

function kcat(broker: string, args: string[], input?: string): string {
  const r = kcatRun(broker, args, input);
  expect(r.status, `kcat ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function readLog(dir: string, topic: string, partition = 0): Promise<string[]> {
  const log = Log.open(dir);
  try {
    const out: string[] = [];
    let offset = log.watermarks(topic, partition).logStartOffset;
    for (;;) {
      const r = log.read(topic, partition, offset, 1 << 20);
      if (r.batches.length === 0) break;
      for (const m of decodeMessages(r.batches, offset)) {
        out.push(`${m.key?.toString() ?? ''}|${m.value?.toString() ?? ''}`);
      }
      offset = r.nextOffset;
    }
    return out;
  } finally {
    await log.close();
  }
}

const quiet = { logLevel: kjsLogLevel.NOTHING } as const;

describe('TLS on the broker', () => {
  it('serves kafkajs, kcat and the ferrolog remote client over TLS, and a plaintext client gets nothing', async () => {
    const dir = tempDir();
    const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
    const server = await kafka.listen({
      port: 0,
      ssl: { cert: readFileSync(certs.cert), key: readFileSync(certs.key, 'utf8') },
    });
    cleanups.push(() => server.close());
    const broker = `127.0.0.1:${server.address.port}`;
    const ca = readFileSync(certs.ca, 'utf8');

    const kjs = new KafkaJS({ brokers: [broker], ssl: { ca: [ca] }, ...quiet });
    const admin = kjs.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'tls', numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kjs.producer();
    await producer.connect();
    await producer.send({ topic: 'tls', acks: -1, messages: [{ key: 'kafkajs', value: 'over tls' }] });
    await producer.disconnect();

    const ssl = ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${certs.ca}`];
    kcat(broker, [...ssl, '-P', '-t', 'tls', '-K', ':'], 'kcat:over tls\n');
    expect(kcat(broker, [...ssl, '-C', '-t', 'tls', '-o', 'beginning', '-e', '-q', '-f', '%k|%s\n'])).toBe(
      'kafkajs|over tls\nkcat|over tls\n',
    );

    // ferrolog's own remote client (issue 14): producer and admin over TLS.
    const remote = new Kafka({ brokers: [broker], ssl: { ca: [ca] }, logLevel: 0 });
    const rp = remote.producer();
    await rp.connect();
    await rp.send({ topic: 'tls', acks: -1, messages: [{ key: 'ferrolog', value: 'over tls' }] });
    await rp.disconnect();
    const ra = remote.admin();
    await ra.connect();
    expect(await ra.listTopics()).toContain('tls');
    await ra.disconnect();
    // Without the CA the certificate is not trusted.
    const untrusted = new KafkaJS({ brokers: [broker], ssl: true, retry: { retries: 0 }, ...quiet }).admin();
    await expect(untrusted.connect()).rejects.toThrow();

    // A plaintext client cannot speak to the TLS listener.
    const plain = kcatRun(broker, ['-L', '-m', '5']);
    expect(plain.status).not.toBe(0);
    expect(await readLog(dir, 'tls')).toEqual(['kafkajs|over tls', 'kcat|over tls', 'ferrolog|over tls']);
  }, 120_000);

  it('refuses a certificate without its key, and a key that is not PEM', async () => {
    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    await expect(
      kafka.listen({ port: 0, ssl: { cert: readFileSync(certs.cert, 'utf8') } as never }),
    ).rejects.toThrow(/cert and key/);
    await expect(
      kafka.listen({ port: 0, ssl: { cert: readFileSync(certs.cert), key: 'nope' } }),
    ).rejects.toThrow(/TLS/);
  });
});

describe('ACLs', () => {
  async function serve(extra: string[]): Promise<{ child: ChildProcess; broker: string; dir: string }> {
    const dir = tempDir();
    const child = spawn(process.execPath, [
      bin,
      'serve',
      '--data-dir',
      dir,
      '--listen',
      '127.0.0.1:0',
      ...extra,
    ]);
    let err = '';
    child.stderr?.on('data', (d) => {
      err += d;
    });
    cleanups.push(async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const exited = new Promise((r) => child.on('exit', r));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    });
    await until(
      () => /serving .* on 127\.0\.0\.1:\d+/.test(err) || child.exitCode !== null,
      'the serve line',
    );
    const m = /on 127\.0\.0\.1:(\d+)/.exec(err);
    if (!m) throw new Error(`serve did not start: ${err}`);
    return { child, broker: `127.0.0.1:${m[1]}`, dir };
  }

  const writeOrders = {
    resourceType: AclResourceTypes.TOPIC,
    resourceName: 'orders',
    resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: 'User:alice',
    host: '*',
    operation: AclOperationTypes.WRITE,
    permissionType: AclPermissionTypes.ALLOW,
  };
  const anyFilter = {
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  };

  it('SASL_SSL with ferrolog serve: kafkajs is refused, then allowed by an ACL a super user creates, then refused again; kcat is refused with a clear error', async () => {
    const users = join(tempDir(), 'users');
    writeFileSync(users, 'admin:admin-pw\nalice:alice-pw\ncarol:carol-pw\n');
    const { broker } = await serve([
      '--sasl-users',
      users,
      '--super-users',
      'admin',
      '--tls-cert',
      certs.cert,
      '--tls-key',
      certs.key,
    ]);
    const ca = readFileSync(certs.ca, 'utf8');
    const as = (username: string, password: string) =>
      new KafkaJS({
        brokers: [broker],
        ssl: { ca: [ca] },
        sasl: { mechanism: 'scram-sha-256', username, password },
        retry: { retries: 0 },
        ...quiet,
      });
    const admin = as('admin', 'admin-pw').admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 1 }] });

    const alice = as('alice', 'alice-pw');
    const aliceAdmin = alice.admin();
    await aliceAdmin.connect();
    expect(await aliceAdmin.listTopics()).toEqual([]);
    await expect(aliceAdmin.createAcls({ acl: [writeOrders] })).rejects.toMatchObject({
      type: 'CLUSTER_AUTHORIZATION_FAILED',
    });
    await expect(aliceAdmin.describeAcls(anyFilter)).rejects.toMatchObject({
      type: 'CLUSTER_AUTHORIZATION_FAILED',
    });
    const producer = alice.producer();
    await producer.connect();
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'refused' }] })).rejects.toThrow(
      /authoriz/i,
    );

    expect(await admin.createAcls({ acl: [writeOrders] })).toBe(true);
    const described = await admin.describeAcls(anyFilter);
    expect(described.resources).toEqual([
      {
        resourceType: AclResourceTypes.TOPIC,
        resourceName: 'orders',
        resourcePatternType: ResourcePatternTypes.LITERAL,
        acls: [
          {
            principal: 'User:alice',
            host: '*',
            operation: AclOperationTypes.WRITE,
            permissionType: AclPermissionTypes.ALLOW,
          },
        ],
      },
    ]);
    await producer.send({ topic: 'orders', acks: -1, messages: [{ key: 'alice', value: 'allowed' }] });
    expect(await aliceAdmin.listTopics()).toEqual(['orders']);

    // kcat as carol (no ACL): a clear authorization error, over SASL_SSL.
    const carol = [
      '-X',
      'security.protocol=sasl_ssl',
      '-X',
      `ssl.ca.location=${certs.ca}`,
      '-X',
      'sasl.mechanisms=PLAIN',
      '-X',
      'sasl.username=carol',
      '-X',
      'sasl.password=carol-pw',
    ];
    const listed = kcatRun(broker, [...carol, '-L', '-t', 'orders', '-m', '10']);
    expect(`${listed.stdout}${listed.stderr}`).toMatch(/Topic authorization failed/i);
    const produced = kcatRun(broker, [...carol, '-P', '-t', 'orders', '-m', '10'], 'refused\n');
    expect(produced.status).not.toBe(0);
    expect(produced.stderr).toMatch(/authorization failed/i);
    // alice may write but not read.
    const alicePlain = carol.map((a) => a.replace('carol', 'alice'));
    const read = kcatRun(broker, [...alicePlain, '-C', '-t', 'orders', '-o', 'beginning', '-e', '-m', '10']);
    expect(`${read.stdout}${read.stderr}`).toMatch(/authorization failed/i);

    const removed = await admin.deleteAcls({ filters: [anyFilter] });
    expect(removed.filterResponses[0]?.matchingAcls.map((m) => m.principal)).toEqual(['User:alice']);
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'refused again' }] })).rejects.toThrow(
      /authoriz/i,
    );
    await producer.disconnect();
    await aliceAdmin.disconnect();
    await admin.disconnect();
  }, 180_000);

  it('the in-process admin manages the ACLs the broker enforces, without being subject to them; the remote admin goes through the broker', async () => {
    const dir = tempDir();
    const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
    const local = kafka.admin();
    await local.connect();
    await local.createTopics({ topics: [{ topic: 'orders' }] });
    // The owner needs no ACL, even with none on record.
    expect((await local.describeAcls(anyFilter)).resources).toEqual([]);
    await expect(local.createAcls({ acl: [{ ...writeOrders, principal: 'alice' }] })).rejects.toMatchObject({
      type: 'INVALID_REQUEST',
    });
    await expect(local.createAcls({ acl: [] })).rejects.toThrow('Empty ACL array');
    expect(await local.createAcls({ acl: [writeOrders] })).toBe(true);

    const server = await kafka.listen({
      port: 0,
      saslUsers: { alice: 'pw', root: 'root-pw' },
      superUsers: ['root'],
    });
    cleanups.push(() => server.close());
    const broker = `127.0.0.1:${server.address.port}`;
    const producer = new KafkaJS({
      brokers: [broker],
      sasl: { mechanism: 'plain', username: 'alice', password: 'pw' },
      retry: { retries: 0 },
      ...quiet,
    }).producer();
    await producer.connect();
    await producer.send({ topic: 'orders', acks: -1, messages: [{ key: 'a', value: 'allowed in process' }] });

    // The remote admin (Rust client): a super user manages ACLs, alice may not.
    const remoteAs = (username: string, password: string) =>
      new Kafka({ brokers: [broker], sasl: { mechanism: 'plain', username, password }, logLevel: 0 }).admin();
    const root = remoteAs('root', 'root-pw');
    await root.connect();
    const seen = await root.describeAcls(anyFilter);
    expect(seen.resources.map((r) => r.resourceName)).toEqual(['orders']);
    const groupAcl = {
      ...writeOrders,
      resourceType: AclResourceTypes.GROUP,
      resourceName: 'g-',
      resourcePatternType: ResourcePatternTypes.PREFIXED,
      operation: AclOperationTypes.READ,
    };
    expect(await root.createAcls({ acl: [groupAcl] })).toBe(true);
    expect(
      (await local.describeAcls({ ...anyFilter, resourceType: AclResourceTypes.GROUP })).resources,
    ).toEqual([
      {
        resourceType: AclResourceTypes.GROUP,
        resourceName: 'g-',
        resourcePatternType: ResourcePatternTypes.PREFIXED,
        acls: [{ principal: 'User:alice', host: '*', operation: AclOperationTypes.READ, permissionType: 3 }],
      },
    ]);
    const aliceRemote = remoteAs('alice', 'pw');
    await aliceRemote.connect();
    await expect(aliceRemote.deleteAcls({ filters: [anyFilter] })).rejects.toMatchObject({
      type: 'CLUSTER_AUTHORIZATION_FAILED',
    });
    await aliceRemote.disconnect();
    const removed = await root.deleteAcls({
      filters: [{ ...anyFilter, resourceType: AclResourceTypes.TOPIC, resourceName: 'orders' }],
    });
    expect(removed.filterResponses[0]?.matchingAcls).toHaveLength(1);
    await root.disconnect();
    // Removed remotely: the in-process view and the broker agree at once.
    expect(
      (await local.describeAcls({ ...anyFilter, resourceType: AclResourceTypes.TOPIC })).resources,
    ).toEqual([]);
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'refused' }] })).rejects.toThrow(
      /authoriz/i,
    );
    await producer.disconnect();
    await local.disconnect();
  }, 120_000);
});
