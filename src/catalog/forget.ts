/**
 * Dropping what the host catalog knows of a lost volume or of one lost copy, and finding what only
 * that volume held. SQL stays in the catalog package; the decisions are src/forget's.
 */
import type { Catalog } from './catalog.js';
import type { CatalogEntry } from './entry.js';
import { connectionOf } from './handle.js';
import { bytesToName } from '../fsx/name-bytes.js';

/**
 * The rows of `volume` whose content no other volume holds: a file whose size and SHA-256 no other
 * volume's file has, a symlink no other volume holds at the same path with the same target.
 * Losing that volume loses these (unless a data path still has them).
 */
export function heldNowhereElse(cat: Catalog, volume: string): CatalogEntry[] {
  const paths = connectionOf(cat)
    .prepare(
      `SELECT CAST(vf.root || f.path AS BLOB) FROM volume_ids vf CROSS JOIN entries f ON f.vid = vf.id WHERE vf.uuid = ? AND f.kind != 2 AND NOT EXISTS (
         SELECT 1 FROM volume_ids vg CROSS JOIN entries g ON g.vid = vg.id WHERE g.vid != f.vid AND g.kind = f.kind AND (
           (f.kind = 0 AND f.sha256 IS NOT NULL AND g.size = f.size AND substr(g.sha256, 1, 4) = substr(f.sha256, 1, 4) AND g.sha256 = f.sha256) OR
           (f.kind = 1 AND g.path = substr(CAST(vf.root || f.path AS BLOB), length(vg.root) + 1)
             AND substr(CAST(vf.root || f.path AS BLOB), 1, length(vg.root)) = vg.root AND g.link_target IS f.link_target)))
       ORDER BY f.path`,
    )
    .pluck(true)
    .all(volume) as Buffer[];
  return paths.map((p) => cat.get(volume, bytesToName(p))!);
}

/**
 * Every row of a volume: its files, its deferred actions, its copies and the volume itself; the
 * volume goes on the list of forgotten ones (which snapshots carry to every disk). The run log stays.
 */
export function dropVolume(cat: Catalog, volume: string): void {
  cat.transaction(() => {
    const label = cat.volume(volume)?.label ?? '';
    connectionOf(cat).prepare('DELETE FROM entries WHERE vid = (SELECT id FROM volume_ids WHERE uuid = ?)').run(volume);
    for (const table of ['deferred', 'copies']) connectionOf(cat).prepare(`DELETE FROM ${table} WHERE volume = ?`).run(volume);
    connectionOf(cat).prepare('DELETE FROM volumes WHERE uuid = ?').run(volume);
    connectionOf(cat).prepare('INSERT OR REPLACE INTO forgotten_volumes (uuid, label, forgotten) VALUES (?, ?, ?)').run(volume, label, new Date().toISOString());
  });
}

export interface ForgottenVolume {
  uuid: string;
  label: string;
  /** When forget-disk dropped it (ISO time). */
  forgotten: string;
}

/** The volumes forget-disk dropped from this catalog (or from the host catalog it is a snapshot of). */
export function forgottenVolumes(cat: Catalog): ForgottenVolume[] {
  return connectionOf(cat).prepare('SELECT uuid, label, forgotten FROM forgotten_volumes ORDER BY forgotten, uuid').all() as ForgottenVolume[];
}

/** Takes in what another catalog says was forgotten (the earliest time wins: it is the same forget). */
export function rememberForgotten(cat: Catalog, list: readonly ForgottenVolume[]): void {
  const add = connectionOf(cat).prepare('INSERT OR IGNORE INTO forgotten_volumes (uuid, label, forgotten) VALUES (?, ?, ?)');
  cat.transaction(() => {
    for (const f of list) add.run(f.uuid, f.label, f.forgotten);
  });
}

/** A forgotten volume taken back on purpose (its own disk given to rebuild-catalog). */
export function readmitVolume(cat: Catalog, volume: string): void {
  connectionOf(cat).prepare('DELETE FROM forgotten_volumes WHERE uuid = ?').run(volume);
}

/** One copy of a volume; the volume, its files and its queue stay (its other copy holds them). */
export function dropCopy(cat: Catalog, copy: string): void {
  cat.transaction(() => connectionOf(cat).prepare('DELETE FROM copies WHERE copy = ?').run(copy));
}
