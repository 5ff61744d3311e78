/**
 * A local Apache Kafka 4.1.1 cluster from the cached jars: KRaft, every node
 * both broker and controller ("combined" mode), on 127.0.0.1 with free ports
 * and small heaps. For tests, fixture generation and benchmarks.
 *
 *   import { startCluster, stopCluster } from './cluster.mjs';
 *   const c = await startCluster({ nodes: 1 });   // c.bootstrap = '127.0.0.1:PORT'
 *   await stopCluster(c);                          // SIGTERM: controlled shutdown, clean segments
 *
 *   node test/kafka/cluster.mjs start [--nodes N] [--dir DIR] [--state FILE] [--config k=v ...]
 *   node test/kafka/cluster.mjs stop  [--state FILE]
 *
 * The command-line `start` leaves the JVMs running, detached, and writes
 * their pids, ports and directories to a state file (default
 * <repo>/.cache/kafka-cluster.json) that `stop` reads.
 *
 * Kafka 4.x has no ZooKeeper: each node's log directory must first be
 * formatted with kafka.tools.StorageTool (what bin/kafka-storage.sh runs),
 * which writes meta.properties with the cluster id and the bootstrap
 * metadata; then kafka.Kafka (what bin/kafka-server-start.sh runs) starts it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureKafkaJars, REPO_ROOT } from './jars.mjs';

export const DEFAULT_STATE_FILE = join(REPO_ROOT, '.cache', 'kafka-cluster.json');

/** A port the kernel says is free now (bound and released at once). */
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

/** A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (as StorageTool random-uuid prints). */
export function randomClusterId() {
  return randomBytes(16).toString('base64url');
}

