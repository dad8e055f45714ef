/**
 * `rebuild-catalog --dest` for a damaged disk (SPEC §8): a volume.json that is gone while the
 * disk catalog names its volume is written again from that catalog; a disk catalog that is
 * missing, empty or unreadable on a used disk is rebuilt from the disk's newest readable rotated
 * catalog (.blaine/old) or, when that is older than what the host catalog knows of this copy, from
 * the host catalog's rows for the volume. Either way each row is checked against the disk (kind,
 * size and mtime of a file, target of a symlink): a row the disk does not bear out is left out and
 * named, and the next backup copies it again. The damaged catalog is kept beside, never deleted.
 */
import path from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { acquireDiskLock } from '../archive/lock.js';
import { blaineDir, diskCatalogPath, onDisk, volumeFile } from '../archive/layout.js';
import { catalogProblem, diskWasUsed, onReadOnlyFs, readOnlyError, rotatedCatalogs } from '../archive/damage.js';
import { openDiskView, type KeyProvider } from '../archive/session.js';
import { DISK_SETTINGS } from '../catalog/meta-keys.js';
import { diskGeneration, setDiskGeneration } from '../catalog/generation.js';
import { readVolume, validSettings, writeVolume, type DiskSettings, type VolumeInfo } from '../archive/volume.js';
import { fsyncPath } from '../fsx/copy.js';
import { mtimeMatches } from '../fsx/times.js';
import { tempName } from '../fsx/temp.js';
import { RebuildError } from './rebuild-error.js';
import { type BigIntStats, type Fsx } from '../fsx/fsx.js';
import { dirRecordOf } from '../dirs/scan.js';
import { dirEntry } from '../dirs/sync.js';

export interface DiskRepair {
  /** volume.json was written again from the disk's catalog. */
  volumeFile: boolean;
  /** The disk catalog was rebuilt: from which source, how many rows, which ones the disk did not bear out. */
  catalog: null | {
    source: 'rotated' | 'host';
    /** The rotated catalog used, or the host catalog. */
    from: string;
    files: number;
    unvouched: string[];
    /** Where the damaged catalog was kept (null: there was none). */
    setAside: string | null;
  };
}

/** Repairs what is damaged on the disk itself; null when nothing was. */
export function repairDisk(destArg: string, db: string, key: KeyProvider | undefined, fs: Fsx): DiskRepair | null {
  const dest = path.resolve(destArg);
  const volumeWritten = restoreVolumeFile(dest, fs);
  const info = readVolume(dest, fs);
  const view = openDiskView(dest, { key, readonly: false, fs });
  try {
    const file = diskCatalogPath(view.root);
    const problem = catalogProblem(file, fs);
    const host = fs.existsSync(db) ? openHost(db) : null;
    try {
      if (!problem || (problem.what !== 'unreadable' && !diskWasUsed(view.root, info, host ?? undefined, fs))) {
        return volumeWritten ? { volumeFile: true, catalog: null } : null;
      }
      if (onReadOnlyFs(view.root, fs)) throw readOnlyError(dest);
      const release = acquireDiskLock(dest);
      try {
        return { volumeFile: volumeWritten, catalog: rebuildDiskCatalog(view.root, dest, info, host, fs) };
      } finally {
        release();
      }
    } finally {
      host?.close();
    }
  } finally {
    view.close();
  }
}

/** The host catalog when SQLite can read it (a private copy: this command only reads it here). */
function openHost(db: string): Catalog | null {
  try {
    return Catalog.openCopy(db);
  } catch {
    return null;
  }
}

/** A catalog that opens and knows the volume (a private copy), or null. */
function openKnowing(file: string, volume: string): Catalog | null {
  try {
    const cat = Catalog.openCopy(file);
    if (cat.volume(volume)) return cat;
    cat.close();
  } catch {
    // damaged too: the next one
  }
  return null;
}

