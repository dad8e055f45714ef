/** The file operations verify's checks and repairs are made of. */
import type { CatalogEntry } from '../catalog/entry.js';
import { ParityError } from '../parity/par2.js';
import { linkParity } from '../parity/paths.js';
import { CopyError, setTimes } from '../fsx/copy.js';
import { isRoot, type Fsx, type BigIntStats } from '../fsx/fsx.js';
import { CHUNK } from './types.js';
import type { Seen } from './types.js';

export function errMessage(e: unknown): string {
  if (e instanceof ParityError || e instanceof CopyError) return e.message.replace(/\.$/, '');
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code}: ${err.message}` : String((e as Error)?.message ?? e);
}

/** lstat with nanosecond mtimes (bigint: a double cannot hold them exactly). */
export function lstatOrNull(p: string, fs: Fsx): Seen | null {
  let st: BigIntStats;
  try {
    st = fs.lstatSync(p, { bigint: true });
  } catch {
    return null;
  }
  let sec = st.mtimeNs / 1_000_000_000n;
  let nsec = st.mtimeNs % 1_000_000_000n;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    sec -= 1n;
  }
  return {
    type: st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : 'special',
    size: Number(st.size),
    mtimeSec: Number(sec),
    mtimeNsec: Number(nsec),
    inode: `${st.dev}:${st.ino}`,
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

export function typeName(st: Seen): string {
  return st.type === 'special' ? 'a special file' : `a ${st.type}`;
}

export function readFull(fd: number, buf: Buffer, n: number, pos: number, fs: Fsx): number {
  let got = 0;
  while (got < n) {
    const k = fs.readSync(fd, buf, got, n - got, pos + got);
    if (k === 0) break;
    got += k;
  }
  return got;
}

/**
 * Writes `from`'s bytes into the inode at `target` (see the module comment), then gives it back
 * the mtime `times`. Only chunks that differ are written: a repair of one bad sector writes one chunk.
 */
export function writeInPlace(target: string, from: string, size: number, times: { sec: number; nsec: number }, fs: Fsx): void {
  const st = fs.statSync(target);
  let fd: number;
  let modeChanged = false;
  try {
    fd = fs.openSync(target, 'r+');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw e;
    // A read-only archived file is still ours to repair: owner write for the repair, then back.
    fs.chmodSync(target, (st.mode & 0o7777) | 0o200);
    modeChanged = true;
    fd = fs.openSync(target, 'r+');
  }
  let src: number | undefined;
  try {
    src = fs.openSync(from, 'r');
    const good = Buffer.allocUnsafe(CHUNK);
    const old = Buffer.allocUnsafe(CHUNK);
    for (let pos = 0; pos < size; ) {
      const n = readFull(src, good, Math.min(CHUNK, size - pos), pos, fs);
      if (n === 0) break;
      let same = false;
      try {
        same = readFull(fd, old, n, pos, fs) === n && good.subarray(0, n).equals(old.subarray(0, n));
      } catch {
        // An unreadable sector: writing it is exactly what the disk needs to remap it.
      }
      if (!same) {
        let off = 0;
        while (off < n) off += fs.writeSync(fd, good, off, n - off, pos + off);
      }
      pos += n;
    }
    fs.ftruncateSync(fd, size);
    fs.fsyncSync(fd);
  } finally {
    if (src !== undefined) fs.closeSync(src);
    fs.closeSync(fd);
    if (modeChanged) fs.chmodSync(target, st.mode & 0o7777);
  }
  setTimes(target, times.sec, times.nsec, fs);
}

/** Names hardlinked together share parity sets (linkParity): a set is known by its files' inodes. */
export function setKey(files: string[], fs: Fsx): string | null {
  try {
    return files
      .map((f) => {
        const st = fs.statSync(f);
        return `${st.dev}:${st.ino}`;
      })
      .sort()
      .join(',');
  } catch {
    return null;
  }
}

export function applyMeta(file: string, e: CatalogEntry, fs: Fsx): void {
  if (isRoot) fs.chownSync(file, e.uid, e.gid);
  fs.chmodSync(file, e.mode & 0o7777);
  setTimes(file, e.mtimeSec, e.mtimeNsec, fs);
}
