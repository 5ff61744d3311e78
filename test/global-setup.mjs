/**
 * vitest global setup: the outside programs the compatibility tests drive,
 * installed from the registries when missing, so that `npm test` on a fresh
 * machine needs nothing else (CI runs as root). kcat and librdkafka's Python
 * client come from Debian's packages; Apache Kafka's jars are fetched from
 * Maven Central by test/kafka/jars.mjs when a test first needs them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function pythonHasConfluent() {
  return spawnSync('/usr/bin/python3', ['-c', 'import confluent_kafka'], { stdio: 'ignore' }).status === 0;
}

export default function setup() {
  const missing = [];
  if (!existsSync('/usr/bin/kcat')) missing.push('kcat');
  if (!pythonHasConfluent()) missing.push('python3-confluent-kafka');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    process.stderr.write(
      `global setup: ${missing.join(', ')} missing and cannot be installed here (needs root and apt-get); the tests that use them will fail\n`,
    );
    return;
  }
  process.stderr.write(`global setup: installing ${missing.join(', ')} with apt-get\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-q', ...missing], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
}
