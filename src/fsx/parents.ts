/** Writing below directories that may not exist yet, and removing what a failed write left. */
import type { Fsx } from './fsx.js';
import { errCode } from './errno.js';
import { targetError } from './copy-error.js';

function mkdirP(dir: string, dest: string, fs: Fsx): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw targetError(err, dest);
  }
}

/** Runs fn; when it fails with ENOENT (a missing parent), creates the parents and runs it again. */
export function withParents<T>(fn: () => T, dirs: string[], dest: string, fs: Fsx): T {
  try {
    return fn();
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw targetError(err, dest);
  }
  for (const dir of dirs) mkdirP(dir, dest, fs);
  try {
    return fn();
  } catch (err) {
    throw targetError(err, dest);
  }
}

export function removeQuietly(file: string | undefined, fs: Fsx): void {
  if (file === undefined) return;
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone, or the disk vanished: a later cleanupTemp removes what is left.
  }
}
