/** Types for shared.mjs. */
import type { KafkaNode } from './cluster.mjs';
export const STATE_ENV: string;
export interface SharedKafka {
  bootstrap: string;
  nodes: KafkaNode[];
  /** True when this is the run's shared cluster (release() leaves it running). */
  shared: boolean;
  release(): Promise<void>;
}
export function useKafka(options?: { nodes?: number }): Promise<SharedKafka>;
