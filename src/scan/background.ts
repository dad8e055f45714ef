import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { ExclusionFilter, Rule } from './exclude.js';
import type { PackedFolders, PackedScan, ScanChunk, SkippedEntry } from './record.js';
import { errorMessage, type ScanPart } from './scanner.js';
import { listStable, nodeLister } from './listing.js';
import { comparePaths } from '../fsx/paths.js';
// The real layer: this module plans and runs the scan's worker threads, which no layer can be handed to.
import { realFs as fs } from '../fsx/fsx.js';
import { pathRange } from '../catalog/range.js';
import { scanThreads, takeScanThread } from './threads.js';
import { chunkFromPost, type WireChunk } from './packed.js';

/** What the main thread sends a scanning thread: a part of a data path, and the rules to apply. */
export interface ScanTask {
  id: number;
  root: string;
  part: ScanPart;
  filter: { rules: Rule[]; regexes: string[] } | null;
  /** Files per chunk; undefined: packed.ts's CHUNK. */
  chunkSize: number | undefined;
  /**
   * Shared by every thread of the scan: [chunks posted and not yet released, the most there may
   * be]. A thread that finds more waits before it walks on (BackgroundScan.bound).
   */
  held: Int32Array;
}

/** Where ScanTask.held keeps what. */
export const HELD = { count: 0, most: 1 } as const;
/** ScanTask.held's most when nothing bounds the scan. */
const UNBOUNDED = 0x7fffffff;

/** What a scanning thread posts: progress within a task, one of its chunks, or its end. */
export interface ScanReply {
  id: number;
  progress?: number;
  /** Its text as bytes when the walk gave bytes (packed.ts chunkToPost). */
  chunk?: ScanChunk | WireChunk;
  done?: { complete: boolean; skipped: SkippedEntry[]; folders?: PackedFolders[] };
}

export interface BackgroundScan {
  /**
   * The data paths' scans, in the order of the roots, with all their chunks in byte order, but
   * none when onChunk took them over.
   */
  result: Promise<PackedScan[]>;
  /**
   * Hands every chunk to fn, those that came already and each one that comes, and keeps none: the
   * caller compares them with the catalog while the scan goes on. Chunks of a root may come out
   * of order.
   */
  onChunk(fn: (root: string, chunk: ScanChunk) => void): void;
  /**
   * From now on the threads wait while `chunks` chunks handed over are not yet released (null: no
   * bound, threads waiting walk on): a consumer that keeps none of them (a first backup copying as
   * the scan goes) then holds a few chunks, not the whole scan. While bounded, every chunk handed
   * over, before or after, must be released.
   */
  bound(chunks: number | null): void;
  /** A chunk handed over is done with. */
  release(): void;
  /** Stops the scan (when the run fails before it needs it). */
  cancel(): void;
}

/** Directories whose subtrees are handed out, at least this many per thread when the tree has them. */
const PARTS_PER_THREAD = 4;
/** How deep the tree is opened up to find them. */
const MAX_SPLIT_DEPTH = 3;

interface Unit {
  dir: string;
  rel: string;
  name: string;
  isDir: boolean;
  /** When the listing of dir that found this entry began (ScanPart.since). */
  since: number;
}

/**
 * A directory's entries in walk order, or null when it is better scanned whole. The listing is a
 * stable one (listStable): the parts cut from it name every entry the directory had.
 */
function listUnits(dir: string, rel: string): Unit[] | null {
  const stable = listStable(nodeLister(fs), dir, undefined, (d) => fs.statSync(d).ctimeMs);
  if (typeof stable === 'string') return null; // the thread that scans it reports why
  const { listing, started: since } = stable;
  const key = (u: Unit) => (u.isDir ? u.name + '/' : u.name);
  return listing.names
    .map((name, i) => ({ dir, rel, name, isDir: listing.isDir(i), since }))
    .sort((a, b) => comparePaths(key(a), key(b)));
}

/**
 * Cuts a data path into parts that tile its byte-order range, each a run of consecutive entries of
 * one directory (with the subtrees below them). The top of the tree is opened up (a level at a
 * time, at most MAX_SPLIT_DEPTH deep) until there are enough subtrees to keep every thread busy;
 * excluded directories are left out here as the walk would leave them out.
 */
export function planParts(root: string, filter: ExclusionFilter | undefined, want: number, opened: string[] = []): ScanPart[] {
  const [rootLo, rootHi] = pathRange(root);
  const whole: ScanPart[] = [{ dir: root, rel: '', lo: rootLo, hi: rootHi }];
  if (want <= 1) return whole;
  let units = listUnits(root, '');
  if (units === null) return whole;
  const excluded = (u: Unit) => u.isDir && filter !== undefined && !filter.empty && filter.excludesDir(u.rel + u.name);
  units = units.filter((u) => !excluded(u));
  for (let depth = 1; depth < MAX_SPLIT_DEPTH && units.filter((u) => u.isDir).length < want; depth++) {
    const next: Unit[] = [];
    for (const u of units) {
      const inner = u.isDir ? listUnits(path.join(u.dir, u.name), `${u.rel}${u.name}/`) : null;
      if (inner === null) next.push(u);
      else {
        // Opened up here: no part walks into it (its record is the caller's to read, `opened`).
        opened.push(path.join(u.dir, u.name));
        for (const v of inner) if (!excluded(v)) next.push(v);
      }
    }
    if (next.length === units.length && next.every((u, i) => u === units![i])) break;
    units = next;
  }
  // Consecutive entries of one directory make a part, with about the same number of subtrees in each.
  const perPart = Math.max(1, Math.ceil(units.filter((u) => u.isDir).length / want));
  const parts: ScanPart[] = [];
  let subtrees = 0;
  for (const u of units) {
    const last = parts[parts.length - 1];
    if (last !== undefined && last.dir === path.join(u.dir) && (subtrees < perPart || !u.isDir)) {
      last.names!.push(u.name);
      if (u.isDir) subtrees++;
      continue;
    }
    const at = path.join(u.dir, u.name);
    const lo = parts.length === 0 ? rootLo : u.isDir ? at + '/' : at;
    if (last) last.hi = lo;
    parts.push({ dir: path.join(u.dir), rel: u.rel, names: [u.name], since: u.since, lo, hi: rootHi });
    subtrees = u.isDir ? 1 : 0;
  }
  return parts.length > 1 ? parts : whole;
}

