/**
 * The backup pipeline (SPEC §5): scan the data paths (in threads, while the disk is opened), catch
 * the mounted copy up, drop unchanged files by the quick check, plan, apply, finish both catalogs.
 * --dry-run is the same pipeline on a session that writes nothing (private copies of the catalogs)
 * with an applier that records the operations instead of carrying them out. The command line
 * (cli/backup.ts) turns flags into a BackupRun and prints the outcome.
 */
import fs from 'node:fs';
import { catalogView, excludedBy, summarize, type BackupSummary } from './backup.js';
import { checkSha1Links } from './sha1-links.js';
import { planAndApply } from './stream.js';
import { hadSizeBefore, memoBySize } from '../catalog/changes.js';
import { QuickCheck } from './quickcheck.js';
import type { Catalog } from '../catalog/catalog.js';
import { beginWrite, checkDisk, finishWrite, openDiskSession, recoveryMessages, type DiskSession, type KeyProvider } from '../archive/session.js';
import { openDrySession } from '../archive/dry-session.js';
import { diskCatalogPath, diskLockPath } from '../archive/layout.js';
import { journalPath } from '../archive/journal.js';
import { freeBytes } from '../fsx/space.js';
import { cipherBytes } from '../crypt/overhead.js';
import type { CatalogEntry } from '../catalog/entry.js';
import type { Fsx } from '../fsx/fsx.js';
import { catchUp } from '../mirror/catchup.js';
import { Executor, type ApplierFactory, type ExecutionResult } from '../apply/executor.js';
import { emptyResult } from '../apply/tally.js';
import { RecordingApplier } from '../apply/recorder.js';
import { catalogRoom } from '../apply/space.js';
import type { Operation, Plan, PlanOptions } from '../plan/operation.js';
import { ParityPool } from '../parity/pool.js';
import type { ExclusionFilter } from '../scan/exclude.js';
import { scanInBackground } from '../scan/background.js';
import type { PackedScan, SkippedEntry } from '../scan/record.js';
import { unpack } from '../scan/scanner.js';
import type { Progress } from '../progress/progress.js';
import { readShelf } from '../report/shelf.js';
import type { DiskSettings } from '../archive/volume.js';
import { heldLine, shelfFacts, type RunFacts } from '../report/summary.js';
import { scanDirs } from '../dirs/scan.js';
import { DirWriter, dirExcludedBy, planDirs, prepareFoldersFromHost, replacedBelow, volumeFolders } from '../dirs/sync.js';
import { lstatOrNull } from '../dirs/scan.js';

/** One backup, as the command line asked for it (options already checked). */
export interface BackupRun {
  dest: string;
  db: string;
  roots: string[];
  filter: ExclusionFilter | undefined;
  init: boolean;
  label: string | undefined;
  /** With init: make the new disk an encrypted one. */
  encrypt: boolean;
  /** Asked only for an encrypted disk. */
  key: KeyProvider | undefined;
  dryRun: boolean;
  options: PlanOptions;
  withParity: boolean;
  parityPct: number;
  paritySlices: number;
  /** Bytes for making parity, shared by the jobs; undefined: the parity library's default. */
  parityMemory: number | undefined;
  jobs: number;
  par2Command: string[] | undefined;
  reserve: number;
  /** With init: the settings the new disk remembers for later runs (volume.json). */
  remember?: DiskSettings;
  /** Date.now() when the command began. */
  started: number;
  signal: AbortSignal;
  fs: Fsx;
}

/** What the run tells the user as it goes (cli/output.ts's Output is one). */
export interface RunReporter {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  detail(msg: string): void;
  debug(msg: string): void;
  /** What the run is doing, for the progress display: set here, drawn by whoever reports. */
  readonly progress: Progress;
  clearProgress(): void;
}

export interface BackupOutcome {
  /** What the summary line is about: the disk's label, or "would do on" it. */
  label: string;
  /** null when the run stopped while catching the copy up, before any backup. */
  summary: BackupSummary | null;
  stopped: ExecutionResult['stopped'];
  /** The mass-delete guard held removals back. */
  guarded: boolean;
  /** A data path was missing or not a directory. */
  missingRoot: boolean;
  /** A dry run's operations: the catch-up's, then the backup's, as recorded. */
  ops?: Operation[];
  /** The disk written (its copy's label), and what the host catalog says beyond this run. */
  copyLabel?: string;
  shelf?: Pick<RunFacts, 'perDay' | 'pendingOffline' | 'behind'>;
}

/** The path an operation is about, for the progress line. */
function operationPath(op: Operation): string {
  switch (op.type) {
    case 'rename':
      return op.to;
    case 'delete':
      return op.entry.path;
    case 'defer':
      return op.path;
    default:
      return op.record.path;
  }
}

