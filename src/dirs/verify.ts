/**
 * Verify's side of folders: each directory row of the disk catalog is a folder on the disk with
 * its mode, owner (as root) and mtime; `fix` makes the missing ones and gives every folder its
 * catalogued metadata, deepest first, after verify's other repairs wrote into them.
 */
import path from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { isRoot, type Fsx } from '../fsx/fsx.js';
import type { Problem } from '../verify/types.js';
import { DirWriter, lstatOnDisk, planFromRows } from './sync.js';

/** How each catalogued folder of the volume differs on the disk at `root`. */
export function folderProblems(root: string, volume: string, disk: Catalog, fs: Fsx): Problem[] {
  const out: Problem[] = [];
  const add = (e: CatalogEntry, kind: Problem['kind'], detail: string) => out.push({ path: e.path, kind, repaired: false, detail });
  for (const e of disk.dirsOf(volume)) {
    let st;
    try {
      st = lstatOnDisk(path.join(root, e.path), fs);
    } catch (err) {
      add(e, 'missing', `the folder cannot be read on the disk (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      continue;
    }
    if (st === null || !st.isDirectory()) {
      add(e, 'missing', 'the folder is missing on the disk');
      continue;
    }
    const mode = Number(st.mode & 0o7777n);
    if (mode !== (e.mode & 0o7777)) add(e, 'mode', `the folder's mode is ${mode.toString(8)}, catalogued ${(e.mode & 0o7777).toString(8)}`);
    if (isRoot && (Number(st.uid) !== e.uid || Number(st.gid) !== e.gid)) add(e, 'owner', `the folder's owner is ${st.uid}:${st.gid}, catalogued ${e.uid}:${e.gid}`);
    if (st.mtimeNs !== BigInt(e.mtimeSec) * 1_000_000_000n + BigInt(e.mtimeNsec)) add(e, 'mtime', "the folder's mtime differs from the catalog");
  }
  return out;
}

/** Makes every catalogued folder of the volume as its row says (verify --fix); marks `problems` repaired. */
export function fixFolders(o: { root: string; volume: string; disk: Catalog; host: Catalog; fs: Fsx; warn(m: string): void }, problems: Problem[]): void {
  const plan = planFromRows(o.disk.dirsOf(o.volume));
  const writer = new DirWriter(o);
  writer.makeNarrowFirst(plan);
  writer.finish(plan);
  const left = new Set(folderProblems(o.root, o.volume, o.disk, o.fs).map((p) => `${p.path}\0${p.kind}`));
  for (const p of problems) p.repaired = !left.has(`${p.path}\0${p.kind}`);
}
