import path from 'node:path';
import type { CatalogEntry } from '../catalog/entry.js';
import type { Operation } from '../plan/operation.js';
import { entryFor, metaOf, sameModeOwner } from '../plan/entry.js';
import type { FileRecord } from '../scan/record.js';
import { removeParity } from '../parity/paths.js';
import { CopyError, copyWithSha256, installTemp, makeSymlink, type CopyResult, type TempCopy } from '../fsx/copy.js';
import { tempName } from '../fsx/temp.js';
import { diskRelative } from '../fsx/paths.js';
import { diskTempDir, onDisk } from '../archive/layout.js';
import { goneFromSource, isSymlink } from '../fsx/exists.js';
import type { Fsx } from '../fsx/fsx.js';
import type { ApplyEnv } from './apply-env.js';
import { refused } from './space.js';

/** The handlers of operations that write new names: copy, symlink, link. */

function throwIfError<T extends TempCopy>(res: T | CopyError): T {
  if (res instanceof CopyError) throw res;
  return res;
}

/** A copy made ahead, put in place now unless the copying thread did (copy-ahead.ts). */
function placeAhead(copy: TempCopy & { placed?: boolean }, src: string, dest: string, opts: Parameters<typeof installTemp>[3]): CopyResult {
  return copy.placed ? { sha256: copy.sha256, bytes: copy.bytes } : installTemp(copy, src, dest, opts);
}

/**
 * A folder the archive kept at a path that is now a file or symlink (a library folder replaced,
 * SPEC §5), left empty: it goes, so the new object can take the path. One that still holds
 * something stays (the former-folder rules keep the new object off the disk then).
 */
function vacateEmptyFolder(dest: string, fs: Fsx): boolean {
  try {
    if (fs.lstatSync(dest, { throwIfNoEntry: false })?.isDirectory()) {
      fs.rmdirSync(dest);
      return true;
    }
  } catch {
    // Not there, or not empty.
  }
  return false;
}

/**
 * Whether a write failed because a folder is at its path: rename(2) of a file onto a folder fails
 * with EISDIR. Files are put in place first and the folder looked for only then: an lstat of every
 * path a first backup writes, on the executor's thread, cost as much as the renames themselves.
 */
function folderInTheWay(err: unknown): boolean {
  const cause = err instanceof CopyError ? err.cause : err;
  return (cause as NodeJS.ErrnoException | null)?.code === 'EISDIR';
}

/** The stored name a new file displaces loses its parity and its share of an inode. */
function displace(env: ApplyEnv, replaces: CatalogEntry | undefined): void {
  if (!replaces) return;
  removeParity(env.ctx.root, diskRelative(replaces.path), env.fs);
  env.loosened.add(replaces);
}

export function applyCopy(env: ApplyEnv, op: Extract<Operation, { type: 'copy' }>): Promise<void> {
  return copyFile(env, op.record, op.replaces, op.dedupe ?? false);
}

/** Files that may share one stored inode: equal bytes, mode and owner (SPEC §3). */
const contentKey = (size: number, sha256: string, m: { mode: number; uid: number; gid: number }) => `${size}:${sha256}:${m.mode & 0o7777}:${m.uid}:${m.gid}`;

/**
 * A stored name on this disk that the fresh copy of r can become a link to: the run's newest link
 * group of that content if one was started (EMLINK), else the catalog's first twin that is on the
 * disk. One row read in the usual case, whatever the number of equal files.
 */
function storedTwin(env: ApplyEnv, r: FileRecord, sha256: string): CatalogEntry | undefined {
  const { ctx, fs } = env;
  const usable = (e: CatalogEntry) => e.path !== r.path && fs.existsSync(onDisk(ctx.root, e.path));
  // A link group exists only once an inode had all the names it can have (EMLINK): rare.
  const head = env.linkGroups.size > 0 ? env.linkGroups.get(contentKey(r.size, sha256, r)) : undefined;
  if (head && usable(head)) return head;
  if (env.written !== null && !env.written.mayHold(r.size, sha256)) return undefined;
  for (const e of ctx.disk.twins(ctx.volume, r.size, sha256, r)) if (usable(e)) return e;
  return undefined;
}

