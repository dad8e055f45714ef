import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord } from '../scan/record.js';
import type { Operation } from './operation.js';
import { byPath as inPathOrder } from '../fsx/paths.js';
import type { PlanIndex } from './catalog-index.js';
import type { Decisions } from './decide.js';
import { entryFor, sameModeOwner, sameMtime } from './entry.js';
import type { Ledger } from './ledger.js';
import type { Moves } from './moves.js';

/** Metadata-only changes, after the renames (a moved file's update names its new path). */
export function planUpdates(d: Decisions, ledger: Ledger): void {
  for (const x of d.byPath.values()) {
    if (x.kind === 'unchanged' || x.kind === 'meta') d.updates.add(x.entry, x.record, x.sha256, x.kind === 'meta');
  }
  // push(...x) would put every element on the stack: a million files overflow it.
  for (const op of d.updates.ops) ledger.ops.push(op);
}

/**
 * New content: hardlinks to stored names first, then symlinks, links to content already stored
 * (here or offline) and copies. Returns the bytes the mounted volume will receive.
 */
export function planContent(ix: PlanIndex, d: Decisions, moves: Moves, ledger: Ledger): number {
  const { current, counts } = ix;
  const decisions = d.byPath;
  const contentPaths = d.decided.filter((r) => {
    const k = decisions.get(r.path)!.kind;
    return k === 'content' || k === 'pending';
  });
  const findStored = storedContentFinder(ix, d, moves, ledger, new Set(contentPaths.map((r) => r.path)));

  const linkOps: Operation[] = [];
  const contentOps: Operation[] = [];
  for (const r of d.decided) {
    const x = decisions.get(r.path)!;
    if (x.kind !== 'hardlink' && x.kind !== 'follow') continue;
    const source = x.kind === 'hardlink' ? ledger.get(x.source.path) : ledger.get(x.leader);
    if (!source) {
      decisions.set(r.path, { kind: 'content', old: ix.byPath.get(r.path) });
      contentPaths.push(r);
      continue;
    }
    counts.linked++;
    const list = x.kind === 'hardlink' ? linkOps : contentOps;
    const replaces = ledger.placeOld(r, ix.byPath.get(r.path), list);
    if (source.volume === current) {
      list.push({ type: 'link', record: r, from: source, replaces, why: 'linked' });
    } else {
      if (replaces) {
        list.push({ type: 'delete', entry: replaces, why: 'replaced' });
      }
      list.push({ type: 'defer', volume: source.volume, action: 'LINK', path: source.path, target: r.path, entry: source, record: r, why: 'linked' });
      counts.deferred++;
    }
    ledger.set(r.path, entryFor(r, source.volume, source.sha256, source));
  }

  const copiedContent = new Map<string, CatalogEntry>(); // contentKey -> entry copied this run
  const contentKey = (r: FileRecord, sha256: string) => `${r.size}:${sha256}:${r.mode & 0o7777}:${r.uid}:${r.gid}`;
  const copiedInode = new Map<string, CatalogEntry>(); // data-path inode -> entry copied this run
  contentPaths.sort(inPathOrder);
  let bytesToCopy = 0;
  for (const r of contentPaths) {
    const x = decisions.get(r.path)!;
    if (x.kind !== 'content') continue;
    const wasThere = x.old !== undefined && !moves.movingAway.has(x.old);
    const why = wasThere ? 'modified' : 'added';
    if (r.kind === 'symlink') {
      const replaces = ledger.placeOld(r, x.old, contentOps);
      contentOps.push({ type: 'symlink', record: r, replaces, why });
      ledger.set(r.path, entryFor(r, current, null));
      counts[why]++;
      continue;
    }
    // A new name for a file copied moments ago (hardlinks in the data path): link, no hashing.
    const sibling = copiedInode.get(r.inode);
    if (sibling && sibling.size === r.size && sameMtime(sibling, r) && sameModeOwner(sibling, r)) {
      const replaces = ledger.placeOld(r, x.old, contentOps);
      contentOps.push({ type: 'link', record: r, from: sibling, replaces, why: wasThere ? 'modified' : 'linked' });
      ledger.set(r.path, entryFor(r, current, sibling.sha256, sibling));
      counts[wasThere ? 'modified' : 'linked']++;
      continue;
    }
    let sha256: string | undefined;
    // Hashing first costs a second read: worth it only when the content may be stored offline.
    const collides = r.size > 0 && ix.input.catalog.hasSize(r.size);
    if (collides || ix.input.hashes.has(r.path)) {
      sha256 = ix.hashOf(r.path);
      if (sha256 === undefined) continue;
    }
    if (sha256 !== undefined) {
      const runCopy = copiedContent.get(contentKey(r, sha256));
      const stored = runCopy ?? findStored(r, sha256);
      if (stored) {
        const list = runCopy ? contentOps : linkOps;
        const replaces = ledger.placeOld(r, x.old, list);
        if (stored.volume === current) {
          list.push({ type: 'link', record: r, from: stored, replaces, why: wasThere ? 'modified' : 'linked' });
        } else {
          if (replaces) list.push({ type: 'delete', entry: replaces, why: 'replaced' });
          list.push({ type: 'defer', volume: stored.volume, action: 'LINK', path: stored.path, target: r.path, entry: stored, record: r, why: 'linked' });
          counts.deferred++;
        }
        ledger.set(r.path, entryFor(r, stored.volume, sha256, stored));
        counts[wasThere ? 'modified' : 'linked']++;
        continue;
      }
    }
    const replaces = ledger.placeOld(r, x.old, contentOps);
    // Identical content already on this volume (or copied earlier in this run) is found by the copy's
    // own SHA-256, and the copy then becomes a hardlink to it.
    contentOps.push({ type: 'copy', record: r, replaces, why, dedupe: r.size > 0 });
    const stored = entryFor(r, current, sha256 ?? null);
    ledger.set(r.path, stored);
    if (sha256 !== undefined) copiedContent.set(contentKey(r, sha256), stored);
    copiedInode.set(r.inode, stored);
    bytesToCopy += r.size;
    counts[why]++;
  }

  for (const op of linkOps) ledger.ops.push(op);
  for (const op of contentOps) ledger.ops.push(op);
  return bytesToCopy;
}

