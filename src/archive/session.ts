import { settleFoldersFromHost } from '../dirs/sync.js';
import crypto from 'node:crypto';
import path from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import { dropTombstones, pruneTombstones } from '../catalog/changes.js';
import { DISK_SETTINGS, HOST_ID, REVISION, SNAPSHOT_OF } from '../catalog/meta-keys.js';
import { beginRunGeneration, diskGeneration, endRunGeneration, markRunFinished, runUnfinished, syncState, type SyncState } from '../catalog/generation.js';
import { snapshotDatabases, type SnapshotJob } from '../catalog/snapshot.js';
import { initCipher, mountCipher, requireTools, type CipherMount } from '../crypt/gocryptfs.js';
import { acquireDiskLock, acquireLock } from './lock.js';
import { capacityBytes, freeBytes } from '../fsx/space.js';
import type { Fsx } from '../fsx/fsx.js';
import { recoverJournal, type RecoveryReport } from './journal.js';
import { cleanupTemp, DiskError, ensureLayout, initVolume, privateBlaineDir, readVolume, type DiskSettings, type VolumeInfo } from './volume.js';
import { cipherDir, diskCatalogPath, hostSnapshotPath, oldCatalogsDir } from './layout.js';
import { diskIdentity, requireSameDisk, type DiskIdentity } from './identity.js';
import { onReadOnlyFs, readOnlyError, requireDiskCatalog } from './damage.js';

/** Asks for the key of an encrypted disk (`purpose` names the disk); `confirm` for a new one. */
export type KeyProvider = (purpose: string, confirm: boolean) => string;

/** Where a disk's files are for one command: the disk itself, or the mount of an encrypted disk. */
export interface DiskView {
  /** The disk as the user named it (resolved). */
  dest: string;
  /** Where the archive's files are. */
  root: string;
  info: VolumeInfo;
  /** Unmounts an encrypted disk; nothing for a plain one. Idempotent. */
  close(): void;
}

function noKey(): never {
  throw new Error('an encrypted disk was opened without a way to ask for its key');
}

/** Mounts an encrypted disk (read-only when `readonly`), or returns a plain one as it is. */
function mountedRoot(dest: string, info: VolumeInfo, key: KeyProvider | undefined, readonly: boolean): CipherMount | null {
  if (!info.encrypted) return null;
  requireTools();
  const secret = (key ?? noKey)(`the disk "${info.copyLabel}" at ${dest}`, false);
  return mountCipher(cipherDir(dest), secret, { tag: info.copy, readonly, shownAs: `[encrypted disk ${dest}]` });
}

/**
 * Opens a disk for reading or writing without its catalogs: identity, and the files' root (for an
 * encrypted disk, a private FUSE mount that close() removes). Read-only, it holds a reader's
 * (shared) lock on the disk until close(), so that no writer changes what is being read (SPEC §4).
 */
export function openDiskView(destArg: string, opts: { key?: KeyProvider; readonly?: boolean; fs: Fsx }): DiskView {
  const dest = path.resolve(destArg);
  const info = readVolume(dest, opts.fs);
  const release = opts.readonly ? acquireDiskLock(dest, { shared: true }) : () => {};
  let mount: CipherMount | null;
  try {
    mount = mountedRoot(dest, info, opts.key, !!opts.readonly);
  } catch (err) {
    release();
    throw err;
  }
  return {
    dest,
    root: mount?.mountPoint ?? dest,
    info,
    close: () => {
      mount?.unmount();
      release();
    },
  };
}

export type { SyncState } from '../catalog/generation.js';

export interface DiskSession {
  /** Where the archive's files are: the disk root (or, for an encrypted disk, its clear-text mount). */
  root: string;
  /** The disk as the user named it. */
  dest: string;
  info: VolumeInfo;
  disk: Catalog;
  host: Catalog;
  sync: SyncState;
  /** False while a copy that was behind has not been brought up to its volume's state. */
  caughtUp: boolean;
  /** Files left over by a crashed run and removed now. */
  leftovers: number;
  /** The generation this copy's own catalog was in step with when the session opened. */
  copyGeneration: number;
  /** The volume's generation before beginWrite bumped it: a run that changed nothing goes back to it. */
  generationBefore?: number;
  /** What the journal of a crashed run needed undoing (null: there was no journal). */
  recovery: RecoveryReport | null;
  /** The file-system layer the session's own files (journal, volume.json, snapshots) go through. */
  fs: Fsx;
  /** The disk's root and .blaine as opened (absent for a dry run's private copies): see checkDisk. */
  identity?: DiskIdentity;
  /** The disk is mounted read-only (only a reading command gets this far): its catalog is a private copy, nothing is written to it. */
  readOnly?: boolean;
  close(): void;
}

