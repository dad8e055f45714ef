import path from 'node:path';
import type { CatalogEntry } from '../catalog/entry.js';
import { copyWithSha256, mtimeMatches, setTimes } from '../fsx/copy.js';
import { isRoot, type BigIntStats, type Fsx } from '../fsx/fsx.js';
import { contentKey } from '../catalog/catalog.js';
import { tempName } from '../fsx/temp.js';
import { diskTempDir, onDisk } from '../archive/layout.js';
import type { CatalogBatch } from './batch.js';
import type { ExecutorContext } from './env.js';

/** What reshaping needs of the run (a part of apply-env.ts's ApplyEnv, which knows this class). */
interface ReshapeEnv {
  readonly ctx: ExecutorContext;
  readonly fs: Fsx;
  readonly batch: CatalogBatch;
}

/** The mode and owner that names stored as one inode must share (SPEC §3), as one key. */
const classOf = (x: { mode: number; uid: number; gid: number }) => `${x.mode & 0o7777}:${x.uid}:${x.gid}`;

/** A stored name of the content and its inode as last seen (one lstat a name; again only after a copy replaced it). */
interface Name {
  e: CatalogEntry;
  full: string;
  st: BigIntStats;
  cls: string;
}

const classOfInode = (st: BigIntStats) => classOf({ mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid) });

/**
 * Content whose stored names changed in this run: linked, moved, removed, or given another mode or
 * owner. At the end of the run the names of each such content are put in the shape the catalog
 * describes (SPEC §3, §5 "after every apply and every catch-up"), whatever order the operations came
 * in: names with equal mode and owner share one inode, names with another mode or owner have their
 * own (a chmod of one name must not change another), each inode has its names' mode and owner, and a
 * name left alone on an inode gets its own mtime (an inode's mtime is one of its names'). Only the
 * directory entries and attributes change, never the bytes: a crash half-way leaves every name with
 * its content, and a rerun that touches the content again finishes the job.
 */
export class LoosenedNames {
  private readonly content = new Map<string, { size: number; sha256: string }>();

  constructor(private readonly volume: string) {}

  add(e: CatalogEntry | undefined): void {
    if (e && e.volume === this.volume && e.kind === 'file' && e.sha256 !== null) this.content.set(`${e.size}:${e.sha256}`, { size: e.size, sha256: e.sha256 });
  }

  /** `intend` journals names about to be relinked or copied (writes of those paths). */
  async reshape(env: ReshapeEnv, intend: (paths: string[]) => void = () => {}): Promise<void> {
    const { ctx } = env;
    if (this.content.size === 0) return;
    // Every name of every such content in one read of the disk catalog (reshaping changes files,
    // never rows): one query a content cost a catch-up of 1% of a million files ~0.5 s.
    const stored = ctx.disk.findContents(this.content.values());
    for (const [key, { size }] of this.content) {
      try {
        await this.reshapeContent(env, stored.get(key) ?? [], intend);
      } catch (err) {
        ctx.tell({ type: 'names-unsorted', size, error: (err as Error).message });
      }
    }
    this.content.clear();
  }

  private async reshapeContent(env: ReshapeEnv, rows: CatalogEntry[], intend: (paths: string[]) => void): Promise<void> {
    const { ctx, fs } = env;
    const names: Name[] = [];
    for (const e of rows) {
      if (e.volume !== ctx.volume || e.kind !== 'file') continue;
      const full = onDisk(ctx.root, e.path);
      try {
        const st = fs.lstatSync(full, { bigint: true }) as BigIntStats;
        if (st.isFile()) names.push({ e, full, st, cls: classOf(e) });
      } catch {
        // Missing on the disk: verify reports it, nothing to arrange here.
      }
    }
    if (names.length === 0) return;
    const byInode = new Map<bigint, Name[]>();
    for (const n of names) byInode.set(n.st.ino, [...(byInode.get(n.st.ino) ?? []), n]);

    // Each class gets one home inode: first an inode that already has the class's mode and owner
    // (the one with most names of it), then, for classes still without one, an inode all of whose
    // names want it (its mode and owner are changed in place).
    const homes = new Map<string, Name>();
    const inodes = [...byInode.values()].sort((a, b) => b.length - a.length);
    for (const on of inodes) {
      const cls = classOfInode(on[0]!.st);
      if (!homes.has(cls) && on.some((n) => n.cls === cls)) homes.set(cls, on.find((n) => n.cls === cls)!);
    }
    for (const on of inodes) {
      const cls = on[0]!.cls;
      if (homes.has(cls) || on.some((n) => n.cls !== cls)) continue;
      const st = on[0]!.st;
      const e = on[0]!.e;
      if (isRoot && (Number(st.uid) !== e.uid || Number(st.gid) !== e.gid)) fs.chownSync(on[0]!.full, e.uid, e.gid);
      fs.chmodSync(on[0]!.full, e.mode & 0o7777);
      env.batch.wroteData = true;
      homes.set(cls, on[0]!);
    }
    // Every other name joins its class's home, or (the first of a class without one) becomes it by a
    // copy of its own, made under a temporary name and renamed over it. All are journalled at once.
    const moving = names.filter((n) => homes.get(n.cls)?.st.ino !== n.st.ino);
    if (moving.length > 0) intend(moving.map((n) => n.e.path));
    for (const n of moving) {
      const home = homes.get(n.cls);
      if (home && home.st.ino === n.st.ino) continue;
      env.batch.wroteData = true;
      if (home) {
        const tmp = path.join(path.dirname(n.full), tempName(path.basename(n.full)));
        fs.rmSync(tmp, { force: true });
        fs.linkSync(home.full, tmp);
        fs.renameSync(tmp, n.full);
        n.st = home.st;
        ctx.tell({ type: 'linked', path: n.e.path, to: home.e.path, gathered: true });
        continue;
      }
      const e = n.e;
      await copyWithSha256(n.full, n.full, { mode: e.mode & 0o7777, uid: e.uid, gid: e.gid, mtimeSec: e.mtimeSec, mtimeNsec: e.mtimeNsec }, {
        tempDir: diskTempDir(ctx.root),
        fs,
      });
      n.st = fs.lstatSync(n.full, { bigint: true }) as BigIntStats;
      homes.set(n.cls, n);
      ctx.tell({ type: 'stored-apart', path: e.path });
    }
    // A name alone on its inode carries its own mtime. Its inode's mtime is still the one first seen:
    // linking, renaming and chmod leave an inode's mtime alone, and a name copied apart was seen again.
    const count = new Map<bigint, number>();
    for (const n of names) count.set(n.st.ino, (count.get(n.st.ino) ?? 0) + 1);
    for (const n of names) {
      if (count.get(n.st.ino) !== 1) continue;
      const ns = n.st.mtimeNs;
      const sec = ns / 1_000_000_000n - (ns % 1_000_000_000n < 0n ? 1n : 0n);
      if (mtimeMatches(Number(sec), Number(ns - sec * 1_000_000_000n), n.e.mtimeSec, n.e.mtimeNsec)) continue;
      setTimes(n.full, n.e.mtimeSec, n.e.mtimeNsec, fs);
      env.batch.wroteData = true;
    }
  }
}
