import test from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord, RootScan } from '../scan/record.js';
import type { Operation, PlanOptions } from './operation.js';
import { entryFor, plan, type CatalogView } from './planner.js';
import { orderMoves } from './renames.js';

const CUR = 'vol-current';
const OFF = 'vol-offline';
const ROOT = '/data';

let nextInode = 100;
function rec(name: string, o: Partial<FileRecord> & { content?: string } = {}): FileRecord {
  const size = o.size ?? (o.content !== undefined ? o.content.length : 10);
  return {
    path: name.startsWith('/') ? name : `${ROOT}/${name}`,
    kind: o.kind ?? 'file',
    size,
    mtimeSec: o.mtimeSec ?? 1000,
    mtimeNsec: o.mtimeNsec ?? 0,
    inode: o.inode ?? `1:${nextInode++}`,
    nlink: 1,
    mode: o.mode ?? 0o100644,
    uid: 0,
    gid: 0,
    linkTarget: o.linkTarget,
  };
}

function stored(r: FileRecord, volume = CUR, sha256: string | null = `sha-${r.path}`): CatalogEntry {
  return entryFor(r, volume, r.kind === 'symlink' ? null : sha256);
}

function view(entries: CatalogEntry[], outside: CatalogEntry[] = []): CatalogView {
  const all = [...entries, ...outside];
  return {
    entries,
    findContent: (size, sha256) => all.filter((e) => e.size === size && e.sha256 === sha256).map((e) => ({ ...e })),
    hasSize: (size) => all.some((e) => e.volume !== CUR && e.size === size && e.sha256 !== null),
  };
}

const defaults: PlanOptions = { matchMode: 'inode', clean: false, maxDeletePct: 100, force: false };

function run(
  records: FileRecord[],
  entries: CatalogEntry[],
  o: Partial<PlanOptions> & { hashes?: Record<string, string>; scan?: Partial<RootScan>; outside?: CatalogEntry[] } = {},
) {
  const scan: RootScan = { root: ROOT, complete: true, exists: true, records, skipped: [], ...o.scan };
  return plan({
    scans: [scan],
    catalog: view(entries, o.outside),
    current: CUR,
    hashes: new Map(Object.entries(o.hashes ?? {})),
    options: { ...defaults, ...o },
  });
}

/** A compact, readable form of the operations for assertions. */
function brief(ops: Operation[]): string[] {
  return ops.map((op) => {
    switch (op.type) {
      case 'copy':
        return `copy ${op.record.path}${op.replaces ? ' (replace)' : ''}`;
      case 'symlink':
        return `symlink ${op.record.path}${op.replaces ? ' (replace)' : ''}`;
      case 'link':
        return `link ${op.from.path} -> ${op.record.path}${op.replaces ? ' (replace)' : ''}`;
      case 'rename':
        return `rename ${op.from.path} -> ${op.to}`;
      case 'delete':
        return `delete ${op.entry.path} (${op.why})`;
      case 'update':
        return `update ${op.record.path}${op.touchDisk ? ' (disk)' : ''}`;
      case 'defer':
        return `defer ${op.volume} ${op.action} ${op.path}${op.target ? ` -> ${op.target}` : ''}`;
    }
  });
}

test('unchanged file: nothing to do', () => {
  const r = rec('a');
  const p = run([r], [stored(r)]);
  assert.deepEqual(brief(p.ops), []);
  assert.equal(p.counts.unchanged, 1);
});

test('unchanged file with a new inode: one catalog update, no hashing, no copy', () => {
  const r = rec('a');
  const p = run([{ ...r, inode: '1:999' }], [stored(r)]);
  assert.deepEqual(brief(p.ops), ['update /data/a']);
  assert.deepEqual(p.needHash, []);
});

test('content changed (size differs) on the mounted volume: replace the copy', () => {
  const r = rec('a', { size: 10 });
  const p = run([{ ...r, size: 20, mtimeSec: 2000 }], [stored(r)]);
  assert.deepEqual(brief(p.ops), ['copy /data/a (replace)']);
  assert.equal(p.counts.modified, 1);
  assert.equal(p.bytesToCopy, 20);
});

