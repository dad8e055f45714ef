// Makes test/fixtures/sha1-linked/: the host and disk catalogs that a Blaine of catalog schema 4
// (the last release; content known by SHA-1 alone) wrote after backing up a library holding the two public SHA-1
// collision pairs, which it stored as one file per pair. src/backup/sha1-links.test.ts rebuilds
// that disk from them and checks that the next backup stores each pair's second file on its own.
//
//   node scripts/make-sha1-fixtures.mjs CHECKOUT
//
// CHECKOUT: a built checkout of that older Blaine (e.g. `git archive 08472e9 | tar -x -C DIR`, then
// `npm ci`/`npm run build` there). The collision pairs are read from ../shared/fixtures/sha1-collisions/.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const checkout = process.argv[2];
if (!checkout || !fs.existsSync(path.join(checkout, 'bin', 'blaine'))) {
  console.error('usage: node scripts/make-sha1-fixtures.mjs CHECKOUT (a built checkout of Blaine with catalog schema 4)');
  process.exit(2);
}
const pairs = path.join(repo, '..', 'shared', 'fixtures', 'sha1-collisions');
const names = ['sha-mbles-1.bin', 'sha-mbles-2.bin', 'shattered-1.pdf', 'shattered-2.pdf'];
const out = path.join(repo, 'test', 'fixtures', 'sha1-linked');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-sha1-fixtures-'));
try {
  const lib = path.join(work, 'lib');
  const disk = path.join(work, 'disk');
  const db = path.join(work, 'host', 'catalog.sqlite');
  fs.mkdirSync(lib);
  fs.mkdirSync(disk);
  // Whole seconds apart, so the test can give its library the same times.
  names.forEach((n, i) => {
    fs.copyFileSync(path.join(pairs, n), path.join(lib, n));
    fs.chmodSync(path.join(lib, n), 0o644);
    fs.utimesSync(path.join(lib, n), 1_600_000_000 + i, 1_600_000_000 + i);
  });
  const run = spawnSync(process.execPath, [path.join(checkout, 'bin', 'blaine'), 'backup', '--init', '--label', 'old', '--dest', disk, '--db', db, '--reserve', '0', '--no-parity', lib], { encoding: 'utf8' });
  process.stdout.write(run.stdout + run.stderr);
  if (run.status !== 0) throw new Error(`the older Blaine's backup failed (${run.status})`);
  // Which library file's bytes each name on the disk holds, as that backup left them.
  const sha = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
  const byContent = new Map(names.map((n) => [sha(path.join(lib, n)), n]));
  const holds = Object.fromEntries(names.map((n) => [n, byContent.get(sha(path.join(disk, lib.slice(1), n)))]));
  const wrong = names.filter((n) => holds[n] !== n);
  if (wrong.length !== 2) throw new Error(`expected the older Blaine to store two files under another's bytes, found ${wrong.length}`);
  fs.mkdirSync(out, { recursive: true });
  // VACUUM INTO: one self-contained, compact file each (no -wal beside it).
  for (const [from, to] of [[db, 'host.sqlite'], [path.join(disk, '.blaine', 'catalog.sqlite'), 'disk.sqlite']]) {
    fs.rmSync(path.join(out, to), { force: true });
    const d = new Database(from);
    d.exec(`VACUUM INTO '${path.join(out, to).replaceAll("'", "''")}'`);
    d.close();
  }
  fs.copyFileSync(path.join(disk, '.blaine', 'volume.json'), path.join(out, 'volume.json'));
  const times = Object.fromEntries(names.map((n, i) => [n, 1_600_000_000 + i]));
  fs.writeFileSync(path.join(out, 'library.json'), JSON.stringify({ lib, times, holds }, null, 2) + '\n');
  console.log(`wrote ${out}: ${wrong.join(' and ')} stored under another file's bytes`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
