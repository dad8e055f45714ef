import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CatalogEntry } from './entry.js';
import { CatalogVersionError, LEAN_SCHEMA, migrate, SCHEMA_VERSION } from './schema.js';
import { pathRange } from './range.js';
import { bytesToName, nameToBytes } from '../fsx/name-bytes.js';
import {
  ENTRY_FROM, ENTRY_SELECT, FULL_PATH, IN_RANGE, VID, commonRoot, entryParams, isUnderRoot, kindOf, parentRoot, parityParam, parseSummary, rowToEntry, STORED_AT, storedPath,
  type CopyRow, type DeferredAction, type DeferredRow, type EntryRow, type RunRow, type VolumeRow,
} from './rows.js';
import { DIRS_ONLY, FILES_ONLY, prepareQuickDigest, prepareStatements, prepareWrites, QUICK_DIGEST_ENTRY, type CatalogStatements } from './statements.js';
import { fsAddonFile } from '../fsx/addon.js';
import { trackChangesFrom } from './changes.js';
import { snapshotDatabase, type SnapshotJob } from './snapshot.js';
import { catalogDifferences } from './compare.js';
import { registerConnection } from './handle.js';
import { raiseGeneration } from './generation.js';
import type { Fsx } from '../fsx/fsx.js';
import { BlaineError } from '../error.js';

export type { CopyRow, DeferredAction, DeferredRow, RunRow, VolumeRow } from './rows.js';

export class CatalogError extends BlaineError {}

/** One content (size and SHA-256, lowercase hex as the catalog gives it) as one key: findContents' keys. */
export const contentKey = (size: number, sha256: string): string => `${size}:${sha256}`;

/** A volume as this catalog's rows name it: its integer id and the root its rows' paths are stored under (schema 9). */
interface VolumeRef {
  id: number;
  root: Buffer;
  empty: boolean;
}

/**
 * A catalog, its log and its snapshots are readable by their owner only: they list every archived
 * name. SQLite gives the -wal and -shm files the database file's mode. Older catalogs made 0644 are
 * tightened the next time a command writes them.
 */
export function keepPrivate(file: string): void {
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
}

/**
 * One SQLite catalog, host or disk: its rows (rows.ts), read and written through statements
 * prepared once (statements.ts).
 */
export class Catalog {
  /** Never public: every statement lives in src/catalog/ (handle.ts gives the package its connection). */
  private readonly db: Database.Database;
  private readonly stmts: CatalogStatements;

  private constructor(db: Database.Database, readonly file: string) {
    this.db = db;
    this.stmts = prepareStatements(db);
    registerConnection(this, db);
  }

