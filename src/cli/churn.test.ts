import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { realFs as fs, type BigIntStats } from '../fsx/fsx.js';
import { nameToBytes } from '../fsx/name-bytes.js';
import path from 'node:path';
import Database from 'better-sqlite3';
import { assertArchiveHolds, assertDiskMatchesCatalog, blaine, isRoot, mirrorEnv, nameColumn, mountTmpfs, sha256, tempDir, unmount, write } from '../../test/helpers.js';

/** Two different entries of xs, chosen by pick (b is undefined when xs has one entry). */
function twoOf<T>(xs: T[], pick: (xs: T[]) => T): [T, T] {
  const a = pick(xs);
  return [a, pick(xs.filter((x) => x !== a))];
}

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

/** The library's folders (not through symlinks), itself first. */
function foldersUnder(dir: string): string[] {
  const out = [dir];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...foldersUnder(path.join(dir, e.name)));
  return out;
}

/** A sparse file: data, a hole, data, and with `holeAtEnd` a hole at its end too. */
function writeSparse(file: string, holeAtEnd: boolean): void {
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, 'head', 0);
  fs.writeSync(fd, 'middle', 256 * 1024);
  if (holeAtEnd) fs.ftruncateSync(fd, 768 * 1024);
  fs.closeSync(fd);
}

/**
 * Many runs over a library that keeps changing in every way the planner distinguishes (renames,
 * moves, swaps, edits with and without a size change, deletes, hardlinks, duplicates, symlinks;
 * empty and private folders, a folder's chmod and touch, sparse files, a folder turned into a
 * symlink and back), with removals on. After every run the disk must hold exactly its catalog and
 * the whole library, folders with their mode and mtime included.
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
          const [a, b] = twoOf(files, pick);
          const dir = path.join(lib, `d${Math.floor(rnd() * 5)}`);
          fs.mkdirSync(dir, { recursive: true });
          const what = Math.floor(rnd() * 16);
          const folder = pick(foldersUnder(lib));
          events.push(`change ${what}: ${path.relative(lib, a)} ${path.relative(lib, b)} ${path.relative(lib, folder)}`);
          switch (what) {
            case 0: fs.renameSync(a, path.join(dir, `r${n++}`)); break;
            case 1: fs.renameSync(a, b); break; // onto an existing name
            case 2: { const t = `${a}.swap`; fs.renameSync(a, t); fs.renameSync(b, a); fs.renameSync(t, b); break; }
            case 3: fs.writeFileSync(a, content(12)); break;
            case 4: { const fd = fs.openSync(a, 'r+'); fs.writeSync(fd, 'X', 0); fs.closeSync(fd); fs.lutimesSync(a, new Date(), new Date(Date.now() + 5000)); break; }
            case 5: fs.rmSync(a); break;
            case 6: fs.linkSync(a, path.join(dir, `h${n++}`)); break;
            case 7: fs.copyFileSync(a, path.join(dir, `c${n++}`)); break;
            case 8: fs.symlinkSync(path.relative(dir, a), path.join(dir, `s${n++}`)); break;
            case 9: fs.mkdirSync(path.join(dir, `e${n++}`)); break; // an empty folder
            case 10: { // a private folder, and a file moved into it
              const priv = path.join(dir, `p${n++}`);
              fs.mkdirSync(priv, { mode: 0o700 });
              fs.renameSync(a, path.join(priv, path.basename(a)));
              break;
            }
            case 11: fs.chmodSync(folder, pick([0o700, 0o750, 0o755, 0o711])); break;
            case 12: fs.lutimesSync(folder, new Date(1_500_000_000_000 + n++ * 1000), new Date(1_400_000_000_000 + Math.floor(rnd() * 1e9))); break;
            case 13: writeSparse(path.join(dir, `sparse${n++}`), rnd() < 0.5); break;
            case 14: { // a folder turned into a symlink (its files moved out of the library), or back
              const away = path.join(base, 'away');
              if (fs.existsSync(away)) {
                const link = fs.readFileSync(path.join(base, 'away.link'), 'utf8');
                fs.rmSync(link);
                fs.renameSync(away, link);
                fs.rmSync(path.join(base, 'away.link'));
              } else if (folder !== lib) {
                fs.renameSync(folder, away);
                fs.symlinkSync(away, folder);
                fs.writeFileSync(path.join(base, 'away.link'), folder);
              }
              break;
            }
            case 15: if (folder !== lib && fs.readdirSync(folder).length === 0) fs.rmdirSync(folder); break;
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
        const [a, b] = twoOf(files, pick);
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
test(`churn with mirror copies taking turns: each copy holds its volume after its run (seed ${seed})`, (t) => {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const { lib, db, B, B2 } = mirrorEnv(t, 'blaine-churn3-');
  for (let i = 0; i < 20; i++) write(path.join(lib, `d${i % 3}`, `f${i}`), Buffer.from(`file ${i % 7} `.repeat(1 + i)));
  const run = (d: string, ...extra: string[]) =>
    blaine(['backup', '--dest', d, '--db', db, '--reserve', '0', '--clean', '--max-delete', '100', ...extra, lib]);
  assert.equal(run(B, '--init').status, 0);
  assert.equal(blaine(['clone', '--dest', B, '--to', B2, '--db', db]).status, 0);
  let n = 0;
  for (let round = 0; round < 6; round++) {
    for (let k = 0; k < 5; k++) {
      const files = filesUnder(lib);
      const [a, b] = twoOf(files, pick);
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
});

/** Every regular file and symlink below root, by path relative to it; FIFOs and sockets left out. */
function objectsUnder(root: string): Map<string, BigIntStats> {
  const out = new Map<string, BigIntStats>();
  const walk = (d: string, rel: string) => {
    for (const name of fs.readdirSync(d)) {
      const full = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(full, { bigint: true });
      if (st.isDirectory()) walk(full, r);
      else if (st.isFile() || st.isSymbolicLink()) out.set(r, st);
    }
  };
  walk(root, '');
  return out;
}