export async function runBackup(o: BackupRun, out: RunReporter): Promise<BackupOutcome> {
  const { dest, db, roots, filter, options, withParity, jobs, parityPct, paritySlices, parityMemory, par2Command, reserve, started } = o;
  // A dry run's operations, recorded instead of carried out; null for a real run.
  const recorded: Operation[] | null = o.dryRun ? [] : null;
  const makeApplier: ApplierFactory = recorded
    ? (ctx) => new RecordingApplier(ctx, recorded, withParity ? parityPct : 0)
    : (ctx) => new Executor(ctx);
  const would = (done: string, toDo: string) => (recorded ? `would ${toDo}` : done);

  const phase = (name: string) =>
    out.debug(`phase ${name}: ${Date.now() - started} ms since start, ${Math.round(performance.now())} ms since the process began, ${Math.round(process.memoryUsage.rss() / 2 ** 20)} MiB resident`);
  phase('checked options');
  // The data paths are walked in a thread of their own while this one prepares the disk.
  out.progress.begin('scanning');
  const scanning = scanInBackground(roots, filter, (n) => out.progress.at(n, 0));
  let session: DiskSession;
  try {
    const open = recorded ? openDrySession : openDiskSession;
    session = open({ dest, db, init: o.init, force: o.options.force, label: o.label, encrypt: o.encrypt, key: o.key, fs: o.fs, settings: o.remember });
  } catch (err) {
    scanning.cancel();
    throw err;
  }
  phase('opened disk and catalogs');
  let pool: ParityPool | null = null;
  try {
    const { info } = session;
    out.debug(`disk ${dest}: volume ${info.volume} (${info.label}), copy ${info.copy}, ${session.sync}`);
    for (const m of recoveryMessages(session)) out.warn(m);
    if (session.leftovers > 0) out.info(`removed ${session.leftovers} leftover(s) of an interrupted run`);
    if (session.sync === 'imported' && session.disk.volumeStats(info.volume).files > 0) out.info(`host catalog updated from the disk catalog of "${info.label}"`);
    if (session.sync === 'recovered') out.warn(`the last run on "${info.label}" did not finish; its disk catalog is taken as the truth`);
    pool = withParity && !recorded ? new ParityPool({ jobs, pct: parityPct, maxSlices: paritySlices, memoryBytes: parityMemory, cfg: par2Command ? { command: par2Command } : undefined, fs: o.fs }) : null;
    // The library's folders, read here while the scanning thread reads its files (dirs/scan.ts).
    const dirScans = roots.map((r) => scanDirs(r, filter));
    phase(`scanned ${dirScans.reduce((n, d) => n + d.dirs.length, 0)} folder(s)`);
    beginWrite(session);
    const execOpts = {
      root: session.root,
      volume: info.volume,
      host: session.host,
      disk: session.disk,
      parity: pool,
      parityPct,
      paritySlices,
      reserve: reserve + catalogRoom(diskCatalogPath(session.root), db, o.fs) + longerLog(session),
      // The run's own files that exist in a real run and not in its dry run: their room is in the reserve.
      reservedFiles: [`${diskCatalogPath(session.root)}-wal`, `${diskCatalogPath(session.root)}-shm`, journalPath(session.root), diskLockPath(session.dest)],
      storedBytes: info.encrypted ? cipherBytes : undefined,
      signal: o.signal,
      detail: (m: string) => out.detail(m),
      warn: (m: string) => out.warn(m),
      fs: o.fs,
      checkDisk: () => checkDisk(session),
      // Known once the folders are scanned (below); the catch-up before goes by the disk's rows.
      isLibraryFolder: undefined as ((p: string) => boolean) | undefined,
    };
    // The volume's queued actions come first, and whatever its other copy did since (SPEC §5, §8).
    const pendingChanged = session.sync !== 'in-sync';
    let lacking: CatalogEntry[] = [];
    if (session.sync === 'behind') {
      if (!recorded) prepareFoldersFromHost({ root: session.root, volume: info.volume, disk: session.disk, host: session.host, fs: o.fs, warn: (m) => out.warn(m) });
      out.progress.begin('applying deferred actions');
      const caught = await catchUp(session, execOpts, makeApplier);
      out.progress.begin('scanning');
      if (caught.applied > 0) out.info(`${would('applied', 'apply')} ${caught.applied} deferred action(s) on "${info.label}"`);
      if (caught.held.length > 0) out.info(heldLine(caught.held));
      if (caught.changed > 0) out.info(`${would('brought', 'bring')} "${info.copyLabel}" up to date: ${caught.changed} change(s)`);
      lacking = caught.lacking;
      if (caught.stopped) {
        if (!recorded) await finishWrite(session, 'backup', caught.stopped, {});
        const stopped = caught.stopped === 'disk-full' ? { reason: caught.stopped, message: 'the disk is full' } : { reason: caught.stopped };
        return { label: `"${info.label}"`, summary: null, stopped, guarded: false, missingRoot: false };
      }
    }

    phase('caught up');
    // Files an older catalog stored as one by SHA-1 alone are read on both sides, before the quick
    // check takes them as unchanged.
    const sha1Links = await checkSha1Links(session, info.volume, roots, (m) => out.warn(m), o.fs);
    if (sha1Links.confirmed > 0) out.detail(`${sha1Links.confirmed} file(s) stored by SHA-1 confirmed by SHA-256`);
    // Unchanged files stop here, compared chunk by chunk while the scan goes on. A copy that was
    // behind has been caught up by now: its disk catalog matches the volume for every file it holds.
    const disk = session.disk;
    const quick = new QuickCheck({ text: (lo, hi) => disk.quickText(info.volume, lo, hi), rows: (lo, hi) => disk.quickRows(info.volume, lo, hi) });
    disk.mapReads(true);
    scanning.onChunk((root, chunk) => quick.add(root, chunk));
    let packed: PackedScan[];
    try {
      packed = await scanning.result;
    } finally {
      disk.mapReads(false);
    }
    phase('scanned');
    const skipped = unreadableOnly(packed.flatMap((s) => s.skipped), out, would('skipped', 'be skipped'));
    let hashSkips = 0;
    const checked = quick.resultInParts(packed);
    // From here on the parts hold what is left of the scan; the rest can go.
    for (const s of packed) s.chunks = [];
    // Directories: made on the disk (each never wider than its own mode) before any file goes in.
    const planFolders = (mayRemove: boolean) =>
      planDirs(dirScans, (r) => volumeFolders(disk, session.host, info.volume, r), {
        clean: options.clean, excluded: dirExcludedBy(filter, roots), mayRemove,
        replacedNow: (root, p) => replacedBelow(root, p, lstatOrNull),
      });
    const folders = recorded ? null : new DirWriter({ root: session.root, volume: info.volume, disk: session.disk, host: session.host, fs: o.fs, warn: (m) => out.warn(m) });
    const libraryFolders = new Set(dirScans.flatMap((s) => s.dirs.map((d) => d.path)));
    execOpts.isLibraryFolder = (p) => libraryFolders.has(p);
    folders?.prepare(planFolders(true));
    const view = catalogView(session.host, session.disk, info.volume, roots, checked.keep, lacking);
    if (sha1Links.storedDiffers.size > 0) view.storedDiffers = sha1Links.storedDiffers;
    phase(`loaded catalog (${checked.unchanged} unchanged by quick check)`);
    let total = 0;
    let offset = 0;
    let fillsOnly = true;
    const progress = progressFor(pool, out);
    const applier = makeApplier({ ...execOpts, skipFailures: true, progress: (done, _all, bytes, next) => progress(offset + done, total, bytes, next) });
    applier.resumeParity();
    let result = emptyResult();
    // Rows this run writes carry the generation it raised (catalog/changes.ts).
    const runGeneration = session.host.volume(info.volume)!.generation;
    const othersExist = session.host.volumes().some((v) => v.uuid !== info.volume);
    const p = await planAndApply({
      scans: checked.scans,
      view,
      hadSize: memoBySize((size) => hadSizeBefore(session.disk, size, runGeneration) || (othersExist && session.host.hasSizeElsewhere(size, info.volume))),
      volume: info.volume,
      options,
      excluded: excludedBy(filter, roots),
      onSkip: (_path, message) => {
        hashSkips++;
        out.warn(`${message}; ${would('skipped', 'be skipped')}`);
      },
      planned: (first, totals) => {
        reportGuard(first, out);
        phase(`planned (${first.filesRead ?? 0} file(s) read to decide)`);
        total = totals.files;
        out.progress.begin('copying', totals);
      },
      apply: async (ops, more) => {
        result = await applier.run(ops, { more });
        offset += ops.length;
        fillsOnly &&= onlyFilledLacking(ops, lacking, session.host, info.volume);
        return !result.stopped;
      },
    });
    out.progress.poll = null;
    // Then their removals and exact metadata, deepest first: after every write into them.
    // A full disk still gets its folders' metadata (no space needed); removals wait for a complete run.
    const folderPlan = planFolders(p.guarded.length === 0 && !result.stopped);
    if (folders !== null && result.stopped?.reason !== 'interrupted') folders.finish(folderPlan, Date.now());
    const summary = summarize(p, result, skipped.length + hashSkips, started, null);
    summary.directories = folderPlan.counts;
    if (recorded) {
      const guarded = p.guarded.length > 0;
      return { label: `would do on "${info.label}"`, copyLabel: info.copyLabel, summary, stopped: result.stopped, guarded, missingRoot: false, ops: recorded };
    }
    out.progress.begin('writing catalogs');
    const folderChanges = folderPlan.counts.added + folderPlan.counts.updated + folderPlan.counts.removed;
    const changed = result.done > 0 || pendingChanged || folderChanges > 0;
    const volumeChanged = (result.done > 0 && !fillsOnly) || folderChanges > 0;
    phase(`executed (${p.filesRead ?? 0} file(s) read to decide in all)`);
    summary.freeBytes = await finishWrite(session, 'backup', result.stopped?.reason ?? 'ok', summary, changed, volumeChanged, (m) => out.warn(m));
    phase('finished');
    return {
      label: `"${info.label}"`,
      copyLabel: info.copyLabel,
      shelf: shelfFacts(readShelf(session.host, Date.now(), undefined, { counts: false }), info.volume),
      summary,
      stopped: result.stopped,
      guarded: p.guarded.length > 0,
      missingRoot: roots.some((r) => !fs.existsSync(r) || !fs.statSync(r).isDirectory()),
    };
  } finally {
    scanning.cancel();
    pool?.abort();
    session.close();
  }
}

