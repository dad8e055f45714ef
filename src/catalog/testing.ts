import Database from 'better-sqlite3';
import { FULL_PATH, STAMP_SQL } from './rows.js';

/**
 * Takes a catalog back to schema 5 (content known by SHA-1, no list of forgotten volumes, deferred
 * actions without the run that queued them), for migration tests: each file's row gets the SHA-1
 * `sha1Of` gives for its path (none by default). Real catalogs of the last release (schema 4): test/fixtures/sha1-linked.
 */
export function downgradeTo5(raw: Database.Database, sha1Of: (path: string) => string | null = () => null): void {
  downgradeTo7(raw);
  const set = raw.prepare('UPDATE files SET sha1 = ? WHERE path = ?');
  for (const p of raw.prepare(`SELECT path FROM files WHERE kind = 'file'`).pluck(true).all() as string[]) set.run(sha1Of(p), p);
  raw.exec(`
    DROP TABLE forgotten_volumes;
    DROP INDEX files_sha1; DROP INDEX files_content; ALTER TABLE files DROP COLUMN sha256;
    CREATE INDEX files_content ON files(size, sha1);
    ALTER TABLE deferred DROP COLUMN queued_by; ALTER TABLE deferred DROP COLUMN queued_gen;
  `);
  raw.pragma('user_version = 5');
}

/** Takes a catalog back to schema 3 (before per-row generations and tombstones), for migration tests. */
export function downgradeTo3(raw: Database.Database): void {
  downgradeTo5(raw);
  raw.exec(`
    DROP TABLE disk_health;
    DROP INDEX files_gen; ALTER TABLE files DROP COLUMN gen;
    DROP TABLE tombstones;
    DELETE FROM meta WHERE key LIKE 'changes-from:%';
  `);
  raw.pragma('user_version = 3');
}

/**
 * For tests that change a row with raw SQL on `entries`: the row's full path (its volume's root
 * and what the row stores, schema 9), and the stored form of a full path bound as `param`.
 */
export const ROW_FULL_PATH = `CAST((SELECT root FROM volume_ids WHERE id = entries.vid) || entries.path AS BLOB)`;
export const storedForRow = (param: string) => `substr(${param}, length((SELECT root FROM volume_ids WHERE id = entries.vid)) + 1)`;

/** The SQLite connection of an open catalog, for tests that look at or break what lies under the API. */
export { connectionOf as rawConnection } from './handle.js';

/**
 * Takes a catalog (of schema 9) back to schema 7 (one `files` table keyed by volume UUID and path text, a stored
 * quick-check stamp, the path index), for migration tests; names that are not UTF-8 do not survive.
 */
export function downgradeTo7(raw: Database.Database): void {
  if ((raw.pragma('user_version', { simple: true }) as number) < 8) return;
  raw.exec(`
    DROP VIEW files;
    CREATE TABLE files (
      volume TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, size INTEGER NOT NULL, mtime_s INTEGER NOT NULL,
      mtime_ns INTEGER NOT NULL, inode TEXT, sha1 TEXT, mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
      link_target TEXT, parity_name TEXT, verified_at INTEGER, stamp TEXT, gen INTEGER NOT NULL DEFAULT 0, sha256 BLOB,
      PRIMARY KEY (volume, path)
    ) WITHOUT ROWID;
    INSERT INTO files SELECT v.uuid, CAST(v.root || e.path AS TEXT), CASE e.kind WHEN 1 THEN 'symlink' ELSE 'file' END, e.size, e.mtime_s, e.mtime_ns,
      e.inode, e.sha1, e.mode, e.uid, e.gid, CAST(e.link_target AS TEXT), CAST(iif(e.parity_name = X'', substr(${FULL_PATH}, 2), e.parity_name) AS TEXT),
      e.verified_at, iif(e.recheck, NULL, ${STAMP_SQL}), e.gen, e.sha256
    FROM entries e JOIN volume_ids v ON v.id = e.vid WHERE e.kind != 2;
    DROP INDEX entries_content; DROP INDEX entries_sha1; DROP TABLE entries;
    CREATE INDEX files_path ON files(path);
    CREATE INDEX files_gen ON files(volume, gen);
    CREATE INDEX files_content ON files(size, sha256);
    CREATE INDEX files_sha1 ON files(size, sha1) WHERE sha1 IS NOT NULL;
    CREATE TABLE tombstones_v7 (volume TEXT NOT NULL, path TEXT NOT NULL, gen INTEGER NOT NULL, PRIMARY KEY (volume, path)) WITHOUT ROWID;
    INSERT INTO tombstones_v7 SELECT v.uuid, CAST(v.root || t.path AS TEXT), t.gen FROM tombstones t JOIN volume_ids v ON v.id = t.vid;
    DROP TABLE tombstones;
    ALTER TABLE tombstones_v7 RENAME TO tombstones;
    CREATE INDEX tombstones_gen ON tombstones(volume, gen);
    CREATE TABLE deferred_v7 (
      id INTEGER PRIMARY KEY AUTOINCREMENT, volume TEXT NOT NULL, action TEXT NOT NULL CHECK (action IN ('RENAME', 'LINK', 'DELETE')),
      path TEXT NOT NULL, target TEXT, created TEXT NOT NULL, queued_by TEXT, queued_gen INTEGER
    );
    INSERT INTO deferred_v7 SELECT id, volume, action, CAST(path AS TEXT), CAST(target AS TEXT), created, queued_by, queued_gen FROM deferred;
    DROP TABLE deferred;
    ALTER TABLE deferred_v7 RENAME TO deferred;
    CREATE INDEX deferred_volume ON deferred(volume, id);
    DROP TABLE volume_ids;
  `);
  raw.pragma('user_version = 7');
}

/** What a counted stretch of work ran: how many times each SQL statement was run, by its text. */
export interface StatementTally {
  counts(): Map<string, number>;
  /** The same, for statements run outside a transaction: each takes and drops the catalog's read lock on its own. */
  alone(): Map<string, number>;
  stop(): void;
}

/**
 * Counts every statement run on any catalog until `stop` (run, get, all and iterate each count
 * once): a test of per-file cost asks which statements grow with the number of files and how
 * each of those reads its rows (queryPlan), with no clock involved.
 */
export function tallyStatements(): StatementTally {
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, (...args: unknown[]) => unknown>;
  probe.close();
  const counts = new Map<string, number>();
  const alone = new Map<string, number>();
  const originals = (['run', 'get', 'all', 'iterate'] as const).map((name) => [name, proto[name]!] as const);
  for (const [name, original] of originals) {
    proto[name] = function (this: { source: string; database: Database.Database }, ...args: unknown[]) {
      counts.set(this.source, (counts.get(this.source) ?? 0) + 1);
      if (!this.database.inTransaction) alone.set(this.source, (alone.get(this.source) ?? 0) + 1);
      return original.apply(this, args);
    };
  }
  return {
    counts: () => new Map(counts),
    alone: () => new Map(alone),
    stop: () => {
      for (const [name, original] of originals) proto[name] = original;
    },
  };
}

/** SQLite's plan for `sql` on this catalog (EXPLAIN QUERY PLAN), one line per step. */
export function queryPlan(raw: Database.Database, sql: string): string[] {
  const plan = raw.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const named = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1]!))];
  // A statement takes named or positional parameters, not both; their values do not change the plan.
  const rows = named.length > 0 ? plan.all(Object.fromEntries(named.map((n) => [n, Buffer.from('/x')]))) : plan.all(...(sql.replace(/'[^']*'/g, '').match(/\?/g) ?? []).map(() => 1));
  return (rows as Array<{ detail: string }>).map((r) => r.detail);
}
