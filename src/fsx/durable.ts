/** Making what was written durable: syncfs of a whole disk per catalog batch, fsync of one path. */
import { realFs, type Fsx } from './fsx.js';
import { CopyError } from './copy-error.js';

/**
 * Makes everything written to the file system holding `target` durable (syncfs(2), through the
 * native addon, or `sync -f` without it): call it before committing catalog rows for files copied
 * since the last call. One call per batch replaces an fsync per file. syncfs also reports
 * write-back errors that happened since the last call (Linux ≥ 5.8), which are thrown here as a
 * CopyError. On a FUSE mount (gocryptfs) call it for the cipher directory as well: the FUSE file
 * system may not pass syncfs through to the disk underneath.
 */
export function syncDisk(target: string, fs: Fsx): void {
  const code = fs.syncfs(target);
  if (code === 0) return;
  const full = code === 'ENOSPC' || code === 'EDQUOT' || /no space left|quota/i.test(code);
  const why = full ? 'no space left on device' : code;
  const cause = Object.assign(new Error(`syncfs: ${code}`), { code });
  throw new CopyError(
    full ? `The disk is full: flushing ${target} failed (${why}).` : `Cannot flush ${target} to the disk: ${why}.`,
    full ? 'ENOSPC' : 'TARGET',
    target,
    { cause },
  );
}

/** fsync of one file or, opened read-only, of a directory (which makes a rename in it durable). */
export function fsyncPath(p: string, fs: Fsx): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
