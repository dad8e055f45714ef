/**
 * The catalog's row shapes and how a row turns into an entry and back: what every query of
 * catalog.ts shares, kept apart from the queries themselves.
 */
import type { CatalogEntry } from './entry.js';
import { stamp } from './stamp.js';

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

/** The columns of an entry, in the order rowToEntry and entryParams use, to write a row. */
export const ENTRY_COLUMNS =
  'volume, path, kind, size, mtime_s, mtime_ns, inode, sha256, mode, uid, gid, link_target, parity_name, verified_at, sha1';

/**
 * The SHA-256 is stored as its 32 bytes (schema.ts), and is hex everywhere else: SQLite converts
 * both ways, so no row costs a Buffer. hex() of NULL would be ''.
 */
export const SHA256_HEX = `iif(sha256 IS NULL, NULL, lower(hex(sha256)))`;
export const SHA256_PARAM = 'unhex(?)';

/** The same columns, to read a row. */
export const ENTRY_SELECT = ENTRY_COLUMNS.replace('sha256', SHA256_HEX);

/** A row's columns but its volume as one string, path first: "path\0kind\0size…", char(1) for NULL. */
export const ROW_TEXT = ENTRY_COLUMNS.split(', ')
  .filter((c) => c !== 'volume')
  .map((c) => `ifnull(${c === 'sha256' ? SHA256_HEX : c}, char(1))`)
  .join(' || char(0) || ');

export type EntryRow = [
  string, string, string, number, number, number, string | null, string | null,
  number, number, number, string | null, string | null, number | null, string | null,
];

export function rowToEntry(r: EntryRow): CatalogEntry {
  return {
    volume: r[0], path: r[1], kind: r[2] as CatalogEntry['kind'], size: r[3], mtimeSec: r[4], mtimeNsec: r[5],
    inode: r[6], sha256: r[7], mode: r[8], uid: r[9], gid: r[10], linkTarget: r[11], parityName: r[12], verifiedAt: r[13],
    legacySha1: r[14],
  };
}

export function entryParams(e: CatalogEntry): unknown[] {
  return [
    e.volume, e.path, e.kind, e.size, e.mtimeSec, e.mtimeNsec, e.inode, e.sha256,
    e.mode, e.uid, e.gid, e.linkTarget, e.parityName, e.verifiedAt, e.sha256 === null ? (e.legacySha1 ?? null) : null,
    stamp(e.kind, e.size, e.mtimeSec, e.mtimeNsec, e.inode, e.mode, e.uid, e.gid, e.linkTarget),
    e.volume,
  ];
}
