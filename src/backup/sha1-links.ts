/**
 * Files that a catalog of an older schema stored as one by an equal SHA-1 and size. SHA-1 has
 * public collisions (SHAttered, SHA-mbles): two different files with one SHA-1 were linked to one
 * stored inode, and the second file's own bytes were never archived. Rows migrated from such a
 * catalog keep their SHA-1 until their content is read (catalog/schema.ts); a backup reads the
 * ones that share it with another row of the mounted volume, on the data path and on the disk.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { onDisk } from '../archive/layout.js';
import { sha256File } from '../fsx/copy.js';
import { type Fsx } from '../fsx/fsx.js';
import { isUnder } from '../fsx/paths.js';
import { sameMtime } from '../plan/entry.js';
import { sha1LinksChecked } from '../catalog/meta-keys.js';

export interface Sha1LinkCheck {
  /** Paths whose stored bytes are another file's: the data-path file's SHA-256 by path. */
  storedDiffers: Map<string, string>;
  /** Rows whose content was confirmed and now carry their SHA-256. */
  confirmed: number;
}

/**
 * Reads both sides of every such row of `volume` under `roots` whose data-path file still looks as
 * catalogued (a changed one is re-read and re-stored by the plan anyway). Equal bytes: the row gets
 * its SHA-256 in both catalogs. Different bytes: the row gets the SHA-256 of what the disk really
 * holds and loses its quick-check stamp, and the path is returned for the planner, which stores the
 * data-path file on its own.
 */
export async function checkSha1Links(
  s: { root: string; disk: Catalog; host: Catalog },
  volume: string,
  roots: readonly string[],
  fs: Fsx,
): Promise<Sha1LinkCheck> {
  const storedDiffers = new Map<string, string>();
  const found: Array<{ e: CatalogEntry; sha256: string; differs: boolean }> = [];
  // No new link is ever made by SHA-1: once a volume has none left, it never has one again, and
  // later runs skip the query (a scan of every migrated row).
  const done = sha1LinksChecked(volume);
  if (s.disk.getMeta(done) !== undefined) return { storedDiffers, confirmed: 0 };
  const linked = s.disk.linkedBySha1(volume);
  if (linked.length === 0) s.disk.setMeta(done, new Date().toISOString());
  const rows = linked.filter((e) => roots.some((r) => isUnder(e.path, r)));
  for (const e of rows) {
    const st = fs.lstatSync(e.path, { throwIfNoEntry: false, bigint: true });
    if (!st?.isFile() || Number(st.size) !== e.size || !sameMtime(e, { mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n) })) continue;
    let library: string;
    let stored: string;
    try {
      library = (await sha256File(e.path, { fs })).sha256;
      stored = (await sha256File(onDisk(s.root, e.path), { fs })).sha256;
    } catch {
      continue; // unreadable on either side: the plan and verify report that in their own words
    }
    found.push({ e, sha256: stored, differs: library !== stored });
    if (library !== stored) {
      storedDiffers.set(e.path, library);
    }
  }
  // The disk catalog first: it is the truth for the volume.
  for (const cat of [s.disk, s.host]) {
    cat.transaction(() => {
      for (const f of found) cat.setContentHash(volume, f.e.path, f.sha256, f.differs);
    });
  }
  return { storedDiffers, confirmed: found.length - storedDiffers.size };
}
