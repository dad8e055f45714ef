/**
 * Progress: what drawing the progress line costs a first backup of many small files, where
 * per-file overhead shows most (under 3%). Both runs go through the same
 * pseudo-terminal (script(1)), one with -q (no progress), one with the line redrawn in place.
 * The check compares CPU time (all of Blaine's threads), which other work on a shared machine
 * disturbs far less than wall time; wall time is shown beside it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchContext, SectionDef } from './context.js';
import { BenchError, BLAINE_BIN, log, repeated, rmrf, settle, timeRun, type BlaineSummary } from './measure.js';
import { fmtCount, fmtRatio, fmtSpread, type Section } from './report.js';
import { makeSmallTree } from './tree.js';
import { ProgressDisplay } from '../src/progress/display.js';
import { Progress } from '../src/progress/progress.js';

/**
 * What the progress hooks themselves cost per file, in this process: the pipeline's call for
 * each file and a redraw of the line every 1,000 files (a real run redraws 4 times a second,
 * far less often). Unlike whole-run times, this does not drown in a shared machine's noise.
 */
function hookNanosPerFile(files: number): number {
  const progress = new Progress();
  let written = 0;
  const stream = { isTTY: true, columns: 120, write: (t: string) => (written += t.length) };
  const display = new ProgressDisplay(progress, stream, 'terminal', () => () => {});
  const paths = Array.from({ length: 1000 }, (_, i) => `/mnt/media/photos/2019/summer/IMG_${String(i).padStart(4, '0')}.jpg`);
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    progress.begin('copying', { files, bytes: files * 2048 });
    const start = process.hrtime.bigint();
    for (let i = 1; i <= files; i++) {
      progress.at(i, i * 2048, paths[i % 1000]!);
      if (i % 1000 === 0) display.draw();
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / files);
  }
  display.stop();
  if (written === 0) throw new BenchError('the progress display drew nothing');
  return best;
}

const TARGET = 0.03;
const HOOK = pathToFileURL(fileURLToPath(new URL('./rss-hook.js', import.meta.url))).href;

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
  const run = (quiet: boolean): { wall: number; cpu: number } => {
    const disk = path.join(ctx.work, `disk-${n}`);
    const db = path.join(ctx.work, `db-${n}.sqlite`);
    const json = path.join(ctx.work, `out-${n}.json`);
    const cpuFile = path.join(ctx.work, `cpu-${n}`);
    n++;
    fs.mkdirSync(disk);
    const argv = [process.execPath, '--import', HOOK, BLAINE_BIN, 'backup', '--init', '--label', 'bench-progress', '--dest', disk, '--db', db, '--no-parity', '--reserve', '0', '--json', ...(quiet ? ['-q'] : []), src];
    // A terminal of 120 columns, as a user's; stdout to a file so the JSON stays apart from the drawing.
    const cmd = `stty cols 120 rows 40; ${argv.map(sh).join(' ')} > ${sh(json)}`;
    settle();
    const r = timeRun('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, BLAINE_BENCH_CPU_FILE: cpuFile } });
    const cpu = Number(fs.readFileSync(cpuFile, 'utf8')) / 1e6;
    const summary = JSON.parse(fs.readFileSync(json, 'utf8')) as BlaineSummary;
    if (summary.added !== ctx.files) throw new BenchError(`the backup added ${summary.added} files, expected ${ctx.files}`);
    if (!quiet && !r.stdout.includes('\x1b[K')) throw new BenchError('no progress line was drawn on the terminal');
    rmrf(disk);
    for (const f of [db, `${db}-wal`, `${db}-shm`, json, cpuFile]) fs.rmSync(f, { force: true });
    return { wall: r.seconds, cpu };
  };

  const quiet: { wall: number; cpu: number }[] = [];
  const drawn: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < ctx.repeat; i++) {
    // Alternating spreads any drift of the machine over both.
    log(`progress: round ${i + 1}/${ctx.repeat}`);
    quiet.push(run(true));
    drawn.push(run(false));
  }
  const qWall = repeated(quiet.map((x) => x.wall));
  const dWall = repeated(drawn.map((x) => x.wall));
  const qCpu = repeated(quiet.map((x) => x.cpu));
  const dCpu = repeated(drawn.map((x) => x.cpu));
  const overhead = dCpu.best / qCpu.best - 1;
  const cpuNote = (c: typeof qCpu) => `CPU ${c.best.toFixed(2)} s (median ${c.median.toFixed(2)})`;
  s.rows.push(
    { label: 'blaine backup -q (no progress)', seconds: qWall.best, vsRef: 'reference', note: `${cpuNote(qCpu)}; wall ${fmtSpread(qWall)}` },
    { label: 'blaine backup, progress drawn', seconds: dWall.best, vsRef: fmtRatio(dWall.best / qWall.best), note: `${cpuNote(dCpu)}; wall ${fmtSpread(dWall)}` },
  );
  s.checks.push({ what: 'progress overhead, CPU time (best of each)', value: `${(overhead * 100).toFixed(1)}%`, target: `< ${TARGET * 100}%`, pass: overhead < TARGET });
  s.notes.push(`wall-time overhead (best of each): ${((dWall.best / qWall.best - 1) * 100).toFixed(1)}%`);
  const perFile = hookNanosPerFile(ctx.files);
  const hookShare = (perFile * ctx.files) / 1e9 / qWall.best;
  s.notes.push(`progress hooks in-process: ${perFile.toFixed(0)} ns a file, ${((perFile * ctx.files) / 1e6).toFixed(1)} ms for ${fmtCount(ctx.files)} files`);
  s.checks.push({ what: 'progress hooks\' own cost ÷ the quiet run', value: `${(hookShare * 100).toFixed(3)}%`, target: `< ${TARGET * 100}%`, pass: hookShare < TARGET });
  s.figures = { tree, quietWall: qWall, progressWall: dWall, quietCpu: qCpu, progressCpu: dCpu, overhead };
}
