/**
 * Dropping what the host catalog knows of a lost volume or of one lost copy, and finding what only
 * that volume held. SQL stays in the catalog package; the decisions are src/forget's.
 */
import type { Catalog } from './catalog.js';
import type { CatalogEntry } from './entry.js';

/**
 * The rows of `volume` whose content no other volume holds: a file whose size and SHA-256 no other
 * volume's file has, a symlink no other volume holds at the same path with the same target.
 * Losing that volume loses these (unless a data path still has them).
 */
export function heldNowhereElse(cat: Catalog, volume: string): CatalogEntry[] {
  const paths = cat.db
    .prepare(
      `SELECT f.path FROM files f WHERE f.volume = ? AND f.kind != 'dir' AND NOT EXISTS (
         SELECT 1 FROM files g WHERE g.volume != f.volume AND g.kind = f.kind AND (
           (f.kind = 'file' AND f.sha256 IS NOT NULL AND g.size = f.size AND g.sha256 = f.sha256) OR
           (f.kind = 'symlink' AND g.path = f.path AND g.link_target IS f.link_target)))
       ORDER BY f.path`,
    )
    .pluck(true)
    .all(volume) as string[];
  return paths.map((p) => cat.get(volume, p)!);
}

/**
 * Every row of a volume: its files, its deferred actions, its copies and the volume itself; the
 * volume goes on the list of forgotten ones (which snapshots carry to every disk). The run log stays.
 */
export function dropVolume(cat: Catalog, volume: string): void {
  cat.transaction(() => {
    const label = cat.volume(volume)?.label ?? '';
    for (const table of ['files', 'deferred', 'copies']) cat.db.prepare(`DELETE FROM ${table} WHERE volume = ?`).run(volume);
    cat.db.prepare('DELETE FROM volumes WHERE uuid = ?').run(volume);
    cat.db.prepare('INSERT OR REPLACE INTO forgotten_volumes (uuid, label, forgotten) VALUES (?, ?, ?)').run(volume, label, new Date().toISOString());
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
  return cat.db.prepare('SELECT uuid, label, forgotten FROM forgotten_volumes ORDER BY forgotten, uuid').all() as ForgottenVolume[];
}

/** Takes in what another catalog says was forgotten (the earliest time wins: it is the same forget). */
export function rememberForgotten(cat: Catalog, list: readonly ForgottenVolume[]): void {
  const add = cat.db.prepare('INSERT OR IGNORE INTO forgotten_volumes (uuid, label, forgotten) VALUES (?, ?, ?)');
  cat.transaction(() => {
    for (const f of list) add.run(f.uuid, f.label, f.forgotten);
  });
}

/** A forgotten volume taken back on purpose (its own disk given to rebuild-catalog). */
export function readmitVolume(cat: Catalog, volume: string): void {
  cat.db.prepare('DELETE FROM forgotten_volumes WHERE uuid = ?').run(volume);
}

/** One copy of a volume; the volume, its files and its queue stay (its other copy holds them). */
export function dropCopy(cat: Catalog, copy: string): void {
  cat.transaction(() => cat.db.prepare('DELETE FROM copies WHERE copy = ?').run(copy));
}
