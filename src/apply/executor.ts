import path from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import type { Operation } from '../plan/operation.js';
import { entryFor, sameModeOwner } from '../plan/entry.js';
import type { FileRecord } from '../scan/record.js';
import { linkParity, moveParity, removeParity } from '../parity/paths.js';
import type { ParityPool } from '../parity/pool.js';
import { CopyError, copyWithSha1, makeSymlink, setTimes, syncDisk } from '../fsx/copy.js';
import { requiredBytes } from '../fsx/space.js';
import { CatalogBatch } from './batch.js';
import { SpaceEstimate } from './space.js';
import { isRoot, realFs, type Fsx } from '../fsx/fsx.js';
import { pruneEmptyDirs } from '../fsx/tree.js';
import { tempName } from '../fsx/temp.js';
import { diskTempDir, onDisk } from '../archive/layout.js';
import { identityOf, Journal, type JournalStep } from '../archive/journal.js';
import { diskRelative, isUnder } from '../fsx/paths.js';

/** Where orderMoves parks a file to break a cycle of moves (plan/renames.ts swapPath). */
const PARKING = '/.blaine/tmp';

export interface ExecutorContext {
  /** Where the volume's files are. */
  root: string;
  /**
   * A backup's run: an operation that fails on the disk is skipped with a warning and the run goes
   * on (the next scan plans it again). Otherwise (a catch-up, whose copy must not be taken as caught
   * up) the failure ends the run.
   */
  skipFailures?: boolean;
  volume: string;
  host: Catalog;
  disk: Catalog;
  /** null: --no-parity. */
  parity: ParityPool | null;
  parityPct: number;
  reserve: number;
  signal: AbortSignal;
  /** Per-operation detail (shown with -v) and problems. */
  detail(msg: string): void;
  warn(msg: string): void;
  /** After each operation; `next` is the one about to start (undefined after the last). */
  progress?(done: number, total: number, bytes: number, next?: Operation): void;
  /** The file-system layer (default: the real one; tests pass a fault-injecting one). */
  fs?: Fsx;
}

export interface ExecutionResult {
  done: number;
  bytesCopied: number;
  parityBytes: number;
  /** Data-path files that could not be read: reported, left as they were in the catalog. */
  skipped: Array<{ path: string; message: string }>;
  /** Why the run stopped early, if it did. */
  stopped: null | { reason: 'disk-full'; message: string } | { reason: 'interrupted' };
  /** Offline volumes that got deferred actions. */
  deferredVolumes: Set<string>;
  /** What was actually done, by kind (a stopped run does less than its plan). */
  counts: { added: number; modified: number; renamed: number; linked: number; removed: number; deferred: number };
}

function metaOf(r: FileRecord) {
  return { mode: r.mode & 0o7777, uid: r.uid, gid: r.gid, mtimeSec: r.mtimeSec, mtimeNsec: r.mtimeNsec };
}


/**
 * Carries out a plan on the mounted disk and records each step in both catalogs. Catalog writes are
 * batched in transactions; before each commit the disk is synced, so the catalogs never claim a
 * file the disk does not durably hold. A full disk or an interrupt stops after the step under way,
 * with everything done so far committed.
 */
export class Executor {
  /** The operation under way turned out to be content the volume already had. */
  private deduped = false;
  /** The operation under way found its source file gone: nothing was done, nothing to count. */
  private vanished = false;
  private readonly pendingParity = new Map<string, Promise<string | null>>();
  readonly result: ExecutionResult = {
    done: 0,
    bytesCopied: 0,
    parityBytes: 0,
    skipped: [],
    stopped: null,
    deferredVolumes: new Set(),
    counts: { added: 0, modified: 0, renamed: 0, linked: 0, removed: 0, deferred: 0 },
  };

  private readonly fs: Fsx;

  private readonly batch: CatalogBatch;
  private readonly space: SpaceEstimate;
  private readonly journal: Journal;
  /** Files of a swap or rotation waiting below .blaine/tmp: no commit and no stop until they are home. */
  private readonly parked = new Set<string>();
  /** Index of the first operation not yet written to the journal. */
  private journalled = 0;

