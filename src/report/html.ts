/**
 * The shelf as one self-contained HTML page: styles and charts are inline (SVG drawn here), there
 * is no script and nothing is fetched, so the page opens offline, years later, in any browser.
 */
import { formatBytes } from '../fsx/space.js';
import { aboutDays, DAY_MS, daysLeft } from './growth.js';
import type { Shelf, ShelfCopy, ShelfVolume } from './shelf.js';
import { describeHealth, healthWarnings } from '../health/history.js';
import { nextSteps } from './next.js';
import { localTime, whenText } from './when.js';

const PALETTE = ['#3b7dd8', '#e07b39', '#3aa17e', '#b657b0', '#c9a227', '#5b6bbf', '#d4566b', '#4fa3b8'];

export function colorOf(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function percent(part: number, whole: number): string {
  return `${Math.round((100 * part) / whole)}%`;
}

/** What the bar of a copy is made of: the volume's files, Blaine's overhead, free space, of a total. */
function barParts(v: ShelfVolume, c: ShelfCopy): { capacity: number; files: number; overhead: number; free: number; measured: boolean } {
  const free = c.free ?? 0;
  const capacity = c.capacity ?? v.bytes + free;
  const files = Math.min(v.bytes, capacity);
  return { capacity, files, overhead: Math.max(0, capacity - free - files), free, measured: c.capacity !== null };
}

/**
 * A copy's disk as a bar: the volume's files, Blaine's overhead (parity, catalogs, and what the
 * file system keeps for itself), and free space, with the disk's size at the right end.
 */
function diskBar(v: ShelfVolume, c: ShelfCopy, color: string): string {
  const width = 560;
  const height = 26;
  const b = barParts(v, c);
  const scale = b.capacity > 0 ? width / b.capacity : 0;
  const seg = (x: number, w: number, fill: string, title: string) =>
    w > 0 ? `<rect x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="${height}" fill="${fill}"><title>${escapeHtml(title)}</title></rect>` : '';
  const wFiles = b.files * scale;
  const wOver = b.overhead * scale;
  return (
    `<svg class="bar" role="img" aria-label="${escapeHtml(`${c.label}: ${formatBytes(b.capacity - b.free)} used of ${formatBytes(b.capacity)}`)}" ` +
    `viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">` +
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#e8ecef"/>` +
    seg(0, wFiles, color, `archived files: ${formatBytes(b.files)}`) +
    seg(wFiles, wOver, '#9aa5b1', `overhead (parity, catalogs, file system): ${formatBytes(b.overhead)}`) +
    `<rect x="0.5" y="0.5" width="${width - 1}" height="${height - 1}" fill="none" stroke="#6b7785"/>` +
    `</svg>`
  );
}

/** The bar in words: each part with its size, and the total. */
function barLegend(v: ShelfVolume, c: ShelfCopy): string {
  const b = barParts(v, c);
  if (c.free === null) return 'disk size and free space not measured yet';
  const total = b.measured ? `${formatBytes(b.capacity)} disk` : `${formatBytes(b.capacity)} known (disk size not measured yet)`;
  return (
    `<span class="part">files <b>${formatBytes(b.files)}</b></span> + ` +
    `<span class="part">overhead <b>${formatBytes(b.overhead)}</b> (parity, catalogs, file system${b.capacity > 0 ? `: ${percent(b.overhead, b.capacity)} of the disk` : ''})</span> + ` +
    `<span class="part">free <b>${formatBytes(b.free)}</b></span> = ${total}`
  );
}

function copyRow(v: ShelfVolume, c: ShelfCopy, color: string, shelf: Shelf): string {
  const now = shelf.generated;
  const left = daysLeft(c.free, shelf.perDay);
  const days = left === null ? '' : ` · ${aboutDays(left)} of recent growth`;
  const behind =
    c.behind.runs > 0
      ? `<div class="alert">Behind its twin${c.behind.days > 0 ? ` by ${c.behind.days} day(s)` : ''}: ${c.behind.runs} run(s), ${c.behind.files.toLocaleString('en')} file(s), ${formatBytes(c.behind.bytes)} to catch up. Plug it in: the backup catches it up.</div>`
      : '';
  const verify = c.lastVerify ? `last verified ${whenText(c.lastVerify, now)}, ${c.lastVerifyChecked.toLocaleString('en')} file(s) read` : 'never verified';
  const scrub = v.files === 0 ? '<span class="ok">nothing to scrub yet</span>'
    : c.scrubDue
      ? `<span class="due">due for a scrub (${c.lastScrub ? `last ${whenText(c.lastScrub, now)}` : 'never scrubbed since it was made'})</span>`
      : c.lastScrub
        ? `<span class="ok">scrubbed ${whenText(c.lastScrub, now)}</span>`
        : `<span class="ok">not due: made ${whenText(c.made ?? c.lastSync, now)}</span>`;
  const warnings = c.health ? healthWarnings(c.label, c.health) : [];
  const health = c.health
    ? `<div class="${warnings.length > 0 ? 'alert urgent' : 'health'}">Health ${whenText(c.health.latest.at, now)}: ${escapeHtml(describeHealth(c.health))}${warnings.map((w) => `<br>${escapeHtml(w)}`).join('')}</div>`
    : '';
  return (
    `<div class="copy" data-copy="${escapeHtml(c.copy)}">` +
    `<div class="copy-head"><strong>${escapeHtml(c.label)}</strong> <code>${escapeHtml(c.copy.slice(0, 8))}</code> · last synced ${whenText(c.lastSync, now)}</div>` +
    diskBar(v, c, color) +
    `<div class="legend-line">${barLegend(v, c)}${days}</div>` +
    behind +
    health +
    `<div class="copy-facts">${verify} · ${scrub}</div>` +
    `</div>`
  );
}

/** What a volume holds: its largest folders, with files and bytes. */
function heldTable(v: ShelfVolume, shelf: Shelf): string {
  if (v.folders.length === 0) return '<p class="facts">It holds no files yet.</p>';
  const rows = v.folders
    .map((f) => `<tr><td><code>${escapeHtml(f.path)}</code></td><td class="num">${f.files.toLocaleString('en')}</td><td class="num">${formatBytes(f.bytes)}</td></tr>`)
    .join('');
  const more = v.moreFolders > 0 ? `<tr><td colspan="3">… and ${v.moreFolders.toLocaleString('en')} more folder(s) (<code>blaine list --disk ${escapeHtml(v.label)}</code>)</td></tr>` : '';
  return (
    `<details open><summary>What it holds, below <code>${escapeHtml(shelf.commonFolder)}</code></summary>` +
    `<table class="held"><thead><tr><th>folder</th><th class="num">files</th><th class="num">bytes</th></tr></thead><tbody>${rows}${more}</tbody></table></details>`
  );
}

function volumeCard(v: ShelfVolume, index: number, shelf: Shelf): string {
  const color = colorOf(index);
  const p = v.pending;
  const pending = p.total === 0 ? '<span class="ok">no pending actions</span>' : `<span class="warn">${p.total} pending action(s)</span>`;
  const pendingBox =
    p.total === 0
      ? ''
      : `<div class="alert">${p.total.toLocaleString('en')} deferred action(s) wait for this disk (${p.RENAME} rename, ${p.LINK} link, ${p.DELETE} delete${p.held > 0 ? `, ${p.held} delete(s) held until a mirror copy catches up` : ''}): bring it back and run the backup or <code>blaine apply</code>.</div>`;
  const read = v.files === 0 ? 'no files to read yet' : `${percent(Math.round(v.verifiedShare * v.files), v.files)} of files read within ${shelf.scrubDays} days`;
  return (
    `<section class="volume" data-volume="${escapeHtml(v.volume)}">` +
    `<h2><span class="swatch" style="background:${color}"></span>${escapeHtml(v.label)}` +
    `${v.encrypted ? ' <span class="badge">encrypted</span>' : ''} <code>${escapeHtml(v.volume)}</code></h2>` +
    `<p class="facts">${v.files.toLocaleString('en')} file(s), ${formatBytes(v.bytes)} · ${pending} · ${read}</p>` +
    pendingBox +
    heldTable(v, shelf) +
    (v.copies.length === 0 ? '<p>no copy recorded</p>' : v.copies.map((c) => copyRow(v, c, color, shelf)).join('')) +
    `</section>`
  );
}

/** An axis label: the date, and the time of day when the chart spans under two days. */
function axisTime(ms: number, span: number): string {
  const local = localTime(ms);
  return span < 2 * DAY_MS ? local : local.slice(0, 10);
}

/** The archive's size run by run, each volume a band stacked on the ones before it. */
export function growthChart(shelf: Shelf): string {
  const series = shelf.growth;
  if (series.length === 0) return '<p>No runs recorded yet.</p>';
  const W = 760;
  const H = 260;
  const left = 70;
  const bottom = 30;
  const top = 10;
  const right = 20;
  const t0 = series[0]!.at;
  const t1 = series[series.length - 1]!.at;
  const span = Math.max(1, t1 - t0);
  const max = Math.max(1, ...series.map((s) => s.byVolume.reduce((a, b) => a + b, 0)));
  const x = (t: number) => (series.length === 1 ? left + (W - left - right) / 2 : left + ((t - t0) / span) * (W - left - right));
  const y = (b: number) => H - bottom - (b / max) * (H - bottom - top);
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const b = (max * i) / 4;
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(b).toFixed(1)}" y2="${y(b).toFixed(1)}" stroke="#d5dbe0"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(b) + 4).toFixed(1)}" text-anchor="end">${escapeHtml(formatBytes(b))}</text>`);
  }
  const nVol = shelf.volumes.length;
  const below = series.map(() => 0);
  for (let v = 0; v < nVol; v++) {
    const lower = below.slice();
    const upper = series.map((s, i) => lower[i]! + s.byVolume[v]!);
    upper.forEach((u, i) => (below[i] = u));
    if (upper.every((u, i) => u === lower[i])) continue;
    const pts = [
      ...series.map((s, i) => `${x(s.at).toFixed(1)},${y(upper[i]!).toFixed(1)}`),
      ...series.map((s, i) => `${x(s.at).toFixed(1)},${y(lower[i]!).toFixed(1)}`).reverse(),
    ];
    const label = shelf.volumes[v]!.label;
    parts.push(`<polygon points="${pts.join(' ')}" fill="${colorOf(v)}" fill-opacity="0.75" stroke="${colorOf(v)}"><title>${escapeHtml(label)}</title></polygon>`);
  }
  for (const s of series) {
    const total = s.byVolume.reduce((a, b) => a + b, 0);
    parts.push(`<circle cx="${x(s.at).toFixed(1)}" cy="${y(total).toFixed(1)}" r="2.5" fill="#27313b"><title>${escapeHtml(`${localTime(s.at)}: ${formatBytes(total)}`)}</title></circle>`);
  }
  parts.push(`<text x="${left}" y="${H - 8}">${axisTime(t0, t1 - t0)}</text>`);
  if (series.length > 1) {
    parts.push(`<text x="${W - right}" y="${H - 8}" text-anchor="end">${axisTime(t1, t1 - t0)}</text>`);
    // Ticks between the ends, labelled only where there is room for a label.
    for (let k = 1; k < 4; k++) {
      const t = t0 + ((t1 - t0) * k) / 4;
      parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${H - bottom}" y2="${H - bottom + 4}" stroke="#6b7785"/>`);
      if (k === 2) parts.push(`<text x="${x(t).toFixed(1)}" y="${H - 8}" text-anchor="middle">${axisTime(t, t1 - t0)}</text>`);
    }
  }
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${H - bottom}" stroke="#6b7785"/>`);
  const legend = shelf.volumes
    .map((v, i) => `<span class="legend"><span class="swatch" style="background:${colorOf(i)}"></span>${escapeHtml(v.label)}</span>`)
    .join(' ');
  return (
    `<svg class="growth" role="img" aria-label="archive size run by run" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${parts.join('')}</svg>` +
    `<div>${legend}</div>`
  );
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;margin:24px auto;max-width:840px;padding:0 16px;background:#fafbfc}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 6px;display:flex;align-items:center;gap:8px;flex-wrap:wrap}
h2 code{font-size:11px;color:#6b7785;font-weight:normal}
section{background:#fff;border:1px solid #dde3e8;border-radius:6px;padding:14px 16px;margin:14px 0}
.copy{margin:10px 0 4px}.copy-head{margin-bottom:4px}.copy-facts{font-size:13px;color:#3e4c59;margin-top:4px}
.facts{margin:0 0 6px;color:#3e4c59}.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.badge{font-size:11px;background:#27313b;color:#fff;border-radius:3px;padding:1px 5px}
.ok{color:#2b7a4b}.warn{color:#b4530a}.due{color:#b42318;font-weight:600}
svg text{font-size:11px;fill:#3e4c59}svg.bar{display:block;max-width:100%;height:auto}svg.growth{max-width:100%;height:auto}
.legend{margin-right:12px;font-size:13px}.legend-line{font-size:13px;color:#3e4c59;margin-top:3px}.part b{font-weight:600}
.alert{background:#fff4e5;border-left:4px solid #e07b39;padding:6px 10px;margin:8px 0;font-size:13px}.alert.urgent{background:#fdecec;border-color:#b42318}
.health{font-size:13px;color:#3e4c59;margin-top:4px}
.next{border:2px solid #27313b}.next ol{margin:6px 0 0 20px;padding:0}.next li{margin:4px 0}.lvl{font-size:11px;border-radius:3px;padding:1px 5px;color:#fff;margin-right:4px}
.lvl-urgent{background:#b42318}.lvl-soon{background:#e07b39}.lvl-when-convenient{background:#6b7785}
table.held{border-collapse:collapse;font-size:13px;margin:4px 0 6px}table.held td,table.held th{padding:2px 10px 2px 0;text-align:left}table.held .num{text-align:right}details summary{cursor:pointer;font-size:13px;color:#3e4c59}.key{font-size:13px;color:#3e4c59;margin:18px 0 0}.key .swatch{margin-left:10px}.summary{color:#3e4c59}ul{margin:6px 0 0 18px;padding:0}
`;

/** The box at the top: what to do next, most urgent first. */
function nextBox(shelf: Shelf): string {
  const steps = nextSteps(shelf);
  const body =
    steps.length === 0
      ? '<p class="ok">Nothing to do: every disk is up to date, scrubbed on time and healthy.</p>'
      : `<ol>${steps
          .map((s) => `<li><span class="lvl lvl-${s.level}">${s.level.replace(/-/g, ' ')}</span><strong>${escapeHtml(s.disk)}</strong>: ${escapeHtml(s.action)} <span class="why">(${escapeHtml(s.why)})</span></li>`)
          .join('')}</ol>`;
  return `<section class="next"><h2>What to do next</h2>${body}</section>`;
}

export function renderShelfHtml(shelf: Shelf): string {
  const files = shelf.volumes.reduce((a, v) => a + v.files, 0);
  const bytes = shelf.volumes.reduce((a, v) => a + v.bytes, 0);
  const rate = shelf.perDay === null ? 'growth not known yet (needs runs over more than a day)' : `recent growth ${formatBytes(shelf.perDay)} per day`;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Blaine: the disk shelf</title><style>${STYLE}</style></head>
<body>
<h1>The disk shelf</h1>
<p class="summary">${shelf.volumes.length} volume(s), ${files.toLocaleString('en')} file(s), ${formatBytes(bytes)} archived · ${rate} · made ${escapeHtml(localTime(shelf.generated))} (${escapeHtml(zone)})</p>
${nextBox(shelf)}
<p class="key">The scrub rule: a disk that holds files is due when <code>blaine verify --checksum</code> has not read it for ${shelf.scrubDays} days (counted from when the disk was made; <code>report --scrub-after DAYS</code>). <span class="swatch" style="background:#3b7dd8"></span>archived files (the volume's colour) <span class="swatch" style="background:#9aa5b1"></span>overhead: parity, catalogs, file system <span class="swatch" style="background:#e8ecef;border:1px solid #6b7785"></span>free</p>
${shelf.volumes.map((v, i) => volumeCard(v, i, shelf)).join('\n')}
<section><h2>Growth, run by run</h2>${growthChart(shelf)}</section>
</body></html>
`;
}
