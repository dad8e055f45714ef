import type Database from 'better-sqlite3';

/**
 * Takes a catalog back to schema 5 (content known by SHA-1, no list of forgotten volumes), for
 * migration tests; rows written since lose their hash. Real schema-5 catalogs: test/fixtures/sha1-linked.
 */
function downgradeTo5(raw: Database.Database): void {
  raw.exec(`
    DROP TABLE forgotten_volumes;
    DROP INDEX files_sha1; DROP INDEX files_content; ALTER TABLE files DROP COLUMN sha256;
    CREATE INDEX files_content ON files(size, sha1);
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
