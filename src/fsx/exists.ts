import type { Fsx } from './fsx.js';

/** Questions about a path that answer instead of throwing. */

/**
 * True only when the source path is known to be gone (ENOENT, ENOTDIR). A data path whose disk
 * fails (EIO and the like) has not lost its files: they are skipped with a warning instead.
 */
export function goneFromSource(p: string, fs: Fsx): boolean {
  try {
    fs.lstatSync(p);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

export function isSymlink(p: string, fs: Fsx): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