  constructor(private readonly ctx: ExecutorContext) {
    this.fs = ctx.fs ?? realFs;
    this.journal = new Journal(ctx.root, this.fs);
    this.batch = new CatalogBatch(
      ctx.host,
      ctx.disk,
      ctx.volume,
      () => syncDisk(ctx.root, this.fs),
      this.journal,
      () => this.parked.size === 0,
    );
    this.space = new SpaceEstimate(ctx.root, this.fs);
  }

  /** Commits the catalog changes made so far (after syncing the data they point at). */
  commit(): void {
    this.batch.commit();
  }

  /** Records a parity set when par2 finishes; the row may have moved on in the meantime. */
  private setParity(p: string, parityName: string | null): void {
    const cur = this.ctx.disk.get(this.ctx.volume, p);
    if (!cur) return;
    this.batch.put({ ...cur, parityName });
    this.batch.step();
  }

  private startParity(p: string, size: number): void {
    const pool = this.ctx.parity;
    if (!pool || size === 0) return;
    const job = pool.submit(this.ctx.root, diskRelative(p), size).then(
      (res) => {
        this.result.parityBytes += res.bytes;
        this.setParity(p, res.parityName);
        return res.parityName;
      },
      (err: unknown) => {
        const e = err as Error & { code?: string };
        if (e.code === 'ENOSPC') {
          this.stop({ reason: 'disk-full', message: `the disk is full (while writing parity for ${p})` });
        } else if (!this.ctx.signal.aborted) {
          this.ctx.warn(`no parity for ${p}: ${e.message}; \`blaine verify --fix\` or the next backup makes it`);
        }
        return null;
      },
    );
    this.pendingParity.set(p, job);
    void job.finally(() => {
      if (this.pendingParity.get(p) === job) this.pendingParity.delete(p);
    });
  }

  private stop(why: NonNullable<ExecutionResult['stopped']>): void {
    if (!this.result.stopped) this.result.stopped = why;
  }

  /** Parity for files that should have it and do not (an earlier crash, an earlier failure). */
  resumeParity(): number {
    if (!this.ctx.parity) return 0;
    let n = 0;
    for (const e of this.ctx.disk.withoutParity(this.ctx.volume)) {
      this.startParity(e.path, e.size);
      n++;
    }
    return n;
  }

  /**
   * Writes the journal steps of ops[i] before it is carried out; a run of moves is written at once
   * (one fsync), since a move that was journalled but never made is recognised as such.
   */
  private journalFor(ops: Operation[], i: number): void {
    if (i < this.journalled) return;
    const steps: JournalStep[] = [];
    let j = i;
    do {
      const s = this.stepOf(ops[j]!);
      if (s) steps.push(s);
      j++;
    } while (ops[i]!.type === 'rename' && j < ops.length && ops[j]!.type === 'rename');
    this.journalled = j;
    this.journal.intend(steps);
  }

  private stepOf(op: Operation): JournalStep | null {
    switch (op.type) {
      case 'copy':
      case 'symlink':
      case 'link':
        return { op: 'write', path: op.record.path };
      case 'delete':
        return { op: 'write', path: op.entry.path };
      case 'rename':
        return { op: 'rename', from: op.from.path, to: op.to, file: identityOf(this.stored(op.from)) };
      default:
        return null;
    }
  }

  /**
   * Waits for parity still being made for a path this operation replaces, moves or deletes: made
   * for the bytes there now, it would otherwise be installed after them (for other content, or at
   * a name the file has left).
   */
  private async settleParity(op: Operation): Promise<void> {
    const step = this.stepOf(op);
    const p = step === null ? null : step.op === 'rename' ? step.from : step.path;
    const job = p === null ? undefined : this.pendingParity.get(p);
    if (job) await job;
  }

