/** Types for cluster.mjs (for tests and benchmarks written in TypeScript). */
export interface KafkaNode {
  id: number;
  dir: string;
  logDir: string;
  propsFile: string;
  brokerPort: number;
  pid: number;
  outFile: string;
}
export interface KafkaCluster {
  dir: string;
  clusterId: string;
  nodes: KafkaNode[];
  bootstrap: string;
  ports: { broker: number[]; controller: number[] };
  ownsDir: boolean;
}
export interface StartOptions {
  nodes?: number;
  dir?: string;
  logDirs?: string[];
  clusterId?: string;
  format?: boolean;
  config?: Record<string, string | number | boolean>;
  heap?: string;
  detached?: boolean;
  timeoutMs?: number;
  ports?: { broker: number[]; controller: number[] };
}
export const DEFAULT_STATE_FILE: string;
export function randomClusterId(): string;
export function startCluster(options?: StartOptions): Promise<KafkaCluster>;
export function stopCluster(
  cluster: KafkaCluster,
  options?: { graceMs?: number; keepDir?: boolean },
): Promise<{ id: number; killed: boolean }[]>;
