/**
 * Copying files onto an archive disk while hashing them, in one read pass.
 *
 * Durability: copyWithSha256 does NOT fsync each file. A per-file fsync makes the copy wait for the
 * disk after every file (ruinous for many small files on a USB disk), while the kernel would
 * otherwise write back in the background. Instead the caller runs syncDisk(disk) (syncfs(2) of the
 * whole file system) before it commits a catalog batch that claims those files are stored. A crash
 * before that sync loses only files the catalog does not yet list; the next run sees them as not
 * archived and copies them again (an uncatalogued leftover at the same path is simply replaced).
 */
import crypto from 'node:crypto';
import { constants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { isRoot, realFs, type Fsx } from './fsx.js';
import { errCode } from './errno.js';
import { tempName } from './temp.js';
import { CopyError, errnoError, sourceError, targetError } from './copy-error.js';
import { removeQuietly, withParents } from './parents.js';
import type { FileMeta } from './meta.js';

// The copy helpers' other parts, where their users have always found them.
export { CopyError, targetError, type CopyErrorCode } from './copy-error.js';
export { mtimeMatches, storedMtime, utimeSeconds } from './times.js';
export { setTimes, type FileMeta } from './meta.js';
export { makeSymlink } from './symlink.js';
export { fsyncPath, syncDisk } from './durable.js';

export interface CopyResult {
  sha256: string;
  bytes: number;
}

export interface CopyOptions {
  signal?: AbortSignal;
  /** Bytes the caller expects (from its scan): a different count means the file changed underway. */
  expectedSize?: number;
  /**
   * Where to write the temporary file (must be on the same file system as dest), e.g.
   * `<disk>/.blaine/tmp`, so that crash leftovers sit in one place. Default: dest's directory.
   */
  tempDir?: string;
  /** Bytes per read and write (default 1 MiB); for measurements. */
  bufferSize?: number;
  /** The file-system layer to copy through (default: the real one). */
  fs: Fsx;
  /**
   * Given every chunk read, in order (files above SMALL_FILE only): the parity made in the copy's
   * read pass. The chunk's memory is read into again only once the promise settles, which it must
   * do without rejecting; the copy meanwhile goes on in up to `tapBuffers` other buffers, so a tap
   * that falls behind for a while costs the copy nothing.
   */
  tap?: (chunk: Buffer) => Promise<void>;
  /** Buffers the tap may hold at once (default 16: 16 MiB). */
  tapBuffers?: number;
  /**
   * The tap's native counterpart, used instead of it where the copy runs in C (Fsx.copyFd): a PAR2
   * creator fed every buffer on a thread of its own, with no round trip through the JS thread.
   */
  nativeTap?: NativeTap;
}

/** A PAR2 creator's handle for the native copy to feed, and what it is told once the copy is done. */
export interface NativeTap {
  handle: object;
  /** Bytes the creator took, and the errno of a failed feed (0: none). Called once, however the copy ended. */
  fed(bytes: number, errno: number): void;
}

/** 1, 2, 4 and 8 MiB measured within noise of each other on a cached 2 GiB file; the smallest keeps 3 MiB per copy in flight. */
const DEFAULT_BUFFER = 1 << 20;
/** Three buffers: one being read into, one being hashed and written, one whose write may still run. */
const PIPELINE_BUFFERS = 3;
/** Buffers a tap (the parity of a copy) may hold behind the copy: 16 MiB, a few ms of MD5 at most. */
const TAP_BUFFERS = 16;
/** Files up to this size are copied with synchronous calls: a threadpool round trip per call costs more than it saves. */
export const SMALL_FILE = 256 << 10;

let sharedSmallBuffer: Buffer | undefined;

/**
 * O_NONBLOCK keeps a FIFO that replaced a scanned file from hanging the run; O_NOATIME keeps a
 * backup from dirtying every source inode (allowed only to the owner or root, hence the retry).
 */
function openForReading(file: string, fs: Fsx): number {
  const base = constants.O_RDONLY | constants.O_NONBLOCK;
  try {
    return fs.openSync(file, base | constants.O_NOATIME);
  } catch (err) {
    if (errCode(err) !== 'EPERM') throw sourceError(err, file);
  }
  try {
    return fs.openSync(file, base);
  } catch (err) {
    throw sourceError(err, file);
  }
}

/** What says a file was written to: any write moves its ctime, and mtime unless reset by hand. */
type Stamp = { size: bigint; mtimeNs: bigint; ctimeNs: bigint };

function stampOf(fd: number, file: string, fs: Fsx): Stamp & { isFile: boolean; sparse: boolean } {
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    // Fewer blocks than bytes: the file has holes (cp --sparse=auto's test).
    const sparse = st.blocks * 512n < st.size;
    return { size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, isFile: st.isFile(), sparse };
  } catch (err) {
    throw sourceError(err, file);
  }
}

