/**
 * The disk's journal (SPEC §5): every change a run makes on a disk is written here, and fsynced,
 * before it is made. Catalog rows are committed in batches, so between two commits the disk runs
 * ahead of its catalog; the journal is what lets the next run put the two back in step after a
 * crash (kill -9, power cut) instead of trusting a catalog that no longer describes the disk.
 *
 * Each batch of steps has an id. The commit that records a batch's rows writes that id into the
 * disk catalog in the same transaction, and only then is the journal emptied. So after a crash:
 * - the catalog holds the journal's id: the batch was committed, the data was synced before it,
 *   and the catalog is right; the journal is just thrown away;
 * - it does not: the catalog still describes the disk as it was before the batch. Recovery walks
 *   the steps backwards and undoes them, looking at the files themselves: a moved file is moved
 *   back only if the file found at its new name is the one the catalog has at the old name (size
 *   and mtime, SHA-256 when they disagree), so parked files of a swap come home instead of being
 *   swept up as temporary files; a path that was (re)written or deleted is brought back to what
 *   its row says, or the row is dropped, so the next backup stores that file again.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { type Fsx } from '../fsx/fsx.js';
import { mtimeMatches, setTimes, targetError } from '../fsx/copy.js';
import { diskRelative } from '../fsx/paths.js';
import { isCompleteSet, moveParityBack, parityFiles, removeParity, removeParityLeftovers, matchParityToRow } from '../parity/paths.js';
import { blaineDir, onDisk } from './layout.js';
import { JOURNAL_COMMITTED } from '../catalog/meta-keys.js';

export type JournalStep =
  /** A stored file moved; `file` is its row before the move (what recovery looks for). */
  | { op: 'rename'; from: string; to: string; file: Identity }
  /** A path whose file is replaced, linked, made or deleted. */
  | { op: 'write'; path: string }
  /**
   * verify --fix writes repaired bytes into a stored file's inode, then gives it back this mtime.
   * Each chunk only goes from damaged to correct, so what a crash leaves is no worse than before;
   * the mtime is put back so that the catalog describes the file again (the next checksum repairs the rest).
   */
  | { op: 'repair'; path: string; mtimeSec: number; mtimeNsec: number }
  /** verify --fix makes, links or installs this stored file's parity set. */
  | { op: 'parity'; path: string }
  /** verify --fix makes a lost symlink again, under a temporary name beside it first. */
  | { op: 'name'; path: string };

/** What recovery needs to recognise a stored file on the disk. */
export interface Identity {
  kind: 'file' | 'symlink';
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  sha256: string | null;
  linkTarget: string | null;
}


export function journalPath(root: string): string {
  return path.join(blaineDir(root), 'journal');
}

export function identityOf(e: CatalogEntry): Identity {
  // Directory rows never reach the journal: the catalog's file statements leave them out.
  return { kind: e.kind as Identity['kind'], size: e.size, mtimeSec: e.mtimeSec, mtimeNsec: e.mtimeNsec, sha256: e.sha256, linkTarget: e.linkTarget };
}

/** The writing side, used by the executor; one per run. */
export class Journal {
  private fd: number | null = null;
  private batchId: string | null = null;
  /** Bytes of the journal known to be on the disk: a failed write is overwritten from here. */
  private size = 0;

  constructor(
    private readonly root: string,
    private readonly fs: Fsx,
  ) {}

  /** The id of the batch under way, or null when nothing was journalled since the last commit. */
  get batch(): string | null {
    return this.batchId;
  }

