/** `ferrolog bench`: runs the comparison harness of the source repository. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../args';
import type { Command } from './command';

/** bench/harness ships with the source repository only, not in the npm package (from ts/cli/commands or dist/cli/commands). */
export const BENCH_HARNESS = join(__dirname, '..', '..', '..', 'bench', 'harness', 'run.mjs');

export const bench: Command = {
  name: 'bench',
  help: `usage: ferrolog bench [harness options]

runs the comparison harness (see npm run bench -- --help).

example:
  ferrolog bench -- --help`,
  async run(argv) {
    if (!existsSync(BENCH_HARNESS))
      throw new UsageError(
        'the benchmark harness ships with the source repository (bench/harness), not the npm package',
      );
    const r = spawnSync(process.execPath, [BENCH_HARNESS, ...argv], { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  },
};
