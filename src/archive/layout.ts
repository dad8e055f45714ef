/**
 * Where everything Blaine keeps on a disk lives (SPEC §3): archived files at their absolute source
 * path below the root, and Blaine's own files below `<disk>/.blaine`. The parity tree's paths stay
 * in src/parity/paths.ts, since the parity library is a leaf that imports nothing of Blaine's.
 */
import path from 'node:path';

export const BLAINE_DIR = '.blaine';

export function blaineDir(disk: string): string {
  return path.join(disk, BLAINE_DIR);
}

/** Disk identity, always in the clear. */
export function volumeFile(disk: string): string {
  return path.join(blaineDir(disk), 'volume.json');
}

/** Where an encrypted disk's gocryptfs volume is: gocryptfs's own config in the clear, all else ciphered. */
export function cipherDir(disk: string): string {
  return path.join(blaineDir(disk), 'cipher');
}

/** The lock file of a disk; on the raw disk, so it can be taken before an encrypted disk is mounted. */
export function diskLockPath(disk: string): string {
  return path.join(blaineDir(disk), 'lock');
}

export function diskCatalogPath(root: string): string {
  return path.join(blaineDir(root), 'catalog.sqlite');
}

/** The snapshot of the whole host catalog written at the end of each run. */
export function hostSnapshotPath(root: string): string {
  return path.join(blaineDir(root), 'host-catalog.sqlite');
}

/** Earlier disk catalogs, rotated. */
export function oldCatalogsDir(root: string): string {
  return path.join(blaineDir(root), 'old');
}

/** Where every temporary file of a run on this disk is written, so the next run finds crash leftovers in one place. */
export function diskTempDir(root: string): string {
  // Asked for every file a run copies.
  if (root !== lastTempRoot) {
    lastTempRoot = root;
    lastTempDir = path.join(blaineDir(root), 'tmp');
  }
  return lastTempDir;
}
let lastTempRoot = '';
let lastTempDir = '';

/**
 * A path that path.join would leave as it is: absolute, no empty, "." or ".." component, no "/"
 * at the end (a catalog row's path, a scanned one).
 */
const NOT_NORMAL = /\/\.{0,2}(?:\/|$)/;
const isNormalAbsolute = (p: string) => p.charCodeAt(0) === 0x2f && !NOT_NORMAL.test(p);
let lastRoot = '';
let lastRootNormal = false;

/** Files Blaine found on a disk and cannot prove it wrote: moved here, never deleted blind (SPEC §8). */
export function quarantineDir(root: string): string {
  return path.join(blaineDir(root), 'quarantine');
}

/** Where an archived file is stored on the disk: at its absolute source path below the root. */
export function onDisk(root: string, p: string): string {
  // Asked twice for every file a first backup writes: path.join's normalising pass cost more than
  // the catalog's string work for the file. Normal paths need none; the result is the same.
  if (root !== lastRoot) {
    lastRoot = root;
    lastRootNormal = root.length > 1 && isNormalAbsolute(root);
  }
  return lastRootNormal && isNormalAbsolute(p) ? root + p : path.join(root, p);
}