/**
 * True when every operation only gave this copy a file its volume already held elsewhere (a row the
 * catch-up found lacking), as the volume holds it: the volume itself did not change, and its other
 * copy, which holds it, is still in step.
 */
function onlyFilledLacking(ops: Operation[], lacking: CatalogEntry[], host: Catalog, volume: string): boolean {
  const wanted = new Map(lacking.map((e) => [e.path, e]));
  return ops.every((op) => {
    if (op.type !== 'copy' && op.type !== 'symlink' && op.type !== 'link') return false;
    const w = wanted.get(op.record.path);
    const now = host.get(volume, op.record.path);
    return (
      w !== undefined && now !== undefined && now.kind === w.kind && now.size === w.size && now.sha256 === w.sha256 &&
      now.linkTarget === w.linkTarget && now.mtimeSec === w.mtimeSec && now.mtimeNsec === w.mtimeNsec &&
      now.mode === w.mode && now.uid === w.uid && now.gid === w.gid
    );
  });
}

/** What the progress line is told after each operation; once every file is copied, the parity queue. */
function progressFor(parity: ParityPool | null, out: RunReporter): (done: number, total: number, bytes: number, next?: Operation) => void {
  if (!parity) return (done, _total, bytes, next) => out.progress.at(done, bytes, next ? operationPath(next) : null);
  // Once every file is copied the run waits for parity: the files left are the pool's queue.
  let parityTotal = 0;
  out.progress.poll = () => {
    out.progress.parityQueue = parity.queued;
    if (out.progress.phase === 'parity') out.progress.at(parityTotal - parity.queued, 0);
  };
  return (done, total, bytes, next) => {
    out.progress.at(done, bytes, next ? operationPath(next) : null);
    if (done === total && parity.queued > 0) {
      parityTotal = parity.queued;
      out.progress.begin('parity', { files: parityTotal });
    }
  };
}

