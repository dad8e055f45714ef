import type Database from 'better-sqlite3';
import { ENTRY_COLUMNS, ENTRY_SELECT, ROW_TEXT, SHA256_HEX, SHA256_PARAM } from './rows.js';

/**
 * Directory rows (kind 'dir') share the files table; every statement that the file pipelines read
 * leaves them out, so that nothing that counts, plans or copies files meets a directory.
 */
export const FILES_ONLY = "kind != 'dir'";

/**
 * The statements a catalog runs per row, prepared once when it opens: a backup touches every row,
 * so per-call preparation would dominate.
 */
export function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    // A volume's directories (kind 'dir', dirs/): path order, parents before what they hold.
    dirs: p(`SELECT ${ENTRY_SELECT} FROM files WHERE volume = ? AND path >= ? AND path < ? AND kind = 'dir' ORDER BY path`).raw(true),
    dirsAt: p(`SELECT ${ENTRY_SELECT} FROM files WHERE path = ? AND kind = 'dir'`).raw(true),
    under: p(`SELECT ${ENTRY_SELECT} FROM files WHERE path >= ? AND path < ? AND ${FILES_ONLY}`).raw(true),
    quick: p(`SELECT path, stamp FROM files WHERE volume = ? AND path >= ? AND path < ? AND ${FILES_ONLY} ORDER BY path`).raw(true),
    quickText: p(
      `SELECT group_concat(path || char(0) || ifnull(stamp, ''), char(0)) FROM (SELECT path, stamp FROM files WHERE volume = ? AND path >= ? AND path < ? AND ${FILES_ONLY} ORDER BY path)`,
    ).pluck(true),
    lean: p(
      `SELECT path, kind, size, mtime_s, mtime_ns, inode, ${SHA256_HEX}, mode, uid, gid, link_target FROM files WHERE volume = ? AND path >= ? AND path < ? AND ${FILES_ONLY}`,
    ).raw(true),
    byVolume: p(`SELECT ${ENTRY_SELECT} FROM files WHERE volume = ? AND ${FILES_ONLY} ORDER BY path`).raw(true),
    // Every column of a row in one string; char(1) stands for NULL.
    rowText: p(`SELECT ${ROW_TEXT} FROM files WHERE volume = ? AND ${FILES_ONLY} ORDER BY path`).pluck(true),
    get: p(`SELECT ${ENTRY_SELECT} FROM files WHERE volume = ? AND path = ? AND ${FILES_ONLY}`).raw(true),
    content: p(`SELECT ${ENTRY_SELECT} FROM files WHERE size = ? AND sha256 = ${SHA256_PARAM}`).raw(true),
    twins: p(
      `SELECT ${ENTRY_SELECT} FROM files WHERE size = ? AND sha256 = ${SHA256_PARAM} AND volume = ? AND kind = 'file' AND (mode & 4095) = ? AND uid = ? AND gid = ?`,
    ).raw(true),
    hasSize: p(`SELECT 1 FROM files WHERE size = ? AND sha256 IS NOT NULL LIMIT 1`).pluck(true),
    hasSizeElsewhere: p(`SELECT 1 FROM files WHERE size = ? AND sha256 IS NOT NULL AND volume != ? LIMIT 1`).pluck(true),
    delete: p(`DELETE FROM files WHERE volume = ? AND path = ?`),
    // Migrated rows of a volume that share their SHA-1 and size with another of its rows: stored
    // as one by SHA-1 alone, which a collision fools (files_sha1 holds only such rows).
    linkedBySha1: p(
      `SELECT ${ENTRY_SELECT} FROM files f WHERE f.sha1 IS NOT NULL AND f.volume = ? AND f.kind = 'file' AND EXISTS
       (SELECT 1 FROM files g WHERE g.sha1 = f.sha1 AND g.size = f.size AND g.volume = f.volume AND g.path != f.path) ORDER BY f.path`,
    ).raw(true),
    // Migrated rows (SHA-1 only) that could hold the same content: a few, each compared byte by byte.
    legacyTwins: p(
      `SELECT ${ENTRY_SELECT} FROM files WHERE sha1 IS NOT NULL AND size = ? AND volume = ? AND kind = 'file' AND (mode & 4095) = ? AND uid = ? AND gid = ? LIMIT 8`,
    ).raw(true),
    // The content of a row was read: its SHA-256 replaces the migrated SHA-1. With `recheck`, the
    // stamp goes too, so the next quick check hands the row to the planner.
    contentRead: p(`UPDATE files SET sha256 = ${SHA256_PARAM}, sha1 = NULL, stamp = CASE WHEN ? THEN NULL ELSE stamp END WHERE volume = ? AND path = ? AND kind = 'file'`),
    volumes: p(`SELECT uuid, label, encrypted, created, generation FROM volumes ORDER BY created, label`),
    volume: p(`SELECT uuid, label, encrypted, created, generation FROM volumes WHERE uuid = ?`),
    upsertVolume: p(`INSERT INTO volumes (uuid, label, encrypted, created, generation) VALUES (?,?,?,?,?)
      ON CONFLICT(uuid) DO UPDATE SET label = excluded.label, encrypted = excluded.encrypted, generation = excluded.generation`),
    bump: p(`UPDATE volumes SET generation = generation + 1 WHERE uuid = ?`),
    copies: p(`SELECT copy, volume, label, generation, last_sync, free_bytes, files, bytes FROM copies ORDER BY volume, label`),
    upsertCopy: p(`INSERT OR REPLACE INTO copies (copy, volume, label, generation, last_sync, free_bytes, files, bytes) VALUES (?,?,?,?,?,?,?,?)`),
    // SELECT *: a catalog opened read-only may predate queued_by and queued_gen (Catalog.deferred).
    deferred: p(`SELECT * FROM deferred WHERE volume = ? ORDER BY id`),
    allDeferred: p(`SELECT * FROM deferred ORDER BY volume, id`),
    dropDeferred: p(`DELETE FROM deferred WHERE id = ?`),
    stats: p(`SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM files WHERE volume = ? AND ${FILES_ONLY}`),
    getMeta: p(`SELECT value FROM meta WHERE key = ?`).pluck(true),
    setMeta: p(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`),
  };
}

export type CatalogStatements = ReturnType<typeof prepareStatements>;

/** The generation of the volume named by the statement's last parameter, as a row written now carries it. */
const GEN_OF = `coalesce((SELECT generation FROM volumes WHERE uuid = ?), 0)`;

/**
 * The statements that write the columns of the newest schema (catalog/changes.ts), prepared on
 * first use: a catalog opened read-only is not migrated, and may lack those columns.
 */
export function prepareWrites(db: Database.Database) {
  return {
    // gen: the volume's generation now; entryParams passes the volume twice.
    upsert: db.prepare(`INSERT OR REPLACE INTO files (${ENTRY_COLUMNS}, stamp, gen) VALUES (?,?,?,?,?,?,?,${SHA256_PARAM},?,?,?,?,?,?,?,?,${GEN_OF})`),
    tombstone: db.prepare(`INSERT OR REPLACE INTO tombstones (volume, path, gen) VALUES (?, ?, ${GEN_OF})`),
  };
}