test('content changed on an offline volume: copy here, DELETE deferred there', () => {
  const r = rec('a', { size: 10 });
  const p = run([{ ...r, size: 20, mtimeSec: 2000 }], [stored(r, OFF)]);
  assert.deepEqual(brief(p.ops), [`defer ${OFF} DELETE /data/a`, 'copy /data/a']);
  assert.equal(p.counts.deferred, 1);
});

test('same size, new mtime: hash first; same SHA-256 is a metadata update', () => {
  const r = rec('a');
  const now = { ...r, mtimeSec: 2000 };
  const first = run([now], [stored(r)]);
  assert.deepEqual(first.needHash, ['/data/a']);
  assert.deepEqual(first.ops, []);
  const p = run([now], [stored(r)], { hashes: { '/data/a': 'sha-/data/a' } });
  assert.deepEqual(brief(p.ops), ['update /data/a (disk)']);
  assert.equal(p.counts.modified, 0);
});

test('same size, new mtime, different SHA-256: replace', () => {
  const r = rec('a');
  const p = run([{ ...r, mtimeSec: 2000 }], [stored(r)], { hashes: { '/data/a': 'other' } });
  assert.deepEqual(brief(p.ops), ['copy /data/a (replace)']);
});

test('metadata-only change of a file on an offline volume updates the catalog only', () => {
  const r = rec('a');
  const p = run([{ ...r, mtimeSec: 2000 }], [stored(r, OFF)], { hashes: { '/data/a': 'sha-/data/a' } });
  assert.deepEqual(brief(p.ops), ['update /data/a']);
});

test('rename on the mounted volume', () => {
  const r = rec('a');
  const p = run([{ ...r, path: '/data/b' }], [stored(r)]);
  assert.deepEqual(brief(p.ops), ['rename /data/a -> /data/b']);
  assert.equal(p.counts.renamed, 1);
  assert.equal(p.bytesToCopy, 0);
});

test('rename of a file held offline: RENAME deferred', () => {
  const r = rec('a');
  const p = run([{ ...r, path: '/data/sub/b' }], [stored(r, OFF)]);
  assert.deepEqual(brief(p.ops), [`defer ${OFF} RENAME /data/a -> /data/sub/b`]);
});

test('new hardlink to a stored file: link here, or LINK deferred for an offline volume', () => {
  const r = rec('a');
  const here = run([r, { ...r, path: '/data/b' }], [stored(r)]);
  assert.deepEqual(brief(here.ops), ['link /data/a -> /data/b']);
  assert.equal(here.counts.linked, 1);
  const off = run([r, { ...r, path: '/data/b' }], [stored(r, OFF)]);
  assert.deepEqual(brief(off.ops), [`defer ${OFF} LINK /data/a -> /data/b`]);
});

test('new path whose content may be on the mounted volume: no hashing first; the copy itself dedupes', () => {
  const a = rec('a', { size: 7 });
  const b = rec('b', { size: 7 });
  const p = run([a, b], [stored(a)]);
  assert.deepEqual(p.needHash, []);
  assert.deepEqual(brief(p.ops), ['copy /data/b']);
  const op = p.ops[0]!;
  assert.ok(op.type === 'copy' && op.dedupe, 'the copy is marked to become a hardlink to identical content');
  // with the SHA-256 already known (hashed for another reason), the planner links directly
  const known = run([a, b], [stored(a)], { hashes: { '/data/b': 'sha-/data/a' } });
  assert.deepEqual(brief(known.ops), ['link /data/a -> /data/b']);
  assert.equal(known.bytesToCopy, 0);
});

test('new path with content stored only offline: LINK deferred, no copy', () => {
  const a = rec('a', { size: 7 });
  const b = rec('b', { size: 7 });
  const p = run([a, b], [stored(a, OFF)], { hashes: { '/data/b': 'sha-/data/a' } });
  assert.deepEqual(brief(p.ops), [`defer ${OFF} LINK /data/a -> /data/b`]);
});

test('content stored outside the scanned paths is found too', () => {
  const b = rec('b', { size: 7 });
  const elsewhere = stored(rec('/other/x', { size: 7 }), CUR, 'X');
  const p = run([b], [], { hashes: { '/data/b': 'X' }, outside: [elsewhere] });
  assert.deepEqual(brief(p.ops), ['link /other/x -> /data/b']);
});

