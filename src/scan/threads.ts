import os from 'node:os';
import { Worker } from 'node:worker_threads';

/** Where threads started early wait to be taken (shared by the bundles, which each have own modules). */
const WAITING = Symbol.for('blaine.scan-threads');

type Holder = { [WAITING]?: Worker[] };

/** The number asked for (at most 64), else one thread per core (at most 8). */
export function scanThreads(wanted?: number): number {
  return wanted !== undefined && Number.isInteger(wanted) && wanted >= 1 ? Math.min(wanted, 64) : Math.max(1, Math.min(os.availableParallelism(), 8));
}

function newThread(): Worker {
  return new Worker(new URL('./scan-worker.js', import.meta.url));
}

/**
 * Starts the scanning threads before they are needed: a thread takes longer to start than the
 * rest of the program takes to load, so bin/blaine starts them first for a backup.
 */
export function startScanThreads(n: number): void {
  const holder = globalThis as Holder;
  holder[WAITING] ??= Array.from({ length: n }, newThread);
}

/** A thread started early, or a new one. */
export function takeScanThread(): Worker {
  return (globalThis as Holder)[WAITING]?.shift() ?? newThread();
}
