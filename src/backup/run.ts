/**
 * The backup pipeline (SPEC §5): scan the data paths (in threads, while the disk is opened), catch
 * the mounted copy up, drop unchanged files by the quick check, plan, apply, finish both catalogs.
 * --dry-run is the same pipeline on a session that writes nothing (private copies of the catalogs)
 * with an applier that records the operations instead of carrying them out. The command line
 * (cli/backup.ts) turns flags into a BackupRun, and puts the events it is told and the outcome in words.
 */
import { catalogView, excludedBy, summarize, type BackupSummary } from './backup.js';
import { checkSha1Links } from './sha1-links.js';
import { addCounts, AHEAD_CHUNKS, ChunkStream, planAndApply } from './stream.js';
import { hadSizeBefore, memoBySize } from '../catalog/changes.js';
import { sameEntry } from '../catalog/same.js';
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
import type { FileRecord, PackedScan, SkippedEntry } from '../scan/record.js';
import { unpack } from '../scan/scanner.js';
import type { Progress } from '../progress/progress.js';
import { readShelf } from '../report/shelf.js';
import type { DiskSettings } from '../archive/volume.js';
import { shelfFacts, type RunFacts } from '../report/summary.js';
import type { Hold } from '../plan/held.js';
import type { ApplyEvent } from '../apply/env.js';
import type { PlanSkip } from './backup.js';
import { dirScanFromFiles, scanDirs } from '../dirs/scan.js';
import { DirWriter, type DirPlan, dirExcludedBy, planDirs, prepareFoldersFromHost, readFolderRows, replacedBelow, volumeFolders } from '../dirs/sync.js';
import { dirRecordOf, lstatOrNull, type DirRecord } from '../dirs/scan.js';
import { fsPath } from '../fsx/name-bytes.js';
import type { BigIntStats } from '../fsx/fsx.js';
import path from 'node:path';

/** A DELETE the catch-up left queued (SPEC §8), and why. */
export type HeldDelete = { path: string } & Hold;

/** The disk a backup writes, and the host catalog. */
export interface BackupDisk {
  dest: string;
  db: string;
  /** Make dest a new disk. */
  init: boolean;
  /** With init: the new volume's label. */
  label: string | undefined;
  /** With init: make the new disk an encrypted one. */
  encrypt: boolean;
  /** Asked only for an encrypted disk. */
  key: KeyProvider | undefined;
  /** With init: the settings the new disk remembers for later runs (volume.json). */
  remember?: DiskSettings;
}

/** How the data paths are walked. */
export interface BackupScan {
  roots: string[];
  filter: ExclusionFilter | undefined;
  /** Threads that walk; default: one per core, at most 8 (scan/threads.ts). */
  threads?: number;
  /** Files per chunk of a scan; default scan/packed.ts's CHUNK. */
  chunkSize?: number;
}

/** How parity is made; pct 0: none. */
export interface BackupParity {
  pct: number;
  slices: number;
  /** Bytes for making parity, shared by the jobs; undefined: the parity library's default. */
  memory: number | undefined;
  jobs: number;
  /** A par2cmdline command line instead of `par2`. */
  command: string[] | undefined;
  /** 'par2': par2cmdline even where Blaine's own creator is built. */
  creator?: 'native' | 'par2';
}

/** One backup, as the command line asked for it (options already checked). */
export interface BackupRun {
  disk: BackupDisk;
  scan: BackupScan;
  plan: PlanOptions;
  parity: BackupParity;
  /** Bytes to leave free on the disk (--reserve). */
  reserve: number;
  dryRun: boolean;
  /** Date.now() when the command began. */
  started: number;
  signal: AbortSignal;
  fs: Fsx;
}

/**
 * What a backup tells as it goes, a fact per event; the command puts it in words
 * (cli/backup-report.ts). `dryRun` events speak of what would be done.
 */