/** Throws DISK_GONE when the session's disk is no longer the one it opened (unmounted mid-run). */
export function checkDisk(s: DiskSession): void {
  requireSameDisk(s.identity);
}

export interface OpenOptions {
  dest: string;
  db: string;
  init?: boolean;
  /** With init: accept a disk that already holds files (they are left alone). */
  force?: boolean;
  label?: string;
  /** With init: make the new disk an encrypted (gocryptfs) volume. */
  encrypt?: boolean;
  /** Asked only when the disk is (or is made) encrypted. */
  key?: KeyProvider;
  /** With init: the backup settings the new disk remembers (volume.json). */
  settings?: DiskSettings;
  /** The disk is only read (verify without --fix): a shared lock on it, so that readers run together. */
  readsDisk?: boolean;
  /** The file-system layer for the disk's own files (default: the real one). */
  fs: Fsx;
  /** A copy being retired (its catalog is wiped before volume.json): a catalog gone by a retirement cut short is no damage. */
  retiring?: boolean;
}

/** Makes a new disk; an encrypted one gets its gocryptfs volume before its identity is written. */
function initDisk(dest: string, opts: OpenOptions, fs: Fsx): VolumeInfo {
  if (!opts.encrypt) return initVolume(dest, opts.label, { force: opts.force, settings: opts.settings }, fs);
  // Tools and key first: a disk is not half made because one of them is missing.
  requireTools();
  const key = (opts.key ?? noKey)(`the new encrypted disk at ${dest}`, true);
  return initVolume(dest, opts.label, { encrypted: true, settings: opts.settings, prepare: () => initCipher(cipherDir(dest), key) }, fs);
}

/**
 * Opens a disk for one command: checks its identity, takes the locks (host catalog, then disk),
 * opens both catalogs and decides which one is the truth for the mounted volume.
 */
