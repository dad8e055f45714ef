/**
 * The generation protocol, in one place. A volume's generation (its row in `volumes`) counts the
 * runs that changed what the volume holds; each copy's disk catalog says in meta which generation
 * it caught up to, and whether a writing run on it did not finish. A copy is behind (its lag) when
 * its generation is below the volume's; a copy whose run did not finish is trusted over the host
 * for its own volume's rows. This module decides a volume's generation and a copy's lag;
 * archive/session.ts locks, opens and applies what it decides.
 */
import { connectionOf } from './handle.js';
import type { CopyRow, RunRow, VolumeRow } from './rows.js';

/** What this module needs of a Catalog (it names no Catalog class: no import circle). */
interface Catalog {
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
}

/** What this module needs of a catalog that records volumes. */
interface VolumeBook extends Catalog {
  volume(uuid: string): VolumeRow | undefined;
  putVolume(v: VolumeRow): void;
  transaction<T>(fn: () => T): T;
}

/** Meta key of a disk catalog: the generation of its volume it holds. */
const GENERATION = 'generation';
/** Meta key of a disk catalog: set while a writing run is under way (its start time). */
const RUN_IN_PROGRESS = 'run-in-progress';

/** The generation of its volume that a copy's disk catalog holds (what it caught up to last). */
export function diskGeneration(disk: Catalog): number {
  return Number(disk.getMeta(GENERATION) ?? '0');
}

/** Sets the generation a copy's disk catalog says it caught up to (0: compare it whole with its volume next time). */
export function setDiskGeneration(disk: Catalog, generation: number): void {
  disk.setMeta(GENERATION, String(generation));
}

/** Whether a writing run on this copy began and did not finish (a crash, a pulled disk). */
export function runUnfinished(disk: Catalog): boolean {
  return disk.getMeta(RUN_IN_PROGRESS) !== undefined;
}

/**
 * A writing run begins on a copy: until `markRunFinished`, the next run trusts the disk. A copy
 * that is caught up takes the run's generation now; one that is behind (`generation` null) keeps
 * its old one until it has caught up.
 */
export function markRunStarted(disk: Catalog, generation: number | null): void {
  if (generation !== null) setDiskGeneration(disk, generation);
  disk.setMeta(RUN_IN_PROGRESS, new Date().toISOString());
}

/** A writing run ended on a copy, caught up to `generation` (null: its generation stays). */
export function markRunFinished(disk: Catalog, generation: number | null): void {
  if (generation !== null) setDiskGeneration(disk, generation);
  connectionOf(disk).prepare('DELETE FROM meta WHERE key = ?').run(RUN_IN_PROGRESS);
}

/** A volume's generation moves on: its copies are behind until they catch up. */
export function raiseGeneration(host: object, volume: string): void {
  connectionOf(host).prepare('UPDATE volumes SET generation = generation + 1 WHERE uuid = ?').run(volume);
}

/** How the host catalog and the mounted copy's own catalog stood against each other at the start. */
export type SyncState =
  /** Same generation: the host knows this copy as it is. */
  | 'in-sync'
  /** The host did not know this volume, or knew an older state of it: the disk catalog was imported. */
  | 'imported'
  /** The last run on this copy did not finish: its disk catalog was taken as the truth. */
  | 'recovered'
  /** The volume changed since this copy was last mounted (other copy, deferred actions). */
  | 'behind';

/**
 * Which catalog speaks for the volume when a copy is mounted, and the volume's generation from
 * now on (the newer of the two). `queuedActions`: actions the host holds back for this volume.
 */
