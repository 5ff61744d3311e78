// The harness's chart (SVG) and page (HTML), drawn by hand: grouped bars of
// produce and consume msg/s per workload, on a log scale so a 20× gap and a
// 1.2× gap are both visible.

const COLORS = {
  ferrolog: '#d9480f',
  'ferrolog (Log API)': '#f08c00',
  'lmdb-js': '#1971c2',
  'better-sqlite3': '#2f9e44',
  'physical (write(2))': '#868e96',
  'physical (mmap copy)': '#495057',
  kafkajs: '#7048e8',
  broken: '#e03131',
};

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSvg(report) {
  const workloads = [...new Set(report.results.map((r) => r.workload))];
  const names = [...new Set(report.results.map((r) => r.contestant))];
  const rowH = 14;
  const groupH = names.length * rowH + 18;
  const left = 230;
  const width = 980;
  const panelW = (width - left - 40) / 2;
  const height = 60 + workloads.length * groupH + 20 + names.length * 16;
  const max = Math.max(1, ...report.results.flatMap((r) => [r.produce.median, r.consume?.median ?? 0]));
  const min = 1000;
  const x = (v) => (v <= min ? 0 : (Math.log10(v / min) / Math.log10(max / min)) * (panelW - 10));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="24" font-size="14" font-weight="bold">produce msg/s (log scale)</text>`,
    `<text x="${left + panelW + 20}" y="24" font-size="14" font-weight="bold">consume msg/s (log scale)</text>`,
  ];
  workloads.forEach((w, wi) => {
    const y0 = 44 + wi * groupH;
    parts.push(`<text x="8" y="${y0 + 12}" font-weight="bold">${esc(w)}</text>`);
    names.forEach((n, ni) => {
      const r = report.results.find((x2) => x2.workload === w && x2.contestant === n);
      if (!r) return;
      const y = y0 + 4 + ni * rowH;
      const color = COLORS[n] ?? '#000';
      parts.push(
        `<rect x="${left}" y="${y}" width="${x(r.produce.median).toFixed(1)}" height="${rowH - 3}" fill="${color}"/>`,
      );
      parts.push(
        `<text x="${left + x(r.produce.median) + 4}" y="${y + 10}">${Math.round(r.produce.median).toLocaleString('en-US')}</text>`,
      );
      if (r.consume) {
        const cx = left + panelW + 20;
        parts.push(
          `<rect x="${cx}" y="${y}" width="${x(r.consume.median).toFixed(1)}" height="${rowH - 3}" fill="${color}"/>`,
        );
        parts.push(
          `<text x="${cx + x(r.consume.median) + 4}" y="${y + 10}">${Math.round(r.consume.median).toLocaleString('en-US')}</text>`,
        );
      }
    });
  });
  const ly = 50 + workloads.length * groupH;
  names.forEach((n, i) => {
    parts.push(`<rect x="${left}" y="${ly + i * 16}" width="12" height="12" fill="${COLORS[n] ?? '#000'}"/>`);
    parts.push(`<text x="${left + 18}" y="${ly + i * 16 + 10}">${esc(n)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

export function renderHtml(report, table) {
  const cols = table.length ? Object.keys(table[0]) : [];
  const rows = table.map((r) => `<tr>${cols.map((c) => `<td>${esc(r[c])}</td>`).join('')}</tr>`).join('\n');
  const lat = report.latencies
    .map(
      (l) =>
        `<tr><td>${esc(l.contestant)}</td><td>${l.p50.toFixed(0)}</td><td>${l.p99.toFixed(0)}</td><td>${l.p999.toFixed(0)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ferrolog benchmark</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,td:nth-child(2){text-align:left}</style>
</head><body>
<h1>ferrolog benchmark</h1>
<p>${esc(report.generatedAt)} · ${report.machine.cpus} cores · Node ${esc(report.machine.node)} · medians of ${report.options.runs} run(s) after ${report.options.warmups} warm-up(s)</p>
<img src="chart.svg" alt="produce and consume throughput per contestant and workload">
<h2>Throughput</h2>
<table><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>
${rows}</table>
<h2>End-to-end latency at 10,000 msg/s (µs)</h2>
<table><tr><th>contestant</th><th>p50</th><th>p99</th><th>p999</th></tr>
${lat}</table>
<p>${report.failures.length ? `<b>verification failed:</b> ${report.failures.map(esc).join('; ')}` : 'Every contestant read back exactly what it wrote (count and digest).'}</p>
</body></html>
`;
}
