/**
 * Apache Kafka 4.1.1's own jars, for the compatibility tests and scripts
 * (DumpLogSegments on ferrolog's files, a real broker for fixtures).
 *
 * The jars come from Maven Central through test/kafka/pom.xml and are cached
 * in <repo>/.cache/kafka-jars (gitignored). Several vitest workers may ask at
 * once: each fetches into its own temporary directory and renames it into
 * place, so the cache directory appears whole or not at all, and a loser of
 * the race simply uses the winner's copy.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KAFKA_VERSION = '4.1.1';
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const JARS_DIR = join(REPO_ROOT, '.cache', 'kafka-jars');
const POM = join(REPO_ROOT, 'test', 'kafka', 'pom.xml');

/** The jars without which neither the tools nor the broker run: a cache missing one is refetched. */
const REQUIRED = [
  `kafka_2.13-${KAFKA_VERSION}.jar`,
  `kafka-tools-${KAFKA_VERSION}.jar`,
  `kafka-clients-${KAFKA_VERSION}.jar`,
  `kafka-storage-${KAFKA_VERSION}.jar`,
  `kafka-server-${KAFKA_VERSION}.jar`,
  `kafka-metadata-${KAFKA_VERSION}.jar`,
  `kafka-raft-${KAFKA_VERSION}.jar`,
];

function complete(dir) {
  if (!existsSync(dir)) return false;
  const have = new Set(readdirSync(dir));
  return REQUIRED.every((j) => have.has(j));
}

/** True when a `java` runs here (the tests that need Kafka's jars skip, visibly, when not). */
export function javaAvailable() {
  const r = spawnSync('java', ['-version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/** True when `mvn` runs here (needed only when the jar cache is empty). */
export function mavenAvailable() {
  const r = spawnSync('mvn', ['-v'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/**
 * Makes sure the jars are in the cache (fetching them with Maven when not)
 * and returns the Java classpath. Synchronous on purpose: it runs once, in a
 * test's beforeAll or a script's start, never on a hot path.
 */
export function ensureKafkaJars() {
  if (!complete(JARS_DIR)) {
    mkdirSync(dirname(JARS_DIR), { recursive: true });
    const tmp = `${JARS_DIR}.tmp-${process.pid}-${Date.now()}`;
    const r = spawnSync(
      'mvn',
      ['-q', '-B', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (r.error !== undefined || r.status !== 0 || !complete(tmp)) {
      rmSync(tmp, { recursive: true, force: true });
      const why = r.error !== undefined ? r.error.message : `${r.stdout}\n${r.stderr}`.trim();
      throw new Error(`fetching Apache Kafka ${KAFKA_VERSION} jars with Maven failed: ${why}`);
    }
    if (complete(JARS_DIR)) {
      // Another worker won the race while we were fetching.
      rmSync(tmp, { recursive: true, force: true });
    } else {
      // A partial directory (an interrupted fetch of an older layout) is moved aside first.
      if (existsSync(JARS_DIR)) rmSync(JARS_DIR, { recursive: true, force: true });
      try {
        renameSync(tmp, JARS_DIR);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        if (!complete(JARS_DIR)) throw e;
      }
    }
  }
  return classpath();
}

/** The classpath of the cached jars (call ensureKafkaJars first). */
export function classpath() {
  return readdirSync(JARS_DIR)
    .filter((f) => f.endsWith('.jar'))
    .sort()
    .map((f) => join(JARS_DIR, f))
    .join(':');
}

/**
 * Runs a Kafka main class to completion and returns its exit status and
 * output. `heap` bounds the JVM so parallel tests stay small.
 */
export function runKafkaClass(mainClass, args, { heap = '256m', timeoutMs = 300_000 } = {}) {
  const cp = ensureKafkaJars();
  const r = spawnSync('java', [`-Xmx${heap}`, '-cp', cp, mainClass, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: timeoutMs,
  });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
