/**
 * Mirror: the weekly swap. One copy of a mirrored volume takes a week of changes (1% new files,
 * 0.5% renamed, 0.1% deleted); the other copy then comes back behind and is caught up. SPEC §9:
 * catching up costs at most twice the in-step run of the same changes, and at 1,000,000 files the
 * swap takes under 10 s and under 1 GiB.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BenchContext, SectionDef } from './context.js';
import { BLAINE_BIN, BenchError, GiB, fmtBytes, log, runBlaine, settle, timeRun, type BlaineRun } from './measure.js';
import { fmtCount, fmtRatio, fmtSecs, type Section } from './report.js';
import { ByteStream, Rng, makeSmallTree } from './tree.js';

const MILLION = 1_000_000;

export const mirror: SectionDef = {
  name: 'mirror',
  title: (ctx) => `mirror of ${fmtCount(ctx.files)} small files: the copy that is behind vs the one in step`,
  // Source and two copies of one block per file, plus four catalogs (host, two disks, snapshots).
  need: (ctx) => ({ bytes: ctx.files * (3 * 4096 + 6 * 1024) + 256 * 1024 * 1024, inodes: Math.ceil(3.1 * ctx.files) + 1000 }),
  run: runMirror,
};

interface Week {
  added: number;
  addedBytes: number;
  renamed: number;
  deleted: number;
}

/** The week: every file of the tree is left, renamed or deleted by a fixed draw; new files go beside them. */
function makeWeek(src: string, files: number): Week {
  const rng = new Rng(7);
  const bytes = new ByteStream(7);
  const week: Week = { added: 0, addedBytes: 0, renamed: 0, deleted: 0 };
  const wantAdded = Math.round(files / 100);
  const wantRenamed = Math.round(files / 200);
  const wantDeleted = Math.round(files / 1000);
  const dirs = fs.readdirSync(src).sort();
  const all: string[] = [];
  for (const d of dirs) for (const f of fs.readdirSync(path.join(src, d)).sort()) all.push(path.join(src, d, f));
  // A partial Fisher-Yates shuffle picks the files renamed and deleted, each at most once.
  for (let i = 0; i < wantRenamed + wantDeleted; i++) {
    const j = i + Math.floor(rng.next() * (all.length - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
    const file = all[i]!;
    if (i < wantRenamed) {
      fs.renameSync(file, path.join(path.dirname(file), `renamed-${path.basename(file)}`));
      week.renamed++;
    } else {
      fs.rmSync(file);
      week.deleted++;
    }
  }
  for (let i = 0; i < wantAdded; i++) {
    const dir = path.join(src, dirs[Math.floor(rng.next() * dirs.length)]!);
    const size = rng.int(1, 4096);
    fs.writeFileSync(path.join(dir, `new-${String(i).padStart(7, '0')}.dat`), bytes.take(size));
    week.added++;
    week.addedBytes += size;
  }
  return week;
}

async function runMirror(ctx: BenchContext, s: Section): Promise<void> {
  const src = path.join(ctx.work, 'src');
  const B = path.join(ctx.work, 'B');
  const B2 = path.join(ctx.work, 'B2');
  const db = path.join(ctx.work, 'host.sqlite');
  fs.mkdirSync(B);
  fs.mkdirSync(B2);
  log(`mirror: writing ${fmtCount(ctx.files)} files`);
  const tree = makeSmallTree(src, ctx.files);
  s.notes.push(`tree: ${fmtCount(tree.files)} files in ${fmtCount(tree.dirs)} directories, ${fmtBytes(tree.bytes)}`);

  const backup = (disk: string, ...extra: string[]): BlaineRun =>
    runBlaine(['backup', ...extra, '--dest', disk, '--db', db, '--no-parity', '--reserve', '0', '--clean', '--max-delete', '100', src]);
  const count = (r: BlaineRun, key: string) => (r.summary as unknown as Record<string, number>)[key] ?? 0;
  const rss = (r: BlaineRun) => (r.maxRssBytes === null ? 'peak RSS n/a' : `peak RSS ${fmtBytes(r.maxRssBytes)}`);

  settle();
  log('mirror: first backup onto B');
  const first = backup(B, '--init', '--label', 'bench-mirror');
  // Small files of one or two bytes repeat one another at a million: those are linked, not copied.
  if (count(first, 'added') + count(first, 'linked') !== ctx.files) {
    throw new BenchError(`the first backup stored ${count(first, 'added')} + ${count(first, 'linked')} linked files, expected ${ctx.files}`);
  }
  log('mirror: clone B to B2');
  timeRun(process.execPath, [BLAINE_BIN, 'clone', '--dest', B, '--to', B2, '--db', db]);

  log('mirror: a week of changes');
  const week = makeWeek(src, ctx.files);
  s.notes.push(`week: ${fmtCount(week.added)} new files (${fmtBytes(week.addedBytes)}), ${fmtCount(week.renamed)} renamed, ${fmtCount(week.deleted)} deleted`);

  settle();
  log('mirror: B in step takes the week');
  const inStep = backup(B);
  if (count(inStep, 'added') + count(inStep, 'linked') !== week.added || count(inStep, 'removed') !== week.deleted) {
    throw new BenchError(`the in-step run did not see the week: ${JSON.stringify(inStep.summary)}`);
  }
  settle();
  log('mirror: B2 comes back behind');
  const behind = backup(B2);
  if (behind.summary.bytesCopied !== inStep.summary.bytesCopied) {
    throw new BenchError(`the copy that was behind copied ${behind.summary.bytesCopied} bytes, the one in step ${inStep.summary.bytesCopied}: only the week's new content should be`);
  }
  settle();
  log('mirror: both copies again, nothing changed');
  const quietB2 = backup(B2);
  const quietB = backup(B);
  for (const [name, r] of [['B2', quietB2], ['B', quietB]] as const) {
    if (r.summary.bytesCopied !== 0 || r.summary.added + r.summary.modified !== 0) throw new BenchError(`the no-change run on ${name} changed something: ${JSON.stringify(r.summary)}`);
  }

  // What any run costs before its first file (Node start-up, catalogs, locks): an empty data path.
  const empty = path.join(ctx.work, 'empty');
  const emptyDisk = path.join(ctx.work, 'empty-disk');
  fs.mkdirSync(empty);
  fs.mkdirSync(emptyDisk);
  const emptyRun = (...extra: string[]) =>
    runBlaine(['backup', ...extra, '--dest', emptyDisk, '--db', path.join(ctx.work, 'empty.sqlite'), '--no-parity', '--reserve', '0', empty]);
  emptyRun('--init', '--label', 'bench-empty');
  settle();
  const fixed = emptyRun();

  const ratio = behind.seconds / inStep.seconds;
  const rate = (r: BlaineRun) => `${fmtCount(ctx.files / r.seconds)} files/s`;
  s.rows.push(
    { label: 'blaine backup --init (first backup)', seconds: first.seconds, rate: rate(first), note: rss(first) },
    { label: 'B in step, the week\'s changes', seconds: inStep.seconds, vsRef: 'reference', note: rss(inStep) },
    { label: 'B2 behind: catch-up + the same changes', seconds: behind.seconds, vsRef: `${fmtRatio(ratio)} in step`, note: `${rss(behind)}, own clock ${behind.summary.seconds} s` },
    { label: 'B2 again, no change', seconds: quietB2.seconds, note: rss(quietB2) },
    { label: 'B again, no change (in step after B2\'s run)', seconds: quietB.seconds, note: rss(quietB) },
  );
  s.rows.push({ label: 'blaine backup (empty data path)', seconds: fixed.seconds, note: `fixed cost of any run; ${rss(fixed)}` });
  // Fixed cost once, the rest scaled by the number of files (the week's changes scale with it too).
  const scale = MILLION / ctx.files;
  const est = ctx.files !== MILLION;
  const swap = est ? fixed.seconds + (behind.seconds - fixed.seconds) * scale : behind.seconds;
  const swapRss =
    behind.maxRssBytes === null || fixed.maxRssBytes === null ? null : est ? fixed.maxRssBytes + (behind.maxRssBytes - fixed.maxRssBytes) * scale : behind.maxRssBytes;
  s.checks.push(
    { what: 'catch-up run ÷ in-step run of the same changes', value: fmtRatio(ratio), target: '≤ 2.00×', pass: ratio <= 2 },
    { what: `weekly swap at 1,000,000 files${est ? ` (from ${fmtCount(ctx.files)})` : ''}`, value: `${fmtSecs(swap)} s`, target: '< 10 s', pass: swap < 10, estimate: est },
    {
      what: `peak RSS of the swap at 1,000,000 files${est ? ` (from ${fmtCount(ctx.files)})` : ''}`,
      value: swapRss === null ? 'n/a' : fmtBytes(swapRss),
      target: '< 1 GiB',
      pass: swapRss === null ? null : swapRss < GiB,
      estimate: est,
    },
  );
  if (est) s.notes.push('1,000,000-file figures are extrapolated: fixed cost (empty data path) + the rest × files scale. Measure them with --files 1000000');
  s.figures = { ...s.figures, tree, week, first, inStep, behind, quietB2, quietB, fixed, ratio };
}
