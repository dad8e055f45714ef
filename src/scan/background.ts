import { Worker } from 'node:worker_threads';
import type { ExclusionFilter, Rule } from './exclude.js';
import type { PackedScan, ScanChunk } from './record.js';

export interface ScanRequest {
  roots: string[];
  filter: { rules: Rule[]; regexes: string[] } | null;
}

/** What the scan thread posts: progress, a chunk of a data path, a data path's end, or the end. */
export interface ScanReply {
  progress?: number;
  /** Index into the roots. */
  root?: number;
  chunk?: ScanChunk;
  /** The data path's scan without its chunks (those came before, one by one). */
  scan?: PackedScan;
  done?: boolean;
}

export interface BackgroundScan {
  /** The data paths' scans, in the order of the roots, with all their chunks. */
  result: Promise<PackedScan[]>;
  /**
   * Receives every chunk, those that came already and each one that comes: the caller compares
   * them with the catalog while the scan goes on.
   */
  onChunk(fn: (root: string, chunk: ScanChunk) => void): void;
  /** Stops the scan (when the run fails before it needs it). */
  cancel(): void;
}

/**
 * Scans the data paths in a thread of their own, so that the main thread can meanwhile open the
 * catalogs, catch the disk up and compare what was scanned so far: on two cores a no-change run
 * then costs about the longer of the two instead of their sum.
 */
export function scanInBackground(roots: string[], filter: ExclusionFilter | undefined, onProgress?: (files: number) => void): BackgroundScan {
  const request: ScanRequest = { roots, filter: filter && !filter.empty ? filter.spec : null };
  const worker = new Worker(new URL('./scan-worker.js', import.meta.url), { workerData: request });
  const chunks: ScanChunk[][] = roots.map(() => []);
  const scans: PackedScan[] = [];
  let consumer: ((root: string, chunk: ScanChunk) => void) | null = null;
  let settled = false;
  const result = new Promise<PackedScan[]>((resolve, reject) => {
    worker.on('message', (m: ScanReply) => {
      if (m.progress !== undefined) onProgress?.(m.progress);
      if (m.chunk && m.root !== undefined) {
        chunks[m.root]!.push(m.chunk);
        consumer?.(roots[m.root]!, m.chunk);
      }
      if (m.scan && m.root !== undefined) scans.push({ ...m.scan, chunks: chunks[m.root]! });
      if (m.done) {
        settled = true;
        resolve(scans);
      }
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the scanning thread stopped (exit status ${code}) before it finished`));
    });
  });
  // A cancelled scan is never awaited: its rejection must not surface as unhandled.
  result.catch(() => {});
  return {
    result,
    onChunk: (fn) => {
      consumer = fn;
      chunks.forEach((list, i) => list.forEach((c) => fn(roots[i]!, c)));
    },
    cancel: () => {
      settled = true;
      void worker.terminate();
    },
  };
}