export function openDiskSession(opts: OpenOptions): DiskSession {
  const dest = path.resolve(opts.dest);
  const fs = opts.fs;
  // Before anything is created: a known disk without its host catalog must not start an empty one.
  if (!opts.init) requireHostCatalog(opts.db, dest, fs);
  const releases: Array<() => void> = [];
  const catalogs: Catalog[] = [];
  try {
    fs.mkdirSync(path.dirname(opts.db), { recursive: true, mode: 0o700 });
    releases.push(acquireLock(`${opts.db}.lock`, `the host catalog ${opts.db}`));
    // A read-only disk can be read (verify without --fix), never written: said before anything is tried.
    const readOnly = onReadOnlyFs(dest, fs);
    if (readOnly && (opts.init || !opts.readsDisk)) throw readOnlyError(dest);
    // Identity is checked before the disk's lock, which lives on the disk itself.
    const info = opts.init ? initDisk(dest, opts, fs) : readVolume(dest, fs);
    let host: Catalog | undefined;
    if (!opts.init) {
      // Checked before the disk is locked, mounted or cleaned up: a refused disk stays as it was.
      host = Catalog.open(opts.db);
      catalogs.push(host);
      // A disk this run writes is checked in place (its catalog is opened for writing next), but
      // only when the host knows its volume: a disk refused as unknown must not get -wal/-shm files.
      const inPlace = !readOnly && !!host.volume(info.volume);
      if (!info.encrypted && !opts.retiring) requireDiskCatalog(dest, dest, info, host, fs, inPlace);
      requireKnownVolume(host, opts.db, info, dest, fs);
    }
    releases.push(acquireDiskLock(dest, { shared: !!opts.readsDisk }));
    // Unmounted after the catalogs on it are closed, before the disk's lock is released.
    const mount = mountedRoot(dest, info, opts.key, readOnly);
    if (mount) releases.push(() => mount.unmount());
    const root = mount?.mountPoint ?? dest;
    if (mount && !opts.init && !opts.retiring) requireDiskCatalog(root, dest, info, host, fs, !readOnly);
    if (mount && !readOnly) ensureLayout(root, fs);
    else if (!readOnly) privateBlaineDir(root, fs);
    const identity = diskIdentity(dest, root);
    // On a read-only disk the catalog is read from a private copy (SQLite would write -shm beside it).
    const disk = readOnly ? Catalog.openCopy(diskCatalogPath(root)) : Catalog.open(diskCatalogPath(root), { create: true });
    catalogs.push(disk);
    // The disk's remembered settings are kept in its catalog too, so that a lost volume.json can be
    // written again with them (rebuild-catalog).
    const settings = info.settings ? JSON.stringify(info.settings) : null;
    if (settings && !readOnly && disk.getMeta(DISK_SETTINGS) !== settings) disk.transaction(() => disk.setMeta(DISK_SETTINGS, settings));
    // The journal first: it puts parked files back before the cleanup below sweeps .blaine/tmp.
    // A read-only disk keeps both for the next run that can write it.
    const recovery = readOnly ? null : recoverJournal(root, disk, info.volume, fs);
    const leftovers = readOnly ? 0 : cleanupTemp(root, {}, fs);
    if (!host) {
      host = Catalog.open(opts.db, { create: true });
      catalogs.push(host);
    }
    const copyGeneration = diskGeneration(disk);
    const crashed = runUnfinished(disk);
    const sync = syncCatalogs(host, disk, info);
    // A run killed mid-way wrote into folders without setting their mtimes back: set them now, so
    // that even a command that then finds nothing to do leaves the disk as its catalog says.
    if (crashed && !readOnly) settleFoldersFromHost({ root, volume: info.volume, disk, host, fs, warn: () => {} });
    return {
      copyGeneration,
      root,
      dest,
      info,
      disk,
      host,
      sync,
      caughtUp: sync !== 'behind',
      leftovers,
      recovery,
      fs,
      identity,
      readOnly,
      close: () => closeAll(catalogs, releases),
    };
  } catch (err) {
    closeAll(catalogs, releases, true);
    throw err;
  }
}

/** The command that takes a disk into the host catalog (an encrypted disk needs its key for it). */
function rebuildCommand(dest: string, info: VolumeInfo): string {
  return `blaine rebuild-catalog --dest ${dest}${info.encrypted ? ' --key-file KEYFILE' : ''}`;
}

/**
 * A command about to work on a known Blaine disk needs the host catalog that knows it (SPEC §8):
 * without one it says how to get it back rather than start an empty one. A disk that is not a
 * Blaine disk gets readVolume's own message.
 */
export function requireHostCatalog(db: string, dest: string, fs: Fsx): void {
  if (fs.existsSync(db)) return;
  const info = readVolume(dest, fs);
  throw new DiskError(
    `there is no host catalog at ${db}, but ${dest} is the Blaine disk "${info.copyLabel}": run \`${rebuildCommand(dest, info)}\` to make it again from the disk`,
    'NO_HOST_CATALOG',
  );
}

/** A disk of a volume the host catalog does not know (another host's, or one added since a rebuild) is refused the same way. */
export function requireKnownVolume(host: Catalog, db: string, info: VolumeInfo, dest: string, fs: Fsx): void {
  if (host.volume(info.volume) || holdsNothingArchived(dest, info, fs)) return;
  throw new DiskError(
    `the host catalog ${db} does not know the volume "${info.label}" of ${dest}: run \`${rebuildCommand(dest, info)}\` to add it from the disk`,
    'UNKNOWN_VOLUME',
  );
}

/**
 * A plain disk whose `--init` was cut short before the host catalog recorded its volume has no
 * archived file yet: taking it in loses nothing, while refusing would leave the user a disk that
 * neither `--init` (already a Blaine disk) nor a backup (unknown volume) accepts.
 */
