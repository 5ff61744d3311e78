/**
 * One Apache Kafka cluster for the whole test run.
 *
 * `npm test` runs cargo's and vitest's suites under `with-cluster.mjs`, which
 * starts a single-node cluster once and names its state file in
 * FERROLOG_KAFKA_STATE. Every test that needs a healthy cluster (and not a
 * special configuration, a node to kill or a restart) calls `useKafka()`: it
 * gets that cluster, or, when the test runs alone, one started for it that
 * `release()` stops. Sharing tests use topic and group names of their own.
 *
 *   const k = await useKafka({ nodes: 1 });   // k.bootstrap = '127.0.0.1:PORT'
 *   ...
 *   await k.release();                         // stops it only if it was started here
 */
import { existsSync, readFileSync } from 'node:fs';
import { startCluster, stopCluster } from './cluster.mjs';

export const STATE_ENV = 'FERROLOG_KAFKA_STATE';

/** The shared cluster's state, when the run started one and it has at least `nodes` nodes. */
function sharedState(nodes) {
  const file = process.env[STATE_ENV];
  if (file === undefined || file === '' || !existsSync(file)) return null;
  const state = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(state.nodes) || state.nodes.length < nodes) return null;
  return state;
}

export async function useKafka({ nodes = 1 } = {}) {
  const shared = sharedState(nodes);
  if (shared !== null) {
    return { bootstrap: shared.bootstrap, nodes: shared.nodes, shared: true, release: async () => {} };
  }
  const cluster = await startCluster({ nodes });
  return {
    bootstrap: cluster.bootstrap,
    nodes: cluster.nodes,
    shared: false,
    release: async () => {
      await stopCluster(cluster);
    },
  };
}