  /**
   * Records steps about to be made; they are on the disk when this returns. When it throws (a
   * CopyError: the disk full, or failing), none of them counts: the caller must not make them, and the next call writes
   * over whatever part of them reached the file, so a torn line never hides the steps after it.
   */
  intend(steps: JournalStep[]): void {
    if (steps.length === 0) return;
    if (this.fd === null) {
      // Private, as the catalogs: it names the files of the batch under way.
      this.fd = this.fs.openSync(journalPath(this.root), 'w', 0o600);
      this.batchId = crypto.randomUUID();
      this.size = 0;
    }
    let text = this.size === 0 ? `${JSON.stringify({ batch: this.batchId })}\n` : '';
    for (const s of steps) text += `${JSON.stringify(s)}\n`;
    const bytes = Buffer.from(text);
    try {
      for (let done = 0; done < bytes.length; ) done += this.fs.writeSync(this.fd, bytes, done, bytes.length - done, this.size + done);
      this.fs.fsyncSync(this.fd);
    } catch (err) {
      try {
        this.fs.ftruncateSync(this.fd, this.size);
      } catch {
        // The disk is failing; the next write starts at the same place all the same.
      }
      throw targetError(err, journalPath(this.root));
    }
    this.size += bytes.length;
  }

  /** After the catalog commit that names this batch: its steps need no recovery any more. */
  committed(): void {
    if (this.fd === null) return;
    this.fs.closeSync(this.fd);
    this.fd = null;
    this.batchId = null;
    this.size = 0;
    this.fs.rmSync(journalPath(this.root), { force: true });
  }

  /** The run ends without committing (an error): the journal stays for the next run to recover. */
  close(): void {
    if (this.fd !== null) this.fs.closeSync(this.fd);
    this.fd = null;
  }
}

export interface RecoveryReport {
  /** Moves undone (files put back where the catalog has them). */
  undone: number;
  /** Paths whose catalog row was dropped or whose uncatalogued file was removed. */
  reconciled: number;
  /** Steps that could not be matched to what is on the disk, in words. */
  problems: string[];
}

/**
 * Completes or undoes what a crashed run left open on this disk, before anything else reads the
 * catalog or cleans temporary files. Call with the disk locked and its catalog open.
 */
export function recoverJournal(root: string, disk: Catalog, volume: string, fs: Fsx): RecoveryReport | null {
  const file = journalPath(root);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8') as string;
  } catch {
    return null;
  }
  const report: RecoveryReport = { undone: 0, reconciled: 0, problems: [] };
  const lines = text.split('\n').filter((l) => l.length > 0);
  let header: { batch?: string } = {};
  const steps: JournalStep[] = [];
  for (const [i, line] of lines.entries()) {
    try {
      if (i === 0) header = JSON.parse(line);
      else steps.push(JSON.parse(line) as JournalStep);
    } catch {
      // A line cut short by the crash: it was never fsynced, so its step was never started.
      break;
    }
  }
  const committed = header.batch !== undefined && disk.getMeta(JOURNAL_COMMITTED) === header.batch;
  if (!committed) {
    disk.transaction(() => {
      for (const step of steps.reverse()) {
        if (step.op === 'rename') undoRename(root, step, fs, report);
        else if (step.op === 'repair') recoverRepair(root, step, fs, report);
        else if (step.op === 'parity') matchParitySetToRow(root, disk, volume, step.path, fs, report);
        else if (step.op === 'name') removeTempSiblings(onDisk(root, step.path), fs);
        else reconcilePath(root, disk, volume, step.path, fs, report);
      }
    });
  }
  fs.rmSync(file, { force: true });
  return report;
}

