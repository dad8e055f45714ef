import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord } from '../scan/record.js';
import type { Operation } from './operation.js';
import type { PlanIndex } from './catalog-index.js';

/**
 * The plan as it is written: the operations decided so far, and the final occupant of every path
 * (the catalog, overlaid with this run's changes, any volume).
 */
export class Ledger {
  readonly ops: Operation[] = [];
  /** Catalog entries this run removes or overwrites. */
  readonly replacedKeys = new Set<CatalogEntry>();
  private readonly changed = new Map<string, CatalogEntry | null>();

  constructor(private readonly ix: PlanIndex) {}

  get(p: string): CatalogEntry | undefined {
    const c = this.changed.get(p);
    return c === undefined ? this.ix.byPath.get(p) : (c ?? undefined);
  }

  set(p: string, e: CatalogEntry): void {
    this.changed.set(p, e);
  }

  delete(p: string): void {
    this.changed.set(p, null);
  }

  /** Removes a stored file: now on the mounted volume, as a deferred action on another. */
  removeOccupant(o: CatalogEntry, why: 'replaced' | 'removed'): void {
    this.delete(o.path);
    this.replacedKeys.add(o);
    if (o.volume === this.ix.current) this.ops.push({ type: 'delete', entry: o, why });
    else {
      this.ops.push({ type: 'defer', volume: o.volume, action: 'DELETE', path: o.path, target: null, entry: o, record: null, why });
      this.ix.counts.deferred++;
    }
  }

  /**
   * The occupant new content displaces at r's path: returned when it is on the mounted volume (to be
   * replaced in place), deleted by a deferred action (added to list) when it is elsewhere.
   */
  placeOld(r: FileRecord, old: CatalogEntry | undefined, list: Operation[]): CatalogEntry | undefined {
    const o = this.get(r.path) ?? (old && this.get(old.path) === old ? old : undefined);
    if (!o) return undefined;
    if (o.volume === this.ix.current) return o;
    this.delete(o.path);
    this.replacedKeys.add(o);
    list.push({ type: 'defer', volume: o.volume, action: 'DELETE', path: o.path, target: null, entry: o, record: null, why: 'replaced' });
    this.ix.counts.deferred++;
    return undefined;
  }
}