test('new content: copy, no hashing when no size collides', () => {
  const p = run([rec('a', { size: 5 }), rec('b', { size: 6 })], []);
  assert.deepEqual(brief(p.ops), ['copy /data/a', 'copy /data/b']);
  assert.equal(p.counts.added, 2);
  assert.equal(p.bytesToCopy, 11);
});

test('duplicate new files: no hashing first; each copy dedupes against what is stored by then', () => {
  const a = rec('a', { size: 5 });
  const b = rec('b', { size: 5 });
  const p = run([a, b], []);
  assert.deepEqual(p.needHash, []);
  assert.deepEqual(brief(p.ops), ['copy /data/a', 'copy /data/b']);
  assert.ok(p.ops.every((op) => op.type === 'copy' && op.dedupe));
  const known = run([a, b], [], { hashes: { '/data/a': 'S', '/data/b': 'S' } });
  assert.deepEqual(brief(known.ops), ['copy /data/a', 'link /data/a -> /data/b']);
});

test('content that may be stored offline is hashed before copying', () => {
  const b = rec('b', { size: 9 });
  const offline = stored(rec('/data/old', { size: 9 }), OFF, 'Z');
  assert.deepEqual(run([b], [offline]).needHash, ['/data/b']);
});

test('a new hardlink group is copied once and linked, without hashing', () => {
  const a = rec('a', { inode: '1:5' });
  const p = run([a, { ...a, path: '/data/b' }], []);
  assert.deepEqual(p.needHash, []);
  assert.deepEqual(brief(p.ops), ['copy /data/a', 'link /data/a -> /data/b']);
});

test('empty files are never deduplicated', () => {
  const p = run([rec('a', { size: 0 }), rec('b', { size: 0 })], []);
  assert.deepEqual(brief(p.ops), ['copy /data/a', 'copy /data/b']);
  assert.ok(p.ops.every((op) => op.type === 'copy' && !op.dedupe));
});

test('gone path with --clean: delete here, DELETE deferred offline', () => {
  const keep = Array.from({ length: 8 }, (_, i) => rec(`k${i}`));
  const a = rec('a');
  const b = rec('b');
  const p = run(keep, [...keep.map((r) => stored(r)), stored(a), stored(b, OFF)], { clean: true });
  assert.deepEqual(brief(p.ops), ['delete /data/a (removed)', `defer ${OFF} DELETE /data/b`]);
  assert.equal(p.counts.removed, 2);
});

test('gone path without --clean: kept and counted', () => {
  const k = rec('k');
  const a = rec('a');
  const p = run([k], [stored(k), stored(a)]);
  assert.deepEqual(brief(p.ops), []);
  assert.equal(p.counts.missing, 1);
});

test('an incomplete scan never removes anything', () => {
  const k = rec('k');
  const a = rec('a');
  const p = run([k], [stored(k), stored(a)], { clean: true, scan: { complete: false } });
  assert.deepEqual(brief(p.ops), []);
  assert.equal(p.counts.missing, 1);
});

test('mass-delete guard: too many removals are held back unless forced', () => {
  const all = Array.from({ length: 10 }, (_, i) => rec(`f${i}`));
  const entries = all.map((r) => stored(r));
  const p = run(all.slice(0, 8), entries, { clean: true, maxDeletePct: 10 });
  assert.deepEqual(brief(p.ops), []);
  assert.equal(p.guarded.length, 1);
  assert.match(p.guarded[0]!.reason, /remove 2 of the 10/);
  const forced = run(all.slice(0, 8), entries, { clean: true, maxDeletePct: 10, force: true });
  assert.equal(forced.counts.removed, 2);
  assert.deepEqual(forced.guarded, []);
});

test('mass-delete guard: a missing or empty data path removes nothing', () => {
  const a = rec('a');
  const missing = run([], [stored(a)], { clean: true, scan: { exists: false, complete: false } });
  assert.deepEqual(brief(missing.ops), []);
  const empty = run([], [stored(a)], { clean: true });
  assert.deepEqual(brief(empty.ops), []);
  assert.match(empty.guarded[0]!.reason, /empty/);
});

