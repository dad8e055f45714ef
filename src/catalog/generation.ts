/**
 * The generation protocol, in one place. A volume's generation (its row in `volumes`) counts the
 * runs that changed what the volume holds; each copy's disk catalog says in meta which generation
 * it caught up to, and whether a writing run on it did not finish. A copy is behind (its lag) when
 * its generation is below the volume's; a copy whose run did not finish is trusted over the host
 * for its own volume's rows (archive/session.ts decides what to do with these answers).
 */
import { connectionOf } from './handle.js';

/** What this module needs of a Catalog (it names no Catalog class: no import circle). */
interface Catalog {
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
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
