// Makes test/fixtures/schemaN/: a small archive written by a Blaine of catalog schema N, so that
// migration tests start from catalogs and disks that code really wrote, not from a downgrade.
//
//   node scripts/make-schema-fixtures.mjs CHECKOUT N
//
// CHECKOUT: a built checkout of a Blaine with catalog schema N. How the checked-in fixtures were made:
// schema 7 (SHA-256 identity, before the lean layout) with commit 9e43b7c, schema 8 (the lean layout,
// folders as rows, names as bytes) with commit a71cc85:
//   git archive COMMIT | tar -x -C DIR && ln -s "$PWD/node_modules" DIR/ && cp -r native/build DIR/native/
//   (cd DIR && npx tsc -p . && node scripts/bundle.mjs)
// Runs as root (the encrypted disk needs gocryptfs and FUSE).
//
// What it holds, all under ROOT = /tmp/blaine-schemaN-fixture (encrypted names on disk E spell
// the library's paths, so the archive only works at that place):
// - lib/: the library now: a hardlink pair, equal content under two names, a symlink, renames,
//   folders (one empty); from schema 8 on also a name that is not UTF-8 (byte 0xFF);
// - disk-b/: volume "B", offline while its files were renamed, deleted and linked: its three
//   deferred actions (RENAME, DELETE, LINK) wait in the host catalog;
// - disk-a/: volume "A", after a run that renamed one of its files and deleted another (--clean);
//   one row of A (photos/p1.jpg) is made as a migrated SHA-1 row is (SHA-1, no SHA-256);
// - disk-e/: volume "E", encrypted (key in ROOT/key);
// - host/catalog.sqlite: the host catalog.
// Written out: archive.tar.gz (ROOT whole, POSIX format: hardlinks, symlinks and ns mtimes kept),
// and each catalog alone (host.sqlite, a.sqlite, b.sqlite, e.sqlite; VACUUM INTO), with layout.json.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const checkout = process.argv[2];
const schema = Number(process.argv[3]);
if (!checkout || !fs.existsSync(path.join(checkout, 'bin', 'blaine')) || !(schema >= 7)) {
  console.error('usage: node scripts/make-schema-fixtures.mjs CHECKOUT N (a built checkout of Blaine with catalog schema N, 7 or later)');
  process.exit(2);
}
const ROOT = `/tmp/blaine-schema${schema}-fixture`;
const out = path.join(repo, 'test', 'fixtures', `schema${schema}`);
const lib = path.join(ROOT, 'lib');
const db = path.join(ROOT, 'host', 'catalog.sqlite');
const key = path.join(ROOT, 'key');
const disk = (l) => path.join(ROOT, `disk-${l}`);

function blaine(...args) {
  const r = spawnSync(process.execPath, [path.join(checkout, 'bin', 'blaine'), ...args], { encoding: 'utf8' });
  process.stdout.write(`$ blaine ${args.join(' ')}\n${r.stdout}${r.stderr}`);
  if (r.status !== 0) throw new Error(`blaine ${args[0]} failed (${r.status})`);
}
const backup = (l, ...args) => blaine('backup', '--dest', disk(l), '--db', db, '--reserve', '0', '--no-parity', ...args, lib);

// Content from a fixed seed, times whole and in nanoseconds, so that a test can tell them apart.
let n = 0;
function put(rel, size) {
  const file = path.join(lib, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, crypto.createHash('sha256').update(`blaine-schema7-${rel}`).digest().toString('hex').repeat(Math.ceil(size / 64)).slice(0, size));
  fs.chmodSync(file, n % 2 ? 0o640 : 0o644);
  const t = 1_650_000_000 + 1000 * ++n;
  fs.utimesSync(file, t + 0.123456789, t + 0.123456789);
}