export type BackupEvent =
  /** A step of the pipeline is done (timings for -v's debug lines). */
  | { type: 'phase'; name: string }
  | { type: 'disk-opened'; dest: string; volume: string; label: string; copy: string; sync: DiskSession['sync'] }
  /** The disk layer's own warning (archive/: the last run's journal played back, catalog copies not refreshed). */
  | { type: 'disk-warning'; message: string }
  | { type: 'leftovers-removed'; count: number }
  /** The host catalog took the disk catalog's rows of this volume. */
  | { type: 'host-updated'; label: string }
  /** The last run on this disk did not finish: its disk catalog is the truth. */
  | { type: 'last-run-unfinished'; label: string }
  /** The copy was caught up with its volume's queued actions and its twin's changes. */
  | { type: 'caught-up'; label: string; copyLabel: string; applied: number; changed: number; held: HeldDelete[]; dryRun: boolean }
  /** Files an older catalog linked by SHA-1 alone, now confirmed equal by SHA-256. */
  | { type: 'sha1-confirmed'; count: number }
  /** A file an older catalog linked by SHA-1 alone whose bytes differ: stored on its own now. */
  | { type: 'sha1-collision'; path: string }
  /** The scan left an entry out (unreadable, or a special file). */
  | { type: 'scan-skipped'; entry: SkippedEntry; dryRun: boolean }
  /** A file the planner needed read could not be, or sits where archived files are kept. */
  | { type: 'plan-skipped'; skip: PlanSkip; dryRun: boolean }
  /** The mass-delete guard held removals back. */
  | { type: 'guarded'; reason: string }
  /** What the disk's run does, operation by operation. */
  | ApplyEvent;

/** Where the run's events and progress go (the command's output). */
export interface BackupListener {
  event(e: BackupEvent): void;
  /** What the run is doing, for the progress display: set here, drawn by whoever listens. */
  readonly progress: Progress;
}

