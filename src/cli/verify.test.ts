import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { backup, fileSha, assertDiskMatchesCatalog, blaine, readTree, rot, rows, sha256, testEnv, volumeOf, write, type RunResult } from '../../test/helpers.js';
import { ROW_FULL_PATH } from '../catalog/testing.js';

interface Report {
  ok: boolean;
  checked: number;
  remaining: number;
  problems: Array<{ path: string; kind: string; repaired: boolean; detail: string }>;
}

const T = new Date('2021-05-06T07:08:09.123Z');

function setup() {
  const env = testEnv('blaine-verify-');
  /** Where a library file is stored on the disk. */
  const onDisk = (rel: string) => path.join(env.disk, env.lib, rel);
  const parityOf = (rel: string) => path.join(env.disk, '.blaine', 'parity', env.lib, `${rel}.par2`);
  return { ...env, onDisk, parityOf };
}
type Env = ReturnType<typeof setup>;

function verify(env: Env, ...extra: string[]): { r: RunResult; report: Report } {
  const r = blaine(['verify', '--dest', env.disk, '--db', env.db, '--json', ...extra]);
  let report: Report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`verify gave no JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return { r, report };
}

/** Problems as "kind path" (library paths relative to the library), sorted. */
function kinds(env: Env, report: Report, opts: { open?: boolean } = {}): string[] {
  return report.problems
    .filter((p) => !opts.open || !p.repaired)
    .map((p) => `${p.kind} ${p.path.startsWith(env.lib + '/') ? p.path.slice(env.lib.length + 1) : path.relative(env.disk, p.path)}`)
    .sort();
}

function overwrite(file: string, offset: number, n: number): void {
  const st = fs.statSync(file);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, crypto.randomBytes(n), 0, n, offset);
  fs.closeSync(fd);
  fs.utimesSync(file, st.atime, st.mtime);
}

function verifiedAt(env: Env, catalog = path.join(env.disk, '.blaine', 'catalog.sqlite')): Map<string, number | null> {
  const db = new Database(catalog, { readonly: true });
  try {
    const all = db.prepare('SELECT path, verified_at FROM files WHERE kind = ? ORDER BY path').all('file') as Array<{ path: string; verified_at: number | null }>;
    return new Map(all.map((r) => [r.path.slice(env.lib.length + 1), r.verified_at]));
  } finally {
    db.close();
  }
}

test('verify --checksum finds rot in files and parity; --fix repairs it in place and a second verify is clean', () => {
  const env = setup();
  try {
    const { lib, onDisk } = env;
    write(path.join(lib, 'photos/a.jpg'), crypto.randomBytes(100_000), T);
    fs.linkSync(path.join(lib, 'photos/a.jpg'), path.join(lib, 'photos/a-link.jpg'));
    write(path.join(lib, 'photos/b.jpg'), crypto.randomBytes(60_000), T);
    write(path.join(lib, 'music/c.flac'), crypto.randomBytes(80_000), T);
    write(path.join(lib, 'docs/readme.txt'), 'read me\n', T);
    write(path.join(lib, 'empty'), '', T);
    fs.symlinkSync('photos/a.jpg', path.join(lib, 'link'));
    backup(env, ['--json', '--init', '--label', 'A'], { ok: true });
    const want = new Map([...readTree(env.disk)].map(([p, t]) => [p, t.sha256]));

    const clean = verify(env, '--checksum');
    assert.equal(clean.r.status, 0, clean.r.stderr);
    assert.deepEqual(clean.report.problems, []);
    assert.equal(clean.report.ok, true);
    assert.equal(clean.report.checked, 6, 'every catalogued file read, the symlink not');

    const inode = fs.statSync(onDisk('photos/a.jpg')).ino;
    rot(onDisk('photos/a.jpg'), 5000);
    rot(onDisk('photos/b.jpg'), 40_000, 100);
    rot(onDisk('docs/readme.txt'), 2, 1);
    // A small file's set is one file, recovery slices included (SPEC §6).
    const cVol = fs.readdirSync(path.dirname(env.parityOf('music/c.flac'))).find((n) => n.startsWith('c.flac.'))!;
    rot(path.join(path.dirname(env.parityOf('music/c.flac')), cVol), 3000);

    const quick = verify(env);
    assert.equal(quick.r.status, 0, 'rot that keeps size and mtime is invisible without --checksum');
    assert.deepEqual(quick.report.problems, []);

    const found = verify(env, '--checksum');
    assert.equal(found.r.status, 4, found.r.stderr);
    assert.equal(found.report.ok, false);
    assert.deepEqual(kinds(env, found.report), [
      'checksum docs/readme.txt',
      'checksum photos/a-link.jpg',
      'checksum photos/a.jpg',
      'checksum photos/b.jpg',
      'parity-damaged music/c.flac',
    ]);
    assert.ok(found.report.problems.every((p) => !p.repaired));
    assert.match(found.r.stderr, /5 problem\(s\) found; `blaine verify --fix`/);
    assert.equal(fileSha(onDisk('photos/b.jpg')) === want.get(`${lib.slice(1)}/photos/b.jpg`), false, 'a verify without --fix changes nothing');

    const fixed = verify(env, '--checksum', '--fix');
    assert.equal(fixed.r.status, 0, fixed.r.stderr);
    assert.equal(fixed.report.ok, true);
    assert.equal(fixed.report.problems.length, 5);
    assert.ok(fixed.report.problems.every((p) => p.repaired), JSON.stringify(fixed.report.problems));
    for (const [p, sha] of want) if (sha) assert.equal(fileSha(path.join(env.disk, p)), sha, `${p} repaired`);
    // Repaired in place: the hardlinked names are still one inode, the one they were.
    assert.equal(fs.statSync(onDisk('photos/a.jpg')).ino, inode);
    assert.equal(fs.statSync(onDisk('photos/a-link.jpg')).ino, inode);
    assert.equal(fs.statSync(onDisk('photos/b.jpg')).mtime.toISOString(), T.toISOString(), 'mtime kept by the repair');

    const again = verify(env, '--checksum');
    assert.equal(again.r.status, 0, again.r.stderr);
    assert.deepEqual(again.report.problems, []);
    assertDiskMatchesCatalog(env.disk, env.db);
    assert.deepEqual(fs.readdirSync(path.join(env.disk, '.blaine', 'tmp')), [], 'no scratch left on the disk');
  } finally {
    env.cleanup();
  }
});

test('damage beyond the parity is unrepairable (exit 4); the rest is repaired and nothing else is lost', (t) => {
  const env = setup();
  t.after(env.cleanup);
  const { lib, onDisk } = env;
  write(path.join(lib, 'video/big.mkv'), crypto.randomBytes(200_000), T);
  write(path.join(lib, 'video/small.mkv'), crypto.randomBytes(50_000), T);
  write(path.join(lib, 'video/ok.mkv'), crypto.randomBytes(30_000), T);
  backup(env, ['--json', '--init'], { ok: true });
  const okSha = fileSha(onDisk('video/ok.mkv'));
  overwrite(onDisk('video/big.mkv'), 10_000, 60_000);
  rot(onDisk('video/small.mkv'), 100);
  const damaged = fileSha(onDisk('video/big.mkv'));

  const found = verify(env, '--checksum');
  assert.equal(found.r.status, 4);
  assert.deepEqual(kinds(env, found.report), ['checksum video/small.mkv', 'unrepairable video/big.mkv']);
  assert.match(found.report.problems.find((p) => p.kind === 'unrepairable')!.detail, /beyond what its parity can repair/);

  const fixed = verify(env, '--checksum', '--fix');
  assert.equal(fixed.r.status, 4, fixed.r.stderr);
  assert.equal(fixed.report.ok, false);
  assert.deepEqual(kinds(env, fixed.report, { open: true }), ['unrepairable video/big.mkv']);
  assert.equal(fixed.report.problems.find((p) => p.path.endsWith('small.mkv'))!.repaired, true);
  assert.match(fixed.r.stderr, /1 problem\(s\) could not be repaired/);
  assert.equal(fileSha(onDisk('video/big.mkv')), damaged, 'the unrepairable file is left as it was, not removed');
  assert.equal(fileSha(onDisk('video/ok.mkv')), okSha);
  assert.ok(fs.existsSync(env.parityOf('video/big.mkv')), 'its parity is kept');

  const after = verify(env, '--checksum');
  assert.equal(after.r.status, 4);
  assert.deepEqual(kinds(env, after.report), ['unrepairable video/big.mkv']);
  const verified = verifiedAt(env);
  assert.equal(verified.get('video/big.mkv'), null, 'a damaged file is never recorded as verified');
  assert.ok(verified.get('video/small.mkv'));
});

test('a truncated and an extended file are size problems that --fix repairs from parity', (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'short.bin'), crypto.randomBytes(100_000), T);
  write(path.join(env.lib, 'long.bin'), crypto.randomBytes(100_000), T);
  backup(env, ['--json', '--init'], { ok: true });
  const want = { short: fileSha(env.onDisk('short.bin')), long: fileSha(env.onDisk('long.bin')) };
  fs.truncateSync(env.onDisk('short.bin'), 95_000);
  fs.appendFileSync(env.onDisk('long.bin'), crypto.randomBytes(3000));
  for (const f of ['short.bin', 'long.bin']) fs.utimesSync(env.onDisk(f), T, T);
  const found = verify(env);
  assert.equal(found.r.status, 4);
  assert.deepEqual(kinds(env, found.report), ['size long.bin', 'size short.bin'], 'repairable, so not unrepairable');
  const fixed = verify(env, '--fix');
  assert.equal(fixed.r.status, 0, fixed.r.stderr);
  assert.equal(fixed.report.checked, 2, 'the repaired bytes were checked');
  assert.equal(fileSha(env.onDisk('short.bin')), want.short);
  assert.equal(fileSha(env.onDisk('long.bin')), want.long);
  assert.equal(fs.statSync(env.onDisk('long.bin')).mtime.toISOString(), T.toISOString());
  assert.equal(verify(env, '--checksum').r.status, 0);
});

test('a one-character name and a user file named movie.par2: backup, rename, verify, repair, restore', (t) => {
  const env = setup();
  t.after(env.cleanup);
  const { lib, onDisk } = env;
  const a = crypto.randomBytes(3000);
  const movie = crypto.randomBytes(20_000);
  write(path.join(lib, 'x/a'), a, T);
  write(path.join(lib, 'video/movie.par2'), movie, T);
  backup(env, ['--json', '--init'], { ok: true });
  fs.mkdirSync(path.join(lib, 'z'));
  fs.renameSync(path.join(lib, 'x/a'), path.join(lib, 'z/q'));
  fs.mkdirSync(path.join(lib, 'film'));
  fs.renameSync(path.join(lib, 'video/movie.par2'), path.join(lib, 'film/movie.par2'));
  const renamed = JSON.parse(backup(env, ['--json'], { ok: true }).stdout);
  assert.equal(renamed.renamed, 2);
  assert.equal(renamed.bytesCopied, 0);
  // The parity moved with its file and still records the original name.
  const byPath = new Map(rows(env.db).map((r) => [r.path.slice(lib.length + 1), r.parity_name]));
  assert.equal(byPath.get('z/q'), `${lib.slice(1)}/x/a`);
  assert.equal(byPath.get('film/movie.par2'), `${lib.slice(1)}/video/movie.par2`);
  assert.ok(fs.existsSync(env.parityOf('film/movie.par2')));
  assert.ok(fs.existsSync(env.parityOf('z/q')));
  assert.deepEqual(readTree(path.join(env.disk, lib)).get('film/movie.par2')?.sha256, sha256(movie), 'the user file is data, untouched');

  assert.equal(verify(env, '--checksum').r.status, 0);
  rot(onDisk('z/q'), 10);
  rot(onDisk('film/movie.par2'), 12_000);
  const found = verify(env, '--checksum');
  assert.equal(found.r.status, 4);
  assert.deepEqual(kinds(env, found.report), ['checksum film/movie.par2', 'checksum z/q']);

  const out = path.join(env.base, 'out');
  const restored = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', out, '--json', `${lib}/*`]);
  assert.equal(restored.status, 0, restored.stderr);
  assert.deepEqual(JSON.parse(restored.stdout).repaired, 2);
  assert.equal(fileSha(path.join(out, lib, 'z/q')), sha256(a));
  assert.equal(fileSha(path.join(out, lib, 'film/movie.par2')), sha256(movie));

  const fixed = verify(env, '--checksum', '--fix');
  assert.equal(fixed.r.status, 0, fixed.r.stderr);
  assert.equal(fileSha(onDisk('z/q')), sha256(a));
  assert.equal(fileSha(onDisk('film/movie.par2')), sha256(movie));
  assert.equal(verify(env, '--checksum').r.status, 0);
  assertDiskMatchesCatalog(env.disk, env.db);
});

test('--checksum reads the least recently verified first, within --max-time and --older-than; verified_at is on the disk', (t) => {
  const env = setup();
  t.after(env.cleanup);
  for (const n of ['a', 'b', 'c', 'd']) write(path.join(env.lib, `${n}.bin`), crypto.randomBytes(5000), T);
  backup(env, ['--json', '--init'], { ok: true });
  assert.ok([...verifiedAt(env).values()].every((v) => v === null));

  // --max-time 0: the budget is spent at once, but every run reads one file so that it gets on.
  const first = verify(env, '--checksum', '--max-time', '0');
  assert.equal(first.r.status, 0, first.r.stderr);
  assert.equal(first.report.checked, 1);
  assert.equal(first.report.remaining, 3);
  assert.deepEqual([...verifiedAt(env)].filter(([, v]) => v !== null).map(([p]) => p), ['a.bin']);
  const second = verify(env, '--checksum', '--max-time', '0');
  assert.equal(second.report.checked, 1);
  assert.deepEqual([...verifiedAt(env)].filter(([, v]) => v !== null).map(([p]) => p), ['a.bin', 'b.bin'], 'never-verified files come first');

  // Pretend a.bin was verified long ago: it is now the least recently verified of all.
  const cat = new Database(path.join(env.disk, '.blaine', 'catalog.sqlite'));
  cat.prepare(`UPDATE entries SET verified_at = ? WHERE ${ROW_FULL_PATH} = CAST(? AS BLOB)`).run(1000, `${env.lib}/a.bin`);
  cat.close();
  const rest = verify(env, '--checksum', '--older-than', '1');
  assert.equal(rest.report.checked, 3, 'c, d never verified and a verified long ago');
  assert.equal(rest.report.remaining, 0);
  const none = verify(env, '--checksum', '--older-than', '1');
  assert.equal(none.r.status, 0);
  assert.equal(none.report.checked, 0, 'everything was verified less than a day ago');
  const now = Math.floor(Date.now() / 1000);
  for (const [p, v] of verifiedAt(env)) assert.ok(v !== null && Math.abs(v - now) < 120, `${p} verified_at ${v}`);
  // The host catalog knows too (report's verify age).
  for (const [p, v] of verifiedAt(env, env.db)) assert.ok(v !== null, `${p} in the host catalog`);
  const all = verify(env, '--checksum');
  assert.equal(all.report.checked, 4, 'without --older-than every file is read');

  const usage = blaine(['verify', '--dest', env.disk, '--db', env.db, '--older-than', '3']);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /^blaine: --older-than and --max-time go with --checksum\n$/);
  const bad = blaine(['verify', '--dest', env.disk, '--db', env.db, '--checksum', '--max-time', 'soon']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--max-time must be a number/);
});

test('verify finds mtime, extra, orphan parity, missing parity and missing files; --fix mends what the disk allows', (t) => {
  const env = setup();
  t.after(env.cleanup);
  const { lib, onDisk } = env;
  write(path.join(lib, 'a.jpg'), crypto.randomBytes(40_000), T);
  fs.linkSync(path.join(lib, 'a.jpg'), path.join(lib, 'a-twin.jpg'));
  write(path.join(lib, 'b.jpg'), crypto.randomBytes(30_000), T);
  write(path.join(lib, 'gone.jpg'), crypto.randomBytes(100_000), T);
  write(path.join(lib, 'tiny'), 'tiny\n', T);
  write(path.join(lib, 'c.jpg'), crypto.randomBytes(20_000), T);
  fs.symlinkSync('a.jpg', path.join(lib, 'sym'));
  backup(env, ['--json', '--init'], { ok: true });

  fs.utimesSync(onDisk('b.jpg'), new Date('2020-01-01'), new Date('2020-01-01'));
  write(onDisk('stray/extra.txt'), 'not archived\n');
  const pdir = path.dirname(env.parityOf('a.jpg'));
  for (const n of fs.readdirSync(pdir).filter((n) => n.startsWith('b.jpg.'))) {
    fs.copyFileSync(path.join(pdir, n), path.join(pdir, n.replace('b.jpg', 'ghost')));
  }
  for (const n of fs.readdirSync(pdir).filter((n) => n.startsWith('c.jpg.'))) fs.rmSync(path.join(pdir, n));
  fs.rmSync(onDisk('gone.jpg'));
  fs.rmSync(onDisk('a-twin.jpg'));
  fs.rmSync(onDisk('tiny'));
  fs.rmSync(onDisk('sym'));

  const found = verify(env);
  assert.equal(found.r.status, 4);
  const ghost = fs.readdirSync(pdir).filter((n) => n.startsWith('ghost'));
  assert.deepEqual(kinds(env, found.report), [
    'extra stray/extra.txt',
    'missing a-twin.jpg',
    'missing gone.jpg',
    'missing sym',
    'missing tiny',
    // The files removed from the disk's folder by hand changed that folder's mtime.
    'mtime ../lib',
    'mtime b.jpg',
    'parity-missing c.jpg',
    ...ghost.map((n) => `parity-orphan ${path.relative(env.disk, path.join(pdir, n))}`),
  ].sort());

  const fixed = verify(env, '--fix');
  assert.equal(fixed.r.status, 4, 'the lost file cannot be given back');
  assert.deepEqual(kinds(env, fixed.report, { open: true }), ['missing gone.jpg']);
  assert.match(fixed.report.problems.find((p) => p.path.endsWith('gone.jpg'))!.detail, /the disk holds nothing to rebuild it from/);
  assert.equal(fs.statSync(onDisk('b.jpg')).mtime.toISOString(), T.toISOString());
  assert.equal(fs.existsSync(path.join(env.disk, lib, 'stray')), false, 'the extra file and its emptied folder are gone');
  assert.deepEqual(fs.readdirSync(pdir).filter((n) => n.startsWith('ghost')), []);
  assert.ok(fs.existsSync(env.parityOf('c.jpg')), 'parity made again');
  assert.equal(fs.statSync(onDisk('a-twin.jpg')).ino, fs.statSync(onDisk('a.jpg')).ino, 'a lost hardlink name is linked again');
  assert.equal(fs.readFileSync(onDisk('tiny'), 'utf8'), 'tiny\n', 'a file its parity covers whole is rebuilt');
  assert.equal(fs.readlinkSync(onDisk('sym')), 'a.jpg', 'a symlink is made again from the catalog');

  const after = verify(env, '--checksum');
  assert.equal(after.r.status, 4);
  assert.deepEqual(kinds(env, after.report), ['missing gone.jpg']);
});

test('files backed up with --no-parity: no parity is expected; user errors are one sentence', (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'a.bin'), crypto.randomBytes(10_000), T);
  backup(env, ['--json', '--init', '--no-parity'], { ok: true });
  const r = verify(env, '--checksum');
  assert.equal(r.r.status, 0, r.r.stderr);
  assert.deepEqual(r.report.problems, []);

  // A backup with parity gives every file parity (also a.bin, made then); the disk remembers
  // --no-parity from --init, so the command line asks for it. When making it failed for a file
  // (the backup warns), the file is reported and --fix makes it.
  write(path.join(env.lib, 'b.bin'), crypto.randomBytes(10_000), T);
  backup(env, ['--json', '--parity', '10'], { ok: true });
  assert.ok(fs.existsSync(env.parityOf('a.bin')));
  for (const f of [path.join(env.disk, '.blaine', 'catalog.sqlite'), env.db]) {
    const cat = new Database(f);
    cat.prepare(`UPDATE entries SET parity_name = NULL WHERE ${ROW_FULL_PATH} = CAST(? AS BLOB)`).run(`${env.lib}/a.bin`);
    cat.close();
  }
  const pdir = path.dirname(env.parityOf('a.bin'));
  for (const n of fs.readdirSync(pdir).filter((n) => n.startsWith('a.bin.'))) fs.rmSync(path.join(pdir, n));
  const found = verify(env);
  assert.equal(found.r.status, 4);
  assert.deepEqual(kinds(env, found.report), ['no-parity a.bin']);
  const fixed = verify(env, '--fix', '--parity', '20');
  assert.equal(fixed.r.status, 0, fixed.r.stderr);
  assert.ok(fs.existsSync(env.parityOf('a.bin')));
  assert.equal(rows(env.db).find((x) => x.path.endsWith('/a.bin'))!.parity_name, `${env.lib.slice(1)}/a.bin`);
  assert.equal(verify(env, '--checksum').r.status, 0);

  const noDest = blaine(['verify', '--db', env.db]);
  assert.equal(noDest.status, 2);
  assert.equal(noDest.stderr, 'blaine: --dest is required: name the mounted archive disk\n');
  const plain = path.join(env.base, 'plain');
  fs.mkdirSync(plain);
  const notDisk = blaine(['verify', '--dest', plain, '--db', env.db]);
  assert.equal(notDisk.status, 1);
  assert.match(notDisk.stderr, /^blaine: .* is not a Blaine disk; run `blaine backup --init`/);
  assert.doesNotMatch(notDisk.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(volumeOf(env.disk).label, 'disk');
});
