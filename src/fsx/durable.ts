/** Making what was written durable: syncfs of a whole disk per catalog batch, fsync of one path. */
import path from 'node:path';
import { realFs, type Fsx } from './fsx.js';
import { CopyError } from './copy-error.js';

/**
 * Makes everything written to the file system holding `target` durable (syncfs(2), through the
 * native addon, or `sync -f` without it): call it before committing catalog rows for files copied
 * since the last call. One call per batch replaces an fsync per file. syncfs also reports
 * write-back errors that happened since the last call (Linux ≥ 5.8), which are thrown here as a
 * CopyError. A mount registered with syncThrough (gocryptfs) has the file system under it synced
 * too: syncfs of a FUSE mount returns at once and writes nothing back (460 MB of ciphertext stayed
 * dirty after it, measured), so the catalog rows would have been committed before their data.
 */
export function syncDisk(target: string, fs: Fsx): void {
  syncOne(target, target, fs);
  for (const [mountPoint, backing] of syncedThrough) {
    if (target === mountPoint || target.startsWith(mountPoint + path.sep)) syncOne(backing, target, fs);
  }
}

/** FUSE mount points and the directory each stores its files in (see syncDisk). */
const syncedThrough = new Map<string, string>();

/** From now until the returned function is called, syncDisk of `mountPoint` (or below it) also syncs the file system holding `backingDir`. */
export function syncThrough(mountPoint: string, backingDir: string): () => void {
  syncedThrough.set(mountPoint, backingDir);
  return () => {
    if (syncedThrough.get(mountPoint) === backingDir) syncedThrough.delete(mountPoint);
  };
}

function syncOne(what: string, target: string, fs: Fsx): void {
  const code = fs.syncfs(what);
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
