import type Database from 'better-sqlite3';
import type { CatalogEntry } from './entry.js';
import { connectionOf } from './handle.js';
import { bytesToName } from '../fsx/name-bytes.js';
import { sameEntry } from './same.js';
import { ENTRY_FROM, ENTRY_SELECT, rowToEntry, type EntryRow, type VolumeRow } from './rows.js';
import { comparePaths } from '../fsx/paths.js';

/** What this file needs of a Catalog: catalog.ts calls in here, so it names no Catalog itself (no import circle). */
interface Catalog {
  get(volume: string, p: string): CatalogEntry | undefined;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  volume(uuid: string): VolumeRow | undefined;
}

/**
 * Which rows of a volume changed since a generation. Every row written carries its volume's
 * generation at the time (column `gen`), every row removed leaves a tombstone with it. A copy whose
 * catalog was in step at generation G then differs from the volume only at rows and tombstones
 * newer than G: the weekly swap reads those instead of both whole catalogs.
 *
 * Rows from before the tracking (a catalog migrated from schema 3, a volume imported from a disk)
 * carry no history: `changes-from:<volume>` in meta says from which generation on the history is
 * complete, and an older copy needs the whole comparison (Catalog.differences).
 */
const KEY = (volume: string) => `changes-from:${volume}`;

/** Starts the history of a volume's rows at its generation now (all rows were just written anew). */
export function trackChangesFrom(cat: Catalog, volume: string): void {
  cat.setMeta(KEY(volume), String(cat.volume(volume)?.generation ?? 0));
}

/** The generation from which the catalog knows every change of the volume's rows; undefined: none. */
export function changesKnownFrom(cat: Catalog, volume: string): number | undefined {
  const v = cat.getMeta(KEY(volume));
  return v === undefined ? undefined : Number(v);
}

/**
 * The rows in which a copy's catalog (`copy`, in step at generation `since`) and the volume's state
 * (`volumeState`, the host catalog) differ, found among the rows the volume changed after `since`:
 * the same answer as Catalog.differences, from the changed rows only. Null when `volumeState` does
 * not know every change since then, so that the caller compares whole catalogs instead.
 */
export function differencesSince(
  copy: Catalog,
  volumeState: Catalog,
  volume: string,
  since: number,
): { mine: CatalogEntry[]; theirs: CatalogEntry[] } | null {
  const from = changesKnownFrom(volumeState, volume);
  if (from === undefined || since < from) return null;
  // The volume's side comes whole from the one read that finds what changed (the rows carry their
  // generation): no second lookup of each path in the host catalog. A folder's row is not a file's
  // (Catalog.get leaves folders out): its path is still compared, against no file.
  const reads = changedReads(volumeState);
  const wantedAt = new Map<string, CatalogEntry | undefined>();
  for (const r of reads.rows.all({ volume, since }) as EntryRow[]) {
    const w = rowToEntry(r);
    wantedAt.set(w.path, w.kind === 'dir' ? undefined : w);
  }
  for (const b of reads.tombstones.all({ volume, since }) as Buffer[]) {
    const p = bytesToName(b);
    if (!wantedAt.has(p)) wantedAt.set(p, undefined);
  }
  const paths = [...wantedAt.keys()].sort(comparePaths);
  const mine: CatalogEntry[] = [];
  const theirs: CatalogEntry[] = [];
  for (const p of paths) {
    const d = copy.get(volume, p);
    const w = wantedAt.get(p);
    if (d && w && sameEntry(d, w, 'row')) continue;
    if (d) mine.push(d);
    if (w) theirs.push(w);
  }
  return { mine, theirs };
}

/**
 * Drops the tombstones every copy of the volume that this catalog knows has seen (generation at
 * or below the oldest copy's): no catch-up will ask for them again.
 */
export function pruneTombstones(cat: Catalog, volume: string): void {
  connectionOf(cat)
    .prepare(
      `DELETE FROM tombstones WHERE vid = (SELECT id FROM volume_ids WHERE uuid = @volume) AND gen <= (SELECT min(generation) FROM copies WHERE volume = @volume)`,
    )
    .run({ volume });
}

/** Drops every tombstone (a disk's own catalog: nobody catches up from it). */
export function dropTombstones(cat: Catalog): void {
  connectionOf(cat).exec('DELETE FROM tombstones');
}

const changedStatements = new WeakMap<Catalog, { rows: Database.Statement; tombstones: Database.Statement }>();

/** The statements of differencesSince, prepared once per catalog: a volume's rows and tombstones newer than @since. */
function changedReads(cat: Catalog): { rows: Database.Statement; tombstones: Database.Statement } {
  let st = changedStatements.get(cat);
  if (!st) {
    const db = connectionOf(cat);
    st = {
      rows: db.prepare(`SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE v.uuid = @volume AND e.gen > @since`).raw(true),
      tombstones: db.prepare(`SELECT CAST(v.root || t.path AS BLOB) FROM volume_ids v CROSS JOIN tombstones t ON t.vid = v.id WHERE v.uuid = @volume AND t.gen > @since`).pluck(true),
    };
    changedStatements.set(cat, st);
  }
  return st;
}

const sizeBefore = new WeakMap<Catalog, Database.Statement>();

/**
 * Whether a file of this size with a known SHA-256 was catalogued before generation `gen` (rows written
 * by the run under way carry it): what Catalog.hasSize said when the run began, while the run adds rows.
 */
export function hadSizeBefore(cat: Catalog, size: number, gen: number): boolean {
  let st = sizeBefore.get(cat);
  if (!st) {
    st = connectionOf(cat).prepare('SELECT 1 FROM entries WHERE size = ? AND sha256 IS NOT NULL AND gen < ? LIMIT 1').pluck(true);
    sizeBefore.set(cat, st);
  }
  return st.get(size, gen) !== undefined;
}

/**
 * Remembers a run's answers per size. They cannot change while the run adds rows (those carry its
 * generation), and asking SQLite again walks every row of that size the run has added so far: in
 * a first backup of many small files, a cost that grows with the square of the files.
 */
export function memoBySize(ask: (size: number) => boolean): (size: number) => boolean {
  const known = new Map<number, boolean>();
  return (size) => {
    let answer = known.get(size);
    if (answer === undefined) {
      answer = ask(size);
      known.set(size, answer);
    }
    return answer;
  };
}
