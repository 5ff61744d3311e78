import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
    expect(ok(['produce', 'events', '--create', '--file', file, '--data-dir', dir])).toBe(
      'wrote 5000 message(s) to events\n',
    );
    const out = ok(['consume', 'events', '--from-beginning', '-e', '--data-dir', dir]);
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
    ok(
      ['produce', 't', '--create', '--data-dir', dir],
      Array.from({ length: 100 }, (_, i) => `k${i}:v${i}`).join('\n'),
    );
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
    // A plan by default, as kafka-consumer-groups: the table, and nothing changed.
    const plan = ok(['groups', 'reset-offsets', 'g', '--topic', 't', '--to-earliest', '--data-dir', dir]);
    expect(plan).toMatch(/GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+NEW-OFFSET/);
    expect(plan).toMatch(/g\s+t\s+0\s+41\s+0/);
    expect(plan).toMatch(/nothing changed/);
    expect(ok(['groups', 'describe', 'g', '--data-dir', dir])).toMatch(/total lag 59/);
    ok(['groups', 'reset-offsets', 'g', '--topic', 't', '--to-earliest', '--dry-run', '--data-dir', dir]);
    expect(ok(['groups', 'describe', 'g', '--data-dir', dir])).toMatch(/total lag 59/);
    fails(
      [
        'groups',
        'reset-offsets',
        'g',
        '--topic',
        't',
        '--to-earliest',
        '--dry-run',
        '--execute',
        '--data-dir',
        dir,
      ],
      /not both/,
    );
    ok(['groups', 'reset-offsets', 'g', '--topic', 't', '--to-earliest', '--execute', '--data-dir', dir]);
    expect(ok(['groups', 'describe', 'g', '--data-dir', dir])).toMatch(/total lag 100/);
    ok(['groups', 'reset-offsets', 'g', '--topic', 't', '--to-offset', '90', '--execute', '--data-dir', dir]);
    expect(ok(['groups', 'describe', 'g', '--data-dir', dir])).toMatch(/total lag 10/);
    ok(['groups', 'reset-offsets', 'g', '--topic', 't', '--to-latest', '--execute', '--data-dir', dir]);
    expect(ok(['groups', 'describe', 'g', '--data-dir', dir])).toMatch(/total lag 0/);
    ok([
      'groups',
      'reset-offsets',
      'g',
      '--topic',
      't',
      '--to-datetime',
      '2000-01-01T00:00:00Z',
      '--execute',
      '--data-dir',
      dir,
    ]);
    d = ok(['groups', 'describe', 'g', '--data-dir', dir]);
    expect(d).toMatch(/total lag 100/);
    // Everything printed again, and -e ends at the end of the log.
    expect(ok(['consume', 't', '--group', 'g', '-e', '--data-dir', dir]).trim().split('\n').length).toBe(100);
  });

  it('dumps and verifies a good log, and finds a corrupted byte', () => {
    const dir = tempDir();
    ok(
      ['produce', 't', '--create', '--data-dir', dir],
      Array.from({ length: 3000 }, (_, i) => `m${i}`).join('\n'),
    );
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
    // The engine's check found it: where and what.
    expect(v.stdout).toContain(
      `PROBLEM t-0: ${seg}: at byte ${second} (offset 1000): CRC-32C does not match the batch`,
    );
    expect(v.stdout).toMatch(/1 problem\(s\); run with --repair/);
    expect(cli(['dump', seg]).stdout).toMatch(/isValid: false/);
    expect(cli(['dump', seg]).status).toBe(1);
    const repaired = ok(['verify', '--repair', '--data-dir', dir]);
    expect(repaired).toMatch(/truncated t-0 at offset 1000: at byte \d+: CRC-32C mismatch/);
    // The bytes cut are set aside, not deleted.
    const aside = /set aside in (\S+)/.exec(repaired)?.[1];
    expect(aside && existsSync(aside)).toBe(true);
    expect(repaired).toMatch(/all sound/);
  });

  it('verifies with the engine recovery: damage in an earlier segment, and what --repair would do', () => {
    const dir = tempDir();
    ok(['topics', 'create', 's', '--config', 'segment.bytes=20000', '--data-dir', dir]);
    ok(['produce', 's', '--data-dir', dir], Array.from({ length: 6000 }, (_, i) => `m${i}`).join('\n'));
    const segs = readdirSync(join(dir, 's-0'))
      .filter((f) => f.endsWith('.log'))
      .sort();
    expect(segs.length).toBeGreaterThan(2);
    const first = join(dir, 's-0', segs[0] as string);
    const bytes = readFileSync(first);
    bytes[200] ^= 0x55;
    writeFileSync(first, bytes);
    const v = cli(['verify', '--data-dir', dir]);
    expect(v.status).toBe(1);
    expect(v.stdout).toMatch(
      new RegExp(
        `PROBLEM ${first} \\(s-0\\) at offset 0: at byte 0: CRC-32C mismatch.*recovery would: truncated`,
      ),
    );
    expect(v.stdout).toMatch(/recovery would: quarantined/);
    // Verifying changed nothing on disk.
    expect(readFileSync(first)).toEqual(bytes);
  });

  it('stops a following group consumer cleanly on Ctrl-C and commits what it printed', async () => {
    const dir = tempDir();
    ok(
      ['produce', 'f', '--create', '--data-dir', dir],
      Array.from({ length: 30 }, (_, i) => `x${i}`).join('\n'),
    );
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
    fails(['consume', 't', '--from-begining', '--data-dir', dir], /did you mean '--from-beginning'\?/);
    fails(['groups', 'describe', 'g', '--exceute', '--data-dir', dir], /did you mean '--execute'\?/);
    fails(['frobnicate'], /unknown command "frobnicate"/);
    fails(['consum', 't'], /did you mean "consume"/);
    fails(['topics', 'lst', '--data-dir', dir], /unknown topics command "lst"; did you mean "list"\?/);
    fails(['groups', 'describ', 'g', '--data-dir', dir], /did you mean "describe"\?/);
    fails(['topics', 'list', '--brokers', 'nocolon'], /--brokers takes host:port/);
    fails(
      ['topics', 'list', '--brokers', '127.0.0.1:1', '--data-dir', dir],
      /--data-dir or --brokers, not both/,
    );
    fails(['verify', '--brokers', '127.0.0.1:9092'], /verify checks a data directory/);
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
    for (const c of [[], ['topics'], ['produce'], ['consume'], ['groups'], ['dump'], ['verify'], ['serve']]) {
      const out = ok([...c, '--help']);
      expect(out).toMatch(/^usage: ferrolog/);
      expect(out).toMatch(/example/);
    }
  });

  it('takes global options anywhere, and --version', () => {
    const dir = tempDir();
    ok(['--data-dir', dir, 'topics', 'create', 'a']);
    expect(ok(['--data-dir', dir, 'topics', 'list'])).toBe('a\n');
    expect(ok(['topics', '--data-dir', dir, 'list'])).toBe('a\n');
    expect(ok([`--data-dir=${dir}`, 'topics', 'list', '--verbose'])).toBe('a\n');
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(ok(['--version'])).toBe(`${pkg.version}\n`);
    expect(ok(['-V'])).toBe(`${pkg.version}\n`);
  });

  it('never creates anything from a reading command, and produce creates only with --create', () => {
    const dir = tempDir();
    const typo = join(dir, 'typo');
    for (const args of [
      ['topics', 'list'],
      ['topics', 'describe', 'x'],
      ['consume', 'x', '-e'],
      ['groups', 'list'],
      ['groups', 'describe', 'g'],
      ['groups', 'reset-offsets', 'g', '--topic', 'x', '--to-earliest'],
      ['verify'],
    ]) {
      fails([...args, '--data-dir', typo], /no data directory/);
      expect(existsSync(typo), args.join(' ')).toBe(false);
    }
    ok(['topics', 'create', 'exists', '--data-dir', dir]);
    fails(['produce', 'typo-topic', '--data-dir', dir], /unknown topic "typo-topic": pass --create/, 'x\n');
    expect(ok(['topics', 'list', '--data-dir', dir])).toBe('exists\n');
    expect(ok(['produce', 'exists', '--data-dir', dir], 'x\n')).toBe('wrote 1 message(s) to exists\n');
    expect(ok(['produce', 'fresh', '--create', '--partitions', '2', '--data-dir', dir], 'y\n')).toBe(
      'wrote 1 message(s) to fresh\n',
    );
    expect(ok(['topics', 'describe', 'fresh', '--data-dir', dir])).toMatch(/2 partition/);
  });

  it('waits at the end like kafka-console-consumer unless -e, and says when --offset is past the end', async () => {
    const dir = tempDir();
    ok(['produce', 'w', '--create', '--data-dir', dir], 'old1\nold2\n');
    // -e: stops at the end; without --from-beginning the end is where it starts.
    expect(ok(['consume', 'w', '-e', '--data-dir', dir])).toBe('');
    expect(ok(['consume', 'w', '--from-beginning', '--exit-at-end', '--data-dir', dir])).toBe('old1\nold2\n');
    expect(ok(['consume', 'w', '--from-beginning', '--max-messages', '1', '--data-dir', dir])).toBe('old1\n');
    const past = cli(['consume', 'w', '--offset', '50', '-e', '--data-dir', dir]);
    expect(past.status).toBe(0);
    expect(past.stdout).toBe('');
    expect(past.stderr).toMatch(/offset 50 is past the end of w-0 \(high watermark 2\)/);
    // Without -e it waits at the end and prints what arrives later.
    const child = spawn(process.execPath, [bin, 'consume', 'w', '--data-dir', dir]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    // It started at the end: it prints none of the old messages, and the new
    // ones from wherever it began to wait (messages are produced until it does).
    for (let i = 0; !out.includes('\n'); i++) {
      ok(['produce', 'w', '--data-dir', dir], `new${i}\n`);
      // A real wait (not only microtasks), so the child's output is read meanwhile.
      await new Promise((r) => setTimeout(r, 300));
      expect(i, err).toBeLessThan(60);
    }
    const first = Number(/^new(\d+)\n/.exec(out)?.[1]);
    ok(['produce', 'w', '--data-dir', dir], 'last\n');
    await until(
      () => out.endsWith('last\n'),
      `the waiting consumer to print "last" (got ${JSON.stringify(out)})`,
    );
    expect(out).not.toContain('old');
    const printed = out.trim().split('\n');
    expect(printed[printed.length - 1]).toBe('last');
    expect(printed.slice(0, -1)).toEqual(printed.slice(0, -1).map((_, j) => `new${first + j}`));
    child.kill('SIGINT');
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
  });

  it('reads and writes binary keys and values as base64 or hex JSON, never as U+FFFD', () => {
    const dir = tempDir();
    const key = Buffer.from([0x00, 0xff, 0xfe, 0x80]);
    const value = Buffer.from([0xc3, 0x28, 0x01, 0x02, 0xff]);
    const input = [
      JSON.stringify({ key: key.toString('base64'), value: value.toString('base64'), headers: { h: 'v' } }),
      JSON.stringify({ key: null, value: Buffer.from('plain ☃').toString('base64'), partition: 0 }),
    ].join('\n');
    expect(
      ok(
        [
          'produce',
          'bin',
          '--create',
          '--format',
          'json',
          '--key-encoding',
          'base64',
          '--value-encoding',
          'base64',
          '--data-dir',
          dir,
        ],
        input,
      ),
    ).toBe('wrote 2 message(s) to bin\n');
    const hex = ok([
      'consume',
      'bin',
      '--from-beginning',
      '-e',
      '--format',
      'json',
      '--key-encoding',
      'hex',
      '--value-encoding',
      'hex',
      '--data-dir',
      dir,
    ])
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(hex[0]).toMatchObject({
      key: '00fffe80',
      value: 'c32801 02ff'.replace(' ', ''),
      headers: { h: 'v' },
    });
    expect(hex[1]).toMatchObject({ key: null, value: Buffer.from('plain ☃').toString('hex') });
    // utf8 (the default) never replaces bytes: invalid UTF-8 comes out as base64, marked.
    const utf = ok(['consume', 'bin', '--from-beginning', '-e', '--format', 'json', '--data-dir', dir])
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(utf[0]).toMatchObject({
      key: key.toString('base64'),
      keyEncoding: 'base64',
      value: value.toString('base64'),
      valueEncoding: 'base64',
    });
    expect(utf[1]).toMatchObject({ value: 'plain ☃' });
    expect(utf[1].valueEncoding).toBeUndefined();
    expect(JSON.stringify(utf)).not.toContain('\ufffd');
    // --format value prints the bytes themselves (--max-messages and -c alike).
    const raw = spawnSync(process.execPath, [
      bin,
      'consume',
      'bin',
      '--from-beginning',
      '-e',
      '--max-messages',
      '1',
      '--data-dir',
      dir,
    ]);
    expect(raw.status).toBe(0);
    expect(raw.stdout).toEqual(Buffer.concat([value, Buffer.from('\n')]));
    const rawBytes = spawnSync(process.execPath, [
      bin,
      'consume',
      'bin',
      '--from-beginning',
      '-c',
      '1',
      '--data-dir',
      dir,
    ]).stdout;
    expect(rawBytes).toEqual(Buffer.concat([value, Buffer.from('\n')]));
    // Bad input is refused whole.
    fails(
      ['produce', 'bin', '--format', 'json', '--value-encoding', 'hex', '--data-dir', dir],
      /line 1: "value" is not valid hex/,
      '{"value":"zz"}\n',
    );
    fails(['produce', 'bin', '--format', 'json', '--data-dir', dir], /line 1 is not JSON/, 'nope\n');
    fails(
      ['consume', 'bin', '--value-encoding', 'utf16', '--data-dir', dir],
      /--value-encoding must be utf8, base64 or hex/,
    );
    expect(ok(['consume', 'bin', '--from-beginning', '-e', '--data-dir', dir]).split('\n').length).toBe(3);
  });

  it('goes through the broker of a process that serves the directory, and ignores a stale record of it', async () => {
    const dir = tempDir();
    ok(['topics', 'create', 'served', '--data-dir', dir]);
    const script = `
      const { Kafka } = require(${JSON.stringify(join(__dirname, '..', 'dist'))});
      (async () => {
        const kafka = new Kafka({ dataDir: ${JSON.stringify(dir)}, logLevel: 0 });
        const server = await kafka.listen({ port: 0 });
        const admin = kafka.admin();
        await admin.connect();
        process.stdout.write('ready ' + server.address.port + '\\n');
        // The broker runs on native threads and closes when its handle is
        // collected: keep both the handle and the process alive until killed.
        setInterval(() => server, 1000);
      })();`;
    const owner = spawn(process.execPath, ['-e', script]);
    let said = '';
    owner.stdout.on('data', (d) => {
      said += d;
    });
    await until(() => said.includes('ready'), 'the serving process');
    try {
      const port = /ready (\d+)/.exec(said)?.[1];
      const listed = cli(['topics', 'list', '--data-dir', dir]);
      expect(listed.status, listed.stderr).toBe(0);
      expect(listed.stdout).toBe('served\n');
      expect(listed.stderr).toMatch(new RegExp(`going through its broker at 127\\.0\\.0\\.1:${port}`));
      // Writing commands work too, where they would otherwise fail on the lock.
      expect(ok(['produce', 'served', '--data-dir', dir], 'a\nb\n')).toBe('wrote 2 message(s) to served\n');
      ok(['topics', 'create', 'made-remotely', '--data-dir', dir]);
      expect(ok(['consume', 'served', '--from-beginning', '-e', '--data-dir', dir])).toBe('a\nb\n');
      expect(ok(['consume', 'served', '--group', 'sg', '--from-beginning', '-e', '--data-dir', dir])).toBe(
        'a\nb\n',
      );
      expect(ok(['groups', 'describe', 'sg', '--data-dir', dir])).toMatch(/served\s+0\s+2\s+2\s+0/);
    } finally {
      owner.kill('SIGKILL');
      await new Promise((r) => owner.on('exit', r));
    }
    // The killed owner left its record behind: it is stale (the pid is gone) and ignored.
    expect(existsSync(join(dir, '.listen'))).toBe(true);
    const after = cli(['topics', 'list', '--data-dir', dir]);
    expect(after.status, after.stderr).toBe(0);
    expect(after.stdout).toBe('made-remotely\nserved\n');
    expect(after.stderr).not.toMatch(/broker/);
  });

  it('draws progress for consume on a terminal only', async () => {
    const { Progress } = await import('../ts/cli/output');
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    (process.stderr as unknown as { write: (s: string) => boolean }).write = (s: string) => {
      writes.push(s);
      return true;
    };
    try {
      const tty = new Progress('consume t', true);
      tty.update(500, 1000, 'messages', true);
      tty.update(10, 0, 'messages', true);
      tty.end();
      new Progress('consume t', false).update(1, 2, 'messages', true);
    } finally {
      (process.stderr as unknown as { write: typeof orig }).write = orig;
    }
    expect(writes[0]).toMatch(/consume t \[#{15}\.{15}\] 50%/);
    expect(writes[1]).toMatch(/consume t: 10 messages/);
    expect(writes.length).toBe(3);
  });

  it('maps --brokers, --ssl* and --sasl-* to the remote client config', async () => {
    const { remoteConfig } = await import('../ts/cli/target');
    const pemDir = tempDir();
    writeFileSync(join(pemDir, 'ca.pem'), 'CA PEM');
    writeFileSync(join(pemDir, 'cert.pem'), 'CERT PEM');
    writeFileSync(join(pemDir, 'key.pem'), 'KEY PEM');
    expect(remoteConfig({}, ['k1:9092', 'k2:9093'])).toMatchObject({ brokers: ['k1:9092', 'k2:9093'] });
    expect(remoteConfig({}, ['k1:9092']).ssl).toBeUndefined();
    expect(remoteConfig({ ssl: true }, ['k1:9092']).ssl).toBe(true);
    expect(
      remoteConfig(
        {
          'ssl-ca': join(pemDir, 'ca.pem'),
          'ssl-cert': join(pemDir, 'cert.pem'),
          'ssl-key': join(pemDir, 'key.pem'),
          'ssl-servername': 'kafka.example',
        },
        ['k1:9092'],
      ).ssl,
    ).toEqual({ ca: ['CA PEM'], cert: 'CERT PEM', key: 'KEY PEM', servername: 'kafka.example' });
    expect(
      remoteConfig({ 'sasl-mechanism': 'SCRAM-SHA-512', 'sasl-username': 'u', 'sasl-password': 'p' }, ['k:1'])
        .sasl,
    ).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    process.env.FERROLOG_SASL_PASSWORD = 'from-env';
    try {
      expect(remoteConfig({ 'sasl-username': 'u' }, ['k:1']).sasl).toEqual({
        mechanism: 'plain',
        username: 'u',
        password: 'from-env',
      });
    } finally {
      delete process.env.FERROLOG_SASL_PASSWORD;
    }
    expect(() => remoteConfig({ 'sasl-mechanism': 'gssapi', 'sasl-username': 'u' }, ['k:1'])).toThrow(
      /--sasl-mechanism must be/,
    );
    expect(() => remoteConfig({ 'sasl-mechanism': 'plain' }, ['k:1'])).toThrow(/needs --sasl-username/);
    expect(() => remoteConfig({ 'ssl-ca': join(pemDir, 'missing.pem') }, ['k:1'])).toThrow(
      /cannot read --ssl-ca/,
    );
  });
});
