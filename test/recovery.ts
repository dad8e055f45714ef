/**
 * Helpers of the host-catalog recovery tests (plain and encrypted disks): the host catalog as
 * queries return it, a folder's state to prove it untouched, and what a restore must agree on.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { sha256, byteFs as fs } from './helpers.js';

/**
 * The host catalog as queries return it, every column but a row's `gen` (the generation it was
 * written at, which only tells a catch-up where to look: a volume taken in from a disk is stamped
 * anew and compared whole), in a fixed order.
 */
export function hostState(db: string): { files: unknown[]; deferred: unknown[]; volumes: unknown[]; copies: unknown[] } {
  const h = new Database(db, { readonly: true });
  try {
    return {
      files: (h.prepare('SELECT * FROM files ORDER BY volume, path').all() as Array<Record<string, unknown>>).map(({ gen: _gen, ...row }) => row),
      deferred: h.prepare('SELECT id, volume, action, CAST(path AS TEXT) AS path, CAST(target AS TEXT) AS target, created, queued_by, queued_gen FROM deferred ORDER BY id').all(),
      volumes: h.prepare('SELECT * FROM volumes ORDER BY uuid').all(),
      copies: h.prepare('SELECT * FROM copies ORDER BY copy').all(),
    };
  } finally {
    h.close();
  }
}

/** What stays beside the host catalog after a command: the catalog and its lock file (SQLite's log is folded in on close). */
export const HOST_FILES = ['catalog.sqlite', 'catalog.sqlite.lock'];

export function dropHost(db: string): void {
  for (const ext of ['', '-wal', '-shm']) fs.rmSync(db + ext, { force: true });
}

/** Every entry below a folder with its kind, size, mode, mtime and content: "untouched" means equal. */
export function treeState(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const full = path.join(d, name);
      const r = `${rel}/${name}`;
      const st = fs.lstatSync(full, { bigint: true });
      const what = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `link:${fs.readlinkSync(full)}` : `file:${sha256(fs.readFileSync(full))}`;
      out.push(`${r} ${what} ${st.size} ${st.mode.toString(8)} ${st.mtimeNs}`);
      if (st.isDirectory()) walk(full, r);
    }
  };
  walk(dir, '');
  return out;
}

/** Content, kind, mode, owner and mtime (ns) per path, and the hardlink groups, below root. */
export function fidelity(root: string): { entries: Map<string, string>; groups: string[][] } {
  const entries = new Map<string, string>();
  const byInode = new Map<bigint, string[]>();
  const walk = (d: string, rel: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const full = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(full, { bigint: true });
      if (st.isDirectory()) {
        // Folders are archived too (SPEC §3): mode, owner and mtime.
        entries.set(r, `dir mode:${(st.mode & 0o7777n).toString(8)} owner:${st.uid}:${st.gid} mtime:${st.mtimeNs}`);
        walk(full, r);
        continue;
      }
      const what = st.isSymbolicLink() ? `link:${fs.readlinkSync(full)}` : `file:${sha256(fs.readFileSync(full))} mode:${(st.mode & 0o7777n).toString(8)}`;
      entries.set(r, `${what} owner:${st.uid}:${st.gid} mtime:${st.mtimeNs}`);
      if (st.isFile()) byInode.set(st.ino, [...(byInode.get(st.ino) ?? []), r]);
    }
  };
  walk(root, '');
  return { entries, groups: [...byInode.values()].filter((g) => g.length > 1).sort() };
}

/** The files and symlinks of a snapshot (its folders left out): what a restore counts as paths. */
export function fileCount(snapshot: { entries: Map<string, string> }): number {
  let n = 0;
  for (const v of snapshot.entries.values()) if (!v.startsWith('dir ')) n++;
  return n;
}
