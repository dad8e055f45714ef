/**
 * Which file system a run is writing to. A disk that is unmounted while a run writes (`umount -l`,
 * a USB cable pulled and the kernel detaching it) leaves the run's open descriptors on the old
 * file system while every new open lands in the bare mount point below it: files would be
 * "copied" onto the system disk and their rows committed to the real disk's catalog through its
 * open descriptor. So the run records the device and inode of the disk root and of its `.blaine`
 * folder when it opens the disk, and checks them before every catalog commit and on every write
 * error (SPEC §5: a catalog never claims a file the disk does not hold).
 */
import path from 'node:path';
import { blaineDir } from './layout.js';
import { DiskError } from './volume.js';
import { realFs } from '../fsx/fsx.js';

export interface DiskIdentity {
  /** The folders whose identity is recorded (the disk root, its .blaine; an encrypted disk's raw ones too). */
  folders: string[];
  /** dev:ino of each, in the same order. */
  ids: string[];
  /** The disk as the user named it, for the message. */
  dest: string;
}

/**
 * Read with node:fs itself, not the run's Fsx layer: a check is no step of the run, and the
 * fault-injecting layer of the tests counts steps.
 */
function idOf(dir: string): string {
  try {
    const st = realFs.statSync(dir, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return 'gone';
  }
}

/** The identity of the disk a run writes to: its root and `.blaine` (and the raw disk's, when `dest` differs from `root`). */
export function diskIdentity(dest: string, root: string): DiskIdentity {
  const folders = [...new Set([root, blaineDir(root), path.resolve(dest), blaineDir(path.resolve(dest))])];
  return { folders, ids: folders.map(idOf), dest };
}

/** The run's disk went away (unmounted, replaced) while it was writing. */
export function diskGoneMessage(dest: string): string {
  return (
    `the disk at ${dest} is no longer the disk this run opened (it was unmounted or replaced while the run was writing): ` +
    'the run stopped and recorded nothing more; mount the disk again and run the same command to redo what was not recorded'
  );
}

/** Throws DiskError DISK_GONE when any recorded folder is no longer the one the run opened. */
export function requireSameDisk(id: DiskIdentity | undefined): void {
  if (!id) return;
  for (let i = 0; i < id.folders.length; i++) {
    if (idOf(id.folders[i]!) !== id.ids[i]) throw new DiskError(diskGoneMessage(id.dest), 'DISK_GONE');
  }
}
