/**
 * The shelf as one self-contained HTML page: styles and charts are inline (SVG drawn here), there
 * is no script and nothing is fetched, so the page opens offline, years later, in any browser.
 */
import { formatBytes } from '../fsx/space.js';
import { aboutDays, DAY_MS, daysLeft } from './growth.js';
import type { Shelf, ShelfCopy, ShelfVolume } from './shelf.js';

const PALETTE = ['#3b7dd8', '#e07b39', '#3aa17e', '#b657b0', '#c9a227', '#5b6bbf', '#d4566b', '#4fa3b8'];

export function colorOf(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** "3 h ago", "9 d ago": how long ago an ISO time was, from `now`. */
export function ago(iso: string | null, now: number): string {
  if (!iso) return 'never';
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return 'unknown';
  if (ms < 60_000) return 'just now';
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ago`;
  if (ms < DAY_MS) return `${Math.floor(ms / 3_600_000)} h ago`;
  return `${Math.floor(ms / DAY_MS)} d ago`;
}

function percent(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((100 * part) / whole)}%` : '–';
}

/**
 * A copy's disk as a bar: the volume's files, everything else in use (parity, catalogs, foreign
 * files), and free space. Without a measured disk size the bar shows files against free space.
 */
function diskBar(v: ShelfVolume, c: ShelfCopy, color: string): string {
  const width = 560;
  const height = 26;
  const free = c.free ?? 0;
  const capacity = c.capacity ?? v.bytes + free;
  const files = Math.min(v.bytes, capacity);
  const other = Math.max(0, capacity - free - files);
  const scale = capacity > 0 ? width / capacity : 0;
  const seg = (x: number, w: number, fill: string, title: string) =>
    w > 0 ? `<rect x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="${height}" fill="${fill}"><title>${escapeHtml(title)}</title></rect>` : '';
  const wFiles = files * scale;
  const wOther = other * scale;
  return (
    `<svg class="bar" role="img" aria-label="${escapeHtml(`${c.label}: ${formatBytes(capacity - free)} used of ${formatBytes(capacity)}`)}" ` +
    `viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">` +
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#e8ecef"/>` +
    seg(0, wFiles, color, `files: ${formatBytes(files)}`) +
    seg(wFiles, wOther, '#9aa5b1', `parity, catalogs and other: ${formatBytes(other)}`) +
    `<rect x="0.5" y="0.5" width="${width - 1}" height="${height - 1}" fill="none" stroke="#6b7785"/>` +
    `</svg>`
  );
}

function copyRow(v: ShelfVolume, c: ShelfCopy, color: string, shelf: Shelf): string {
  const now = shelf.generated;
  const left = daysLeft(c.free, shelf.perDay);
  const free = c.free === null ? 'free space not measured yet' : `${formatBytes(c.free)} free${c.capacity ? ` of ${formatBytes(c.capacity)}` : ''}`;
  const days = left === null ? '' : `, ${aboutDays(left)} of recent growth`;
  const behind =
    c.behind.runs > 0
      ? `<span class="warn">behind its twin${c.behind.days > 0 ? ` by ${c.behind.days} day(s)` : ''}: ${c.behind.runs} run(s), ${c.behind.files} file(s), ${formatBytes(c.behind.bytes)} to catch up</span>`
      : '<span class="ok">up to date</span>';
  const verify = c.lastVerify
    ? `last verified ${ago(c.lastVerify, now)} (${c.lastVerifyChecked} file(s) read)`
    : 'never verified';
  const scrub = c.scrubDue
    ? `<span class="due">due for a scrub${c.lastScrub ? ` (last ${ago(c.lastScrub, now)})` : ''}</span>`
    : `<span class="ok">scrubbed ${ago(c.lastScrub, now)}</span>`;
  return (
    `<div class="copy" data-copy="${escapeHtml(c.copy)}">` +
    `<div class="copy-head"><strong>${escapeHtml(c.label)}</strong> <code>${escapeHtml(c.copy.slice(0, 8))}</code> · synced ${ago(c.lastSync, now)}</div>` +
    diskBar(v, c, color) +
    `<div class="copy-facts">${free}${days} · ${behind} · ${verify} · ${scrub}</div>` +
    `</div>`
  );
}

function volumeCard(v: ShelfVolume, index: number, shelf: Shelf): string {
  const color = colorOf(index);
  const p = v.pending;
  const pending =
    p.total === 0
      ? '<span class="ok">no pending actions</span>'
      : `<span class="warn">${p.total} pending action(s)</span> (${p.RENAME} rename, ${p.LINK} link, ${p.DELETE} delete${p.held > 0 ? `, ${p.held} delete(s) held until a mirror copy catches up` : ''})`;
  return (
    `<section class="volume" data-volume="${escapeHtml(v.volume)}">` +
    `<h2><span class="swatch" style="background:${color}"></span>${escapeHtml(v.label)}` +
    `${v.encrypted ? ' <span class="badge">encrypted</span>' : ''} <code>${escapeHtml(v.volume)}</code></h2>` +
    `<p class="facts">${v.files.toLocaleString('en')} file(s), ${formatBytes(v.bytes)} · ${pending} · ` +
    `${percent(Math.round(v.verifiedShare * v.files), v.files)} of files read within ${shelf.scrubDays} days</p>` +
    (v.copies.length === 0 ? '<p>no copy recorded</p>' : v.copies.map((c) => copyRow(v, c, color, shelf)).join('')) +
    `</section>`
  );
}

/** An axis label: the date, and the time of day when the chart spans under two days. */
function axisTime(ms: number, span: number): string {
  const iso = new Date(ms).toISOString();
  return span < 2 * DAY_MS ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
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
    parts.push(`<circle cx="${x(s.at).toFixed(1)}" cy="${y(total).toFixed(1)}" r="2.5" fill="#27313b"><title>${escapeHtml(`${new Date(s.at).toISOString()}: ${formatBytes(total)}`)}</title></circle>`);
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
.legend{margin-right:12px;font-size:13px}.key{font-size:13px;color:#3e4c59;margin:18px 0 0}.key .swatch{margin-left:10px}.summary{color:#3e4c59}ul{margin:6px 0 0 18px;padding:0}
`;

export function renderShelfHtml(shelf: Shelf): string {
  const files = shelf.volumes.reduce((a, v) => a + v.files, 0);
  const bytes = shelf.volumes.reduce((a, v) => a + v.bytes, 0);
  const rate = shelf.perDay === null ? 'growth not known yet (needs runs over more than a day)' : `recent growth ${formatBytes(shelf.perDay)} per day`;
  const due = shelf.volumes.flatMap((v) => v.copies.filter((c) => c.scrubDue).map((c) => ({ v, c })));
  const dueList =
    due.length === 0
      ? `<p class="ok">Every disk was scrubbed within ${shelf.scrubDays} days.</p>`
      : `<ul>${due
          .map(({ v, c }) => `<li><strong>${escapeHtml(c.label)}</strong>${c.label === v.label ? '' : ` (volume ${escapeHtml(v.label)})`}: last scrub ${ago(c.lastScrub, shelf.generated)}</li>`)
          .join('')}</ul><p>Mount each and run <code>blaine verify --dest DISK --checksum --max-time 120</code>.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Blaine: the disk shelf</title><style>${STYLE}</style></head>
<body>
<h1>The disk shelf</h1>
<p class="summary">${shelf.volumes.length} volume(s), ${files.toLocaleString('en')} file(s), ${formatBytes(bytes)} archived · ${rate} · made ${escapeHtml(new Date(shelf.generated).toISOString().replace('T', ' ').slice(0, 16))} UTC</p>
<section><h2>Growth, run by run</h2>${growthChart(shelf)}</section>
<section><h2>Due back for a scrub</h2>${dueList}</section>
<p class="key"><span class="swatch" style="background:#3b7dd8"></span>archived files (the volume's colour) <span class="swatch" style="background:#9aa5b1"></span>parity, catalogs and anything else on the disk <span class="swatch" style="background:#e8ecef;border:1px solid #6b7785"></span>free</p>
${shelf.volumes.map((v, i) => volumeCard(v, i, shelf)).join('\n')}
</body></html>
`;
}
