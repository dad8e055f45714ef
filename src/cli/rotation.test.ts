import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  assertArchiveHasContent,
  assertArchiveHolds,
  assertDiskMatchesCatalog,
  blaine,
  isRoot,
  mountTmpfs,
  readTree,
  rows,
  summaryOf,
  tempDir,
  unmount,
  volumeOf,
  write,
} from '../../test/helpers.js';

/**
 * The seed story of SPEC §1 on small real disks: a library fills disk A and continues on B; changes
 * to A's files while A is offline are deferred and applied when it returns; B is mirrored to B2 and
 * the two copies take turns, each caught up when it comes back.
 */
test('rotation: spanning, deferred actions, apply, mirror copies taking turns', { skip: isRoot ? false : 'needs root for tmpfs disks' }, () => {
  const base = tempDir('blaine-rotation-');
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'host.sqlite');
  const A = path.join(base, 'A');
  const B = path.join(base, 'B');
  const B2 = path.join(base, 'B2');
  const mounted: string[] = [];
  const mount = (dir: string, size: string) => {
    assert.ok(mountTmpfs(dir, size), `mount ${dir}`);
    mounted.push(dir);
  };
  const run = (disk: string, ...extra: string[]) => {
    const r = blaine(['backup', '--dest', disk, '--db', db, '--json', '--reserve', '150k', '--parity', '10', ...extra, lib]);
    return { r, s: r.stdout ? summaryOf(r) : {} };
  };
  const strip = (t: Map<string, { kind: string; sha256?: string; target?: string }>) =>
    [...t].map(([p, e]) => [p, e.kind, e.sha256 ?? e.target]);
  const check = (disk: string) => assertDiskMatchesCatalog(disk, db, { parity: true });
  try {
    mount(A, '2m');
    mount(B, '20m');
    mount(B2, '20m');
    let total = 0;
    for (let i = 0; i < 30; i++) {
      const size = 40_000 + i * 1000;
      total += size;
      write(path.join(lib, `d${i % 3}`, `f${String(i).padStart(2, '0')}.bin`), crypto.randomBytes(size));
    }

    // 1. A fills up (exit 3); B continues with what is not yet archived
    const a1 = run(A, '--init', '--label', 'A');
    assert.equal(a1.r.status, 3, a1.r.stderr);
    assert.equal(a1.s.diskFull, true);
    check(A);
    const onA = rows(db, volumeOf(A).volume).map((r) => r.path);
    // What fits beside the reserve and the catalogs' headroom (their size counts: a page more or less moves a file).
    assert.ok(onA.length >= 6, `A holds ${onA.length} files`);
    const b1 = run(B, '--init', '--label', 'B');
    assert.equal(b1.r.status, 0, b1.r.stderr);
    assert.equal((a1.s.bytesCopied as number) + (b1.s.bytesCopied as number), total, 'nothing copied twice');
    assert.equal(b1.s.unchanged, onA.length, "A's files are known, not missing");
    check(B);
    assertArchiveHolds(lib, [A, B]);

    // 2. A offline: rename, move, swap, delete, modify, new hardlink, duplicate of A's files
    const aTree = readTree(A);
    const L = (p: string) => path.join(lib, path.relative(lib, p));
    const [f1, f2, f3, f4, f5, f6] = onA.map(L);
    fs.renameSync(f1!, `${f1}.renamed`);
    fs.mkdirSync(path.join(lib, 'moved'));
    fs.renameSync(f2!, path.join(lib, 'moved', path.basename(f2!)));
    fs.renameSync(f3!, `${f3}.tmp`);
    fs.renameSync(f4!, f3!);
    fs.renameSync(`${f3}.tmp`, f4!);
    fs.rmSync(f5!);
    fs.writeFileSync(f6!, crypto.randomBytes(12_345));
    fs.linkSync(`${f1}.renamed`, path.join(lib, 'hardlink.bin'));
    fs.copyFileSync(path.join(lib, 'moved', path.basename(f2!)), path.join(lib, 'duplicate.bin'));
    const b2 = run(B, '--clean', '--max-delete', '50');
    assert.equal(b2.r.status, 0, b2.r.stderr);
    assert.equal(b2.s.bytesCopied, 12_345, 'B gets only the new data');
    const pending = JSON.parse(blaine(['pending', '--db', db, '--json', 'A']).stdout) as Array<{ action: string; path: string; target: string | null }>;
    const actions = pending.map((p) => p.action).sort();
    assert.deepEqual(actions, ['DELETE', 'DELETE', 'LINK', 'LINK', 'RENAME', 'RENAME', 'RENAME', 'RENAME', 'RENAME']);
    assert.ok(pending.some((p) => p.action === 'DELETE' && p.path === f5 && p.target === null));
    assert.deepEqual(readTree(A), aTree, 'A, offline, is untouched');
    check(B);
    assertArchiveHasContent(lib, [A, B]);

    // 3. A returns: apply leaves it holding exactly its catalogued files
    const ap = blaine(['apply', '--dest', A, '--db', db, '--json']);
    assert.equal(ap.status, 0, ap.stderr);
    assert.equal(JSON.parse(blaine(['pending', '--db', db, '--json']).stdout).length, 0);
    check(A);
    assertArchiveHolds(lib, [A, B]);

    // 4. B is cloned to B2; the copies take turns
    const cl = blaine(['clone', '--dest', B, '--to', B2, '--db', db, '--label', 'B-prime']);
    assert.equal(cl.status, 0, cl.stderr);
    assert.deepEqual(strip(readTree(B2)), strip(readTree(B)));
    check(B2);
    let n = 0;
    for (const disk of [B2, B, B2]) {
      // each turn: new data, a rename of the previous turn's file, and once a removal
      if (n > 0) fs.renameSync(path.join(lib, 'new', `n${n - 1}.bin`), path.join(lib, 'new', `renamed-${n - 1}.bin`));
      write(path.join(lib, 'new', `n${n++}.bin`), crypto.randomBytes(30_000));
      if (n === 3) fs.rmSync(path.join(lib, 'new', 'renamed-0.bin'));
      const r = run(disk, '--clean', '--max-delete', '50');
      assert.equal(r.r.status, 0, r.r.stderr);
      check(disk);
      assertArchiveHolds(lib, [A, disk]);
    }
    // B is one turn behind; a backup onto it brings the two copies to the same state
    const last = run(B, '--clean', '--max-delete', '50');
    assert.equal(last.r.status, 0, last.r.stderr);
    check(B);
    assert.deepEqual(strip(readTree(B)), strip(readTree(B2)), 'B and B2 end identical');
    assert.deepEqual(
      rows(path.join(B, '.blaine/catalog.sqlite')).map((r) => [r.path, r.sha256]),
      rows(path.join(B2, '.blaine/catalog.sqlite')).map((r) => [r.path, r.sha256]),
    );
    const disks = JSON.parse(blaine(['disks', '--db', db, '--json']).stdout) as Array<{ label: string; copies: unknown[] }>;
    assert.deepEqual(disks.map((d) => [d.label, d.copies.length]).sort(), [['A', 1], ['B', 2]]);
  } finally {
    for (const m of mounted.reverse()) unmount(m);
    fs.rmSync(base, { recursive: true, force: true });
  }
});
