/**
 * Restoring the archive's current state of some paths from the disk that is mounted (SPEC §8).
 *
 * What comes back is the host catalog's view (view.ts): each path with its current content, mode,
 * owner and mtime. The content is looked up on the mounted disk by its hash and size, whatever name
 * the disk keeps it under (a rename or link still deferred for it, or one applied while an older
 * snapshot names the old path); the disk is only read. Each file is copied with its hash computed
 * on the way, under a temporary name beside its final one, and renamed into place only when the
 * hash is the catalogued one; otherwise par2 repairs a copy (repairFromCopy) and the disk keeps its
 * damage until `verify --fix`.
 *
 * One restore spans many disks: run once per disk, in any order. What is already in the target
 * exactly as catalogued (kind, size, mtime, mode, owner; checked with lstat, never re-read) is left
 * alone; what this disk cannot give is counted as left, by the volume that holds it. Names that
 * shared one inode on the data disk come back as hardlinks of one file, and no others: once one
 * member is in the target (from this run or an earlier one), the others are linked to it.
 * Symlinks and empty files need no disk: they are made from the catalog by whichever run comes.
 */
import { BlaineError } from '../error.js';
import path from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { sameEntry } from '../catalog/same.js';
import { parityFiles } from '../parity/paths.js';
import type { Par2Config } from '../parity/par2.js';
import { repairFromCopy } from '../parity/repair-copy.js';
import { rescueCopy } from '../parity/rescue.js';
import { reason as errnoReason } from '../fsx/errno.js';
import { CopyError, copyToTemp, makeSymlink, sha256File, type FileMeta } from '../fsx/copy.js';
import { copyFileToTemp } from '../fsx/copy-batch.js';
import { tempName } from '../fsx/temp.js';
import { isRoot, type Fsx } from '../fsx/fsx.js';
import { diskRelative } from '../fsx/paths.js';
import { badPath } from './view.js';
import { BlockedPath, RestoreTarget, type TargetState } from './target.js';
import { makeDirs, settleDirs } from './dirs.js';

/** The mounted disk a run reads: its root and its own catalog (opened read-only on a private copy). */
export interface SourceDisk {
  root: string;
  volume: string;
  catalog: Catalog;
}

export interface RestoreOptions {
  /** The host catalog's view of the matching paths (view.ts). */
  rows: CatalogEntry[];
  /** The view's directories, parents first (view.ts): made first, their metadata set last. */
  dirs?: CatalogEntry[];
  /** The mounted disk; null for `--plan`, which only counts. */
  disk: SourceDisk | null;
  /** DIR: each file goes to DIR/<absolute path>. */
  to: string;
  /** Replace targets that exist but differ from the catalog. */
  overwrite: boolean;
  /** Only put back what is missing: anything present at a target is left as it is. */
  missingOnly: boolean;
  dryRun: boolean;
  signal: AbortSignal;
  /** Whether the host catalog has any entry at this absolute path (a link there is the archive's own). */
  archived(p: string): boolean;
  par2?: Par2Config;
  detail(msg: string): void;
  warn(msg: string): void;
  progress?(done: number, total: number, bytes: number): void;
  /** The file-system layer (default: the real one; tests pass a fault-injecting one). */
  fs: Fsx;
}

export interface Amount {
  files: number;
  bytes: number;
}

export interface RestoreResult {
  /** Files, symlinks and hardlinks put in place (or, in a dry run, that would be). */
  restored: number;
  /** Of those, files whose copy on the disk was damaged and were repaired from parity. */
  repaired: number;
  /** Files that could not be restored correctly: nothing was written for them. */
  failed: number;
  /** Of those, files whose place in the target is blocked (a symlink or file where a folder should be). */
  blocked: number;
  /** Targets that exist but differ from the catalog and were left alone (no --overwrite). */
  skipped: number;
  failures: Array<{ path: string; message: string }>;
  /** Bytes read from the disk and written. */
  bytes: number;
  interrupted: boolean;
  /** Every path of the view. */
  total: Amount;
  /** Paths in the target exactly as catalogued, after this run (those restored now included). */
  inTarget: Amount;
  /** Paths still to restore, by the volume that holds them. */
  left: Map<string, Amount>;
  /** Of the mounted volume's paths, those whose content this disk does not hold (a copy behind its twin). */
  notOnDisk: number;
}