function lstatOrNull(p: string, fs: Fsx) {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/** True when the file at `p` is the one `id` describes: same kind and size, same mtime or SHA-256. */
function holds(p: string, id: Identity, fs: Fsx): boolean {
  const st = lstatOrNull(p, fs);
  if (!st) return false;
  if (id.kind === 'symlink') return st.isSymbolicLink() && fs.readlinkSync(p, 'utf8') === id.linkTarget;
  if (!st.isFile() || st.size !== id.size) return false;
  if (mtimeOf(p, fs, id)) return true;
  // Hardlinked names share one mtime on the disk while the catalog keeps each path's own.
  return id.sha256 !== null && sha256Of(p, fs) === id.sha256;
}

/** True when the file's own mtime (never a symlink's target's) is the one `id` records. */
function mtimeOf(p: string, fs: Fsx, id: Pick<Identity, 'mtimeSec' | 'mtimeNsec'>): boolean {
  const st = fs.lstatSync(p, { bigint: true });
  const sec = st.mtimeNs / 1_000_000_000n;
  return mtimeMatches(Number(sec), Number(st.mtimeNs - sec * 1_000_000_000n), id.mtimeSec, id.mtimeNsec);
}

function sha256Of(p: string, fs: Fsx): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(p, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

function undoRename(root: string, step: Extract<JournalStep, { op: 'rename' }>, fs: Fsx, report: RecoveryReport): void {
  const from = onDisk(root, step.from);
  const to = onDisk(root, step.to);
  // Still (or again) at its old name: the move never happened, or a later undo already put it back.
  if (holds(from, step.file, fs)) return;
  if (lstatOrNull(from, fs)) {
    report.problems.push(`${step.from} holds a file that is not the catalogued one; left as it is`);
    return;
  }
  if (!holds(to, step.file, fs)) {
    report.problems.push(`${step.from} is neither at its old name nor at ${step.to}`);
    return;
  }
  fs.mkdirSync(path.dirname(from), { recursive: true });
  fs.renameSync(to, from);
  // Only parity that made the move goes back, file by file: the move may have been cut between them.
  for (const rel of [step.from, step.to]) removeParityLeftovers(root, diskRelative(rel), fs);
  moveParityBack(root, diskRelative(step.from), diskRelative(step.to), fs);
  // A move that also took a new mtime gives it back, so the catalog's row describes the file again.
  if (!mtimeOf(from, fs, step.file)) setTimes(from, step.file.mtimeSec, step.file.mtimeNsec, fs);
  report.undone++;
}

function reconcilePath(root: string, disk: Catalog, volume: string, p: string, fs: Fsx, report: RecoveryReport): void {
  const full = onDisk(root, p);
  removeTempSiblings(full, fs);
  const row = disk.get(volume, p);
  const present = lstatOrNull(full, fs) !== null;
  if (row && present && holds(full, identityOf(row), fs)) return;
  // The journal says Blaine was writing this path, and the catalog does not describe what is there
  // (or nothing is): file and parity go, and so does the row; the next run stores the path afresh.
  if (present) fs.rmSync(full, { force: true });
  removeParityLeftovers(root, diskRelative(p), fs);
  removeParity(root, diskRelative(p), fs);
  if (row) disk.remove(volume, p);
  if (row || present) report.reconciled++;
}

function recoverRepair(root: string, step: Extract<JournalStep, { op: 'repair' }>, fs: Fsx, report: RecoveryReport): void {
  const full = onDisk(root, step.path);
  const st = lstatOrNull(full, fs);
  if (!st?.isFile() || mtimeOf(full, fs, step)) return;
  setTimes(full, step.mtimeSec, step.mtimeNsec, fs);
  report.reconciled++;
}

/**
 * A parity set cut short (one of its two files, or a file under its passing name) is taken away,
 * and so is a set the catalog does not know of: the row then says "no parity", which the next
 * backup (or verify --fix) makes. A complete set the row names stays: installs and links are
 * complete sets the moment their last rename lands.
 */
function matchParitySetToRow(root: string, disk: Catalog, volume: string, p: string, fs: Fsx, report: RecoveryReport): void {
  const rel = diskRelative(p);
  const row = disk.get(volume, p);
  const named = !!row?.parityName;
  let removed = false;
  let kept = false;
  try {
    removed = matchParityToRow(root, rel, row, fs);
    kept = named && !removed && isCompleteSet(root, rel, parityFiles(root, rel, fs), row!.size);
  } catch (e) {
    // Parity that cannot even be looked at or removed must not keep the disk from being used: the
    // row says "no parity", and verify names whatever is left in the parity tree.
    report.problems.push(`the parity of ${p} could not be settled (${(e as Error).message}); its row now says it has none`);
  }
  if (kept) return;
  if (named) disk.setParityName(volume, p, null);
  if (named || removed) report.reconciled++;
}

/** A link or symlink is made under a temporary name beside its destination; a crash can leave it there. */
function removeTempSiblings(full: string, fs: Fsx): void {
  const dir = path.dirname(full);
  const prefix = `.${path.basename(full)}.blaine-tmp-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir) as string[];
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(prefix)) fs.rmSync(path.join(dir, n), { force: true });
}
