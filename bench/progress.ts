/**
 * Progress: what drawing the progress line costs a first backup of many small files, where
 * per-file overhead shows most (issue 13: under 3%). Both runs go through the same
 * pseudo-terminal (script(1)), one with -q (no progress), one with the line redrawn in place.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BenchContext, SectionDef } from './context.js';
import { BenchError, BLAINE_BIN, log, repeated, rmrf, settle, timeRun, type BlaineSummary } from './measure.js';
import { fmtCount, fmtRatio, fmtSpread, type Section } from './report.js';
import { makeSmallTree } from './tree.js';

const TARGET = 0.03;

function sh(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export const progress: SectionDef = {
  name: 'progress',
  title: (ctx) => `progress line: first backup of ${fmtCount(ctx.files)} small files, on a terminal vs -q`,
  // The source tree and one disk at a time, plus catalogs.
  need: (ctx) => ({ bytes: ctx.files * (2 * 4096 + 4 * 1024) + 256 * 1024 * 1024, inodes: Math.ceil(2.1 * ctx.files) + 1000 }),
  run: runProgress,
};

async function runProgress(ctx: BenchContext, s: Section): Promise<void> {
  const src = path.join(ctx.work, 'src');
  log(`progress: writing ${fmtCount(ctx.files)} files`);
  const tree = makeSmallTree(src, ctx.files);
  s.notes.push(`tree: ${fmtCount(tree.files)} files; each run is a first backup (--no-parity) onto an empty disk with a new catalog`);

  let n = 0;
  const run = (quiet: boolean): number => {
    const disk = path.join(ctx.work, `disk-${n}`);
    const db = path.join(ctx.work, `db-${n}.sqlite`);
    const json = path.join(ctx.work, `out-${n}.json`);
    n++;
    fs.mkdirSync(disk);
    const argv = [process.execPath, BLAINE_BIN, 'backup', '--init', '--label', 'bench-progress', '--dest', disk, '--db', db, '--no-parity', '--reserve', '0', '--json', ...(quiet ? ['-q'] : []), src];
    // A terminal of 120 columns, as a user's; stdout to a file so the JSON stays apart from the drawing.
    const cmd = `stty cols 120 rows 40; ${argv.map(sh).join(' ')} > ${sh(json)}`;
    settle();
    const r = timeRun('script', ['-qfec', cmd, '/dev/null']);
    const summary = JSON.parse(fs.readFileSync(json, 'utf8')) as BlaineSummary;
    if (summary.added !== ctx.files) throw new BenchError(`the backup added ${summary.added} files, expected ${ctx.files}`);
    if (!quiet && !r.stdout.includes('\x1b[K')) throw new BenchError('no progress line was drawn on the terminal');
    rmrf(disk);
    for (const f of [db, `${db}-wal`, `${db}-shm`, json]) fs.rmSync(f, { force: true });
    return r.seconds;
  };

  const quiet: number[] = [];
  const drawn: number[] = [];
  for (let i = 0; i < ctx.repeat; i++) {
    // Alternating spreads any drift of the machine over both.
    log(`progress: round ${i + 1}/${ctx.repeat}`);
    quiet.push(run(true));
    drawn.push(run(false));
  }
  const q = repeated(quiet);
  const d = repeated(drawn);
  const overhead = d.best / q.best - 1;
  s.rows.push(
    { label: 'blaine backup -q (no progress)', seconds: q.best, vsRef: 'reference', note: fmtSpread(q) },
    { label: 'blaine backup, progress drawn', seconds: d.best, vsRef: fmtRatio(d.best / q.best), note: fmtSpread(d) },
  );
  s.checks.push({ what: 'progress overhead (best of each)', value: `${(overhead * 100).toFixed(1)}%`, target: `< ${TARGET * 100}%`, pass: overhead < TARGET });
  s.figures = { tree, quietSeconds: q, progressSeconds: d, overhead };
}
