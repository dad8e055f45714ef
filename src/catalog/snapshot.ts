import type Database from 'better-sqlite3';
import path from 'node:path';
import { tempName } from '../fsx/temp.js';
import { fsyncPath, targetError } from '../fsx/copy.js';
import { errCode } from '../fsx/errno.js';
import { realFs, type Fsx } from '../fsx/fsx.js';

/**
 * Copies the database file byte for byte, a fraction of VACUUM INTO's time, when that copy is
 * consistent: no transaction open, every frame of the write-ahead log folded into the file
 * (a passive checkpoint: a reader's older view makes it fall short rather than wait), and
 * neither file changed during the copy (no other writer came between). False when any of that
 * does not hold; the caller then makes the copy through SQLite.
 */
function copyWhole(db: Database.Database, file: string, dest: string, fs: Fsx): boolean {
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
  fs.copyFileSync(file, dest);
  if (state() === before) return true;
  fs.rmSync(dest, { force: true });
  return false;
}

/**
 * A consistent copy of the whole database `file` (open as `db`) in another file (the host-catalog
 * snapshot on a disk, the rotated disk catalogs). The file itself is copied once its log is folded
 * in (copyWhole); otherwise VACUUM INTO, inside SQLite in one go (the online backup API, page by
 * page from JavaScript, took several times longer), which rebuilds every table and index on the way.
 */
export async function snapshotDatabase(db: Database.Database, file: string, dest: string, fs: Fsx = realFs): Promise<void> {
  const tmp = path.join(path.dirname(dest), tempName(path.basename(dest)));
  fs.rmSync(tmp, { force: true });
  try {
    if (!copyWhole(db, file, tmp, fs)) db.prepare('VACUUM INTO ?').run(tmp);
    // VACUUM INTO does not sync what it writes, nor does a file copy; the snapshot is what a lost host
    // is rebuilt from, so its bytes, then its name, are made durable before anyone relies on them.
    fsyncPath(tmp, fs);
    fs.renameSync(tmp, dest);
    fsyncPath(path.dirname(dest), fs);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    // A file-system failure names the snapshot; SQLite's own (SQLITE_FULL…) keep their codes.
    throw /^E[A-Z]+$/.test(errCode(err) ?? '') ? targetError(err, dest) : err;
  }
}
