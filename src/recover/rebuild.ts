/**
 * `blaine rebuild-catalog` (SPEC §8): a lost host catalog is made again from the snapshot of it
 * that every disk carries, refined by that disk's own catalog; with a host catalog present, a disk
 * given later refines what the host knows (newest wins, see merge.ts). The disk is only read.
 *
 * A new host catalog is written under a temporary name beside its final one, synced, then renamed:
 * a crash at any step leaves either no host catalog (and a temporary file the rerun removes) or the
 * whole one. Refining an existing catalog is one SQLite transaction per volume.
 */
import path from 'node:path';
import { Catalog, CatalogError } from '../catalog/catalog.js';
import { acquireLock } from '../archive/lock.js';
import { openDiskView, type DiskView, type KeyProvider } from '../archive/session.js';
import { diskCatalogPath, hostSnapshotPath } from '../archive/layout.js';
import { readVolume, type VolumeInfo } from '../archive/volume.js';
import { fsyncPath } from '../fsx/copy.js';
import { isTempName, tempName } from '../fsx/temp.js';
import type { Fsx } from '../fsx/fsx.js';
import { mergeVolume, type VolumeChange, type VolumeSource } from './merge.js';
import { dropVolume, forgottenVolumes, readmitVolume, rememberForgotten, type ForgottenVolume } from '../catalog/forget.js';
import { repairDisk, type DiskRepair } from './repair-disk.js';
import { RebuildError } from './rebuild-error.js';
import { diskGeneration } from '../catalog/generation.js';

export { RebuildError } from './rebuild-error.js';

export interface RebuildOptions {
  dest: string;
  /** The host catalog to make or refine. */
  db: string;
  key?: KeyProvider;
  fs: Fsx;
}

export interface RebuildResult {
  /** There was no host catalog (or none SQLite could open): this one was made from the disk. */
  created: boolean;
  /** Where a host catalog that SQLite could not open was moved, kept for a closer look. */
  setAside: string | null;
  dest: string;
  info: VolumeInfo;
  /** The disk carried a snapshot of the host catalog (else only its own catalog was there to read). */
  snapshot: boolean;
  /** Per volume, what the host catalog took in: the disk's own volume always, others when they changed. */
  changes: VolumeChange[];
  /**
   * Volumes forget-disk dropped (as this host catalog or the disk's snapshot says) that a snapshot
   * still held: left out, or dropped again from the host catalog.
   */
  leftOut: ForgottenVolume[];
  /**
   * Mirrored volumes whose later backups the disk knows only second-hand: when any, the host
   * catalog took nothing from the disk (see `laterBackupsElsewhere`).
   */
  behind: LaterBackups[];
  /** What was repaired on the disk itself first (volume.json, its own catalog); null: nothing was damaged. */
  disk: DiskRepair | null;
  /** The host catalog afterwards. */
  volumes: number;
  files: number;
  pending: number;
}

/** The catalogs a disk offers, each a private copy (reading a WAL database on the disk would write to it). */
interface DiskCatalogs {
  snapshotFile: string | null;
  snapshot: Catalog | null;
  disk: Catalog | null;
  close(): void;
}

export function rebuildCatalog(opts: RebuildOptions): RebuildResult {
  const fsx = opts.fs;
  const db = path.resolve(opts.db);
  // The disk's own damage first (a lost volume.json, a damaged disk catalog): repaired, then read as any disk.
  const disk = repairDisk(opts.dest, db, opts.key, fsx);
  // A folder that is no Blaine disk is said so before anything is made on the host.
  readVolume(path.resolve(opts.dest), fsx);
  fsx.mkdirSync(path.dirname(db), { recursive: true, mode: 0o700 });
  const release = acquireLock(`${db}.lock`, `the host catalog ${db}`);
  try {
    removeLeftovers(db, fsx);
    const view = openDiskView(opts.dest, { key: opts.key, readonly: true, fs: fsx });
    try {
      return { ...rebuildFrom(view, db, fsx), disk };
    } finally {
      view.close();
    }
  } finally {
    release();
  }
}

function rebuildFrom(view: DiskView, db: string, fsx: Fsx): Omit<RebuildResult, 'disk'> {
  const setAside = fsx.existsSync(db) ? setAsideIfUnreadable(db, fsx) : null;
  const created = !fsx.existsSync(db);
  const found = openDiskCatalogs(view, fsx, created);
  try {
    if (!found.disk && !found.snapshotFile) {
      throw new RebuildError(`${view.dest} holds no catalog to rebuild from: nothing was ever archived on it`);
    }
    const done = created ? createFrom(view, db, found, fsx) : refine(db, found, view.info);
    return { created, setAside, dest: view.dest, info: view.info, snapshot: found.snapshotFile !== null, ...done };
  } finally {
    found.close();
  }
}