/**
 * A stored name whose bytes equal the fresh copy at `copy`, among rows migrated from an older
 * catalog that know their content by SHA-1 only (never proof of equal bytes: SHA-1 collides).
 * Returned with the SHA-256 the comparison proved for the disk's bytes. The row itself gets that
 * SHA-256 too, unless it is one of a pair the older catalog stored as one by SHA-1 (then only the
 * next backup's check, which reads the data path too, can tell whose bytes the disk holds).
 */
function sameBytesMigrated(env: ApplyEnv, r: FileRecord, copy: string, sha256: string): CatalogEntry | undefined {
  const { ctx, fs } = env;
  // Rows migrated from a SHA-1 catalog: none on a volume that had no file when the run began.
  if (env.written !== null) return undefined;
  for (const e of ctx.disk.legacyTwins(ctx.volume, r.size, r)) {
    const file = onDisk(ctx.root, e.path);
    if (e.path === r.path || !fs.existsSync(file) || !sameBytes(copy, file, fs)) continue;
    if (!ctx.disk.linkedBySha1(ctx.volume).some((l) => l.path === e.path)) {
      for (const cat of [ctx.disk, ctx.host]) cat.setContentHash(ctx.volume, e.path, sha256);
    }
    return { ...e, sha256, legacySha1: null };
  }
  return undefined;
}

/** Whether two files hold the same bytes (read in 1 MiB pieces; false if either cannot be read). */
function sameBytes(a: string, b: string, fs: ApplyEnv['fs']): boolean {
  let fa = -1;
  let fb = -1;
  try {
    fa = fs.openSync(a, 'r');
    fb = fs.openSync(b, 'r');
    const ba = Buffer.allocUnsafe(1 << 20);
    const bb = Buffer.allocUnsafe(1 << 20);
    for (let at = 0; ; ) {
      const na = fs.readSync(fa, ba, 0, ba.length, at);
      const nb = fs.readSync(fb, bb, 0, bb.length, at);
      if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      if (na === 0) return true;
      at += na;
    }
  } catch {
    return false;
  } finally {
    if (fa >= 0) fs.closeSync(fa);
    if (fb >= 0) fs.closeSync(fb);
  }
}