/** What must come back for one path: kind and content, mode, owner, mtime to the nanosecond. */
function fidelity(full: string, st: BigIntStats): string {
  const what = st.isSymbolicLink() ? `link ${fs.readlinkSync(full)}` : `file ${sha256(fs.readFileSync(full))}`;
  const mode = st.isSymbolicLink() ? '-' : (st.mode & 0o7777n).toString(8);
  return `${what} mode ${mode} owner ${st.uid}:${st.gid} mtime ${st.mtimeNs}`;
}

/** Paths grouped by the inode they share (only groups of two or more), as sorted lists. */
function linkGroups(root: string, paths: Iterable<string>): string[][] {
  const by = new Map<string, string[]>();
  for (const p of paths) {
    const st = fs.lstatSync(path.join(root, p), { bigint: true });
    if (!st.isFile()) continue;
    const k = `${st.dev}:${st.ino}`;
    by.set(k, [...(by.get(k) ?? []), p]);
  }
  return [...by.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

interface MetaRow {
  path: string;
  kind: string;
  sha256: string | null;
  link_target: string | null;
  mode: number;
  uid: number;
  gid: number;
  mtime_s: number;
  mtime_ns: number;
}

function metaRows(dbFile: string): Map<string, MetaRow> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const all = db.prepare('SELECT CAST(path AS BLOB) AS path, kind, iif(sha256 IS NULL, NULL, lower(hex(sha256))) AS sha256, CAST(link_target AS BLOB) AS link_target, mode, uid, gid, mtime_s, mtime_ns FROM files').all() as MetaRow[];
    for (const r of all) {
      r.path = nameColumn(r.path)!;
      r.link_target = nameColumn(r.link_target);
    }
    return new Map(all.map((r) => [r.path, r]));
  } finally {
    db.close();
  }
}

/** Numbers new names and contents in the metadata churn. */
let n = 0;

// Names are bytes (SPEC §3): caf\xe9 and \xff\xfe are not UTF-8 (name-bytes.ts's string form).
const ODD_NAMES = ['ünïcödé ☃', 'with space', `it's "quoted"`, 'new\nline', '-leading-dash', '--', 'tab\there', '*glob?[x]', 'caf\udce9.jpg', '\udcff\udcfe '];

