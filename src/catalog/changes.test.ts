import test from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import * as path from 'node:path';
import { scratchDir } from '../../test/helpers.js';
import { Catalog } from './catalog.js';
import type { CatalogEntry } from './entry.js';
import { changesKnownFrom, differencesSince, dropTombstones, memoBySize, pruneTombstones, trackChangesFrom } from './changes.js';
import { SCHEMA_VERSION } from './schema.js';
import { downgradeTo3, rawConnection, tallyStatements } from './testing.js';

const V = 'vol-1';

function entry(p: string, over: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    path: p, volume: V, kind: 'file', size: 5, mtimeSec: 1_700_000_000, mtimeNsec: 7, inode: '2049:77',
    sha256: 'a'.repeat(64), mode: 0o100644, uid: 1000, gid: 1000, linkTarget: null, parityName: null, verifiedAt: null, ...over,
  };
}

function setGeneration(cat: Catalog, generation: number): void {
  cat.putVolume({ uuid: V, label: 'L', encrypted: false, created: '2026-01-01', generation });
}

/** A copy's catalog in step with `host` now: the same rows of the volume. */
function copyOf(host: Catalog): Catalog {
  const copy = Catalog.memory();
  copy.transaction(() => {
    setGeneration(copy, host.volume(V)!.generation);
    for (const e of host.entriesOfVolume(V)) copy.put(e);
  });
  return copy;
}

const paths = (d: { mine: CatalogEntry[]; theirs: CatalogEntry[] }) => ({
  mine: d.mine.map((e) => `${e.path}:${e.size}`),
  theirs: d.theirs.map((e) => `${e.path}:${e.size}`),
});

