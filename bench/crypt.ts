/**
 * Encryption: the same backup of the same files onto a plain disk and onto an encrypted one
 * (gocryptfs through FUSE), in the same run. Reported, not judged: the SPEC sets no target; the
 * issue asks for both figures side by side.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BenchContext, SectionDef } from './context.js';
import { BenchError, MiB, fmtBytes, log, mbps, rmrf, runBlaine, settle, type BlaineRun } from './measure.js';
import { fmtCount, fmtRatio, type Section } from './report.js';
import { makeAssortedTree } from './tree.js';
import { requireTools } from '../src/crypt/gocryptfs.js';

const PCT = 10;

export const crypt: SectionDef = {
  name: 'crypt',
  title: (ctx) => `backup of ${fmtBytes(ctx.cryptBytes)} of assorted files onto an encrypted disk (gocryptfs) vs a plain one`,
  // Source, one disk with parity at a time (each removed before the next), gocryptfs's ~1% overhead.
  need: (ctx) => ({ bytes: Math.ceil(2.3 * ctx.cryptBytes) + 256 * MiB, inodes: 20_000 }),
  run: runCrypt,
};

async function runCrypt(ctx: BenchContext, s: Section): Promise<void> {
  try {
    requireTools();
  } catch (e) {
    throw new BenchError((e as Error).message);
  }
  const total = ctx.cryptBytes;
  const src = path.join(ctx.work, 'src');
  log(`crypt: writing ${fmtBytes(total)} of assorted files`);
  const files = makeAssortedTree(src, total);
  s.notes.push(`tree: ${fmtCount(files.length)} files in ${fmtBytes(total)}; parity ${PCT}% where used, ${ctx.jobs} jobs; the disks are directories on the same file system`);
  const keyFile = path.join(ctx.work, 'key');
  fs.writeFileSync(keyFile, 'bench key for an encrypted disk\n', { mode: 0o600 });
  const db = path.join(ctx.work, 'host.sqlite');
  const disk = path.join(ctx.work, 'disk');
  const backup = (encrypted: boolean, withParity: boolean): BlaineRun => {
    rmrf(disk);
    rmrf(db);
    fs.mkdirSync(disk);
    settle();
    log(`crypt: backup onto ${encrypted ? 'an encrypted' : 'a plain'} disk, ${withParity ? 'with' : 'without'} parity`);
    const r = runBlaine([
      'backup', '--init', '--label', 'bench-crypt', '--dest', disk, '--db', db,
      ...(encrypted ? ['--encrypt', '--key-file', keyFile] : []),
      ...(withParity ? ['--parity', String(PCT), '--jobs', String(ctx.jobs)] : ['--no-parity']),
      '--reserve', '0', src,
    ]);
    if (r.summary.bytesCopied !== total) throw new BenchError(`Blaine copied ${r.summary.bytesCopied} bytes, expected ${total}`);
    if (encrypted && !JSON.parse(fs.readFileSync(path.join(disk, '.blaine', 'volume.json'), 'utf8')).encrypted) {
      throw new BenchError('the "encrypted" disk is not encrypted');
    }
    return r;
  };
  // Alternated, so that a change in the machine's load hits both kinds alike.
  const plainPar = backup(false, true);
  const cryptPar = backup(true, true);
  const plainRaw = backup(false, false);
  const cryptRaw = backup(true, false);
  rmrf(disk);
  rmrf(db);

  const rate = (r: BlaineRun) => `${mbps(total, r.seconds).toFixed(1)} MB/s`;
  const vs = (r: BlaineRun, plain: BlaineRun) => `${fmtRatio(plain.seconds / r.seconds)} plain`;
  s.rows.push(
    { label: `plain disk, --parity ${PCT}`, seconds: plainPar.seconds, rate: rate(plainPar), vsRef: 'reference' },
    { label: `encrypted disk, --parity ${PCT}`, seconds: cryptPar.seconds, rate: rate(cryptPar), vsRef: vs(cryptPar, plainPar), note: `parity ${fmtBytes(cryptPar.summary.parityBytes)}` },
    { label: 'plain disk, --no-parity', seconds: plainRaw.seconds, rate: rate(plainRaw), vsRef: 'reference' },
    { label: 'encrypted disk, --no-parity', seconds: cryptRaw.seconds, rate: rate(cryptRaw), vsRef: vs(cryptRaw, plainRaw) },
  );
  s.notes.push('"vs reference": speed ÷ the same backup onto a plain disk; times include mounting and unmounting');
  s.figures = { ...s.figures, bytes: total, files: files.length, plainParity: plainPar, encryptedParity: cryptPar, plainNoParity: plainRaw, encryptedNoParity: cryptRaw };
}