function holdsNothingArchived(dest: string, info: VolumeInfo, fs: Fsx): boolean {
  if (info.encrypted) return false;
  const file = diskCatalogPath(dest);
  if (!fs.existsSync(file)) return true;
  // A private copy: a refused disk must be left exactly as it was (no -wal/-shm beside its catalog).
  const disk = Catalog.openCopy(file);
  try {
    return disk.volumeStats(info.volume).files === 0;
  } finally {
    disk.close();
  }
}

/** What the journal of a crashed run put right, in sentences for the user (empty: nothing to say). */
export function recoveryMessages(s: DiskSession): string[] {
  const r = s.recovery;
  if (!r) return [];
  const out: string[] = [];
  if (r.undone + r.reconciled > 0) {
    out.push(`the last run on "${s.info.label}" was cut short: ${r.undone} move(s) undone and ${r.reconciled} path(s) set back from its journal`);
  }
  for (const p of r.problems) out.push(`journal: ${p}`);
  return out;
}

/**
 * Closes catalogs, then unmounts and unlocks in reverse order. Every step is tried even when one
 * fails (a mount that cannot be unmounted must not keep the locks); the first failure is thrown.
 */
function closeAll(catalogs: Catalog[], releases: Array<() => void>, quiet = false): void {
  let first: unknown;
  for (const step of [...catalogs.reverse().map((c) => () => c.close()), ...releases.reverse()]) {
    try {
      step();
    } catch (err) {
      first ??= err;
    }
  }
  catalogs.length = 0;
  releases.length = 0;
  if (first !== undefined && !quiet) throw first;
}

/** Registers volume and copy in both catalogs and decides which catalog speaks for the volume. */
export function syncCatalogs(host: Catalog, disk: Catalog, info: VolumeInfo): SyncState {
  const hostVolume = host.volume(info.volume);
  const { state, generation } = syncState(disk, hostVolume, host.deferred(info.volume).length);
  const volumeRow = {
    uuid: info.volume,
    label: info.label,
    encrypted: info.encrypted,
    created: info.created,
    generation,
  };
  disk.transaction(() => disk.putVolume(volumeRow));
  host.transaction(() => {
    host.putVolume(volumeRow);
    if (state === 'imported' || state === 'recovered') host.replaceVolume(info.volume, disk.entriesOfVolume(info.volume), disk.dirsOf(info.volume));
    // A disk newer than the host catalog has seen every action the host had queued for it.
    if (state === 'imported' && hostVolume) for (const q of host.deferred(info.volume)) host.dropDeferred(q.id);
  });
  return state;
}

/** Marks the start of a writing run: a crash before `endWrite` makes the next run trust the disk. */
export function beginWrite(s: DiskSession): number {
  const { before, generation } = beginRunGeneration(s.host, s.disk, s.info.volume, s.caughtUp);
  s.generationBefore = before;
  return generation;
}

/**
 * Records this copy as in step with the volume, with its size and free space now. A run that
 * changed nothing keeps the size its last run counted (counting reads every row).
 */
export function endWrite(s: DiskSession, freeBytes: number | null, changed = true, volumeChanged = changed): { files: number; bytes: number } {
  const generation = endRunGeneration(s.host, s.disk, s.info.volume, s.caughtUp, s.generationBefore, volumeChanged);
  const before = changed ? undefined : s.disk.copies().find((c) => c.copy === s.info.copy);
  const stats = before ? { files: before.files, bytes: before.bytes } : s.disk.volumeStats(s.info.volume);
  const copy = {
    copy: s.info.copy,
    volume: s.info.volume,
    label: s.info.copyLabel,
    generation,
    lastSync: new Date().toISOString(),
    freeBytes,
    files: stats.files,
    bytes: stats.bytes,
  };
  s.disk.transaction(() => {
    markRunFinished(s.disk, s.caughtUp ? generation : null);
    s.disk.putCopy(copy);
    // Only the host's tombstones are ever read (a catch-up asks the volume's state, not a copy).
    dropTombstones(s.disk);
  });
  s.host.transaction(() => {
    s.host.putCopy(copy);
    pruneTombstones(s.host, s.info.volume);
  });
  return stats;
}

const KEEP_OLD_CATALOGS = 5;

