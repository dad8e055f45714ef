import type Database from 'better-sqlite3';

/**
 * Takes a catalog back to schema 5 (content known by SHA-1, no list of forgotten volumes, deferred
 * actions without the run that queued them), for migration tests: each file's row gets the SHA-1
 * `sha1Of` gives for its path (none by default). Real catalogs of the last release (schema 4): test/fixtures/sha1-linked.
 */
export function downgradeTo5(raw: Database.Database, sha1Of: (path: string) => string | null = () => null): void {
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

/** The SQLite connection of an open catalog, for tests that look at or break what lies under the API. */
export { connectionOf as rawConnection } from './handle.js';