  async run(ops: Operation[]): Promise<ExecutionResult> {
    let i = 0;
    let failed = true;
    try {
      for (const op of ops) {
        if (this.ctx.signal.aborted) this.stop({ reason: 'interrupted' });
        // A swap or rotation under way is finished first: it is only moves, which need no space.
        if (this.result.stopped && (this.parked.size === 0 || op.type !== 'rename')) {
          if (this.parked.size === 0) break;
          continue;
        }
        const before = this.result.skipped.length;
        this.deduped = false;
        this.vanished = false;
        try {
          this.journalFor(ops, i);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          this.stop({ reason: 'disk-full', message: 'the disk is full (while writing its journal)' });
          continue;
        }
        await this.settleParity(op);
        try {
          await this.apply(op);
        } catch (err) {
          // One file that cannot be written is skipped (SPEC §5); the run and the disk go on.
          if (!this.failed(op, err)) throw err;
        }
        if (!this.result.stopped && !this.vanished && this.result.skipped.length === before) this.tally(op);
        this.result.done++;
        i++;
        this.ctx.progress?.(i, ops.length, this.result.bytesCopied, ops[i]);
        this.batch.step();
      }
      this.settleLoosened();
      // What is copied is committed now, not only once the (slower) parity is done.
      this.batch.commit();
      // Parity still being made is part of the run: wait for it. The space check kept room for the
      // parity of every copied file, so a full disk still gets it; an interrupt aborts the pool.
      const pool = this.ctx.parity;
      if (pool) {
        const onAbort = () => {
          this.stop({ reason: 'interrupted' });
          void pool.abort();
        };
        if (this.ctx.signal.aborted || this.result.stopped?.reason === 'interrupted') onAbort();
        this.ctx.signal.addEventListener('abort', onAbort);
        try {
          await pool.drain();
          await Promise.allSettled([...this.pendingParity.values()]);
        } finally {
          this.ctx.signal.removeEventListener('abort', onAbort);
        }
      }
      failed = false;
    } finally {
      // A failure with a file still parked: the catalog must not name the parking place; the journal
      // (kept) lets the next run put the file back.
      if (failed && this.parked.size > 0) this.batch.rollback();
      else this.batch.commit();
    }
    return this.result;
  }