async function copyFile(
  env: ApplyEnv,
  r: FileRecord,
  replaces: CatalogEntry | undefined,
  dedupe = false,
  retried = false,
  startsGroup = false,
): Promise<void> {
  const { ctx, fs } = env;
  // A copy made ahead was admitted by the space rule (and its data counted written) before it was written.
  const early = env.ahead.take(r);
  const room = early ? early.room : env.space.admit(r.path, r.size);
  if (refused(room)) {
    env.stop({ reason: 'disk-full', refused: room });
    return;
  }
  const written = early ? room.data : 0;
  const dest = onDisk(ctx.root, r.path);
  // Temporary files in .blaine/tmp: a crash leaves its leftovers where the next run looks for them.
  // A big file's parity is made from the copy's own reads, while the copy goes on.
  const feeder = early ? (early.feeder ?? null) : env.parity.feederFor(r.path, r.size);
  const opts = { signal: ctx.signal, expectedSize: r.size, tempDir: diskTempDir(ctx.root), fs, tap: feeder?.take, nativeTap: feeder?.nativeTap };
  let res: CopyResult;
  try {
    res = early ? placeAhead(throwIfError(await early.copy), r.path, dest, opts) : await copyWithSha256(r.path, dest, metaOf(r), opts);
  } catch (err) {
    feeder?.close();
    // Nothing was stored: the room goes back (a retry is admitted afresh).
    env.space.withdraw(room, written);
    // A former folder of the library left empty at the path: it goes, and the file is copied again.
    if (folderInTheWay(err) && vacateEmptyFolder(dest, fs)) return copyFile(env, r, replaces, dedupe, retried, startsGroup);
    if (err instanceof CopyError && err.code === 'CHANGED' && !retried) {
      // Written to while read: once more, as the file is now (SPEC §5); a file still busy is skipped.
      const now = currentRecord(r, fs);
      if (now) {
        ctx.tell({ type: 'copying-again', path: r.path });
        return copyFile(env, now, replaces, dedupe, true, startsGroup);
      }
    }
    if (err instanceof CopyError && (err.code === 'SOURCE' || err.code === 'CHANGED')) {
      if (goneFromSource(r.path, fs)) {
        // Gone since the scan: nothing to archive, and the next run sees it gone (SPEC §5).
        ctx.tell({ type: 'vanished', path: r.path });
        env.vanished = true;
        return;
      }
      env.result.skipped.push({ path: r.path });
      ctx.tell({ type: 'source-skipped', path: r.path, error: err.message, changedTwice: err.code === 'CHANGED' });
      return;
    }
    if (err instanceof CopyError && err.code === 'ENOSPC') {
      env.stop({ reason: 'disk-full', writing: 'copy', path: r.path });
      return;
    }
    if (ctx.signal.aborted) {
      env.stop({ reason: 'interrupted' });
      return;
    }
    throw err;
  }
  // The feeder holds one of the parity pool's slots until its set is made: it is let go of on every way out.
  try {
    env.batch.wroteData = true;
    if (!early) env.space.wrote(room.data);
    if (dedupe && res.bytes > 0) {
      const twin = storedTwin(env, { ...r, size: res.bytes }, res.sha256) ?? sameBytesMigrated(env, { ...r, size: res.bytes }, dest, res.sha256);
      if (twin) {
        // Stored once per volume (SPEC §3): the fresh copy gives way to a hardlink to its twin,
        env.deduped = true;
        if (await linkName(env, { ...r, size: res.bytes }, twin, replaces, true)) {
          feeder?.close();
          env.space.withdraw(room, room.data);
          return;
        }
        // unless the twin has all the names it can have: the copy stays, the head of a new group.
        env.deduped = false;
        startsGroup = true;
      }
    }
    env.result.bytesCopied += res.bytes;
    displace(env, replaces);
    if (replaces && replaces.volume !== ctx.volume) env.batch.drop(replaces);
    // The size copied is what the file held while read; a file growing meanwhile is caught next run.
    const entry = entryFor({ ...r, size: res.bytes }, ctx.volume, res.sha256);
    env.batch.put(entry);
    if (startsGroup) env.linkGroups.set(contentKey(res.bytes, res.sha256, r), entry);
    ctx.tell({ type: 'added', path: r.path, replaced: replaces !== undefined });
  } catch (err) {
    feeder?.close();
    throw err;
  }
  env.parity.start(r.path, res.bytes, () => env.space.wrote(room.parity), feeder);
}

export function applySymlink(env: ApplyEnv, op: Extract<Operation, { type: 'symlink' }>): void {
  const { ctx, fs } = env;
  const r = op.record;
  const dest = onDisk(ctx.root, r.path);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  displace(env, op.replaces);
  vacateEmptyFolder(dest, fs);
  makeSymlink(r.linkTarget ?? '', dest, metaOf(r), fs);
  env.batch.wroteData = true;
  env.batch.put(entryFor(r, ctx.volume, null));
  ctx.tell({ type: 'symlinked', path: r.path, target: r.linkTarget ?? '' });
}

export async function applyLink(env: ApplyEnv, op: Extract<Operation, { type: 'link' }>): Promise<void> {
  await linkName(env, op.record, op.from, op.replaces);
}