/** A name of exactly 255 bytes (ext4's limit): ASCII, two-byte characters, or bytes that are not UTF-8. */
function longName(k: number, kind: number): string {
  const head = String(k).padStart(3, '0');
  const name = kind === 0 ? head + 'long-name-'.repeat(26) : kind === 1 ? head + 'é'.repeat(126) : head + '\udce9'.repeat(252);
  const bytes = nameToBytes(name).length;
  return kind === 0 ? name.slice(0, name.length - (bytes - 255)) : name;
}
const RULE_SETS: string[][] = [[], ['--exclude', '*.tmp'], ['--exclude', 'd1/'], ['--include', 'd2/keep.tmp', '--exclude', '*.tmp']];

/**
 * The churn above, with what users lose when metadata goes wrong: equal-size equal-mtime files that
 * swap and rotate, chmod/touch/chown-only changes, type changes both ways (folders turned into
 * symlinks and back too), equal bytes under other metadata, exclusion rules that change between
 * runs, special files, empty folders, odd and long names. After every run:
 * the library, the catalogs, the disk and a full restore agree on content, mode, owner, the mtime
 * to the nanosecond and hardlink groups (per source inode).
 */
const metaSeeds = (process.env.CHURN_META_SEEDS ?? '1-20').split('-').map(Number);
for (let seed = metaSeeds[0]!; seed <= (metaSeeds[1] ?? metaSeeds[0]!); seed++) {
  test(`churn with metadata: library, catalogs, disk and a full restore agree on content and metadata (seed ${seed})`, () => {
    const rnd = prng(seed * 7919);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const base = tempDir('blaine-churnmeta-');
    const folderLinks: string[] = [];
    n = 0;
    const events: string[] = [];
    try {
      const lib = path.join(base, 'lib');
      const disk = path.join(base, 'disk');
      const db = path.join(base, 'db.sqlite');
      fs.mkdirSync(disk);
      const T0 = new Date('2019-03-04T05:06:07Z');
      // "raw" files: one size, one whole-second mtime, different bytes
      const raw = (i: number) => Buffer.from(`raw frame ${String(i).padStart(6, '0')} `.repeat(8));
      for (let i = 0; i < 6; i++) write(path.join(lib, 'cam', `IMG_${i}.RAW`), raw(n++), T0);
      for (let i = 0; i < 10; i++) write(path.join(lib, `d${i % 3}`, `f${i}`), Buffer.from(`file ${i % 4} `.repeat(1 + i)), T0);
      write(path.join(lib, 'd2', 'keep.tmp'), 'a temporary file the rules keep');
      write(path.join(lib, 'd0', 'scratch.tmp'), 'a temporary file');
      for (const name of ODD_NAMES.slice(0, 3)) write(path.join(lib, 'odd', name), `odd ${name}`);
      const mkdirs = (p: string) => fs.mkdirSync(path.dirname(p), { recursive: true });
      for (let round = 0; round < 6; round++) {
        const rules = pick(RULE_SETS);
        const args = ['backup', '--dest', disk, '--db', db, '--reserve', '0', '--clean', '--max-delete', '100', ...rules, lib];
        const r = blaine(round === 0 ? [...args.slice(0, 1), '--init', ...args.slice(1)] : args);
        events.push(`--- run ${round} (${rules.join(' ') || 'no rules'}): status ${r.status} ${r.stdout.trim()}`);
        assert.equal(r.status, 0, `round ${round}: ${r.stderr}`);
        checkMetadata(lib, disk, db, base, round, rules);
        for (let k = 0; k < 7; k++) {
          const objects = [...objectsUnder(lib).keys()].map((p) => path.join(lib, p));
          const files = objects.filter((f) => fs.lstatSync(f).isFile());
          if (files.length < 4) break;
          const [a, b] = twoOf(files, pick);
          const what = Math.floor(rnd() * 19);
          events.push(`change ${what}: ${JSON.stringify(path.relative(lib, a))} ${JSON.stringify(path.relative(lib, b))}`);
          try {
            switch (what) {
              // Swaps and rotations stay among catalogued files: a file replaced by one never
              // catalogued, of equal size and mtime, is a renumbering to Blaine unless it reads
              // every file whose inode changed (--match-mode strict), as SPEC §5 chooses.
              case 0: { // swap two equal-size equal-mtime files through a third name
                const cam = files.filter((f) => /\/cam\/IMG_\d+\.RAW$/.test(f));
                if (cam.length < 2) break;
                const x = pick(cam);
                const y = pick(cam.filter((f) => f !== x));
                events.push(`  swap ${path.relative(lib, x)} ${path.relative(lib, y)}`);
                fs.renameSync(x, `${x}.t`); fs.renameSync(y, x); fs.renameSync(`${x}.t`, y);
                break;
              }
              case 1: { // rotate three of them
                const cam = files.filter((f) => /\/cam\/IMG_\d+\.RAW$/.test(f));
                if (cam.length < 3) break;
                const x = pick(cam);
                const y = pick(cam.filter((f) => f !== x));
                const z = pick(cam.filter((f) => f !== x && f !== y));
                events.push(`  rotate ${path.relative(lib, x)} ${path.relative(lib, y)} ${path.relative(lib, z)}`);
                fs.renameSync(x, `${x}.t`); fs.renameSync(z, x); fs.renameSync(y, z); fs.renameSync(`${x}.t`, y);
                break;
              }
              case 2: fs.chmodSync(a, pick([0o600, 0o644, 0o640, 0o755, 0o400])); break;
              case 3: { // touch only, to the nanosecond
                fs.setMtime(a, 1_500_000_000 + Math.floor(rnd() * 1e8), Math.floor(rnd() * 1e9));
                break;
              }
              case 4: if (isRoot) fs.chownSync(a, 1000 + Math.floor(rnd() * 3), 1000 + Math.floor(rnd() * 3)); break;
              case 5: { // equal bytes, other metadata
                const c = path.join(lib, `d${Math.floor(rnd() * 3)}`, `dup${n++}`);
                mkdirs(c);
                fs.copyFileSync(a, c);
                fs.chmodSync(c, pick([0o600, 0o644]));
                break;
              }
              case 6: { // a file becomes a directory
                fs.rmSync(a);
                write(path.join(a, 'inside'), `was a file ${n++}`);
                break;
              }
              case 7: { // a directory becomes a file
                const dir = path.dirname(a);
                if (dir === lib) break;
                fs.rmSync(dir, { recursive: true });
                write(dir, `was a directory ${n++}`);
                break;
              }
              case 8: fs.linkSync(a, path.join(path.dirname(b), `h${n++}`)); break;
              case 9: fs.renameSync(a, path.join(path.dirname(b), pick(ODD_NAMES) + n++)); break;
              case 10: { // a special file, now and then
                // made under a plain name and moved: mkfifo takes its name as a UTF-8 argument
                const made = path.join(base, `fifo${n}`);
                execFileSync('mkfifo', [made]);
                fs.renameSync(made, path.join(path.dirname(a), `fifo${n++}`));
                break;
              }
              case 11: write(path.join(path.dirname(a), `new${n++}.tmp`), `temporary ${n}`); break;
              case 12: fs.symlinkSync(path.relative(path.dirname(b), a), path.join(path.dirname(b), `s${n++}`)); break;
              case 13: fs.rmSync(a); break;
              case 14: { // a folder becomes a symlink to where its files went
                const dir = path.dirname(a);
                if (dir === lib) break;
                const real = `${dir}.real${n++}`;
                fs.renameSync(dir, real);
                fs.symlinkSync(path.basename(real), dir);
                folderLinks.push(dir);
                break;
              }
              case 15: { // ... and a folder again
                const link = folderLinks.pop();
                if (link === undefined || !fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) break;
                const real = path.join(path.dirname(link), fs.readlinkSync(link));
                fs.rmSync(link);
                fs.renameSync(real, link);
                break;
              }
              case 16: fs.mkdirSync(path.join(path.dirname(a), `empty${n++}`)); break;
              case 17: write(path.join(path.dirname(a), longName(n++, Math.floor(rnd() * 3))), `long ${n}`); break;
              case 18: write(path.join(path.dirname(a), `\udcff\udcfe dir${n++}`, `caf\udce9 ${n}`), `in a folder whose name is not UTF-8 ${n}`); break;
            }
          } catch (err) {
            // the tree changed under the generator's feet (a directory that became a file): no change
            events.push(`  not possible: ${(err as NodeJS.ErrnoException).code ?? err}`);
          }
        }
      }
    } catch (err) {
      (err as Error).message += `\nchanges and runs so far (seed ${seed}):\n${events.join('\n')}`;
      throw err;
    } finally {
      if (!process.env.BLAINE_KEEP_TEST_DIRS) fs.rmSync(base, { recursive: true, force: true });
    }
  });
}
/** The invariants of the metadata churn after one run. */
function checkMetadata(lib: string, disk: string, db: string, base: string, round: number, rules: string[]): void {
  assertDiskMatchesCatalog(disk, db, { parity: true });
  const excludes = (rel: string) =>
    (rules.includes('*.tmp') && rel.endsWith('.tmp') && !(rules.includes('d2/keep.tmp') && rel === 'd2/keep.tmp')) ||
    (rules.includes('d1/') && rel.startsWith('d1/'));
  const library = objectsUnder(lib);
  const wanted = [...library.keys()].filter((p) => !excludes(p));
  const catalog = metaRows(path.join(disk, '.blaine', 'catalog.sqlite'));
  // library <-> catalog
  for (const rel of wanted) {
    const st = library.get(rel)!;
    const row = catalog.get(path.join(lib, rel));
    assert.ok(row, `round ${round}: ${rel} is not catalogued`);
    const full = path.join(lib, rel);
    assert.equal(row.kind, st.isSymbolicLink() ? 'symlink' : 'file', `${rel}: kind`);
    if (row.kind === 'file') {
      assert.equal(row.sha256, sha256(fs.readFileSync(full)), `${rel}: catalogued content`);
      assert.equal(row.mode & 0o7777, Number(st.mode & 0o7777n), `${rel}: catalogued mode`);
    } else assert.equal(row.link_target, fs.readlinkSync(full), `${rel}: catalogued target`);
    assert.deepEqual([row.uid, row.gid], [Number(st.uid), Number(st.gid)], `${rel}: catalogued owner`);
    assert.equal(BigInt(row.mtime_s) * 1_000_000_000n + BigInt(row.mtime_ns), st.mtimeNs, `${rel}: catalogued mtime`);
  }
  // catalog <-> disk: each name's mode and owner; the mtime of every name stored alone
  const stored = new Map<string, number>();
  for (const p of catalog.keys()) {
    const st = fs.lstatSync(path.join(disk, p), { bigint: true });
    if (st.isFile()) stored.set(`${st.ino}`, (stored.get(`${st.ino}`) ?? 0) + 1);
  }
  for (const [p, row] of catalog) {
    const st = fs.lstatSync(path.join(disk, p), { bigint: true });
    if (row.kind === 'file') assert.equal(Number(st.mode & 0o7777n), row.mode & 0o7777, `${p}: mode on the disk`);
    if (isRoot) assert.deepEqual([Number(st.uid), Number(st.gid)], [row.uid, row.gid], `${p}: owner on the disk`);
    if (row.kind === 'symlink' || stored.get(`${st.ino}`) === 1) {
      assert.equal(st.mtimeNs, BigInt(row.mtime_s) * 1_000_000_000n + BigInt(row.mtime_ns), `${p}: mtime on the disk`);
    }
  }
  // library <-> a full restore, hardlink groups included
  const to = path.join(base, `restored-${round}`);
  const r = blaine(['restore', '--dest', disk, '--db', db, '--to', to, '*']);
  assert.equal(r.status, 0, `restore after round ${round}: ${r.stderr}`);
  const back = path.join(to, lib.slice(1));
  for (const rel of wanted) {
    const there = path.join(back, rel);
    assert.ok(fs.existsSync(there) || fs.lstatSync(there, { throwIfNoEntry: false }), `round ${round}: ${rel} was not restored`);
    assert.equal(fidelity(there, fs.lstatSync(there, { bigint: true })), fidelity(path.join(lib, rel), library.get(rel)!), `round ${round}: ${rel} restored`);
  }
  assert.deepEqual(linkGroups(back, wanted), linkGroups(lib, wanted), `round ${round}: hardlink groups after restore`);
  fs.rmSync(to, { recursive: true, force: true });
}
