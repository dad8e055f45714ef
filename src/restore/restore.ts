/**
 * Restoring files from a mounted disk, which is only ever read.
 *
 * Each file is copied with its SHA1 computed on the way into a scratch directory inside the
 * restore target, and put in place only when the SHA1 is the catalogued one. When it is not (or
 * the disk's copy cannot be read, or is gone), par2 repairs the copy, working on copies of the
 * parity files (repairFromCopy): the disk keeps its damage until `verify --fix`.
 *
 * Names that shared one inode on the data disk (the source inode the catalog keeps) are restored
 * as hardlinks of one file, and no others: a disk stores equal files once, but that is storage,
 * not what the user had. Every other name gets its own file with its own mode, owner and mtime.
 * Symlinks are made from the catalog, which holds their target.
 */
import type { Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { parityFiles } from '../parity/paths.js';
import type { Par2Config } from '../parity/par2.js';
import { repairFromCopy } from '../parity/repair-copy.js';
import { rescueCopy } from '../parity/rescue.js';
import { reason as errnoReason } from '../fsx/errno.js';
import { CopyError, copyWithSha1, makeSymlink, setTimes, sha1File, type FileMeta } from '../fsx/copy.js';
import { isRoot, realFs, type Fsx } from '../fsx/fsx.js';
import { byPath, diskRelative } from '../fsx/paths.js';

export interface RestoreOptions {
  /** The disk's root. */
  root: string;
  /** Entries of the disk catalog to restore. */
  entries: CatalogEntry[];
  /** DIR: each file goes to DIR/<absolute path>. */
  to: string;
  overwrite: boolean;
  dryRun: boolean;
  signal: AbortSignal;
  par2?: Par2Config;
  detail(msg: string): void;
  warn(msg: string): void;
  progress?(done: number, total: number, bytes: number): void;
  /** The file-system layer (default: the real one; tests pass a fault-injecting one). */
  fs?: Fsx;
}

export interface RestoreResult {
  /** Files, symlinks and hardlinks put in place (or, in a dry run, that would be). */
  restored: number;
  /** Of those, files whose copy on the disk was damaged and were repaired from parity. */
  repaired: number;
  /** Files that could not be restored correctly: nothing was written for them. */
  failed: number;
  /** Targets that exist and were left alone (no --overwrite, or a directory). */
  skipped: number;
  failures: Array<{ path: string; message: string }>;
  bytes: number;
  interrupted: boolean;
}

/** The restore target of an absolute source path. */
export function restoreTarget(to: string, p: string): string {
  return path.join(to, p);
}

/** A failure to write the restore target: the run stops, since every later file would fail the same way. */
export class RestoreTargetError extends Error {}


function metaOf(e: CatalogEntry): FileMeta {
  return { mode: e.mode & 0o7777, uid: e.uid, gid: e.gid, mtimeSec: e.mtimeSec, mtimeNsec: e.mtimeNsec };
}

function lstatOrNull(p: string, fs: Fsx): Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

function reason(e: unknown): string {
  // A failed write's CopyError names the scratch file; the sentence is about the target, so only the errno's words.
  if (e instanceof CopyError && e.code !== 'SOURCE' && e.cause !== undefined) return errnoReason(e.cause).replace(/\.$/, '');
  return (e instanceof Error ? e.message : String(e)).replace(/\.$/, '');
}

type Outcome = { ok: true; repaired: boolean; bytes: number } | { ok: false; message: string };

export async function restoreFiles(o: RestoreOptions): Promise<RestoreResult> {
  const fs = o.fs ?? realFs;
  const res: RestoreResult = { restored: 0, repaired: 0, failed: 0, skipped: 0, failures: [], bytes: 0, interrupted: false };
  const entries = [...o.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // Hardlink groups as the data disk had them: the source inode, and the target its first restored name got.
  const inodeOf = new Map<string, string>();
  for (const e of entries) if (e.kind === 'file' && e.inode !== null) inodeOf.set(e.path, e.inode);
  const leaders = new Map<string, { target: string; e: CatalogEntry }>();

  let scratch: string | null = null;
  let counter = 0;
  const scratchDir = (): string => {
    if (scratch === null) {
      try {
        fs.mkdirSync(o.to, { recursive: true });
        scratch = fs.mkdtempSync(path.join(o.to, '.blaine-restore-'));
      } catch (e) {
        throw new RestoreTargetError(`cannot write in ${o.to}: ${reason(e)}`);
      }
    }
    return scratch;
  };
  const fail = (e: CatalogEntry, message: string): void => {
    res.failed++;
    res.failures.push({ path: e.path, message });
    o.warn(`${e.path}: ${message}`);
  };

  try {
    let done = 0;
    for (const e of entries) {
      if (o.signal.aborted) {
        res.interrupted = true;
        break;
      }
      o.progress?.(done++, entries.length, res.bytes);
      const target = restoreTarget(o.to, e.path);
      const there = lstatOrNull(target, fs);
      if (there && (!o.overwrite || there.isDirectory())) {
        res.skipped++;
        o.detail(`skipped ${target}: ${there.isDirectory() ? 'a directory is in the way' : 'it exists (--overwrite replaces it)'}`);
        continue;
      }
      const key = inodeOf.get(e.path);
      const leader = key ? leaders.get(key) : undefined;
      if (e.kind === 'symlink') {
        if (!o.dryRun) place(() => makeSymlink(e.linkTarget ?? '', target, metaOf(e), fs), target);
        res.restored++;
        o.detail(`${o.dryRun ? 'would restore' : 'restored'} ${e.path} -> ${e.linkTarget}`);
        continue;
      }
      if (leader && sameFile(leader.e, e)) {
        if (!o.dryRun) place(() => linkInto(leader.target, target, scratchDir(), ++counter, fs), target);
        res.restored++;
        o.detail(`${o.dryRun ? 'would link' : 'linked'} ${e.path} to ${leader.e.path}`);
        continue;
      }
      if (o.dryRun) {
        res.restored++;
        if (key) leaders.set(key, { target, e });
        o.detail(`would restore ${e.path}`);
        continue;
      }
      const out = await restoreFile(o, e, target, scratchDir(), ++counter);
      if (o.signal.aborted) {
        res.interrupted = true;
        break;
      }
      if (!out.ok) {
        fail(e, out.message);
        continue;
      }
      res.restored++;
      res.bytes += out.bytes;
      if (out.repaired) res.repaired++;
      if (key) leaders.set(key, { target, e });
      o.detail(`restored ${e.path}${out.repaired ? ' (repaired from parity)' : ''}`);
    }
  } finally {
    if (scratch !== null) fs.rmSync(scratch, { recursive: true, force: true });
  }
  return res;
}

/** Two names of one source file: everything but the name agrees (an inode number reused since is not enough). */
function sameFile(a: CatalogEntry, b: CatalogEntry): boolean {
  return (
    a.sha1 === b.sha1 && a.size === b.size && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid &&
    a.mtimeSec === b.mtimeSec && a.mtimeNsec === b.mtimeNsec
  );
}

/** Runs a write to the target; any failure there stops the run with one sentence. */
function place<T>(fn: () => T, target: string): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RestoreTargetError) throw e;
    throw new RestoreTargetError(`cannot write ${target}: ${reason(e)}`);
  }
}