test('rename onto an existing path replaces it', () => {
  const a = rec('a');
  const b = rec('b', { size: 3 });
  const p = run([{ ...a, path: '/data/b' }], [stored(a), stored(b)]);
  assert.deepEqual(brief(p.ops), ['delete /data/b (replaced)', 'rename /data/a -> /data/b']);
  assert.equal(p.counts.removed, 0);
});

test('swap of two names goes through a temporary name', () => {
  const a = rec('a');
  const b = rec('b', { size: 3 });
  const p = run([{ ...a, path: '/data/b' }, { ...b, path: '/data/a' }], [stored(a), stored(b)]);
  assert.deepEqual(brief(p.ops), [
    'rename /data/a -> /.blaine/tmp/swap-0/a',
    'rename /data/b -> /data/a',
    'rename /.blaine/tmp/swap-0/a -> /data/b',
  ]);
  assert.equal(p.counts.renamed, 2);
});

test('swap on an offline volume is deferred in the same safe order', () => {
  const a = rec('a');
  const b = rec('b', { size: 3 });
  const p = run([{ ...a, path: '/data/b' }, { ...b, path: '/data/a' }], [stored(a, OFF), stored(b, OFF)]);
  assert.deepEqual(brief(p.ops), [
    `defer ${OFF} RENAME /data/a -> /.blaine/tmp/swap-0/a`,
    `defer ${OFF} RENAME /data/b -> /data/a`,
    `defer ${OFF} RENAME /.blaine/tmp/swap-0/a -> /data/b`,
  ]);
});

test('chain of renames runs back to front', () => {
  const a = rec('a');
  const b = rec('b', { size: 3 });
  const p = run([{ ...a, path: '/data/b' }, { ...b, path: '/data/c' }], [stored(a), stored(b)]);
  assert.deepEqual(brief(p.ops), ['rename /data/b -> /data/c', 'rename /data/a -> /data/b']);
});

test('rename and replace: the old name gets new content, the old content moves', () => {
  const a = rec('a');
  const p = run([{ ...a, path: '/data/b' }, rec('a', { size: 50 })], [stored(a)]);
  assert.deepEqual(brief(p.ops), ['rename /data/a -> /data/b', 'copy /data/a']);
  assert.equal(p.counts.renamed, 1);
  assert.equal(p.counts.added, 1);
});

test('a moved hardlink group stays one stored file', () => {
  const a = rec('a', { inode: '1:7' });
  const p = run([{ ...a, path: '/data/x' }, { ...a, path: '/data/y' }], [stored(a)]);
  assert.deepEqual(brief(p.ops), ['rename /data/a -> /data/x', 'link /data/x -> /data/y']);
});

test('a touched file found at a new path is re-hashed before being taken as a rename', () => {
  const a = rec('a');
  const moved = { ...a, path: '/data/b', mtimeSec: 5000 };
  assert.deepEqual(run([moved], [stored(a)]).needHash, ['/data/b']);
  const same = run([moved], [stored(a)], { hashes: { '/data/b': 'sha-/data/a' } });
  assert.deepEqual(brief(same.ops), ['rename /data/a -> /data/b']);
  const other = run([moved], [stored(a)], { hashes: { '/data/b': 'new' } });
  assert.deepEqual(brief(other.ops), ['copy /data/b']);
});

test('match mode size-mtime finds a rename by a unique size and mtime', () => {
  const a = rec('a', { size: 33, mtimeSec: 77 });
  const p = run([{ ...a, path: '/data/b', inode: '9:9' }], [stored(a)], { matchMode: 'size-mtime' });
  assert.deepEqual(brief(p.ops), ['rename /data/a -> /data/b']);
});

test('match mode path-size-mtime detects no rename: the moved file is copied again', () => {
  const a = rec('a', { size: 33 });
  const moved = { ...a, path: '/data/b' };
  const first = run([moved], [stored(a)], { matchMode: 'path-size-mtime' });
  const p = run([moved], [stored(a)], { matchMode: 'path-size-mtime', hashes: Object.fromEntries(first.needHash.map((x) => [x, 'sha-/data/a'])) });
  assert.deepEqual(brief(p.ops), ['copy /data/b']);
});