/** A failure to write the restore target: the run stops, since every later file would fail the same way. */
export class RestoreTargetError extends BlaineError {
  constructor(what: string) {
    super(`${what}; the files restored before it are in place`);
  }
}

function sizeOf(e: CatalogEntry): number {
  return e.kind === 'file' ? e.size : 0;
}

function metaOf(e: CatalogEntry): FileMeta {
  return { mode: e.mode & 0o7777, uid: e.uid, gid: e.gid, mtimeSec: e.mtimeSec, mtimeNsec: e.mtimeNsec };
}

function reason(e: unknown): string {
  // A failed write's CopyError names the temporary file; the sentence is about the target, so only the errno's words.
  if (e instanceof CopyError && e.code !== 'SOURCE' && e.cause !== undefined) return errnoReason(e.cause).replace(/\.$/, '');
  return (e instanceof Error ? e.message : String(e)).replace(/\.$/, '');
}

/** Two names of one source file: everything but the name agrees (an inode number reused since is not enough). */
const sameFile = (a: CatalogEntry, b: CatalogEntry): boolean => sameEntry(a, b, 'source');

/** Runs a write to the target; any failure there (but a blocked path) stops the run with one sentence. */
function place<T>(fn: () => T, target: string): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RestoreTargetError || e instanceof BlockedPath) throw e;
    throw new RestoreTargetError(`cannot write ${target}: ${reason(e)}`);
  }
}

type Outcome = { ok: true; repaired: boolean; bytes: number } | { ok: false; message: string };

/**
 * Files copied at once. Two keep both cores busy (each copy reads, hashes and writes on a worker
 * thread of its own: copyFileToTemp); four measured no better within the noise of a shared
 * machine, and an archive disk is often a rotating USB disk, where every further file read at once
 * adds seeks.
 */
const PARALLEL_COPIES = 2;

interface Item {
  e: CatalogEntry;
  state: TargetState;
  /** The hardlink group (source inode) when the data disk had more than one name for it. */
  group: string | null;
  done: boolean;
}

