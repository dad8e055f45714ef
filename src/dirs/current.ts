/** The library's folders as the host catalog knows them now, whichever disk's backup saw them last. */
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';

/**
 * The library's directories as the host catalog knows them now. Every backup records each
 * directory of its data paths for its own volume, so a path can have a row per volume: the row of
 * the volume whose rows were confirmed last wins (a backup records the folders it scanned; a visit
 * of a stored disk settles its folders to these), and a row is dropped when a volume written later recorded its
 * parent but not it (that later run saw the parent without it: the directory went).
 */
export function currentDirs(host: Catalog): Map<string, CatalogEntry> {
  // When each volume's folder rows were last confirmed as the library's (dirs/sync.ts: its top
  // folders' verified_at): the rows travel with that time through snapshots and rebuilds.
  const rank = new Map<string, number>();
  const byPath = new Map<string, CatalogEntry[]>();
  for (const e of host.matching([], [], 'dirs')) {
    byPath.set(e.path, [...(byPath.get(e.path) ?? []), e]);
    if ((e.verifiedAt ?? -1) > (rank.get(e.volume) ?? -1)) rank.set(e.volume, e.verifiedAt!);
  }
  const rankOf = (v: string) => rank.get(v) ?? -1;
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