function rootExists(root: string): { exists: boolean; skipped: SkippedEntry[] } {
  try {
    return { exists: fs.statSync(root).isDirectory(), skipped: [] };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { exists: false, skipped: [] };
    return { exists: false, skipped: [{ path: root, reason: 'unreadable', message: errorMessage(code) }] };
  }
}

/**
 * Scans the data paths in threads of their own, so that the main thread can meanwhile open the
 * catalogs, catch the disk up and compare what was scanned so far. Each data path is cut into
 * parts (planParts) that the threads take one at a time; on a no-change run the lstat calls are
 * nearly all the work, and they then keep every core busy.
 */
export function scanInBackground(
  roots: string[],
  filter: ExclusionFilter | undefined,
  onProgress?: (files: number) => void,
  opts: { threads?: number; chunkSize?: number; bound?: number } = {},
): BackgroundScan {
  const threads = scanThreads(opts.threads);
  const tasks: ScanTask[] = [];
  const held = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  // Bounded from the first chunk when the caller knows it will release them (BackgroundScan.bound).
  held[HELD.most] = opts.bound === undefined ? UNBOUNDED : Math.max(1, opts.bound);
  const rules = filter && !filter.empty ? filter.spec : null;
  const scans: PackedScan[] = roots.map((root) => {
    const r = path.resolve(root);
    const there = rootExists(r);
    const opened: string[] = [];
    if (there.exists) for (const part of planParts(r, filter, threads * PARTS_PER_THREAD, opened)) tasks.push({ id: tasks.length, root: r, part, filter: rules, chunkSize: opts.chunkSize, held });
    // Folders come from the walk's parts (every one must bring them, or the caller lists them itself).
    return { root: r, exists: there.exists, complete: there.exists, skipped: there.skipped, chunks: [], folders: [], openedFolders: opened };
  });
  const byRoot = new Map(scans.map((s) => [s.root, s]));
  const progress = new Map<number, number>();
  let consumer: ((root: string, chunk: ScanChunk) => void) | null = null;
  let next = 0;
  let open = tasks.length;
  let settled = false;
  const workers: Worker[] = [];
  const stop = () => {
    settled = true;
    // A thread waiting for room must not wait on: it is let go, then stopped.
    Atomics.store(held, HELD.most, UNBOUNDED);
    Atomics.notify(held, HELD.count);
    for (const w of workers) void w.terminate();
  };

  const result = new Promise<PackedScan[]>((resolve, reject) => {
    const finish = () => {
      for (const s of scans) {
        s.chunks.sort((a, b) => comparePaths(a.lo, b.lo));
        s.skipped.sort((a, b) => comparePaths(a.path, b.path));
      }
      stop();
      resolve(scans);
    };
    if (open === 0) return finish();
    const give = (w: Worker) => {
      if (next < tasks.length) w.postMessage(tasks[next++]);
    };
    for (let i = 0; i < Math.min(threads, tasks.length); i++) {
      const w = takeScanThread();
      workers.push(w);
      w.on('message', (m: ScanReply) => {
        const task = tasks[m.id]!;
        const scan = byRoot.get(task.root)!;
        if (m.progress !== undefined && onProgress) {
          progress.set(m.id, m.progress);
          let n = 0;
          for (const v of progress.values()) n += v;
          onProgress(n);
        }
        if (m.chunk) {
          const chunk = chunkFromPost(m.chunk);
          // A consumer takes chunks over; without one they are kept for the result.
          if (consumer) consumer(scan.root, chunk);
          else scan.chunks.push(chunk);
        }
        if (m.done) {
          if (!m.done.complete) scan.complete = false;
          for (const k of m.done.skipped) scan.skipped.push(k);
          if (m.done.folders === undefined) delete scan.folders;
          else scan.folders?.push(...m.done.folders);
          if (--open === 0) finish();
          else give(w);
        }
      });
      w.on('error', (err) => {
        if (settled) return;
        stop();
        reject(err);
      });
      w.on('exit', (code) => {
        if (settled) return;
        stop();
        reject(new Error(`a scanning thread stopped (exit status ${code}) before it finished`));
      });
      // Two parts in hand, so that a thread never waits for this one to send the next.
      give(w);
      give(w);
    }
  });
  // A cancelled scan is never awaited: its rejection must not surface as unhandled.
  result.catch(() => {});
  return {
    result,
    onChunk: (fn) => {
      consumer = fn;
      for (const s of scans) {
        for (const c of s.chunks) fn(s.root, c);
        s.chunks = [];
      }
    },
    bound: (chunks) => {
      Atomics.store(held, HELD.most, chunks === null ? UNBOUNDED : Math.max(1, chunks));
      Atomics.notify(held, HELD.count);
    },
    release: () => {
      Atomics.sub(held, HELD.count, 1);
      Atomics.notify(held, HELD.count);
    },
    cancel: stop,
  };
}