/** The longest write-ahead log Blaine lets a run's catalogs grow, and the shortest for the disk's. */
const LONG_LOG_PAGES = 16384;
const SHORT_LOG_PAGES = 64;

/**
 * Lets the catalogs' write-ahead logs grow longer during the run (Catalog.setCheckpointPages):
 * the host catalog's to LONG_LOG_PAGES, the disk's to 1/64 of the disk's free space (at least
 * SHORT_LOG_PAGES: a small disk must not give a quarter of itself to the log). Returns the disk
 * space the disk catalog's log may take, to keep free for it (the space rule gives back what it
 * already takes: SpaceBudget's reserved files).
 */
function longerLog(session: DiskSession): number {
  session.host.setCheckpointPages(LONG_LOG_PAGES);
  const page = session.disk.pageSize();
  const pages = Math.min(LONG_LOG_PAGES, Math.max(SHORT_LOG_PAGES, Math.floor(freeBytes(session.root) / 64 / page)));
  session.disk.setCheckpointPages(pages);
  return pages * page;
}

/**
 * Warns of every entry the scan left out; returns the unreadable ones, which alone make the exit
 * status 1. Special files (FIFOs, sockets, devices) cannot be archived at all: a warning is all.
 */
function unreadableOnly(skipped: SkippedEntry[], out: RunReporter, verb: string): SkippedEntry[] {
  for (const s of skipped) out.warn(`${s.path} ${s.message}; ${verb}`);
  return skipped.filter((s) => s.reason !== 'special');
}

function reportGuard(p: Plan, out: RunReporter): void {
  for (const g of p.guarded) {
    out.error(`nothing removed: ${g.reason}; check that the data path is mounted, or pass --force`);
  }
}
