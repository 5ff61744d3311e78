/**
 * Remakes test/fixtures/kafka-4.1.1/: partition directories written by a real
 * Apache Kafka 4.1.1 broker, and expected.json, the records as the producer
 * sent them and the broker acked them.
 *
 *   node test/kafka/make-fixtures.mjs [OUT_DIR]
 *
 * Starts a 1-node KRaft cluster from the cached jars, produces with
 * confluent-kafka-python (test/kafka/produce_fixtures.py: plain records,
 * small rolled segments, gzip/snappy/lz4/zstd, an idempotent producer, a
 * transactional producer with a commit, an abort and a commit), stops the
 * broker with SIGTERM (controlled shutdown: every segment closed cleanly,
 * indexes trimmed, the clean-shutdown marker written), then copies the
 * fixture topics' partition directories and the broker's top-level log
 * directory files (meta.properties, checkpoints). Kafka's own metadata log
 * (__cluster_metadata-0) and internal topics (__consumer_offsets,
 * __transaction_state) are left out.
 *
 * Needs java, mvn (first run) and python3 with confluent_kafka; the system
 * python (/usr/bin/python3, apt's python3-confluent-kafka) is tried first.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { startCluster, stopCluster } from './cluster.mjs';
import { REPO_ROOT } from './jars.mjs';

const out = process.argv[2] ?? join(REPO_ROOT, 'test', 'fixtures', 'kafka-4.1.1');

function python() {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import confluent_kafka'], { stdio: 'ignore' });
    if (r.error === undefined && r.status === 0) return py;
  }
  throw new Error('no python3 with confluent_kafka (apt-get install python3-confluent-kafka)');
}

function dirBytes(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

const py = python();
const cluster = await startCluster({ nodes: 1 });
const logDir = cluster.nodes[0].logDir;
const expectedTmp = join(cluster.dir, 'expected.json');
let stopped = false;
try {
  const r = spawnSync(
    py,
    [join(REPO_ROOT, 'test', 'kafka', 'produce_fixtures.py'), cluster.bootstrap, expectedTmp],
    {
      stdio: 'inherit',
      timeout: 300_000,
    },
  );
  if (r.error !== undefined || r.status !== 0)
    throw new Error(`producing failed (${r.error?.message ?? r.status})`);
  const result = await stopCluster(cluster, { keepDir: true });
  stopped = true;
  if (result.some((x) => x.killed)) throw new Error('the broker did not stop within the grace period');
  const brokerLog = readFileSync(cluster.nodes[0].outFile, 'utf8');
  if (!/Shut down completely|shut down completed|shutdown completed/i.test(brokerLog)) {
    throw new Error('the broker log does not show a completed shutdown');
  }
  if (!existsSync(join(logDir, '.kafka_cleanshutdown'))) {
    throw new Error(`no .kafka_cleanshutdown marker in ${logDir}: not a clean shutdown`);
  }

  const expected = JSON.parse(readFileSync(expectedTmp, 'utf8'));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const partitionDirs = [];
  for (const [topic, { partitions }] of Object.entries(expected.topics)) {
    for (let p = 0; p < partitions; p++) {
      const name = `${topic}-${p}`;
      cpSync(join(logDir, name), join(out, name), { recursive: true });
      partitionDirs.push(name);
    }
  }
  // Top-level files of Kafka's log directory, for the "open a Kafka log dir" cases.
  for (const f of readdirSync(logDir)) {
    const p = join(logDir, f);
    if (statSync(p).isFile()) cpSync(p, join(out, f));
  }
  expected.kafkaVersion = '4.1.1';
  expected.partitionDirs = partitionDirs;
  expected.logDirFiles = readdirSync(logDir).filter((f) => statSync(join(logDir, f)).isFile());
  expected.leftOut = readdirSync(logDir).filter(
    (f) => statSync(join(logDir, f)).isDirectory() && !partitionDirs.includes(f),
  );
  writeFileSync(join(out, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
  // The repository's formatter checks JSON under test/ too: leave the file as it would.
  spawnSync(
    join(REPO_ROOT, 'node_modules', '.bin', 'biome'),
    ['format', '--write', join(out, 'expected.json')],
    {
      stdio: 'ignore',
    },
  );
  process.stdout.write(
    `wrote ${partitionDirs.length} partition dir(s), ${expected.records.length} record(s), ` +
      `${expected.controlBatches.length} control batch(es) to ${out}: ${dirBytes(out)} bytes\n`,
  );
} finally {
  if (!stopped) await stopCluster(cluster, { keepDir: true });
  rmSync(cluster.dir, { recursive: true, force: true });
}