fs.rmSync(ROOT, { recursive: true, force: true });
fs.mkdirSync(ROOT, { recursive: true });
fs.writeFileSync(key, `${crypto.randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
for (const l of ['a', 'b', 'e']) fs.mkdirSync(disk(l));
try {
  for (const i of [1, 2, 3]) put(`old/o${i}.bin`, 3000 + i);
  backup('b', '--init', '--label', 'B');

  put('photos/p1.jpg', 5000);
  put('photos/p2.jpg', 5100);
  fs.linkSync(path.join(lib, 'photos/p1.jpg'), path.join(lib, 'photos/p1-link.jpg'));
  put('docs/a.txt', 700);
  put('docs/b.txt', 800);
  fs.copyFileSync(path.join(lib, 'docs/a.txt'), path.join(lib, 'docs/same-as-a.txt'));
  fs.symlinkSync('../photos/p1.jpg', path.join(lib, 'docs/p1.lnk'));
  if (schema >= 8) {
    // Names are bytes from schema 8 on: one that is not UTF-8, and a folder that stays empty.
    const odd = Buffer.concat([Buffer.from(path.join(lib, 'docs') + '/odd-'), Buffer.from([0xff, 0x80]), Buffer.from('.txt')]);
    fs.writeFileSync(odd, 'not UTF-8\n');
    fs.utimesSync(odd, 1_650_000_500.5, 1_650_000_500.5);
    fs.mkdirSync(path.join(lib, 'empty'), { mode: 0o750 });
  }
  backup('a', '--init', '--label', 'A');

  // A's own changes happen on A; B's wait for B.
  fs.renameSync(path.join(lib, 'photos/p2.jpg'), path.join(lib, 'photos/p2-renamed.jpg'));
  fs.rmSync(path.join(lib, 'docs/b.txt'));
  fs.renameSync(path.join(lib, 'old/o1.bin'), path.join(lib, 'old/o1-moved.bin'));
  fs.rmSync(path.join(lib, 'old/o2.bin'));
  fs.linkSync(path.join(lib, 'old/o3.bin'), path.join(lib, 'old/o3-link.bin'));
  backup('a', '--clean', '--max-delete', '100');

  put('secret/s1.txt', 900);
  fs.linkSync(path.join(lib, 'secret/s1.txt'), path.join(lib, 'secret/s1-link.txt'));
  backup('e', '--init', '--encrypt', '--key-file', key, '--label', 'E');

  // A migrated row (schema 6's migration): its SHA-1 only, until its content is next read.
  const p1 = path.join(lib, 'photos/p1.jpg');
  const sha1 = crypto.createHash('sha1').update(fs.readFileSync(p1)).digest('hex');
  for (const f of [db, path.join(disk('a'), '.blaine', 'catalog.sqlite')]) {
    const d = new Database(f);
    if (d.pragma('user_version', { simple: true }) !== schema) throw new Error(`${f} is not of schema ${schema}`);
    // Schema 8 keeps rows in `entries`, paths as bytes (`files` is a view there).
    if (schema >= 8) d.prepare('UPDATE entries SET sha256 = NULL, sha1 = ? WHERE path = ?').run(sha1, Buffer.from(p1));
    else d.prepare('UPDATE files SET sha256 = NULL, sha1 = ? WHERE path = ?').run(sha1, p1);
    d.close();
  }

  fs.mkdirSync(out, { recursive: true });
  // Opened writable so that closing folds the log in and removes it (a read-only connection leaves -wal and -shm behind).
  const single = (from, to) => {
    fs.rmSync(path.join(out, to), { force: true });
    const d = new Database(from);
    d.exec(`VACUUM INTO '${path.join(out, to).replaceAll("'", "''")}'`);
    d.close();
  };
  single(db, 'host.sqlite');
  single(path.join(disk('a'), '.blaine', 'catalog.sqlite'), 'a.sqlite');
  single(path.join(disk('b'), '.blaine', 'catalog.sqlite'), 'b.sqlite');
  // The encrypted disk's catalog, read through a read-only mount of it.
  const mnt = path.join(ROOT, 'mnt');
  fs.mkdirSync(mnt);
  const mount = spawn(process.execPath, [path.join(checkout, 'bin', 'blaine'), 'mount', '--dest', disk('e'), '--key-file', key, mnt], { stdio: 'inherit' });
  const inside = path.join(mnt, '.blaine', 'catalog.sqlite');
  for (let i = 0; i < 200 && !fs.existsSync(inside); i++) spawnSync('sleep', ['0.05']);
  try {
    fs.copyFileSync(inside, path.join(ROOT, 'e-catalog.sqlite'));
  } finally {
    mount.kill('SIGTERM');
    await new Promise((resolve) => mount.on('exit', resolve));
  }
  single(path.join(ROOT, 'e-catalog.sqlite'), 'e.sqlite');
  for (const f of ['e-catalog.sqlite', 'e-catalog.sqlite-wal', 'e-catalog.sqlite-shm']) fs.rmSync(path.join(ROOT, f), { force: true });
  fs.rmdirSync(mnt);

  const tar = spawnSync('tar', ['--format=posix', '-C', ROOT, '-czf', path.join(out, 'archive.tar.gz'), '.'], { stdio: 'inherit' });
  if (tar.status !== 0) throw new Error('tar failed');
  fs.writeFileSync(path.join(out, 'layout.json'), JSON.stringify({ root: ROOT, lib, db, key, disks: { A: disk('a'), B: disk('b'), E: disk('e') }, sha1Row: p1 }, null, 2) + '\n');
  console.log(`wrote ${out}`);
} finally {
  fs.rmSync(ROOT, { recursive: true, force: true });
}
