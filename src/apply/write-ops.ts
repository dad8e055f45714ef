import path from 'node:path';
import type { CatalogEntry } from '../catalog/entry.js';
import type { Operation } from '../plan/operation.js';
import { entryFor, sameModeOwner } from '../plan/entry.js';
import type { FileRecord } from '../scan/record.js';
import { removeParity } from '../parity/paths.js';
import { CopyError, copyWithSha1, installTemp, makeSymlink, type CopyResult, type TempCopy } from '../fsx/copy.js';
import { requiredBytes } from '../fsx/space.js';
import { tempName } from '../fsx/temp.js';
import { diskRelative } from '../fsx/paths.js';
import { diskTempDir, onDisk } from '../archive/layout.js';
import { currentRecord, goneFromSource, isSymlink, metaOf, type ApplyEnv } from './env.js';
import { shortfall } from './space.js';

/** The handlers of operations that write new names: copy, symlink, link. */

function throwIfError(res: TempCopy | CopyError): TempCopy {
  if (res instanceof CopyError) throw res;
  return res;
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

async function copyFile(env: ApplyEnv, r: FileRecord, replaces: CatalogEntry | undefined, dedupe = false, retried = false): Promise<void> {
  const { ctx, fs } = env;
  const pct = ctx.parity ? ctx.parityPct : 0;
  // A copy made ahead had its space checked (and counted) before it was written.
  const early = env.ahead.take(r);
  const full = early ? null : shortfall(env.space, r.path, r.size, pct, ctx.reserve, ctx.storedBytes);
  if (full !== null) {
    env.stop({ reason: 'disk-full', message: full });
    return;
  }
  const dest = onDisk(ctx.root, r.path);
  // Temporary files in .blaine/tmp: a crash leaves its leftovers where the next run looks for them.
  const opts = { signal: ctx.signal, expectedSize: r.size, tempDir: diskTempDir(ctx.root), fs };
  let res: CopyResult;
  try {
    res = early ? installTemp(throwIfError(await early), r.path, dest, opts) : await copyWithSha1(r.path, dest, metaOf(r), opts);
  } catch (err) {
    if (err instanceof CopyError && err.code === 'CHANGED' && !retried) {
      // Written to while read: once more, as the file is now (SPEC §5); a file still busy is skipped.
      const now = currentRecord(r, fs);
      if (now) {
        ctx.detail(`${r.path} changed while it was copied; copying it again`);
        return copyFile(env, now, replaces, dedupe, true);
      }
    }
    if (err instanceof CopyError && (err.code === 'SOURCE' || err.code === 'CHANGED')) {
      if (goneFromSource(r.path, fs)) {
        // Gone since the scan: nothing to archive, and the next run sees it gone (SPEC §5).
        ctx.detail(`${r.path} vanished before it was copied`);
        env.vanished = true;
        return;
      }
      const message = err.code === 'CHANGED' ? `${err.message.replace(/\.$/, '')} twice; skipped, the next backup tries again` : err.message;
      env.result.skipped.push({ path: r.path, message });
      ctx.warn(message);
      return;
    }
    if (err instanceof CopyError && err.code === 'ENOSPC') {
      env.stop({ reason: 'disk-full', message: `the disk is full (while copying ${r.path})` });
      return;
    }
    if (ctx.signal.aborted) {
      env.stop({ reason: 'interrupted' });
      return;
    }
    throw err;
  }
  env.batch.wroteData = true;
  if (!early) env.space.wrote(requiredBytes(res.bytes, pct, 0, ctx.storedBytes));
  if (dedupe && res.bytes > 0) {
    const twin = ctx.disk
      .findContent(res.bytes, res.sha1)
      .find(
        (e) =>
          e.volume === ctx.volume && e.kind === 'file' && e.path !== r.path && sameModeOwner(e, r) &&
          fs.existsSync(onDisk(ctx.root, e.path)),
      );
    if (twin) {
      // Stored once per volume (SPEC §3): the fresh copy gives way to a hardlink to its twin.
      env.deduped = true;
      return linkName(env, { ...r, size: res.bytes }, twin, replaces);
    }
  }
  env.result.bytesCopied += res.bytes;
  displace(env, replaces);
  if (replaces && replaces.volume !== ctx.volume) env.batch.drop(replaces);
  // The size copied is what the file held while read; a file growing meanwhile is caught next run.
  env.batch.put(entryFor({ ...r, size: res.bytes }, ctx.volume, res.sha1));
  ctx.detail(`${replaces ? 'replaced' : 'added'} ${r.path}`);
  env.parity.start(r.path, res.bytes);
}

export function applySymlink(env: ApplyEnv, op: Extract<Operation, { type: 'symlink' }>): void {
  const { ctx, fs } = env;
  const r = op.record;
  const dest = onDisk(ctx.root, r.path);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  displace(env, op.replaces);
  makeSymlink(r.linkTarget ?? '', dest, metaOf(r), fs);
  env.batch.wroteData = true;
  env.batch.put(entryFor(r, ctx.volume, null));
  ctx.detail(`symlink ${r.path} -> ${r.linkTarget}`);
}

export function applyLink(env: ApplyEnv, op: Extract<Operation, { type: 'link' }>): Promise<void> {
  return linkName(env, op.record, op.from, op.replaces);
}

async function linkName(env: ApplyEnv, r: FileRecord, planned: CatalogEntry, replaces: CatalogEntry | undefined): Promise<void> {
  const { ctx, fs } = env;
  // The plan may predate the source's copy (same run): its SHA1 and parity are in the catalog now.
  const from = ctx.disk.get(ctx.volume, planned.path) ?? planned;
  const src = onDisk(ctx.root, from.path);
  const dest = onDisk(ctx.root, r.path);
  if (!fs.existsSync(src)) {
    // The disk lost the file the catalog promised (damage, a hand edit): store the content afresh.
    ctx.warn(`${from.path} is catalogued but missing on the disk; copying ${r.path} instead of linking`);
    return copyFile(env, r, replaces);
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = path.join(path.dirname(dest), tempName(path.basename(dest)));
  fs.rmSync(tmp, { force: true });
  fs.linkSync(src, tmp);
  fs.renameSync(tmp, dest);
  // rename(2) of one name of a file onto another name of the same file does nothing at all: the
  // temporary name would stay beside the user's file (a rerun after a crash meets exactly that).
  if (isSymlink(tmp, fs) || fs.existsSync(tmp)) fs.rmSync(tmp, { force: true });
  env.batch.wroteData = true;
  displace(env, replaces);
  const entry = entryFor(r, ctx.volume, from.sha1, from);
  env.parity.linkName(from, r.path, entry);
  env.batch.put(entry);
  // Linked to an inode whose mode or owner is not this name's (the plan chose the only name the
  // content has here, or one whose mode changes later in the run): the end of the run sorts it out.
  if (!sameModeOwner(fs.statSync(dest), r)) env.loosened.add(entry);
  ctx.detail(`linked ${r.path} to ${from.path}`);
}
