/**
 * Verifying a disk against its own catalog, and fixing what can be fixed from the disk itself.
 *
 * What is compared (always): every catalogued path is there with its kind, size, mtime and symlink
 * target; nothing else is on the disk (outside `.blaine`, and `lost+found` at the root); every
 * non-empty file that should have parity has a complete set, and no parity file is left without
 * its file. With `checksum`, files are also read and their SHA1 compared, least recently verified
 * first, and their parity files are read to check PAR2's own packet checksums.
 *
 * Decisions worth knowing:
 * - Names hardlinked together share one inode and so one mtime, while the catalog keeps each
 *   name's own: the mtime of an inode that holds more than one catalogued name is not checked.
 *   Content is read once per inode and the result holds for every name on it.
 * - Damage that parity can repair is reported as `checksum` (or `size`), damage it cannot as
 *   `unrepairable`: without `fix` par2 is asked (verify only) so the report says which is which.
 * - A repair writes the repaired bytes into the damaged inode (only the chunks that differ), so
 *   every name hardlinked to it is repaired at once and stays linked. This is not atomic, but each
 *   chunk only ever goes from damaged to correct, and the parity is not touched, so an interrupted
 *   repair leaves a file no worse than before that the next run repairs again.
 * - Nothing is ever changed on the strength of an unread file: fixing an mtime, or making parity,
 *   first checks the file's SHA1 (also without `checksum`), since new parity made from damaged
 *   data would make the damage permanent and a corrected mtime would hide a changed file.
 * - A missing file is not copied again from the data paths (that is the next backup's job), but
 *   with `fix` it is given back when the disk itself still holds its content: hardlinked to
 *   another catalogued name with the same SHA1 (as backup stores duplicates), or rebuilt from its
 *   parity when that covers the whole file (small files). A missing symlink or empty file is made
 *   again from the catalog, which holds all of it.
 * - `no-parity`: a non-empty file whose catalog row has no parity, reported only when the volume
 *   has parity for other files (a disk written with --no-parity is not expected to have any);
 *   `fix` makes it at `parityPct`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { parityPacketsIntact } from '../parity/packets.js';
import { ParityError, repairTo, verifyParity, type Par2Config } from '../parity/par2.js';
import { INDEX_SUFFIX, linkParity, parityDir, pruneParityDirs, RECOVERY_SUFFIX } from '../parity/paths.js';
import { ParityPool } from '../parity/pool.js';
import { CopyError, makeSymlink, mtimeMatches, setTimes, sha1File, syncDisk } from '../fsx/copy.js';
import { isRoot, realFs, type Fsx } from '../fsx/fsx.js';
import { pruneEmptyDirs, walkFiles } from '../fsx/tree.js';
import { diskRelative } from '../fsx/paths.js';
import { tempName } from '../fsx/temp.js';
import { BLAINE_DIR, diskTempDir } from '../archive/layout.js';

export type ProblemKind =
  | 'missing'
  | 'extra'
  | 'size'
  | 'mtime'
  | 'target'
  | 'checksum'
  | 'unrepairable'
  | 'parity-missing'
  | 'no-parity'
  | 'parity-damaged'
  | 'parity-orphan';

export interface Problem {
  /**
   * The absolute source path of the file concerned (as `list` shows it); for `extra` the path the
   * file would have; for `parity-orphan` the parity file's own path on the disk.
   */
  path: string;
  kind: ProblemKind;
  repaired: boolean;
  /** One sentence for the user. */
  detail: string;
}

export interface VerifyOptions {
  /** Where the volume's files are. */
  root: string;
  volume: string;
  /** The disk catalog: the truth for what the disk should hold. */
  disk: Catalog;
  /** The host catalog, kept in step for verified_at and parity names (rows it has only). */
  host: Catalog;
  checksum: boolean;
  /** With checksum: only files not verified within this many seconds. */
  olderThanSec?: number;
  /** With checksum: no file is started after this many ms (the first one always is, so every run gets on). */
  maxTimeMs?: number;
  fix: boolean;
  /** Redundancy of parity made by `fix`. */
  parityPct: number;
  paritySlices?: number;
  jobs: number;
  par2?: Par2Config;
  signal: AbortSignal;
  /** Clock in ms (tests). */
  now?: () => number;
  detail(msg: string): void;
  warn(msg: string): void;
  progress?(checked: number, due: number, bytes: number): void;
  /** The file-system layer (default: the real one; tests pass a fault-injecting one). */
  fs?: Fsx;
}

