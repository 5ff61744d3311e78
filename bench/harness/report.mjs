// The harness's chart (SVG) and page (HTML), drawn by hand: one bar per
// contestant and workload for produce and consume msg/s, on a log scale so a
// 20× gap and a 1.2× gap are both visible. Each bar is the median; its
// whisker spans the min-max of the runs. Value labels live in a margin
// reserved to the right of each panel's plot area, past the largest value
// drawn, so no label can sit on a bar of either panel.

const COLORS = {
  ferrolog: '#d9480f',
  'ferrolog (awaited single sends)': '#e8590c',
  'ferrolog (10,000 concurrent sends)': '#fd7e14',
  'ferrolog (eachMessage)': '#c92a2a',
  'ferrolog (Log API)': '#f08c00',
  'lmdb-js': '#1971c2',
  'better-sqlite3': '#2f9e44',
  'physical (write(2))': '#868e96',
  'physical (mmap copy)': '#495057',
  kafkajs: '#7048e8',
  broken: '#e03131',
};
const colorOf = (name) => COLORS[name] ?? '#5f3dc4';

const esc = (s) =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const full = (n) => Math.round(n).toLocaleString('en-US');
function short(n) {
  if (n >= 1e9) return `${n / 1e9}G`;
  if (n >= 1e6) return `${n / 1e6}M`;
  if (n >= 1e3) return `${n / 1e3}k`;
  return String(n);
}

/** The decades spanned by every value drawn (medians, mins and maxes). */
export function logDomain(values) {
  const vs = values.filter((v) => Number.isFinite(v) && v > 0);
  if (vs.length === 0) return { lo: 1e3, hi: 1e7 };
  let lo = 10 ** Math.floor(Math.log10(Math.min(...vs)));
  let hi = 10 ** Math.ceil(Math.log10(Math.max(...vs)));
  if (hi <= lo) hi = lo * 10;
  // Bars start at the axis minimum: a decade below the smallest value keeps the shortest bar visible.
  lo = Math.max(1, lo / 10);
  return { lo, hi };
}