function rebuildDiskCatalog(root: string, dest: string, info: VolumeInfo, host: Catalog | null, fs: Fsx): NonNullable<DiskRepair['catalog']> {
  const volume = info.volume;
  let rotated: { file: string; cat: Catalog } | null = null;
  for (const f of rotatedCatalogs(root, fs)) {
    const cat = openKnowing(f, volume);
    if (cat) {
      rotated = { file: f, cat };
      break;
    }
  }
  try {
    const hostKnows = host?.volume(volume) ? host : null;
    const copyGeneration = hostKnows?.copies().find((c) => c.copy === info.copy)?.generation ?? 0;
    const volumeGeneration = hostKnows?.volume(volume)?.generation ?? 0;
    // The rotated catalog is this copy's own last state; the host's rows serve when it is older than what the host saw this copy hold.
    const useRotated = rotated !== null && (hostKnows === null || diskGeneration(rotated.cat) >= copyGeneration);
    if (!useRotated && !hostKnows) {
      throw new RebuildError(
        `${dest}: its disk catalog is damaged, it has no readable rotated catalog and the host catalog does not know its volume "${info.label}"; rebuild the host catalog from another disk of the archive first`,
      );
    }
    const file = diskCatalogPath(root);
    const tmp = path.join(blaineDir(root), tempName('catalog.sqlite'));
    let files = 0;
    const unvouched: string[] = [];
    try {
      if (useRotated) fs.copyFileSync(rotated!.file, tmp);
      const cat = Catalog.open(tmp, { create: true });
      try {
        cat.transaction(() => {
          if (!useRotated) {
            cat.putVolume(hostKnows!.volume(volume)!);
            for (const c of hostKnows!.copies()) if (c.volume === volume) cat.putCopy(c);
            for (const e of hostKnows!.iterateVolume(volume)) cat.put(e);
            for (const e of hostKnows!.dirsOf(volume)) cat.put(e);
          }
          // Folders are read back from the disk: each catalogued one the disk holds, as it holds it.
          for (const e of cat.dirsOf(volume)) {
            const st = fs.lstatSync(onDisk(root, e.path), { bigint: true, throwIfNoEntry: false });
            if (st === undefined || !st.isDirectory()) cat.remove(volume, e.path);
            else cat.put({ ...dirEntry(volume, dirRecordOf(e.path, st)), inode: e.inode });
          }
          for (const e of [...cat.iterateVolume(volume)]) {
            if (onDiskAsCatalogued(root, e, fs)) files++;
            else {
              unvouched.push(e.path);
              cat.remove(volume, e.path);
            }
          }
          // A copy whose catalog lost rows is compared whole with its volume by the next run
          // (generation 0): what it lacks is copied again. A rotated catalog newer than the host keeps its own.
          const own = useRotated ? diskGeneration(cat) : 0;
          if (!useRotated || (unvouched.length > 0 && own <= volumeGeneration)) setDiskGeneration(cat, 0);
        });
      } finally {
        cat.close();
      }
      fsyncPath(tmp, fs);
      const setAside = setAsideDamaged(file, fs);
      fs.renameSync(tmp, file);
      fsyncPath(path.dirname(file), fs);
      return { source: useRotated ? 'rotated' : 'host', from: useRotated ? rotated!.file : host!.file, files, unvouched, setAside };
    } catch (err) {
      for (const ext of ['', '-wal', '-shm']) fs.rmSync(`${tmp}${ext}`, { force: true });
      throw err;
    }
  } finally {
    rotated?.cat.close();
  }
}

/** The disk bears the row out: a file of the catalogued size and mtime, or a symlink to the catalogued target. */
function onDiskAsCatalogued(root: string, e: CatalogEntry, fs: Fsx): boolean {
  const where = onDisk(root, e.path);
  let st: BigIntStats;
  try {
    st = fs.lstatSync(where, { bigint: true });
  } catch {
    return false;
  }
  if (e.kind === 'symlink') return st.isSymbolicLink() && fs.readlinkSync(where) === e.linkTarget;
  if (!st.isFile() || Number(st.size) !== e.size) return false;
  const NS = 1_000_000_000n;
  const sec = st.mtimeNs / NS - (st.mtimeNs % NS < 0n ? 1n : 0n);
  return mtimeMatches(Number(sec), Number(st.mtimeNs - sec * NS), e.mtimeSec, e.mtimeNsec);
}

/** The damaged catalog (and SQLite's files beside it) kept under a dated name for a closer look. */
function setAsideDamaged(file: string, fs: Fsx): string | null {
  if (!fs.existsSync(file)) return null;
  const aside = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const ext of ['-wal', '-shm']) if (fs.existsSync(`${file}${ext}`)) fs.renameSync(`${file}${ext}`, `${aside}${ext}`);
  fs.renameSync(file, aside);
  return aside;
}

/**
 * volume.json gone while the disk's catalog (or a rotated one) names its volume: written again
 * from it. The copy is the catalog's most recently synced one (each run records its own copy
 * last); names at the top of the disk that hold no catalogued file are recorded as foreign, so
 * that Blaine keeps leaving them alone. True when it was written.
 */
function restoreVolumeFile(dest: string, fs: Fsx): boolean {
  if (fs.existsSync(volumeFile(dest))) return false;
  for (const f of [diskCatalogPath(dest), ...rotatedCatalogs(dest, fs)]) {
    if (!fs.existsSync(f)) continue;
    let cat: Catalog;
    try {
      cat = Catalog.openCopy(f);
    } catch {
      continue;
    }
    try {
      const v = cat.volumes()[0];
      const copy = cat
        .copies()
        .filter((c) => c.volume === v?.uuid)
        .sort((a, b) => (b.lastSync ?? '').localeCompare(a.lastSync ?? ''))[0];
      if (!v || !copy) continue;
      if (onReadOnlyFs(dest, fs)) throw readOnlyError(dest);
      const tops = new Set<string>();
      for (const e of cat.iterateVolume(v.uuid)) tops.add(e.path.split('/')[1]!);
      const foreign = fs.readdirSync(dest).filter((n) => n !== '.blaine' && n !== 'lost+found' && !tops.has(n)).sort();
      const info: VolumeInfo = {
        format: 1,
        volume: v.uuid,
        label: v.label,
        copy: copy.copy,
        copyLabel: copy.label,
        created: v.created,
        encrypted: false,
        ...(foreign.length > 0 ? { foreign } : {}),
        ...rememberedSettings(cat),
      };
      writeVolume(dest, info, fs);
      return true;
    } finally {
      cat.close();
    }
  }
  return false;
}

/** The settings the disk remembered (its catalog keeps a copy of volume.json's), when they can be read. */
function rememberedSettings(cat: Catalog): { settings?: DiskSettings } {
  const json = cat.getMeta(DISK_SETTINGS);
  if (!json) return {};
  try {
    const settings = JSON.parse(json) as DiskSettings;
    return validSettings(settings) ? { settings } : {};
  } catch {
    return {};
  }
}
