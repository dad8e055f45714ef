/**
 * The catalog's row shapes and how a row turns into an entry and back: what every query of
 * catalog.ts shares, kept apart from the queries themselves.
 */
import type { CatalogEntry } from './entry.js';
import { bytesToName, nameToBytes } from '../fsx/name-bytes.js';

export interface VolumeRow {
  uuid: string;
  label: string;
  encrypted: boolean;
  created: string;
  generation: number;
}

export interface CopyRow {
  copy: string;
  volume: string;
  label: string;
  generation: number;
  lastSync: string | null;
  freeBytes: number | null;
  files: number;
  bytes: number;
}

export interface RunRow {
  id: number;
  command: string;
  volume: string | null;
  copy: string | null;
  finished: string;
  status: string;
  /** The run's own summary (counts, bytes); {} when it was not valid JSON. */
  summary: Record<string, unknown>;
  freeAfter: number | null;
  usedBytes: number | null;
  filesAfter: number | null;
  /** Size of the disk's file system (null before schema 3). */
  capacity: number | null;
}

export function parseSummary(text: string | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export type DeferredAction = 'RENAME' | 'LINK' | 'DELETE';

export interface DeferredRow {
  id: number;
  volume: string;
  action: DeferredAction;
  path: string;
  target: string | null;
  created: string;
  /** The volume whose run queued it, and its generation then (null: not recorded, never held). */
  queuedBy: string | null;
  queuedGen: number | null;
}

/** The kinds as stored (schema 8): a small integer, in the order of the schema's comment. */
const KIND_CODES = { file: 0, symlink: 1, dir: 2 } as const;
const KINDS = ['file', 'symlink', 'dir'] as const;

export const kindCode = (kind: CatalogEntry['kind']): number => KIND_CODES[kind];
export const kindOf = (code: number): CatalogEntry['kind'] => KINDS[code] ?? 'file';

/** A volume's integer id in this catalog, from its UUID (null: the catalog has never held it). */
export const VID = `(SELECT id FROM volume_ids WHERE uuid = ?)`;

/**
 * Rows with their volume (`v`: its UUID and root). CROSS JOIN keeps the volume outside: every
 * lookup and range on the rows then goes down the primary key of one volume, with that volume's
 * root (schema 9) turning the full paths asked for into the stored ones.
 */
export const ENTRY_FROM = `volume_ids v CROSS JOIN entries e ON e.vid = v.id`;

/**
 * A row's full path as bytes: its volume's root, then the rest that the row stores (schema 9: every
 * path of a volume begins with the folder all of them share, stored once in volume_ids.root; '' or
 * '/…' is left for the row). Needs `v` and `e`. (|| makes text of blobs, without touching a byte.)
 */
export const FULL_PATH = `CAST(v.root || e.path AS BLOB)`;

/** What the full path bound at `param` (named: it is read twice) is stored as in volume `v`'s rows (NULL when it is not under the root: no such row). */
export const storedPath = (param: string) => `iif(substr(${param}, 1, length(v.root)) = v.root, substr(${param}, length(v.root) + 1), NULL)`;

/** The stored form of full path @path in volume @volume (a scalar, for statements on entries alone). */
export const STORED_AT = `(SELECT ${storedPath('@path')} FROM volume_ids v WHERE v.uuid = @volume)`;

/**
 * A range [lo, hi) of full paths as a range of stored paths of volume `v`: below the root, empty
 * (NULL); above it, everything. The rest stored after a root is '' or begins with '/', so X'30'
 * ('0') lies above all of it.
 */
export const storedFrom = (lo: string) => `CASE WHEN ${lo} <= v.root THEN X'' WHEN substr(${lo}, 1, length(v.root)) = v.root THEN substr(${lo}, length(v.root) + 1) END`;
export const storedBelow = (hi: string) =>
  `CASE WHEN substr(${hi}, 1, length(v.root)) = v.root THEN substr(${hi}, length(v.root) + 1) WHEN ${hi} > v.root THEN X'30' ELSE X'' END`;
/** Rows of volume `v` whose full path lies in [@lo, @hi). */
export const IN_RANGE = `e.path >= ${storedFrom('@lo')} AND e.path < ${storedBelow('@hi')}`;

const SLASH = 0x2f;
const NO_ROOT = Buffer.alloc(0);

/** Whether a full path (bytes) lies at or under a root: the root, or the root and '/' then more. */
export function isUnderRoot(full: Buffer, root: Buffer): boolean {
  if (root.length === 0) return true;
  return full.length >= root.length && full.subarray(0, root.length).equals(root) && (full.length === root.length || full[root.length] === SLASH);
}

/** The longest root under which both paths lie (`root` may be a root already: it lies under itself). */
export function commonRoot(root: Buffer, full: Buffer): Buffer {
  let n = 0;
  while (n < root.length && n < full.length && root[n] === full[n]) n++;
  for (let c = n; c > 0; c--) {
    if ((c === root.length || root[c] === SLASH) && (c === full.length || full[c] === SLASH)) return root.subarray(0, c);
  }
  return NO_ROOT;
}

/** The folder that holds a path (its bytes up to the last '/'): the first root of a volume. */
export function parentRoot(full: Buffer): Buffer {
  const i = full.lastIndexOf(SLASH);
  return i <= 0 ? NO_ROOT : full.subarray(0, i);
}

/**
 * The SHA-256 is stored as its 32 bytes (schema.ts), and is hex everywhere else: SQLite converts
 * both ways, so no row costs a Buffer. hex() of NULL would be ''.
 */
export const SHA256_HEX = `iif(e.sha256 IS NULL, NULL, lower(hex(e.sha256)))`;
export const SHA256_PARAM = 'unhex(?)';
/** A row whose SHA-256 is the hex given twice (the first 4 bytes find it in entries_content, the whole confirms). */
export const SHA256_IS = `substr(e.sha256, 1, 4) = substr(unhex(?), 1, 4) AND e.sha256 = unhex(?)`;

/** A parity name equal to the row's own full path (without its leading '/') is stored as X''. */
const PARITY_NAME = `iif(e.parity_name = X'', substr(${FULL_PATH}, 2), e.parity_name)`;

/** The columns of an entry, in the order rowToEntry reads them (needs ENTRY_FROM). */
export const ENTRY_SELECT = `v.uuid, ${FULL_PATH}, e.kind, e.size, e.mtime_s, e.mtime_ns, e.inode, ${SHA256_HEX}, e.mode, e.uid, e.gid, e.link_target, ${PARITY_NAME}, e.verified_at, e.sha1`;

/**
 * What the quick check compares (stamp.ts), built from the columns: storing it cost ~45 bytes a
 * row; building it with one format() costs SQLite less than a tenth of a microsecond a row (a
 * chain of || appends cost four times that). '' for a row marked `recheck`. The symlink target
 * goes on after format(), whose %s would stop at a NUL.
 */
export const STAMP_SQL = `iif(e.recheck, '', format('%s%d/%d.%d/%s/%d/%d/%d', CASE e.kind WHEN 1 THEN 'l' WHEN 2 THEN 'd' ELSE 'f' END,
  e.size, e.mtime_s, e.mtime_ns, ifnull(e.inode, ''), e.mode, e.uid, e.gid) || iif(e.link_target IS NULL, '', '/' || CAST(e.link_target AS TEXT)))`;

/**
 * A row's columns but its volume as one text of bytes, path first: "path\0kind\0size…", char(1)
 * for NULL; read as a BLOB (names are bytes) and turned into a string once.
 */
export const ROW_TEXT = `CAST(v.root || e.path || char(0) || ${[
  'e.kind', 'e.size', 'e.mtime_s', 'e.mtime_ns', 'e.inode', SHA256_HEX, 'e.mode', 'e.uid', 'e.gid',
  'CAST(e.link_target AS TEXT)', `CAST(${PARITY_NAME} AS TEXT)`, 'e.verified_at', 'e.sha1',
].map((c) => `ifnull(${c}, char(1))`).join(' || char(0) || ')} AS BLOB)`;

export type EntryRow = [
  string, Buffer, number, number, number, number, string | null, string | null,
  number, number, number, Buffer | null, Buffer | null, number | null, string | null,
];

export function rowToEntry(r: EntryRow): CatalogEntry {
  return {
    volume: r[0], path: bytesToName(r[1]), kind: kindOf(r[2]), size: r[3], mtimeSec: r[4], mtimeNsec: r[5],
    inode: r[6], sha256: r[7], mode: r[8], uid: r[9], gid: r[10], linkTarget: r[11] === null ? null : bytesToName(r[11]),
    parityName: r[12] === null ? null : bytesToName(r[12]), verifiedAt: r[13], legacySha1: r[14],
  };
}

/** The bytes a parity name is stored as (see PARITY_NAME). */
export function parityParam(p: string, parityName: string | null): Buffer | null {
  if (parityName === null) return null;
  return parityName === p.slice(1) ? EMPTY : nameToBytes(parityName);
}

const EMPTY = Buffer.alloc(0);

/** The parameters of prepareWrites' upsert for `e` (its path's bytes `full`), its volume's id being `vid`. */
export function entryParams(e: CatalogEntry, vid: number, full: Buffer): unknown[] {
  return [
    vid, full, vid, KIND_CODES[e.kind], e.size, e.mtimeSec, e.mtimeNsec, e.inode, e.sha256,
    e.sha256 === null ? (e.legacySha1 ?? null) : null, e.mode, e.uid, e.gid,
    e.linkTarget === null || e.linkTarget === undefined ? null : nameToBytes(e.linkTarget), parityParam(e.path, e.parityName), e.verifiedAt,
    e.volume,
  ];
}
