import type Database from 'better-sqlite3';

/** Takes a catalog back to schema 3 (before per-row generations and tombstones), for migration tests. */
export function downgradeTo3(raw: Database.Database): void {
  raw.exec(`
    DROP TABLE IF EXISTS disk_health;
    DROP INDEX files_gen; ALTER TABLE files DROP COLUMN gen;
    DROP TABLE tombstones;
    DELETE FROM meta WHERE key LIKE 'changes-from:%';
    ALTER TABLE deferred DROP COLUMN queued_by; ALTER TABLE deferred DROP COLUMN queued_gen;
  `);
  raw.pragma('user_version = 3');
}
