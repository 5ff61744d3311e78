import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../ts';
import { tempDir, until } from './helpers';

const bin = join(__dirname, '..', 'dist', 'cli', 'main.js');

function cli(args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input, timeout: 60_000 });
}

function ok(args: string[], input?: string): string {
  const r = cli(args, input);
  expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

function fails(args: string[], pattern: RegExp, input?: string): void {
  const r = cli(args, input);
  expect(r.status, args.join(' ')).toBe(1);
  expect(r.stderr).toMatch(pattern);
  // One clear line, no stack trace without --verbose.
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n').length).toBe(1);
}

describe('ferrolog CLI', () => {
  it('produces a file and consumes it back identically', () => {
    const dir = tempDir();
    const file = join(tempDir(), 'lines.txt');
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ünïcode ☃`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect(ok(['produce', 'events', '--file', file, '--data-dir', dir])).toBe(
      'wrote 5000 message(s) to events\n',
    );
    const out = ok(['consume', 'events', '--from-beginning', '--data-dir', dir]);
    expect(out).toBe(`${lines.join('\n')}\n`);
    // No progress bar when stderr is not a terminal.
    expect(cli(['produce', 'events', '--file', file, '--data-dir', dir]).stderr).toBe('');
    const json = ok([
      'consume',
      'events',
      '--offset',
      '4998',
      '--max-messages',
      '2',
      '--format',
      'json',
      '--data-dir',
      dir,
    ])
      .trim()
      .split('\n');
    expect(json.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({
        topic: 'events',
        partition: 0,
        offset: '4998',
        key: null,
        value: 'line 4998 ünïcode ☃',
        headers: {},
      }),
      expect.objectContaining({ offset: '4999' }),
    ]);
  });

  it('manages topics with configs', () => {
    const dir = tempDir();
    expect(
      ok([
        'topics',
        'create',
        'orders',
        '--partitions',
        '3',
        '--config',
        'retention.ms=1000',
        '--data-dir',
        dir,
      ]),
    ).toMatch(/3 partition/);
    expect(ok(['topics', 'list', '--data-dir', dir])).toBe('orders\n');
    ok(['topics', 'alter', 'orders', '--config', 'flush=always', '--data-dir', dir]);
    const d = ok(['topics', 'describe', 'orders', '--data-dir', dir]);
    expect(d).toMatch(/retention\.ms=1000/);
    expect(d).toMatch(/flush=always/);
    expect(d.split('\n').filter((l) => /^\d/.test(l)).length).toBe(3);
    ok(['topics', 'delete', 'orders', '--data-dir', dir]);
    expect(ok(['topics', 'list', '--data-dir', dir])).toBe('');
  });

  it('shows group lag after partial consumption and resets offsets', () => {
    const dir = tempDir();
    ok(['produce', 't', '--data-dir', dir], Array.from({ length: 100 }, (_, i) => `k${i}:v${i}`).join('\n'));
    expect(
      ok(['consume', 't', '--group', 'g', '--from-beginning', '--max-messages', '40', '--data-dir', dir])
        .trim()
        .split('\n').length,
    ).toBe(40);
    let d = ok(['groups', 'describe', 'g', '--data-dir', dir]);
    expect(d).toMatch(/t\s+0\s+40\s+100\s+60/);
    expect(d).toMatch(/total lag 60/);
    expect(ok(['groups', 'list', '--data-dir', dir])).toBe('g\n');
    // The group resumes where it left off.
    expect(ok(['consume', 't', '--group', 'g', '--max-messages', '1', '--data-dir', dir])).toBe('k40:v40\n');
    ok(['groups', 'reset-offsets', 'g', '--topic', 't', '--to-earliest', '--data-dir', dir]);
    expect(ok(['groups', 'describe', 'g', '--data-dir', dir])).toMatch(/total lag 100/);
    ok(['groups', 'reset-offsets', 'g', '--topic', 't', '--to-offset', '90', '--data-dir', dir]);
    expect(ok(['groups', 'describe', 'g', '--data-dir', dir])).toMatch(/total lag 10/);
    ok(['groups', 'reset-offsets', 'g', '--topic', 't', '--to-latest', '--data-dir', dir]);
    expect(ok(['groups', 'describe', 'g', '--data-dir', dir])).toMatch(/total lag 0/);
    ok([
      'groups',
      'reset-offsets',
      'g',
      '--topic',
      't',
      '--to-datetime',
      '2000-01-01T00:00:00Z',
      '--data-dir',
      dir,
    ]);
    d = ok(['groups', 'describe', 'g', '--data-dir', dir]);
    expect(d).toMatch(/total lag 100/);
    // Everything printed again without --follow ends at the end of the log.
    expect(ok(['consume', 't', '--group', 'g', '--data-dir', dir]).trim().split('\n').length).toBe(100);
  });

  it('dumps and verifies a good log, and finds a corrupted byte', () => {
    const dir = tempDir();
    ok(['produce', 't', '--data-dir', dir], Array.from({ length: 3000 }, (_, i) => `m${i}`).join('\n'));
    const seg = join(dir, 't-0', '00000000000000000000.log');
    const dump = ok(['dump', seg, '--records']);
    expect(dump).toMatch(/baseOffset: 0 lastOffset: 999 count: 1000 position: 0/);
    expect(dump).toMatch(/isValid: true/);
    expect(dump).toMatch(/\| offset: 2999 .* payload: m2999/);
    expect(ok(['verify', '--data-dir', dir])).toMatch(/all sound/);
    const bytes = readFileSync(seg);
    const second = bytes.readInt32BE(8) + 12;
    bytes[second + 100] ^= 0x55;
    writeFileSync(seg, bytes);
    const v = cli(['verify', '--data-dir', dir]);
    expect(v.status).toBe(1);
    expect(v.stdout).toContain(
      `PROBLEM ${seg} at byte ${second}, offset 1000: CRC-32C does not match the batch`,
    );
    expect(cli(['dump', seg]).stdout).toMatch(/isValid: false/);
    expect(cli(['dump', seg]).status).toBe(1);
    const repaired = ok(['verify', '--repair', '--data-dir', dir]);
    expect(repaired).toMatch(/truncated t-0 at offset 1000: at byte \d+: CRC-32C mismatch/);
    // The bytes cut are set aside, not deleted.
    const aside = /set aside in (\S+)/.exec(repaired)?.[1];
    expect(aside && existsSync(aside)).toBe(true);
    expect(repaired).toMatch(/all sound/);
  });

  it('stops a following group consumer cleanly on Ctrl-C and commits what it printed', async () => {
    const dir = tempDir();
    ok(['produce', 'f', '--data-dir', dir], Array.from({ length: 30 }, (_, i) => `x${i}`).join('\n'));
    const child = spawn(process.execPath, [
      bin,
      'consume',
      'f',
      '--group',
      'tail',
      '--from-beginning',
      '--follow',
      '--data-dir',
      dir,
    ]);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await until(() => out.split('\n').length > 30, 'thirty lines');
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(ok(['groups', 'describe', 'tail', '--data-dir', dir])).toMatch(/total lag 0/);
  });

  it('reports every error in one clear line with a non-zero exit code', () => {
    const dir = tempDir();
    ok(['topics', 'create', 't', '--data-dir', dir]);
    fails(['topics', 'describe', 'nope', '--data-dir', dir], /unknown topic "nope"/);
    fails(['consume', 'nope', '--data-dir', dir], /unknown topic "nope"/);
    fails(['topics', 'create', 'x', '--config', 'no.such=1', '--data-dir', dir], /invalid config `no.such`/);
    fails(['topics', 'create', 'x', '--config', 'novalue', '--data-dir', dir], /key=value/);
    fails(['topics', 'create', 't', '--data-dir', dir], /already exists/);
    fails(
      ['produce', 't', '--key-separator', ':', '--data-dir', dir],
      /line 2 has no key separator/,
      'a:1\nno separator here\n',
    );
    fails(['produce', 't', '--acks', '7', '--data-dir', dir], /--acks/);
    fails(['groups', 'describe', 'never', '--data-dir', dir], /unknown group "never"/);
    fails(['groups', 'reset-offsets', 'g', '--topic', 't', '--data-dir', dir], /exactly one of/);
    fails(['consume', 't', '--format', 'xml', '--data-dir', dir], /--format/);
    fails(['consume', 't', '--bogus', '--data-dir', dir], /Unknown option '--bogus'/);
    fails(['frobnicate'], /unknown command "frobnicate"/);
    fails(['dump', join(dir, 'nope.log')], /no such file/);
    // Nothing of the rejected produce was written.
    const log = Log.open(dir);
    expect(log.watermarks('t', 0).highWatermark).toBe(0);
    // While this process holds the directory, a writing command says so and
    // names us (reading commands read it read-only: see safety.test.ts).
    fails(
      ['topics', 'create', 'x', '--data-dir', dir],
      new RegExp(`locked by another process \\(pid ${process.pid}\\)`),
    );
    // dump and verify read files directly, so they work on a live directory.
    expect(cli(['verify', '--data-dir', dir]).status).toBe(0);
    void log.close();
    const verbose = cli(['topics', 'describe', 'nope', '--data-dir', dir, '--verbose']);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  it('has --help with examples on every command', () => {
    for (const c of [[], ['topics'], ['produce'], ['consume'], ['groups'], ['dump'], ['verify']]) {
      const out = ok([...c, '--help']);
      expect(out).toMatch(/^usage: ferrolog/);
      expect(out).toMatch(/example/);
    }
  });
});