test('match mode strict re-hashes a file whose inode changed', () => {
  const a = rec('a');
  const now = { ...a, inode: '2:2' };
  assert.deepEqual(run([now], [stored(a)], { matchMode: 'strict' }).needHash, ['/data/a']);
  const same = run([now], [stored(a)], { matchMode: 'strict', hashes: { '/data/a': 'sha-/data/a' } });
  assert.deepEqual(brief(same.ops), ['update /data/a']);
  const changed = run([now], [stored(a)], { matchMode: 'strict', hashes: { '/data/a': 'zzz' } });
  assert.deepEqual(brief(changed.ops), ['copy /data/a (replace)']);
});

test('a symlink whose target changed is remade', () => {
  const l = rec('l', { kind: 'symlink', linkTarget: 'x', size: 1 });
  const p = run([{ ...l, linkTarget: 'yy', size: 2, mtimeSec: 3 }], [stored(l)]);
  assert.deepEqual(brief(p.ops), ['symlink /data/l (replace)']);
});

test('a duplicate whose stored twin is removed in the same run is still linked before the removal', () => {
  const keep = Array.from({ length: 8 }, (_, i) => rec(`k${i}`, { size: 100 + i }));
  const a = rec('a', { size: 9 });
  const b = rec('b', { size: 9 });
  const entries = [...keep.map((r) => stored(r)), stored(a, CUR, 'S')];
  const p = run([...keep, b], entries, { clean: true, hashes: { '/data/b': 'S' } });
  // b is a different inode (a copy, not a move), so a's content is linked and a removed afterwards
  assert.deepEqual(brief(p.ops), ['link /data/a -> /data/b', 'delete /data/a (removed)']);
});

test('orderMoves: rotation of three names uses one temporary name', () => {
  const out = orderMoves([
    { from: 'a', to: 'b' },
    { from: 'b', to: 'c' },
    { from: 'c', to: 'a' },
  ]);
  assert.equal(out.length, 4);
  // replaying the moves never overwrites a path still to be read
  const fs = new Map([['a', 1], ['b', 2], ['c', 3]]);
  for (const m of out) {
    assert.ok(!fs.has(m.to), `${m.to} still occupied`);
    fs.set(m.to, fs.get(m.from)!);
    fs.delete(m.from);
  }
  assert.deepEqual([fs.get('b'), fs.get('c'), fs.get('a')], [1, 2, 3]);
});

test('an unreadable file is neither removed nor taken as moved', () => {
  const keep = Array.from({ length: 8 }, (_, i) => rec(`k${i}`));
  const a = rec('a');
  const p = run(keep, [...keep.map((r) => stored(r)), stored(a)], {
    clean: true,
    scan: { skipped: [{ path: '/data/a', reason: 'unreadable', message: 'permission denied' }] },
  });
  assert.deepEqual(brief(p.ops), []);
});

test('a mirror copy that lacks a file of its volume copies it, never moves or links it', () => {
  const a = rec('a');
  const b = rec('b', { size: 44 });
  const view: CatalogView = {
    entries: [stored(a), stored(b)],
    findContent: () => [],
    hasSize: () => false,
    absent: new Set(['/data/a', '/data/b']),
  };
  const p = plan({
    scans: [{ root: ROOT, complete: true, exists: true, records: [a, { ...b, path: '/data/c' }], skipped: [] }],
    catalog: view,
    current: CUR,
    hashes: new Map(),
    options: defaults,
  });
  assert.deepEqual(brief(p.ops), ['copy /data/a (replace)', 'copy /data/c']);
});

test('a path whose stored file moves away is new, even when the new file there has the same content', () => {
  // b and a swap inodes in a way: a's stored file moves to b, and a new inode with equal bytes takes a
  const a = rec('a', { size: 9, inode: '1:1' });
  const b = rec('b', { size: 9, inode: '1:2', mtimeSec: 500 });
  const entries = [stored(a, CUR, 'S'), stored(b, CUR, 'T')];
  const now = [{ ...a, path: '/data/b' }, { ...a, path: '/data/a', inode: '1:3', mtimeSec: 7 }];
  const p = run(now, entries, { hashes: { '/data/a': 'S' } });
  assert.deepEqual(brief(p.ops), ['delete /data/b (replaced)', 'rename /data/a -> /data/b', 'link /data/b -> /data/a']);
});

