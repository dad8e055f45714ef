/**
 * Copying files onto an archive disk while hashing them, in one read pass.
 *
 * Durability: copyWithSha1 does NOT fsync each file. A per-file fsync makes the copy wait for the
 * disk after every file (ruinous for many small files on a USB disk), while the kernel would
 * otherwise write back in the background. Instead the caller runs syncDisk(disk) (syncfs(2) of the
 * whole file system) before it commits a catalog batch that claims those files are stored. A crash
 * before that sync loses only files the catalog does not yet list; the next run sees them as not
 * archived and copies them again (an uncatalogued leftover at the same path is simply replaced).
 *
 * mtime precision: times are set through the Fsx's setMtime/setMtimeFd, to the nanosecond where the
 * native addon is built (see times.ts).
 */
import crypto from 'node:crypto';
import { constants } from 'node:fs';
import path from 'node:path';
import { isRoot, realFs, type Fsx } from './fsx.js';
import { errCode, reason as errnoReason } from './errno.js';
import { tempName } from './temp.js';

export { mtimeMatches, storedMtime, utimeSeconds } from './times.js';

export interface CopyResult {
  sha1: string;
  bytes: number;
}

/** Ownership, permissions and mtime to give a copy. A scanned FileRecord fits as is. */
export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  /** Nanoseconds within the second, 0..999999999. */
  mtimeNsec: number;
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
  fs?: Fsx;
}

/** CHANGED: the source changed while it was read (the copy may mix old and new bytes); worth one more try. */
export type CopyErrorCode = 'ENOSPC' | 'SOURCE' | 'CHANGED' | 'TARGET';

export class CopyError extends Error {
  override name = 'CopyError';
  constructor(
    message: string,
    readonly code: CopyErrorCode,
    /** The path the message is about. */
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** 1, 2, 4 and 8 MiB measured within noise of each other on a cached 2 GiB file; the smallest keeps 3 MiB per copy in flight. */
const DEFAULT_BUFFER = 1 << 20;
/** Three buffers: one being read into, one being hashed and written, one whose write may still run. */
const PIPELINE_BUFFERS = 3;
/** Files up to this size are copied with synchronous calls: a threadpool round trip per call costs more than it saves. */
const SMALL_FILE = 256 << 10;

let sharedSmallBuffer: Buffer | undefined;

/** The errno's words without a final period, to end a sentence of ours. */
function reason(err: unknown): string {
  return errnoReason(err).replace(/\.$/, '');
}

function sourceError(err: unknown, src: string): CopyError {
  if (err instanceof CopyError) return err;
  return new CopyError(`Cannot read ${src}: ${reason(err)}.`, 'SOURCE', src, { cause: err });
}

/** A failed write on a disk as a CopyError: ENOSPC (exit 3) for a full disk or quota, TARGET otherwise. */
export function targetError(err: unknown, dest: string): CopyError {
  if (err instanceof CopyError) return err;
  const code = errCode(err);
  // A quota is a full disk as far as the user is concerned: the remedy is the same.
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new CopyError(`The disk is full: there is no room left to write ${dest}.`, 'ENOSPC', dest, { cause: err });
  }
  return new CopyError(`Cannot write ${dest}: ${reason(err)}.`, 'TARGET', dest, { cause: err });
}

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

function stampOf(fd: number, file: string, fs: Fsx): Stamp & { isFile: boolean } {
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    return { size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, isFile: st.isFile() };
  } catch (err) {
    throw sourceError(err, file);
  }
}

function openRegular(file: string, fs: Fsx): { fd: number; size: number; stamp: Stamp } {
  const fd = openForReading(file, fs);
  try {
    const stamp = stampOf(fd, file, fs);
    if (!stamp.isFile) throw new CopyError(`Cannot read ${file}: it is not a regular file.`, 'SOURCE', file);
    return { fd, size: Number(stamp.size), stamp };
  } catch (err) {
    fs.closeSync(fd);
    throw sourceError(err, file);
  }
}