export function renderSvg(report) {
  const workloads = [...new Set(report.results.map((r) => r.workload))];
  const rowH = 16;
  const headH = 20;
  const left = 250;
  const width = 1120;
  const gap = 30;
  const panelW = (width - left - gap - 10) / 2;
  const labelMargin = 78; // widest label: "17,333,444" at 11 px
  const plotW = panelW - labelMargin;
  const top = report.quick ? 96 : 78;
  const groups = workloads.map((w) => report.results.filter((r) => r.workload === w));
  const bodyH = groups.reduce((h, g) => h + headH + g.length * rowH + 6, 0);
  const height = top + bodyH + 70;
  const all = report.results.flatMap((r) =>
    [r.produce, r.consume].filter(Boolean).flatMap((s) => [s.median, s.min, s.max]),
  );
  const { lo, hi } = logDomain(all);
  const x = (v) =>
    v <= lo ? 0 : (Math.min(Math.log10(v / lo), Math.log10(hi / lo)) / Math.log10(hi / lo)) * plotW;
  const panels = [
    ['produce', left],
    ['consume', left + panelW + gap],
  ];
  const m = report.machine ?? {};
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="18" font-size="14" font-weight="bold">ferrolog benchmark harness · ${esc(report.generatedAt)}</text>`,
    `<text x="8" y="34" fill="#444">${esc(`${m.cpu ?? '?'} · ${m.cores ?? '?'} cores · ${m.ramBytes ? `${(m.ramBytes / 2 ** 30).toFixed(1)} GiB` : '?'} · ${m.kernel ?? '?'} · Node ${m.node ?? '?'} · bars: median of ${report.options.runs} run(s), whiskers: min-max`)}</text>`,
  ];
  if (report.quick)
    parts.push(
      `<text x="8" y="52" font-size="13" font-weight="bold" fill="#c92a2a">QUICK RUN: NOT REPRESENTATIVE. Do not quote these figures.</text>`,
    );
  // Axes: a gridline and a label at every decade, fainter lines at 2× and 5×.
  const axisY = top - 8;
  const bottom = top + bodyH;
  for (const [kind, px] of panels) {
    parts.push(
      `<text x="${px}" y="${axisY - 16}" font-size="13" font-weight="bold">${kind} msg/s (log scale)</text>`,
    );
    for (let d = lo; d <= hi * 1.0001; d *= 10) {
      for (const k of [1, 2, 5]) {
        const v = d * k;
        if (v > hi * 1.0001) break;
        const gx = (px + x(v)).toFixed(1);
        const major = k === 1;
        parts.push(
          `<line x1="${gx}" y1="${axisY}" x2="${gx}" y2="${bottom}" stroke="${major ? '#bbb' : '#e6e6e6'}" stroke-width="1"/>`,
        );
        if (major) {
          parts.push(`<text x="${gx}" y="${axisY - 3}" text-anchor="middle" fill="#444">${short(v)}</text>`);
          parts.push(
            `<text x="${gx}" y="${bottom + 13}" text-anchor="middle" fill="#444">${short(v)}</text>`,
          );
        }
      }
    }
    parts.push(`<line x1="${px}" y1="${axisY}" x2="${px}" y2="${bottom}" stroke="#444"/>`);
    parts.push(`<line x1="${px}" y1="${bottom}" x2="${px + plotW}" y2="${bottom}" stroke="#444"/>`);
  }
  let y = top;
  groups.forEach((g, gi) => {
    parts.push(`<text x="8" y="${y + 13}" font-weight="bold">${esc(workloads[gi])}</text>`);
    y += headH;
    for (const r of g) {
      parts.push(`<text x="18" y="${y + 11}" fill="${colorOf(r.contestant)}">${esc(r.contestant)}</text>`);
      for (const [kind, px] of panels) {
        const s = r[kind];
        if (!s) {
          parts.push(`<text x="${px + 4}" y="${y + 11}" fill="#999">—</text>`);
          continue;
        }
        const bw = x(s.median);
        const cy = y + (rowH - 4) / 2;
        parts.push(
          `<rect x="${px}" y="${y}" width="${bw.toFixed(1)}" height="${rowH - 4}" fill="${colorOf(r.contestant)}" fill-opacity="0.85"><title>${esc(`${r.contestant} · ${r.workload} · ${kind}: median ${full(s.median)}, min ${full(s.min)}, max ${full(s.max)} msg/s`)}</title></rect>`,
        );
        if (s.max > s.min) {
          const x1 = (px + x(s.min)).toFixed(1);
          const x2 = (px + x(s.max)).toFixed(1);
          parts.push(`<line x1="${x1}" y1="${cy}" x2="${x2}" y2="${cy}" stroke="#111" stroke-width="1.2"/>`);
          for (const wx of [x1, x2])
            parts.push(
              `<line x1="${wx}" y1="${y + 1}" x2="${wx}" y2="${y + rowH - 5}" stroke="#111" stroke-width="1.2"/>`,
            );
        }
        // Right of the bar and its whisker, inside the reserved margin.
        const lx = px + Math.max(bw, x(s.max)) + 4;
        parts.push(`<text x="${lx.toFixed(1)}" y="${y + 10}">${full(s.median)}</text>`);
      }
      y += rowH;
    }
    y += 6;
  });
  parts.push(
    `<text x="8" y="${bottom + 34}" fill="#444">Both axes are logarithmic (msg/s). A bar is the median of the runs, its whisker the min-max spread; "—": not measured by this contestant. Ratios and targets: index.html / latest.md.</text>`,
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function htmlTable(rows) {
  if (!rows || rows.length === 0) return '<p>(none)</p>';
  const cols = Object.keys(rows[0]);
  return `<table><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>
${rows.map((r) => `<tr>${cols.map((c) => `<td>${esc(r[c] ?? '')}</td>`).join('')}</tr>`).join('\n')}</table>`;
}

export function renderHtml(report, table, targetTable = [], latencyTable = []) {
  const m = report.machine ?? {};
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ferrolog benchmark${report.quick ? ' (quick run, not representative)' : ''}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,td:nth-child(2){text-align:left}.warn{color:#c92a2a;font-weight:bold}</style>
</head><body>
<h1>ferrolog benchmark</h1>
${report.quick ? '<p class="warn">QUICK RUN: NOT REPRESENTATIVE (tiny sizes, one run, possibly a busy machine). Do not quote these figures.</p>' : ''}
<p>${esc(report.generatedAt)} · ${esc(m.cpu ?? '?')} · ${m.cores ?? '?'} cores · ${m.ramBytes ? (m.ramBytes / 2 ** 30).toFixed(1) : '?'} GiB RAM · ${esc(m.kernel ?? '?')} · Node ${esc(m.node ?? '?')} · load average at start ${esc((m.loadAverageAtStart ?? []).join(' '))} · medians of ${report.options.runs} run(s), each after an untimed pass of the same workload, min-max in parentheses · the run took ${Math.round(report.elapsedSeconds ?? 0)} s</p>
<img src="chart.svg" alt="produce and consume throughput per contestant and workload, log scale, with min-max whiskers">
<h2>Targets (issue 17)</h2>
<p>Ratios of medians measured side by side in this run; in parentheses the worst and best pairing of runs.</p>
${htmlTable(targetTable)}
<h2>Throughput</h2>
${htmlTable(table)}
<h2>End-to-end latency at 10,000 msg/s</h2>
${htmlTable(latencyTable)}
<p>${report.failures.length ? `<b>verification failed:</b> ${report.failures.map(esc).join('; ')}` : 'Every contestant read back exactly what it wrote (count and digest).'}</p>
</body></html>
`;
}