test('equal-size equal-mtime files that swapped inodes: read once each, then followed as a swap', () => {
  const a = rec('a', { inode: '1:1' });
  const b = rec('b', { inode: '1:2' });
  const entries = [stored(a), stored(b)];
  const now = [{ ...a, inode: '1:2' }, { ...b, inode: '1:1' }];
  const first = run(now, entries);
  assert.deepEqual(first.needHash, [a.path, b.path]);
  const p = run(now, entries, { hashes: { [a.path]: `sha-${b.path}`, [b.path]: `sha-${a.path}` } });
  assert.equal(p.counts.renamed, 2);
  assert.ok(p.ops.every((op) => op.type === 'rename'), JSON.stringify(p.ops.map((op) => op.type)));
});

test('a renumbered file whose new inode was another path\'s, with its own content, stays unchanged', () => {
  const a = rec('a', { inode: '1:1' });
  const b = rec('b', { inode: '1:2' });
  const entries = [stored(a), stored(b)];
  // a took b's old number by chance; b got a fresh one: nothing moved
  const now = [{ ...a, inode: '1:2' }, { ...b, inode: '1:9' }];
  const p = run(now, entries, { hashes: { [a.path]: `sha-${a.path}` } });
  assert.deepEqual(p.needHash, []);
  assert.equal(p.counts.renamed, 0);
  assert.ok(p.ops.every((op) => op.type === 'update'));
});

test('excluded catalogued paths are kept and counted, never removed, even with --clean', () => {
  const keep = rec('keep.jpg');
  const tmp = rec('scratch.tmp');
  const p = plan({
    scans: [{ root: ROOT, complete: true, exists: true, records: [keep], skipped: [] }],
    catalog: view([stored(keep), stored(tmp)]),
    current: CUR,
    hashes: new Map(),
    options: { ...defaults, clean: true },
    excluded: (x) => x.endsWith('.tmp'),
  });
  assert.deepEqual([p.counts.removed, p.counts.excluded, p.counts.missing], [0, 1, 0]);
  assert.deepEqual(p.ops, []);
});

test('equal content is linked only to a stored file of the same mode and owner', () => {
  const pub = rec('public', { content: 'same', mode: 0o100644 });
  const priv = rec('private', { content: 'same', mode: 0o100600 });
  const entries = [stored(pub, CUR, 'sha-same')];
  const p = run([pub, priv], entries, { hashes: { [priv.path]: 'sha-same' } });
  const op = p.ops.find((o) => o.type !== 'update');
  assert.equal(op?.type, 'copy');
});

// What was stored below a folder that became a symlink or a file counts as gone.
function formerFolder(volume = CUR) {
  const a = rec('photos/2019/a.jpg');
  const b = rec('photos/2019/sub/b.jpg');
  const other = rec('photos/2020/c.jpg');
  const link = rec('photos/2019', { kind: 'symlink', linkTarget: '/media2/2019', size: 12 });
  return { link, other, entries: [stored(a, volume), stored(b, volume), stored(other)] };
}

test('a folder that became a symlink, no --clean: its stored files are kept and counted; the link waits', () => {
  const { link, other, entries } = formerFolder();
  const p = run([link, other], entries);
  assert.deepEqual(brief(p.ops), []);
  assert.equal(p.counts.missing, 2);
  assert.equal(p.counts.removed, 0);
  assert.deepEqual(p.blocked, [{ path: '/data/photos/2019', kind: 'symlink', kept: 2 }]);
});

test('a folder that became a file or a symlink, with --clean: its stored files go first, counted as removed', () => {
  const { link, other, entries } = formerFolder();
  const p = run([link, other], entries, { clean: true });
  assert.deepEqual(brief(p.ops), ['delete /data/photos/2019/a.jpg (removed)', 'delete /data/photos/2019/sub/b.jpg (removed)', 'symlink /data/photos/2019']);
  assert.equal(p.counts.removed, 2);
  assert.equal(p.counts.missing, 0);
  assert.deepEqual(p.blocked, []);
  // a folder two levels up turned into a file: everything below it
  const file = rec('photos', { size: 5 });
  const q = run([file], entries, { clean: true, force: true });
  assert.deepEqual(brief(q.ops), [
    'delete /data/photos/2019/a.jpg (removed)', 'delete /data/photos/2019/sub/b.jpg (removed)', 'delete /data/photos/2020/c.jpg (removed)', 'copy /data/photos',
  ]);
  assert.equal(q.counts.removed, 3);
});

