import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers';

const root = join(__dirname, '..');

/**
 * Runs a command to its end without blocking this worker's event loop: these
 * take from seconds to minutes, and a worker blocked for over 60 s misses
 * vitest's RPC deadline ("Timeout calling onTaskUpdate") even when every test
 * passes. Killed after `timeoutMs`.
 */
function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('npm start and the benchmark harness', () => {
  // The physical contestant is a Rust program the harness builds on first use
  // (bench/harness/physical.mjs); built here, a cold build does not count
  // against the quick run's time limit.
  beforeAll(async () => {
    const r = await run(
      'cargo',
      ['build', '--release', '--example', 'physical_write', '-p', 'ferrolog-engine'],
      890_000,
    );
    expect(r.status, r.stderr).toBe(0);
  }, 900_000);

  it('npm start produces, consumes with a 3-member group and reports offsets and lag', async () => {
    const dataDir = tempDir();
    const r = await run('npm', ['start', '--', '--data-dir', dataDir], 115_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/produced\s+[\d,]+ msg\/s/);
    expect(r.stdout).toMatch(/consumed\s+[\d,]+ msg\/s \(\d+ ms\) by 3 members/);
    expect(r.stdout).toMatch(/partition/);
    expect(r.stdout).toMatch(/total lag 0/);
    expect(r.stdout).toMatch(/ok: every message produced, consumed once by the group, and committed/);
    // Pipes well: no progress bars when stdout is not a terminal.
    expect(r.stdout).not.toMatch(/\r/);
  }, 120_000);

  it('npm run bench -- --quick compares every contestant, prints the targets, and leaves the committed report alone', async () => {
    const committed = join(root, 'bench', 'results', 'latest.json');
    const before = existsSync(committed) ? readFileSync(committed) : null;
    const quickDir = join(root, 'bench', 'results', 'quick');
    const r = await run('npm', ['run', 'bench', '--', '--quick'], 165_000);
    expect(r.status, r.stderr).toBe(0);
    // A quick run never overwrites the committed report; it writes bench/results/quick/.
    expect(existsSync(committed) ? readFileSync(committed) : null).toEqual(before);
    expect(r.stdout).toMatch(/QUICK RUN: NOT REPRESENTATIVE/);
    expect(r.stdout).toMatch(/produce msg\/s \(min-max\)/);
    expect(r.stdout).toMatch(/targets \(issue 17\)/);
    expect(r.stdout).toMatch(/verification: every contestant read back exactly what it wrote/);
    expect(r.stdout).toMatch(/skipped kafkajs: set KAFKA_BROKERS/);
    const report = JSON.parse(readFileSync(join(quickDir, 'latest.json'), 'utf8'));
    expect(report.quick).toBe(true);
    expect(report.representative).toBe(false);
    expect(report.warning).toMatch(/NOT REPRESENTATIVE/);
    for (const k of ['cpu', 'cores', 'ramBytes', 'kernel', 'node']) expect(report.machine[k], k).toBeTruthy();
    const names = new Set(report.results.map((x: { contestant: string }) => x.contestant));
    for (const n of [
      'ferrolog',
      'ferrolog (awaited single sends)',
      'ferrolog (10,000 concurrent sends)',
      'ferrolog (eachMessage)',
      'ferrolog (eachBatch records)',
      'ferrolog (Log API)',
      'lmdb-js',
      'better-sqlite3',
      'physical (write(2))',
      'physical (mmap copy)',
    ]) {
      expect(names.has(n), n).toBe(true);
    }
    // Every figure carries its spread.
    for (const x of report.results) {
      for (const s of [x.produce, x.consume].filter(Boolean)) {
        expect(s.min).toBeLessThanOrEqual(s.median);
        expect(s.max).toBeGreaterThanOrEqual(s.median);
      }
    }
    // The default workloads cover every target of the issue: none is left
    // unmeasured; the columnar view's figures are reported without a goal.
    expect(report.targets).toHaveLength(14);
    for (const t of report.targets) {
      expect(t.value, t.label).toBeGreaterThan(0);
      expect(t.goal === null ? ['no goal'] : ['met', 'missed'], t.label).toContain(t.status);
    }
    expect(report.failures).toEqual([]);
    expect(readFileSync(join(quickDir, 'latest.md'), 'utf8')).toMatch(/NOT REPRESENTATIVE/);
    const svg = readFileSync(join(quickDir, 'chart.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toMatch(/QUICK RUN: NOT REPRESENTATIVE/);
    expect(svg).toMatch(/msg\/s \(log scale\)/);
    expect(labelsOnBars(svg)).toEqual([]);
    const html = readFileSync(join(quickDir, 'index.html'), 'utf8');
    expect(html).toMatch(/<img src="chart.svg"/);
    expect(html).toMatch(/NOT REPRESENTATIVE/);
  }, 180_000);

  it('draws log axes with ticks and gridlines, min-max whiskers, and no label on a bar', () => {
    // The case the old chart got wrong: a 17,333,444 label beside a consume bar.
    const report = {
      generatedAt: '2026-01-01T00:00:00Z',
      quick: false,
      machine: { cpu: 'cpu', cores: 2, ramBytes: 2 ** 33, kernel: 'Linux', node: 'v20' },
      options: { runs: 3, warmups: 1 },
      results: [
        ['ferrolog (Log API)', 17_333_444, 19_000_000],
        ['ferrolog', 3_260_000, 9_999_999],
        ['lmdb-js', 880_000, 1_200_000],
        ['physical (mmap copy)', 99_000_000, null],
      ].map(([contestant, produce, consume]) => ({
        workload: '100 B · 1 partition · relaxed',
        contestant,
        produce: { median: produce, min: (produce as number) * 0.7, max: (produce as number) * 1.3, runs: 3 },
        consume:
          consume === null
            ? null
            : { median: consume, min: consume, max: (consume as number) * 1.9, runs: 3 },
      })),
      latencies: [],
      failures: [],
    };
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { renderSvg } from ${JSON.stringify(join(root, 'bench', 'harness', 'report.mjs'))};
         process.stdout.write(renderSvg(JSON.parse(process.argv[1])));`,
        JSON.stringify(report),
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const svg = r.stdout;
    expect(svg).toMatch(/produce msg\/s \(log scale\)/);
    expect(svg).toMatch(/consume msg\/s \(log scale\)/);
    // Decade ticks labelled on the axis, with gridlines.
    for (const tick of ['100k', '1M', '10M', '100M']) expect(svg).toContain(`>${tick}</text>`);
    expect((svg.match(/stroke="#bbb"/g) ?? []).length).toBeGreaterThanOrEqual(8);
    // Whiskers: three lines (span and two caps) per figure with a spread (7 here).
    expect((svg.match(/stroke="#111"/g) ?? []).length).toBe(21);
    expect(svg).toContain('>17,333,444</text>');
    expect(labelsOnBars(svg)).toEqual([]);
    // Sanity of the checker itself: a label drawn on a bar is caught.
    const broken = svg.replace(
      '</svg>',
      '<rect x="2000" y="2000" width="200" height="12" fill="red"/><text x="2010" y="2010">on a bar</text></svg>',
    );
    expect(labelsOnBars(broken)).toEqual(['on a bar']);
  });

  it('the Kafka comparison scripts load and explain their options', () => {
    // --help exits before starting Kafka, after every import has resolved.
    for (const script of ['broker-vs-kafka.mjs', 'remote.bench.mjs']) {
      const r = spawnSync(process.execPath, [join(root, 'bench', script), '--help'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, `${script}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/--quick/);
      expect(r.stdout).toMatch(/--runs N/);
    }
  }, 120_000);

  it("parses the summaries of Kafka's ProducerPerformance and ConsumerPerformance", () => {
    const producerOut = [
      '50000 records sent, 24402.1 records/sec (2.33 MB/sec), 512.3 ms avg latency, 1203.0 ms max latency.',
      '200000 records sent, 101936.8 records/sec (9.72 MB/sec), 171.44 ms avg latency, 402.00 ms max latency, 160 ms 50th, 361 ms 95th, 392 ms 99th, 401 ms 99.9th.',
    ].join('\n');
    const consumerOut = [
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
      '2026-11-29 04:40:52:001, 2026-11-29 04:40:55:311, 19.0735, 5.7624, 200000, 60422.9607, 3010, 300, 63.5783, 666666.6667',
    ].join('\n');
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { parseProducerPerformance, parseConsumerPerformance } from ${JSON.stringify(join(root, 'bench', 'lib', 'clients.mjs'))};
         const [p, c] = JSON.parse(process.argv[1]);
         let bad = 'parsed';
         try { parseProducerPerformance('no summary here'); } catch { bad = 'threw'; }
         process.stdout.write(JSON.stringify({ p: parseProducerPerformance(p), c: parseConsumerPerformance(c), bad }));`,
        JSON.stringify([producerOut, consumerOut]),
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    // The final summary line, not the interim progress line.
    expect(out.p).toEqual({ records: 200000, rate: 101936.8, p50ms: 160, p99ms: 392 });
    expect(out.c).toEqual({ messages: 200000, rate: 60422.9607, fetchRate: 666666.6667 });
    expect(out.bad).toBe('threw');
  });

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

/**
 * Texts whose box (estimated from the font size: 0.62 em a character, which
 * over-estimates digits) intersects a bar (a <rect> other than the
 * background). Returns their contents.
 */
function labelsOnBars(svg: string): string[] {
  const num = (tag: string, name: string) => {
    const m = new RegExp(`\\b${name}="([-\\d.]+)"`).exec(tag);
    return m ? Number(m[1]) : Number.NaN;
  };
  const rects = [...svg.matchAll(/<rect\b[^>]*>/g)]
    .map((m) => m[0])
    .filter((t) => !t.includes('width="100%"'))
    .map((t) => ({ x: num(t, 'x'), y: num(t, 'y'), w: num(t, 'width'), h: num(t, 'height') }))
    .filter((b) => b.w > 0);
  const bad: string[] = [];
  for (const m of svg.matchAll(/<text\b([^>]*)>([^<]*)<\/text>/g)) {
    const attrs = m[1] as string;
    const content = m[2] as string;
    const fs = /font-size="(\d+)"/.exec(attrs)?.[1];
    const size = fs === undefined ? 11 : Number(fs);
    const w = content.length * size * 0.62;
    const x0 = num(attrs, 'x') - (attrs.includes('text-anchor="middle"') ? w / 2 : 0);
    const y0 = num(attrs, 'y') - size * 0.8;
    const overlaps = rects.some((b) => x0 < b.x + b.w && x0 + w > b.x && y0 < b.y + b.h && y0 + size > b.y);
    if (overlaps) bad.push(content);
  }
  return bad;
}
