import type Database from 'better-sqlite3';
import { stamp } from './stamp.js';
import { commonRoot, parentRoot } from './rows.js';

/** The rows' table of schemas 8 and 9 (9 only stores its paths differently). */
const entriesTable = (name: string) => `CREATE TABLE ${name} (
    vid INTEGER NOT NULL,
    path BLOB NOT NULL,
    kind INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_s INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode TEXT,
    sha256 BLOB,
    sha1 TEXT,
    mode INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    link_target BLOB,
    parity_name BLOB,
    verified_at INTEGER,
    gen INTEGER NOT NULL DEFAULT 0,
    recheck INTEGER,
    PRIMARY KEY (vid, path)
  ) WITHOUT ROWID;`;

/**
 * Host and disk catalogs share one schema: a disk catalog simply holds the rows of its own volume.
 * Each migration moves the schema one version up; never edit a released one, add another.
 */
const migrations: (string | ((db: Database.Database) => void))[] = [
  `
  CREATE TABLE volumes (
    uuid TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    encrypted INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    -- bumped whenever the volume's contents change (also by deferring an action for it), so a copy
    -- whose disk catalog carries an older generation is known to be behind
    generation INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE copies (
    copy TEXT PRIMARY KEY,
    volume TEXT NOT NULL,
    label TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    last_sync TEXT,
    free_bytes INTEGER,
    files INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE files (
    volume TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_s INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode TEXT,
    sha1 TEXT,
    mode INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    link_target TEXT,
    parity_name TEXT,
    verified_at INTEGER,
    PRIMARY KEY (volume, path)
  ) WITHOUT ROWID;
  -- path alone: loading everything under a data path is a range scan
  CREATE INDEX files_path ON files(path);
  -- content lookups (duplicates are stored once per volume) and "does any file have this size"
  CREATE INDEX files_content ON files(size, sha1);
  CREATE TABLE deferred (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    volume TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('RENAME', 'LINK', 'DELETE')),
    path TEXT NOT NULL,
    target TEXT,
    created TEXT NOT NULL
  );
  CREATE INDEX deferred_volume ON deferred(volume, id);
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    command TEXT NOT NULL,
    volume TEXT,
    copy TEXT,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL,
    summary TEXT,
    free_after INTEGER,
    used_bytes INTEGER
  );
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
  // The quick check's key (stamp.ts), filled in for the rows already there.
  (db) => {
    db.exec('ALTER TABLE files ADD COLUMN stamp TEXT');
    const rows = db.prepare('SELECT volume, path, kind, size, mtime_s, mtime_ns, inode, mode, uid, gid, link_target FROM files').raw(true).all() as StampSource[];
    const set = db.prepare('UPDATE files SET stamp = ? WHERE volume = ? AND path = ?');
    for (const [volume, p, ...f] of rows) set.run(stamp(...f), volume, p);
  },
  // Files on the volume and the disk's size after each run, beside its bytes and free space: the
  // report's bars and growth chart and the summary's days-left estimate read the run log.
  `ALTER TABLE runs ADD COLUMN files_after INTEGER; ALTER TABLE runs ADD COLUMN capacity INTEGER;`,
  // Which rows changed since a generation (catalog/changes.ts): a copy that is behind reads only
  // those. Each row carries the generation of its volume when it was last written, each removed
  // row leaves a tombstone. Rows already there predate the tracking: a copy older than the
  // generation its volume has now still needs the whole comparison.
  `
  ALTER TABLE files ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX files_gen ON files(volume, gen);
  CREATE TABLE tombstones (
    volume TEXT NOT NULL,
    path TEXT NOT NULL,
    gen INTEGER NOT NULL,
    PRIMARY KEY (volume, path)
  ) WITHOUT ROWID;
  CREATE INDEX tombstones_gen ON tombstones(volume, gen);
  INSERT OR REPLACE INTO meta (key, value) SELECT 'changes-from:' || uuid, generation FROM volumes;
  `,
  // Disk health, one row per visit of a physical disk (a copy): its SMART counters then, so that
  // a counter that grew since the last visit can be told (src/health/). Null: not reported.
  `
  CREATE TABLE disk_health (
    copy TEXT NOT NULL,
    at INTEGER NOT NULL,
    device TEXT NOT NULL,
    model TEXT,
    serial TEXT,
    power_on_hours INTEGER,
    reallocated INTEGER,
    pending INTEGER,
    uncorrectable INTEGER,
    temperature INTEGER,
    passed INTEGER,
    PRIMARY KEY (copy, at)
  ) WITHOUT ROWID;
  `,
  // Which volume's run queued a deferred action, and that volume's generation then: a DELETE for a
  // stored disk waits until every copy of that volume holds the state that queued it (SPEC §8,
  // plan/held.ts). Actions queued before this carry neither and are never held.
  `ALTER TABLE deferred ADD COLUMN queued_by TEXT; ALTER TABLE deferred ADD COLUMN queued_gen INTEGER;`,
  // Content identity by SHA-256 (SPEC §3): SHA-1 has public collisions, and a link made by SHA-1
  // alone can make two different files one. Its 32 bytes, not hex (rows.ts converts): a million-file
  // catalog would otherwise grow by ~64 MB (row and index); the content lookups (dedup, restore,
  // catch-up) go through the new index. Migrated rows keep their SHA-1 in `sha1` until their
  // content is next read (a copy or verify --checksum fills sha256 and clears it); such a row is
  // never taken as equal to another by its SHA-1.
  `
  ALTER TABLE files ADD COLUMN sha256 BLOB;
  DROP INDEX files_content;
  CREATE INDEX files_content ON files(size, sha256);
  -- only the rows still waiting for their content to be read: empty once every row has a SHA-256
  CREATE INDEX files_sha1 ON files(size, sha1) WHERE sha1 IS NOT NULL;
  -- Volumes dropped by forget-disk. Every disk's snapshot of the host catalog carries the list, so
  -- that rebuilding from an older snapshot that still holds such a volume does not bring it back.
  CREATE TABLE forgotten_volumes (uuid TEXT PRIMARY KEY, label TEXT NOT NULL, forgotten TEXT NOT NULL) WITHOUT ROWID;
  `,
  // The lean layout (the figures are in the README's Performance section): a volume's
  // UUID is stored once (volume_ids) and rows name it by a small integer; paths, symlink targets
  // and parity names are their bytes (BLOB, names are bytes: fsx/name-bytes.ts), in byte order as
  // the range queries expect; no index on the path alone (a range or a lookup goes volume by
  // volume, by the primary key); no quick-check stamp (built from the columns, which costs less
  // than storing it); a parity name equal to the row's own path is stored as X'' (the usual case);
  // the kind is 0 file, 1 symlink, 2 directory. `recheck` set: the next quick check hands the row
  // to the planner. The view `files` shows the rows as schema 7 had them, for people and tests.
  `
  CREATE TABLE volume_ids (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE);
  INSERT INTO volume_ids (uuid) SELECT uuid FROM volumes UNION SELECT volume FROM files UNION SELECT volume FROM tombstones ORDER BY 1;
  ${entriesTable('entries')}
  INSERT INTO entries
    SELECT v.id, CAST(f.path AS BLOB), CASE f.kind WHEN 'symlink' THEN 1 WHEN 'dir' THEN 2 ELSE 0 END, f.size, f.mtime_s, f.mtime_ns,
      f.inode, f.sha256, f.sha1, f.mode, f.uid, f.gid, CAST(f.link_target AS BLOB),
      CASE WHEN f.parity_name IS NULL THEN NULL WHEN f.parity_name = substr(f.path, 2) THEN X'' ELSE CAST(f.parity_name AS BLOB) END,
      f.verified_at, f.gen, iif(f.stamp IS NULL, 1, NULL)
    FROM files f JOIN volume_ids v ON v.uuid = f.volume;
  DROP TABLE files;
  -- dedup and "is there a file of this size": only rows with a SHA-256 (no symlinks, folders,
  -- migrated rows), by the first 8 bytes of it (as selective, a quarter of the bytes; the query
  -- compares the whole hash on the row). No index on gen: the rows a copy that is behind must look
  -- at (catalog/changes.ts) are found by reading the volume's rows, ~0.2 s a million, against
  -- ~60 bytes a file for an index that only the host's catch-up would read.
  CREATE INDEX entries_content ON entries(size, substr(sha256, 1, 8)) WHERE sha256 IS NOT NULL;
  -- migrated rows still waiting for their content to be read: empty once every row has a SHA-256
  CREATE INDEX entries_sha1 ON entries(size, sha1) WHERE sha1 IS NOT NULL;
  CREATE TABLE tombstones_v8 (vid INTEGER NOT NULL, path BLOB NOT NULL, gen INTEGER NOT NULL, PRIMARY KEY (vid, path)) WITHOUT ROWID;
  INSERT INTO tombstones_v8 SELECT v.id, CAST(t.path AS BLOB), t.gen FROM tombstones t JOIN volume_ids v ON v.uuid = t.volume;
  DROP TABLE tombstones;
  ALTER TABLE tombstones_v8 RENAME TO tombstones;
  CREATE INDEX tombstones_gen ON tombstones(vid, gen);
  CREATE TABLE deferred_v8 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    volume TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('RENAME', 'LINK', 'DELETE')),
    path BLOB NOT NULL,
    target BLOB,
    created TEXT NOT NULL,
    queued_by TEXT,
    queued_gen INTEGER
  );
  INSERT INTO deferred_v8 SELECT id, volume, action, CAST(path AS BLOB), CAST(target AS BLOB), created, queued_by, queued_gen FROM deferred;
  -- ids are never given twice (AUTOINCREMENT): the new table goes on from where the old one was
  UPDATE sqlite_sequence SET seq = max(seq, ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'deferred'), 0)) WHERE name = 'deferred_v8';
  INSERT INTO sqlite_sequence (name, seq) SELECT 'deferred_v8', seq FROM sqlite_sequence WHERE name = 'deferred' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'deferred_v8');
  DROP TABLE deferred;
  ALTER TABLE deferred_v8 RENAME TO deferred;
  CREATE INDEX deferred_volume ON deferred(volume, id);
  CREATE VIEW files AS
    SELECT v.uuid AS volume, CAST(e.path AS TEXT) AS path, CASE e.kind WHEN 1 THEN 'symlink' WHEN 2 THEN 'dir' ELSE 'file' END AS kind,
      e.size, e.mtime_s, e.mtime_ns, e.inode, e.sha256, e.sha1, e.mode, e.uid, e.gid, CAST(e.link_target AS TEXT) AS link_target,
      CAST(iif(e.parity_name = X'', substr(e.path, 2), e.parity_name) AS TEXT) AS parity_name, e.verified_at, e.gen
    FROM entries e JOIN volume_ids v ON v.id = e.vid;
  `,
  // Each volume's paths are stored under its root (the README's Performance section has the
  // figures): the folder every path of the volume lies in, stored once in volume_ids.root; a row
  // keeps the rest ('' for the root itself, else '/…'), so byte order within a volume is still
  // full-path order and every range stays one range of the primary key. A backup's paths share a
  // long folder part (the data path and above): ~30 bytes of a ~45-byte path, twice per file (the
  // row and the content index, which carries the primary key). The content index keeps 4 bytes of
  // the SHA-256 (the query compares the whole hash on the row). catalog.ts moves a root when a row
  // outside it comes.
  (db) => {
    db.exec(`ALTER TABLE volume_ids ADD COLUMN root BLOB NOT NULL DEFAULT X''`);
    const ends = db.prepare(
      `SELECT min(path) AS lo, max(path) AS hi FROM (SELECT path FROM entries WHERE vid = @vid UNION ALL SELECT path FROM tombstones WHERE vid = @vid)`,
    );
    const outside = db.prepare(
      `SELECT count(*) FROM (SELECT path FROM entries WHERE vid = @vid UNION ALL SELECT path FROM tombstones WHERE vid = @vid)
       WHERE NOT (path = @root OR substr(path, 1, length(@root) + 1) = CAST(@root || '/' AS BLOB))`,
    ).pluck(true);
    const setRoot = db.prepare(`UPDATE volume_ids SET root = ? WHERE id = ?`);
    for (const vid of db.prepare(`SELECT id FROM volume_ids`).pluck(true).all() as number[]) {
      const { lo, hi } = ends.get({ vid }) as { lo: Buffer | null; hi: Buffer | null };
      if (lo === null || hi === null) continue;
      // Under the folder both ends share; a path between them may still leave it at the last
      // level ('/a/src' and '/a/src-old' lie between '/a/src' and '/a/src/z'): then one level up.
      let root = commonRoot(lo, hi);
      while (root.length > 0 && (outside.get({ vid, root }) as number) > 0) root = parentRoot(root);
      if (root.length > 0) setRoot.run(root, vid);
    }
    db.exec(`
      DROP VIEW files;
      ${entriesTable('entries_v9')}
      INSERT INTO entries_v9 SELECT e.vid, substr(e.path, length(v.root) + 1), e.kind, e.size, e.mtime_s, e.mtime_ns, e.inode, e.sha256, e.sha1,
        e.mode, e.uid, e.gid, e.link_target, e.parity_name, e.verified_at, e.gen, e.recheck
        FROM entries e JOIN volume_ids v ON v.id = e.vid ORDER BY e.vid, e.path;
      DROP TABLE entries;
      ALTER TABLE entries_v9 RENAME TO entries;
      CREATE INDEX entries_content ON entries(size, substr(sha256, 1, 4)) WHERE sha256 IS NOT NULL;
      CREATE INDEX entries_sha1 ON entries(size, sha1) WHERE sha1 IS NOT NULL;
      -- A volume's folders (a folder for ~100 files): every run reads them all, which along the
      -- primary key meant reading every row (~140 ms at a million files, per read).
      CREATE INDEX entries_dirs ON entries(vid, path) WHERE kind = 2;
      CREATE TABLE tombstones_v9 (vid INTEGER NOT NULL, path BLOB NOT NULL, gen INTEGER NOT NULL, PRIMARY KEY (vid, path)) WITHOUT ROWID;
      INSERT INTO tombstones_v9 SELECT t.vid, substr(t.path, length(v.root) + 1), t.gen FROM tombstones t JOIN volume_ids v ON v.id = t.vid ORDER BY t.vid, t.path;
      DROP TABLE tombstones;
      ALTER TABLE tombstones_v9 RENAME TO tombstones;
      CREATE INDEX tombstones_gen ON tombstones(vid, gen);
      CREATE VIEW files AS
        SELECT v.uuid AS volume, CAST(v.root || e.path AS TEXT) AS path, CASE e.kind WHEN 1 THEN 'symlink' WHEN 2 THEN 'dir' ELSE 'file' END AS kind,
          e.size, e.mtime_s, e.mtime_ns, e.inode, e.sha256, e.sha1, e.mode, e.uid, e.gid, CAST(e.link_target AS TEXT) AS link_target,
          CAST(iif(e.parity_name = X'', substr(CAST(v.root || e.path AS BLOB), 2), e.parity_name) AS TEXT) AS parity_name, e.verified_at, e.gen
        FROM entries e JOIN volume_ids v ON v.id = e.vid;
    `);
  },
  // Schema 10: the folder rows' index carries every column a folder row is read with (a covering
  // index), so reading a volume's folders (every run, in both catalogs) no longer looks each one
  // up in the rows table: about half of that read's ~45 ms a catalog at 200,000 files. Folders
  // are ~1% of the rows: ~0.5 bytes a file.
  `DROP INDEX entries_dirs;
   CREATE INDEX entries_dirs ON entries(vid, path, kind, size, mtime_s, mtime_ns, inode, sha256, sha1, mode, uid, gid, link_target, parity_name, verified_at) WHERE kind = 2;`,
];

type StampSource = [string, string, 'file' | 'symlink' | 'dir', number, number, number, string | null, number, number, number, string | null];

export const SCHEMA_VERSION = migrations.length;

export class CatalogVersionError extends Error {}

/** Brings a catalog up to the current schema; refuses one written by a newer Blaine. Returns the schema it had. */
export function migrate(db: Database.Database, file: string): number {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new CatalogVersionError(
      `${file} was written by a newer Blaine (schema ${version}, this one knows ${SCHEMA_VERSION}); upgrade Blaine`,
    );
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      const step = migrations[v]!;
      if (typeof step === 'string') db.exec(step);
      else step(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return version;
}

/** The last schema that rewrites every row (8: volume ids, names as bytes; 9: paths under a volume root): a catalog from before it says so. */
export const LEAN_SCHEMA = 9;