function propertiesText(props) {
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function canConnect(port) {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/**
 * Starts an N-node cluster and resolves once every node logged that it
 * started and accepts connections on its broker port.
 *
 * options:
 *   nodes         number of nodes (default 1); each is broker + controller
 *   dir           base directory (default: a new temp folder); node i uses <dir>/node-<i>/{logs,server.properties,out.log}
 *   logDirs       optional array: the log directory of each node (overrides <dir>/node-<i>/logs)
 *   clusterId     the KRaft cluster id (default random); reuse one to restart over formatted dirs
 *   format        format the log dirs first (default true; formatting skips already formatted dirs)
 *   config        extra broker properties for every node, e.g. { 'log.segment.bytes': 4096 }
 *   heap          JVM max heap (default '384m')
 *   detached      leave the JVMs running after this process exits (the CLI's start)
 *   timeoutMs     how long to wait for readiness (default 120 s)
 *   ports         optional { broker: [...], controller: [...] } to reuse ports across restarts
 */
export async function startCluster(options = {}) {
  const n = options.nodes ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`nodes must be 1..9, not ${n}`);
  const cp = ensureKafkaJars();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'ferrolog-kafka-'));
  mkdirSync(dir, { recursive: true });
  const clusterId = options.clusterId ?? randomClusterId();
  const heap = options.heap ?? '384m';
  const brokerPorts = options.ports?.broker ?? [];
  const controllerPorts = options.ports?.controller ?? [];
  for (let i = brokerPorts.length; i < n; i++) brokerPorts.push(await freePort());
  for (let i = controllerPorts.length; i < n; i++) controllerPorts.push(await freePort());
  const voters = controllerPorts.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
  const rf = Math.min(n, 3);

  const nodes = [];
  for (let i = 0; i < n; i++) {
    const nodeDir = join(dir, `node-${i + 1}`);
    mkdirSync(nodeDir, { recursive: true });
    const logDir = options.logDirs?.[i] ?? join(nodeDir, 'logs');
    const props = {
      'process.roles': 'broker,controller',
      'node.id': i + 1,
      'controller.quorum.voters': voters,
      listeners: `PLAINTEXT://127.0.0.1:${brokerPorts[i]},CONTROLLER://127.0.0.1:${controllerPorts[i]}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${brokerPorts[i]}`,
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      'log.dirs': logDir,
      'num.partitions': 1,
      'default.replication.factor': rf,
      'min.insync.replicas': 1,
      'offsets.topic.replication.factor': rf,
      'offsets.topic.num.partitions': 1,
      'transaction.state.log.replication.factor': rf,
      'transaction.state.log.min.isr': 1,
      'transaction.state.log.num.partitions': 1,
      'share.coordinator.state.topic.replication.factor': rf,
      'share.coordinator.state.topic.min.isr': 1,
      'group.initial.rebalance.delay.ms': 0,
      'auto.create.topics.enable': false,
      ...(options.config ?? {}),
    };
    const propsFile = join(nodeDir, 'server.properties');
    writeFileSync(propsFile, propertiesText(props));
    nodes.push({ id: i + 1, dir: nodeDir, logDir, propsFile, brokerPort: brokerPorts[i], pid: 0 });
  }

  if (options.format ?? true) {
    for (const node of nodes) {
      const r = spawnSync(
        'java',
        [
          '-Xmx128m',
          '-cp',
          cp,
          'kafka.tools.StorageTool',
          'format',
          '--config',
          node.propsFile,
          '--cluster-id',
          clusterId,
          '--ignore-formatted',
        ],
        { encoding: 'utf8' },
      );
      if (r.error !== undefined || r.status !== 0) {
        throw new Error(
          `kafka-storage format failed for node ${node.id}: ${r.error?.message ?? r.stdout + r.stderr}`,
        );
      }
    }
  }

  for (const node of nodes) {
    const outFile = join(node.dir, 'out.log');
    const fd = openSync(outFile, 'a');
    const child = spawn(
      'java',
      [
        `-Xms64m`,
        `-Xmx${heap}`,
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Djava.awt.headless=true',
        '-cp',
        cp,
        'kafka.Kafka',
        node.propsFile,
      ],
      { stdio: ['ignore', fd, fd], detached: options.detached ?? false },
    );
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start node ${node.id}`);
    if (options.detached) child.unref();
    node.pid = child.pid;
    node.outFile = outFile;
  }

  const cluster = {
    dir,
    clusterId,
    nodes: nodes.map(({ id, dir: d, logDir, propsFile, brokerPort, pid, outFile }) => ({
      id,
      dir: d,
      logDir,
      propsFile,
      brokerPort,
      pid,
      outFile,
    })),
    bootstrap: nodes.map((x) => `127.0.0.1:${x.brokerPort}`).join(','),
    ports: { broker: brokerPorts, controller: controllerPorts },
    ownsDir: options.dir === undefined,
  };

  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (const node of cluster.nodes) {
    for (;;) {
      const out = existsSync(node.outFile) ? readFileSync(node.outFile, 'utf8') : '';
      if (/Kafka Server started/.test(out) && (await canConnect(node.brokerPort))) break;
      if (!alive(node.pid)) {
        await stopCluster(cluster, { keepDir: true });
        throw new Error(`Kafka node ${node.id} exited during startup; its log:\n${out.slice(-4000)}`);
      }
      if (Date.now() > deadline) {
        await stopCluster(cluster, { keepDir: true });
        throw new Error(`Kafka node ${node.id} not ready in time; its log:\n${out.slice(-4000)}`);
      }
      await sleep(200);
    }
  }
  return cluster;
}

/**
 * Stops every node: SIGTERM, which runs Kafka's shutdown hook (controlled
 * shutdown, then every log closed and the clean-shutdown marker written),
 * then SIGKILL for a node still alive after `graceMs`. Removes the base
 * directory when startCluster created it, unless `keepDir`.
 */
export async function stopCluster(cluster, { graceMs = 30_000, keepDir = false } = {}) {
  // Brokers first in reverse order, so the last one standing keeps the quorum while others shut down.
  const nodes = [...cluster.nodes].reverse();
  for (const node of nodes) {
    if (node.pid > 0 && alive(node.pid)) {
      try {
        process.kill(node.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
  const deadline = Date.now() + graceMs;
  for (const node of nodes) {
    while (node.pid > 0 && alive(node.pid) && Date.now() < deadline) await sleep(100);
    if (node.pid > 0 && alive(node.pid)) {
      try {
        process.kill(node.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      node.killed = true;
    }
  }
  // A child of this process stays a zombie (and "alive" to kill 0) until reaped; spawn reaps it.
  if (cluster.ownsDir && !keepDir) rmSync(cluster.dir, { recursive: true, force: true });
  return cluster.nodes.map((x) => ({ id: x.id, killed: x.killed === true }));
}

function parseArgs(argv) {
  const out = { config: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--nodes') out.nodes = Number(next());
    else if (a === '--dir') out.dir = next();
    else if (a === '--state') out.state = next();
    else if (a === '--cluster-id') out.clusterId = next();
    else if (a === '--log-dir') out.logDirs = [...(out.logDirs ?? []), next()];
    else if (a === '--config') {
      const kv = next();
      const eq = kv.indexOf('=');
      if (eq < 1) throw new Error(`--config wants key=value, not ${kv}`);
      out.config[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a === '--no-format') out.format = false;
    else if (a === '--keep') out.keep = true;
    else if (out.command === undefined) out.command = a;
    else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const state = args.state ?? DEFAULT_STATE_FILE;
  if (args.command === 'start') {
    if (existsSync(state)) throw new Error(`${state} exists: a cluster may be running; stop it first`);
    const cluster = await startCluster({
      nodes: args.nodes,
      dir: args.dir,
      clusterId: args.clusterId,
      logDirs: args.logDirs,
      config: args.config,
      format: args.format,
      detached: true,
    });
    mkdirSync(join(state, '..'), { recursive: true });
    writeFileSync(state, `${JSON.stringify(cluster, null, 2)}\n`);
    process.stdout.write(`${cluster.bootstrap}\n`);
  } else if (args.command === 'stop') {
    if (!existsSync(state))
      throw new Error(`${state} does not exist: no cluster started from the command line`);
    const cluster = JSON.parse(readFileSync(state, 'utf8'));
    const result = await stopCluster(cluster, { keepDir: args.keep === true });
    rmSync(state, { force: true });
    for (const r of result)
      process.stdout.write(`node ${r.id}: ${r.killed ? 'killed after grace period' : 'stopped'}\n`);
  } else {
    process.stderr.write(
      'usage: node test/kafka/cluster.mjs start [--nodes N] [--dir DIR] [--log-dir D]... [--cluster-id ID] [--config k=v]... [--no-format] [--state FILE]\n' +
        '       node test/kafka/cluster.mjs stop [--state FILE] [--keep]\n',
    );
    process.exitCode = 2;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
