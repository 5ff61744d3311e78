/**
 * The package as a user gets it: `npm pack` of the main package and of this
 * platform's package (npm/<platform> plus the binary `npm run build:native`
 * wrote), installed from the tarballs into fresh projects, offline.
 *
 * - Without a Rust toolchain on PATH and with the platform package: nothing
 *   is built, and a producer → consumer round trip runs from CommonJS, from
 *   ESM, and from a program compiled by a strict `tsc`.
 * - Without a Rust toolchain and without the platform package: the install
 *   fails with a message naming the platform and what to install.
 * - With cargo on PATH and without the platform package: the install script
 *   builds the addon from the shipped sources (dev profile, sharing the
 *   repository's target directory, so the dependencies are compiled already).
 *
 * Plus the size budget: the main tarball under 1 MB, the platform one under 3 MB.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { name: string; version: string };

/** The platform suffix napi-rs names binaries and packages with (the engine is Linux-only). */
function platformTag(): string {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
    ?.header;
  return `${process.platform}-${process.arch}-${header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
}
const tag = platformTag();
const platformPkg = `${pkg.name}-${tag}`;

/** The environment minus npm's own variables, which would steer a nested npm back to this repository. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  }
  return { ...env, ...extra };
}

/** PATH without any directory that holds cargo or rustc. */
function pathWithoutRust(): string {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((d) => d !== '' && !existsSync(join(d, 'cargo')) && !existsSync(join(d, 'rustc')))
    .join(delimiter);
}

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without blocking this worker (a blocked worker misses
 * vitest's RPC deadlines); `timeout` only bounds a hung child.
 */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = 120_000) {
  return new Promise<Result>((done, fail) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

function ok(r: Result, what: string): string {
  if (r.status !== 0) throw new Error(`${what} exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `npm pack` into `dest`; returns the tarball's path and npm's description of it. */
async function pack(dir: string, dest: string) {
  const out = ok(
    await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], dir, cleanEnv()),
    `npm pack in ${dir}`,
  );
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as {
    filename: string;
    size: number;
    files: { path: string }[];
  }[];
  if (!info) throw new Error(`npm pack printed no description: ${out}`);
  return { path: join(dest, info.filename), size: info.size, files: info.files.map((f) => f.path) };
}

/** A fresh project that installs `tarballs` offline; returns npm's result. */
async function installInto(name: string, tarballs: string[], env: NodeJS.ProcessEnv, timeout = 120_000) {
  const dir = join(work, name);
  mkdirSync(dir);
  // allowScripts approves ferrolog's install script (npm 11 asks for it).
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true, allowScripts: { [pkg.name]: true } }),
  );
  // Niced: the source build competes for the CPU with the other test files running meanwhile.
  const r = await run(
    'nice',
    [
      '-n',
      '10',
      'npm',
      'install',
      '--offline',
      '--no-audit',
      '--no-fund',
      '--foreground-scripts',
      ...tarballs,
    ],
    dir,
    { ...env, npm_config_cache: join(work, 'npm-cache') },
    timeout,
  );
  return { dir, r };
}

/** Producer → consumer round trip through the installed package; `header` imports Kafka. */
function roundTrip(header: string): string {
  return `${header}
const dataDir = process.argv[2] ?? 'data';
const sent = Array.from({ length: 200 }, (_, i) => 'message-' + i);
async function main() {
  const kafka = new Kafka({ clientId: 'package-test', dataDir, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'round-trip', messages: sent.map((value, i) => ({ key: String(i), value })) });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'package-test' });
  await consumer.connect();
  await consumer.subscribe({ topics: ['round-trip'], fromBeginning: true });
  const got = [];
  await new Promise((done, fail) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          got.push(message.value ? message.value.toString() : null);
          if (got.length === sent.length) done(undefined);
        },
      })
      .catch(fail);
  });
  await consumer.disconnect();
  if (JSON.stringify(got) !== JSON.stringify(sent)) throw new Error('received ' + JSON.stringify(got.slice(0, 3)));
  console.log('round trip ' + got.length);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
`;
}

async function runRoundTrip(project: string, file: string): Promise<void> {
  const dataDir = mkdtempSync(join(work, 'data-'));
  const out = ok(await run(process.execPath, [file, dataDir], project, cleanEnv(), 60_000), `node ${file}`);
  expect(out).toContain('round trip 200');
}

