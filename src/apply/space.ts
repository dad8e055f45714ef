/**
 * The free-space rule (SPEC §5, §6), in one place for the executor, the copies made ahead and the
 * dry run: a new file fits when the disk keeps, after it, the reserve free, counting what the file
 * really takes there in blocks: its data, its parity set's files (a small file's set is at least
 * one block), on an encrypted disk gocryptfs's overhead on each, the folders a run may make, and the
 * catalog rows it adds (the disk catalog, its rotated copy and the host-catalog snapshot each grow
 * by one).
 *
 * The rule counts from one statfs at the start, less the cost of every file admitted since, so a
 * dry run (which writes nothing) stops at the same file as the real run. The real run also asks
 * statfs again (every SPACE_RECHECK_COPIES copies or SPACE_RECHECK_MS, and at every file once
 * within SPACE_MARGIN of full), less what is admitted but not yet written (copies made ahead,
 * parity still being made), so that a disk that fills faster than the rule counts is still found.
 */
import path from 'node:path';
import { freeBytes } from '../fsx/space.js';
import { type Fsx } from '../fsx/fsx.js';
import { DEFAULT_MAX_SLICES, parityDiskBytes } from '../parity/slices.js';
import { nameToBytes } from '../fsx/name-bytes.js';

const SPACE_RECHECK_COPIES = 256;
const SPACE_RECHECK_MS = 1000;
const SPACE_MARGIN = 64 * 1024 * 1024;
/** A catalog row of a file: its fixed columns and indexes (measured ~600 bytes a row), plus its path (and parity name) in row and index. */
const ROW_BYTES = 640;
/** The catalogs that grow by a row per new file: the disk catalog, its rotated copy, the host snapshot. */
const CATALOG_COPIES = 3;
/**
 * Part of the reserve (catalogRoom) for the run's small files of its own: the journal, the
 * catalogs' shared memory, parity's scratch files. statfs sees them while the rule does not count
 * them, so the check against statfs may use this margin: that way it does not stop a real run
 * before its dry run would.
 */
const RUN_MARGIN = 1 << 20;

export interface SpaceRule {
  /** Parity percentage; 0 when no parity is made. */
  parityPct: number;
  /** `--parity-slices`. */
  paritySlices?: number;
  /** Bytes to keep free: `--reserve` and the room the catalogs' end-of-run writes need. */
  reserve: number;
  /** What the disk's file system stores for a file of n bytes (gocryptfs: more); default n. */
  stored?: (bytes: number) => number;
}

/**
 * What the rule refuses: `path` (with `parityOnly`, the parity of a file already stored) needs
 * `need` bytes with its parity and the reserve, and `free` are free.
 */
export interface SpaceRefusal {
  path: string;
  parityOnly: boolean;
  need: number;
  free: number;
}

/** True when the rule refused (admit, admitParity). */
export function refused(room: Admitted | SpaceRefusal): room is SpaceRefusal {
  return 'need' in room;
}

/**
 * What a new file of `size` bytes at path `p` costs the disk, in bytes of whole `block`s (folders
 * aside): `data` (its copy and its catalog rows) and `parity` (its set's files).
 */
export function fileCost(p: string, size: number, rule: SpaceRule, block: number): Admitted {
  const stored = rule.stored ?? ((n: number) => n);
  const nameBytes = nameToBytes(p).length;
  const data = block * Math.ceil(stored(size) / block) + CATALOG_COPIES * (ROW_BYTES + 4 * nameBytes);
  const parity = rule.parityPct > 0 ? parityDiskBytes(size, rule.parityPct, rule.paritySlices ?? DEFAULT_MAX_SLICES, block, stored, nameBytes) : 0;
  return { data, parity };
}

/**
 * Room the run's own bookkeeping needs on the disk at its end, as the catalogs are today: a rotated
 * copy of the disk catalog and the snapshot of the host catalog (their growth by this run's rows is
 * in each file's cost), and a margin. The database files alone are measured, not their logs, which
 * a run that has them open holds and a dry run does not: both must count the same.
 */
export function catalogRoom(diskCatalog: string, hostCatalog: string, fs: Fsx): number {
  const sizeOf = (f: string) => fs.lstatSync(f, { throwIfNoEntry: false })?.size ?? 0;
  return sizeOf(hostCatalog) + 2 * sizeOf(diskCatalog) + RUN_MARGIN;
}

/** The rule for a run's context; `parityPct` 0 when no parity is made. */
export function spaceRuleOf(ctx: { paritySlices?: number; reserve: number; storedBytes?: (n: number) => number }, parityPct: number): SpaceRule {
  return { parityPct, paritySlices: ctx.paritySlices, reserve: ctx.reserve, stored: ctx.storedBytes };
}

