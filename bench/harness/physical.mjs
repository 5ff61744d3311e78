// The physical write limit (write(2) or a copy into a fallocated shared map of
// the same bytes), measured by a small Rust program rather than by the addon:
// a benchmark is no part of the shipped package. The program is
// crates/engine/examples/physical_write.rs; cargo builds it on first use
// (a no-op when it is up to date) and it prints {"seconds":S}, the time of the
// writes alone, without process start-up.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(root, 'target');
const program = join(targetDir, 'release', 'examples', 'physical_write');

let built;

/** Builds the program once per process (cargo decides whether anything is stale). */
function build() {
  built ??= run(
    'cargo',
    ['build', '--release', '--quiet', '--example', 'physical_write', '-p', 'ferrolog-engine'],
    {
      cwd: root,
      maxBuffer: 16 << 20,
    },
  );
  return built;
}

/**
 * Seconds to write `totalBytes` to `path` by repeating `chunk`, with
 * `mode` 'write' or 'mmap', and an fdatasync after every chunk when
 * `fsyncEachChunk`.
 */
export async function physicalWrite(path, chunk, totalBytes, mode, fsyncEachChunk) {
  await build();
  const chunkPath = `${path}.chunk`;
  await writeFile(chunkPath, chunk);
  const { stdout } = await run(program, [
    chunkPath,
    path,
    String(totalBytes),
    mode,
    fsyncEachChunk ? 'strict' : 'none',
  ]);
  const { seconds } = JSON.parse(stdout);
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
    throw new Error(`physical_write printed ${stdout.trim()}, not {"seconds":S}`);
  }
  return seconds;
}
