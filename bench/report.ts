/** What a section found, and how it is printed. */

export interface Row {
  label: string;
  /** null: a figure that could not be taken (the note says why). */
  seconds: number | null;
  /** Throughput as printed, e.g. "812 MB/s" or "95,000 files/s". */
  rate?: string;
  /** Against the section's reference, e.g. "0.83× rsync time". */
  vsRef?: string;
  note?: string;
}

export interface Check {
  what: string;
  value: string;
  target: string;
  /** null: nothing to judge (a figure is missing). */
  pass: boolean | null;
  /** Extrapolated from a smaller run rather than measured at the size the target names. */
  estimate?: boolean;
}

export interface Section {
  name: string;
  title: string;
  rows: Row[];
  notes: string[];
  checks: Check[];
  /** Raw figures for --json. */
  figures: Record<string, unknown>;
  skipped?: string;
  error?: string;
}

export function newSection(name: string, title: string): Section {
  return { name, title, rows: [], notes: [], checks: [], figures: {} };
}

export function fmtSecs(s: number | null): string {
  if (s === null) return '—';
  return s < 10 ? s.toFixed(3) : s < 100 ? s.toFixed(2) : s.toFixed(1);
}

/** How a best-of-N figure was picked, for a table's note. */
export function fmtSpread(x: { all: number[]; median: number; max: number }): string {
  return x.all.length > 1 ? `best of ${x.all.length}; median ${fmtSecs(x.median)}, worst ${fmtSecs(x.max)}` : '';
}

export function fmtRatio(r: number): string {
  return `${r.toFixed(2)}×`;
}

export function fmtCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function table(header: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function renderSection(s: Section): string {
  const out = [`== ${s.name}: ${s.title} ==`];
  if (s.skipped) {
    out.push(`skipped: ${s.skipped}`);
    return out.join('\n');
  }
  if (s.rows.length > 0) {
    out.push(
      table(
        ['measurement', 'seconds', 'rate', 'vs reference', 'note'],
        s.rows.map((r) => [r.label, fmtSecs(r.seconds), r.rate ?? '', r.vsRef ?? '', r.note ?? '']),
        [false, true, true, true, false],
      ),
    );
  }
  for (const n of s.notes) out.push(`  * ${n}`);
  if (s.error) out.push(`ERROR: ${s.error} (figures above were taken before it)`);
  return out.join('\n');
}

function verdict(c: Check): string {
  const v = c.pass === null ? 'info' : c.pass ? 'PASS' : 'FAIL';
  return c.estimate && c.pass !== null ? `${v} (est.)` : v;
}

export function renderSummary(sections: Section[]): string {
  const rows: string[][] = [];
  for (const s of sections) {
    if (s.skipped) rows.push([s.name, `skipped: ${s.skipped}`, '', '', 'SKIP']);
    else if (s.error && s.checks.length === 0) rows.push([s.name, `failed: ${s.error}`, '', '', 'ERROR']);
    for (const c of s.checks) rows.push([s.name, c.what, c.value, c.target, verdict(c)]);
  }
  return ['== summary ==', table(['section', 'requirement', 'measured', 'target', 'result'], rows, [false, false, true, false, false])].join('\n');
}
