import type { FileRecord, PackedScan, RootScan, ScanChunk } from '../scan/record.js';
import { FIELD, FIELDS } from '../fsx/addon.js';
import { chunkPaths, inodeAt, recordAt } from '../scan/scanner.js';
import { comparePaths } from '../fsx/paths.js';
import { pathRange } from '../catalog/range.js';

/** Digests in a row that settle nothing before the quick check goes to the text first (QuickCheck.digestFirst). */
const MISSES_BEFORE_TEXT = 2;
/** Then one chunk in this many still tries its digest, to notice when chunks are equal again. */
const RETRY_EVERY = 8;

/** A stored file as the quick check sees it: its path and stamp (catalog/stamp.ts; null when unknown). */
export type QuickRow = [string, string | null];

/** The mounted copy's catalog rows of one volume, by byte-order range of path. */
export interface StoredRows {
  /**
   * "path\0stamp\0path\0stamp…" of the rows in [lo, hi), in byte order (a row that must be read
   * again has an empty stamp): compared with a chunk's text whole, and split into its rows when it
   * differs (a week's changes spread over every folder make every chunk differ: asking SQLite for
   * the rows again cost a third of a swap's main thread).
   */
  text(lo: string, hi: string): string;
  /**
   * The SHA-256 of text(lo, hi)'s bytes, made without the text (Catalog.quickDigest), or null when
   * it cannot be had: compared with a chunk's own digest before any text is read.
   */
  digest?(lo: string, hi: string): Uint8Array | null;
}

/**
 * Walks a "path\0stamp\0path\0stamp…" text a file at a time without splitting it: each file's
 * path and whole "path\0stamp" are slices (V8 shares the text's characters), compared at once.
 */
class PairReader {
  /** Where the current file's text starts, its path ends, and its stamp ends (length when done). */
  start = 0;
  pathEnd = 0;
  end = 0;

  constructor(private readonly text: string) {
    this.read(0);
  }

  get done(): boolean {
    return this.start >= this.text.length;
  }

  path(): string {
    return this.text.slice(this.start, this.pathEnd);
  }

  pair(): string {
    return this.text.slice(this.start, this.end);
  }

  next(): void {
    this.read(this.end + 1);
  }

  private read(from: number): void {
    this.start = from;
    if (from >= this.text.length) return;
    this.pathEnd = this.text.indexOf('\0', from);
    const end = this.text.indexOf('\0', this.pathEnd + 1);
    this.end = end < 0 ? this.text.length : end;
  }
}

export interface QuickCheckResult {
  /** The scans less the files found unchanged (each RootScan carries how many it left out). */
  scans: RootScan[];
  /** Catalogued paths the planner must still see: gone, changed, or possible hardlink sources. */
  keep: Set<string>;
  unchanged: number;
}

/**
 * Which files of a chunk differ from their stored rows (an empty list when none do). A chunk
 * found unchanged is kept only when it holds hardlinked files (nlink > 1), the only ones a changed
 * file elsewhere can share an inode with: a million unchanged files then cost no memory here.
 */
