import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CatalogEntry } from './entry.js';
import { CatalogVersionError, migrate } from './schema.js';
import { pathRange } from './range.js';
import { tempName } from '../fsx/temp.js';
import { comparePaths } from '../fsx/paths.js';
import { fsyncPath } from '../fsx/copy.js';
import { stamp } from './stamp.js';

export class CatalogError extends Error {}

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

function parseSummary(text: string | null): Record<string, unknown> {
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
}

const ENTRY_COLUMNS =
  'volume, path, kind, size, mtime_s, mtime_ns, inode, sha1, mode, uid, gid, link_target, parity_name, verified_at';

/** A row's columns but its volume as one string, path first: "path\0kind\0size…", char(1) for NULL. */
const ROW_TEXT = ENTRY_COLUMNS.split(', ')
  .filter((c) => c !== 'volume')
  .map((c) => `ifnull(${c}, char(1))`)
  .join(' || char(0) || ');

type EntryRow = [
  string, string, string, number, number, number, string | null, string | null,
  number, number, number, string | null, string | null, number | null,
];

function rowToEntry(r: EntryRow): CatalogEntry {
  return {
    volume: r[0], path: r[1], kind: r[2] as CatalogEntry['kind'], size: r[3], mtimeSec: r[4], mtimeNsec: r[5],
    inode: r[6], sha1: r[7], mode: r[8], uid: r[9], gid: r[10], linkTarget: r[11], parityName: r[12], verifiedAt: r[13],
  };
}

function entryParams(e: CatalogEntry): unknown[] {
  return [
    e.volume, e.path, e.kind, e.size, e.mtimeSec, e.mtimeNsec, e.inode, e.sha1,
    e.mode, e.uid, e.gid, e.linkTarget, e.parityName, e.verifiedAt,
    stamp(e.kind, e.size, e.mtimeSec, e.mtimeNsec, e.inode, e.mode, e.uid, e.gid, e.linkTarget),
  ];
}

/**
 * One SQLite catalog, host or disk. Statements are prepared once: a backup touches every row,
 * so per-call preparation would dominate.
 */
export class Catalog {
  readonly db: Database.Database;
  private readonly stmts;

  private constructor(db: Database.Database, readonly file: string) {
    this.db = db;
    const p = (sql: string) => db.prepare(sql);
    this.stmts = {
      under: p(`SELECT ${ENTRY_COLUMNS} FROM files WHERE path >= ? AND path < ?`).raw(true),
      quick: p(`SELECT path, stamp FROM files WHERE volume = ? AND path >= ? AND path < ? ORDER BY path`).raw(true),
      quickText: p(
        `SELECT group_concat(path || char(0) || ifnull(stamp, ''), char(0)) FROM (SELECT path, stamp FROM files WHERE volume = ? AND path >= ? AND path < ? ORDER BY path)`,
      ).pluck(true),
      lean: p(
        `SELECT path, kind, size, mtime_s, mtime_ns, inode, sha1, mode, uid, gid, link_target FROM files WHERE volume = ? AND path >= ? AND path < ?`,
      ).raw(true),
      byVolume: p(`SELECT ${ENTRY_COLUMNS} FROM files WHERE volume = ? ORDER BY path`).raw(true),
      // Every column of a row in one string; char(1) stands for NULL.
      rowText: p(`SELECT ${ROW_TEXT} FROM files WHERE volume = ? ORDER BY path`).pluck(true),
      all: p(`SELECT ${ENTRY_COLUMNS} FROM files ORDER BY path, volume`).raw(true),
      get: p(`SELECT ${ENTRY_COLUMNS} FROM files WHERE volume = ? AND path = ?`).raw(true),
      content: p(`SELECT ${ENTRY_COLUMNS} FROM files WHERE size = ? AND sha1 = ?`).raw(true),
      hasSize: p(`SELECT 1 FROM files WHERE size = ? AND sha1 IS NOT NULL LIMIT 1`).pluck(true),
      hasSizeElsewhere: p(`SELECT 1 FROM files WHERE size = ? AND sha1 IS NOT NULL AND volume != ? LIMIT 1`).pluck(true),
      upsert: p(`INSERT OR REPLACE INTO files (${ENTRY_COLUMNS}, stamp) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
      delete: p(`DELETE FROM files WHERE volume = ? AND path = ?`),
      volumes: p(`SELECT uuid, label, encrypted, created, generation FROM volumes ORDER BY created, label`),
      volume: p(`SELECT uuid, label, encrypted, created, generation FROM volumes WHERE uuid = ?`),
      upsertVolume: p(`INSERT INTO volumes (uuid, label, encrypted, created, generation) VALUES (?,?,?,?,?)
        ON CONFLICT(uuid) DO UPDATE SET label = excluded.label, encrypted = excluded.encrypted, generation = excluded.generation`),
      bump: p(`UPDATE volumes SET generation = generation + 1 WHERE uuid = ?`),
      copies: p(`SELECT copy, volume, label, generation, last_sync, free_bytes, files, bytes FROM copies ORDER BY volume, label`),
      upsertCopy: p(`INSERT OR REPLACE INTO copies (copy, volume, label, generation, last_sync, free_bytes, files, bytes) VALUES (?,?,?,?,?,?,?,?)`),
      deferred: p(`SELECT id, volume, action, path, target, created FROM deferred WHERE volume = ? ORDER BY id`),
      allDeferred: p(`SELECT id, volume, action, path, target, created FROM deferred ORDER BY volume, id`),
      addDeferred: p(`INSERT INTO deferred (volume, action, path, target, created) VALUES (?,?,?,?,?)`),
      dropDeferred: p(`DELETE FROM deferred WHERE id = ?`),
      stats: p(`SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM files WHERE volume = ?`),
      getMeta: p(`SELECT value FROM meta WHERE key = ?`).pluck(true),
      setMeta: p(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`),
    };
  }