export async function restoreArchive(o: RestoreOptions): Promise<RestoreResult> {
  const fs = o.fs;
  const dirs = o.dirs ?? [];
  const dirModes = new Map(dirs.map((d) => [d.path, d.mode]));
  const target = new RestoreTarget(o.to, fs, { dryRun: o.dryRun || o.disk === null, archived: o.archived, dirMode: (p) => dirModes.get(p) });
  const res: RestoreResult = {
    restored: 0, repaired: 0, failed: 0, blocked: 0, skipped: 0, failures: [], bytes: 0, interrupted: false,
    total: { files: 0, bytes: 0 }, inTarget: { files: 0, bytes: 0 }, left: new Map(), notOnDisk: 0,
  };
  const writing = o.disk !== null && !o.dryRun;
  const fail = (e: CatalogEntry, message: string): void => {
    res.failed++;
    res.failures.push({ path: e.path, message });
    o.warn(`${e.path}: ${message}`);
  };

  // Hardlink groups as the data disk had them: rows sharing a source inode and everything but the name.
  const members = new Map<string, CatalogEntry[]>();
  for (const e of o.rows) if (e.kind === 'file' && e.inode !== null) members.set(e.inode, [...(members.get(e.inode) ?? []), e]);
  /** Per group: the target path of a member that is in place, and its inode there. */
  const leaders = new Map<string, { e: CatalogEntry; where: string; ino: bigint | null }>();
  /** Groups one of whose members is being copied now. */
  const copying = new Set<string>();

  if (writing) {
    target.cleanEarlierRun();
    makeDirs(target, dirs, (e, message) => {
      res.blocked++;
      fail(e, message);
    });
  }
  const items: Item[] = [];
  for (const e of o.rows) {
    let parent: string | null;
    let state: TargetState;
    try {
      parent = target.parentOf(e.path, false);
      state = target.stateOf(e, parent !== null);
    } catch (err) {
      if (!(err instanceof BlockedPath)) throw new RestoreTargetError(`cannot read ${target.pathOf(e.path)}: ${reason(err)}`);
      state = { kind: 'absent' };
    }
    const g = e.kind === 'file' && e.inode !== null && (members.get(e.inode)?.length ?? 0) > 1 ? e.inode : null;
    const item: Item = { e, state, group: g, done: false };
    if (state.kind === 'correct' && g !== null) {
      const leader = leaders.get(g);
      if (!leader) leaders.set(g, { e, where: target.pathOf(e.path), ino: state.ino });
    }
    items.push(item);
  }

  try {
    let n = 0;
    // Files are copied two at a time: one copy's reads, hashing and writes run one after another on
    // its thread, and a second copy keeps the other core busy (one at a time took ~1.7× rsync -a).
    const inflight = new Set<Promise<void>>();
    let broken: { err: unknown } | null = null;
    const start = (it: Item, pass: number): void => {
      const task = (async () => {
        try {
          if (await restoreOne(it, target.pathOf(it.e.path), pass)) it.done = true;
        } catch (err) {
          if (err instanceof BlockedPath) {
            res.blocked++;
            fail(it.e, err.message);
            it.done = true;
          } else broken ??= { err };
        }
      })();
      inflight.add(task);
      void task.then(() => inflight.delete(task));
    };
    // Largest files first: the copies run two at a time, each on one core, and a big file started
    // last would finish alone while the other core idles (a 200 MB file among 1 GiB of media is a
    // fifth of the run). Ties keep path order.
    const largestFirst = [...items].sort((a, b) => sizeOf(b.e) - sizeOf(a.e));
    // Two passes: a group member that comes before the member this disk holds is linked in the second.
    for (const pass of [1, 2]) {
      for (const it of pass === 1 ? largestFirst : items) {
        if (broken || res.interrupted) break;
        if (it.done) continue;
        if (o.signal.aborted) {
          res.interrupted = true;
          break;
        }
        if (pass === 1) o.progress?.(n++, items.length, res.bytes);
        start(it, pass);
        while (inflight.size >= PARALLEL_COPIES) await Promise.race(inflight);
      }
      await Promise.all(inflight);
      if (broken || res.interrupted) break;
    }
    if (broken) throw (broken as { err: unknown }).err;
    if (writing && !res.interrupted) settleDirs(target, dirs, fs);
  } finally {
    if (writing) target.finish();
  }

  for (const it of items) {
    const { e } = it;
    const size = sizeOf(e);
    res.total.files++;
    res.total.bytes += size;
    const state = it.state.kind;
    if (state === 'correct' || (state === 'differs' && o.missingOnly)) {
      res.inTarget.files++;
      res.inTarget.bytes += size;
    } else if (state === 'absent' || (state === 'differs' && o.overwrite)) {
      const row = res.left.get(e.volume) ?? { files: 0, bytes: 0 };
      row.files++;
      row.bytes += size;
      res.left.set(e.volume, row);
    }
  }
  return res;

  /**
   * Puts one entry in place if this run can; true when nothing more is to be done for it in this
   * run (in place, left alone, or failed), false when only a later pass or disk can.
   */
  async function restoreOne(it: Item, where: string, pass: number): Promise<boolean> {
    const { e } = it;
    const leader = it.group !== null ? leaders.get(it.group) : undefined;
    const linkable = leader !== undefined && leader.e !== e && sameFile(leader.e, e);
    if (it.state.kind === 'correct') {
      // In place, but maybe as a separate file of a hardlink group: link it.
      if (!linkable || leader.ino === null || leader.ino === it.state.ino || o.missingOnly) return true;
    } else if (it.state.kind === 'differs' && !o.overwrite) {
      if (!o.missingOnly) {
        res.skipped++;
        o.detail(`skipped ${where}: it exists and differs from the archive (--overwrite replaces it)`);
      }
      return true;
    }
    if (o.disk === null) return true;
    if (e.kind === 'symlink') {
      const parent = place(() => target.parentOf(e.path, true), where);
      if (!o.dryRun) {
        target.willWriteIn(parent!);
        place(() => makeSymlink(e.linkTarget ?? '', where, metaOf(e), fs), where);
      }
      return restoredOne(it, `${e.path} -> ${e.linkTarget}`, 0);
    }
    if (linkable) {
      const parent = place(() => target.parentOf(e.path, true), where);
      if (!o.dryRun) {
        target.willWriteIn(parent!);
        place(() => linkInto(leader.where, where, fs), where);
      }
      return restoredOne(it, `${o.dryRun ? 'would link' : 'linked'} ${e.path} to ${leader.e.path}`, 0, true);
    }
    if (pass === 2) return true;
    if (e.size === 0) {
      const parent = place(() => target.parentOf(e.path, true), where);
      if (!o.dryRun) {
        target.willWriteIn(parent!);
        place(() => writeEmpty(where, metaOf(e), fs), where);
      }
      return restoredOne(it, e.path, 0);
    }
    // A member of a group whose first copy is under way is linked to it in the second pass.
    if (it.group !== null && copying.has(it.group)) return false;
    const sources = sourcesOf(e, o.disk);
    if (sources.length === 0) {
      if (e.volume === o.disk.volume) res.notOnDisk++;
      return false;
    }
    if (it.group !== null) copying.add(it.group);
    const parent = place(() => target.parentOf(e.path, true), where);
    if (o.dryRun) return restoredOne(it, `${e.path}${sources[0]!.path !== e.path ? ` (from ${sources[0]!.path})` : ''}`, e.size);
    target.willWriteIn(parent!);
    const out = await restoreFile(o, o.disk, target, e, sources[0]!, where);
    if (o.signal.aborted) {
      res.interrupted = true;
      return false;
    }
    if (!out.ok) {
      fail(e, out.message);
      return true;
    }
    if (out.repaired) res.repaired++;
    return restoredOne(it, `${e.path}${sources[0]!.path !== e.path ? ` (from ${sources[0]!.path})` : ''}${out.repaired ? ' (repaired from parity)' : ''}`, out.bytes);
  }

  function restoredOne(it: Item, what: string, bytes: number, phrased = false): true {
    res.restored++;
    res.bytes += bytes;
    o.detail(phrased ? what : `${o.dryRun ? 'would restore' : 'restored'} ${what}`);
    let ino: bigint | null = null;
    if (!o.dryRun) {
      try {
        ino = fs.lstatSync(target.pathOf(it.e.path), { bigint: true }).ino;
      } catch {
        ino = null;
      }
    }
    it.state = { kind: 'correct', ino: ino ?? 0n };
    if (it.group !== null && !leaders.has(it.group)) leaders.set(it.group, { e: it.e, where: target.pathOf(it.e.path), ino });
    return true;
  }
}

