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
import { queryPlan, rawConnection } from './testing.js';
import { prepareStatements, prepareWrites } from './statements.js';

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
      raw.prepare('SELECT v.uuid AS volume, CAST(v.root || t.path AS TEXT) AS path, t.gen FROM tombstones t JOIN volume_ids v ON v.id = t.vid ORDER BY 1, 2').all(),
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

const fixtures8 = path.join(repoRoot, 'test', 'fixtures', 'schema8');

/** Every row (files and folders), deferred action and tombstone of a catalog of schema 8, read with that schema's SQL; names from their bytes. */
function schema8State(file: string) {
  const d = new Database(file, { readonly: true });
  try {
    assert.equal(d.pragma('user_version', { simple: true }), 8);
    const rows = d
      .prepare(`SELECT v.uuid, e.path, e.kind, e.size, e.mtime_s, e.mtime_ns, e.inode, iif(e.sha256 IS NULL, NULL, lower(hex(e.sha256))), e.sha1, e.mode, e.uid, e.gid,
                  e.link_target, iif(e.parity_name = X'', substr(e.path, 2), e.parity_name), e.verified_at, e.recheck
                FROM entries e JOIN volume_ids v ON v.id = e.vid ORDER BY v.uuid, e.path`)
      .raw(true)
      .all() as unknown[][];
    const entries = rows.map((r) => ({
      entry: {
        volume: r[0] as string, path: bytesToName(r[1] as Buffer), kind: (['file', 'symlink', 'dir'] as const)[r[2] as number]!, size: r[3] as number,
        mtimeSec: r[4] as number, mtimeNsec: r[5] as number, inode: r[6] as string | null, sha256: r[7] as string | null, mode: r[9] as number,
        uid: r[10] as number, gid: r[11] as number, linkTarget: r[12] === null ? null : bytesToName(r[12] as Buffer),
        parityName: r[13] === null ? null : bytesToName(r[13] as Buffer), verifiedAt: r[14] as number | null, legacySha1: r[8] as string | null,
      } satisfies CatalogEntry,
      recheck: r[15] !== null,
    }));
    return {
      entries,
      deferred: (d.prepare('SELECT * FROM deferred ORDER BY id').all() as Array<Record<string, unknown>>).map((q) => ({
        ...q, path: bytesToName(q.path as Buffer), target: q.target === null ? null : bytesToName(q.target as Buffer),
      })),
      tombstones: (d.prepare('SELECT v.uuid, t.path, t.gen FROM tombstones t JOIN volume_ids v ON v.id = t.vid ORDER BY 1, 2').raw(true).all() as [string, Buffer, number][])
        .map(([volume, p, gen]) => ({ volume, path: bytesToName(p), gen })),
      volumes: (d.prepare('SELECT uuid FROM volumes ORDER BY uuid').pluck(true).all() as string[]),
    };
  } finally {
    d.close();
  }
}

