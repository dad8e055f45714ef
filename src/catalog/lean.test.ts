/**
 * The lean layout (schema 8): names and symlink targets are bytes, folders are rows,
 * and a catalog of schema 7 written by the code of that time (test/fixtures/schema7) migrates
 * with every row, deferred action and tombstone kept; read-only it is read through a private
 * migrated copy and left as it was.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { repoRoot, scratchDir } from '../../test/helpers.js';
import { Catalog, CatalogError } from './catalog.js';
import type { CatalogEntry } from './entry.js';
import { SCHEMA_VERSION } from './schema.js';
import { stamp } from './stamp.js';
import { bytesToName, nameToBytes } from '../fsx/name-bytes.js';
import { differencesSince, trackChangesFrom } from './changes.js';
import { rawConnection } from './testing.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'schema7');

function entry(p: string, over: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    path: p, volume: 'v1', kind: 'file', size: 5, mtimeSec: 1_700_000_000, mtimeNsec: 123_456_789, inode: '2049:77',
    sha256: 'b'.repeat(64), mode: 0o100644, uid: 1000, gid: 1000, linkTarget: null, parityName: null, verifiedAt: null, legacySha1: null, ...over,
  };
}
const stampOf = (e: CatalogEntry) => stamp(e.kind, e.size, e.mtimeSec, e.mtimeNsec, e.inode, e.mode, e.uid, e.gid, e.linkTarget);
const byBytes = (a: string, b: string) => Buffer.compare(nameToBytes(a), nameToBytes(b));

test('names and symlink targets that are not UTF-8, and a 255-byte name, come back as they went in, in byte order', () => {
  const cat = Catalog.memory();
  // Every byte 0x80..0xFF alone (none is UTF-8 by itself), a valid multi-byte name beside them, a 255-byte name.
  const odd = Array.from({ length: 128 }, (_, i) => `/lib/${bytesToName(Buffer.from([0x61, 0x80 + i, 0x62]))}`);
  const long = `/lib/${'é'.repeat(127)}x`;
  assert.equal(nameToBytes(path.basename(long)).length, 255);
  const target = bytesToName(Buffer.from([0x2e, 0x2e, 0x2f, 0xff, 0xfe, 0x80]));
  const all = [
    ...odd.map((p) => entry(p, { parityName: p.slice(1) })),
    entry('/lib/aé'),
    entry(long, { parityName: 'elsewhere/x' }),
    entry(`/lib/${bytesToName(Buffer.from([0xc3]))}link`, { kind: 'symlink', sha256: null, size: 6, linkTarget: target }),
  ];
  cat.transaction(() => all.forEach((e) => cat.put(e)));
  for (const e of all) assert.deepEqual(cat.get('v1', e.path), e, JSON.stringify(e.path));
  const sorted = all.map((e) => e.path).sort(byBytes);
  assert.deepEqual(cat.entriesUnder('/lib').map((e) => e.path), sorted, 'entriesUnder: byte order');
  assert.deepEqual(cat.leanEntriesUnder('v1', '/lib').map((e) => [e.path, e.linkTarget]), sorted.map((p) => [p, all.find((e) => e.path === p)!.linkTarget]));
  assert.equal(cat.quickText('v1', '/lib/', '/lib0'), sorted.map((p) => `${p}\0${stampOf(all.find((e) => e.path === p)!)}`).join('\0'));
  assert.deepEqual(cat.matching(['/lib/a*b']).map((e) => e.path), odd.slice().sort(byBytes), 'a glob matches names by their bytes');
  // Removing leaves a tombstone under the same bytes: a copy that is behind learns which name went.
  const copy = Catalog.memory();
  copy.transaction(() => all.forEach((e) => copy.put(e)));
  cat.putVolume({ uuid: 'v1', label: 'V', encrypted: false, created: '2026-01-01', generation: 1 });
  trackChangesFrom(cat, 'v1');
  cat.bumpGeneration('v1');
  cat.remove('v1', odd[5]!);
  assert.deepEqual(differencesSince(copy, cat, 'v1', 1), { mine: [copy.get('v1', odd[5]!)!], theirs: [] });
  cat.close();
  copy.close();
});

test('a folder is a row of kind dir: it round-trips through put and the folder queries, and the file queries and counts leave it out', () => {
  const cat = Catalog.memory();
  const dir = entry('/lib/photos', { kind: 'dir', size: 0, sha256: null, mode: 0o40750, uid: 7, gid: 8, inode: null });
  const file = entry('/lib/photos/a.jpg', { size: 100 });
  cat.transaction(() => [dir, file].forEach((e) => cat.put(e)));
  assert.deepEqual(cat.dirRowsAt('/lib/photos'), [dir]);
  assert.deepEqual(cat.dirsOf('v1', '/lib'), [dir]);
  assert.equal(cat.get('v1', '/lib/photos'), undefined, 'get is for files and symlinks');
  assert.deepEqual(cat.entriesUnder('/lib').map((e) => [e.path, e.kind]), [['/lib/photos/a.jpg', 'file']]);
  assert.deepEqual(cat.leanEntriesUnder('v1', '/lib').map((e) => e.kind), ['file']);
  assert.deepEqual(cat.volumeStats('v1'), { files: 1, bytes: 100 }, 'the folder is not a file');
  assert.equal(cat.holdsNonDirAt('/lib/photos'), false);
  assert.equal(cat.holdsPath('/lib/photos'), true);
  cat.close();
});

/** Every row, deferred action and tombstone of a catalog of schema 7, read with that schema's SQL. */
function schema7State(file: string) {
  const d = new Database(file, { readonly: true });
  try {
    assert.equal(d.pragma('user_version', { simple: true }), 7);
    return {
      files: d
        .prepare(`SELECT volume, path, kind, size, mtime_s, mtime_ns, inode, iif(sha256 IS NULL, NULL, lower(hex(sha256))) AS sha256, sha1, mode, uid, gid, link_target, parity_name, verified_at
                  FROM files ORDER BY volume, path`)
        .all() as Array<Record<string, unknown>>,
      deferred: d.prepare('SELECT id, volume, action, path, target, created, queued_by, queued_gen FROM deferred ORDER BY id').all(),
      tombstones: d.prepare('SELECT volume, path, gen FROM tombstones ORDER BY volume, path').all(),
      volumes: d.prepare('SELECT * FROM volumes ORDER BY uuid').all(),
    };
  } finally {
    d.close();
  }
}