let work: string;
let main: Awaited<ReturnType<typeof pack>>;
let platform: Awaited<ReturnType<typeof pack>>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ferrolog-package-'));
  const binary = join(repo, 'binding', `ferrolog.${tag}.node`);
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run npm run build:native first`);
  main = await pack(repo, work);
  // The platform package as the release workflow assembles it (napi artifacts).
  const staged = join(work, 'platform');
  mkdirSync(staged);
  for (const f of readdirSync(join(repo, 'npm', tag)))
    copyFileSync(join(repo, 'npm', tag, f), join(staged, f));
  copyFileSync(join(repo, 'LICENSE'), join(staged, 'LICENSE'));
  copyFileSync(binary, join(staged, `ferrolog.${tag}.node`));
  platform = await pack(staged, work);
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('fits the size budget: main tarball under 1 MB, platform package under 3 MB', () => {
    expect(main.size).toBeGreaterThan(0);
    expect(main.size).toBeLessThan(1_000_000);
    expect(platform.size).toBeLessThan(3_000_000);
    expect(platform.files).toContain(`ferrolog.${tag}.node`);
  });

  it('ships what a user needs and nothing else', async () => {
    const files = main.files;
    for (const f of [
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'binding/index.js',
      'binding/index.d.ts',
      'scripts/install.js',
      'Cargo.toml',
      'Cargo.lock',
      'crates/engine/src/lib.rs',
      'crates/node/src/lib.rs',
    ]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.endsWith('.node'))).toEqual([]);
    expect(files.filter((f) => /^(test|bench)\/|\/tests\/|proptest-regressions|src\/bin\//.test(f))).toEqual(
      [],
    );
    // Every source map is shipped, and so is every source it points at.
    const extracted = join(work, 'extracted');
    mkdirSync(extracted);
    ok(await run('tar', ['-xzf', main.path, '-C', extracted], work, cleanEnv()), 'tar');
    const root = join(extracted, 'package');
    for (const js of files.filter((f) => f.startsWith('dist/') && f.endsWith('.js'))) {
      const ref = /\/\/# sourceMappingURL=(.+)$/m.exec(readFileSync(join(root, js), 'utf8'))?.[1];
      if (ref === undefined) continue;
      const mapPath = join(root, js, '..', ref);
      expect(existsSync(mapPath), `${js} → ${ref}`).toBe(true);
      const map = JSON.parse(readFileSync(mapPath, 'utf8')) as { sources: string[] };
      for (const s of map.sources) expect(existsSync(join(mapPath, '..', s)), `${ref} → ${s}`).toBe(true);
    }
  });
});

describe('installed from the tarballs', () => {
  it('needs no build and no Rust: a round trip from CommonJS, ESM and a strict TypeScript program', async () => {
    const noRust = cleanEnv({ PATH: pathWithoutRust() });
    expect(spawnSync('cargo', ['--version'], { env: noRust }).error).toBeDefined();
    const { dir, r } = await installInto('prebuilt', [main.path, platform.path], noRust);
    ok(r, 'npm install');
    // npm 11 lists the install scripts it has not been told to trust: no `prepare` among them.
    expect(r.stdout + r.stderr).not.toMatch(/prepare:/);
    expect(r.stdout + r.stderr).not.toContain('building the native addon from source');
    const installed = join(dir, 'node_modules', pkg.name);
    expect(readdirSync(join(installed, 'binding')).filter((f) => f.endsWith('.node'))).toEqual([]);
    expect(existsSync(join(dir, 'node_modules', platformPkg, `ferrolog.${tag}.node`))).toBe(true);

    writeFileSync(join(dir, 'cjs.cjs'), roundTrip(`const { Kafka, logLevel } = require('${pkg.name}');`));
    await runRoundTrip(dir, 'cjs.cjs');
    writeFileSync(join(dir, 'esm.mjs'), roundTrip(`import { Kafka, logLevel } from '${pkg.name}';`));
    await runRoundTrip(dir, 'esm.mjs');

    // A strict compile against the shipped declarations (skipLibCheck off,
    // so they must type-check too), then the compiled program runs.
    writeFileSync(
      join(dir, 'typed.ts'),
      roundTrip(
        `import { Kafka, logLevel, type EachMessagePayload, type RecordMetadata } from '${pkg.name}';
const typed: (p: EachMessagePayload) => string = (p) => p.topic;
const meta: RecordMetadata[] = [];
void typed;
void meta;`,
      )
        .replace('const got = [];', 'const got: (string | null)[] = [];')
        .replace('.catch((e) =>', '.catch((e: unknown) =>'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: false,
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          outDir: 'out',
          types: ['node'],
          typeRoots: [join(repo, 'node_modules', '@types')],
        },
        files: ['typed.ts'],
      }),
    );
    ok(
      await run(
        process.execPath,
        [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'],
        dir,
        noRust,
      ),
      'tsc',
    );
    await runRoundTrip(dir, join('out', 'typed.js'));

    const version = ok(
      await run(join(dir, 'node_modules', '.bin', 'ferrolog'), ['--version'], dir, noRust),
      'ferrolog',
    );
    expect(version.trim()).toBe(pkg.version);
    const help = ok(
      await run(join(dir, 'node_modules', '.bin', 'ferrolog'), ['--help'], dir, noRust),
      'ferrolog',
    );
    expect(help).toContain('verify');
    expect(help).not.toMatch(/^ {2}bench /m);
  }, 180_000);

  it('without a prebuilt binary or Rust, fails the install naming the platform and what to install', async () => {
    const { r } = await installInto('no-toolchain', [main.path], cleanEnv({ PATH: pathWithoutRust() }));
    expect(r.status).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toContain(`no prebuilt binary is published for ${tag}`);
    expect(out).toContain('https://rustup.rs');
    expect(out).toContain('npm rebuild ferrolog');
  }, 120_000);

  it('without a prebuilt binary, builds the addon from the shipped sources with cargo', async () => {
    const { dir, r } = await installInto(
      'from-source',
      [main.path],
      cleanEnv({ FERROLOG_BUILD_PROFILE: 'dev', CARGO_TARGET_DIR: join(repo, 'target') }),
      240_000,
    );
    ok(r, 'npm install (building from source)');
    expect(r.stdout + r.stderr).toContain(
      `no prebuilt binary for ${tag}; building the native addon from source`,
    );
    expect(existsSync(join(dir, 'node_modules', platformPkg))).toBe(false);
    expect(existsSync(join(dir, 'node_modules', pkg.name, 'binding', `ferrolog.${tag}.node`))).toBe(true);
    writeFileSync(join(dir, 'cjs.cjs'), roundTrip(`const { Kafka, logLevel } = require('${pkg.name}');`));
    await runRoundTrip(dir, 'cjs.cjs');
  }, 300_000);
});