/** A small deterministic generator (xorshift): the same sequence of changes on every run. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test('the rows changed since a generation give the same differences as comparing whole catalogs', () => {
  const random = rng(12345);
  const host = Catalog.memory();
  host.transaction(() => {
    setGeneration(host, 0);
    trackChangesFrom(host, V);
    setGeneration(host, 1);
    for (let i = 0; i < 200; i++) host.put(entry(`/d/${String(i).padStart(3, '0')}`, { size: i }));
  });
  const copies = new Map<number, Catalog>([[1, copyOf(host)]]);
  // Generations of changes: removals, re-adds of removed paths (a tombstone and a row), content
  // and metadata changes, new paths; a copy taken after each generation.
  for (let gen = 2; gen <= 8; gen++) {
    host.transaction(() => {
      setGeneration(host, gen);
      for (let k = 0; k < 30; k++) {
        const p = `/d/${String(Math.floor(random() * 260)).padStart(3, '0')}`;
        const now = host.get(V, p);
        const roll = random();
        if (now && roll < 0.4) host.remove(V, p);
        else if (now && roll < 0.6) host.put({ ...now, mtimeNsec: now.mtimeNsec + 1 });
        else host.put(entry(p, { size: 1000 + gen * 100 + k }));
      }
    });
    copies.set(gen, copyOf(host));
  }
  // Removed and then re-added within the history: tombstone and row both there.
  host.transaction(() => {
    setGeneration(host, 9);
    host.remove(V, '/d/010');
  });
  host.transaction(() => {
    setGeneration(host, 10);
    host.put(entry('/d/010', { size: 4242 }));
  });
  const tombstoned = rawConnection(host).prepare('SELECT count(*) FROM tombstones WHERE vid = (SELECT id FROM volume_ids WHERE uuid = ?)').pluck(true).get(V) as number;
  assert.ok(tombstoned > 10, `removals left tombstones (${tombstoned})`);
  let nonEmpty = 0;
  for (const [gen, copy] of copies) {
    const whole = copy.differences(host, V);
    const since = differencesSince(copy, host, V, gen);
    assert.ok(since, `generation ${gen} is within the history`);
    assert.deepEqual(paths(since), paths(whole), `copy of generation ${gen}`);
    if (whole.mine.length + whole.theirs.length > 0) nonEmpty++;
  }
  assert.equal(nonEmpty, copies.size);
  // The row removed and re-added shows as changed content, not as gone.
  const last = differencesSince(copies.get(8)!, host, V, 8)!;
  assert.deepEqual(last.theirs.filter((e) => e.path === '/d/010').map((e) => e.size), [4242]);
  for (const c of copies.values()) c.close();
  host.close();
});

test('a copy older than the history (or a volume without one) is left to the whole comparison', () => {
  const host = Catalog.memory();
  host.transaction(() => {
    setGeneration(host, 4);
    host.put(entry('/d/a'));
  });
  const copy = copyOf(host);
  assert.equal(differencesSince(copy, host, V, 4), null, 'no history at all');
  host.transaction(() => trackChangesFrom(host, V));
  assert.equal(changesKnownFrom(host, V), 4);
  assert.equal(differencesSince(copy, host, V, 3), null, 'older than the history');
  assert.deepEqual(differencesSince(copy, host, V, 4), { mine: [], theirs: [] });
  // replaceVolume (a disk imported as the truth) starts the history again.
  host.transaction(() => setGeneration(host, 9));
  host.replaceVolume(V, [entry('/d/b')], []);
  assert.equal(changesKnownFrom(host, V), 9);
  assert.equal(differencesSince(copy, host, V, 4), null);
  copy.close();
  host.close();
});

test('tombstones go once every copy of the volume has seen them; a disk catalog keeps none', () => {
  const host = Catalog.memory();
  host.transaction(() => {
    setGeneration(host, 1);
    host.put(entry('/d/a'));
    host.put(entry('/d/b'));
    host.put(entry('/d/c'));
    host.remove(V, '/d/nothing-there'); // no row: no tombstone
  });
  host.transaction(() => {
    setGeneration(host, 2);
    host.remove(V, '/d/a');
  });
  host.transaction(() => {
    setGeneration(host, 3);
    host.remove(V, '/d/b');
  });
  const copy = (name: string, generation: number) =>
    host.putCopy({ copy: name, volume: V, label: name, generation, lastSync: null, freeBytes: null, files: 0, bytes: 0 });
  const left = () => rawConnection(host).prepare(`SELECT CAST(v.root || t.path AS TEXT) || ':' || t.gen FROM tombstones t JOIN volume_ids v ON v.id = t.vid ORDER BY 1`).pluck(true).all();
  assert.deepEqual(left(), ['/d/a:2', '/d/b:3']);
  copy('A', 3);
  copy('B', 1);
  pruneTombstones(host, V);
  assert.deepEqual(left(), ['/d/a:2', '/d/b:3'], 'B (generation 1) has not seen either');
  copy('B', 2);
  pruneTombstones(host, V);
  assert.deepEqual(left(), ['/d/b:3']);
  dropTombstones(host);
  assert.deepEqual(left(), []);
  host.close();
});

test('a catalog of schema 3 migrates: rows kept, history from the generation each volume has now', (t) => {
  const file = path.join(scratchDir(t, 'blaine-catalog-'), 'old.sqlite');
  const cat = Catalog.open(file, { create: true });
  cat.transaction(() => {
    setGeneration(cat, 6);
    cat.put(entry('/d/one'));
    cat.put(entry('/d/two', { size: 9 }));
  });
  cat.close();
  const raw = new Database(file);
  downgradeTo3(raw);
  raw.close();

  const again = Catalog.open(file);
  assert.equal(rawConnection(again).pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.deepEqual(again.entriesOfVolume(V).map((e) => `${e.path}:${e.size}`), ['/d/one:5', '/d/two:9']);
  assert.equal(changesKnownFrom(again, V), 6);
  const copy = copyOf(again);
  // The next run writes at a newer generation: a copy in step at 6 is caught up from the changes.
  again.transaction(() => {
    setGeneration(again, 7);
    again.remove(V, '/d/one');
    again.put(entry('/d/three'));
  });
  assert.deepEqual(paths(differencesSince(copy, again, V, 6)!), { mine: ['/d/one:5'], theirs: ['/d/three:5'] });
  assert.deepEqual(paths(differencesSince(copy, again, V, 6)!), paths(copy.differences(again, V)));
  copy.close();
  again.close();
});

test('memoBySize asks once per size and keeps the first answer while the run adds rows', () => {
  const asked: number[] = [];
  const stored = new Set([10]);
  const had = memoBySize((size) => {
    asked.push(size);
    return stored.has(size);
  });
  assert.equal(had(10), true);
  assert.equal(had(20), false);
  stored.add(20);
  assert.equal(had(20), false);
  assert.equal(had(10), true);
  assert.deepEqual(asked, [10, 20]);
});

test('the volume side of a catch-up comes from the one read of what changed: one lookup per changed path, in the copy only', () => {
  const host = Catalog.memory();
  host.transaction(() => {
    setGeneration(host, 0);
    trackChangesFrom(host, V);
    setGeneration(host, 1);
    for (let i = 0; i < 300; i++) host.put(entry(`/d/${String(i).padStart(3, '0')}`, { size: i }));
    host.put(entry('/d', { kind: 'dir', size: 0, mode: 0o40755, sha256: null }));
  });
  const copy = copyOf(host);
  // The copy holds a file where the volume now has a folder: a folder row is no file to want.
  copy.transaction(() => copy.put(entry('/e', { size: 77 })));
  host.transaction(() => {
    setGeneration(host, 2);
    for (let i = 0; i < 300; i += 10) host.put(entry(`/d/${String(i).padStart(3, '0')}`, { size: 5000 + i }));
    for (let i = 5; i < 300; i += 60) host.remove(V, `/d/${String(i).padStart(3, '0')}`);
    host.put(entry('/d/new', { size: 9 }));
    host.put(entry('/e', { kind: 'dir', size: 0, mode: 0o40755, sha256: null }));
    host.put(entry('/d', { kind: 'dir', size: 0, mode: 0o40700, sha256: null }));
  });
  const changedPaths = 30 + 5 + 1 + 2;
  const whole = copy.differences(host, V);
  const tally = tallyStatements();
  let since: ReturnType<typeof differencesSince>;
  try {
    since = differencesSince(copy, host, V, 1);
  } finally {
    tally.stop();
  }
  assert.ok(since);
  assert.deepEqual(paths(since), paths(whole));
  assert.ok(since.mine.some((e) => e.path === '/e') && !since.theirs.some((e) => e.path === '/e' || e.path === '/d'));
  const runs = [...tally.counts().values()].reduce((a, b) => a + b, 0);
  // Before: two lookups a changed path (copy and volume), 2 × 38 + the reads.
  assert.ok(runs <= changedPaths + 4, `${runs} statements for ${changedPaths} changed paths`);
  copy.close();
  host.close();
});