  /**
   * Opens (and with `create`, makes) a catalog. Any SQLite failure becomes a CatalogError with one
   * sentence naming the file, since a corrupt or foreign file is something a user can cause.
   */
  static open(file: string, opts: { create?: boolean; readonly?: boolean; quietMigration?: boolean } = {}): Catalog {
    const exists = fs.existsSync(file);
    if (!exists && !opts.create) throw new CatalogError(`catalog ${file} does not exist`);
    // Every archived name is in a catalog: its folder, when Blaine makes it, is the owner's alone (SPEC §3).
    if (!exists) fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { readonly: !!opts.readonly && exists, fileMustExist: !opts.create });
      if (!opts.readonly) keepPrivate(file);
      if (!opts.readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      }
      db.pragma('busy_timeout = 5000');
      // Any read forces SQLite to look at the header: a foreign file fails here, not mid-run.
      const version = db.pragma('user_version', { simple: true }) as number;
      if (opts.readonly && exists && version < SCHEMA_VERSION) {
        // Read through a private copy brought up to this schema: the file itself is not written.
        db.close();
        return Catalog.openCopy(file);
      }
      // A newer schema is refused even for reading (migrate says so in one sentence).
      if (opts.readonly && version > SCHEMA_VERSION) migrate(db, file);
      if (opts.readonly) return new Catalog(db, file);
      const started = performance.now();
      const from = migrate(db, file);
      const cat = new Catalog(db, file);
      // Rewriting every row into the lean layout takes a moment on a big catalog: say what happened, once.
      if (from > 0 && from < LEAN_SCHEMA && !opts.quietMigration) {
        // The old rows' pages are free now but still in the file, and the end-of-run copies
        // (snapshot.ts) copy the file whole: give them back once (a private copy only read needs not).
        // Only a saving: the migration is committed, and a VACUUM that finds no room for its
        // temporary copy (a nearly full host disk) leaves the catalog as it was.
        try {
          db.exec('VACUUM');
        } catch {
          // The pages stay free inside the file; SQLite reuses them for new rows.
        }
        const files = cat.db.prepare('SELECT count(*) FROM entries WHERE kind != 2').pluck(true).get() as number;
        const secs = ((performance.now() - started) / 1000).toFixed(1);
        process.stderr.write(`migrated the catalog ${file} to schema ${SCHEMA_VERSION} (${files.toLocaleString('en-US')} files) in ${secs} s\n`);
      }
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
      // Opened writable even when only read: a catalog of an older schema is migrated in the copy.
      const cat = Catalog.open(copy, { quietMigration: true });
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
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      // A volume id given out inside the transaction went with it.
      this.volumeIds.clear();
      throw err;
    }
  }

  /**
   * A transaction left open across many calls (apply/batch.ts commits both catalogs of a run in
   * batches, host first): begin, then commit or roll back.
   */
  beginTransaction(): void {
    this.db.exec('BEGIN');
  }

  commitTransaction(): void {
    this.db.exec('COMMIT');
  }

  /** Rolls back the open transaction, if any (a failed COMMIT may have rolled it back already). */
  rollbackTransaction(): void {
    this.volumeIds.clear();
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  // ---- files ----

  entriesUnder(dir: string): CatalogEntry[] {
    const [lo, hi] = pathRange(dir);
    return (this.stmts.under.all({ lo: nameToBytes(lo), hi: nameToBytes(hi) }) as EntryRow[]).map(rowToEntry);
  }

  /**
   * One volume's entries under `dir`, for planning: a range of the primary key read in order, and
   * without the columns planning never reads (parity name, verify time: left null here, so whoever
   * writes a row back must start from `get`). A rescan of a million files loads them all, so every
   * column and index lookup saved counts.
   */
  leanEntriesUnder(volume: string, dir: string): CatalogEntry[] {
    const [lo, hi] = pathRange(dir);
    const rows = this.stmts.lean.all({ volume, lo: nameToBytes(lo), hi: nameToBytes(hi) }) as Array<
      [Buffer, number, number, number, number, string | null, string | null, number, number, number, Buffer | null]
    >;
    const out: CatalogEntry[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out[i] = {
        volume, path: bytesToName(r[0]), kind: kindOf(r[1]), size: r[2], mtimeSec: r[3], mtimeNsec: r[4],
        inode: r[5], sha256: r[6], mode: r[7], uid: r[8], gid: r[9], linkTarget: r[10] === null ? null : bytesToName(r[10]),
        parityName: null, verifiedAt: null,
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
    const text = this.stmts.quickText.get({ volume, lo: nameToBytes(lo), hi: nameToBytes(hi) }) as Buffer | null;
    return text === null ? '' : bytesToName(text);
  }

  /** The digest statement; null: the addon (its SQLite extension) is not there; undefined: not tried yet. */
  private digestRows?: ReturnType<typeof prepareQuickDigest> | null;

  /**
   * The SHA-256 of quickText's text for the same range, without making the text: the scan hashes
   * each chunk's text too (native/scan.c), and equal digests settle a chunk. Null when it cannot be
   * made here (no addon; or rows out of order), and the caller compares the text instead.
   */
  quickDigest(volume: string, lo: string, hi: string): Uint8Array | null {
    if (this.digestRows === undefined) {
      this.digestRows = null;
      const addon = fsAddonFile();
      if (addon !== null) {
        try {
          // better-sqlite3 takes the entry point as a second argument (its types leave it out).
          (this.db.loadExtension as (file: string, entryPoint: string) => Database.Database).call(this.db, addon, QUICK_DIGEST_ENTRY);
          this.digestRows = prepareQuickDigest(this.db);
        } catch {
          // An addon built before the extension: the text comparison, as before.
        }
      }
    }
    if (this.digestRows === null) return null;
    return this.digestRows.get({ volume, lo: nameToBytes(lo), hi: nameToBytes(hi) }) as Buffer | null;
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
    return (this.stmts.quick.all({ volume, lo: nameToBytes(lo), hi: nameToBytes(hi) }) as [Buffer, Buffer][]).map(([p, st]) => {
      const stamp = bytesToName(st);
      return [bytesToName(p), stamp === '' ? null : stamp];
    });
  }

  entriesOfVolume(volume: string): CatalogEntry[] {
    return (this.stmts.byVolume.all(volume) as EntryRow[]).map(rowToEntry);
  }

  /** The rows in which this catalog and `other` differ for one volume (compare.ts). */
  differences(other: Catalog, volume: string): { mine: CatalogEntry[]; theirs: CatalogEntry[] } {
    return catalogDifferences(this, other, volume);
  }

  /** One volume's rows in path order, each as one string "path\0columns…" (char(1) for NULL). */
  *rowTexts(volume: string): IterableIterator<string> {
    for (const b of this.stmts.rowText.iterate(volume) as IterableIterator<Buffer>) yield bytesToName(b);
  }

  *iterateVolume(volume: string): IterableIterator<CatalogEntry> {
    for (const r of this.stmts.byVolume.iterate(volume) as IterableIterator<EntryRow>) yield rowToEntry(r);
  }

  /**
   * Entries whose path matches any of the SQLite GLOB patterns (all when none), of the given volumes
   * (all when none): files and symlinks, or with 'dirs' directory rows.
   */
  matching(globs: string[], volumes: string[] = [], what: 'files' | 'dirs' = 'files'): CatalogEntry[] {
    const where: string[] = [what === 'files' ? FILES_ONLY : DIRS_ONLY];
    const params: unknown[] = [];
    if (globs.length > 0) {
      // The pattern's bytes against the path's: GLOB reads both as text without decoding them.
      where.push(`(${globs.map(() => `CAST(${FULL_PATH} AS TEXT) GLOB CAST(? AS TEXT)`).join(' OR ')})`);
      params.push(...globs.map(nameToBytes));
    }
    if (volumes.length > 0) {
      where.push(`v.uuid IN (${volumes.map(() => '?').join(', ')})`);
      params.push(...volumes);
    }
    const sql = `SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${FULL_PATH}, v.uuid`;
    return (this.db.prepare(sql).raw(true).all(...params) as EntryRow[]).map(rowToEntry);
  }

  /** Files of a volume that should have parity and have none (an earlier crash or failure). */
  withoutParity(volume: string): CatalogEntry[] {
    return (
      this.db
        .prepare(`SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE v.uuid = ? AND e.kind = 0 AND e.size > 0 AND e.parity_name IS NULL`)
        .raw(true)
        .all(volume) as EntryRow[]
    ).map(rowToEntry);
  }

  /** Entries under `dir` of every volume but one, volume by volume (in no order across volumes: planning indexes them). */
  entriesUnderExcept(dir: string, volume: string): CatalogEntry[] {
    const [lo, hi] = pathRange(dir);
    return (
      this.db
        .prepare(`SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE v.uuid != @volume AND ${IN_RANGE} AND ${FILES_ONLY}`)
        .raw(true)
        .all({ volume, lo: nameToBytes(lo), hi: nameToBytes(hi) }) as EntryRow[]
    ).map(rowToEntry);
  }

  /** One volume's directory rows under `dir` (the whole volume when omitted; `dir`'s own row too with `andDir`), parents first. */
  dirsOf(volume: string, dir = '/', andDir = false): CatalogEntry[] {
    const [lo, hi] = pathRange(dir);
    const own = andDir ? this.dirRowsAt(dir).filter((e) => e.volume === volume) : [];
    return [...own, ...(this.stmts.dirs.all({ volume, lo: nameToBytes(lo), hi: nameToBytes(hi) }) as EntryRow[]).map(rowToEntry)];
  }

  /** Every volume's directory row at `p`. */
  dirRowsAt(p: string): CatalogEntry[] {
    return (this.stmts.dirsAt.all({ path: nameToBytes(p) }) as EntryRow[]).map(rowToEntry);
  }

  get(volume: string, p: string): CatalogEntry | undefined {
    const r = this.stmts.get.get({ volume, path: nameToBytes(p) }) as EntryRow | undefined;
    return r && rowToEntry(r);
  }

  findContent(size: number, sha256: string): CatalogEntry[] {
    return (this.stmts.content.all(size, sha256, sha256) as EntryRow[]).map(rowToEntry);
  }

  /**
   * findContent for many contents in one statement: every row of each, by `contentKey`. A content
   * nothing holds has no key in the map.
   */
  findContents(contents: Iterable<{ size: number; sha256: string }>): Map<string, CatalogEntry[]> {
    const keys = new Map<string, [number, string]>();
    for (const c of contents) keys.set(contentKey(c.size, c.sha256), [c.size, c.sha256]);
    const found = new Map<string, CatalogEntry[]>();
    if (keys.size === 0) return found;
    for (const r of this.stmts.contents.all({ keys: JSON.stringify([...keys.values()]) }) as EntryRow[]) {
      const e = rowToEntry(r);
      const k = contentKey(e.size, e.sha256!);
      const list = found.get(k);
      if (list) list.push(e);
      else found.set(k, [e]);
    }
    return found;
  }

  /**
   * Stored files of one volume with this content, mode (permission bits) and owner, read one row at
   * a time: a caller that wants one twin stops at the first, however many names share the content
   * (a folder of 65,000 equal files must not cost 65,000 rows per file). Run no other statement of
   * this catalog until the loop is left.
   */
  *twins(volume: string, size: number, sha256: string, m: { mode: number; uid: number; gid: number }): Generator<CatalogEntry> {
    for (const r of this.stmts.twins.iterate(size, sha256, sha256, volume, m.mode & 0o7777, m.uid, m.gid) as IterableIterator<EntryRow>) yield rowToEntry(r);
  }

  /** Whether any file of this size with a known SHA-256 is catalogued (a possible duplicate). */
  /**
   * Up to eight migrated rows of this volume (SHA-1 only, schema.ts) with this size, mode and owner:
   * SHA-1 cannot say their content is a new file's, a byte comparison can.
   */
  legacyTwins(volume: string, size: number, m: { mode: number; uid: number; gid: number }): CatalogEntry[] {
    return (this.stmts.legacyTwins.all(size, volume, m.mode & 0o7777, m.uid, m.gid) as EntryRow[]).map(rowToEntry);
  }

  /** This volume's migrated rows stored as one with another row by an equal SHA-1 (schema.ts). */
  linkedBySha1(volume: string): CatalogEntry[] {
    return (this.stmts.linkedBySha1.all(volume) as EntryRow[]).map(rowToEntry);
  }

  /**
   * Records the SHA-256 of a row whose content was read (dropping its migrated SHA-1); with
   * `recheck`, the next backup's quick check does not take the row as unchanged.
   */
  setContentHash(volume: string, p: string, sha256: string, recheck = false): void {
    this.stmts.contentRead.run({ sha256, recheck: recheck ? 1 : 0, volume, path: nameToBytes(p) });
  }

  /** Whether the volume has any file or symlink row (folders aside). */
  holdsFiles(volume: string): boolean {
    return this.stmts.holdsFiles.get(volume) !== undefined;
  }

  hasSize(size: number): boolean {
    return this.stmts.hasSize.get(size) !== undefined;
  }

  hasSizeElsewhere(size: number, volume: string): boolean {
    return this.stmts.hasSizeElsewhere.get(size, volume) !== undefined;
  }

  private writes?: ReturnType<typeof prepareWrites>;

  put(e: CatalogEntry): void {
    this.writes ??= prepareWrites(this.db);
    const full = pathBytes(e.path);
    const v = this.volumeRef(e.volume);
    if (v.empty || !isUnderRoot(full, v.root)) this.moveRoot(e.volume, v, full);
    this.writes.upsert.run(...entryParams(e, v.id, full));
  }

  remove(volume: string, p: string): void {
    this.writes ??= prepareWrites(this.db);
    const bytes = nameToBytes(p);
    // A removed row leaves a tombstone: a copy that is behind must learn that it went.
    if (this.stmts.delete.run({ volume, path: bytes }).changes > 0) this.writes.tombstone.run({ volume, path: bytes });
  }

  /**
   * A volume's integer id and root in this catalog, remembered (cleared when a transaction that may
   * have changed them rolls back). Only a writer uses it, and a catalog has one writer at a time.
   */
  private readonly volumeIds = new Map<string, VolumeRef>();

  /**
   * The volume's id (given out on first use) and root; `empty`: no row or tombstone yet, the root
   * is free. The root remembered can only be longer than the table's (roots only get shorter): a
   * path under it is under the table's, and the upsert strips the table's.
   */
  private volumeRef(uuid: string): VolumeRef {
    let v = this.volumeIds.get(uuid);
    if (v === undefined) {
      this.stmts.addVolumeId.run(uuid);
      v = { id: 0, root: Buffer.alloc(0), empty: true };
      this.readRoot(uuid, v);
      this.volumeIds.set(uuid, v);
    }
    return v;
  }

  private readRoot(uuid: string, v: VolumeRef): void {
    const r = this.stmts.volumeRoot.get(uuid) as { id: number; root: Buffer; empty: number };
    v.id = r.id;
    v.root = r.root;
    v.empty = r.empty === 1;
  }

  /**
   * Makes room under the volume's root for a path outside it: the root becomes the folder both
   * share (the path's own folder for a volume's first row), and the rows and tombstones already
   * there get the part of the old root that the new one lacks in front of what they store. The
   * root only gets shorter, at most once per folder level, and a backup's paths mostly share one
   * from the first row on: this is rare (a new data path beside the old ones).
   */
  private moveRoot(uuid: string, v: VolumeRef, full: Buffer): void {
    // As the table has it now: another connection may have moved it since.
    this.readRoot(uuid, v);
    if (!v.empty && isUnderRoot(full, v.root)) return;
    const root = v.empty ? parentRoot(full) : commonRoot(v.root, full);
    this.transaction(() => {
      if (!v.empty) {
        const extra = v.root.subarray(root.length);
        for (const table of ['entries', 'tombstones']) {
          const columns = this.db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck(true).all(table) as string[];
          // Through a copy: prefixing in place could meet a row not yet moved that already has the new name.
          this.db.exec(`DROP TABLE IF EXISTS temp.moved_rows`);
          this.db.prepare(`CREATE TEMP TABLE moved_rows AS SELECT * FROM main.${table} WHERE vid = ?`).run(v.id);
          this.db.prepare(`DELETE FROM main.${table} WHERE vid = ?`).run(v.id);
          this.db
            .prepare(`INSERT INTO main.${table} (${columns.join(', ')}) SELECT ${columns.map((c) => (c === 'path' ? 'CAST(? || path AS BLOB)' : c)).join(', ')} FROM temp.moved_rows ORDER BY path`)
            .run(extra);
          this.db.exec(`DROP TABLE temp.moved_rows`);
        }
      }
      this.stmts.setVolumeRoot.run(root, v.id);
    });
    v.root = Buffer.from(root);
    v.empty = false;
  }


  /**
   * Records a full checksum verify of one row. Only that column changes, and a row that is not
   * there stays absent: the host catalog may already know the path under another name (a deferred
   * rename), which writing a whole disk row back would undo.
   */
  setVerifiedAt(volume: string, p: string, at: number): void {
    this.columnUpdate('verified_at').run({ value: at, volume, path: nameToBytes(p) });
  }

  /** Records a rebuilt (or dropped, null) parity set of one row; like setVerifiedAt, never adds a row. */
  setParityName(volume: string, p: string, parityName: string | null): void {
    this.columnUpdate('parity_name').run({ value: parityParam(p, parityName), volume, path: nameToBytes(p) });
  }

  /**
   * Records the parity set a run made for a stored file: its parity name, and the generation the
   * row then carries, as a whole row written now would. False when the row is not there (it moved
   * or went in the meantime): nothing is added.
   */
  madeParity(volume: string, p: string, parityName: string | null): boolean {
    this.writes ??= prepareWrites(this.db);
    return this.writes.madeParity.run({ parity: parityParam(p, parityName), volume, path: nameToBytes(p) }).changes > 0;
  }

  private readonly columnUpdates = new Map<string, Database.Statement>();

  /** A scrub updates every row once: the statement is prepared on first use, not per row. */
  private columnUpdate(column: 'verified_at' | 'parity_name'): Database.Statement {
    let st = this.columnUpdates.get(column);
    if (!st) {
      st = this.db.prepare(`UPDATE entries SET ${column} = @value WHERE vid = (SELECT id FROM volume_ids WHERE uuid = @volume) AND path = ${STORED_AT}`);
      this.columnUpdates.set(column, st);
    }
    return st;
  }

  /** Replaces every row of a volume by `entries` and its directory rows by `dirs` (a disk catalog imported as the truth for its volume). */
  replaceVolume(volume: string, entries: Iterable<CatalogEntry>, dirs: Iterable<CatalogEntry>): void {
    this.transaction(() => {
      this.db.prepare(`DELETE FROM entries WHERE vid = ${VID}`).run(volume);
      for (const e of entries) this.put({ ...e, volume });
      for (const e of dirs) this.put({ ...e, volume });
      // What was here before went without tombstones: only copies as new as this can be caught up by change.
      trackChangesFrom(this, volume);
    });
  }

  volumeStats(volume: string): { files: number; bytes: number } {
    return this.stmts.stats.get(volume) as { files: number; bytes: number };
  }

  /** How many of a volume's rows had a full checksum verify at or after `since` (Unix seconds). */
  verifiedSince(volume: string, since: number): number {
    return this.db.prepare(`SELECT count(*) FROM entries WHERE vid = ${VID} AND kind != 2 AND verified_at >= ?`).pluck(true).get(volume, since) as number;
  }

  /** The lowest and highest catalogued path in path order (null when there is none). */
  pathSpan(): { lo: string | null; hi: string | null } {
    // Per volume the ends of its primary key, then across volumes (a volume without rows gives NULL, left out).
    const r = this.db
      .prepare(
        `SELECT min(lo) AS lo, max(hi) AS hi FROM (SELECT CAST(v.root || (SELECT min(path) FROM entries WHERE vid = v.id) AS BLOB) AS lo,
           CAST(v.root || (SELECT max(path) FROM entries WHERE vid = v.id) AS BLOB) AS hi FROM volume_ids v)`,
      )
      .get() as { lo: Buffer | null; hi: Buffer | null };
    return { lo: r.lo === null ? null : bytesToName(r.lo), hi: r.hi === null ? null : bytesToName(r.hi) };
  }

  /** A volume's files (not symlinks) as path and size, read one row at a time. */
  *fileSizes(volume: string): IterableIterator<{ path: string; size: number }> {
    const rows = this.db.prepare(`SELECT ${FULL_PATH} AS path, e.size FROM ${ENTRY_FROM} WHERE v.uuid = ? AND e.kind = 0`).iterate(volume) as IterableIterator<{ path: Buffer; size: number }>;
    for (const r of rows) yield { path: bytesToName(r.path), size: r.size };
  }

  private pathLookups?: { any: Database.Statement; nonDir: Database.Statement };

  /** Whether any volume holds this exact path. */
  holdsPath(p: string): boolean {
    this.pathLookups ??= this.preparePathLookups();
    return this.pathLookups.any.get({ path: nameToBytes(p) }) !== undefined;
  }

  /** Whether any volume holds a file or symlink (not a folder) at this exact path. */
  holdsNonDirAt(p: string): boolean {
    this.pathLookups ??= this.preparePathLookups();
    return this.pathLookups.nonDir.get({ path: nameToBytes(p) }) !== undefined;
  }

  private preparePathLookups() {
    return {
      any: this.db.prepare(`SELECT 1 FROM ${ENTRY_FROM} WHERE e.path = ${storedPath('@path')} LIMIT 1`).pluck(),
      nonDir: this.db.prepare(`SELECT 1 FROM ${ENTRY_FROM} WHERE e.path = ${storedPath('@path')} AND e.kind IN (0, 1) LIMIT 1`).pluck(),
    };
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
    raiseGeneration(this, volume);
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

  /** The queue, in order. A catalog opened read-only may predate queued_by and queued_gen: null then. */
  deferred(volume?: string): DeferredRow[] {
    const rows = (volume === undefined ? this.stmts.allDeferred.all() : this.stmts.deferred.all(volume)) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: r.id as number,
      volume: r.volume as string,
      action: r.action as DeferredAction,
      path: bytesToName(r.path as Buffer),
      target: r.target === null || r.target === undefined ? null : bytesToName(r.target as Buffer),
      created: r.created as string,
      queuedBy: (r.queued_by as string | null | undefined) ?? null,
      queuedGen: (r.queued_gen as number | null | undefined) ?? null,
    }));
  }

  private addDeferred: Database.Statement | undefined;

  /** `queued`: the volume whose run queues it and that volume's generation now (plan/held.ts). */
  defer(volume: string, action: DeferredAction, p: string, target: string | null, queued?: { by: string; gen: number | null }): void {
    this.addDeferred ??= this.db.prepare(
      'INSERT INTO deferred (volume, action, path, target, created, queued_by, queued_gen) VALUES (?,?,?,?,?,?,?)',
    );
    this.addDeferred.run(volume, action, nameToBytes(p), target === null ? null : nameToBytes(target), new Date().toISOString(), queued?.by ?? null, queued?.gen ?? null);
  }

  dropDeferred(id: number): void {
    this.stmts.dropDeferred.run(id);
  }

  /** Every queued action of a volume goes (a volume replaced from a disk or snapshot brings its own queue). */
  dropDeferredOf(volume: string): void {
    this.db.prepare('DELETE FROM deferred WHERE volume = ?').run(volume);
  }

  /** Queues an action again as it was queued first (same time, same queuing run), after those already there. */
  requeue(d: DeferredRow): void {
    this.db
      .prepare('INSERT INTO deferred (volume, action, path, target, created, queued_by, queued_gen) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(d.volume, d.action, nameToBytes(d.path), d.target === null ? null : nameToBytes(d.target), d.created, d.queuedBy, d.queuedGen);
  }

  /** How many actions of each kind each volume has queued, counted in SQL (the queue can be long). */
  pendingCounts(): Array<{ volume: string; action: DeferredAction; n: number }> {
    return this.db.prepare(`SELECT volume, action, count(*) AS n FROM deferred GROUP BY volume, action`).all() as Array<{
      volume: string;
      action: DeferredAction;
      n: number;
    }>;
  }

  /**
   * Queued DELETEs grouped by the run that queued them (volume, generation): the queue can be
   * long, the runs that filled it are few. Empty for a catalog opened read-only that predates
   * the columns (nothing it queued is held).
   */
  deleteGroups(): Array<{ volume: string; queuedBy: string | null; queuedGen: number | null; n: number }> {
    const columns = this.db.prepare(`SELECT name FROM pragma_table_info('deferred')`).pluck(true).all() as string[];
    if (!columns.includes('queued_gen')) return [];
    return this.db
      .prepare(`SELECT volume, queued_by AS queuedBy, queued_gen AS queuedGen, count(*) AS n FROM deferred WHERE action = 'DELETE' GROUP BY volume, queued_by, queued_gen`)
      .all() as Array<{ volume: string; queuedBy: string | null; queuedGen: number | null; n: number }>;
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

  /** When the last run logged in this catalog finished (ISO time; null: none): how recent a snapshot is. */
  lastRunFinished(): string | null {
    return (this.db.prepare('SELECT max(finished) FROM runs').pluck(true).get() as string | null) ?? null;
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

  /** A consistent copy of the whole catalog in `file`, synced (snapshot.ts), written through `fs`. */
  async snapshotTo(file: string, fs: Fsx): Promise<void> {
    await snapshotDatabase(this.db, this.file, file, fs);
  }

  /** This catalog's part in snapshotDatabases: copied to `dest` beside other catalogs' copies. */
  snapshotJob(dest: string): SnapshotJob {
    return { db: this.db, file: this.file, dest };
  }
}/**
 * A path's bytes, the last one remembered: a run puts each row into both catalogs, one after the
 * other. The Buffer is only read (bound to a statement, compared with a root).
 */
let lastPath = '';
let lastBytes: Buffer = Buffer.alloc(0);
function pathBytes(p: string): Buffer {
  if (p !== lastPath) {
    lastBytes = nameToBytes(p);
    lastPath = p;
  }
  return lastBytes;
}


