import type Database from 'better-sqlite3';

/**
 * The SQLite connection behind each open Catalog, for the modules of src/catalog/ only: outside
 * this folder a catalog is used through its operations (one owner for the catalogs' SQL), and a
 * test in catalog/ownership.test.ts fails if SQL or a connection shows up anywhere else. A map
 * rather than a public field, and its own module, so that changes.ts, forget.ts and the others
 * can reach it without importing catalog.ts (no import circle inside catalog/).
 */
const connections = new WeakMap<object, Database.Database>();

export function registerConnection(owner: object, db: Database.Database): void {
  connections.set(owner, db);
}

export function connectionOf(owner: object): Database.Database {
  const db = connections.get(owner);
  if (!db) throw new Error('not an open catalog');
  return db;
}
