/**
 * Scan: many small files, where per-file cost is everything. SPEC §9: a no-change rescan must beat
 * `rsync -a`'s no-change pass, 1,000,000 unchanged files must rescan in under 20 s with linear
 * cost, and memory must stay under 1 GiB for a 1,000,000-file catalog.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BenchContext, SectionDef } from './context.js';
import { BenchError, GiB, fmtBytes, log, repeated, runBlaine, settle, timeRun, type BlaineRun } from './measure.js';
import { renderProfile, summarizeProfile } from './profile.js';
import { fmtCount, fmtRatio, fmtSecs, fmtSpread, type Section } from './report.js';
import { makeSmallTree } from './tree.js';

const MILLION = 1_000_000;

export const scan: SectionDef = {
  name: 'scan',
  title: (ctx) => `${fmtCount(ctx.files)} small files: Blaine vs rsync -a`,
  // Three trees (source, Blaine's disk, rsync's copy; a fourth to profile a first backup) of one
  // block per file, plus Blaine's catalogs (host, disk, snapshot, rotated copy) at under 1 KiB a row.
  need: (ctx) => {
    const trees = ctx.profile ? 4 : 3;
    return { bytes: ctx.files * (trees * 4096 + 4 * 1024) + 256 * 1024 * 1024, inodes: Math.ceil((trees + 0.1) * ctx.files) + 1000 };
  },
  run: runScan,
};

async function runScan(ctx: BenchContext, s: Section): Promise<void> {
  const src = path.join(ctx.work, 'src');
  const disk = path.join(ctx.work, 'disk');
  const dst = path.join(ctx.work, 'rsync');
  const db = path.join(ctx.work, 'host.sqlite');
  fs.mkdirSync(disk);
  fs.mkdirSync(dst);

  log(`scan: writing ${fmtCount(ctx.files)} files`);
  const genStart = process.hrtime.bigint();
  const tree = makeSmallTree(src, ctx.files);
  const genSecs = Number(process.hrtime.bigint() - genStart) / 1e9;
  s.notes.push(`tree: ${fmtCount(tree.files)} files in ${fmtCount(tree.dirs)} directories, ${fmtBytes(tree.bytes)}, 0–4 KiB each (written in ${fmtSecs(genSecs)} s, not measured)`);
  s.figures.tree = tree;

  const blaine = (init: boolean): BlaineRun =>
    runBlaine(['backup', ...(init ? ['--init', '--label', 'bench-scan'] : []), '--dest', disk, '--db', db, '--no-parity', '--reserve', '0', src]);
  const rate = (secs: number) => `${fmtCount(ctx.files / secs)} files/s`;
  const rss = (r: BlaineRun) => (r.maxRssBytes === null ? 'peak RSS n/a' : `peak RSS ${fmtBytes(r.maxRssBytes)}`);

  settle();
  log('scan: Blaine first backup');
  const first = blaine(true);
  // Files of one or two bytes repeat one another at a million: those are linked, not copied.
  if (first.summary.added + first.summary.linked !== ctx.files) {
    throw new BenchError(`Blaine's first backup stored ${first.summary.added} + ${first.summary.linked} linked files, expected ${ctx.files}`);
  }
  // Catalog bytes per file, indexes and any log included (the target: ≤ 160, host and disk alike).
  const onDisk = (f: string) => [f, `${f}-wal`].reduce((n, x) => n + (fs.existsSync(x) ? fs.statSync(x).size : 0), 0);
  const perFile = { host: onDisk(db) / ctx.files, disk: onDisk(path.join(disk, '.blaine', 'catalog.sqlite')) / ctx.files };
  s.notes.push(`catalog bytes per file after the first backup (indexes included): host ${perFile.host.toFixed(0)}, disk ${perFile.disk.toFixed(0)}`);
  s.figures.catalogBytesPerFile = perFile;
  settle();
  log('scan: rsync first copy');
  const rsyncFirst = timeRun('rsync', ['-a', `${src}/`, `${dst}/`]);
  // Blaine flushes the disk (syncfs) before it commits its catalog; rsync leaves that to the kernel.
  const rsyncSync = timeRun('sync', ['-f', dst]);

  // The same command over an empty data path: what a run costs before the first file (Node
  // start-up, catalogs, locks, sync), so per-file cost can be told apart from it.
  const empty = path.join(ctx.work, 'empty');
  const emptyDisk = path.join(ctx.work, 'empty-disk');
  const emptyDb = path.join(ctx.work, 'empty.sqlite');
  fs.mkdirSync(empty);
  fs.mkdirSync(emptyDisk);
  const emptyRun = (init: boolean): BlaineRun =>
    runBlaine(['backup', ...(init ? ['--init', '--label', 'bench-empty'] : []), '--dest', emptyDisk, '--db', emptyDb, '--no-parity', '--reserve', '0', empty]);
  emptyRun(true);

  const noChange: BlaineRun[] = [];
  const fixed: BlaineRun[] = [];
  const rsyncAgain: number[] = [];
  for (let i = 0; i < ctx.repeat; i++) {
    // Alternating spreads any drift of the machine over both tools.
    log(`scan: no-change passes, round ${i + 1}/${ctx.repeat}`);
    settle();
    const r = blaine(false);
    const sum = r.summary;
    if (sum.unchanged !== ctx.files || sum.added + sum.modified !== 0 || sum.bytesCopied !== 0) {
      throw new BenchError(`Blaine's no-change rerun was not a no-op: ${JSON.stringify(sum)}`);
    }
    noChange.push(r);
    settle();
    fixed.push(emptyRun(false));
    settle();
    rsyncAgain.push(timeRun('rsync', ['-a', `${src}/`, `${dst}/`]).seconds);
  }
  const bNo = repeated(noChange.map((r) => r.seconds));
  const rNo = repeated(rsyncAgain);
  const noChangeRss = Math.max(...noChange.map((r) => r.maxRssBytes ?? 0)) || null;
  const firstRatio = first.seconds / rsyncFirst.seconds;
  const durableRatio = first.seconds / (rsyncFirst.seconds + rsyncSync.seconds);
  const noChangeRatio = bNo.best / rNo.best;

  // Fixed cost once, per-file cost scaled: 1M ≈ F + (T − F) × 1M/N, the SPEC's "linear" model.
  const scale = MILLION / ctx.files;
  const F = repeated(fixed.map((r) => r.seconds)).best;
  const at1M = F + (bNo.best - F) * scale;
  const rss0 = Math.max(...fixed.map((r) => r.maxRssBytes ?? 0)) || null;
  const rssAt1M = noChangeRss === null || rss0 === null ? null : rss0 + (noChangeRss - rss0) * scale;
  const est = ctx.files !== MILLION;
  s.rows.push(
    { label: 'blaine backup --init --no-parity', seconds: first.seconds, rate: rate(first.seconds), vsRef: `${fmtRatio(firstRatio)} rsync`, note: `own clock ${first.summary.seconds} s, ${rss(first)}, includes sync -f` },
    { label: 'rsync -a (first copy)', seconds: rsyncFirst.seconds, rate: rate(rsyncFirst.seconds), vsRef: 'reference' },
    { label: 'rsync -a, then sync -f', seconds: rsyncFirst.seconds + rsyncSync.seconds, rate: rate(rsyncFirst.seconds + rsyncSync.seconds), vsRef: `Blaine ${fmtRatio(durableRatio)}`, note: 'durable like Blaine' },
    { label: 'blaine backup (no change)', seconds: bNo.best, rate: rate(bNo.best), vsRef: `${fmtRatio(noChangeRatio)} rsync`, note: [fmtSpread(bNo), noChangeRss ? `peak RSS ${fmtBytes(noChangeRss)}` : ''].filter(Boolean).join(', ') },
    { label: 'rsync -a (no change)', seconds: rNo.best, rate: rate(rNo.best), vsRef: 'reference', note: fmtSpread(rNo) },
    { label: 'blaine backup (no change, empty path)', seconds: F, note: `fixed cost of any run; ${rss0 ? `peak RSS ${fmtBytes(rss0)}` : 'peak RSS n/a'}` },
  );
  s.notes.push(`Blaine's own clock for the no-change runs (no Node start-up): ${noChange.map((r) => r.summary.seconds).join(', ')} s`);

  s.checks.push(
    { what: `first backup of ${fmtCount(ctx.files)} small files ÷ rsync -a`, value: fmtRatio(firstRatio), target: '≤ 1.50×', pass: firstRatio <= 1.5 },
    { what: 'no-change rescan time ÷ rsync no-change time', value: fmtRatio(noChangeRatio), target: '< 1.00×', pass: noChangeRatio < 1 },
    { what: `1,000,000-file no-change rescan${est ? ` (from ${fmtCount(ctx.files)} files)` : ''}`, value: `${fmtSecs(at1M)} s`, target: '< 20 s', pass: at1M < 20, estimate: est },
    {
      what: `peak RSS, 1,000,000-file rescan${est ? ` (from ${fmtCount(ctx.files)} files)` : ''}`,
      value: rssAt1M === null ? 'n/a' : fmtBytes(rssAt1M),
      target: '< 1 GiB',
      pass: rssAt1M === null ? null : rssAt1M < GiB,
      estimate: est,
    },
  );
  if (est) {
    s.notes.push(
      `1,000,000-file figures are extrapolated: fixed cost (empty path) + per-file cost × ${scale.toFixed(scale < 10 ? 2 : 0)}; ` +
        `per file: ${(((bNo.best - F) / ctx.files) * 1e6).toFixed(2)} µs, ${rss0 && noChangeRss ? `${((noChangeRss - rss0) / ctx.files).toFixed(0)} bytes of RSS` : 'RSS n/a'}. Measure them with --files 1000000`,
    );
  }
  s.figures = {
    ...s.figures,
    blaineFirst: first,
    rsyncFirstSeconds: rsyncFirst.seconds,
    rsyncFirstSyncSeconds: rsyncSync.seconds,
    blaineNoChange: noChange,
    blaineNoChangeSeconds: bNo,
    blaineEmptyPath: fixed,
    rsyncNoChangeSeconds: rNo,
    noChangeRatio,
  };

  if (ctx.profile) {
    // Separate runs, so that the profiler's overhead stays out of the figures above.
    const profile = (what: string, slug: string, args: string[]): void => {
      log(`scan: profiling ${what}`);
      const dir = path.join(ctx.work, `prof-${slug}`);
      settle();
      runBlaine(args, { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] });
      const file = fs.readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
      if (!file) return void s.notes.push(`profile of ${what}: node wrote no .cpuprofile`);
      const p = summarizeProfile(path.join(dir, file));
      s.notes.push(...renderProfile(what, p));
      s.figures[`profile-${slug}`] = p;
    };
    profile('the no-change rescan', 'rescan', ['backup', '--dest', disk, '--db', db, '--no-parity', '--reserve', '0', src]);
    const disk2 = path.join(ctx.work, 'prof-disk');
    fs.mkdirSync(disk2);
    profile('a first backup', 'first', ['backup', '--init', '--label', 'bench-prof', '--dest', disk2, '--db', path.join(ctx.work, 'prof.sqlite'), '--no-parity', '--reserve', '0', src]);
  }
}