/**
 * Makes r a new name of the stored file `planned`. When that file has all the names the file
 * system allows (EMLINK; ext4: 65,000), r links to the run's newer group of the content, or is
 * stored as a separate copy that later equal files link to — in every run, so that the disk holds
 * every name. `copyMade`: r's own fresh copy is already at its place (a copy that found a twin);
 * false is then returned when it must stay, and nothing is changed.
 */
async function linkName(env: ApplyEnv, r: FileRecord, planned: CatalogEntry, replaces: CatalogEntry | undefined, copyMade = false): Promise<boolean> {
  const { ctx, fs } = env;
  // The plan may predate the source's copy (same run): its SHA-256 and parity are in the catalog now.
  const stored = ctx.disk.get(ctx.volume, planned.path);
  const from = stored ?? planned;
  const src = onDisk(ctx.root, from.path);
  const dest = onDisk(ctx.root, r.path);
  if (!fs.existsSync(src)) {
    if (copyMade) return false; // r's own copy is in place already
    if (stored === undefined) {
      // Planned as this run's copy, which did not happen: the file vanished or kept changing while
      // it was read (said when it was skipped). Nothing is wrong with the disk.
      ctx.tell({ type: 'copying-instead-of-link', path: r.path, planned: planned.path });
    } else {
      // The disk lost the file the catalog promised (damage, a hand edit): store the content afresh.
      ctx.tell({ type: 'missing-on-disk', path: from.path, then: { copy: r.path } });
    }
    await copyFile(env, r, replaces);
    return true;
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = path.join(path.dirname(dest), tempName(path.basename(dest)));
  fs.rmSync(tmp, { force: true });
  try {
    fs.linkSync(src, tmp);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EMLINK' || from.sha256 === null) throw err;
    const key = contentKey(from.size, from.sha256, r);
    const head = env.linkGroups.get(key);
    if (head && head.path !== from.path && head.path !== r.path && fs.existsSync(onDisk(ctx.root, head.path))) {
      return linkName(env, r, head, replaces, copyMade);
    }
    ctx.tell({ type: 'link-limit', path: r.path, from: from.path });
    if (copyMade) return false;
    await copyFile(env, r, replaces, false, false, true);
    return true;
  }
  try {
    fs.renameSync(tmp, dest);
  } catch (err) {
    if (!folderInTheWay(err) || !vacateEmptyFolder(dest, fs)) throw err;
    fs.renameSync(tmp, dest);
  }
  // rename(2) of one name of a file onto another name of the same file does nothing at all: the
  // temporary name would stay beside the user's file (a rerun after a crash meets exactly that).
  if (isSymlink(tmp, fs) || fs.existsSync(tmp)) fs.rmSync(tmp, { force: true });
  env.batch.wroteData = true;
  displace(env, replaces);
  const entry = entryFor(r, ctx.volume, from.sha256, from);
  env.parity.linkName(from, r.path, entry);
  env.batch.put(entry);
  // Linked to an inode whose mode or owner is not this name's (the plan chose the only name the
  // content has here, or one whose mode changes later in the run): the end of the run sorts it out.
  if (!sameModeOwner(fs.statSync(dest), r)) env.loosened.add(entry);
  ctx.tell({ type: 'linked', path: r.path, to: from.path });
  return true;
}

/** The record of r's source as it is now, or null when it is no longer a regular file. */
function currentRecord(r: FileRecord, fs: Fsx): FileRecord | null {
  let st;
  try {
    st = fs.lstatSync(r.path, { bigint: true });
  } catch {
    return null;
  }
  if (!st.isFile()) return null;
  const NS = 1_000_000_000n;
  // Floor, not truncation: a time before 1970 has a negative second and a positive nanosecond.
  const sec = st.mtimeNs / NS - (st.mtimeNs % NS < 0n ? 1n : 0n);
  const when = { mtimeSec: Number(sec), mtimeNsec: Number(st.mtimeNs - sec * NS) };
  return { ...r, ...when, size: Number(st.size), inode: `${st.dev}:${st.ino}`, nlink: Number(st.nlink), mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid) };
}