function openRegular(file: string, fs: Fsx): { fd: number; size: number; stamp: Stamp; sparse: boolean } {
  const fd = openForReading(file, fs);
  try {
    const stamp = stampOf(fd, file, fs);
    if (!stamp.isFile) throw new CopyError(`Cannot read ${file}: it is not a regular file.`, 'SOURCE', file);
    return { fd, size: Number(stamp.size), stamp, sparse: stamp.sparse };
  } catch (err) {
    fs.closeSync(fd);
    throw sourceError(err, file);
  }
}

/** Throws CHANGED when the file read as `bytes` bytes is not the one opened (SPEC §5: never a wrong SHA-256). */
function checkUnchanged(input: { fd: number; stamp: Stamp }, bytes: number, expectedSize: number | undefined, file: string, fs: Fsx): void {
  const now = stampOf(input.fd, file, fs);
  const was = input.stamp;
  let how: string | null = null;
  if (expectedSize !== undefined && bytes !== expectedSize) how = `expected ${expectedSize} bytes, read ${bytes}`;
  else if (now.size !== was.size || BigInt(bytes) !== now.size) how = `its size went from ${was.size} to ${now.size} bytes`;
  else if (now.mtimeNs !== was.mtimeNs || now.ctimeNs !== was.ctimeNs) how = 'it was written to';
  if (how !== null) throw new CopyError(`Cannot copy ${file}: it changed while being copied (${how}).`, 'CHANGED', file);
}

function readAt(fd: number, buf: Buffer, position: number, src: string, fs: Fsx): Promise<number> {
  const p = new Promise<number>((resolve, reject) => {
    fs.read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(sourceError(err, src)) : resolve(n)));
  });
  // The pipeline may fail elsewhere before awaiting this; the real handler comes later.
  p.catch(() => {});
  return p;
}

function writeAllAt(fd: number, chunk: Buffer, position: number, dest: string, fs: Fsx): Promise<void> {
  const p = new Promise<void>((resolve, reject) => {
    const step = (offset: number): void => {
      fs.write(fd, chunk, offset, chunk.length - offset, position + offset, (err, n) => {
        if (err) return reject(targetError(err, dest));
        if (offset + n < chunk.length) step(offset + n);
        else resolve();
      });
    };
    step(0);
  });
  p.catch(() => {});
  return p;
}

/** The unit holes are kept in: a block of ext4, tmpfs and most file systems. */
const HOLE_UNIT = 4096;
const ZERO_UNIT = Buffer.alloc(HOLE_UNIT);

/**
 * Writes the chunk leaving out its all-zero HOLE_UNITs, so that a sparse source stays sparse (the
 * caller gives the file its full length at the end). Its other bytes are written as writeAllAt does.
 */
