/**
 * Restore and scrub: restoring ~1 GiB of media-sized files from a disk against
 * `rsync -a` of the same files (target ≤ 1.2×), also when every file is read from under its old
 * name (renames deferred for the disk), and `verify --checksum` against `sha256sum` run on every
 * core over the same files (target ≤ 1.2×). As root the section works on a tmpfs, so that both
 * sides read and write cached data, as the targets assume; elsewhere in its work directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchContext, SectionDef } from './context.js';
import { BenchError, MiB, fmtBytes, log, mbps, repeated, rmrf, runBlaine, settle, timeRun, type Repeated } from './measure.js';
import { fmtRatio, fmtSpread, type Section } from './report.js';
import { makeAssortedTree } from './tree.js';
import { mountTmpfs, unmount } from '../test/helpers.js';

export const restore: SectionDef = {
  name: 'restore',
  title: (ctx) => `restore of ${fmtBytes(ctx.restoreBytes)} of media-sized files vs rsync -a; verify --checksum vs sha256sum on every core`,
  // The library, the disk, one restored copy at a time (rsync's or Blaine's), catalogs.
  need: (ctx) => ({ bytes: 3 * ctx.restoreBytes + 256 * MiB, inodes: 10_000 }),
  run: runRestore,
};

async function runRestore(ctx: BenchContext, s: Section): Promise<void> {
  const size = ctx.restoreBytes;
  const base = path.join(ctx.work, 'fs');
  const onTmpfs = mountTmpfs(base, `${Math.ceil((3 * size + 256 * MiB) / MiB)}m`);
  fs.mkdirSync(base, { recursive: true });
  s.notes.push(onTmpfs ? 'data on a tmpfs (cached reads and writes on both sides)' : `data under ${ctx.work} (not a tmpfs: run as root for one)`);
  try {
    await measure(ctx, s, base, size);
  } finally {
    // A tmpfs takes its files with it; the mount point itself cannot go while mounted.
    if (onTmpfs) unmount(base);
    rmrf(base);
  }
}

async function measure(ctx: BenchContext, s: Section, base: string, size: number): Promise<void> {
  const lib = path.join(base, 'media');
  const disk = path.join(base, 'disk');
  const other = path.join(base, 'other');
  const db = path.join(base, 'host.sqlite');
  const out = path.join(base, 'out');
  fs.mkdirSync(disk);
  fs.mkdirSync(other);
  log(`restore: writing ${fmtBytes(size)} of media-sized files`);
  const files = makeAssortedTree(lib, size);
  runBlaine(['backup', '--init', '--label', 'bench-restore', '--dest', disk, '--db', db, '--no-parity', '--reserve', '0', lib]);
  const onDisk = path.join(disk, lib.slice(1));
  const cores = os.availableParallelism();

  const t = { rsync: [] as number[], restore: [] as number[], renamed: [] as number[], sha256sum: [] as number[], verify: [] as number[] };
  const fresh = (): void => {
    rmrf(out);
    settle();
  };
  const restoreRun = (): number => {
    const r = runBlaine(['restore', '--dest', disk, '--db', db, '--to', out, `${lib}/**`]);
    const got = r.summary as unknown as { restored: number; done: boolean };
    if (got.restored !== files.length || !got.done) throw new BenchError(`blaine restore restored ${got.restored} of ${files.length} files`);
    return r.seconds;
  };
  // sha256sum over the disk's files on every core, in batches small enough to spread the big files.
  const sha256sumAll = (): number =>
    timeRun('sh', ['-c', 'find "$1" -type f -print0 | xargs -0 -P "$2" -n 4 sha256sum > /dev/null', 'sh', onDisk, String(cores)]).seconds;

  for (let i = 0; i < ctx.repeat; i++) {
    log(`restore: round ${i + 1}/${ctx.repeat}`);
    fresh();
    t.rsync.push(timeRun('rsync', ['-a', `${onDisk}/`, `${out}/`]).seconds);
    fresh();
    t.restore.push(restoreRun());
    fresh();
    t.sha256sum.push(sha256sumAll());
    settle();
    const v = runBlaine(['verify', '--dest', disk, '--db', db, '--checksum']);
    const checked = (v.summary as unknown as { checked: number; ok: boolean }).checked;
    if (checked !== files.length) throw new BenchError(`blaine verify --checksum checked ${checked} of ${files.length} files`);
    t.verify.push(v.seconds);
  }

  // Every folder renamed while the disk is offline: its files are read from under their old names.
  for (const dir of fs.readdirSync(lib)) fs.renameSync(path.join(lib, dir), path.join(lib, `renamed-${dir}`));
  runBlaine(['backup', '--init', '--label', 'bench-other', '--dest', other, '--db', db, '--no-parity', '--reserve', '0', '--clean', lib]);
  for (let i = 0; i < ctx.repeat; i++) {
    log(`restore: renamed, round ${i + 1}/${ctx.repeat}`);
    fresh();
    t.renamed.push(restoreRun());
  }
  fresh();

  const R = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, repeated(v)])) as Record<keyof typeof t, Repeated>;
  const rate = (x: Repeated) => `${mbps(size, x.best).toFixed(0)} MB/s`;
  const row = (label: string, x: Repeated, vsRef: string, note = '') => ({ label, seconds: x.best, rate: rate(x), vsRef, note: [fmtSpread(x), note].filter(Boolean).join('; ') });
  const vs = (x: Repeated, ref: Repeated, name: string) => `${fmtRatio(x.best / ref.best)} ${name} time`;
  s.rows.push(
    row('rsync -a (disk → target)', R.rsync, 'reference'),
    row('blaine restore', R.restore, vs(R.restore, R.rsync, 'rsync'), `${files.length} files, hash checked`),
    row('blaine restore, every file under an old name', R.renamed, vs(R.renamed, R.rsync, 'rsync'), 'renames deferred for the disk'),
    row(`sha256sum on ${cores} cores (find | xargs -P)`, R.sha256sum, 'reference'),
    row('blaine verify --checksum', R.verify, vs(R.verify, R.sha256sum, 'sha256sum')),
  );
  const check = (what: string, x: Repeated, ref: Repeated) => {
    const r = x.best / ref.best;
    return { what, value: fmtRatio(r), target: '≤ 1.20×', pass: r <= 1.2 };
  };
  s.checks.push(
    check('restore time ÷ rsync -a time', R.restore, R.rsync),
    check('restore from old names time ÷ rsync -a time', R.renamed, R.rsync),
    check('verify --checksum time ÷ sha256sum on every core', R.verify, R.sha256sum),
  );
  s.figures = { ...s.figures, bytes: size, files: files.length, seconds: R };
}
