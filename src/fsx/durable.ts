/** Making what was written durable: syncfs of a whole disk per catalog batch, fsync of one path. */
import path from 'node:path';
import { realFs, type Fsx } from './fsx.js';
import { CopyError } from './copy-error.js';
import { fsAddon } from './addon.js';

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
    if (syncedThrough.get(mountPoint) !== backingDir) return;
    syncedThrough.delete(mountPoint);
    // A write-back started by startWriteback holds the disk open: the disk is free once this returns.
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (fsAddon()?.syncfsRunning?.()) Atomics.wait(pause, 0, 0, 2);
  };
}

/**
 * Starts, without waiting, the write-back of what was written under `target` to the disk below a
 * mount registered with syncThrough (gocryptfs: sync_file_range of a copy on the FUSE mount does
 * nothing), so that the next syncDisk waits for less; at most one at a time. Returns the directory
 * whose file system is being synced, or null (not such a mount, one already running, no addon).
 * Only a head start: syncDisk still makes the data durable and reports its errors.
 */
export function startWriteback(target: string): string | null {
  for (const [mountPoint, backing] of syncedThrough) {
    if (target === mountPoint || target.startsWith(mountPoint + path.sep)) return fsAddon()?.startSyncfs?.(backing) ? backing : null;
  }
  return null;
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