interface Compared {
  lo: string;
  count: number;
  chunk: ScanChunk | null;
  changed: number[];
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hasLinks(chunk: ScanChunk): boolean {
  for (let i = 0; i < chunk.count; i++) if (chunk.info[i * FIELDS + FIELD.nlink]! > 1) return true;
  return false;
}

/** The files of a chunk at the given indices (ascending), with their "path\0stamp" texts, as a chunk of their own. */
export function only(chunk: ScanChunk, texts: string[], indices: number[]): ScanChunk {
  const info = new Float64Array(indices.length * FIELDS);
  const at = new Map(indices.map((i, k) => [i, k]));
  indices.forEach((i, k) => {
    info.set(chunk.info.subarray(i * FIELDS, (i + 1) * FIELDS), k * FIELDS);
  });
  const targets: [number, string][] = [];
  for (const [i, t] of chunk.targets) {
    const k = at.get(i);
    if (k !== undefined) targets.push([k, t]);
  }
  return { lo: chunk.lo, hi: chunk.hi, text: texts.join('\0'), count: indices.length, info, targets };
}

/**
 * rsync's quick check, before planning: a file whose stamp (kind, size, mtime, inode, mode, owner,
 * link target) is what the mounted copy's catalog holds is unchanged, and neither its record nor
 * its catalog row need reach the planner, which then works on what changed only. It goes a chunk
 * of the scan at a time, so that it can run while the scan is still walking: a chunk whose text
 * equals the stored rows' text over the same range is unchanged whole (one string comparison,
 * sound because NUL cannot occur in a path or a stamp; or, cheaper, one comparison of the two
 * texts' SHA-256 digests, which neither side needs the other's text for); any other chunk is
 * compared file by file.
 * Unchanged files whose inode a changed file shares stay in (they may be the source of a new
 * hardlink). Pure apart from the rows it asks for.
 */
export class QuickCheck {
  private readonly compared = new Map<string, Compared[]>();
  private readonly keep = new Set<string>();
  /** Digests in a row that did not settle their chunk, and chunks since the last digest tried. */
  private misses = 0;
  private sinceTried = 0;

  constructor(private readonly stored: StoredRows) {}

  /** Compares one chunk of the scan of `root` (in any order). */
  add(root: string, chunk: ScanChunk): void {
    let list = this.compared.get(root);
    if (!list) this.compared.set(root, (list = []));
    const changed: number[] = [];
    // The digests first: equal, and the chunk is unchanged without a text from the catalog (the
    // text's SQL and its string were a third of a no-change run's main thread).
    if (this.digestFirst(chunk)) {
      const storedDigest = this.stored.digest!(chunk.lo, chunk.hi);
      this.sinceTried = 0;
      if (storedDigest !== null && sameBytes(storedDigest, chunk.digest!)) {
        this.misses = 0;
        list.push({ lo: chunk.lo, count: chunk.count, chunk: hasLinks(chunk) ? chunk : null, changed });
        return;
      }
      this.misses++;
    }
    const storedText = this.stored.text(chunk.lo, chunk.hi);
    if (storedText === chunk.text) {
      list.push({ lo: chunk.lo, count: chunk.count, chunk: hasLinks(chunk) ? chunk : null, changed });
      return;
    }
    const entry: Compared = { lo: chunk.lo, count: chunk.count, chunk, changed };
    list.push(entry);
    // Both texts list their files in byte order: a merge of the two, a file at a time (a week's
    // changes spread over every folder make every chunk differ, so this runs on every file).
    const texts: string[] = [];
    const scanned = new PairReader(chunk.text);
    const rows = new PairReader(storedText);
    for (let i = 0; i < chunk.count; i++, scanned.next()) {
      const here = scanned.pair();
      const p = scanned.path();
      // Rows before this path are gone from the data path.
      while (!rows.done && rows.pair() !== here && comparePaths(rows.path(), p) < 0) {
        this.keep.add(rows.path());
        rows.next();
      }
      if (!rows.done && rows.pair() === here) {
        rows.next(); // unchanged
        continue;
      }
      changed.push(i);
      texts.push(here);
      if (!rows.done && rows.path() === p) {
        this.keep.add(p); // changed in place
        rows.next();
      } // else a new path
    }
    for (; !rows.done; rows.next()) this.keep.add(rows.path()); // gone from the data path
    // Without hardlinks no unchanged file of the chunk can be wanted later: only the changed ones
    // are kept, so a week's changes spread over every chunk do not keep the whole scan in memory.
    if (!hasLinks(chunk) && changed.length < chunk.count) {
      entry.chunk = changed.length === 0 ? null : only(chunk, texts, changed);
      entry.changed = changed.map((_, k) => k);
    }
  }