  /**
   * Opens (and with `create`, makes) a catalog. Any SQLite failure becomes a CatalogError with one
   * sentence naming the file, since a corrupt or foreign file is something a user can cause.
   */
  static open(file: string, opts: { create?: boolean; readonly?: boolean } = {}): Catalog {
    const exists = fs.existsSync(file);
    if (!exists && !opts.create) throw new CatalogError(`catalog ${file} does not exist`);
    if (!exists) fs.mkdirSync(path.dirname(file), { recursive: true });
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { readonly: !!opts.readonly && exists, fileMustExist: !opts.create });
      if (!opts.readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      }
      db.pragma('busy_timeout = 5000');
      // Any read forces SQLite to look at the header: a foreign file fails here, not mid-run.
      db.pragma('user_version', { simple: true });
      if (!opts.readonly) migrate(db, file);
      const cat = new Catalog(db, file);
      return cat;
    } catch (err) {
      db?.close();
      if (err instanceof CatalogVersionError) throw new CatalogError(err.message);
      const why = err instanceof Error ? err.message : String(err);
      throw new CatalogError(`catalog ${file} cannot be used (${why}); restore it from a disk with \`blaine rebuild-catalog\``);
    }
  }

  /** An empty catalog in memory: what a dry run plans against when no file exists yet. */
  static memory(): Catalog {
    const db = new Database(':memory:');
    migrate(db, ':memory:');
    return new Catalog(db, ':memory:');
  }

  /**
   * Opens a private copy of a catalog: SQLite leaves -shm/-wal files beside even a read-only WAL
   * database, and a command that only reads a disk (list, restore, a dry run) must not write to it.
   */
  static openCopy(file: string): Catalog {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-catalog-'));
    try {
      const copy = path.join(dir, 'catalog.sqlite');
      fs.copyFileSync(file, copy);
      if (fs.existsSync(`${file}-wal`)) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
      const cat = Catalog.open(copy, { readonly: true });
      cat.onClose = () => fs.rmSync(dir, { recursive: true, force: true });
      return cat;
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      if (err instanceof CatalogError) throw new CatalogError(err.message.replace(path.join(dir, 'catalog.sqlite'), file));
      throw new CatalogError(`catalog ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }

  private onClose: (() => void) | undefined;

  close(): void {
    if (this.db.open) this.db.close();
    this.onClose?.();
    this.onClose = undefined;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---- files ----

  entriesUnder(dir: string): CatalogEntry[] {
    const [lo, hi] = pathRange(dir);
    return (this.stmts.under.all(lo, hi) as EntryRow[]).map(rowToEntry);
  }

  /**
   * One volume's entries under `dir`, for planning: a range of the primary key read in order, and
   * without the columns planning never reads (parity name, verify time: left null here, so whoever
   * writes a row back must start from `get`). A rescan of a million files loads them all, so every
   * column and index lookup saved counts.
   */
  leanEntriesUnder(volume: string, dir: string): CatalogEntry[] {
    const [lo, hi] = pathRange(dir);
    const rows = this.stmts.lean.all(volume, lo, hi) as Array<
      [string, string, number, number, number, string | null, string | null, number, number, number, string | null]
    >;
    const out: CatalogEntry[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out[i] = {
        volume, path: r[0], kind: r[1] === 'symlink' ? 'symlink' : 'file', size: r[2], mtimeSec: r[3], mtimeNsec: r[4],
        inode: r[5], sha1: r[6], mode: r[7], uid: r[8], gid: r[9], linkTarget: r[10], parityName: null, verifiedAt: null,
      };
    }
    return out;
  }

  /**
   * One volume's rows with paths in [lo, hi) as "path\0stamp\0path\0stamp…" in byte order: the
   * quick check compares it with a chunk of the scan in one step. SQLite builds the string, so a
   * no-change rescan makes one JS string per chunk instead of two per file.
   */
  quickText(volume: string, lo: string, hi: string): string {
    return (this.stmts.quickText.get(volume, lo, hi) as string | null) ?? '';
  }

  /**
   * Reads through a memory map (on) or read calls (off, SQLite's default). A map saves a copy of
   * every page, which counts when a no-change run reads the whole catalog; but an I/O error under
   * a map kills the process (SIGBUS) instead of failing a query, so it is on only for that read.
   * Writes never go through the map, so the catalog stays safe either way.
   */
  mapReads(on: boolean): void {
    // At most 256 MiB mapped: a bigger catalog reads the rest as usual, and memory stays bounded.
    this.db.pragma(`mmap_size = ${on ? 256 * 1024 * 1024 : 0}`);
  }

  /**
   * How many pages the write-ahead log may hold before SQLite copies it into the database
   * (SQLite's default: 1000). A first backup writes every row once: a longer log lets pages that
   * many rows touch be copied once rather than again and again, a quarter of the run's time.
   */
  setCheckpointPages(pages: number): void {
    this.db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.floor(pages))}`);
  }

  /** Bytes of one database page. */
  pageSize(): number {
    return this.db.pragma('page_size', { simple: true }) as number;
  }

  /** The same rows as [path, stamp] pairs. */
  quickRows(volume: string, lo: string, hi: string): [string, string | null][] {
    return this.stmts.quick.all(volume, lo, hi) as [string, string | null][];
  }

  entriesOfVolume(volume: string): CatalogEntry[] {
    return (this.stmts.byVolume.all(volume) as EntryRow[]).map(rowToEntry);
  }

  /**
   * The rows in which this catalog and `other` differ for one volume (a row missing on one side
   * counts), read side by side in path order: comparing two catalogs of a million rows costs two
   * reads and holds only the differences.
   */
  differences(other: Catalog, volume: string): { mine: CatalogEntry[]; theirs: CatalogEntry[] } {
    const mine: CatalogEntry[] = [];
    const theirs: CatalogEntry[] = [];
    // One string a row ("path\0columns…"), compared whole; entries are made only for rows that differ.
    const a = this.stmts.rowText.iterate(volume) as IterableIterator<string>;
    const b = other.stmts.rowText.iterate(volume) as IterableIterator<string>;
    const pathOf = (text: string) => text.slice(0, text.indexOf('\0'));
    let x = a.next();
    let y = b.next();
    while (!x.done || !y.done) {
      if (!x.done && !y.done && x.value === y.value) {
        x = a.next();
        y = b.next();
        continue;
      }
      const px = x.done ? '' : pathOf(x.value);
      const py = y.done ? '' : pathOf(y.value);
      const order = x.done ? 1 : y.done ? -1 : comparePaths(px, py);
      if (order <= 0) {
        mine.push(this.get(volume, px)!);
        x = a.next();
      }
      if (order >= 0) {
        theirs.push(other.get(volume, py)!);
        y = b.next();
      }
    }
    return { mine, theirs };
  }

  *iterateVolume(volume: string): IterableIterator<CatalogEntry> {
    for (const r of this.stmts.byVolume.iterate(volume) as IterableIterator<EntryRow>) yield rowToEntry(r);
  }

  /** Entries whose path matches any of the SQLite GLOB patterns (all when none), of the given volumes (all when none). */
  matching(globs: string[], volumes: string[] = []): CatalogEntry[] {
    const where: string[] = [];
    const params: string[] = [];
    if (globs.length > 0) {
      where.push(`(${globs.map(() => 'path GLOB ?').join(' OR ')})`);
      params.push(...globs);
    }
    if (volumes.length > 0) {
      where.push(`volume IN (${volumes.map(() => '?').join(', ')})`);
      params.push(...volumes);
    }
    const sql = `SELECT ${ENTRY_COLUMNS} FROM files${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY path, volume`;
    return (this.db.prepare(sql).raw(true).all(...params) as EntryRow[]).map(rowToEntry);
  }

  /** Files of a volume that should have parity and have none (an earlier crash or failure). */
  withoutParity(volume: string): CatalogEntry[] {
    return (
      this.db
        .prepare(`SELECT ${ENTRY_COLUMNS} FROM files WHERE volume = ? AND kind = 'file' AND size > 0 AND parity_name IS NULL`)
        .raw(true)
        .all(volume) as EntryRow[]
    ).map(rowToEntry);
  }

  /** Entries under `dir` of every volume but one. */
  entriesUnderExcept(dir: string, volume: string): CatalogEntry[] {
    const [lo, hi] = pathRange(dir);
    return (
      this.db
        .prepare(`SELECT ${ENTRY_COLUMNS} FROM files WHERE path >= ? AND path < ? AND volume != ?`)
        .raw(true)
        .all(lo, hi, volume) as EntryRow[]
    ).map(rowToEntry);
  }

  get(volume: string, p: string): CatalogEntry | undefined {
    const r = this.stmts.get.get(volume, p) as EntryRow | undefined;
    return r && rowToEntry(r);
  }

  findContent(size: number, sha1: string): CatalogEntry[] {
    return (this.stmts.content.all(size, sha1) as EntryRow[]).map(rowToEntry);
  }

  /** Whether any file of this size with a known SHA1 is catalogued (a possible duplicate). */
  hasSize(size: number): boolean {
    return this.stmts.hasSize.get(size) !== undefined;
  }

  hasSizeElsewhere(size: number, volume: string): boolean {
    return this.stmts.hasSizeElsewhere.get(size, volume) !== undefined;
  }

  put(e: CatalogEntry): void {
    this.stmts.upsert.run(...entryParams(e));
  }

  remove(volume: string, p: string): void {
    this.stmts.delete.run(volume, p);
  }

  /**
   * Records a full checksum verify of one row. Only that column changes, and a row that is not
   * there stays absent: the host catalog may already know the path under another name (a deferred
   * rename), which writing a whole disk row back would undo.
   */
  setVerifiedAt(volume: string, p: string, at: number): void {
    this.columnUpdate('verified_at').run(at, volume, p);
  }

  /** Records a rebuilt (or dropped, null) parity set of one row; like setVerifiedAt, never adds a row. */
  setParityName(volume: string, p: string, parityName: string | null): void {
    this.columnUpdate('parity_name').run(parityName, volume, p);
  }

  private readonly columnUpdates = new Map<string, Database.Statement>();

  /** A scrub updates every row once: the statement is prepared on first use, not per row. */
  private columnUpdate(column: 'verified_at' | 'parity_name'): Database.Statement {
    let st = this.columnUpdates.get(column);
    if (!st) {
      st = this.db.prepare(`UPDATE files SET ${column} = ? WHERE volume = ? AND path = ?`);
      this.columnUpdates.set(column, st);
    }
    return st;
  }

  /** Replaces every row of a volume by `entries` (a disk catalog imported as the truth for its volume). */
  replaceVolume(volume: string, entries: Iterable<CatalogEntry>): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM files WHERE volume = ?').run(volume);
      for (const e of entries) this.put({ ...e, volume });
    });
  }

  volumeStats(volume: string): { files: number; bytes: number } {
    return this.stmts.stats.get(volume) as { files: number; bytes: number };
  }

  // ---- volumes and copies ----

  volumes(): VolumeRow[] {
    return (this.stmts.volumes.all() as Array<Omit<VolumeRow, 'encrypted'> & { encrypted: number }>).map((v) => ({
      ...v,
      encrypted: !!v.encrypted,
    }));
  }

  volume(uuid: string): VolumeRow | undefined {
    const v = this.stmts.volume.get(uuid) as (Omit<VolumeRow, 'encrypted'> & { encrypted: number }) | undefined;
    return v && { ...v, encrypted: !!v.encrypted };
  }

  putVolume(v: VolumeRow): void {
    this.stmts.upsertVolume.run(v.uuid, v.label, v.encrypted ? 1 : 0, v.created, v.generation);
  }

  bumpGeneration(volume: string): void {
    this.stmts.bump.run(volume);
  }

  copies(): CopyRow[] {
    return (this.stmts.copies.all() as Array<Record<string, unknown>>).map((c) => ({
      copy: c.copy as string,
      volume: c.volume as string,
      label: c.label as string,
      generation: c.generation as number,
      lastSync: (c.last_sync as string | null) ?? null,
      freeBytes: (c.free_bytes as number | null) ?? null,
      files: c.files as number,
      bytes: c.bytes as number,
    }));
  }

  putCopy(c: CopyRow): void {
    this.stmts.upsertCopy.run(c.copy, c.volume, c.label, c.generation, c.lastSync, c.freeBytes, c.files, c.bytes);
  }

  // ---- deferred actions ----

  deferred(volume?: string): DeferredRow[] {
    return (volume === undefined ? this.stmts.allDeferred.all() : this.stmts.deferred.all(volume)) as DeferredRow[];
  }

  defer(volume: string, action: DeferredAction, p: string, target: string | null): void {
    this.stmts.addDeferred.run(volume, action, p, target, new Date().toISOString());
  }

  dropDeferred(id: number): void {
    this.stmts.dropDeferred.run(id);
  }

  // ---- meta and runs ----

  getMeta(key: string): string | undefined {
    return this.stmts.getMeta.get(key) as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  startRun(command: string, volume: string | null, copy: string | null): number {
    const r = this.db
      .prepare(`INSERT INTO runs (command, volume, copy, started, status) VALUES (?, ?, ?, ?, 'running')`)
      .run(command, volume, copy, new Date().toISOString());
    return Number(r.lastInsertRowid);
  }

  finishRun(
    id: number,
    status: string,
    summary: unknown,
    freeAfter: number | null,
    usedBytes: number | null,
    after: { files?: number | null; capacity?: number | null } = {},
  ): void {
    this.db
      .prepare(`UPDATE runs SET finished = ?, status = ?, summary = ?, free_after = ?, used_bytes = ?, files_after = ?, capacity = ? WHERE id = ?`)
      .run(new Date().toISOString(), status, JSON.stringify(summary), freeAfter, usedBytes, after.files ?? null, after.capacity ?? null, id);
  }

  /** Every finished run, oldest first. A catalog opened read-only may predate files_after. */
  finishedRuns(): RunRow[] {
    const rows = this.db.prepare(`SELECT * FROM runs WHERE finished IS NOT NULL ORDER BY finished, id`).all() as Record<string, unknown>[];
    return rows.map((r) => ({
      id: r.id as number,
      command: r.command as string,
      volume: (r.volume as string | null) ?? null,
      copy: (r.copy as string | null) ?? null,
      finished: r.finished as string,
      status: r.status as string,
      summary: parseSummary(r.summary as string | null),
      freeAfter: (r.free_after as number | null) ?? null,
      usedBytes: (r.used_bytes as number | null) ?? null,
      filesAfter: (r.files_after as number | null | undefined) ?? null,
      capacity: (r.capacity as number | null | undefined) ?? null,
    }));
  }

  /**
   * A consistent copy of the whole database in another file (the host-catalog snapshot on a disk,
   * the rotated disk catalogs). The file itself is copied once its log is folded in (copyWhole);
   * otherwise VACUUM INTO, inside SQLite in one go (the online backup API, page by page from
   * JavaScript, took several times longer), which rebuilds every table and index on the way.
   */
  /**
   * Copies the database file byte for byte, a fraction of VACUUM INTO's time, when that copy is
   * consistent: no transaction open, every frame of the write-ahead log folded into the file
   * (a passive checkpoint: a reader's older view makes it fall short rather than wait), and
   * neither file changed during the copy (no other writer came between). False when any of that
   * does not hold; the caller then makes the copy through SQLite.
   */
  private copyWhole(dest: string): boolean {
    if (this.db.memory || this.db.readonly || this.db.inTransaction) return false;
    const [log] = this.db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    if (!log || log.busy !== 0 || log.log < 0 || log.checkpointed !== log.log) return false;
    const wal = `${this.file}-wal`;
    const state = () => {
      const db = fs.statSync(this.file);
      const w = fs.existsSync(wal) ? fs.statSync(wal) : null;
      return `${db.size}:${db.mtimeMs}:${w?.size}:${w?.mtimeMs}`;
    };
    const before = state();
    fs.copyFileSync(this.file, dest);
    if (state() === before) return true;
    fs.rmSync(dest, { force: true });
    return false;
  }

  async snapshotTo(file: string): Promise<void> {
    const tmp = path.join(path.dirname(file), tempName(path.basename(file)));
    fs.rmSync(tmp, { force: true });
    try {
      if (!this.copyWhole(tmp)) this.db.prepare('VACUUM INTO ?').run(tmp);
      // VACUUM INTO does not sync what it writes, nor does a file copy; the snapshot is what a lost host
      // is rebuilt from, so its bytes, then its name, are made durable before anyone relies on them.
      fsyncPath(tmp);
      fs.renameSync(tmp, file);
      fsyncPath(path.dirname(file));
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }
}

