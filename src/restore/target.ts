/**
 * The restore target: the only place a restore writes (SPEC §3).
 *
 * Each file goes to TO/<absolute source path>. The folders on the way are checked one component at
 * a time with lstat before they are used (made with a plain mkdir when missing): a symlink or a
 * file found where a folder should be is an error for the files below it, never followed; only
 * with `--to /` may an existing link of the system (`/lib` → `usr/lib`) be followed, and only when
 * the archive itself has no entry at that path. Files are written under a temporary name in their
 * own folder (created with O_EXCL, so nothing is followed there either) and renamed into place
 * once complete: a kill -9 leaves no partial file at a final name. The folders that got temporary
 * files are listed in TO/.blaine-restore.log while the run lasts, so the next run removes what a
 * crashed one left; a clean end removes the list.
 */
import path from 'node:path';
import type { CatalogEntry } from '../catalog/entry.js';
import { errCode } from '../fsx/errno.js';
import { isTempName } from '../fsx/temp.js';
import { isRoot, type Fsx, type BigIntStats } from '../fsx/fsx.js';
import { isWithin } from '../fsx/paths.js';

export const TEMP_LOG = '.blaine-restore.log';
/** Where par2 repairs are staged (removed at the end of each run, and by the next one after a crash). */
export const REPAIR_SCRATCH = '.blaine-restore-scratch';

/** A file that cannot be put in place without following a link or crossing a file: an error for that file only. */
export class BlockedPath extends Error {}

/** How a catalog entry's target stands: absent, present exactly as catalogued, or present otherwise. */
export type TargetState = { kind: 'absent' } | { kind: 'correct'; ino: bigint } | { kind: 'differs'; ino: bigint | null };

export function mtimeNsOf(e: CatalogEntry): bigint {
  return BigInt(e.mtimeSec) * 1_000_000_000n + BigInt(e.mtimeNsec);
}

/** Whether what lstat found is the entry as catalogued: kind, size, mtime (ns), mode and (as root) owner, and a symlink's target. */
function matches(e: CatalogEntry, st: BigIntStats, readlink: () => string): boolean {
  if (st.mtimeNs !== mtimeNsOf(e)) return false;
  if (isRoot && (Number(st.uid) !== e.uid || Number(st.gid) !== e.gid)) return false;
  if (e.kind === 'symlink') return st.isSymbolicLink() && readlink() === (e.linkTarget ?? '');
  return st.isFile() && Number(st.size) === e.size && Number(st.mode & 0o7777n) === (e.mode & 0o7777);
}

export class RestoreTarget {
  /** Folders known to be real folders inside the target (checked or made by this run). */
  private readonly dirs = new Set<string>();
  private readonly logged = new Set<string>();
  private logFd: number | null = null;

  constructor(
    readonly to: string,
    private readonly fs: Fsx,
    private readonly opts: {
      dryRun: boolean;
      /** an absolute source path the archive has an entry for */
      archived(p: string): boolean;
      /** the catalogued mode of the directory at an absolute source path, if the archive has one */
      dirMode?(p: string): number | undefined;
    },
  ) {}

  /** Where the entry at absolute source path `p` goes. */
  pathOf(p: string): string {
    return path.join(this.to, p);
  }

  /** Removes what a crashed run left (temporary files, repair scratch) before this run writes anything. */
  cleanEarlierRun(): void {
    if (this.opts.dryRun) return;
    const log = path.join(this.to, TEMP_LOG);
    let text: string;
    try {
      text = this.fs.readFileSync(log, 'utf8') as string;
    } catch {
      text = '';
    }
    for (const dir of new Set(text.split('\n').filter((l) => l !== ''))) {
      if (!path.isAbsolute(dir) || !isWithin(path.normalize(dir), this.to) || !this.isRealDir(dir)) continue;
      for (const name of this.fs.readdirSync(dir) as string[]) {
        if (!isTempName(name)) continue;
        const p = path.join(dir, name);
        if (!this.fs.lstatSync(p).isDirectory()) this.fs.unlinkSync(p);
      }
    }
    this.fs.rmSync(path.join(this.to, REPAIR_SCRATCH), { recursive: true, force: true });
    this.fs.rmSync(log, { force: true });
  }

  /** Ends the run: nothing temporary is left, so the list of folders to clean goes. */
  finish(): void {
    if (this.opts.dryRun) return;
    this.fs.rmSync(path.join(this.to, REPAIR_SCRATCH), { recursive: true, force: true });
    if (this.logFd !== null) {
      this.fs.closeSync(this.logFd);
      this.logFd = null;
      this.fs.rmSync(path.join(this.to, TEMP_LOG), { force: true });
    }
  }

