import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { assertArchiveHolds, assertDiskMatchesCatalog, blaine, isRoot, mountTmpfs, tempDir, unmount, write } from '../../test/helpers.js';

/** A small deterministic PRNG, so a failing sequence can be replayed from its seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Many runs over a library that keeps changing in every way the planner distinguishes (renames,
 * moves, swaps, edits with and without a size change, deletes, hardlinks, duplicates, symlinks),
 * with removals on. After every run the disk must hold exactly its catalog and the whole library.
 */
// CHURN_SEEDS=1-200 runs a longer sweep by hand; CI runs a few fixed seeds.
const seeds = (process.env.CHURN_SEEDS ?? '1-5').split('-').map(Number);
for (let seed = seeds[0]!; seed <= (seeds[1] ?? seeds[0]!); seed++) {
  test(`churn: random changes between runs keep disk, catalogs and library in step (seed ${seed})`, () => {
    const rnd = prng(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const base = tempDir('blaine-churn-');
    try {
      const lib = path.join(base, 'lib');
      const disk = path.join(base, 'disk');
      const db = path.join(base, 'db.sqlite');
      fs.mkdirSync(disk);
      const content = (n: number) => Buffer.from(`content ${Math.floor(rnd() * n)} `.repeat(1 + Math.floor(rnd() * 50)));
      for (let i = 0; i < 25; i++) write(path.join(lib, `d${i % 4}`, `f${i}`), content(12));
      let n = 100;
      const events: string[] = [];
      // Even seeds scan in chunks of three files and three threads: many chunks and parts, each
      // compared with the catalog on its own, from a small tree.
      const env: Record<string, string> = seed % 2 === 0 ? { BLAINE_SCAN_CHUNK: '3', BLAINE_SCAN_THREADS: '3' } : {};
      for (let round = 0; round < 8; round++) {
        const args = ['backup', '--dest', disk, '--db', db, '--reserve', '0', '--clean', '--max-delete', '100', '-v', lib];
        const r = blaine(round === 0 ? [...args.slice(0, 1), '--init', ...args.slice(1)] : args, { env });
        events.push(`--- run ${round}: ${r.stdout}`);
        assert.equal(r.status, 0, `round ${round}: ${r.stderr}`);
        try {
          assertDiskMatchesCatalog(disk, db, { parity: true });
          assertArchiveHolds(lib, [disk]);
        } catch (err) {
          (err as Error).message += `\nchanges and runs so far:\n${events.join('\n')}`;
          throw err;
        }
        for (let k = 0; k < 6; k++) {
          const files = filesUnder(lib).filter((f) => !fs.lstatSync(f).isSymbolicLink());
          if (files.length < 4) break;
          const a = pick(files);
          const b = pick(files.filter((f) => f !== a));
          const dir = path.join(lib, `d${Math.floor(rnd() * 5)}`);
          fs.mkdirSync(dir, { recursive: true });
          const what = Math.floor(rnd() * 9);
          events.push(`change ${what}: ${path.relative(lib, a)} ${path.relative(lib, b)}`);
          switch (what) {
            case 0: fs.renameSync(a, path.join(dir, `r${n++}`)); break;
            case 1: fs.renameSync(a, b); break; // onto an existing name
            case 2: { const t = `${a}.swap`; fs.renameSync(a, t); fs.renameSync(b, a); fs.renameSync(t, b); break; }
            case 3: fs.writeFileSync(a, content(12)); break;
            case 4: { const fd = fs.openSync(a, 'r+'); fs.writeSync(fd, 'X', 0); fs.closeSync(fd); fs.utimesSync(a, new Date(), new Date(Date.now() + 5000)); break; }
            case 5: fs.rmSync(a); break;
            case 6: fs.linkSync(a, path.join(dir, `h${n++}`)); break;
            case 7: fs.copyFileSync(a, path.join(dir, `c${n++}`)); break;
            case 8: fs.symlinkSync(path.relative(dir, a), path.join(dir, `s${n++}`)); break;
          }
        }
      }
    } finally {
      if (!process.env.BLAINE_KEEP_TEST_DIRS) fs.rmSync(base, { recursive: true, force: true });
    }
  });
}

const offlineSeeds = (process.env.CHURN_OFFLINE_SEEDS ?? '7').split('-').map(Number);
for (let seed = offlineSeeds[0]!; seed <= (offlineSeeds[1] ?? offlineSeeds[0]!); seed++)
test(`churn with an offline disk: deferred actions applied later leave both disks right (seed ${seed})`, { skip: isRoot ? false : 'needs root for tmpfs disks' }, () => {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const base = tempDir('blaine-churn2-');
  const A = path.join(base, 'A');
  const B = path.join(base, 'B');
  const mounted: string[] = [];
  try {
    const lib = path.join(base, 'lib');
    const db = path.join(base, 'db.sqlite');
    for (const [d, size] of [[A, '1600k'], [B, '20m']] as const) {
      assert.ok(mountTmpfs(d, size));
      mounted.push(d);
    }
    for (let i = 0; i < 40; i++) write(path.join(lib, `d${i % 5}`, `f${i}`), Buffer.alloc(20_000 + i * 100, i));
    const run = (d: string, ...extra: string[]) =>
      blaine(['backup', '--dest', d, '--db', db, '--reserve', '100k', '--clean', '--max-delete', '100', ...extra, lib]);
    assert.equal(run(A, '--init').status, 3);
    assert.equal(run(B, '--init').status, 0);
    let n = 0;
    for (let round = 0; round < 4; round++) {
      for (let k = 0; k < 8; k++) {
        const files = filesUnder(lib);
        const a = pick(files);
        const b = pick(files.filter((f) => f !== a));
        switch (Math.floor(rnd() * 6)) {
          case 0: fs.renameSync(a, path.join(lib, `d${k % 5}`, `r${n++}`)); break;
          case 1: fs.renameSync(a, b); break;
          case 2: { const t = `${a}.swap`; fs.renameSync(a, t); fs.renameSync(b, a); fs.renameSync(t, b); break; }
          case 3: fs.rmSync(a); break;
          case 4: fs.linkSync(a, path.join(lib, `h${n++}`)); break;
          case 5: fs.copyFileSync(a, path.join(lib, `c${n++}`)); break;
        }
      }
      const r = run(B);
      assert.equal(r.status, 0, r.stderr);
      assertDiskMatchesCatalog(B, db, { parity: true });
      if (round % 2 === 1) {
        const ap = blaine(['apply', '--dest', A, '--db', db]);
        assert.equal(ap.status, 0, ap.stderr);
        assertDiskMatchesCatalog(A, db, { parity: true });
        assertArchiveHolds(lib, [A, B]);
      }
    }
  } finally {
    for (const m of mounted.reverse()) unmount(m);
    fs.rmSync(base, { recursive: true, force: true });
  }
});

const mirrorSeeds = (process.env.CHURN_MIRROR_SEEDS ?? '3').split('-').map(Number);
for (let seed = mirrorSeeds[0]!; seed <= (mirrorSeeds[1] ?? mirrorSeeds[0]!); seed++)
test(`churn with mirror copies taking turns: each copy holds its volume after its run (seed ${seed})`, () => {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const base = tempDir('blaine-churn3-');
  try {
    const lib = path.join(base, 'lib');
    const db = path.join(base, 'db.sqlite');
    const B = path.join(base, 'B');
    const B2 = path.join(base, 'B2');
    fs.mkdirSync(B);
    fs.mkdirSync(B2);
    for (let i = 0; i < 20; i++) write(path.join(lib, `d${i % 3}`, `f${i}`), Buffer.from(`file ${i % 7} `.repeat(1 + i)));
    const run = (d: string, ...extra: string[]) =>
      blaine(['backup', '--dest', d, '--db', db, '--reserve', '0', '--clean', '--max-delete', '100', ...extra, lib]);
    assert.equal(run(B, '--init').status, 0);
    assert.equal(blaine(['clone', '--dest', B, '--to', B2, '--db', db]).status, 0);
    let n = 0;
    for (let round = 0; round < 6; round++) {
      for (let k = 0; k < 5; k++) {
        const files = filesUnder(lib);
        const a = pick(files);
        const b = pick(files.filter((f) => f !== a));
        switch (Math.floor(rnd() * 6)) {
          case 0: fs.renameSync(a, path.join(lib, `d${k % 3}`, `r${n++}`)); break;
          case 1: fs.renameSync(a, b); break;
          case 2: fs.writeFileSync(a, `new ${n++} `.repeat(1 + Math.floor(rnd() * 30))); break;
          case 3: fs.rmSync(a); break;
          case 4: fs.linkSync(a, path.join(lib, `h${n++}`)); break;
          case 5: fs.copyFileSync(a, path.join(lib, `c${n++}`)); break;
        }
      }
      const disk = round % 2 === 0 ? B2 : B;
      const r = run(disk);
      assert.equal(r.status, 0, r.stderr);
      assertDiskMatchesCatalog(disk, db, { parity: true });
      assertArchiveHolds(lib, [disk]);
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