/**
 * Keeps the last few disk catalogs in .blaine/old, so a catalog damaged by a bad run or a failing
 * sector can be rolled back by hand.
 */
export async function rotateOldCatalogs(root: string, disk: Catalog, keep = KEEP_OLD_CATALOGS, fs: Fsx): Promise<void> {
  await snapshotDatabases([oldCatalogJob(root, disk, fs)], fs);
  pruneOldCatalogs(root, keep, fs);
}

/** The next rotated copy of the disk catalog, to make (its folder made). */
function oldCatalogJob(root: string, disk: Catalog, fs: Fsx): SnapshotJob {
  const dir = oldCatalogsDir(root);
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return disk.snapshotJob(path.join(dir, `catalog-${stamp}.sqlite`));
}

function pruneOldCatalogs(root: string, keep: number, fs: Fsx): void {
  const dir = oldCatalogsDir(root);
  const olds = (fs.readdirSync(dir) as string[]).filter((n) => n.startsWith('catalog-')).sort();
  for (const n of olds.slice(0, Math.max(0, olds.length - keep))) fs.rmSync(path.join(dir, n), { force: true });
}

/**
 * Ends a writing run: this copy is recorded as in step with its volume, the run is logged, and the
 * disk gets a rotated copy of its own catalog (when the run changed it) and a snapshot of the whole
 * host catalog (when that changed since this disk's last snapshot) (SPEC §3, §8). `changed`: the run
 * changed files of this copy or queued actions for others; `volumeChanged`: it changed what the
 * volume holds (not merely brought this copy up to it).
 */
export async function finishWrite(
  s: DiskSession,
  command: string,
  status: string,
  summary: unknown,
  changed = true,
  volumeChanged = changed,
  /** Told when the disk is too full for its catalog copies (the run still ends with its summary). */
  warn?: (message: string) => void,
): Promise<number> {
  checkDisk(s);
  // A backup set its folders from its scan; any other run's writes are settled from the host catalog.
  if (command !== 'backup') settleFoldersFromHost({ root: s.root, volume: s.info.volume, disk: s.disk, host: s.host, fs: s.fs, warn: warn ?? (() => {}) });
  const free = freeBytes(s.root, s.fs);
  const stats = endWrite(s, free, changed, volumeChanged);
  const hostState = s.host.transaction(() => {
    const run = s.host.startRun(command, s.info.volume, s.info.copy);
    s.host.finishRun(run, status, summary, free, stats.bytes, { files: stats.files, capacity: capacityBytes(s.root, s.fs) });
    if (changed) s.host.setMeta(REVISION, String(Number(s.host.getMeta(REVISION) ?? '0') + 1));
    let id = s.host.getMeta(HOST_ID);
    if (!id) {
      id = crypto.randomUUID();
      s.host.setMeta(HOST_ID, id);
    }
    return `${id}:${s.host.getMeta(REVISION) ?? '0'}`;
  });
  // Both copies at once: at a million files each catalog is half a gigabyte.
  const rotate = changed || !s.fs.existsSync(oldCatalogsDir(s.root));
  const snapshot = changed || s.disk.getMeta(SNAPSHOT_OF) !== hostState || !s.fs.existsSync(hostSnapshotPath(s.root));
  const jobs = [...(rotate ? [oldCatalogJob(s.root, s.disk, s.fs)] : []), ...(snapshot ? [s.host.snapshotJob(hostSnapshotPath(s.root))] : [])];
  try {
    await snapshotDatabases(jobs, s.fs);
  } catch (e) {
    // The copies are spares (the disk catalog itself is committed): on a full disk the old ones stay.
    const code = (e as { code?: string }).code ?? '';
    if (!warn || !['ENOSPC', 'SQLITE_FULL'].includes(code)) throw e;
    warn(`the disk is full: its copies of the catalogs (.blaine/old, .blaine/host-catalog.sqlite) were not refreshed this time`);
    return free;
  }
  checkDisk(s);
  if (rotate) pruneOldCatalogs(s.root, KEEP_OLD_CATALOGS, s.fs);
  if (snapshot) s.disk.transaction(() => s.disk.setMeta(SNAPSHOT_OF, hostState));
  return free;
}
