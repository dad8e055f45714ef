/**
 * The file-system layer the engines receive (executor, verify, restore, clone, catch-up, and the
 * copy helpers they call, the archive's own files): the node:fs calls Blaine makes on disks and
 * data paths, plus syncfs and nanosecond mtimes.
 * The real one is node:fs and the native addon; tests hand engines a fault-injecting one
 * (fault.ts), so a full disk, a failing read or a crash after step N can be tested without root.
 * Its methods keep node:fs's names and signatures so that code moved onto it reads as before.
 */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { errnoName, nativeAddon } from './addon.js';
import { setMtime, setMtimeFd } from './times.js';
import { hardLink } from '../crypt/link.js';

/** Owners can be given to files only as root; elsewhere they are left to the file system. */
export const isRoot = process.getuid?.() === 0;

export const FSX_METHODS = [
  'openSync',
  'closeSync',
  'readSync',
  'read',
  'writeSync',
  'write',
  'fstatSync',
  'fchmodSync',
  'fchownSync',
  'futimesSync',
  'fsyncSync',
  'ftruncateSync',
  'renameSync',
  'linkSync',
  'unlinkSync',
  'mkdirSync',
  'mkdtempSync',
  'rmdirSync',
  'rmSync',
  'symlinkSync',
  'readlinkSync',
  'lstatSync',
  'statSync',
  'existsSync',
  'lutimesSync',
  'chmodSync',
  'chownSync',
  'lchownSync',
  'readdirSync',
  'readFileSync',
  'writeFileSync',
  'copyFileSync',
  'copyFile',
  'statfsSync',
] as const;

export type FsxMethod = (typeof FSX_METHODS)[number];

/** Calls beyond node:fs: syncfs, and mtimes to the nanosecond (times.ts). */
export const FSX_EXTRA_METHODS = ['syncfs', 'setMtime', 'setMtimeFd'] as const;

export type Fsx = Pick<typeof fs, FsxMethod> & {
  /** syncfs(2) of the file system holding `target`: 0, or the errno name of the failure. */
  syncfs(target: string): string | 0;
  /** A file's or symlink's own mtime, to the nanosecond; atime stays. Throws an errno error like node:fs. */
  setMtime(file: string, sec: number, nsec: number): void;
  /** The same for an open file. */
  setMtimeFd(fd: number, sec: number, nsec: number): void;
};

function syncfs(target: string): string | 0 {
  const native = nativeAddon();
  if (native !== null) {
    const errno = native.syncfs(target);
    return errno === 0 ? 0 : errnoName(errno);
  }
  try {
    execFileSync('sync', ['-f', '--', target], { stdio: ['ignore', 'ignore', 'pipe'] });
    return 0;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    return /no space left|quota/i.test(stderr) ? 'ENOSPC' : stderr.replace(/^sync: /, '') || 'EIO';
  }
}

/**
 * node:fs itself, syncfs and nanosecond mtimes through the native addon (`sync -f` and libuv's
 * microseconds without it); hard links refresh
 * the new name's attributes, which gocryptfs 2.3 gets wrong for a second (encrypted disks).
 */
export const realFs: Fsx = Object.freeze({
  ...Object.fromEntries(FSX_METHODS.map((name) => [name, fs[name]])),
  linkSync: hardLink,
  syncfs,
  setMtime,
  setMtimeFd,
}) as Fsx;
