import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers';

const root = join(__dirname, '..');

describe('npm start and the benchmark harness', () => {
  it('npm start produces, consumes with a 3-member group and reports offsets and lag', () => {
    const dataDir = tempDir();
    const r = spawnSync('npm', ['start', '--', '--data-dir', dataDir], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/produced\s+[\d,]+ msg\/s/);
    expect(r.stdout).toMatch(/consumed\s+[\d,]+ msg\/s \(\d+ ms\) by 3 members/);
    expect(r.stdout).toMatch(/partition/);
    expect(r.stdout).toMatch(/total lag 0/);
    expect(r.stdout).toMatch(/ok: every message produced, consumed once by the group, and committed/);
    // Pipes well: no progress bars when stdout is not a terminal.
    expect(r.stdout).not.toMatch(/\r/);
  }, 120_000);

  it('npm run bench -- --quick compares every contestant and verifies the read-back', () => {
    const out = tempDir();
    const r = spawnSync('npm', ['run', 'bench', '--', '--quick', '--out', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/produce msg\/s/);
    expect(r.stdout).toMatch(/verification: every contestant read back exactly what it wrote/);
    expect(r.stdout).toMatch(/skipped kafkajs: set KAFKA_BROKERS/);
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    const names = new Set(report.results.map((x: { contestant: string }) => x.contestant));
    for (const n of [
      'ferrolog',
      'ferrolog (Log API)',
      'lmdb-js',
      'better-sqlite3',
      'physical (write(2))',
      'physical (mmap copy)',
    ]) {
      expect(names.has(n), n).toBe(true);
    }
    expect(report.failures).toEqual([]);
    expect(readFileSync(join(out, 'chart.svg'), 'utf8')).toMatch(/^<svg/);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toMatch(/<img src="chart.svg"/);
  }, 120_000);

  it('fails the run when a contestant reads back the wrong data', () => {
    const out = tempDir();
    const r = spawnSync(
      process.execPath,
      [
        join(root, 'bench', 'harness', 'run.mjs'),
        '--quick',
        '--only',
        'broken',
        '--no-latency',
        '--out',
        out,
      ],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/verification FAILED/);
    expect(r.stderr).toMatch(/broken .*read back 19999 messages/);
  }, 60_000);
});