/**
 * Finds content already stored (any volume) that a new file can be linked to: a name that still
 * holds that content once this run's renames and overwrites are done, with the file's mode and owner.
 */
function storedContentFinder(
  ix: PlanIndex,
  d: Decisions,
  moves: Moves,
  ledger: Ledger,
  contentTargets: ReadonlySet<string>,
): (r: FileRecord, sha256: string) => CatalogEntry | undefined {
  const usableSource = (found: CatalogEntry): CatalogEntry | undefined => {
    if (ix.isAbsent(found)) return undefined;
    const c = ix.byPath.get(found.path);
    // outside the scanned paths: this run leaves it alone
    if (!c || c.volume !== found.volume) return found;
    if (ledger.replacedKeys.has(c)) return undefined;
    const st = ix.statusOf(c);
    const moved = moves.finalPathOf.get(c);
    const p = moved ?? c.path;
    if (contentTargets.has(p)) return undefined; // gets other content later in this run
    if (moved === undefined && st === 'gone') {
      // still on its disk until removals, which come last
      return ix.options.matchMode === 'path-size-mtime' ? undefined : c;
    }
    if (moved === undefined && st === 'vacated') return undefined;
    const o = ledger.get(p);
    return o && o.volume === c.volume && o.sha256 === c.sha256 ? o : undefined;
  };
  const newModeOwner = d.updates.newModeOwner;
  // The answer depends only on the content, mode and owner: thousands of equal new files read the
  // names of their content once, not once each (a quadratic cost before).
  const known = new Map<string, CatalogEntry | undefined>();
  return (r, sha256) => {
    const key = `${r.size}:${sha256}:${r.mode & 0o7777}:${r.uid}:${r.gid}`;
    if (known.has(key)) return known.get(key);
    const found = ix.input.catalog
      .findContent(r.size, sha256)
      .map(usableSource)
      .filter((x): x is CatalogEntry => !!x && x.kind === 'file' && sameModeOwner(newModeOwner.get(ix.byPath.get(x.path) ?? x) ?? x, r));
    const best = found.find((x) => x.volume === ix.current) ?? found[0];
    known.set(key, best);
    return best;
  };
}
