/** The library's folders as the host catalog knows them now, whichever disk's backup saw them last. */
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';

/**
 * The library's directories as the host catalog knows them now. Every backup records each
 * directory of its data paths for its own volume, so a path can have a row per volume: the row of
 * the volume written last wins (a backup records the folders it scanned; a visit of a stored disk
 * settles its folders to these), and a row is dropped when a volume written later recorded its
 * parent but not it (that later run saw the parent without it: the directory went).
 */
export function currentDirs(host: Catalog): Map<string, CatalogEntry> {
  // When each volume was last written (its copies' last sync): a catalog rebuilt from disks has
  // these, not the run log.
  const rank = new Map<string, number>();
  for (const c of host.copies()) {
    const at = c.lastSync === null ? -1 : Date.parse(c.lastSync);
    if (at > (rank.get(c.volume) ?? -1)) rank.set(c.volume, at);
  }
  const rankOf = (v: string) => rank.get(v) ?? -1;
  const byPath = new Map<string, CatalogEntry[]>();
  for (const e of host.matching([], [], 'dirs')) byPath.set(e.path, [...(byPath.get(e.path) ?? []), e]);
  const out = new Map<string, CatalogEntry>();
  // Parents first: a folder below one that went, went too.
  for (const p of [...byPath.keys()].sort()) {
    const rows = byPath.get(p)!;
    const best = rows.reduce((a, b) => (rankOf(b.volume) > rankOf(a.volume) ? b : a));
    const parentPath = p.slice(0, p.lastIndexOf('/'));
    const parent = byPath.get(parentPath);
    if (parent !== undefined && (!out.has(parentPath) || parent.some((q) => rankOf(q.volume) > rankOf(best.volume)))) continue;
    out.set(p, best);
  }
  return out;
}
