/**
 * A Blaine disk whose own files are damaged (SPEC §8): a disk catalog that is missing, empty or
 * unreadable while volume.json says the disk is a Blaine disk, or a volume.json that is missing
 * while the disk catalog names its volume. Either is a damaged disk, never an empty or a new one:
 * commands say so and change nothing; `rebuild-catalog --dest` repairs it (recover/repair-disk.ts).
 */
import { Catalog, CatalogError } from '../catalog/catalog.js';
import { errCode } from '../fsx/errno.js';
import { cipherDir, diskCatalogPath, hostSnapshotPath, oldCatalogsDir } from './layout.js';
import { DiskError } from './disk-error.js';
import { fsConstants as constants, type Fsx } from '../fsx/fsx.js';

/** What the checks need of a disk's identity (volume.json's VolumeInfo). */
interface DiskIdentityInfo {
  volume: string;
  copy: string;
  copyLabel: string;
  /** An encrypted disk needs its key to be rebuilt. */
  encrypted?: boolean;
}

/** What is wrong with a disk catalog file, or null when SQLite opens it. */
export type CatalogProblem = null | { what: 'missing' | 'empty' } | { what: 'unreadable'; why: string };

/**
 * `inPlace`: the caller is about to open the catalog for writing anyway, so SQLite's -shm beside
 * it costs nothing: it is opened where it is, read-only, instead of through a private copy (at a
 * million files a copy of 140 MB on every run, a fixed cost of the weekly swap).
 */
export function catalogProblem(file: string, fs: Fsx, inPlace = false): CatalogProblem {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch (err) {
    if (errCode(err) === 'ENOENT') return { what: 'missing' };
    return { what: 'unreadable', why: errCode(err) ?? String(err) };
  }
  if (size === 0) return { what: 'empty' };
  try {
    (inPlace ? Catalog.open(file, { readonly: true }) : Catalog.openCopy(file)).close();
    return null;
  } catch (err) {
    if (!(err instanceof CatalogError)) throw err;
    // A catalog written by a newer Blaine is not damaged: that error stands.
    if (/newer Blaine/.test(err.message)) throw err;
    return { what: 'unreadable', why: /\(([^()]*)\)/.exec(err.message)?.[1] ?? 'damaged' };
  }
}

/** Rotated copies of the disk catalog in .blaine/old, newest first. */
export function rotatedCatalogs(root: string, fs: Fsx): string[] {
  try {
    return fs.readdirSync(oldCatalogsDir(root))
      .filter((n) => /^catalog-.*\.sqlite$/.test(n))
      .sort()
      .reverse()
      .map((n) => `${oldCatalogsDir(root)}/${n}`);
  } catch {
    return [];
  }
}

/**
 * Whether anything says this disk was used (a run finished on it, or the host knows its files):
 * only a disk whose `--init` was cut short before its catalog was made may start a new one.
 */
export function diskWasUsed(root: string, info: DiskIdentityInfo, host: Catalog | undefined, fs: Fsx): boolean {
  if (rotatedCatalogs(root, fs).length > 0 || fs.existsSync(hostSnapshotPath(root))) return true;
  if (!host) return false;
  return host.copies().some((c) => c.copy === info.copy) || host.volumeStats(info.volume).files > 0;
}

function describeProblem(p: Exclude<CatalogProblem, null>): string {
  return p.what === 'unreadable' ? `cannot be read (${p.why})` : p.what === 'empty' ? 'is empty (0 bytes)' : 'is missing';
}

/**
 * Throws DAMAGED_CATALOG when the disk catalog at `root` is missing, empty or unreadable on a disk
 * that was used; a disk whose init was cut short passes (its catalog is made now).
 */
export function requireDiskCatalog(root: string, dest: string, info: DiskIdentityInfo, host: Catalog | undefined, fs: Fsx, inPlace = false): void {
  const problem = catalogProblem(diskCatalogPath(root), fs, inPlace);
  if (!problem) return;
  if (problem.what !== 'unreadable' && !diskWasUsed(root, info, host, fs)) return;
  throw new DiskError(damagedCatalogMessage(dest, info, problem), 'DAMAGED_CATALOG');
}

export function damagedCatalogMessage(dest: string, info: DiskIdentityInfo, problem: Exclude<CatalogProblem, null>): string {
  return (
    `the disk catalog of "${info.copyLabel}" at ${dest} ${describeProblem(problem)}: the disk is damaged, not empty, and nothing was changed; ` +
    `run \`blaine rebuild-catalog --dest ${dest}${info.encrypted ? ' --key-file KEYFILE' : ''}\` to rebuild it from the host catalog and the disk's rotated catalogs`
  );
}

/** The volume a disk's catalog names, when volume.json is gone: its label and UUID, or null. */
export function volumeNamedByCatalog(disk: string, fs: Fsx): { label: string; uuid: string } | null {
  const file = diskCatalogPath(disk);
  for (const f of [file, ...rotatedCatalogs(disk, fs)]) {
    if (!fs.existsSync(f)) continue;
    try {
      const cat = Catalog.openCopy(f);
      try {
        const v = cat.volumes()[0];
        if (v) return { label: v.label, uuid: v.uuid };
      } finally {
        cat.close();
      }
    } catch {
      // Try the next one.
    }
  }
  return null;
}

/**
 * An encrypted disk's cipher directory that holds more than gocryptfs's own two files: something
 * was stored in it (an init cut short before volume.json leaves only those two).
 */
function holdsCipherContent(disk: string, fs: Fsx): boolean {
  try {
    return fs.readdirSync(cipherDir(disk)).some((n) => n !== 'gocryptfs.conf' && n !== 'gocryptfs.diriv');
  } catch {
    return false;
  }
}

/** volume.json is missing on a disk that is a Blaine disk all the same: said so, with the way back. */
export function missingVolumeFileError(disk: string, fs: Fsx): DiskError | null {
  const named = volumeNamedByCatalog(disk, fs);
  if (named) {
    return new DiskError(
      `${disk}/.blaine/volume.json is missing, but the disk's catalog belongs to the volume "${named.label}" (${named.uuid}): the disk is damaged, not new; ` +
        `run \`blaine rebuild-catalog --dest ${disk}\` to write volume.json again from its catalog (never \`--init\`, which would make a second volume on it)`,
      'NO_VOLUME_FILE',
    );
  }
  if (holdsCipherContent(disk, fs)) {
    return new DiskError(
      `${disk}/.blaine/volume.json is missing, but ${disk}/.blaine/cipher holds an encrypted Blaine volume: the disk is damaged, not new; ` +
        'copy volume.json back from a backup of it or from its mirror copy (the same volume), and never run `--init` on it',
      'NO_VOLUME_FILE',
    );
  }
  return null;
}

/** True when `dir` is on a file system mounted read-only. */
export function onReadOnlyFs(dir: string, fs: Fsx): boolean {
  try {
    fs.accessSync(dir, constants.W_OK);
    return false;
  } catch (err) {
    return errCode(err) === 'EROFS';
  }
}

export function readOnlyError(dest: string): DiskError {
  return new DiskError(
    `${dest} is mounted read-only, and this command writes to the disk: remount it read-write (\`mount -o remount,rw ${dest}\`) and run it again; ` +
      '`verify` without --fix, `list --dest` and `restore` work on it as it is',
    'READ_ONLY',
  );
}
