import type { RootScan } from '../scan/record.js';
import { comparePaths } from '../scan/scanner.js';

/** What the quick check compares of a stored file: [path, kind, size, mtime_s, mtime_ns, inode, mode, uid, gid, link_target]. */
export type QuickRow = [string, string, number, number, number, string | null, number, number, number, string | null];

export interface QuickCheckResult {
  /** The scans less the files found unchanged (each RootScan carries how many it left out). */
  scans: RootScan[];
  /** Catalogued paths the planner must still see: gone, changed, or possible hardlink sources. */
  keep: Set<string>;
  unchanged: number;
}

function sorted(paths: string[]): boolean {
  for (let i = 1; i < paths.length; i++) if (comparePaths(paths[i - 1]!, paths[i]!) >= 0) return false;
  return true;
}

/**
 * rsync's quick check, before planning: a file whose kind, size, mtime, inode, mode, owner (and
 * link target) are what the mounted copy's catalog holds is unchanged, and neither its record nor
 * its catalog row need to reach the planner, which then works on what changed only. Scan and rows
 * both come in byte order of the path, so one merge pass compares them. Unchanged files whose
 * inode a changed file shares stay in (they may be the source of a new hardlink). Pure.
 */
export function quickCheck(scans: RootScan[], rowsOf: (root: string) => QuickRow[]): QuickCheckResult | null {
  const keep = new Set<string>();
  let unchanged = 0;
  const out: RootScan[] = [];
  for (const s of scans) {
    const recs = s.records;
    const rows = rowsOf(s.root);
    if (!sorted(recs.map((r) => r.path)) || !sorted(rows.map((r) => r[0]))) return null;
    const same = new Uint8Array(recs.length);
    let i = 0;
    let j = 0;
    while (i < recs.length || j < rows.length) {
      const c = i >= recs.length ? 1 : j >= rows.length ? -1 : comparePaths(recs[i]!.path, rows[j]![0]);
      if (c < 0) {
        i++; // a new path
      } else if (c > 0) {
        keep.add(rows[j]![0]); // gone from the data path
        j++;
      } else {
        const r = recs[i]!;
        const w = rows[j]!;
        if (
          r.kind === w[1] && r.size === w[2] && r.mtimeSec === w[3] && r.mtimeNsec === w[4] && r.inode === w[5] &&
          r.mode === w[6] && r.uid === w[7] && r.gid === w[8] && (r.linkTarget ?? null) === w[9]
        ) {
          same[i] = 1;
        } else keep.add(w[0]);
        i++;
        j++;
      }
    }
    const wantedInodes = new Set<string>();
    for (let k = 0; k < recs.length; k++) if (!same[k]) wantedInodes.add(recs[k]!.inode);
    const records = [];
    let left = 0;
    for (let k = 0; k < recs.length; k++) {
      const r = recs[k]!;
      if (same[k] && !wantedInodes.has(r.inode)) {
        left++;
        continue;
      }
      if (same[k]) keep.add(r.path);
      records.push(r);
    }
    unchanged += left;
    out.push({ ...s, records, unchangedCount: (s.unchangedCount ?? 0) + left });
  }
  return { scans: out, keep, unchanged };
}