for (const name of ['host', 'a', 'b', 'e']) {
  test(`the schema-7 catalog ${name}.sqlite migrates once, keeping every row, deferred action and tombstone`, (t) => {
    const file = path.join(scratchDir(t, 'blaine-lean-'), 'catalog.sqlite');
    fs.copyFileSync(path.join(fixtures, `${name}.sqlite`), file);
    const before = schema7State(file);
    assert.ok(before.files.length > 0);
    const original = fs.readFileSync(file);

    // Read-only: a migrated private copy; the file stays as it was.
    const reader = Catalog.open(file, { readonly: true });
    const asRead = before.volumes.map((v) => reader.entriesOfVolume((v as { uuid: string }).uuid));
    reader.close();
    assert.ok(fs.readFileSync(file).equals(original), 'opening read-only changed the file');

    const cat = Catalog.open(file);
    assert.equal(rawConnection(cat).pragma('user_version', { simple: true }), SCHEMA_VERSION);
    const rows = before.volumes.flatMap((v) => cat.entriesOfVolume((v as { uuid: string }).uuid));
    assert.deepEqual(before.volumes.map((v) => cat.entriesOfVolume((v as { uuid: string }).uuid)), asRead, 'read-only reads what the migration writes');
    assert.deepEqual(
      rows.map((e) => ({
        volume: e.volume, path: e.path, kind: e.kind, size: e.size, mtime_s: e.mtimeSec, mtime_ns: e.mtimeNsec, inode: e.inode,
        sha256: e.sha256, sha1: e.legacySha1 ?? null, mode: e.mode, uid: e.uid, gid: e.gid, link_target: e.linkTarget,
        parity_name: e.parityName, verified_at: e.verifiedAt,
      })),
      before.files,
    );
    assert.deepEqual(
      cat.deferred().map((q) => ({ id: q.id, volume: q.volume, action: q.action, path: q.path, target: q.target, created: q.created, queued_by: q.queuedBy, queued_gen: q.queuedGen })),
      before.deferred,
    );
    const raw = rawConnection(cat);
    assert.deepEqual(
      raw.prepare('SELECT v.uuid AS volume, CAST(t.path AS TEXT) AS path, t.gen FROM tombstones t JOIN volume_ids v ON v.id = t.vid ORDER BY 1, 2').all(),
      before.tombstones,
    );
    // The quick check sees every row as schema 7 stored its stamp: a rescan after the migration finds nothing changed.
    const stored = new Database(path.join(fixtures, `${name}.sqlite`), { readonly: true });
    for (const v of before.volumes) {
      const uuid = (v as { uuid: string }).uuid;
      const want = stored.prepare('SELECT path, stamp FROM files WHERE volume = ? ORDER BY path').raw(true).all(uuid);
      assert.deepEqual(cat.quickRows(uuid, '/', '0'), want);
    }
    stored.close();
    // A new queued action does not take an id an earlier one had.
    const maxId = Math.max(0, ...(before.deferred as Array<{ id: number }>).map((q) => q.id));
    cat.defer(rows[0]!.volume, 'DELETE', '/x', null);
    assert.ok(cat.deferred().every((q) => q.path !== '/x' || q.id > maxId));
    cat.close();
    // Once: opening again changes nothing.
    const again = fs.readFileSync(file);
    Catalog.open(file).close();
    assert.equal(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'), crypto.createHash('sha256').update(again).digest('hex'));
  });
}

test('a catalog written by a newer Blaine is refused, read-only too, with the sentence of today', (t) => {
  const file = path.join(scratchDir(t, 'blaine-lean-'), 'catalog.sqlite');
  Catalog.open(file, { create: true }).close();
  const raw = new Database(file);
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  const sentence = `${file} was written by a newer Blaine (schema ${SCHEMA_VERSION + 1}, this one knows ${SCHEMA_VERSION}); upgrade Blaine`;
  assert.throws(() => Catalog.open(file), (e: unknown) => e instanceof CatalogError && e.message === sentence);
  assert.throws(() => Catalog.open(file, { readonly: true }), (e: unknown) => e instanceof CatalogError && e.message === sentence);
});