/** What admit() counted for one file: its data (on the disk once copied) and its parity (once made). */
export interface Admitted {
  data: number;
  parity: number;
}

/** Free space as the rule counts it, for one run (or one dry run) on one disk. */
export class SpaceBudget {
  private start: { free: number; block: number } | null = null;
  /** Bytes of every file admitted so far (with its parity, folders and rows). */
  private admitted = 0;
  /** Admitted but not yet on the disk: statfs does not see these yet. */
  private unwritten = 0;
  private readonly folders = new Set<string>();
  /** The last statfs, and what was written since. */
  private readonly live = { free: 0, at: 0, copies: 0, since: 0 };

  constructor(
    private readonly root: string,
    private readonly fs: Fsx,
    readonly rule: SpaceRule,
    /** A real run: statfs is asked again as the disk fills; a dry run counts from the start alone. */
    private readonly writes: boolean,
    /**
     * Files of the run's own whose room is in the reserve already (the disk catalog's write-ahead
     * log): statfs sees them grow, so the live count gives their size back instead of counting it twice.
     */
    private readonly reserved: string[] = [],
  ) {}

  private begin(): { free: number; block: number } {
    if (!this.start) {
      const st = this.fs.statfsSync(this.root, { bigint: true });
      this.start = { free: Number(st.bavail * st.bsize) + this.reservedNow(), block: Number(st.bsize) || 4096 };
      Object.assign(this.live, { free: this.start.free, at: Date.now(), copies: 0, since: 0 });
    }
    return this.start;
  }

  /**
   * Admits a new file of `size` bytes at source path `p` when the rule lets it fit: its cost is
   * counted from now on, and taken as not yet on the disk until wrote() is called for its parts.
   * Otherwise returns the refusal that stops the run as disk-full. `held`: room promised to
   * something else for the moment.
   */
  admit(p: string, size: number, held = 0): Admitted | SpaceRefusal {
    const { block } = this.begin();
    const cost = fileCost(p, size, this.rule, block);
    const newFolders: string[] = [];
    for (let d = path.posix.dirname(p); d !== '/' && d !== '.' && !this.folders.has(d); d = path.posix.dirname(d)) newFolders.push(d);
    // A folder in the data tree and one in the parity tree, a block each on most file systems.
    cost.data += 2 * block * newFolders.length;
    const need = cost.data + cost.parity + this.rule.reserve + held;
    const have = this.free(need);
    if (have < need) return { path: p, parityOnly: false, need, free: Math.max(0, have) };
    for (const d of newFolders) this.folders.add(d);
    this.take(cost.data + cost.parity);
    return cost;
  }

  /** Part of what admit() counted is on the disk now (or never will be): statfs shows it from now on. */
  wrote(bytes: number): void {
    this.unwritten -= bytes;
    this.live.since += bytes;
    this.live.copies++;
  }

  /**
   * Admits parity for a file already stored (one that lacks it): its set's blocks must fit like a
   * new file's, or the refusal.
   */
  admitParity(p: string, size: number): Admitted | SpaceRefusal {
    const { parity } = fileCost(p, size, this.rule, this.begin().block);
    const need = parity + this.rule.reserve;
    const have = this.free(need);
    if (have < need) return { path: p, parityOnly: true, need, free: Math.max(0, have) };
    this.take(parity);
    return { data: 0, parity };
  }

  /** Free bytes as the rule counts them; a real run also asks the disk when `need` comes near them. */
  private free(need: number): number {
    const counted = this.begin().free - this.admitted;
    return this.writes ? Math.min(counted, this.liveFree(need) + RUN_MARGIN) : counted;
  }

  private take(bytes: number): void {
    this.admitted += bytes;
    this.unwritten += bytes;
  }

  /**
   * A file admitted is not stored after all (it vanished, could not be read, or turned out to be
   * content already stored): its room is free again. `written`: bytes of it already reported by wrote().
   */
  withdraw(a: Admitted, written = 0): void {
    this.admitted -= a.data + a.parity;
    this.unwritten -= a.data + a.parity - written;
  }

  private liveFree(need: number): number {
    const s = this.live;
    if (s.copies >= SPACE_RECHECK_COPIES || Date.now() - s.at > SPACE_RECHECK_MS || s.free - s.since - this.unwritten - need < SPACE_MARGIN) {
      s.free = freeBytes(this.root, this.fs) + this.reservedNow();
      s.at = Date.now();
      s.copies = 0;
      s.since = 0;
    }
    return s.free - s.since - this.unwritten;
  }

  private reservedNow(): number {
    let n = 0;
    for (const f of this.reserved) n += (this.fs.lstatSync(f, { throwIfNoEntry: false })?.blocks ?? 0) * 512;
    return n;
  }
}