async function writeDataAt(fd: number, chunk: Buffer, position: number, dest: string, fs: Fsx): Promise<void> {
  let start = -1;
  // One step past the last unit, whole or not, so that the data run that ends the chunk is written
  // too (a chunk whose length is not a multiple of HOLE_UNIT once lost its last run).
  for (let off = 0; ; off += HOLE_UNIT) {
    const end = off >= chunk.length;
    const zero = !end && chunk.subarray(off, off + HOLE_UNIT).equals(ZERO_UNIT.subarray(0, Math.min(HOLE_UNIT, chunk.length - off)));
    if (!end && !zero) {
      if (start < 0) start = off;
      continue;
    }
    if (start >= 0) await writeAllAt(fd, chunk.subarray(start, Math.min(off, chunk.length)), position + start, dest, fs);
    start = -1;
    if (end) return;
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/**
 * Reads src to EOF once: chunk i is hashed on this thread while chunk i+1 is being read and chunk
 * i-1 written by the libuv threadpool, so hashing (≈1.9 GB/s) hides behind the copying.
 * out === undefined only hashes; with out.sparse, blocks of zeros are left as holes (writeDataAt).
 * Every in-flight operation is awaited before returning or throwing, so the caller can close the
 * descriptors safely.
 */
async function pipeline(
  inFd: number,
  out: { fd: number; dest: string; sparse?: boolean } | undefined,
  src: string,
  hash: HashSink,
  bufferSize: number,
  signal: AbortSignal | undefined,
  fs: Fsx,
  tap?: { take: (chunk: Buffer) => Promise<void>; buffers: number },
): Promise<number> {
  // A tap holds its chunks for a while: more buffers, each read into again only once the tap let go of it.
  const count = PIPELINE_BUFFERS + (tap ? Math.max(1, tap.buffers) : 0);
  const bufs = Array.from({ length: count }, () => Buffer.allocUnsafeSlow(bufferSize));
  const held: Array<Promise<void> | undefined> = new Array(count);
  let readPos = 0;
  let pendingRead: Promise<number> | undefined = readAt(inFd, bufs[0], 0, src, fs);
  let pendingWrite: Promise<void> | undefined;
  try {
    for (let i = 0; ; i++) {
      const n: number = await pendingRead;
      pendingRead = undefined;
      if (n === 0) break;
      const chunk = bufs[i % count].subarray(0, n);
      const at = readPos;
      readPos += n;
      // The buffer of chunk i+1 last held chunk i+1-count, whose write finished before chunk i-1's began.
      const next = (i + 1) % count;
      if (held[next]) await held[next];
      held[next] = undefined;
      pendingRead = readAt(inFd, bufs[next], readPos, src, fs);
      hash.update(chunk);
      if (tap) held[i % count] = tap.take(chunk);
      if (pendingWrite) await pendingWrite;
      pendingWrite = undefined;
      if (signal?.aborted) throw abortReason(signal);
      if (out) {
        pendingWrite = (out.sparse ? writeDataAt : writeAllAt)(out.fd, chunk, at, out.dest, fs);
        pendingWrite.catch(() => {});
      }
    }
    if (pendingWrite) await pendingWrite;
    pendingWrite = undefined;
    return readPos;
  } catch (err) {
    await Promise.allSettled([pendingRead, pendingWrite]);
    throw err;
  } finally {
    // The buffers are the tap's until it lets go of them.
    await Promise.allSettled(held);
  }
}

const ECANCELED = osConstants.errno.ECANCELED;

/**
 * The copy of a big file in C (Fsx.copyFd, native/copyfeed.c): the reads, SHA-256, writes and the
 * tap's feed run on threads of the addon, while this thread goes on with other files' work.
 * Errors and abort as pipeline's; every thread has ended when this returns or throws.
 */
async function copyNative(
  input: { fd: number; size: number },
  out: { fd: number; tmp: string; dest: string },
  src: string,
  signal: AbortSignal | undefined,
  fs: Fsx,
  tap: NativeTap | undefined,
): Promise<CopyResult> {
  const cancel = new Int32Array(1);
  const onAbort = (): void => {
    cancel[0] = 1;
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let r;
  try {
    r = await fs.copyFd!({ inFd: input.fd, outFd: out.fd, src, tmp: out.tmp, size: input.size, feed: tap?.handle, cancel });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  tap?.fed(r.fed, r.feedErrno);
  if (r.writeErrno !== 0) throw targetError(errnoError(r.writeErrno, 'write', out.dest), out.dest);
  if (r.readErrno === ECANCELED && signal?.aborted) throw abortReason(signal);
  if (r.readErrno !== 0) throw sourceError(errnoError(r.readErrno, 'read', src), src);
  signal?.throwIfAborted();
  return { bytes: r.bytes, sha256: r.sha256 };
}

function smallBuffer(): Buffer {
  return (sharedSmallBuffer ??= Buffer.allocUnsafeSlow(SMALL_FILE));
}

/**
 * Synchronous copy loop for small files; reads to EOF, so a file that grew is still copied whole.
 * A short read that ends exactly at the size fstat gave is taken as EOF: the read of nothing that
 * would confirm it was one system call in eleven per file (a file that grows just then is seen
 * as changed by the next run, as any file that grows after it was read).
 */
function copySmall(inFd: number, size: number, outFd: number | undefined, src: string, dest: string, hash: HashSink, fs: Fsx): number {
  const buf = smallBuffer();
  let pos = 0;
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(inFd, buf, 0, buf.length, pos);
    } catch (err) {
      throw sourceError(err, src);
    }
    if (n === 0) return pos;
    hash.update(buf.subarray(0, n));
    if (outFd !== undefined) {
      try {
        let off = 0;
        while (off < n) off += fs.writeSync(outFd, buf, off, n - off, pos + off);
      } catch (err) {
        throw targetError(err, dest);
      }
    }
    pos += n;
    if (n < buf.length && pos === size) return pos;
  }
}

/** A copy made under its temporary name, complete with owner, mode and mtime, not yet in place. */
export interface TempCopy extends CopyResult {
  tmp: string;
}

/**
 * Copies src to dest in one read pass while computing its SHA-256. The data goes to a temporary name
 * (in opts.tempDir or dest's directory) that gets mode, mtime and (as root) owner and is then
 * renamed over dest; an existing dest is replaced atomically and its other hardlinks keep their
 * content. Missing parent directories are created. No fsync: see syncDisk.
 * On failure the temporary file is gone and a CopyError is thrown ('ENOSPC' disk full, 'SOURCE'
 * source unreadable or changed underway, 'TARGET' anything else); on abort, signal.reason.
 */
export async function copyWithSha256(src: string, dest: string, meta: FileMeta, opts: CopyOptions): Promise<CopyResult> {
  return installTemp(await copyToTemp(src, dest, meta, opts), src, dest, opts);
}

/** copyWithSha256 up to the rename: the file is complete under its temporary name (see installTemp). */
export async function copyToTemp(src: string, dest: string, meta: FileMeta, opts: CopyOptions): Promise<TempCopy> {
  const { signal } = opts;
  const fs = opts.fs;
  const bufferSize = opts.bufferSize ?? DEFAULT_BUFFER;
  signal?.throwIfAborted();
  const destDir = path.dirname(dest);
  const tempDir = opts.tempDir ?? destDir;
  const input = openRegular(src, fs);
  let outFd: number | undefined;
  let tmp: string | undefined;
  try {
    const candidate = path.join(tempDir, tempName(path.basename(dest)));
    outFd = withParents(() => fs.openSync(candidate, 'wx', 0o600), [tempDir, destDir], dest, fs);
    tmp = candidate;
    const hash = crypto.createHash('sha256');
    // A sparse source (a VM image, a preallocated recording) keeps its holes, as cp --sparse=auto does:
    // blocks of zeros are not written, and the length is set at the end.
    const sparse = input.sparse && input.size > SMALL_FILE;
    // A big file is copied in C where the addon is built, unless it is sparse or its tap has no
    // native counterpart (or a buffer size is asked for: measurements of this loop).
    const native = input.size > SMALL_FILE && !sparse && fs.copyFd !== null && (opts.tap === undefined || opts.nativeTap !== undefined) && opts.bufferSize === undefined;
    let nativeSha: string | undefined;
    let bytes: number;
    if (native) {
      const done = await copyNative(input, { fd: outFd, tmp: candidate, dest }, src, signal, fs, opts.nativeTap);
      bytes = done.bytes;
      nativeSha = done.sha256;
    } else {
      bytes =
        input.size <= SMALL_FILE
          ? copySmall(input.fd, input.size, outFd, src, dest, hash, fs)
          : await pipeline(input.fd, { fd: outFd, dest, sparse }, src, hash, bufferSize, signal, fs, opts.tap && { take: opts.tap, buffers: opts.tapBuffers ?? TAP_BUFFERS });
    }
    if (sparse) {
      try {
        fs.ftruncateSync(outFd, bytes);
      } catch (err) {
        throw targetError(err, dest);
      }
    }
    checkUnchanged(input, bytes, opts.expectedSize, src, fs);
    signal?.throwIfAborted();
    try {
      // chown before chmod: chown clears set-user-ID and set-group-ID bits.
      if (isRoot) fs.fchownSync(outFd, meta.uid, meta.gid);
      fs.fchmodSync(outFd, meta.mode & 0o7777);
      fs.setMtimeFd(outFd, meta.mtimeSec, meta.mtimeNsec);
      const fd = outFd;
      outFd = undefined;
      // Network and FUSE file systems may report a failed delayed write only here.
      fs.closeSync(fd);
    } catch (err) {
      throw targetError(err, dest);
    }
    return { tmp, sha256: nativeSha ?? hash.digest('hex'), bytes };
  } catch (err) {
    if (outFd !== undefined) {
      try {
        fs.closeSync(outFd);
      } catch {
        // The error that brought us here is the one to report.
      }
    }
    removeQuietly(tmp, fs);
    throw err;
  } finally {
    fs.closeSync(input.fd);
  }
}

/**
 * Renames a finished temporary copy over dest (creating dest's parents when the copy was made in
 * opts.tempDir), unless it is not the size the caller expected: then it is removed and a
 * CopyError 'CHANGED' says the file changed while being copied. Either way no temporary file is left.
 */
export function installTemp(copy: TempCopy, src: string, dest: string, opts: Pick<CopyOptions, 'expectedSize' | 'tempDir' | 'fs'>): CopyResult {
  const fs = opts.fs;
  const { expectedSize } = opts;
  try {
    if (expectedSize !== undefined && copy.bytes !== expectedSize) {
      throw new CopyError(
        `Cannot copy ${src}: it changed while being copied (expected ${expectedSize} bytes, read ${copy.bytes}).`,
        'CHANGED',
        src,
      );
    }
    if (opts.tempDir === undefined) {
      try {
        fs.renameSync(copy.tmp, dest);
      } catch (err) {
        throw targetError(err, dest);
      }
    } else {
      withParents(() => fs.renameSync(copy.tmp, dest), [path.dirname(dest)], dest, fs);
    }
  } catch (err) {
    removeQuietly(copy.tmp, fs);
    throw err;
  }
  return { sha256: copy.sha256, bytes: copy.bytes };
}

/**
 * SHA-256 and length of a file, read once; errors are CopyError 'SOURCE'. With `sha1`, its SHA-1
 * too, from the same read: what a row migrated from an older catalog is checked against.
 */
export async function sha256File(
  file: string,
  opts: { signal?: AbortSignal; bufferSize?: number; fs: Fsx; sha1?: boolean },
): Promise<CopyResult & { sha1?: string }> {
  opts.signal?.throwIfAborted();
  const fs = opts.fs;
  const input = openRegular(file, fs);
  try {
    const hash = crypto.createHash('sha256');
    const legacy = opts.sha1 ? crypto.createHash('sha1') : null;
    const sink = legacy ? bothHashes(hash, legacy) : hash;
    const bytes =
      input.size <= SMALL_FILE
        ? copySmall(input.fd, input.size, undefined, file, file, sink, fs)
        : await pipeline(input.fd, undefined, file, sink, opts.bufferSize ?? DEFAULT_BUFFER, opts.signal, fs);
    return legacy ? { sha256: hash.digest('hex'), bytes, sha1: legacy.digest('hex') } : { sha256: hash.digest('hex'), bytes };
  } finally {
    fs.closeSync(input.fd);
  }
}

/** What the read loops feed: one hash, or two fed from the same bytes. */
type HashSink = Pick<crypto.Hash, 'update'>;

function bothHashes(a: crypto.Hash, b: crypto.Hash): HashSink {
  return {
    update(data: crypto.BinaryLike) {
      b.update(data);
      return a.update(data);
    },
  } as HashSink;
}
