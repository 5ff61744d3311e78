// Shared by every bench script: statistics over runs, the printed table,
// the machine description, and where results are written.
//
// Every figure is a median over runs with its min-max spread, and ratios are
// only taken between figures measured in the same run of the same script.
// A quick (smoke) run never writes into bench/results/ itself: it goes to
// bench/results/quick/ (gitignored) and says it is not representative.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const QUICK_DIR = join(RESULTS_DIR, 'quick');

export const NOT_REPRESENTATIVE =
  'QUICK RUN: NOT REPRESENTATIVE (tiny sizes, few runs, possibly a busy machine). Do not quote these figures.';

/** `--name value` and `--flag` from argv. */
export function cliArgs(argv = process.argv.slice(2)) {
  return {
    has: (f) => argv.includes(`--${f}`),
    opt: (f, d) => {
      const i = argv.indexOf(`--${f}`);
      return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : d;
    },
    num(f, d) {
      const v = Number(this.opt(f, String(d)));
      if (!Number.isFinite(v) || v < 0) throw new Error(`--${f} takes a non-negative number`);
      return v;
    },
    list: (f, d) =>
      String(
        (() => {
          const i = argv.indexOf(`--${f}`);
          return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : d;
        })(),
      )
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
  };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median, min and max of the finite samples; null when there are none. */
export function summarize(xs) {
  const ok = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (ok.length === 0) return null;
  return { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), runs: ok.length };
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(xs, q) {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export const fmtNum = (n, digits = 0) =>
  n === null || n === undefined || !Number.isFinite(n)
    ? '—'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** "1,234 (1,100-1,300)": median and min-max spread. */
export function fmtSummary(s, digits = 0) {
  if (!s) return '—';
  if (s.runs === 1) return `${fmtNum(s.median, digits)} (1 run)`;
  return `${fmtNum(s.median, digits)} (${fmtNum(s.min, digits)}-${fmtNum(s.max, digits)})`;
}

/** a/b of two summaries' medians, or null when either is missing. */
export function ratioOf(a, b) {
  if (!a || !b || !Number.isFinite(a.median) || !Number.isFinite(b.median) || b.median === 0) return null;
  return a.median / b.median;
}

/**
 * The ratio's own spread from the runs: worst (a.min/b.max) and best
 * (a.max/b.min) pairing, so a reader sees whether the ranges overlap.
 */
export function ratioRange(a, b) {
  if (!a || !b || a.runs < 2 || b.runs < 2 || b.min === 0 || b.max === 0) return null;
  return { low: a.min / b.max, high: a.max / b.min };
}

export const fmtRatio = (r, range) =>
  r === null || r === undefined || !Number.isFinite(r)
    ? '—'
    : `${fmtR(r)}×${range ? ` (${fmtR(range.low)}-${fmtR(range.high)})` : ''}`;
// Two decimals, or two significant digits below 0.1 (a 0.004× ratio is not "0.00×").
function fmtR(x) {
  return Math.abs(x) >= 0.1 || x === 0 ? x.toFixed(2) : x.toPrecision(2);
}

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux: fall back to what os reports
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function javaVersion() {
  try {
    // java -version prints to stderr
    return execFileSync('sh', ['-c', 'java -version 2>&1'], { encoding: 'utf8' }).split('\n')[0] || null;
  } catch {
    return null;
  }
}

/** What the figures were measured on; load average says how quiet it was. */
export function machineInfo({ java = false } = {}) {
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    ramBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    ...(java ? { java: javaVersion() } : {}),
    loadAverageAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

export function machineLine(m) {
  return `${m.cpu}, ${m.cores} cores, ${(m.ramBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.kernel}, Node ${m.node}${
    m.java ? `, ${m.java}` : ''
  }; load average at start ${m.loadAverageAtStart.join(' ')}`;
}

/** A GitHub-flavoured markdown table from rows of {column: text}. */
export function markdownTable(rows) {
  if (rows.length === 0) return '(no rows)\n';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v) => String(v ?? '').replace(/\|/g, '\\|');
  return `${[
    `| ${cols.join(' | ')} |`,
    `|${cols.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${cols.map((c) => cell(r[c])).join(' | ')} |`),
  ].join('\n')}\n`;
}

/**
 * Where a script writes: --out DIR when given; otherwise bench/results/ for
 * a full run and bench/results/quick/ for a quick one.
 */
export function outputDir(args, quick) {
  return args.opt('out', quick ? QUICK_DIR : RESULTS_DIR);
}

/**
 * Writes <name>.json and <name>.md into dir. `sections` are [title, rows]
 * pairs rendered as markdown tables; `notes` are paragraphs.
 */
export function writeResults(
  dir,
  name,
  { title, command, quick, machine, options, data, sections, notes = [] },
) {
  mkdirSync(dir, { recursive: true });
  const generatedAt = new Date().toISOString();
  const json = { generatedAt, quick, representative: !quick, machine, options, ...data };
  if (quick) json.warning = NOT_REPRESENTATIVE;
  const md = [
    `# ${title}`,
    '',
    ...(quick ? [`**${NOT_REPRESENTATIVE}**`, ''] : []),
    `Generated ${generatedAt} by \`${command ?? `node bench/${name}.mjs${quick ? ' --quick' : ''}`}\`.`,
    '',
    `Machine: ${machineLine(machine)}.`,
    '',
    `Options: \`${JSON.stringify(options)}\``,
    '',
    'Figures are medians over runs with the min-max spread in parentheses; ratios are of medians measured in this same run (the range in parentheses pairs the worst and best runs).',
    '',
    ...sections.flatMap(([t, rows]) => [`## ${t}`, '', markdownTable(rows)]),
    ...notes.flatMap((n) => [n, '']),
  ].join('\n');
  const jsonPath = join(dir, `${name}.json`);
  const mdPath = join(dir, `${name}.md`);
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(mdPath, `${md.trimEnd()}\n`);
  return { jsonPath, mdPath };
}
