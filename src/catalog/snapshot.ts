import type Database from 'better-sqlite3';
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { tempName } from '../fsx/temp.js';
import { fsyncPath, targetError } from '../fsx/copy.js';
import { errCode } from '../fsx/errno.js';
import { type Fsx } from '../fsx/fsx.js';

/**
 * Copies the database file byte for byte, a fraction of VACUUM INTO's time, when that copy is
 * consistent: no transaction open, every frame of the write-ahead log folded into the file
 * (a passive checkpoint: a reader's older view makes it fall short rather than wait), and
 * neither file changed during the copy (no other writer came between). False when any of that
 * does not hold; the caller then makes the copy through SQLite.
 */
async function copyWhole(db: Database.Database, file: string, dest: string, fs: Fsx): Promise<boolean> {
  if (db.memory || db.readonly || db.inTransaction) return false;
  const [log] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
  if (!log || log.busy !== 0 || log.log < 0 || log.checkpointed !== log.log) return false;
  const wal = `${file}-wal`;
  const state = () => {
    const st = fs.statSync(file);
    const w = fs.existsSync(wal) ? fs.statSync(wal) : null;
    return `${st.size}:${st.mtimeMs}:${w?.size}:${w?.mtimeMs}`;
  };
  const before = state();
  // On the threadpool: the copies of two catalogs (a disk's own, the host's snapshot) run side by side.
  await new Promise<void>((resolve, reject) => fs.copyFile(file, dest, (err) => (err ? reject(err) : resolve())));
  if (state() === before) return true;
  fs.rmSync(dest, { force: true });
  return false;
}

/** A database to copy whole: its connection, its file and where the copy goes. */
export interface SnapshotJob {
  db: Database.Database;
  file: string;
  dest: string;
}

/**
 * A consistent copy of each whole database `file` (open as `db`) in another file (the host-catalog
 * snapshot on a disk, the rotated disk catalogs). The file itself is copied once its log is folded
 * in (copyWhole); otherwise VACUUM INTO, inside SQLite in one go (the online backup API, page by
 * page from JavaScript, took several times longer), which rebuilds every table and index on the way.
 * The copies are made at once; then, one after the other in the order given, each is synced and
 * renamed into place, so that a crash at any step leaves the same files whatever copy finished first.
 */
export async function snapshotDatabases(jobs: SnapshotJob[], fs: Fsx): Promise<void> {
  const tmps = jobs.map((j) => path.join(path.dirname(j.dest), tempName(path.basename(j.dest))));
  const fail = (err: unknown, dest: string): never => {
    for (const tmp of tmps) fs.rmSync(tmp, { force: true });
    // A file-system failure names the snapshot; SQLite's own (SQLITE_FULL…) keep their codes.
    throw /^E[A-Z]+$/.test(errCode(err) ?? '') ? targetError(err, dest) : err;
  };
  const copies = jobs.map(async (j, k) => {
    const tmp = tmps[k]!;
    fs.rmSync(tmp, { force: true });
    if (!(await copyWhole(j.db, j.file, tmp, fs))) j.db.prepare('VACUUM INTO ?').run(tmp);
  });
  const made = await Promise.allSettled(copies);
  made.forEach((m, k) => {
    if (m.status === 'rejected') fail(m.reason, jobs[k]!.dest);
  });
  for (const [k, j] of jobs.entries()) {
    try {
      // VACUUM INTO does not sync what it writes, nor does a file copy; the snapshot is what a lost host
      // is rebuilt from, so its bytes, then its name, are made durable before anyone relies on them.
      // A copy of a catalog is as private as the catalog (VACUUM INTO makes it by the umask).
      chmodSync(tmps[k]!, 0o600);
      fsyncPath(tmps[k]!, fs);
      fs.renameSync(tmps[k]!, j.dest);
      fsyncPath(path.dirname(j.dest), fs);
    } catch (err) {
      fail(err, j.dest);
    }
  }
}

/** One database copied whole (snapshotDatabases). */
export function snapshotDatabase(db: Database.Database, file: string, dest: string, fs: Fsx): Promise<void> {
  return snapshotDatabases([{ db, file, dest }], fs);
}