for (const name of ['host', 'a', 'b', 'e']) {
  test(`the schema-8 catalog ${name}.sqlite migrates once to paths under a volume root, keeping every row, folder, deferred action and tombstone`, (t) => {
    const file = path.join(scratchDir(t, 'blaine-lean-'), 'catalog.sqlite');
    fs.copyFileSync(path.join(fixtures8, `${name}.sqlite`), file);
    const before = schema8State(file);
    assert.ok(before.entries.some((r) => r.entry.kind === 'dir'), 'the fixture holds folders');
    const original = fs.readFileSync(file);
    const state = (cat: Catalog) => before.volumes.map((v) => ({ files: cat.entriesOfVolume(v), dirs: cat.dirsOf(v) }));

    const reader = Catalog.open(file, { readonly: true });
    const asRead = state(reader);
    reader.close();
    assert.ok(fs.readFileSync(file).equals(original), 'opening read-only changed the file');

    const cat = Catalog.open(file);
    assert.equal(rawConnection(cat).pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(rawConnection(cat).pragma('freelist_count', { simple: true }), 0, 'the pages of the rows before the migration are given back');
    assert.deepEqual(state(cat), asRead, 'read-only reads what the migration writes');
    const want = (kind: 'dirs' | 'files') => before.volumes.map((v) => before.entries.filter((r) => r.entry.volume === v && (r.entry.kind === 'dir') === (kind === 'dirs')).map((r) => r.entry));
    assert.deepEqual(state(cat).map((s) => s.files), want('files'));
    assert.deepEqual(state(cat).map((s) => s.dirs), want('dirs'));
    // Rows are stored under their volume's root, not whole.
    const raw = rawConnection(cat);
    const roots = raw.prepare('SELECT CAST(root AS TEXT) FROM volume_ids v WHERE EXISTS (SELECT 1 FROM entries WHERE vid = v.id)').pluck(true).all() as string[];
    assert.ok(roots.length > 0 && roots.every((r) => r.startsWith('/tmp/blaine-schema8-fixture')), JSON.stringify(roots));
    assert.deepEqual(cat.deferred().map((q) => ({ id: q.id, volume: q.volume, action: q.action, path: q.path, target: q.target, created: q.created, queued_by: q.queuedBy, queued_gen: q.queuedGen })), before.deferred);
    assert.deepEqual(
      (raw.prepare('SELECT v.uuid, CAST(v.root || t.path AS BLOB), t.gen FROM tombstones t JOIN volume_ids v ON v.id = t.vid ORDER BY 1, 2').raw(true).all() as [string, Buffer, number][])
        .map(([volume, p, gen]) => ({ volume, path: bytesToName(p), gen })),
      before.tombstones,
    );
    // The quick check sees every file as before: a rescan after the migration finds nothing changed.
    for (const v of before.volumes) {
      const files = before.entries.filter((r) => r.entry.volume === v && r.entry.kind !== 'dir').sort((x, y) => byBytes(x.entry.path, y.entry.path));
      assert.deepEqual(cat.quickRows(v, '/', '0'), files.map((r) => [r.entry.path, r.recheck ? null : stampOf(r.entry)]));
    }
    cat.close();
    const again = fs.readFileSync(file);
    Catalog.open(file).close();
    assert.ok(fs.readFileSync(file).equals(again), 'migrated once');
  });
}

test('a path outside its volume\'s root moves the root up; rows, tombstones, lookups, ranges and the quick check see full paths throughout', () => {
  const cat = Catalog.memory();
  const raw = rawConnection(cat);
  const rootOf = () => bytesToName(raw.prepare(`SELECT root FROM volume_ids WHERE uuid = 'v1'`).pluck(true).get() as Buffer);
  cat.putVolume({ uuid: 'v1', label: 'V', encrypted: false, created: '2026-01-01', generation: 1 });
  trackChangesFrom(cat, 'v1');
  // A row whose new name (root part + stored part) is another row's stored name: moving in place would collide.
  const first = ['/a/b/b/x', '/a/b/b/b/x'].map((p, i) => entry(p, { size: 10 + i, sha256: String(i).repeat(64) }));
  cat.transaction(() => first.forEach((e) => cat.put(e)));
  assert.equal(rootOf(), '/a/b/b', 'the first row\'s folder');
  cat.put(entry('/a/b/c'));
  assert.equal(rootOf(), '/a/b', '/x becomes /b/x, the name /b/x had before it moved');
  cat.remove('v1', '/a/b/c');
  const later = [entry('/a/b-old/y', { size: 20 }), entry('/a/b', { kind: 'dir', size: 0, sha256: null }), entry('/z', { size: 21, sha256: 'c'.repeat(64) })];
  cat.transaction(() => later.forEach((e) => cat.put(e)));
  assert.equal(rootOf(), '', 'no folder holds /a/b/x and /z both');
  const files = [...first.slice(0, 2), later[0]!, later[2]!];
  for (const e of files) assert.deepEqual(cat.get('v1', e.path), e);
  assert.equal(cat.get('v1', '/a/b/c'), undefined);
  assert.deepEqual(cat.entriesUnder('/a/b').map((e) => e.path), ['/a/b/b/b/x', '/a/b/b/x'], 'the range of a folder leaves its sibling /a/b-old out');
  assert.deepEqual(cat.quickRows('v1', '/', '0').map(([p]) => p), files.map((e) => e.path).sort(byBytes));
  assert.deepEqual(cat.dirRowsAt('/a/b').map((e) => e.path), ['/a/b']);
  assert.deepEqual(cat.findContent(21, 'c'.repeat(64)).map((e) => e.path), ['/z']);
  assert.ok(cat.holdsPath('/a/b') && cat.holdsNonDirAt('/a/b/b/x') && !cat.holdsNonDirAt('/a/b'));
  assert.deepEqual(cat.pathSpan(), { lo: '/a/b', hi: '/z' });
  assert.deepEqual(
    raw.prepare('SELECT CAST(v.root || t.path AS TEXT) FROM tombstones t JOIN volume_ids v ON v.id = t.vid').pluck(true).all(),
    ['/a/b/c'],
    'the tombstone moved with the rows',
  );
  // A root moved inside a transaction that is then rolled back is forgotten with it.
  const other = Catalog.memory();
  other.transaction(() => other.put(entry('/p/q/r')));
  assert.throws(() => other.transaction(() => {
    other.put(entry('/s/t'));
    throw new Error('rolled back');
  }));
  other.put(entry('/p/q/s'));
  assert.deepEqual(other.entriesOfVolume('v1').map((e) => e.path), ['/p/q/r', '/p/q/s']);
  other.close();
  cat.close();
});

test('two connections to one catalog: a root one of them moved is the one the other stores under', (t) => {
  const file = path.join(scratchDir(t, 'blaine-lean-'), 'catalog.sqlite');
  const a = Catalog.open(file, { create: true });
  const b = Catalog.open(file);
  a.put(entry('/p/q/r'));
  b.put(entry('/p/q/s'));
  a.put(entry('/x/y'));
  // b remembers the root /p/q; the table's is '' now.
  b.put(entry('/p/q/t'));
  b.remove('v1', '/p/q/s');
  a.close();
  b.close();
  const c = Catalog.open(file);
  assert.deepEqual(c.entriesOfVolume('v1').map((e) => e.path), ['/p/q/r', '/p/q/t', '/x/y']);
  c.close();
});

test('a catalog of the bench\'s tree takes at most 160 bytes a file, indexes included (issue 21)', (t) => {
  // The shape of `bench scan`'s tree: /tmp/blaine-bench-XXXXXX/src/dNNNN/fNNN.dat, 100 a folder, 0-4 KiB, as a first backup writes them.
  const file = path.join(scratchDir(t, 'blaine-lean-'), 'catalog.sqlite');
  const cat = Catalog.open(file, { create: true });
  cat.putVolume({ uuid: 'v1', label: 'V', encrypted: false, created: '2026-01-01', generation: 1 });
  const files = 20_000;
  const root = '/tmp/blaine-bench-Ab3dEf/src';
  cat.transaction(() => {
    for (let i = 0; i < files; i++) {
      const p = `${root}/d${String(Math.floor(i / 100)).padStart(4, '0')}/f${String(i % 100).padStart(3, '0')}.dat`;
      const sha256 = crypto.createHash('sha256').update(p).digest('hex');
      cat.put(entry(p, { size: (i * 7919) % 4097, inode: `65024:${3_000_000 + i}`, mtimeSec: 1_796_673_322 + (i % 9), mtimeNsec: (i * 104_729) % 1e9, mode: 0o100644, uid: 0, gid: 0, sha256 }));
    }
  });
  cat.close();
  const bytes = fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
  assert.ok(bytes / files <= 160, `${(bytes / files).toFixed(1)} bytes a file`);
});

test('no statement prepared per catalog reads the whole rows table, and none asked per file reads a whole volume: lookups go down a key', () => {
  // Schema 8's folder lookup scanned every row; the lookup of migrated twins walked the volume's rows for every file copied.
  const cat = Catalog.memory();
  const raw = rawConnection(cat);
  const perFile = new Set(['dirsAt', 'get', 'content', 'twins', 'hasSize', 'hasSizeElsewhere', 'delete', 'legacyTwins', 'contentRead', 'upsert', 'tombstone', 'madeParity']);
  const statements = Object.entries({ ...prepareStatements(raw), ...prepareWrites(raw) });
  const found = statements.flatMap(([name, st]) => {
    const steps = queryPlan(raw, st.source);
    // Scanning volume_ids (a row per volume) is fine; scanning entries or tombstones is not, nor a whole volume per file.
    return steps
      .filter((s) => /^SCAN (e|g|t|entries|tombstones)\b/.test(s) || (perFile.has(name) && /USING PRIMARY KEY \(vid=\?\)$/.test(s)))
      .map((s) => `${name}: ${s}`);
  });
  assert.ok(statements.length > 20 && statements.some(([name]) => name === 'legacyTwins'));
  assert.deepEqual(found, []);
  // Every run reads a volume's folders in both catalogs: from their index alone (schema 10).
  assert.ok(
    queryPlan(raw, prepareStatements(raw).dirs.source).some((step) => /USING COVERING INDEX entries_dirs/.test(step)),
    queryPlan(raw, prepareStatements(raw).dirs.source).join('\n'),
  );
  cat.close();
});

test('random puts and removes over two volumes, roots moving as they go: every lookup and range answers as a plain map of full paths does', () => {
  // A fixed seed: paths from a small alphabet with '/', '-' and '0' (the bytes around '/' in byte order).
  let seed = 12345;
  const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) % n;
  const parts = ['a', 'b', 'a-', 'a0', 'é', bytesToName(Buffer.from([0xff]))];
  const randomPath = () => Array.from({ length: 1 + rnd(4) }, () => parts[rnd(parts.length)]).map((x) => `/${x}`).join('');
  const cat = Catalog.memory();
  const roots = () => (rawConnection(cat).prepare('SELECT root FROM volume_ids ORDER BY uuid').pluck(true).all() as Buffer[]).map(bytesToName);
  const model = new Map<string, CatalogEntry>();
  const key = (v: string, p: string) => `${v}\0${p}`;
  for (let step = 0; step < 600; step++) {
    const volume = rnd(2) ? 'v1' : 'v2';
    if (step === 10) assert.ok(roots().includes('/deep/x'), 'a volume began under /deep/x');
    const p = step < 10 ? `/deep/x/y${step}` : randomPath();
    if (rnd(4) === 0) {
      cat.remove(volume, p);
      model.delete(key(volume, p));
    } else {
      const e = entry(p, { volume, size: step });
      cat.transaction(() => cat.put(e));
      model.set(key(volume, p), e);
    }
  }
  assert.deepEqual(roots(), ['', ''], 'and moved up to no folder at all');
  for (const volume of ['v1', 'v2']) {
    const mine = [...model.values()].filter((e) => e.volume === volume).sort((x, y) => byBytes(x.path, y.path));
    assert.deepEqual(cat.entriesOfVolume(volume), mine);
    for (const dir of ['/a', '/a-', '/a/b', '/é', '/deep']) {
      const under = mine.filter((e) => e.path.startsWith(`${dir}/`));
      assert.deepEqual(cat.leanEntriesUnder(volume, dir).map((e) => e.path), under.map((e) => e.path), `${volume} under ${dir}`);
      assert.deepEqual(cat.quickRows(volume, `${dir}/`, `${dir}0`).map(([p]) => p), under.map((e) => e.path));
    }
    for (let i = 0; i < 50; i++) {
      const p = randomPath();
      assert.deepEqual(cat.get(volume, p), model.get(key(volume, p)), p);
    }
  }
  cat.close();
});
