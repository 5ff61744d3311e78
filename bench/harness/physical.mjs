// The physical write limit (write(2) or a copy into a fallocated shared map of
// the same bytes), measured by a small Rust program rather than by the addon:
// a benchmark is no part of the shipped package. The program is
// crates/engine/examples/physical_write.rs; it prints {"seconds":S}, the time
// of the writes alone, without process start-up.
//
// cargo builds it (release) when this module is first imported, in the
// harness's parent process; the path then travels to the per-run child
// processes in FERROLOG_PHYSICAL_WRITE, so they neither build nor wait on
// cargo. A first build in a clean checkout takes a minute or more.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The built program: from the parent process, or built now. */
function program() {
  const given = process.env.FERROLOG_PHYSICAL_WRITE;
  if (given && existsSync(given)) return given;
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const targetDir = process.env.CARGO_TARGET_DIR
    ? resolve(process.env.CARGO_TARGET_DIR)
    : join(root, 'target');
  execFileSync('cargo', ['build', '--release', '--example', 'physical_write', '-p', 'ferrolog-engine'], {
    cwd: root,
    // cargo's progress goes to the harness's stderr; stdout stays the report's.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const built = join(targetDir, 'release', 'examples', 'physical_write');
  process.env.FERROLOG_PHYSICAL_WRITE = built;
  return built;
}

const bin = program();

/**
 * Seconds to write `totalBytes` to `path` by repeating `chunk`, with
 * `mode` 'write' or 'mmap', and an fdatasync after every chunk when
 * `fsyncEachChunk`.
 */
export async function physicalWrite(path, chunk, totalBytes, mode, fsyncEachChunk) {
  const chunkPath = `${path}.chunk`;
  writeFileSync(chunkPath, chunk);
  const { stdout } = await run(bin, [
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
