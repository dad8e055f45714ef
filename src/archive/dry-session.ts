import os from 'node:os';
import path from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import type { Fsx } from '../fsx/fsx.js';
import { requireTools } from '../crypt/gocryptfs.js';
import { acquireLock } from './lock.js';
import { diskCatalogPath } from './layout.js';
import { requireDiskCatalog } from './damage.js';
import { openDiskView, requireHostCatalog, requireKnownVolume, syncCatalogs, type DiskSession, type OpenOptions } from './session.js';
import { DiskError, readVolume, type VolumeInfo } from './volume.js';
import { diskGeneration } from '../catalog/generation.js';

/**
 * A private, writable copy of a catalog in a temporary folder (an empty catalog when the file does
 * not exist, or for null): a dry run changes its copies as the real run would change the catalogs, and the
 * originals are never opened for writing (SQLite would leave -wal/-shm files even for a read).
 */
function privateCopy(file: string | null, dirs: string[], fs: Fsx): Catalog {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-dry-'));
  dirs.push(dir);
  const copy = path.join(dir, 'catalog.sqlite');
  if (file !== null && fs.existsSync(file)) {
    fs.copyFileSync(file, copy);
    if (fs.existsSync(`${file}-wal`)) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
  }
  // A private copy: migrating it is nothing to report (the catalog itself is not touched).
  return Catalog.open(copy, { create: true, quietMigration: true });
}

/** What `--init` would make, checked without making it. */
function volumeToBe(dest: string, opts: OpenOptions): VolumeInfo {
  let already = false;
  try {
    readVolume(dest, opts.fs);
    already = true;
  } catch {
    // not a Blaine disk yet: as it should be
  }
  if (already) throw new DiskError(`${dest} is already a Blaine disk; --init refused`, 'ALREADY_INITIALISED');
  if (!opts.fs.existsSync(dest) || !opts.fs.statSync(dest).isDirectory()) {
    throw new DiskError(`${dest} does not exist or is not a directory; is the disk mounted?`, 'NOT_A_DIRECTORY');
  }
  if (opts.encrypt) requireTools();
  const label = opts.label ?? dest;
  return { format: 1, volume: '(new volume)', label, copy: '(new copy)', copyLabel: label, created: new Date().toISOString(), encrypted: !!opts.encrypt };
}

/**
 * Opens a disk for a dry run: the same session a backup gets, except that nothing is written. The
 * catalogs are private copies; the disk (an encrypted one mounted read-only) and the host catalog
 * hold readers' locks, which write nothing; a crashed run's journal and leftovers are left for the
 * real run. close() removes the copies.
 */
export function openDrySession(opts: OpenOptions): DiskSession {
  const dest = path.resolve(opts.dest);
  const fs = opts.fs;
  const releases: Array<() => void> = [];
  const dirs: string[] = [];
  const catalogs: Catalog[] = [];
  const close = () => {
    for (const c of catalogs.splice(0)) c.close();
    for (const r of releases.splice(0).reverse()) r();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    // Only a lock file that exists can be read-locked; none means no writer is at work.
    if (fs.existsSync(`${opts.db}.lock`)) releases.push(acquireLock(`${opts.db}.lock`, `the host catalog ${opts.db}`, { shared: true }));
    let info: VolumeInfo;
    let root = dest;
    if (opts.init) info = volumeToBe(dest, opts);
    else {
      // Refused as the real run would be: a known disk needs the host catalog that knows it.
      requireHostCatalog(opts.db, dest, opts.fs);
      const view = openDiskView(dest, { key: opts.key, readonly: true, fs: opts.fs });
      releases.push(() => view.close());
      info = view.info;
      root = view.root;
    }
    if (!opts.init) requireDiskCatalog(root, dest, info, undefined, opts.fs);
    const disk = privateCopy(opts.init ? null : diskCatalogPath(root), dirs, fs);
    catalogs.push(disk);
    const host = privateCopy(opts.db, dirs, fs);
    catalogs.push(host);
    if (!opts.init) requireKnownVolume(host, opts.db, info, dest, opts.fs);
    const copyGeneration = diskGeneration(disk);
    const sync = syncCatalogs(host, disk, info);
    return { root, dest, info, disk, host, sync, copyGeneration, caughtUp: sync !== 'behind', leftovers: 0, recovery: null, fs: opts.fs, close };
  } catch (err) {
    try {
      close();
    } catch {
      // the first failure is the one to report
    }
    throw err;
  }
}