export function syncState(disk: Catalog, hostVolume: VolumeRow | undefined, queuedActions: number): { state: SyncState; generation: number } {
  const diskGen = diskGeneration(disk);
  let state: SyncState;
  if (!hostVolume || diskGen > hostVolume.generation) state = 'imported';
  else if (diskGen < hostVolume.generation) state = 'behind';
  else if (runUnfinished(disk)) state = 'recovered';
  else state = 'in-sync';
  // Queued actions mean the copy is behind whatever the generations say (a belt to the executor's braces).
  if (state === 'in-sync' && queuedActions > 0) state = 'behind';
  return { state, generation: Math.max(diskGen, hostVolume?.generation ?? 0) };
}

/**
 * A writing run begins on a copy: the volume's generation moves on by one in the host catalog, and
 * the copy is marked as written to (taking the new generation only when `caughtUp`). Returns the
 * generation before and the new one.
 */
export function beginRunGeneration(host: VolumeBook, disk: VolumeBook, volume: string, caughtUp: boolean): { before: number; generation: number } {
  const before = host.volume(volume)?.generation ?? 0;
  const generation = before + 1;
  host.transaction(() => host.putVolume({ ...host.volume(volume)!, generation }));
  disk.transaction(() => {
    // A copy that is behind keeps its old generation until it has caught up.
    markRunStarted(disk, caughtUp ? generation : null);
    disk.putVolume({ ...host.volume(volume)! });
  });
  return { before, generation };
}

/**
 * A writing run ends: a run that left the volume as it was (nothing done, or only catching this
 * copy up) gives the volume back the generation it began with (`before`), so the other copy, in
 * step with it, is not taken as behind next time. Returns the generation the copy is now in step
 * with (the volume's when caught up, else the one its catalog holds); the caller records it with
 * `markRunFinished` and the copy's row.
 */
export function endRunGeneration(
  host: VolumeBook,
  disk: VolumeBook,
  volume: string,
  caughtUp: boolean,
  before: number | undefined,
  volumeChanged: boolean,
): number {
  if (!volumeChanged && caughtUp && before !== undefined) {
    const back = { ...host.volume(volume)!, generation: before };
    host.transaction(() => host.putVolume(back));
    disk.transaction(() => disk.putVolume(back));
  }
  return caughtUp ? host.volume(volume)!.generation : diskGeneration(disk);
}

/** How much a copy lacks: the runs on its other copies since it was last synced, and what they changed. */
export interface Lag {
  runs: number;
  files: number;
  bytes: number;
  /** Days since the first change this copy misses; 0 when it misses none. */
  days: number;
}

const DAY_MS = 86_400_000;

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Files a run changed, from its summary. */
export function changedFiles(s: Record<string, unknown>): number {
  return num(s.added) + num(s.modified) + num(s.renamed) + num(s.linked) + num(s.removed);
}

/**
 * A copy is behind when its generation is older than its volume's; what it lacks is what the runs
 * on its twin did after its last sync (backup and apply runs that changed something).
 */
export function copyLag(runs: readonly RunRow[], c: CopyRow, volumeGeneration: number, now: number): Lag {
  const lag: Lag = { runs: 0, files: 0, bytes: 0, days: 0 };
  if (c.generation >= volumeGeneration) return lag;
  const since = c.lastSync ?? '';
  let first: number | null = null;
  for (const r of runs) {
    if (r.volume !== c.volume || r.copy === c.copy || r.finished <= since) continue;
    if (r.command !== 'backup' && r.command !== 'apply') continue;
    // A run that changed nothing leaves nothing to catch up.
    if (changedFiles(r.summary) + num(r.summary.bytesCopied) + num(r.summary.applied) + num(r.summary.changed) === 0) continue;
    lag.runs++;
    lag.files += changedFiles(r.summary);
    lag.bytes += num(r.summary.bytesCopied);
    const at = Date.parse(r.finished);
    if (first === null || at < first) first = at;
  }
  // Behind with no run found (the twin's log is on another host): count from this copy's last sync.
  const from = first ?? (c.lastSync ? Date.parse(c.lastSync) : null);
  lag.days = from === null ? 0 : Math.max(0, Math.floor((now - from) / DAY_MS));
  return lag;
}