async function placeAsync(fn: () => Promise<void>, target: string): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof RestoreTargetError) throw e;
    throw new RestoreTargetError(`cannot write ${target}: ${reason(e)}`);
  }
}

function linkInto(from: string, target: string, scratch: string, n: number, fs: Fsx): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = path.join(scratch, `l-${n}`);
  try {
    fs.linkSync(from, tmp);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Moves a finished file from the scratch directory to its target (a copy when they are on different file systems). */
async function moveInto(tmp: string, target: string, meta: FileMeta, fs: Fsx): Promise<void> {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await copyWithSha1(tmp, target, meta, { fs });
  }
}

async function restoreFile(o: RestoreOptions, e: CatalogEntry, target: string, scratch: string, n: number): Promise<Outcome> {
  const fs = o.fs ?? realFs;
  const rel = diskRelative(e.path);
  const src = path.join(o.root, rel);
  const meta = metaOf(e);
  const copy = path.join(scratch, `f-${n}`);
  let why: string;
  let haveCopy = false;
  try {
    const got = await copyWithSha1(src, copy, meta, { signal: o.signal, tempDir: scratch, fs });
    haveCopy = true;
    if (e.sha1 === null || (got.sha1 === e.sha1 && got.bytes === e.size)) {
      if (e.sha1 === null) o.warn(`${e.path}: the catalog has no SHA1 for it; restored unchecked`);
      await placeAsync(() => moveInto(copy, target, meta, fs), target);
      return { ok: true, repaired: false, bytes: got.bytes };
    }
    why = got.bytes !== e.size ? `the disk's copy has ${got.bytes} bytes, not ${e.size}` : "the disk's copy differs from its catalogued SHA1";
  } catch (err) {
    if (o.signal.aborted) return { ok: false, message: 'interrupted' };
    if (!(err instanceof CopyError) || (err.code !== 'SOURCE' && err.code !== 'CHANGED')) throw new RestoreTargetError(`cannot write ${target}: ${reason(err)}`);
    why = fs.existsSync(src) ? `the disk's copy cannot be read (${reason(err)})` : 'the file is missing on the disk';
    // What can be read goes to par2, unreadable blocks as zeros: parity mends those like rot.
    if (fs.existsSync(src)) {
      try {
        rescueCopy(src, copy);
        haveCopy = true;
      } catch {
        // Not even that: par2 gets the parity alone.
      }
    }
  }
  try {
    const files = e.parityName === null ? [] : parityFiles(o.root, rel);
    if (files.length === 0) return { ok: false, message: `${why}, and it has no parity to repair it from` };
    const repaired = `${copy}.repaired`;
    let ok = false;
    try {
      ok = await repairFromCopy({
        parityFiles: files,
        relPath: rel,
        parityName: e.parityName!,
        damagedCopy: haveCopy ? copy : null,
        scratchParent: scratch,
        outPath: repaired,
        cfg: o.par2,
        signal: o.signal,
      });
    } catch (err) {
      if (o.signal.aborted) return { ok: false, message: 'interrupted' };
      return { ok: false, message: `${why}, and par2 could not repair it (${reason(err)})` };
    }
    if (!ok) return { ok: false, message: `${why}, and the damage is beyond what its parity can repair` };
    const check = await sha1File(repaired, { fs });
    if (check.sha1 !== e.sha1 || check.bytes !== e.size) {
      return { ok: false, message: `${why}, and its parity gives back other bytes than the catalogued SHA1` };
    }
    place(() => {
      if (isRoot) fs.chownSync(repaired, meta.uid, meta.gid);
      fs.chmodSync(repaired, meta.mode);
      setTimes(repaired, meta.mtimeSec, meta.mtimeNsec, fs);
    }, target);
    await placeAsync(() => moveInto(repaired, target, meta, fs), target);
    return { ok: true, repaired: true, bytes: check.bytes };
  } finally {
    fs.rmSync(copy, { force: true });
    fs.rmSync(`${copy}.repaired`, { force: true });
  }
}