  /** A folder for repair work, inside the target (so its results rename into place where they can). */
  scratch(): string {
    const dir = path.join(this.to, REPAIR_SCRATCH);
    this.fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Records, before the first temporary file is made there, that `dir` may get one. */
  willWriteIn(dir: string): void {
    if (this.opts.dryRun || this.logged.has(dir)) return;
    if (this.logFd === null) this.logFd = this.fs.openSync(path.join(this.to, TEMP_LOG), 'a', 0o600);
    this.fs.writeSync(this.logFd, `${dir}\n`);
    this.logged.add(dir);
  }

  private isRealDir(p: string): boolean {
    try {
      return this.fs.lstatSync(p).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * The folder the entry at `p` goes into, checked (and made, unless `create` is false or this is a
   * dry run) component by component. null: it does not exist yet and was not made.
   */
  parentOf(p: string, create: boolean): string | null {
    return this.dirAt(path.dirname(p), create);
  }

  /**
   * The folder at absolute source path `dir` in the target, checked (and made) like parentOf's. A
   * folder the archive has a row for is made with its own permission bits plus the owner's rwx
   * (files go in now; restoreDirs gives the exact mode at the end): a private folder is never
   * made wider than private.
   */
  dirAt(dir: string, create: boolean): string | null {
    const wanted = dir === '/' ? this.to : this.pathOf(dir);
    if (this.dirs.has(wanted)) return wanted;
    if (!this.dirs.has(this.to)) {
      // The target itself is the user's choice: links on the way to it are theirs to follow.
      if (!create || this.opts.dryRun) {
        if (!this.fs.existsSync(this.to)) return null;
      } else this.fs.mkdirSync(this.to, { recursive: true });
      this.dirs.add(this.to);
    }
    const parts = dir.split('/').filter((x) => x !== '');
    let cur = this.to;
    let source = '';
    for (const part of parts) {
      cur = path.join(cur, part);
      source = `${source}/${part}`;
      if (this.dirs.has(cur)) continue;
      const mode = this.opts.dirMode?.(source);
      const working = mode === undefined ? 0o755 : (mode & 0o7777) | 0o700;
      let st;
      try {
        st = this.fs.lstatSync(cur);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err;
        if (!create || this.opts.dryRun) return null;
        try {
          this.fs.mkdirSync(cur, working);
          // mkdir's mode passes through the umask: the exact bits come with chmod.
          if (mode !== undefined) this.fs.chmodSync(cur, working);
        } catch (e) {
          if (errCode(e) !== 'EEXIST') throw e;
        }
        st = this.fs.lstatSync(cur);
      }
      if (st.isSymbolicLink()) {
        // Only `--to /`: a link of the system that the archive does not restore itself.
        const followable = this.to === '/' && !this.opts.archived(source);
        if (!followable || !this.fs.statSync(cur).isDirectory()) {
          throw new BlockedPath(`${cur} is a symlink where a folder should be; a restore does not follow it`);
        }
      } else if (!st.isDirectory()) {
        throw new BlockedPath(`${cur} is not a folder; the restore does not replace it`);
      } else if (mode !== undefined && create && !this.opts.dryRun && (st.mode & 0o700) !== 0o700) {
        // An earlier restore gave it its exact mode (say 0500): the owner may write into it again.
        this.fs.chmodSync(cur, (st.mode & 0o7777) | 0o700);
      }
      this.dirs.add(cur);
    }
    return wanted;
  }

  /** Whether `where` (in the target) was checked or made as a real folder by this run. */
  isCheckedDir(where: string): boolean {
    return this.dirs.has(where);
  }

  /** How the entry's target stands now (its folder must have been checked by parentOf). */
  stateOf(e: CatalogEntry, parentExists: boolean): TargetState {
    if (!parentExists) return { kind: 'absent' };
    const where = this.pathOf(e.path);
    let st: BigIntStats;
    try {
      st = this.fs.lstatSync(where, { bigint: true }) as BigIntStats;
    } catch (err) {
      if (errCode(err) === 'ENOENT') return { kind: 'absent' };
      throw err;
    }
    if (matches(e, st, () => this.fs.readlinkSync(where, 'utf8') as string)) return { kind: 'correct', ino: st.ino };
    return { kind: 'differs', ino: st.isFile() ? st.ino : null };
  }
}