export interface BackupOutcome {
  /** The disk's label. */
  label: string;
  /** Whether this was a dry run (its summary is what would be done). */
  dryRun: boolean;
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

export async function runBackup(o: BackupRun, out: BackupListener): Promise<BackupOutcome> {
  const { dest, db } = o.disk;
  const { roots, filter } = o.scan;
  const options = o.plan;
  const parityPct = o.parity.pct;
  const paritySlices = o.parity.slices;
  const withParity = parityPct > 0;
  const dryRun = o.dryRun;
  // A dry run's operations, recorded instead of carried out; null for a real run.
  const recorded: Operation[] | null = dryRun ? [] : null;
  const makeApplier: ApplierFactory = recorded
    ? (ctx) => new RecordingApplier(ctx, recorded, parityPct)
    : (ctx) => new Executor(ctx);
  const tell = (e: BackupEvent) => out.event(e);
  const phase = (name: string) => tell({ type: 'phase', name });
  phase('checked options');
  // The data paths are walked in a thread of their own while this one prepares the disk. A new
  // disk's backup is (nearly always) a first one, whose chunks are copied as they come: the scan is
  // held back from its first chunk, and let go below if the run turns out to have anything to compare.
  out.progress.begin('scanning');
  const scanning = scanInBackground(roots, filter, (n) => out.progress.phase === 'scanning' && out.progress.at(n, 0), {
    threads: o.scan.threads,
    chunkSize: o.scan.chunkSize,
    bound: o.disk.init ? AHEAD_CHUNKS : undefined,
  });
  let session: DiskSession;
  try {
    const open = recorded ? openDrySession : openDiskSession;
    const d = o.disk;
    session = open({ dest, db, init: d.init, force: options.force, label: d.label, encrypt: d.encrypt, key: d.key, fs: o.fs, settings: d.remember });
  } catch (err) {
    scanning.cancel();
    throw err;
  }
  phase('opened disk and catalogs');
  let pool: ParityPool | null = null;
  try {
    const { info } = session;
    tell({ type: 'disk-opened', dest, volume: info.volume, label: info.label, copy: info.copy, sync: session.sync });
    for (const message of recoveryMessages(session)) tell({ type: 'disk-warning', message });
    if (session.leftovers > 0) tell({ type: 'leftovers-removed', count: session.leftovers });
    if (session.sync === 'imported' && session.disk.volumeStats(info.volume).files > 0) tell({ type: 'host-updated', label: info.label });
    if (session.sync === 'recovered') tell({ type: 'last-run-unfinished', label: info.label });
    const par = o.parity;
    pool = withParity && !recorded
      ? new ParityPool({ jobs: par.jobs, pct: parityPct, maxSlices: paritySlices, memoryBytes: par.memory, cfg: par.command ? { command: par.command } : undefined, creator: par.creator, fs: o.fs, feeders: true })
      : null;
    beginWrite(session);
    const execOpts = {
      root: session.root,
      volume: info.volume,
      host: session.host,
      disk: session.disk,
      parity: pool,
      parityPct,
      paritySlices,
      reserve: o.reserve + catalogRoom(diskCatalogPath(session.root), db, o.fs) + longerLog(session),
      // The run's own files that exist in a real run and not in its dry run: their room is in the reserve.
      reservedFiles: [`${diskCatalogPath(session.root)}-wal`, `${diskCatalogPath(session.root)}-shm`, journalPath(session.root), diskLockPath(session.dest)],
      storedBytes: info.encrypted ? cipherBytes : undefined,
      signal: o.signal,
      tell,
      fs: o.fs,
      checkDisk: () => checkDisk(session),
      // Known once the folders are scanned (below); the catch-up before goes by the disk's rows.
      isLibraryFolder: undefined as ((p: string) => boolean) | undefined,
    };
    // The volume's queued actions come first, and whatever its other copy did since (SPEC §5, §8).
    const pendingChanged = session.sync !== 'in-sync';
    let lacking: CatalogEntry[] = [];
    if (session.sync === 'behind') {
      if (!recorded) prepareFoldersFromHost({ root: session.root, volume: info.volume, disk: session.disk, host: session.host, fs: o.fs, warn: (message) => tell({ type: 'disk-warning', message }) });
      out.progress.begin('applying deferred actions');
      const caught = await catchUp(session, execOpts, makeApplier);
      out.progress.begin('scanning');
      tell({ type: 'caught-up', label: info.label, copyLabel: info.copyLabel, applied: caught.applied, changed: caught.changed, held: caught.held, dryRun });
      lacking = caught.lacking;
      if (caught.stopped) {
        if (!recorded) await finishWrite(session, 'backup', caught.stopped, {});
        const stopped: ExecutionResult['stopped'] = caught.stopped === 'disk-full' ? { reason: 'disk-full', writing: null, path: null } : { reason: caught.stopped };
        return { label: info.label, dryRun, summary: null, stopped, guarded: false, missingRoot: false };
      }
    }

    phase('caught up');
    // Files an older catalog stored as one by SHA-1 alone are read on both sides, before the quick
    // check takes them as unchanged.
    const sha1Links = await checkSha1Links(session, info.volume, roots, o.fs);
    for (const path of sha1Links.storedDiffers.keys()) tell({ type: 'sha1-collision', path });
    if (sha1Links.confirmed > 0) tell({ type: 'sha1-confirmed', count: sha1Links.confirmed });
    // Unchanged files stop here, compared chunk by chunk while the scan goes on. A copy that was
    // behind has been caught up by now: its disk catalog matches the volume for every file it holds.
    const disk = session.disk;
    const quick = new QuickCheck({ text: (lo, hi) => disk.quickText(info.volume, lo, hi), digest: (lo, hi) => disk.quickDigest(info.volume, lo, hi) });
    const folders = recorded ? null : new DirWriter({ root: session.root, volume: info.volume, disk: session.disk, host: session.host, fs: o.fs, warn: (message) => tell({ type: 'disk-warning', message }) });
    // Known once the scan is complete; until then every folder on the disk counts as the library's (none is pruned).
    let libraryFolders: Set<string> | null = null;
    execOpts.isLibraryFolder = (p) => libraryFolders === null || libraryFolders.has(p);
    let total = 0;
    let offset = 0;
    let fillsOnly = true;
    const progress = progressFor(pool, out);
    let applier: ReturnType<ApplierFactory> | null = null;
    const theApplier = () => {
      if (applier === null) {
        applier = makeApplier({ ...execOpts, skipFailures: true, progress: (done, _all, bytes, next) => progress(offset + done, total, bytes, next) });
        applier.resumeParity();
      }
      return applier;
    };
    let result = emptyResult();
    const applyPart = async (ops: Operation[], more: boolean) => {
      result = await theApplier().run(ops, { more });
      offset += ops.length;
      fillsOnly &&= onlyFilledLacking(ops, lacking, session.host, info.volume);
      return !result.stopped;
    };
    // Rows this run writes carry the generation it raised (catalog/changes.ts).
    const runGeneration = session.host.volume(info.volume)!.generation;
    const othersExist = session.host.volumes().some((v) => v.uuid !== info.volume);
    const hadSize = memoBySize((size) => hadSizeBefore(session.disk, size, runGeneration) || (othersExist && session.host.hasSizeElsewhere(size, info.volume)));
    let hashSkips = 0;
    // Folders a streamed chunk's files went into, looked at already.
    const narrowed = new Set<string>();
    // A dry run streams as the real run does: the same pipeline, its applier recording instead.
    const stream = chunkStreamFor(session, info.volume, roots, lacking, sha1Links.storedDiffers.size, () => ({
      volume: info.volume,
      options,
      fs: session.fs,
      hadSize,
      onSkip: (skip) => {
        hashSkips++;
        tell({ type: 'plan-skipped', skip, dryRun });
      },
      beforeWrite: (root, records) => folders?.makeNarrowFirst(foldersOf(root, records, narrowed, o.fs)),
      apply: async (ops) => {
        if (offset === 0) out.progress.begin('copying');
        total = Math.max(total, offset + ops.length);
        return applyPart(ops, true);
      },
      release: () => scanning.release(),
    }));
    disk.mapReads(stream === null);
    if (stream !== null) {
      // A first backup: each chunk is copied as it comes, and the scan waits while a few are held.
      scanning.bound(AHEAD_CHUNKS);
      scanning.onChunk((root, chunk) => stream.add(root, chunk));
    } else {
      // The quick check keeps what it is handed until the plan: nothing holds the scan back.
      scanning.bound(null);
      scanning.onChunk((root, chunk) => quick.add(root, chunk));
    }
    let packed: PackedScan[];
    try {
      // A chunk that failed ends the run now (the `finally` below stops the scan's threads).
      packed = await (stream === null ? scanning.result : Promise.race([scanning.result, stream.failed]));
      await stream?.finished();
    } catch (err) {
      // Whatever ended it, no chunk is planned after it, and every one that waits is let go.
      stream?.stop();
      await stream?.finished().catch(() => {});
      throw err;
    } finally {
      disk.mapReads(false);
    }
    // The library's folders: from the file scan's own walk, or listed now where it did not record them (dirs/scan.ts).
    const dirScans = packed.map((p, i) => dirScanFromFiles(p) ?? scanDirs(roots[i]!, filter));
    const held = stream === null ? '' : `; copied as scanned, at most ${stream.mostWaiting} chunk(s) waiting`;
    phase(`scanned (${dirScans.reduce((n, d) => n + d.dirs.length, 0)} folders${held})`);
    const scanSkips = packed.flatMap((s) => s.skipped);
    for (const entry of scanSkips) tell({ type: 'scan-skipped', entry, dryRun });
    // Special files (FIFOs, sockets, devices) cannot be archived at all: a warning is all. The
    // unreadable ones alone make the exit status 1.
    const skipped = scanSkips.filter((s) => s.reason !== 'special');
    const checked = stream !== null ? stream.rest(packed) : quick.resultInParts(packed);
    // From here on the parts hold what is left of the scan; the rest can go.
    for (const s of packed) s.chunks = [];
    // Directories: made on the disk (each never wider than its own mode) before any file goes in.
    // The volume's folder rows, read once per catalog; again only when the run wrote some between.
    let folderRows = readFolderRows(disk, session.host, info.volume);
    const planFolders = (mayRemove: boolean) =>
      planDirs(dirScans, (r) => volumeFolders(folderRows, r), {
        clean: options.clean, excluded: dirExcludedBy(filter, roots), mayRemove,
        replacedNow: (root, p) => replacedBelow(root, p, lstatOrNull),
      });
    libraryFolders = new Set(dirScans.flatMap((s) => s.dirs.map((d) => d.path)));
    const firstFolders = planFolders(true);
    // Those a streamed chunk's files went into were made already.
    folders?.makeNarrowFirst(narrowed.size === 0 ? firstFolders : { ...firstFolders, wanted: firstFolders.wanted.filter((d) => !narrowed.has(d.path)) });
    const view = catalogView(session.host, session.disk, info.volume, roots, checked.keep, lacking);
    if (sha1Links.storedDiffers.size > 0) view.storedDiffers = sha1Links.storedDiffers;
    phase(`loaded catalog (${checked.unchanged} unchanged by quick check)`);
    // Made before the plan, as always (it resumes the parity earlier runs left), unless a stream made it.
    theApplier();
    const p = await planAndApply({
      fs: session.fs,
      scans: checked.scans,
      view,
      hadSize,
      volume: info.volume,
      options,
      excluded: excludedBy(filter, roots),
      onSkip: (skip) => {
        hashSkips++;
        tell({ type: 'plan-skipped', skip, dryRun });
      },
      planned: (first, totals) => {
        for (const g of first.guarded) tell({ type: 'guarded', reason: g.reason });
        phase(`planned (${first.filesRead ?? 0} file(s) read to decide)`);
        total = offset + totals.files;
        out.progress.begin('copying', { files: total, bytes: (stream?.bytesToCopy ?? 0) + totals.bytes });
      },
      apply: applyPart,
    });
    if (stream !== null) {
      // The chunks copied during the scan count in the run's figures.
      addCounts(p.counts, stream.counts);
      p.bytesToCopy += stream.bytesToCopy;
      p.filesRead = (p.filesRead ?? 0) + stream.filesRead;
    }
    out.progress.poll = null;
    // Then their removals and exact metadata, deepest first: after every write into them.
    // A full disk still gets its folders' metadata (no space needed); removals wait for a complete run.
    // Folder rows are written only by the operations applied and for folders replaced by files.
    if (offset > 0 || firstFolders.replaced.length > 0) folderRows = readFolderRows(disk, session.host, info.volume);
    const folderPlan = planFolders(p.guarded.length === 0 && !result.stopped);
    if (folders !== null && result.stopped?.reason !== 'interrupted') folders.finish(folderPlan, Date.now(), { rows: folderRows, diskUntouched: offset === 0 });
    const summary = summarize(p, result, skipped.length + hashSkips, o.started, null, session.fs);
    summary.directories = folderPlan.counts;
    if (recorded) {
      const guarded = p.guarded.length > 0;
      return { label: info.label, dryRun, copyLabel: info.copyLabel, summary, stopped: result.stopped, guarded, missingRoot: false, ops: recorded };
    }
    out.progress.begin('writing catalogs');
    const folderChanges = folderPlan.counts.added + folderPlan.counts.updated + folderPlan.counts.removed;
    const changed = result.done > 0 || pendingChanged || folderChanges > 0;
    const volumeChanged = (result.done > 0 && !fillsOnly) || folderChanges > 0;
    phase(`executed (${p.filesRead ?? 0} file(s) read to decide in all)`);
    summary.freeBytes = await finishWrite(session, 'backup', result.stopped?.reason ?? 'ok', summary, changed, volumeChanged, (message) => tell({ type: 'disk-warning', message }));
    phase('finished');
    return {
      label: info.label,
      dryRun,
      copyLabel: info.copyLabel,
      shelf: shelfFacts(readShelf(session.host, Date.now(), undefined, { counts: false }), info.volume),
      summary,
      stopped: result.stopped,
      guarded: p.guarded.length > 0,
      missingRoot: roots.some((r) => !session.fs.existsSync(r) || !session.fs.statSync(r).isDirectory()),
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
    return w !== undefined && now !== undefined && sameEntry(now, w, 'source');
  });
}

/** What the progress line is told after each operation; once every file is copied, the parity queue. */
function progressFor(parity: ParityPool | null, out: BackupListener): (done: number, total: number, bytes: number, next?: Operation) => void {
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
  const pages = Math.min(LONG_LOG_PAGES, Math.max(SHORT_LOG_PAGES, Math.floor(freeBytes(session.root, session.fs) / 64 / page)));
  session.disk.setCheckpointPages(pages);
  return pages * page;
}

/**
 * The chunk stream of a first backup (stream.ts ChunkStream), or null when the run has anything
 * to compare: rows of the volume on its disk, rows of other volumes under the data paths, files
 * the catch-up found lacking, links an older catalog made by SHA-1 alone.
 */
function chunkStreamFor(
  session: DiskSession,
  volume: string,
  roots: string[],
  lacking: CatalogEntry[],
  sha1Differs: number,
  options: () => Omit<ConstructorParameters<typeof ChunkStream>[0], 'view'>,
): ChunkStream | null {
  if (lacking.length > 0 || sha1Differs > 0 || session.disk.volumeStats(volume).files > 0 || session.disk.dirsOf(volume).length > 0) return null;
  const view = catalogView(session.host, session.disk, volume, roots, new Set(), []);
  return view.entries.length === 0 ? new ChunkStream({ ...options(), view }) : null;
}

/**
 * The folders a chunk's files go into (up to their data path), each looked at once a run
 * (`seen`), parents first: made now when they are narrower than usual (DirWriter.makeNarrowFirst),
 * so that no file is ever written into a folder wider than the library's.
 */
function foldersOf(root: string, records: FileRecord[], seen: Set<string>, fs: Fsx): DirPlan {
  const wanted: DirRecord[] = [];
  for (const r of records) {
    for (let d = path.dirname(r.path); !seen.has(d); d = path.dirname(d)) {
      seen.add(d);
      let st: BigIntStats | null = null;
      try {
        st = fs.lstatSync(fsPath(d), { bigint: true }) as BigIntStats;
      } catch {
        // gone since the scan: its files will be found gone too
      }
      if (st?.isDirectory()) wanted.push(dirRecordOf(d, st));
      if (d.length <= root.length) break;
    }
  }
  const depth = (p: string) => p.split('/').length;
  wanted.sort((a, b) => depth(a.path) - depth(b.path));
  return { wanted, remove: [], replaced: [], counts: { added: 0, updated: 0, removed: 0, kept: 0 } };
}