export interface VerifyResult {
  problems: Problem[];
  /** Catalogued paths compared with the disk. */
  compared: number;
  /** Catalogued files whose content was read and its SHA1 checked in this run. */
  checked: number;
  /** Files due for a checksum that the time budget left for a later run. */
  remaining: number;
  interrupted: boolean;
}

type ContentState = 'unknown' | 'good' | 'bad';

/** What verify needs of an lstat, kept small: a BigIntStats per row would not fit a million-file disk. */
interface Seen {
  type: 'file' | 'symlink' | 'directory' | 'special';
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** "dev:ino" */
  inode: string;
}

interface Item {
  e: CatalogEntry;
  rel: string;
  full: string;
  st: Seen | null;
  group: Group | null;
  /** This name's parity files, as found in the parity tree. */
  parity: string[];
  state: ContentState;
  /** Its content was read (or repaired) in this run: verified_at is recorded. */
  verifiedNow: boolean;
  problems: Problem[];
}

/** One inode of the disk with every catalogued name on it. */
interface Group {
  key: string;
  items: Item[];
  hashed: boolean;
}

const FLUSH_ROWS = 500;
const FLUSH_MS = 2000;
const CHUNK = 1 << 20;

function errMessage(e: unknown): string {
  if (e instanceof ParityError || e instanceof CopyError) return e.message.replace(/\.$/, '');
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code}: ${err.message}` : String((e as Error)?.message ?? e);
}

/** lstat with nanosecond mtimes (bigint: a double cannot hold them exactly). */
function lstatOrNull(p: string, fs: Fsx): Seen | null {
  let st: fs.BigIntStats;
  try {
    st = fs.lstatSync(p, { bigint: true });
  } catch {
    return null;
  }
  let sec = st.mtimeNs / 1_000_000_000n;
  let nsec = st.mtimeNs % 1_000_000_000n;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    sec -= 1n;
  }
  return {
    type: st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : 'special',
    size: Number(st.size),
    mtimeSec: Number(sec),
    mtimeNsec: Number(nsec),
    inode: `${st.dev}:${st.ino}`,
  };
}

function typeName(st: Seen): string {
  return st.type === 'special' ? 'a special file' : `a ${st.type}`;
}

function readFull(fd: number, buf: Buffer, n: number, pos: number, fs: Fsx): number {
  let got = 0;
  while (got < n) {
    const k = fs.readSync(fd, buf, got, n - got, pos + got);
    if (k === 0) break;
    got += k;
  }
  return got;
}

/**
 * Writes `from`'s bytes into the inode at `target` (see the module comment), then gives it back
 * the mtime `times`. Only chunks that differ are written: a repair of one bad sector writes one chunk.
 */
function writeInPlace(target: string, from: string, size: number, times: { sec: number; nsec: number }, fs: Fsx): void {
  const st = fs.statSync(target);
  let fd: number;
  let modeChanged = false;
  try {
    fd = fs.openSync(target, 'r+');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw e;
    // A read-only archived file is still ours to repair: owner write for the repair, then back.
    fs.chmodSync(target, (st.mode & 0o7777) | 0o200);
    modeChanged = true;
    fd = fs.openSync(target, 'r+');
  }
  let src: number | undefined;
  try {
    src = fs.openSync(from, 'r');
    const good = Buffer.allocUnsafe(CHUNK);
    const old = Buffer.allocUnsafe(CHUNK);
    for (let pos = 0; pos < size; ) {
      const n = readFull(src, good, Math.min(CHUNK, size - pos), pos, fs);
      if (n === 0) break;
      let same = false;
      try {
        same = readFull(fd, old, n, pos, fs) === n && good.subarray(0, n).equals(old.subarray(0, n));
      } catch {
        // An unreadable sector: writing it is exactly what the disk needs to remap it.
      }
      if (!same) {
        let off = 0;
        while (off < n) off += fs.writeSync(fd, good, off, n - off, pos + off);
      }
      pos += n;
    }
    fs.ftruncateSync(fd, size);
    fs.fsyncSync(fd);
  } finally {
    if (src !== undefined) fs.closeSync(src);
    fs.closeSync(fd);
    if (modeChanged) fs.chmodSync(target, st.mode & 0o7777);
  }
  setTimes(target, times.sec, times.nsec, fs);
}

/** Names hardlinked together share parity sets (linkParity): a set is known by its files' inodes. */
function setKey(files: string[], fs: Fsx): string | null {
  try {
    return files
      .map((f) => {
        const st = fs.statSync(f);
        return `${st.dev}:${st.ino}`;
      })
      .sort()
      .join(',');
  } catch {
    return null;
  }
}

function applyMeta(file: string, e: CatalogEntry, fs: Fsx): void {
  if (isRoot) fs.chownSync(file, e.uid, e.gid);
  fs.chmodSync(file, e.mode & 0o7777);
  setTimes(file, e.mtimeSec, e.mtimeNsec, fs);
}

export async function verifyDisk(o: VerifyOptions): Promise<VerifyResult> {
  return new Verifier(o).run();
}

class Verifier {
  private readonly now: () => number;
  private readonly started: number;
  private readonly problems: Problem[] = [];
  private readonly items: Item[] = [];
  private readonly byRel = new Map<string, Item>();
  private readonly groups = new Map<string, Group>();
  private readonly orphans: string[] = [];
  private readonly intactCache = new Map<string, boolean>();
  private readonly settledGroups = new Set<Group>();
  /** Names whose content was read (or repaired and checked) in this run. */
  private readonly checked = new Set<Item>();
  private remaining = 0;
  private bytesRead = 0;
  private interrupted = false;
  private pending: Array<(c: Catalog) => void> = [];
  private lastFlush: number;
  private wroteData = false;
  private pool: ParityPool | null = null;

  private readonly fs: Fsx;

  constructor(private readonly o: VerifyOptions) {
    this.fs = o.fs ?? realFs;
    this.now = o.now ?? Date.now;
    this.started = this.now();
    this.lastFlush = this.started;
  }

  async run(): Promise<VerifyResult> {
    try {
      this.compare();
      await this.hashScheduled();
      if (!this.stopped()) await this.settleContent();
      if (this.o.fix && !this.stopped()) await this.fixMissing();
      // Looking for a twin of a lost file may have read, and found damaged, more inodes.
      if (this.o.fix && !this.stopped()) await this.settleContent();
      if (this.o.fix && !this.stopped()) this.fixMetadata();
      if (this.o.fix && !this.stopped()) this.dropStrays();
      if (this.o.fix && !this.stopped()) await this.rebuildParity();
    } finally {
      await this.pool?.abort();
      this.flush();
    }
    this.problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
    return {
      problems: this.problems,
      compared: this.items.length,
      checked: this.checked.size,
      remaining: this.remaining,
      interrupted: this.interrupted,
    };
  }

  private stopped(): boolean {
    if (this.o.signal.aborted) this.interrupted = true;
    return this.interrupted;
  }

  private add(item: Item | null, p: string, kind: ProblemKind, detail: string): Problem {
    const pr: Problem = { path: p, kind, repaired: false, detail };
    this.problems.push(pr);
    item?.problems.push(pr);
    return pr;
  }

  private has(item: Item, ...kinds: ProblemKind[]): Problem | undefined {
    return item.problems.find((p) => kinds.includes(p.kind));
  }

  private repaired(item: Item, ...kinds: ProblemKind[]): void {
    for (const p of item.problems) if (kinds.includes(p.kind)) p.repaired = true;
  }

  // ---- comparing ----

  private compare(): void {
    const { root } = this.o;
    for (const e of this.o.disk.iterateVolume(this.o.volume)) {
      const r = diskRelative(e.path);
      const full = path.join(root, r);
      const item: Item = { e, rel: r, full, st: lstatOrNull(full, this.fs), group: null, parity: [], state: 'unknown', verifiedNow: false, problems: [] };
      this.items.push(item);
      this.byRel.set(r, item);
    }
    const wantsParity = (it: Item | undefined): it is Item =>
      !!it && it.e.kind === 'file' && it.e.size > 0 && it.e.parityName !== null;
    const hasParity = this.items.some(wantsParity);

    for (const item of this.items) {
      const { e, st } = item;
      if (!st) {
        this.add(item, e.path, 'missing', `${e.kind === 'symlink' ? 'the symlink' : 'the file'} is not on the disk`);
        continue;
      }
      if (e.kind === 'symlink') {
        if (st.type !== 'symlink') {
          this.add(item, e.path, 'missing', `the disk has ${typeName(st)} where the symlink should be`);
          continue;
        }
        const target = this.fs.readlinkSync(item.full);
        if (target !== e.linkTarget) this.add(item, e.path, 'target', `the symlink points to ${target}, not ${e.linkTarget}`);
        if (!mtimeMatches(st.mtimeSec, st.mtimeNsec, e.mtimeSec, e.mtimeNsec)) this.add(item, e.path, 'mtime', 'the symlink has another mtime');
        continue;
      }
      if (st.type !== 'file') {
        this.add(item, e.path, 'missing', `the disk has ${typeName(st)} where the file should be`);
        continue;
      }
      const key = st.inode;
      let g = this.groups.get(key);
      if (!g) {
        g = { key, items: [], hashed: false };
        this.groups.set(key, g);
      }
      g.items.push(item);
      item.group = g;
      if (st.size !== e.size) {
        item.state = 'bad';
        this.add(item, e.path, 'size', `the file has ${st.size} bytes, the catalog says ${e.size}`);
      }
    }
    // Only now is it known which inodes hold more than one catalogued name.
    for (const item of this.items) {
      if (!item.group || item.group.items.length > 1 || !item.st) continue;
      const st = item.st;
      if (!mtimeMatches(st.mtimeSec, st.mtimeNsec, item.e.mtimeSec, item.e.mtimeNsec)) {
        const when = new Date(st.mtimeSec * 1000).toISOString();
        this.add(item, item.e.path, 'mtime', `the file's mtime is ${when}, not the catalogued ${new Date(item.e.mtimeSec * 1000).toISOString()}`);
      }
    }

    // Extra files: one walk of the disk, the archive's own folder left out.
    walkFiles(
      root,
      '',
      (r) => r === BLAINE_DIR || r === 'lost+found',
      (r, full) => {
        if (!this.byRel.has(r)) this.add(null, `/${r}`, 'extra', `${full} is on the disk but not in its catalog`);
      },
      this.fs,
    );

    // Parity: one walk of the parity tree; each file belongs to the data file it is named after.
    // `x.vol+.par2` is both x's recovery file and the index of a file named `x.vol+`: whichever
    // is catalogued owns it.
    const pdir = parityDir(root);
    walkFiles(pdir, '', () => false, (pr, full) => {
      const owners: Item[] = [];
      for (const suffix of [INDEX_SUFFIX, RECOVERY_SUFFIX]) {
        if (!pr.endsWith(suffix)) continue;
        const it = this.byRel.get(pr.slice(0, -suffix.length));
        if (wantsParity(it) && !owners.includes(it)) owners.push(it);
      }
      if (owners.length === 0) this.orphans.push(full);
      for (const it of owners) it.parity.push(full);
    }, this.fs);
    for (const full of this.orphans) {
      this.add(null, full, 'parity-orphan', 'the parity file belongs to no catalogued file with parity');
    }
    for (const item of this.items) {
      const { e } = item;
      if (e.kind !== 'file' || e.size === 0) continue;
      if (e.parityName === null) {
        if (hasParity) this.add(item, e.path, 'no-parity', 'the file has no parity');
        continue;
      }
      if (item.parity.length === 0) this.add(item, e.path, 'parity-missing', 'the parity files are not on the disk');
      else if (!this.parityComplete(item)) {
        const lost = this.hasRecovery(item) ? 'index' : 'recovery file';
        this.add(item, e.path, 'parity-damaged', `the parity set is incomplete: its ${lost} is not on the disk`);
      }
    }
  }

  private parityStem(item: Item): string {
    return path.join(parityDir(this.o.root), item.rel);
  }

  /** Both files createParity makes are there. */
  private parityComplete(item: Item): boolean {
    const stem = this.parityStem(item);
    return item.parity.includes(stem + INDEX_SUFFIX) && item.parity.includes(stem + RECOVERY_SUFFIX);
  }

  /** par2 can verify and repair from the recovery file alone (it repeats the set's description). */
  private hasRecovery(item: Item): boolean {
    return item.parity.includes(this.parityStem(item) + RECOVERY_SUFFIX);
  }

  // ---- reading content ----

  /** Reads a group's inode once and judges each name on it; false when interrupted. */
  private async hashGroup(g: Group): Promise<boolean> {
    if (g.hashed) return true;
    const first = g.items[0]!;
    let res: { sha1: string; bytes: number } | null = null;
    let why = '';
    try {
      res = await sha1File(first.full, { signal: this.o.signal, fs: this.fs });
    } catch (e) {
      if (this.o.signal.aborted) {
        this.interrupted = true;
        return false;
      }
      why = errMessage(e);
    }
    g.hashed = true;
    for (const item of g.items) {
      if (item.e.sha1 === null) continue;
      this.checked.add(item);
      if (res && res.sha1 === item.e.sha1 && res.bytes === item.e.size) {
        item.state = 'good';
        this.markVerified(item);
      } else if (item.state !== 'bad') {
        item.state = 'bad';
        this.add(item, item.e.path, 'checksum', res ? "the file's SHA1 differs from the catalog" : `the file cannot be read (${why})`);
      }
    }
    if (res) this.bytesRead += res.bytes;
    if (this.o.checksum) await this.checkParityPackets(g);
    this.maybeFlush();
    return true;
  }

  /** PAR2 packets carry their own MD5s: reading the parity once tells whether it is still whole. */
  private async checkParityPackets(g: Group): Promise<void> {
    for (const item of g.items) {
      if (item.e.parityName === null || !this.parityComplete(item) || this.has(item, 'parity-damaged')) continue;
      const key = setKey(item.parity, this.fs);
      if (key === null) continue;
      let intact = this.intactCache.get(key);
      if (intact === undefined) {
        intact = await parityPacketsIntact(item.parity);
        this.intactCache.set(key, intact);
      }
      if (!intact) this.add(item, item.e.path, 'parity-damaged', 'the parity files are damaged');
    }
  }

  private async hashScheduled(): Promise<void> {
    const needed: Group[] = [];
    const due: Group[] = [];
    const fixNeedsContent: ProblemKind[] = ['mtime', 'parity-missing', 'no-parity', 'parity-damaged'];
    const nowSec = Math.floor(this.now() / 1000);
    const cutoff = this.o.olderThanSec === undefined ? Infinity : nowSec - this.o.olderThanSec;
    const lastVerified = (g: Group): number => Math.min(...g.items.map((i) => i.e.verifiedAt ?? -Infinity));
    for (const g of this.groups.values()) {
      if (g.items.every((i) => i.state === 'bad' || i.e.sha1 === null)) continue;
      if (this.o.fix && g.items.some((i) => this.has(i, ...fixNeedsContent))) needed.push(g);
      else if (this.o.checksum && g.items.some((i) => (i.e.verifiedAt ?? -Infinity) < cutoff)) due.push(g);
    }
    due.sort((a, b) => lastVerified(a) - lastVerified(b) || (a.items[0]!.e.path < b.items[0]!.e.path ? -1 : 1));
    const total = needed.length + due.length;
    let done = 0;
    for (const g of needed) {
      if (this.stopped() || !(await this.hashGroup(g))) return;
      this.o.progress?.(++done, total, this.bytesRead);
    }
    for (let i = 0; i < due.length; i++) {
      if (this.stopped()) return;
      if (i > 0 && this.o.maxTimeMs !== undefined && this.now() - this.started >= this.o.maxTimeMs) {
        this.remaining = due.slice(i).reduce((n, g) => n + g.items.length, 0);
        return;
      }
      if (!(await this.hashGroup(due[i]!))) return;
      this.o.progress?.(++done, total, this.bytesRead);
    }
  }

  // ---- content damage ----

  private newTemp(): string {
    const dir = diskTempDir(this.o.root);
    this.fs.mkdirSync(dir, { recursive: true });
    return path.join(dir, tempName('verify'));
  }

  /** Names in the group with the given content and a usable parity set, one per distinct set. */
  private paritySources(items: Item[], like: CatalogEntry): Item[] {
    const seen = new Set<string>();
    const out: Item[] = [];
    for (const it of items) {
      if (it.e.parityName === null || it.e.sha1 !== like.sha1 || it.e.size !== like.size || !this.hasRecovery(it)) continue;
      const key = setKey(it.parity, this.fs);
      if (key === null || seen.has(key)) continue;
      seen.add(key);
      out.push(it);
    }
    return out;
  }

  /** Classifies (and with fix, repairs) every inode whose content is damaged. */
  private async settleContent(): Promise<void> {
    for (const g of this.groups.values()) {
      if (this.stopped()) return;
      if (this.settledGroups.has(g)) continue;
      const bad = g.items.filter((i) => i.state === 'bad');
      if (bad.length === 0) continue;
      this.settledGroups.add(g);
      const like = bad[0]!.e;
      const consistent = bad.every((i) => i.e.sha1 === like.sha1 && i.e.size === like.size);
      let why = 'it has no parity';
      let repairable = false;
      let unknown: string | null = null;
      if (!consistent) {
        why = 'names hardlinked on the disk have different contents in the catalog';
      } else {
        for (const src of this.paritySources(g.items, like)) {
          const r = this.o.fix ? await this.repairGroup(g, src, like) : await this.askPar2(src);
          if (r === true) {
            repairable = true;
            break;
          }
          if (typeof r === 'object') {
            unknown = r.unknown;
            break;
          }
          why = r;
          if (this.stopped()) return;
        }
      }
      for (const item of bad) {
        for (const p of item.problems) {
          if (p.kind !== 'checksum' && p.kind !== 'size') continue;
          if (unknown !== null) {
            p.detail = `${p.detail}; ${unknown}`;
          } else if (!repairable) {
            p.kind = 'unrepairable';
            p.detail = `${p.detail}, and ${why}`;
          } else if (this.o.fix) {
            p.repaired = true;
          }
        }
      }
    }
  }

  /** Whether par2 could repair the file, without repairing it: true, why not, or why that is not known. */
  private async askPar2(src: Item): Promise<true | string | { unknown: string }> {
    try {
      const r = await verifyParity(this.o.root, src.rel, src.e.parityName!, { cfg: this.o.par2, signal: this.o.signal });
      if (r.state === 'repairable') return true;
      if (r.state === 'ok') return 'its parity matches the bytes on the disk, not the catalogued SHA1';
      if (r.state === 'missing') return 'its parity is unusable';
      return 'the damage is beyond what its parity can repair';
    } catch (e) {
      if (e instanceof ParityError && (e.code === 'ENOPAR2' || e.code === 'ABORTED')) {
        return { unknown: `whether its parity can repair it is not known (${errMessage(e)})` };
      }
      return `par2 could not check it (${errMessage(e)})`;
    }
  }

  /** Repairs the group's inode from src's parity set: true, or why not. */
  private async repairGroup(g: Group, src: Item, like: CatalogEntry): Promise<true | string> {
    const tmp = this.newTemp();
    try {
      let ok: boolean;
      try {
        ok = await repairTo(this.o.root, src.rel, src.e.parityName!, tmp, { cfg: this.o.par2, signal: this.o.signal });
      } catch (e) {
        return `par2 could not repair it (${errMessage(e)})`;
      }
      if (!ok) return 'the damage is beyond what its parity can repair';
      const got = await sha1File(tmp, { fs: this.fs });
      if (got.sha1 !== like.sha1 || got.bytes !== like.size) return 'its parity gives back other bytes than the catalogued SHA1';
      const target = g.items[0]!;
      // One name: the catalog's mtime is the file's. Several: the inode's own mtime stands.
      const times =
        g.items.length === 1
          ? { sec: target.e.mtimeSec, nsec: target.e.mtimeNsec }
          : { sec: target.st!.mtimeSec, nsec: target.st!.mtimeNsec };
      try {
        writeInPlace(target.full, tmp, like.size, times, this.fs);
      } catch (e) {
        return `the repaired bytes could not be written (${errMessage(e)})`;
      }
      this.wroteData = true;
      for (const item of g.items) {
        if (item.e.sha1 !== like.sha1 || item.e.size !== like.size) continue;
        item.state = 'good';
        this.markVerified(item);
        if (g.items.length === 1) this.repaired(item, 'mtime');
      }
      this.o.detail(`repaired ${g.items.map((i) => i.e.path).join(', ')} from parity`);
      return true;
    } finally {
      this.fs.rmSync(tmp, { force: true });
    }
  }

  // ---- missing names ----

  private contentIndex: Map<string, Item[]> | null = null;

  private twinsOf(item: Item): Item[] {
    if (!this.contentIndex) {
      this.contentIndex = new Map();
      for (const it of this.items) {
        if (!it.group || it.e.sha1 === null) continue;
        const k = `${it.e.size}:${it.e.sha1}`;
        const list = this.contentIndex.get(k) ?? [];
        list.push(it);
        this.contentIndex.set(k, list);
      }
    }
    return this.contentIndex.get(`${item.e.size}:${item.e.sha1}`) ?? [];
  }

  private async fixMissing(): Promise<void> {
    for (const item of this.items) {
      if (this.stopped()) return;
      const missing = this.has(item, 'missing');
      const target = this.has(item, 'target');
      if (!missing && !target) continue;
      if (item.st && !(item.e.kind === 'symlink' && item.st.type === 'symlink')) {
        // Something uncatalogued in the way (a directory, a file where a symlink belongs) is not
        // Blaine's to remove: it is reported, and left.
        if (missing) missing.detail += '; not replaced';
        continue;
      }
      try {
        const how = item.e.kind === 'symlink' ? this.remakeSymlink(item) : await this.giveBack(item);
        if (how === null) continue;
        this.repaired(item, 'missing', 'target', 'mtime');
        this.o.detail(`${item.e.path}: ${how}`);
      } catch (e) {
        const p = missing ?? target!;
        p.detail += ` (could not be fixed: ${errMessage(e)})`;
      }
    }
  }

  private remakeSymlink(item: Item): string {
    makeSymlink(item.e.linkTarget ?? '', item.full, item.e, this.fs);
    this.wroteData = true;
    return 'symlink made again from the catalog';
  }

  /** Gives a lost file back from the disk's own content; null (and the reason in its problem) when it cannot. */
  private async giveBack(item: Item): Promise<string | null> {
    const { e } = item;
    const p = this.has(item, 'missing')!;
    if (e.size === 0) {
      this.fs.mkdirSync(path.dirname(item.full), { recursive: true });
      this.fs.writeFileSync(item.full, '');
      applyMeta(item.full, e, this.fs);
      this.settled(item);
      return 'empty file made again';
    }
    if (e.sha1 !== null) {
      for (const twin of this.twinsOf(item)) {
        if (twin === item || !twin.group) continue;
        if (!(await this.hashGroup(twin.group))) return null;
        if (twin.state !== 'good') continue;
        this.placeLink(twin.full, item.full);
        item.group = twin.group;
        twin.group.items.push(item);
        this.settled(item);
        return `hardlinked again to ${twin.e.path}, which holds the same content`;
      }
    }
    if (e.parityName !== null && this.hasRecovery(item)) {
      const tmp = this.newTemp();
      try {
        const ok = await repairTo(this.o.root, item.rel, e.parityName, tmp, { cfg: this.o.par2, signal: this.o.signal }).catch(() => false);
        if (ok) {
          const got = await sha1File(tmp, { fs: this.fs });
          if (got.sha1 === e.sha1 && got.bytes === e.size) {
            applyMeta(tmp, e, this.fs);
            this.fs.mkdirSync(path.dirname(item.full), { recursive: true });
            this.fs.renameSync(tmp, item.full);
            this.wroteData = true;
            this.settled(item);
            return 'rebuilt from its parity';
          }
        }
      } finally {
        this.fs.rmSync(tmp, { force: true });
      }
    }
    p.detail += ', and the disk holds nothing to rebuild it from (the next backup copies it again if its source still exists)';
    return null;
  }

  private placeLink(from: string, to: string): void {
    this.fs.mkdirSync(path.dirname(to), { recursive: true });
    const tmp = this.newTemp();
    this.fs.linkSync(from, tmp);
    this.fs.renameSync(tmp, to);
    this.wroteData = true;
  }

  /** A name given back: its content is what the catalog says. */
  private settled(item: Item): void {
    item.state = 'good';
    item.st = lstatOrNull(item.full, this.fs);
    this.markVerified(item);
  }

  // ---- metadata, strays, parity ----

  private fixMetadata(): void {
    for (const item of this.items) {
      const p = this.has(item, 'mtime');
      if (!p || p.repaired) continue;
      // A symlink has no content to doubt; a file's mtime is fixed only once its bytes are known good.
      if (item.e.kind === 'file' && item.state !== 'good') {
        p.detail += "; left as it is while the file's content is not known to be good";
        continue;
      }
      try {
        setTimes(item.full, item.e.mtimeSec, item.e.mtimeNsec, this.fs);
        p.repaired = true;
        this.wroteData = true;
      } catch (e) {
        p.detail += ` (could not be fixed: ${errMessage(e)})`;
      }
    }
  }

  private dropStrays(): void {
    for (const p of this.problems) {
      if (p.kind !== 'extra' && p.kind !== 'parity-orphan') continue;
      const full = p.kind === 'extra' ? path.join(this.o.root, diskRelative(p.path)) : p.path;
      try {
        this.fs.rmSync(full, { force: true });
        p.repaired = true;
        this.wroteData = true;
        if (p.kind === 'extra') pruneEmptyDirs(this.o.root, path.dirname(full), this.fs);
        else pruneParityDirs(this.o.root, path.dirname(full));
      } catch (e) {
        p.detail += ` (could not be removed: ${errMessage(e)})`;
      }
    }
  }

  private async rebuildParity(): Promise<void> {
    const kinds: ProblemKind[] = ['parity-missing', 'no-parity', 'parity-damaged'];
    const jobs: Array<Promise<void>> = [];
    const seen = new Set<Group>();
    for (const item of this.items) {
      const g = item.group;
      if (!g || seen.has(g) || !this.has(item, ...kinds)) continue;
      seen.add(g);
      const needing = g.items.filter((i) => this.has(i, ...kinds));
      const unknown = needing.filter((i) => i.state !== 'good');
      for (const i of unknown) {
        for (const p of i.problems) if (kinds.includes(p.kind)) p.detail += "; not rebuilt while the file's content is not known to be good";
      }
      const ready = needing.filter((i) => i.state === 'good');
      if (ready.length > 0) jobs.push(this.rebuildGroup(g, ready));
    }
    await Promise.all(jobs);
    await this.pool?.drain();
  }

  /** Gives `ready` (good names of one inode) parity: linked from a sound set in the group, else made once. */
  private async rebuildGroup(g: Group, ready: Item[]): Promise<void> {
    const kinds: ProblemKind[] = ['parity-missing', 'no-parity', 'parity-damaged'];
    const like = ready[0]!.e;
    let source: { rel: string; parityName: string } | null = null;
    for (const it of g.items) {
      if (ready.includes(it) || it.state !== 'good' || it.e.sha1 !== like.sha1 || it.e.parityName === null) continue;
      if (!this.parityComplete(it) || !(await parityPacketsIntact(it.parity))) continue;
      source = { rel: it.rel, parityName: it.e.parityName };
      break;
    }
    let todo = ready;
    if (!source) {
      const first = ready[0]!;
      try {
        this.pool ??= this.makePool();
        const made = await this.pool.submit(this.o.root, first.rel, first.e.size);
        this.setParity(first, made.parityName);
        source = { rel: first.rel, parityName: made.parityName };
        todo = ready.slice(1);
      } catch (e) {
        for (const i of ready) for (const p of i.problems) if (kinds.includes(p.kind)) p.detail += ` (parity could not be made: ${errMessage(e)})`;
        return;
      }
    }
    for (const it of todo) {
      try {
        linkParity(this.o.root, source.rel, it.rel);
        this.setParity(it, source.parityName);
      } catch (e) {
        for (const p of it.problems) if (kinds.includes(p.kind)) p.detail += ` (parity could not be linked: ${errMessage(e)})`;
      }
    }
  }

  private makePool(): ParityPool {
    const pool = new ParityPool({ jobs: this.o.jobs, pct: this.o.parityPct, maxSlices: this.o.paritySlices, cfg: this.o.par2 });
    this.o.signal.addEventListener('abort', () => void pool.abort(), { once: true });
    return pool;
  }

  private setParity(item: Item, parityName: string): void {
    this.wroteData = true;
    this.repaired(item, 'parity-missing', 'no-parity', 'parity-damaged');
    const { volume } = this.o;
    const p = item.e.path;
    this.pending.push((c) => c.setParityName(volume, p, parityName));
    this.o.detail(`parity made for ${p}`);
    this.maybeFlush();
  }

  // ---- catalogs ----

  private markVerified(item: Item): void {
    this.checked.add(item);
    if (item.verifiedNow) return;
    item.verifiedNow = true;
    const at = Math.floor(this.now() / 1000);
    const { volume } = this.o;
    const p = item.e.path;
    this.pending.push((c) => c.setVerifiedAt(volume, p, at));
  }

  private maybeFlush(): void {
    if (this.pending.length >= FLUSH_ROWS || this.now() - this.lastFlush >= FLUSH_MS) this.flush();
  }

  /** Writes what this run learnt, disk catalog first (the truth for the volume), as the executor does. */
  private flush(): void {
    this.lastFlush = this.now();
    if (this.pending.length === 0) return;
    const writes = this.pending;
    this.pending = [];
    // New parity files must be on the disk before a catalog says they are there.
    if (this.wroteData) syncDisk(this.o.root, this.fs);
    this.wroteData = false;
    for (const c of [this.o.disk, this.o.host]) c.transaction(() => writes.forEach((w) => w(c)));
  }
}
