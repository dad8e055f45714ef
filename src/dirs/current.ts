/** The library's folders as the host catalog knows them now, whichever disk's backup saw them last. */
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';

/**
 * The library's directories as the host catalog knows them now. Every backup records each
 * directory of its data paths for its own volume, so a path can have a row per volume: the row of
 * the volume backed up last wins, and a row is dropped when a volume backed up later recorded its
 * parent but not it (that later scan saw the parent without it: the directory went).
 */
export function currentDirs(host: Catalog): Map<string, CatalogEntry> {
  const rank = new Map<string, number>();
  for (const r of host.finishedRuns()) if (r.command === 'backup' && r.volume !== null) rank.set(r.volume, r.id);
  const rankOf = (v: string) => rank.get(v) ?? -1;
  const byPath = new Map<string, CatalogEntry[]>();
  for (const e of host.matching([], [], 'dirs')) byPath.set(e.path, [...(byPath.get(e.path) ?? []), e]);
  const out = new Map<string, CatalogEntry>();
  for (const [p, rows] of byPath) {
    const best = rows.reduce((a, b) => (rankOf(b.volume) > rankOf(a.volume) ? b : a));
    const parent = byPath.get(p.slice(0, p.lastIndexOf('/'))) ?? [];
    if (parent.some((q) => rankOf(q.volume) > rankOf(best.volume))) continue;
    out.set(p, best);
  }
  return out;
}