/** Throws CHANGED when the file read as `bytes` bytes is not the one opened (SPEC §5: never a wrong SHA1). */
function checkUnchanged(input: { fd: number; stamp: Stamp }, bytes: number, expectedSize: number | undefined, file: string, fs: Fsx): void {
  const now = stampOf(input.fd, file, fs);
  const was = input.stamp;
  let how: string | null = null;
  if (expectedSize !== undefined && bytes !== expectedSize) how = `expected ${expectedSize} bytes, read ${bytes}`;
  else if (now.size !== was.size || BigInt(bytes) !== now.size) how = `its size went from ${was.size} to ${now.size} bytes`;
  else if (now.mtimeNs !== was.mtimeNs || now.ctimeNs !== was.ctimeNs) how = 'it was written to';
  if (how !== null) throw new CopyError(`Cannot copy ${file}: it changed while being copied (${how}).`, 'CHANGED', file);
}

function mkdirP(dir: string, dest: string, fs: Fsx): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw targetError(err, dest);
  }
}

/** Runs fn; when it fails with ENOENT (a missing parent), creates the parents and runs it again. */
function withParents<T>(fn: () => T, dirs: string[], dest: string, fs: Fsx): T {
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

function removeQuietly(file: string | undefined, fs: Fsx): void {
  if (file === undefined) return;
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone, or the disk vanished: a later cleanupTemp removes what is left.
  }
}

/** Sets a file's or symlink's mtime to the nanosecond (never following a symlink); atime stays as it is. */
export function setTimes(file: string, mtimeSec: number, mtimeNsec: number, fs: Fsx = realFs): void {
  try {
    fs.setMtime(file, mtimeSec, mtimeNsec);
  } catch (err) {
    throw targetError(err, file);
  }
}

/**
 * Makes dest a symlink to target with the given owner (as root) and mtime, atomically: it is made
 * under a temporary name and renamed over whatever dest was (a file's other hardlinks stay as they are).
 */
export function makeSymlink(
  target: string,
  dest: string,
  meta: Pick<FileMeta, 'uid' | 'gid' | 'mtimeSec' | 'mtimeNsec'>,
  fs: Fsx = realFs,
): void {
  const tmp = path.join(path.dirname(dest), tempName(path.basename(dest)));
  withParents(() => fs.symlinkSync(target, tmp), [path.dirname(dest)], dest, fs);
  try {
    if (isRoot) fs.lchownSync(tmp, meta.uid, meta.gid);
    try {
      setTimes(tmp, meta.mtimeSec, meta.mtimeNsec, fs);
    } catch (err) {
      // Name the destination, not the temporary name, in the message.
      throw (err as CopyError).cause ?? err;
    }
    fs.renameSync(tmp, dest);
  } catch (err) {
    removeQuietly(tmp, fs);
    throw targetError(err, dest);
  }
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

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/**
 * Reads src to EOF once: chunk i is hashed on this thread while chunk i+1 is being read and chunk
 * i-1 written by the libuv threadpool, so hashing (≈1.9 GB/s) hides behind the copying.
 * out === undefined only hashes. Every in-flight operation is awaited before returning or
 * throwing, so the caller can close the descriptors safely.
 */
async function pipeline(
  inFd: number,
  out: { fd: number; dest: string } | undefined,
  src: string,
  hash: crypto.Hash,
  bufferSize: number,
  signal: AbortSignal | undefined,
  fs: Fsx,
): Promise<number> {
  const bufs = Array.from({ length: PIPELINE_BUFFERS }, () => Buffer.allocUnsafeSlow(bufferSize));
  let readPos = 0;
  let pendingRead: Promise<number> | undefined = readAt(inFd, bufs[0], 0, src, fs);
  let pendingWrite: Promise<void> | undefined;
  try {
    for (let i = 0; ; i++) {
      const n: number = await pendingRead;
      pendingRead = undefined;
      if (n === 0) break;
      const chunk = bufs[i % PIPELINE_BUFFERS].subarray(0, n);
      const at = readPos;
      readPos += n;
      // The buffer of chunk i+1 last held chunk i-2, whose write finished before chunk i-1's began.
      pendingRead = readAt(inFd, bufs[(i + 1) % PIPELINE_BUFFERS], readPos, src, fs);
      hash.update(chunk);
      if (pendingWrite) await pendingWrite;
      pendingWrite = undefined;
      if (signal?.aborted) throw abortReason(signal);
      if (out) pendingWrite = writeAllAt(out.fd, chunk, at, out.dest, fs);
    }
    if (pendingWrite) await pendingWrite;
    pendingWrite = undefined;
    return readPos;
  } catch (err) {
    await Promise.allSettled([pendingRead, pendingWrite]);
    throw err;
  }
}

function smallBuffer(): Buffer {
  return (sharedSmallBuffer ??= Buffer.allocUnsafeSlow(SMALL_FILE));
}

/** Synchronous copy loop for small files; reads to EOF, so a file that grew is still copied whole. */
function copySmall(inFd: number, outFd: number | undefined, src: string, dest: string, hash: crypto.Hash, fs: Fsx): number {
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
  }
}

