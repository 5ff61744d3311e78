/**
 * Runs a command with one Apache Kafka cluster started for it and stopped
 * afterwards (by pid, also on Ctrl-C): `npm test` runs cargo's and vitest's
 * suites under it so that they share one cluster instead of each starting
 * their own (see shared.mjs). The cluster's state file is named in
 * FERROLOG_KAFKA_STATE for the command's processes.
 *
 *   node test/kafka/with-cluster.mjs [--nodes N] -- command args...
 *
 * Without java the command runs with no cluster, and the tests that need
 * one say that they were skipped.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, stopCluster } from './cluster.mjs';
import { javaAvailable } from './jars.mjs';
import { STATE_ENV } from './shared.mjs';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash >= 0 ? argv.slice(0, dash) : [];
const command = dash >= 0 ? argv.slice(dash + 1) : argv;
if (command.length === 0) {
  process.stderr.write('usage: node test/kafka/with-cluster.mjs [--nodes N] -- command args...\n');
  process.exit(2);
}
const nodesAt = own.indexOf('--nodes');
const nodes = nodesAt >= 0 ? Number(own[nodesAt + 1]) : 1;

let cluster = null;
const stateDir = mkdtempSync(join(tmpdir(), 'ferrolog-shared-kafka-'));
const env = { ...process.env };
if (javaAvailable()) {
  const started = Date.now();
  cluster = await startCluster({ nodes });
  const state = join(stateDir, 'cluster.json');
  writeFileSync(state, `${JSON.stringify(cluster, null, 2)}\n`);
  env[STATE_ENV] = state;
  process.stderr.write(
    `with-cluster: Kafka (${nodes} node${nodes === 1 ? '' : 's'}) at ${cluster.bootstrap}, ready in ${Date.now() - started} ms\n`,
  );
} else {
  process.stderr.write('with-cluster: java not found; running without a shared Kafka cluster\n');
}

let stopping = null;
async function stop() {
  stopping ??= (async () => {
    if (cluster !== null) await stopCluster(cluster);
    rmSync(stateDir, { recursive: true, force: true });
  })();
  return stopping;
}

const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    child.kill(sig);
  });
}
const code = await new Promise((resolve) => {
  child.on('exit', (c, s) => resolve(c ?? (s !== null ? 1 : 0)));
  child.on('error', (e) => {
    process.stderr.write(`with-cluster: ${e.message}\n`);
    resolve(127);
  });
});
await stop();
process.exit(code);
