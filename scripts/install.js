#!/usr/bin/env node
/**
 * The package's `install` script. It runs in two places:
 *
 * - In the source repository (`npm install` in a clone: tsconfig.json, which
 *   the package does not ship, is there):
 *   builds the addon with @napi-rs/cli and compiles the TypeScript, as the
 *   README's `npm install && npm start` promises. It replaces a `prepare`
 *   script, which npm 11 also counts as an install script of git and tarball
 *   dependencies and which could not work there (`napi` is a devDependency).
 *
 * - In an installed package: does nothing when the prebuilt binary (the
 *   `ferrolog-<platform>` optional dependency) loads. When none matches this
 *   platform, builds the addon from the Rust sources shipped in the package
 *   if `cargo` is on PATH, or fails with a message naming the platform and
 *   what to install. `npm rebuild ferrolog` runs it again.
 *
 * Environment: FERROLOG_BUILD_FROM_SOURCE=1 builds even when a prebuilt
 * binary loads; FERROLOG_BUILD_PROFILE=dev builds unoptimised (faster to
 * compile, for tests; the default is release); CARGO_TARGET_DIR is honoured
 * (and then kept, as a cache), otherwise the build directory is removed.
 */
const { spawnSync } = require('node:child_process');
const { copyFileSync, existsSync, renameSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const bindingDir = join(root, 'binding');
const MIN_RUST = '1.88';

function isMusl() {
  if (process.platform !== 'linux') return false;
  // glibc's Node reports its runtime glibc version; musl builds do not.
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
  return !report?.header?.glibcVersionRuntime;
}

/** The platform suffix napi-rs names binaries and packages with. */
function platformTag() {
  const { platform, arch } = process;
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function fail(message) {
  process.stderr.write(`\nferrolog: ${message}\n\n`);
  process.exit(1);
}

function run(command, args, options) {
  const r = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

/** npm's own CLI, so the repository build does not depend on `npm` being on PATH. */
function npmCommand(args) {
  const cli = process.env.npm_execpath;
  return cli?.endsWith('.js') ? [process.execPath, [cli, ...args]] : ['npm', args];
}

function buildInRepository() {
  const [cmd, args] = npmCommand(['run', 'build']);
  process.exit(run(cmd, args, { cwd: root, shell: cmd === 'npm' && process.platform === 'win32' }));
}

/** Loads the binding in a fresh process: a failed dlopen must not leave this one half-initialised. */
function bindingLoads() {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(bindingDir, 'index.js'))})`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  return { ok: r.status === 0, error: (r.stderr || '').trim().split('\n').slice(-3).join('\n') };
}

function hasCargo() {
  const r = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function buildFromSource(tag) {
  const profile = process.env.FERROLOG_BUILD_PROFILE || 'release';
  if (profile !== 'release' && profile !== 'dev') {
    fail(`FERROLOG_BUILD_PROFILE must be "release" or "dev", not "${profile}"`);
  }
  const ownTargetDir = !process.env.CARGO_TARGET_DIR;
  const targetDir = process.env.CARGO_TARGET_DIR || join(root, 'target');
  const args = [
    'build',
    '--locked',
    '--package',
    'ferrolog-node',
    '--manifest-path',
    join(root, 'Cargo.toml'),
    '--message-format=json-render-diagnostics',
  ];
  if (profile === 'release') args.push('--release');
  const env = {
    ...process.env,
    CARGO_TARGET_DIR: targetDir,
    // The repository keeps line tables in release builds for profiling; an
    // installed addon needs neither them nor its symbol table.
    CARGO_PROFILE_RELEASE_DEBUG: '0',
    CARGO_PROFILE_RELEASE_STRIP: 'symbols',
  };
  process.stderr.write(
    `ferrolog: no prebuilt binary for ${tag}; building the native addon from source (${profile} profile, this takes a few minutes)\n`,
  );
  const started = Date.now();
  const r = spawnSync('cargo', args, {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  if (r.error) fail(`could not run cargo: ${r.error.message}`);
  if (r.status !== 0) {
    fail(
      `building the native addon for ${tag} failed (cargo exited with ${r.status}; see the compiler output above). ` +
        `It needs Rust ${MIN_RUST} or newer and a C compiler (zstd is compiled from C).`,
    );
  }
  // cargo names the artifact per platform (lib*.so, *.dylib, *.dll); its JSON
  // messages say exactly which file it wrote.
  let artifact = null;
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      continue;
    }
    if (msg.reason === 'compiler-artifact' && msg.target?.kind?.includes('cdylib')) {
      artifact = msg.filenames.find((f) => /\.(so|dylib|dll)$/.test(f)) ?? artifact;
    }
  }
  if (!artifact || !existsSync(artifact)) fail('cargo finished but reported no ferrolog-node library');
  const dest = join(bindingDir, `ferrolog.${tag}.node`);
  const tmp = `${dest}.${process.pid}.tmp`;
  copyFileSync(artifact, tmp);
  renameSync(tmp, dest);
  if (ownTargetDir) rmSync(targetDir, { recursive: true, force: true });
  const check = bindingLoads();
  if (!check.ok) fail(`the addon built from source does not load:\n${check.error}`);
  process.stderr.write(`ferrolog: built ${dest} in ${Math.round((Date.now() - started) / 1000)}s\n`);
}

function main() {
  if (existsSync(join(root, 'tsconfig.json'))) return buildInRepository();

  const tag = platformTag();
  if (process.platform !== 'linux') {
    fail(
      `ferrolog runs on Linux only (the storage engine uses Linux fallocate and madvise); this machine is ${tag}.`,
    );
  }
  const force = process.env.FERROLOG_BUILD_FROM_SOURCE === '1';
  if (!force) {
    const check = bindingLoads();
    if (check.ok) return;
  }
  if (!hasCargo()) {
    // `napi pre-publish` lists the published platform packages here.
    const published = Object.keys(require(join(root, 'package.json')).optionalDependencies ?? {});
    const prebuilt = `ferrolog-${tag}`;
    const why = published.includes(prebuilt)
      ? `the prebuilt binary ${prebuilt} is not installed or does not load, ` +
        `and cargo is not on PATH to build one from source.\n` +
        `  Either reinstall without --omit=optional (or --no-optional) so npm installs ${prebuilt},\n  or`
      : `no prebuilt binary is published for ${tag}, and cargo is not on PATH to build one from source.\n ` +
        ` To build it,`;
    fail(
      `${why} install Rust ${MIN_RUST} or newer (https://rustup.rs) and a C compiler (gcc or clang), ` +
        `then run \`npm rebuild ferrolog\`.`,
    );
  }
  buildFromSource(tag);
}

main();