/**
 * The snapshot is read as a copy only when an existing host catalog is refined from it; a new
 * host catalog starts as a byte copy of it (createFrom), so it is not copied twice.
 */
function openDiskCatalogs(view: DiskView, fsx: Fsx, created: boolean): DiskCatalogs {
  const snapshotFile = fsx.existsSync(hostSnapshotPath(view.root)) ? hostSnapshotPath(view.root) : null;
  const diskFile = diskCatalogPath(view.root);
  const opened: Catalog[] = [];
  const close = () => opened.forEach((c) => c.close());
  try {
    const disk = fsx.existsSync(diskFile) ? damaged(view, 'its disk catalog', () => Catalog.openCopy(diskFile)) : null;
    if (disk) opened.push(disk);
    const snapshot = snapshotFile && !created ? damaged(view, 'its snapshot of the host catalog', () => Catalog.openCopy(snapshotFile)) : null;
    if (snapshot) opened.push(snapshot);
    return { snapshotFile, snapshot, disk, close };
  } catch (err) {
    close();
    throw err;
  }
}

/** A catalog on the disk that SQLite cannot read is the disk's problem, said so in one sentence. */
function damaged<T>(view: DiskView, what: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    if (!(err instanceof CatalogError)) throw err;
    // SQLite's own words only: CatalogError's sentence names a temporary copy and suggests this very command.
    const why = /\(([^()]*)\)/.exec(err.message)?.[1] ?? 'damaged';
    throw new RebuildError(`${view.dest}: ${what} cannot be read (${why}); rebuild from another disk of the archive`);
  }
}

function diskSource(disk: Catalog, info: VolumeInfo): VolumeSource {
  const own = disk.copies().find((c) => c.copy === info.copy);
  // A copy whose last run did not finish may have seen more than its last sync: keeping the host's later actions is safe.
  return { cat: disk, from: 'disk', generation: () => diskGeneration(disk), asOf: own?.lastSync ?? null };
}

function snapshotSource(snapshot: Catalog): VolumeSource {
  const taken = snapshot.lastRunFinished();
  return { cat: snapshot, from: 'snapshot', generation: (v) => snapshot.volume(v)?.generation ?? 0, asOf: taken };
}

/** No host catalog: a copy of the disk's snapshot (or an empty one), refined by the disk's catalog, put in place whole. */
function createFrom(view: DiskView, db: string, found: DiskCatalogs, fsx: Fsx): Merged {
  const tmp = path.join(path.dirname(db), tempName(path.basename(db)));
  try {
    if (found.snapshotFile) fsx.copyFileSync(found.snapshotFile, tmp);
    const changes: VolumeChange[] = [];
    let done: Merged;
    const host = damaged(view, 'its snapshot of the host catalog', () => Catalog.open(tmp, { create: true }));
    try {
      // The disk given is taken in even if its volume was forgotten: that is asking for it back.
      readmitVolume(host, view.info.volume);
      if (found.disk) {
        const own = mergeVolume(host, diskSource(found.disk, view.info), view.info.volume);
        if (own) changes.push(own);
      }
      done = { changes, leftOut: [], behind: [], ...totals(host) };
    } finally {
      // Closing folds the write-ahead log into the file: the file alone is then the whole catalog.
      host.close();
    }
    fsyncPath(tmp, fsx);
    // A log left by the lost catalog must not be replayed onto the new one.
    for (const ext of ['-wal', '-shm']) fsx.rmSync(`${db}${ext}`, { force: true });
    fsx.renameSync(tmp, db);
    fsyncPath(path.dirname(db), fsx);
    return done;
  } catch (err) {
    for (const ext of ['', '-wal', '-shm']) fsx.rmSync(`${tmp}${ext}`, { force: true });
    throw err;
  }
}

/** A mirrored volume's later state that a disk's snapshot knows and only another of its copies holds. */
export interface LaterBackups {
  volume: string;
  label: string;
  /** The copy whose backups made that state (the latest synced one the snapshot names). */
  copyLabel: string;
}

/** A host catalog present: every volume of the snapshot, then the disk's own, merged in, newest winning. */
interface Merged {
  changes: VolumeChange[];
  leftOut: ForgottenVolume[];
  behind: LaterBackups[];
  volumes: number;
  files: number;
  pending: number;
}

function totals(host: Catalog): Omit<Merged, 'changes' | 'leftOut' | 'behind'> {
  const volumes = host.volumes();
  const files = volumes.reduce((n, v) => n + host.volumeStats(v.uuid).files, 0);
  return { volumes: volumes.length, files, pending: host.deferred().length };
}

