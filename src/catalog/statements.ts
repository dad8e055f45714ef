import type Database from 'better-sqlite3';
import { ENTRY_FROM, ENTRY_SELECT, FULL_PATH, IN_RANGE, ROW_TEXT, SHA256_HEX, SHA256_IS, SHA256_PARAM, STAMP_SQL, VID, STORED_AT, storedPath } from './rows.js';

/**
 * Directory rows (kind 'dir', 2 in the table) share the entries table; every statement that the file pipelines read
 * leaves them out, so that nothing that counts, plans or copies files meets a directory.
 */
export const FILES_ONLY = 'kind != 2';
/** Directory rows only (kind 2 in schema 8). */
export const DIRS_ONLY = 'kind = 2';

/**
 * The statements a catalog runs per row, prepared once when it opens: a backup touches every row,
 * so per-call preparation would dominate. Paths are bound as their bytes (nameToBytes) and read
 * back as BLOBs (bytesToName); a volume is named by its UUID and found by VID.
 */
export function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    // A volume's directories (kind 'dir', dirs/): path order, parents before what they hold.
    // Ranges (@volume, @lo, @hi) are of full paths; IN_RANGE turns them into the stored ones of
    // each volume. Within one volume, stored order is full-path byte order (one root before all).
    dirs: p(`SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE v.uuid = @volume AND ${IN_RANGE} AND ${DIRS_ONLY} ORDER BY e.path`).raw(true),
    dirsAt: p(`SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE e.path = ${storedPath('@path')} AND ${DIRS_ONLY}`).raw(true),
    // Every volume's rows in a range of paths: one range of the primary key per volume.
    under: p(`SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE ${IN_RANGE} AND ${FILES_ONLY} ORDER BY ${FULL_PATH}, v.uuid`).raw(true),
    quick: p(`SELECT ${FULL_PATH}, CAST(${STAMP_SQL} AS BLOB) FROM ${ENTRY_FROM} WHERE v.uuid = @volume AND ${IN_RANGE} AND ${FILES_ONLY} ORDER BY e.path`).raw(true),
    quickText: p(
      `SELECT CAST(group_concat(path || char(0) || stamp, char(0)) AS BLOB) FROM
       (SELECT v.root || e.path AS path, ${STAMP_SQL} AS stamp FROM ${ENTRY_FROM} WHERE v.uuid = @volume AND ${IN_RANGE} AND ${FILES_ONLY} ORDER BY e.path)`,
    ).pluck(true),
    lean: p(
      `SELECT ${FULL_PATH}, e.kind, e.size, e.mtime_s, e.mtime_ns, e.inode, ${SHA256_HEX}, e.mode, e.uid, e.gid, e.link_target FROM ${ENTRY_FROM} WHERE v.uuid = @volume AND ${IN_RANGE} AND ${FILES_ONLY}`,
    ).raw(true),
    byVolume: p(`SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE v.uuid = ? AND ${FILES_ONLY} ORDER BY e.path`).raw(true),
    // Every column of a row in one text of bytes; char(1) stands for NULL.
    rowText: p(`SELECT ${ROW_TEXT} FROM ${ENTRY_FROM} WHERE v.uuid = ? AND ${FILES_ONLY} ORDER BY e.path`).pluck(true),
    get: p(`SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE v.uuid = @volume AND e.path = ${storedPath('@path')} AND ${FILES_ONLY}`).raw(true),
    content: p(`SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE e.size = ? AND ${SHA256_IS}`).raw(true),
    // The rows of many contents at once (@keys: a JSON array of [size, SHA-256 hex]), each found
    // through entries_content as `content` finds one: a catch-up asks about thousands.
    contents: p(
      `SELECT ${ENTRY_SELECT} FROM json_each(@keys) j CROSS JOIN entries e ON e.size = j.value ->> 0
       AND substr(e.sha256, 1, 4) = unhex(substr(j.value ->> 1, 1, 8)) AND e.sha256 = unhex(j.value ->> 1) CROSS JOIN volume_ids v ON v.id = e.vid`,
    ).raw(true),
    twins: p(
      `SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE e.size = ? AND ${SHA256_IS} AND v.uuid = ? AND e.kind = 0 AND (e.mode & 4095) = ? AND e.uid = ? AND e.gid = ?`,
    ).raw(true),
    holdsFiles: p(`SELECT 1 FROM entries WHERE vid = ${VID} AND ${FILES_ONLY} LIMIT 1`).pluck(true),
    hasSize: p(`SELECT 1 FROM entries WHERE size = ? AND sha256 IS NOT NULL LIMIT 1`).pluck(true),
    hasSizeElsewhere: p(`SELECT 1 FROM entries WHERE size = ? AND sha256 IS NOT NULL AND vid IS NOT ${VID} LIMIT 1`).pluck(true),
    delete: p(`DELETE FROM entries WHERE vid = (SELECT id FROM volume_ids WHERE uuid = @volume) AND path = ${STORED_AT}`),
    // Migrated rows of a volume that share their SHA-1 and size with another of its rows: stored
    // as one by SHA-1 alone, which a collision fools (entries_sha1 holds only such rows).
    linkedBySha1: p(
      `SELECT ${ENTRY_SELECT} FROM ${ENTRY_FROM} WHERE e.sha1 IS NOT NULL AND v.uuid = ? AND e.kind = 0 AND EXISTS
       (SELECT 1 FROM entries g WHERE g.sha1 = e.sha1 AND g.size = e.size AND g.vid = e.vid AND g.path != e.path) ORDER BY e.path`,
    ).raw(true),
    // Migrated rows (SHA-1 only) that could hold the same content: a few, each compared byte by byte.
    // Asked for every file a backup copies: by entries_sha1, named, since SQLite otherwise walks
    // the volume's rows by the primary key (a first backup then costs the square of its files).
    legacyTwins: p(
      `SELECT ${ENTRY_SELECT} FROM volume_ids v CROSS JOIN entries e INDEXED BY entries_sha1 ON e.vid = v.id
       WHERE e.sha1 IS NOT NULL AND e.size = ? AND v.uuid = ? AND e.kind = 0 AND (e.mode & 4095) = ? AND e.uid = ? AND e.gid = ? LIMIT 8`,
    ).raw(true),
    // The content of a row was read: its SHA-256 replaces the migrated SHA-1. With `recheck`, the
    // next quick check hands the row to the planner.
    contentRead: p(
      `UPDATE entries SET sha256 = unhex(@sha256), sha1 = NULL, recheck = iif(@recheck, 1, recheck)
       WHERE vid = (SELECT id FROM volume_ids WHERE uuid = @volume) AND path = ${STORED_AT} AND kind = 0`,
    ),
    volumes: p(`SELECT uuid, label, encrypted, created, generation FROM volumes ORDER BY created, label`),
    volume: p(`SELECT uuid, label, encrypted, created, generation FROM volumes WHERE uuid = ?`),
    upsertVolume: p(`INSERT INTO volumes (uuid, label, encrypted, created, generation) VALUES (?,?,?,?,?)
      ON CONFLICT(uuid) DO UPDATE SET label = excluded.label, encrypted = excluded.encrypted, generation = excluded.generation`),
    copies: p(`SELECT copy, volume, label, generation, last_sync, free_bytes, files, bytes FROM copies ORDER BY volume, label`),
    upsertCopy: p(`INSERT OR REPLACE INTO copies (copy, volume, label, generation, last_sync, free_bytes, files, bytes) VALUES (?,?,?,?,?,?,?,?)`),
    deferred: p(`SELECT * FROM deferred WHERE volume = ? ORDER BY id`),
    allDeferred: p(`SELECT * FROM deferred ORDER BY volume, id`),
    dropDeferred: p(`DELETE FROM deferred WHERE id = ?`),
    // Folders are rows too, but not files: they count for neither.
    stats: p(`SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM entries WHERE vid = ${VID} AND ${FILES_ONLY}`),
    getMeta: p(`SELECT value FROM meta WHERE key = ?`).pluck(true),
    setMeta: p(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`),
    volumeRoot: p(
      `SELECT id, root, NOT EXISTS (SELECT 1 FROM entries WHERE vid = v.id) AND NOT EXISTS (SELECT 1 FROM tombstones WHERE vid = v.id) AS empty FROM volume_ids v WHERE uuid = ?`,
    ),
    setVolumeRoot: p(`UPDATE volume_ids SET root = ? WHERE id = ?`),
    addVolumeId: p(`INSERT OR IGNORE INTO volume_ids (uuid) VALUES (?)`),
  };
}

export type CatalogStatements = ReturnType<typeof prepareStatements>;

/** The SQLite extension in Blaine's addon (native/quickdigest.c) and its entry point. */
export const QUICK_DIGEST_ENTRY = 'sqlite3_blainequick_init';

/**
 * The SHA-256 of the quickText statement's text for the same rows, made in C by the addon's
 * aggregate (prepared only once the extension is loaded: SQLite refuses an unknown function). No
 * ORDER BY: the rows come along the primary key, in path order, without copying each through a
 * subquery; the aggregate checks that order and gives NULL without it.
 */
export function prepareQuickDigest(db: Database.Database) {
  return db
    .prepare(
      `SELECT blaine_quick_digest(v.root, e.path, e.kind, e.size, e.mtime_s, e.mtime_ns, e.inode, e.mode, e.uid, e.gid, e.link_target, e.recheck)
       FROM ${ENTRY_FROM} WHERE v.uuid = @volume AND ${IN_RANGE} AND ${FILES_ONLY}`,
    )
    .pluck(true);
}

/** The generation of the volume named by the statement's last parameter, as a row written now carries it. */
const GEN_OF = `coalesce((SELECT generation FROM volumes WHERE uuid = ?), 0)`;

/** The statements that write rows, prepared on first use (a catalog only read never needs them). */
export function prepareWrites(db: Database.Database) {
  return {
    // gen: the volume's generation now (entryParams passes the UUID last); recheck cleared. The
    // path is stored under the volume's root as the table has it (Catalog.put has made sure the
    // path lies under it): right even when another connection moved the root since.
    upsert: db.prepare(
      `INSERT OR REPLACE INTO entries (vid, path, kind, size, mtime_s, mtime_ns, inode, sha256, sha1, mode, uid, gid, link_target, parity_name, verified_at, gen, recheck)
       VALUES (?,substr(?, (SELECT length(root) FROM volume_ids WHERE id = ?) + 1),?,?,?,?,?,${SHA256_PARAM},?,?,?,?,?,?,?,${GEN_OF},NULL)`,
    ),
    tombstone: db.prepare(
      `INSERT OR REPLACE INTO tombstones (vid, path, gen)
       VALUES ((SELECT id FROM volume_ids WHERE uuid = @volume), ${STORED_AT}, coalesce((SELECT generation FROM volumes WHERE uuid = @volume), 0))`,
    ),
    // A parity set made by this run for a stored file: that column and the generation, in place
    // (a whole row written back would cost a read of it, a delete and an insert, per small file).
    madeParity: db.prepare(
      `UPDATE entries SET parity_name = @parity, gen = coalesce((SELECT generation FROM volumes WHERE uuid = @volume), 0)
       WHERE vid = (SELECT id FROM volume_ids WHERE uuid = @volume) AND path = ${STORED_AT} AND kind = 0`,
    ),
  };
}