  /**
   * Whether to ask for the stored digest before the text. When every chunk differs (a week's
   * changes touch every folder) the digest only adds its read to the text's: after
   * MISSES_BEFORE_TEXT digests in a row that settled nothing, one chunk in RETRY_EVERY tries it.
   */
  private digestFirst(chunk: ScanChunk): boolean {
    if (chunk.digest === undefined || this.stored.digest === undefined) return false;
    return this.misses < MISSES_BEFORE_TEXT || ++this.sinceTried >= RETRY_EVERY;
  }

  /** The scans (complete now) less what was found unchanged. */
  result(scans: PackedScan[]): QuickCheckResult {
    const parted = this.resultInParts(scans);
    const out: RootScan[] = parted.scans.map(({ parts, ...s }) => {
      const records: FileRecord[] = [];
      for (const part of parts) for (const r of recordsOf(part)) records.push(r);
      return { ...s, records };
    });
    return { scans: out, keep: parted.keep, unchanged: parted.unchanged };
  }

  /**
   * The same, with the records left packed in their chunks (each with the indices of its files
   * that remain), so that they can be unpacked a chunk at a time. The check lets go of the chunks.
   */
  resultInParts(scans: PackedScan[]): { scans: PartedScan[]; keep: Set<string>; unchanged: number } {
    let unchanged = 0;
    const out: PartedScan[] = [];
    for (const s of scans) {
      if (!this.compared.has(s.root)) {
        // nothing scanned (a missing data path): every stored row under it is for the planner
        const [lo, hi] = pathRange(s.root);
        this.add(s.root, { lo, hi, text: '', count: 0, info: new Float64Array(0), targets: [] });
      }
      // Chunks scanned in several threads come in any order; records go to the planner in byte order.
      const list = this.compared.get(s.root)!.sort((a, b) => comparePaths(a.lo, b.lo));
      this.compared.delete(s.root);
      // Only a file with other names can share its inode with an unchanged file.
      const wantedInodes = new Set<string>();
      for (const { chunk, changed } of list) {
        for (const i of changed) if (chunk!.info[i * FIELDS + FIELD.nlink]! > 1) wantedInodes.add(inodeAt(chunk!.info, i));
      }
      const parts: RecordPart[] = [];
      let total = 0;
      let taken = 0;
      for (const { chunk, count, changed } of list) {
        total += count;
        if (chunk === null) continue;
        const take = new Set(changed);
        if (wantedInodes.size > 0) {
          for (let i = 0; i < chunk.count; i++) if (!take.has(i) && wantedInodes.has(inodeAt(chunk.info, i))) take.add(i);
        }
        if (take.size === 0) continue;
        if (take.size > changed.length) {
          const paths = chunkPaths(chunk);
          const changedSet = new Set(changed);
          for (const i of take) if (!changedSet.has(i)) this.keep.add(paths[i]!);
        }
        const indices = [...take].sort((a, b) => a - b);
        parts.push({ chunk, indices });
        taken += indices.length;
      }
      const left = total - taken;
      unchanged += left;
      out.push({ root: s.root, exists: s.exists, complete: s.complete, skipped: s.skipped, parts, unchangedCount: left });
    }
    return { scans: out, keep: this.keep, unchanged };
  }
}

/** Files of one scanned chunk still to be planned, by index within the chunk (ascending). */
export interface RecordPart {
  chunk: ScanChunk;
  indices: number[];
}

/** A data path's scan less its unchanged files, the rest still packed. */
export type PartedScan = Omit<RootScan, 'records'> & { parts: RecordPart[] };

/** The records of a part, unpacked, in byte order. */
export function* recordsOf(part: RecordPart): Generator<FileRecord> {
  const paths = chunkPaths(part.chunk);
  const targets = new Map(part.chunk.targets);
  for (const i of part.indices) yield recordAt(part.chunk, paths, i, targets.get(i));
}

/** The quick check of whole scans at once. */
export function quickCheck(scans: PackedScan[], stored: StoredRows): QuickCheckResult {
  const q = new QuickCheck(stored);
  for (const s of scans) for (const c of s.chunks) q.add(s.root, c);
  return q.result(scans);
}
