import path from 'node:path';
import type { CatalogEntry } from '../catalog/entry.js';
import type { Operation } from '../plan/operation.js';
import { entryFor, metaOf, sameModeOwner } from '../plan/entry.js';
import type { FileRecord } from '../scan/record.js';
import { moveParity, removeParity } from '../parity/paths.js';
import { setTimes } from '../fsx/copy.js';
import { isRoot } from '../fsx/fsx.js';
import { pruneEmptyDirs } from '../fsx/tree.js';
import { tempName } from '../fsx/temp.js';
import { diskRelative, isUnder } from '../fsx/paths.js';
import { diskTempDir, onDisk } from '../archive/layout.js';
import { isSymlink } from '../fsx/exists.js';
import { errCode } from '../fsx/errno.js';
import type { ApplyEnv } from './apply-env.js';

/** The handlers of operations on names already stored: rename, delete, update, and defer for offline volumes. */

/** Where orderMoves parks a file to break a cycle of moves (plan/renames.ts swapPath). */
const PARKING = '/.blaine/tmp';

export async function applyRename(env: ApplyEnv, op: Extract<Operation, { type: 'rename' }>): Promise<void> {
  const { ctx, fs } = env;
  const { to, record: r } = op;
  const from = env.stored(op.from);
  const src = onDisk(ctx.root, from.path);
  const dest = onDisk(ctx.root, to);
  const moved: CatalogEntry = r ? entryFor(r, ctx.volume, from.sha256, from) : { ...from, path: to };
  if (fs.existsSync(src) || isSymlink(src, fs)) {
    let at = src;
    if (dest.startsWith(src + path.sep)) {
      // Moved into a directory that took its own name (y -> y/below): out of the way first.
      const tmpDir = diskTempDir(ctx.root);
      fs.mkdirSync(tmpDir, { recursive: true });
      at = path.join(tmpDir, tempName(path.basename(src)));
      fs.renameSync(src, at);
    }
    try {
      fs.renameSync(at, dest);
    } catch (err) {
      // Into a folder the disk does not have yet: made then, not looked for before every move.
      if (errCode(err) !== 'ENOENT') throw err;
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.renameSync(at, dest);
    }
    env.parked.delete(from.path);
    if (isUnder(to, PARKING)) env.parked.add(to);
    if (from.parityName) moveParity(ctx.root, diskRelative(from.path), diskRelative(to), fs);
    pruneEmptyDirs(ctx.root, path.dirname(src), fs, keptFolder(ctx));
  } else if (!fs.existsSync(dest) && !isSymlink(dest, fs)) {
    // (A dangling symlink already moved by a killed run does not "exist" through the link.)
    ctx.tell({ type: 'missing-on-disk', path: from.path, then: 'store-again' });
    env.batch.drop(from);
    return;
  }
  env.batch.wroteData = true;
  env.batch.drop(from);
  env.batch.put(moved);
  if (r) {
    // A name moved into place may join names of equal content, mode and owner that sit on another
    // inode (a copy caught up from separate inodes): the end of the run puts them on one.
    env.loosened.add(moved);
    try {
      matchModeOwner(env, dest, from, r);
      if (r.kind === 'symlink') setTimes(dest, r.mtimeSec, r.mtimeNsec, fs);
      else if (r.mtimeSec !== from.mtimeSec || r.mtimeNsec !== from.mtimeNsec) setTimes(dest, r.mtimeSec, r.mtimeNsec, fs);
    } catch (err) {
      ctx.tell({ type: 'update-failed', path: to, error: (err as Error).message });
    }
  }
  ctx.tell({ type: 'renamed', from: from.path, to });
}

