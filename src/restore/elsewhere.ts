import fs from 'node:fs';
import { Catalog } from '../catalog/catalog.js';

export interface Elsewhere {
  volume: string;
  label: string;
  files: number;
  bytes: number;
}

/** What the host catalog says the other volumes hold of the matching files this disk does not. */
export function restorePlan(db: string, globs: string[], volume: string, here: Set<string>): { elsewhere: Elsewhere[]; waiting: number } {
  if (!fs.existsSync(db)) return { elsewhere: [], waiting: 0 };
  const host = Catalog.open(db, { readonly: true });
  try {
    const labels = new Map(host.volumes().map((v) => [v.uuid, v.label]));
    const byVolume = new Map<string, Elsewhere>();
    let waiting = 0;
    for (const e of host.matching(globs)) {
      if (here.has(e.path)) continue;
      // The host knows this volume holds it, the disk does not yet: a deferred action is pending.
      if (e.volume === volume) {
        waiting++;
        continue;
      }
      const row = byVolume.get(e.volume) ?? { volume: e.volume, label: labels.get(e.volume) ?? e.volume, files: 0, bytes: 0 };
      row.files++;
      row.bytes += e.kind === 'file' ? e.size : 0;
      byVolume.set(e.volume, row);
    }
    return { elsewhere: [...byVolume.values()].sort((a, b) => a.label.localeCompare(b.label)), waiting };
  } finally {
    host.close();
  }
}
