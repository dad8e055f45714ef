import type { CatalogEntry } from '../catalog/entry.js';
import { setTimes } from '../fsx/copy.js';
import { onDisk } from '../archive/layout.js';
import type { Fsx } from '../fsx/fsx.js';
import type { CatalogBatch } from './batch.js';
import type { ExecutorContext } from './env.js';

/**
 * Content whose stored inode lost a name in this run. A name left alone on an inode it shared keeps
 * the mtime the inode had, which may be another name's: the disk then disagrees with its catalog
 * (verify's `mtime`). At the end of the run each such name gets its own.
 */
export class LoosenedNames {
  private readonly content = new Map<string, { size: number; sha256: string }>();

  constructor(private readonly volume: string) {}

  add(e: CatalogEntry | undefined): void {
    if (e && e.volume === this.volume && e.kind === 'file' && e.sha256 !== null) this.content.set(`${e.size}:${e.sha256}`, { size: e.size, sha256: e.sha256 });
  }

  settle(ctx: ExecutorContext, fs: Fsx, batch: CatalogBatch): void {
    for (const { size, sha256 } of this.content.values()) {
      const byInode = new Map<number, CatalogEntry[]>();
      for (const e of ctx.disk.findContent(size, sha256)) {
        if (e.volume !== ctx.volume || e.kind !== 'file') continue;
        let ino: number;
        try {
          ino = fs.lstatSync(onDisk(ctx.root, e.path)).ino;
        } catch {
          continue;
        }
        byInode.set(ino, [...(byInode.get(ino) ?? []), e]);
      }
      for (const names of byInode.values()) {
        if (names.length !== 1) continue;
        const e = names[0]!;
        try {
          setTimes(onDisk(ctx.root, e.path), e.mtimeSec, e.mtimeNsec, fs);
          batch.wroteData = true;
        } catch (err) {
          ctx.warn(`cannot set the mtime of ${e.path} on the disk: ${(err as Error).message}`);
        }
      }
    }
    this.content.clear();
  }
}