function refine(db: string, found: DiskCatalogs, info: VolumeInfo): Merged {
  const host = Catalog.open(db);
  try {
    const changes: VolumeChange[] = [];
    // A disk that knows later backups of a mirrored volume only second-hand changes nothing.
    const behind = found.snapshot ? laterBackupsElsewhere(host, found.snapshot, info.volume) : [];
    if (behind.length > 0) return { changes, leftOut: [], behind, ...totals(host) };
    // A volume forgotten on either side stays forgotten (SPEC §8): the host catalog and the snapshot
    // may each be older than the other's forget-disk. The disk given is the exception.
    if (found.snapshot) rememberForgotten(host, forgottenVolumes(found.snapshot));
    readmitVolume(host, info.volume);
    const forgotten = new Map(forgottenVolumes(host).map((f) => [f.uuid, f]));
    const leftOut: ForgottenVolume[] = [];
    for (const v of host.volumes()) {
      const f = forgotten.get(v.uuid);
      if (!f) continue;
      dropVolume(host, v.uuid);
      leftOut.push(f);
    }
    if (found.snapshot) {
      const src = snapshotSource(found.snapshot);
      for (const v of found.snapshot.volumes()) {
        const f = forgotten.get(v.uuid);
        if (f) {
          if (!leftOut.includes(f)) leftOut.push(f);
          continue;
        }
        const c = mergeVolume(host, src, v.uuid);
        if (c && (c.taken === 'added' || c.taken === 'newer')) changes.push(c);
      }
    }
    if (found.disk) {
      const own = mergeVolume(host, diskSource(found.disk, info), info.volume);
      if (own) changes.push(own);
    }
    return { changes, leftOut, behind, ...totals(host) };
  } finally {
    host.close();
  }
}

/**
 * The promise (SPEC §8) after a disaster: the host catalog rebuilt from the offsite twin describes
 * the library as at the twin's last backup, which the offsite disks hold. A stored disk that
 * visited later carries a snapshot of a later host catalog: the mirrored volume's state there was
 * written by backups onto its other copy (lost with the host, maybe), and every other volume's
 * rows and queued actions there follow those backups (an edited file's old version queued for
 * deletion). Taken in, they would ask for content no offsite disk holds and drop what the twin's
 * library needs. So a disk whose snapshot knows a mirrored volume of the host at a later state,
 * and is no copy of that volume, changes nothing; its own volume is already described as the
 * twin's snapshot saw it (restore finds content under whatever name the disk holds it). Rebuilding
 * from that volume's later copy first takes the later state in from the copy that holds it.
 */
function laterBackupsElsewhere(host: Catalog, snapshot: Catalog, ownVolume: string): LaterBackups[] {
  const out: LaterBackups[] = [];
  const copies = snapshot.copies();
  for (const v of snapshot.volumes()) {
    if (v.uuid === ownVolume) continue;
    const ours = host.volume(v.uuid);
    const mirrored = copies.filter((c) => c.volume === v.uuid);
    if (!ours || mirrored.length < 2 || v.generation <= ours.generation) continue;
    const latest = [...mirrored].sort((a, b) => (b.lastSync ?? '').localeCompare(a.lastSync ?? ''))[0]!;
    out.push({ volume: v.uuid, label: ours.label, copyLabel: latest.label });
  }
  return out;
}

/**
 * A host catalog SQLite cannot open (not a database, a torn header) is what this command is for;
 * it is moved aside, with its log, never deleted, and a new one is made. One written by a newer
 * Blaine is not damaged: that error stands.
 */
function setAsideIfUnreadable(db: string, fsx: Fsx): string | null {
  try {
    Catalog.open(db, { readonly: true }).close();
    return null;
  } catch (err) {
    if (!(err instanceof CatalogError) || /newer Blaine/.test(err.message)) throw err;
  }
  const aside = `${db}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const ext of ['-wal', '-shm']) if (fsx.existsSync(`${db}${ext}`)) fsx.renameSync(`${db}${ext}`, `${aside}${ext}`);
  fsx.renameSync(db, aside);
  return aside;
}

/** Temporary host catalogs of a rebuild that was cut short (with SQLite's files beside them). */
function removeLeftovers(db: string, fsx: Fsx): void {
  const dir = path.dirname(db);
  const mine = `.${path.basename(db)}`;
  for (const name of fsx.readdirSync(dir)) {
    const base = name.replace(/-(wal|shm|journal)$/, '');
    if (isTempName(base) && base.startsWith(mine)) fsx.rmSync(path.join(dir, name), { force: true });
  }
}