test('a folder that became a symlink: the mass-delete guard or an incomplete scan keep its files; an exclusion only without --clean', () => {
  const { link, other, entries } = formerFolder();
  const guarded = run([link, other], entries, { clean: true, maxDeletePct: 10 });
  assert.deepEqual(brief(guarded.ops), []);
  assert.equal(guarded.guarded.length, 1);
  assert.match(guarded.guarded[0]!.reason, /remove 2 of the 3 files/);
  assert.deepEqual(guarded.blocked, [{ path: '/data/photos/2019', kind: 'symlink', kept: 2 }]);
  const incomplete = run([link, other], entries, { clean: true, scan: { complete: false } });
  assert.deepEqual(brief(incomplete.ops), []);
  assert.equal(incomplete.blocked?.length, 1);
  const excluded = (clean: boolean) => plan({
    scans: [{ root: ROOT, complete: true, exists: true, records: [link, other], skipped: [] }],
    catalog: view(entries), current: CUR, hashes: new Map(),
    options: { ...defaults, clean },
    excluded: (p) => p.endsWith('/b.jpg'),
  });
  // an excluded file is kept only while nothing needs its place: with --clean it goes too
  assert.deepEqual(brief(excluded(true).ops), ['delete /data/photos/2019/a.jpg (removed)', 'delete /data/photos/2019/sub/b.jpg (removed)', 'symlink /data/photos/2019']);
  assert.equal(excluded(true).counts.excluded, 0);
  assert.deepEqual(brief(excluded(false).ops), []);
  assert.deepEqual(excluded(false).blocked, [{ path: '/data/photos/2019', kind: 'symlink', kept: 2 }]);
  assert.equal(excluded(false).counts.excluded, 1);
  assert.equal(excluded(false).counts.missing, 1);
});

test('a folder stored on an offline volume that became a symlink: the link is made here; the files are kept, or deferred DELETEs', () => {
  const { link, other, entries } = formerFolder(OFF);
  const p = run([link, other], entries);
  assert.deepEqual(brief(p.ops), ['symlink /data/photos/2019']);
  assert.equal(p.counts.missing, 2);
  const q = run([link, other], entries, { clean: true });
  assert.deepEqual(brief(q.ops), ['symlink /data/photos/2019', `defer ${OFF} DELETE /data/photos/2019/a.jpg`, `defer ${OFF} DELETE /data/photos/2019/sub/b.jpg`]);
  assert.equal(q.counts.removed, 2);
});

test('a folder that went away: its files are kept without --clean, removed with it', () => {
  const { other, entries } = formerFolder();
  assert.deepEqual(brief(run([other], entries).ops), []);
  assert.equal(run([other], entries).counts.missing, 2);
  assert.deepEqual(brief(run([other], entries, { clean: true }).ops), ['delete /data/photos/2019/a.jpg (removed)', 'delete /data/photos/2019/sub/b.jpg (removed)']);
});

test('equal new files whose content is stored read the names of that content once, not once each', () => {
  const first = rec('stored/a', { content: 'same' });
  const entries = [stored(first, CUR, 'sha-same')];
  for (let i = 0; i < 50; i++) entries.push(stored(rec(`stored/more${i}`, { content: 'same', inode: first.inode }), CUR, 'sha-same'));
  const news = Array.from({ length: 200 }, (_, i) => rec(`new/f${String(i).padStart(3, '0')}`, { content: 'same' }));
  const v = view(entries);
  let lookups = 0;
  const counting: CatalogView = { ...v, hasSize: () => true, findContent: (size, sha256) => (lookups++, v.findContent(size, sha256)) };
  const p = plan({
    scans: [{ root: ROOT, complete: true, exists: true, records: [first, ...entries.slice(1).map((e) => rec(e.path, { content: 'same', inode: first.inode })), ...news], skipped: [] }],
    catalog: counting, current: CUR, hashes: new Map(news.map((r) => [r.path, 'sha-same'])), options: defaults,
  });
  assert.equal(p.ops.filter((op) => op.type === 'link').length, 200);
  assert.equal(lookups, 1);
});
