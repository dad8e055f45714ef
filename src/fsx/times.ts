/**
 * Setting a file's mtime, the one file-system call node:fs cannot make exactly. Node 20 sets times
 * through libuv, which takes seconds as a double, truncates to whole microseconds and turns times
 * before 1970 into "now"; so times are set with utimensat/futimens through the native addon
 * (native/fsops.c), to the nanosecond. Only where the addon is not built do they go through libuv,
 * to the microsecond (see utimeSeconds), and stored and source mtimes are then compared with
 * mtimeMatches, which allows for that.
 */
import fs from 'node:fs';
import { errnoName, fsAddon } from './addon.js';
import { fsPath } from './name-bytes.js';

/**
 * The double libuv turns back into exactly the wanted microsecond: libuv truncates
 * (time - sec) * 1e9 to whole microseconds, and a double near 1.7e9 is only good to ~240 ns, so
 * aiming at the middle of the microsecond keeps rounding from landing on the one before or after.
 */
export function utimeSeconds(sec: number, nsec: number): number {
  return sec + (Math.floor(nsec / 1000) * 1000 + 500) / 1e9;
}

/** The mtime a file system holds after setTimes/copyWithSha256 with these values (for sec ≥ 0). */
export function storedMtime(sec: number, nsec: number): { mtimeSec: number; mtimeNsec: number } {
  return fsAddon() ? { mtimeSec: sec, mtimeNsec: nsec } : { mtimeSec: sec, mtimeNsec: Math.floor(nsec / 1000) * 1000 };
}

/** True when two mtimes are equal; without the addon, to the microsecond that libuv keeps. */
export function mtimeMatches(aSec: number, aNsec: number, bSec: number, bNsec: number): boolean {
  if (fsAddon()) return aSec === bSec && aNsec === bNsec;
  return Math.abs((aSec - bSec) * 1e9 + (aNsec - bNsec)) < 1000;
}

function errnoError(errno: number, syscall: string, where?: string): NodeJS.ErrnoException {
  const code = errnoName(errno);
  const err: NodeJS.ErrnoException = new Error(`${code}: cannot set the time of ${where ?? 'a file'}`);
  err.code = code;
  err.syscall = syscall;
  if (where !== undefined) err.path = where;
  return err;
}

/** A file's or symlink's own mtime (never a symlink's target's); atime stays as it is. Throws like node:fs. */
export function setMtime(file: string, sec: number, nsec: number): void {
  const addon = fsAddon();
  if (!addon) return fs.lutimesSync(fsPath(file), fs.lstatSync(fsPath(file)).atime, utimeSeconds(sec, nsec));
  const errno = addon.setMtime(file, sec, nsec, true);
  if (errno !== 0) throw errnoError(errno, 'utimensat', file);
}

/** The same for an open file. */
export function setMtimeFd(fd: number, sec: number, nsec: number): void {
  const addon = fsAddon();
  if (!addon) return fs.futimesSync(fd, fs.fstatSync(fd).atime, utimeSeconds(sec, nsec));
  const errno = addon.setMtimeFd(fd, sec, nsec);
  if (errno !== 0) throw errnoError(errno, 'futimens');
}