/** Where the mounted disk holds this content: the same path first, then any name with the same hash and size. */
function sourcesOf(e: CatalogEntry, disk: SourceDisk): CatalogEntry[] {
  const out: CatalogEntry[] = [];
  const usable = (d: CatalogEntry | undefined): d is CatalogEntry =>
    d !== undefined && d.kind === 'file' && d.volume === disk.volume && d.size === e.size && badPath(d.path) === null;
  const same = disk.catalog.get(disk.volume, e.path);
  if (e.sha256 === null) {
    // A row from before hashes were kept: only its own path, unchanged, can stand for it.
    if (usable(same) && same.mtimeSec === e.mtimeSec && same.mtimeNsec === e.mtimeNsec) out.push(same);
    return out;
  }
  if (usable(same) && same.sha256 === e.sha256) out.push(same);
  for (const d of disk.catalog.findContent(e.size, e.sha256)) if (usable(d) && d.path !== e.path) out.push(d);
  return out;
}

/** Links `from` (a member already in the target) at `where`: under a temporary name, then renamed over. */
function linkInto(from: string, where: string, fs: Fsx): void {
  const tmp = path.join(path.dirname(where), tempName(path.basename(where)));
  fs.linkSync(from, tmp);
  try {
    fs.renameSync(tmp, where);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** An empty file with its metadata, made under a temporary name. */
function writeEmpty(where: string, meta: FileMeta, fs: Fsx): void {
  const tmp = path.join(path.dirname(where), tempName(path.basename(where)));
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    if (isRoot) fs.fchownSync(fd, meta.uid, meta.gid);
    fs.fchmodSync(fd, meta.mode);
    fs.setMtimeFd(fd, meta.mtimeSec, meta.mtimeNsec);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, where);
}

let repairs = 0;

/** Copies the content at `src` (a disk entry) to `where` with `e`'s metadata, checked against `e`'s hash, repaired when it differs. */
async function restoreFile(o: RestoreOptions, disk: SourceDisk, target: RestoreTarget, e: CatalogEntry, src: CatalogEntry, where: string): Promise<Outcome> {
  const fs = o.fs;
  const rel = diskRelative(src.path);
  const from = path.join(disk.root, rel);
  const meta = metaOf(e);
  const dir = path.dirname(where);
  let why: string;
  try {
    const got = await copyFileToTemp(from, where, meta, { signal: o.signal, tempDir: dir, fs });
    // A row migrated from an older catalog has only a SHA-1: checked by it (it tells rot, not a collision).
    const legacyOk = e.sha256 === null && e.legacySha1 ? (await sha256File(got.tmp, { fs, sha1: true })).sha1 === e.legacySha1 && got.bytes === e.size : null;
    if (legacyOk === false) {
      fs.rmSync(got.tmp, { force: true });
      why = "the disk's copy differs from its catalogued SHA-1";
    } else if (legacyOk || e.sha256 === null || (got.sha256 === e.sha256 && got.bytes === e.size)) {
      if (e.sha256 === null && !legacyOk) o.warn(`${e.path}: the catalog has no hash for it; restored unchecked`);
      place(() => fs.renameSync(got.tmp, where), where);
      return { ok: true, repaired: false, bytes: got.bytes };
    } else {
      fs.rmSync(got.tmp, { force: true });
      why = got.bytes !== e.size ? `the disk's copy has ${got.bytes} bytes, not ${e.size}` : "the disk's copy differs from its catalogued hash";
    }
  } catch (err) {
    if (o.signal.aborted) return { ok: false, message: 'interrupted' };
    if (!(err instanceof CopyError) || (err.code !== 'SOURCE' && err.code !== 'CHANGED')) throw new RestoreTargetError(`cannot write ${where}: ${reason(err)}`);
    why = fs.existsSync(from) ? `the disk's copy cannot be read (${reason(err)})` : 'the file is missing on the disk';
  }
  const files = src.parityName === null ? [] : parityFiles(disk.root, rel);
  if (files.length === 0) return { ok: false, message: `${why}, and it has no parity to repair it from` };
  const scratch = place(() => target.scratch(), where);
  // Two files may be under repair at once: each has names of its own.
  const n = ++repairs;
  const copy = path.join(scratch, `damaged-${n}`);
  const repaired = path.join(scratch, `repaired-${n}`);
  let haveCopy = false;
  try {
    // What can be read goes to par2, unreadable blocks as zeros: parity mends those like rot.
    if (fs.existsSync(from)) {
      try {
        rescueCopy(from, copy);
        haveCopy = true;
      } catch {
        // Not even that: par2 gets the parity alone.
      }
    }
    let ok = false;
    try {
      ok = await repairFromCopy({
        parityFiles: files, relPath: rel, parityName: src.parityName!, damagedCopy: haveCopy ? copy : null,
        scratchParent: scratch, outPath: repaired, cfg: o.par2, signal: o.signal,
      });
    } catch (err) {
      if (o.signal.aborted) return { ok: false, message: 'interrupted' };
      return { ok: false, message: `${why}, and par2 could not repair it (${reason(err)})` };
    }
    if (!ok) return { ok: false, message: `${why}, and the damage is beyond what its parity can repair` };
    const check = await sha256File(repaired, { fs });
    if ((e.sha256 !== null && check.sha256 !== e.sha256) || check.bytes !== e.size) {
      return { ok: false, message: `${why}, and its parity gives back other bytes than the catalogued hash` };
    }
    // Through a temporary file in the final folder: the scratch may be on another file system.
    const got = await copyToTemp(repaired, where, meta, { signal: o.signal, tempDir: dir, fs });
    place(() => fs.renameSync(got.tmp, where), where);
    return { ok: true, repaired: true, bytes: check.bytes };
  } finally {
    fs.rmSync(copy, { force: true });
    fs.rmSync(repaired, { force: true });
  }
}