  /**
   * Records an operation that failed on the disk as skipped, with a warning; false for what must
   * stop the run (a full disk, an interrupt), which is then recorded as the reason to stop.
   */
  private failed(op: Operation, err: unknown): boolean {
    if (op.type === 'defer' || !this.ctx.skipFailures) return false;
    const code = err instanceof CopyError ? err.code : (err as NodeJS.ErrnoException | null)?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      this.stop({ reason: 'disk-full', message: `the disk is full (while writing ${opPath(op)})` });
      return true;
    }
    if (this.ctx.signal.aborted) {
      this.stop({ reason: 'interrupted' });
      return true;
    }
    const why = (err instanceof Error ? err.message : String(err)).replace(/\.$/, '');
    const message = `cannot write ${opPath(op)} on the disk (${why}); skipped, the archive keeps what it had`;
    this.result.skipped.push({ path: opPath(op), message });
    this.ctx.warn(message);
    return true;
  }

  private tally(op: Operation): void {
    const c = this.result.counts;
    switch (op.type) {
      case 'copy':
        c[this.deduped && op.why === 'added' ? 'linked' : op.why]++;
        break;
      case 'symlink':
      case 'link':
        c[op.why]++;
        break;
      case 'rename':
        if (op.record) c.renamed++;
        break;
      case 'delete':
        if (op.why === 'removed') c.removed++;
        break;
      case 'defer':
        c.deferred++;
        if (op.why !== 'replaced' && (op.action !== 'RENAME' || op.record)) c[op.why]++;
        break;
      case 'update':
        break;
    }
  }

  private async apply(op: Operation): Promise<void> {
    switch (op.type) {
      case 'copy':
        return this.copy(op.record, op.replaces, op.dedupe ?? false);
      case 'symlink':
        return this.symlink(op.record, op.replaces);
      case 'link':
        return this.link(op.record, op.from, op.replaces);
      case 'rename':
        return this.rename(op.from, op.to, op.record);
      case 'delete':
        return this.remove(op.entry);
      case 'update':
        return this.update(op.entry, op.record, op.sha1, op.touchDisk);
      case 'defer':
        return this.defer(op);
    }
  }

  private async copy(r: FileRecord, replaces: CatalogEntry | undefined, dedupe = false): Promise<void> {
    const pct = this.ctx.parity ? this.ctx.parityPct : 0;
    const need = requiredBytes(r.size, pct, this.ctx.reserve);
    const free = this.space.freeFor(need);
    if (free < need) {
      this.stop({
        reason: 'disk-full',
        message: `the disk is full: ${r.path} needs ${need} bytes with parity and reserve, ${free} are free`,
      });
      return;
    }
    const dest = onDisk(this.ctx.root, r.path);
    let res;
    try {
      // Temporary files in .blaine/tmp: a crash leaves its leftovers where the next run looks for them.
      res = await copyWithSha1(r.path, dest, metaOf(r), {
        signal: this.ctx.signal,
        expectedSize: r.size,
        tempDir: diskTempDir(this.ctx.root),
        fs: this.fs,
      });
    } catch (err) {
      if (err instanceof CopyError && err.code === 'SOURCE') {
        if (!existsNoFollow(r.path, this.fs)) {
          // Gone since the scan: nothing to archive, and the next run sees it gone (SPEC §5).
          this.ctx.detail(`${r.path} vanished before it was copied`);
          this.vanished = true;
          return;
        }
        this.result.skipped.push({ path: r.path, message: err.message });
        this.ctx.warn(err.message);
        return;
      }
      if (err instanceof CopyError && err.code === 'ENOSPC') {
        this.stop({ reason: 'disk-full', message: `the disk is full (while copying ${r.path})` });
        return;
      }
      if (this.ctx.signal.aborted) {
        this.stop({ reason: 'interrupted' });
        return;
      }
      throw err;
    }
    this.batch.wroteData = true;
    this.space.wrote(requiredBytes(res.bytes, pct, 0));
    if (dedupe && res.bytes > 0) {
      const twin = this.ctx.disk
        .findContent(res.bytes, res.sha1)
        .find(
          (e) =>
            e.volume === this.ctx.volume && e.kind === 'file' && e.path !== r.path && sameModeOwner(e, r) &&
            this.fs.existsSync(onDisk(this.ctx.root, e.path)),
        );
      if (twin) {
        // Stored once per volume (SPEC §3): the fresh copy gives way to a hardlink to its twin.
        this.deduped = true;
        return this.link({ ...r, size: res.bytes }, twin, replaces);
      }
    }
    this.result.bytesCopied += res.bytes;
    if (replaces) {
      removeParity(this.ctx.root, diskRelative(replaces.path));
      this.loosen(replaces);
    }
    if (replaces && replaces.volume !== this.ctx.volume) this.batch.drop(replaces);
    // The size copied is what the file held while read; a file growing meanwhile is caught next run.
    this.batch.put(entryFor({ ...r, size: res.bytes }, this.ctx.volume, res.sha1));
    this.ctx.detail(`${replaces ? 'replaced' : 'added'} ${r.path}`);
    this.startParity(r.path, res.bytes);
  }

  private symlink(r: FileRecord, replaces: CatalogEntry | undefined): void {
    const dest = onDisk(this.ctx.root, r.path);
    this.fs.mkdirSync(path.dirname(dest), { recursive: true });
    if (replaces) {
      removeParity(this.ctx.root, diskRelative(replaces.path));
      this.loosen(replaces);
    }
    makeSymlink(r.linkTarget ?? '', dest, metaOf(r), this.fs);
    this.batch.wroteData = true;
    this.batch.put(entryFor(r, this.ctx.volume, null));
    this.ctx.detail(`symlink ${r.path} -> ${r.linkTarget}`);
  }

  private async link(r: FileRecord, planned: CatalogEntry, replaces: CatalogEntry | undefined): Promise<void> {
    // The plan may predate the source's copy (same run): its SHA1 and parity are in the catalog now.
    const from = this.ctx.disk.get(this.ctx.volume, planned.path) ?? planned;
    const src = onDisk(this.ctx.root, from.path);
    const dest = onDisk(this.ctx.root, r.path);
    if (!this.fs.existsSync(src)) {
      // The disk lost the file the catalog promised (damage, a hand edit): store the content afresh.
      this.ctx.warn(`${from.path} is catalogued but missing on the disk; copying ${r.path} instead of linking`);
      return this.copy(r, replaces);
    }
    this.fs.mkdirSync(path.dirname(dest), { recursive: true });
    const tmp = path.join(path.dirname(dest), tempName(path.basename(dest)));
    this.fs.rmSync(tmp, { force: true });
    this.fs.linkSync(src, tmp);
    this.fs.renameSync(tmp, dest);
    // rename(2) of one name of a file onto another name of the same file does nothing at all: the
    // temporary name would stay beside the user's file (a rerun after a crash meets exactly that).
    if (isSymlink(tmp, this.fs) || this.fs.existsSync(tmp)) this.fs.rmSync(tmp, { force: true });
    this.batch.wroteData = true;
    if (replaces) {
      removeParity(this.ctx.root, diskRelative(replaces.path));
      this.loosen(replaces);
    }
    const pending = this.pendingParity.get(from.path);
    const entry = entryFor(r, this.ctx.volume, from.sha1, from);
    if (pending) {
      // The twin's parity is still being made: this name gets it when it is done, and so does any
      // later link made from this name in the same run.
      entry.parityName = null;
      const chained = pending.then((name) => {
        if (name === null) return null;
        linkParity(this.ctx.root, diskRelative(from.path), diskRelative(r.path));
        this.setParity(r.path, name);
        return name;
      });
      this.pendingParity.set(r.path, chained);
    } else if (from.parityName) {
      linkParity(this.ctx.root, diskRelative(from.path), diskRelative(r.path));
    }
    this.batch.put(entry);
    this.ctx.detail(`linked ${r.path} to ${from.path}`);
  }

  /**
   * The mounted volume's row as the disk catalog holds it now: the planner works from a lean view
   * (no parity name, no verify time), and what is written back must keep those.
   */
  private stored(e: CatalogEntry): CatalogEntry {
    return e.volume === this.ctx.volume ? (this.ctx.disk.get(e.volume, e.path) ?? e) : e;
  }

  private async rename(planned: CatalogEntry, to: string, r: FileRecord | null): Promise<void> {
    const from = this.stored(planned);
    const src = onDisk(this.ctx.root, from.path);
    const dest = onDisk(this.ctx.root, to);
    const moved: CatalogEntry = r ? entryFor(r, this.ctx.volume, from.sha1, from) : { ...from, path: to };
    if (this.fs.existsSync(src) || isSymlink(src, this.fs)) {
      let at = src;
      if (dest.startsWith(src + path.sep)) {
        // Moved into a directory that took its own name (y -> y/below): out of the way first.
        const tmpDir = diskTempDir(this.ctx.root);
        this.fs.mkdirSync(tmpDir, { recursive: true });
        at = path.join(tmpDir, tempName(path.basename(src)));
        this.fs.renameSync(src, at);
      }
      this.fs.mkdirSync(path.dirname(dest), { recursive: true });
      this.fs.renameSync(at, dest);
      this.parked.delete(from.path);
      if (isUnder(to, PARKING)) this.parked.add(to);
      if (from.parityName) moveParity(this.ctx.root, diskRelative(from.path), diskRelative(to));
      pruneEmptyDirs(this.ctx.root, path.dirname(src), this.fs);
    } else if (!this.fs.existsSync(dest) && !isSymlink(dest, this.fs)) {
      // (A dangling symlink already moved by a killed run does not "exist" through the link.)
      this.ctx.warn(`${from.path} is catalogued but missing on the disk; it will be stored again`);
      this.batch.drop(from);
      return;
    }
    this.batch.wroteData = true;
    this.batch.drop(from);
    this.batch.put(moved);
    if (r) {
      try {
        await this.matchModeOwner(dest, from, r);
        if (r.kind === 'symlink') setTimes(dest, r.mtimeSec, r.mtimeNsec, this.fs);
        else if (r.mtimeSec !== from.mtimeSec || r.mtimeNsec !== from.mtimeNsec) setTimes(dest, r.mtimeSec, r.mtimeNsec, this.fs);
      } catch (err) {
        this.ctx.warn(`cannot update ${to} on the disk: ${(err as Error).message}`);
      }
    }
    this.ctx.detail(`renamed ${from.path} -> ${to}`);
  }

  private remove(e: CatalogEntry): void {
    const p = onDisk(this.ctx.root, e.path);
    this.loosen(e);
    this.fs.rmSync(p, { force: true });
    removeParity(this.ctx.root, diskRelative(e.path));
    pruneEmptyDirs(this.ctx.root, path.dirname(p), this.fs);
    this.batch.wroteData = true;
    this.batch.drop(e);
    this.ctx.detail(`removed ${e.path}`);
  }

  /**
   * Gives the stored name p the mode and owner the data path has now. A name stored as one inode
   * with other names (equal content) gets its own copy first: chmod would change them all.
   */
  private async matchModeOwner(p: string, was: CatalogEntry, r: FileRecord): Promise<void> {
    if (r.kind !== 'file') {
      if (isRoot) this.fs.lchownSync(p, r.uid, r.gid);
      return;
    }
    if (sameModeOwner(was, r)) return;
    if (this.fs.statSync(p).nlink > 1) {
      this.loosen(was);
      await copyWithSha1(p, p, metaOf(r), { tempDir: diskTempDir(this.ctx.root), fs: this.fs });
      return;
    }
    if (isRoot) this.fs.chownSync(p, r.uid, r.gid);
    this.fs.chmodSync(p, r.mode & 0o7777);
  }

  /** Content whose stored inode lost a name in this run (see settleLoosened). */
  private readonly loosened = new Map<string, { size: number; sha1: string }>();

  private loosen(e: CatalogEntry | undefined): void {
    if (e && e.volume === this.ctx.volume && e.kind === 'file' && e.sha1 !== null) this.loosened.set(`${e.size}:${e.sha1}`, { size: e.size, sha1: e.sha1 });
  }

  /**
   * A name left alone on an inode it shared keeps the mtime the inode had, which may be another
   * name's: the disk then disagrees with its catalog (verify's `mtime`). Each such name gets its own.
   */
  private settleLoosened(): void {
    for (const { size, sha1 } of this.loosened.values()) {
      const byInode = new Map<number, CatalogEntry[]>();
      for (const e of this.ctx.disk.findContent(size, sha1)) {
        if (e.volume !== this.ctx.volume || e.kind !== 'file') continue;
        let ino: number;
        try {
          ino = this.fs.lstatSync(onDisk(this.ctx.root, e.path)).ino;
        } catch {
          continue;
        }
        byInode.set(ino, [...(byInode.get(ino) ?? []), e]);
      }
      for (const names of byInode.values()) {
        if (names.length !== 1) continue;
        const e = names[0]!;
        try {
          setTimes(onDisk(this.ctx.root, e.path), e.mtimeSec, e.mtimeNsec, this.fs);
          this.batch.wroteData = true;
        } catch (err) {
          this.ctx.warn(`cannot set the mtime of ${e.path} on the disk: ${(err as Error).message}`);
        }
      }
    }
    this.loosened.clear();
  }

  private async update(planned: CatalogEntry, r: FileRecord, sha1: string | null, touchDisk: boolean): Promise<void> {
    const e = this.stored(planned);
    if (touchDisk) {
      const p = onDisk(this.ctx.root, e.path);
      try {
        await this.matchModeOwner(p, e, r);
        setTimes(p, r.mtimeSec, r.mtimeNsec, this.fs);
      } catch (err) {
        this.ctx.warn(`cannot update ${e.path} on the disk: ${(err as Error).message}`);
      }
    }
    this.batch.put(entryFor(r, e.volume, sha1 ?? e.sha1, e));
  }

  /** An offline volume's share: its catalog rows change now, the disk itself when it is next mounted. */
  private defer(op: Extract<Operation, { type: 'defer' }>): void {
    const host = this.ctx.host;
    this.batch.begin();
    host.defer(op.volume, op.action, op.path, op.target);
    if (op.action === 'DELETE') host.remove(op.volume, op.path);
    else if (op.action === 'RENAME') {
      host.remove(op.volume, op.path);
      const moved = op.record ? entryFor(op.record, op.volume, op.entry.sha1, op.entry) : { ...op.entry, path: op.target! };
      host.put(moved);
    } else {
      host.put(entryFor(op.record!, op.volume, op.entry.sha1, op.entry));
    }
    // In the same transaction as the queued action, so no crash leaves an action the copy is not behind on.
    if (!this.result.deferredVolumes.has(op.volume)) host.bumpGeneration(op.volume);
    this.result.deferredVolumes.add(op.volume);
    this.ctx.detail(`deferred for ${op.volume}: ${op.action} ${op.path}${op.target ? ` -> ${op.target}` : ''}`);
  }
}

function existsNoFollow(p: string, fs: Fsx): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The path an operation is about, for messages. */
function opPath(op: Operation): string {
  switch (op.type) {
    case 'copy':
    case 'symlink':
    case 'link':
      return op.record.path;
    case 'rename':
      return op.to;
    case 'delete':
    case 'update':
      return op.entry.path;
    case 'defer':
      return op.target ?? op.path;
  }
}

function isSymlink(p: string, fs: Fsx): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