/**
 * Copies src to dest in one read pass while computing its SHA1. The data goes to a temporary name
 * (in opts.tempDir or dest's directory) that gets mode, mtime and (as root) owner and is then
 * renamed over dest; an existing dest is replaced atomically and its other hardlinks keep their
 * content. Missing parent directories are created. No fsync: see syncDisk.
 * On failure the temporary file is gone and a CopyError is thrown ('ENOSPC' disk full, 'SOURCE'
 * source unreadable or changed underway, 'TARGET' anything else); on abort, signal.reason.
 */
export async function copyWithSha1(src: string, dest: string, meta: FileMeta, opts: CopyOptions = {}): Promise<CopyResult> {
  const { signal, expectedSize } = opts;
  const fs = opts.fs ?? realFs;
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
    const hash = crypto.createHash('sha1');
    const bytes =
      input.size <= SMALL_FILE
        ? copySmall(input.fd, outFd, src, dest, hash, fs)
        : await pipeline(input.fd, { fd: outFd, dest }, src, hash, bufferSize, signal, fs);
    checkUnchanged(input, bytes, expectedSize, src, fs);
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
    const done = tmp;
    if (opts.tempDir === undefined) {
      try {
        fs.renameSync(done, dest);
      } catch (err) {
        throw targetError(err, dest);
      }
    } else {
      withParents(() => fs.renameSync(done, dest), [destDir], dest, fs);
    }
    tmp = undefined;
    return { sha1: hash.digest('hex'), bytes };
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

/** SHA1 and length of a file, read once; errors are CopyError 'SOURCE'. */
export async function sha1File(file: string, opts: { signal?: AbortSignal; bufferSize?: number; fs?: Fsx } = {}): Promise<CopyResult> {
  opts.signal?.throwIfAborted();
  const fs = opts.fs ?? realFs;
  const input = openRegular(file, fs);
  try {
    const hash = crypto.createHash('sha1');
    const bytes =
      input.size <= SMALL_FILE
        ? copySmall(input.fd, undefined, file, file, hash, fs)
        : await pipeline(input.fd, undefined, file, hash, opts.bufferSize ?? DEFAULT_BUFFER, opts.signal, fs);
    return { sha1: hash.digest('hex'), bytes };
  } finally {
    fs.closeSync(input.fd);
  }
}

/**
 * Makes everything written to the file system holding `target` durable (syncfs(2), through the
 * native addon, or `sync -f` without it): call it before committing catalog rows for files copied
 * since the last call. One call per batch replaces an fsync per file. syncfs also reports
 * write-back errors that happened since the last call (Linux ≥ 5.8), which are thrown here as a
 * CopyError. On a FUSE mount (gocryptfs) call it for the cipher directory as well: the FUSE file
 * system may not pass syncfs through to the disk underneath.
 */
export function syncDisk(target: string, fs: Fsx = realFs): void {
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
export function fsyncPath(p: string, fs: Fsx = realFs): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
