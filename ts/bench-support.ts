/**
 * What the benchmark harness needs from the native side: the physical
 * limit of writing the same bytes with write(2) or into a fallocated map.
 * Internal: not exported from the package (bench/harness imports this file
 * from dist), because a benchmark helper is no part of ferrolog's API.
 */
import { binding } from './native';

/** Seconds to write `totalBytes` by repeating `chunk` (see the binding's docs). */
export function benchPhysicalWrite(
  path: string,
  chunk: Uint8Array,
  totalBytes: number,
  mode: 'write' | 'mmap',
  fsyncEachChunk: boolean,
): number {
  return binding.__benchPhysicalWrite(path, chunk, totalBytes, mode, fsyncEachChunk);
}