export function applyDelete(env: ApplyEnv, op: Extract<Operation, { type: 'delete' }>): void {
  const { ctx, fs } = env;
  const e = op.entry;
  const p = onDisk(ctx.root, e.path);
  env.loosened.add(e);
  // A stored name is a file or symlink: unlink it, with no look first (rmSync lstats every path,
  // and its call cost was most of a delete's). Gone already (a rerun after a crash) is fine.
  try {
    fs.unlinkSync(p);
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw err;
  }
  removeParity(ctx.root, diskRelative(e.path), fs);
  pruneEmptyDirs(ctx.root, path.dirname(p), fs, keptFolder(ctx));
  env.batch.wroteData = true;
  env.batch.drop(e);
  ctx.tell({ type: 'removed', path: e.path });
}

export async function applyUpdate(env: ApplyEnv, op: Extract<Operation, { type: 'update' }>): Promise<void> {
  const { ctx } = env;
  const { record: r, sha256 } = op;
  const e = env.stored(op.entry);
  if (op.touchDisk) {
    const p = onDisk(ctx.root, e.path);
    try {
      matchModeOwner(env, p, e, r);
      setTimes(p, r.mtimeSec, r.mtimeNsec, env.fs);
      // A shared inode's mtime is one name's: the others get theirs back if they end up alone.
      if (env.fs.statSync(p).nlink > 1) env.loosened.add(e);
    } catch (err) {
      ctx.tell({ type: 'update-failed', path: e.path, error: (err as Error).message });
    }
  }
  env.batch.put(entryFor(r, e.volume, sha256 ?? e.sha256, e));
}

/**
 * Gives the stored name p the mode and owner the data path has now. A name stored as one inode
 * with other names (equal content) is left to the end of the run (LoosenedNames): whether the
 * inode changes for all its names, or this name gets an inode of its own or joins another, depends
 * on what the other names want once every operation is done.
 */
function matchModeOwner(env: ApplyEnv, p: string, was: CatalogEntry, r: FileRecord): void {
  const { fs } = env;
  if (r.kind !== 'file') {
    if (isRoot) fs.lchownSync(p, r.uid, r.gid);
    return;
  }
  if (sameModeOwner(was, r)) return;
  if (fs.statSync(p).nlink > 1) {
    env.loosened.add(was);
    return;
  }
  if (isRoot) fs.chownSync(p, r.uid, r.gid);
  fs.chmodSync(p, r.mode & 0o7777);
}

/** An offline volume's share: its catalog rows change now, the disk itself when it is next mounted. */
export function applyDefer(env: Pick<ApplyEnv, 'ctx' | 'batch' | 'result'>, op: Extract<Operation, { type: 'defer' }>): void {
  const host = env.ctx.host;
  // In the same transaction as the queued action, so no crash leaves an action the copy is not
  // behind on; first, so that the rows written carry the new generation.
  env.batch.otherVolume(op.volume);
  // Which run queued it, for the rule that a DELETE waits for every copy of this volume to hold
  // that run's state (plan/held.ts); a removal the user asked for does not wait.
  const gen = env.ctx.userRemoval ? null : (host.volume(env.ctx.volume)?.generation ?? null);
  host.defer(op.volume, op.action, op.path, op.target, { by: env.ctx.volume, gen });
  if (op.action === 'DELETE') host.remove(op.volume, op.path);
  else if (op.action === 'RENAME') {
    host.remove(op.volume, op.path);
    const moved = op.record ? entryFor(op.record, op.volume, op.entry.sha256, op.entry) : { ...op.entry, path: op.target! };
    host.put(moved);
  } else {
    host.put(entryFor(op.record!, op.volume, op.entry.sha256, op.entry));
  }
  env.result.deferredVolumes.add(op.volume);
  env.ctx.tell({ type: 'deferred', volume: op.volume, action: op.action, path: op.path, target: op.target ?? null });
}

/** A folder on the disk that is one of the library's (kept even when empty: SPEC §3). */
function keptFolder(ctx: ApplyEnv['ctx']): (dir: string) => boolean {
  return (dir) => {
    const p = `/${path.relative(ctx.root, dir)}`;
    if (ctx.isLibraryFolder) return ctx.isLibraryFolder(p);
    return ctx.disk.dirRowsAt(p).some((e) => e.volume === ctx.volume);
  };
}
