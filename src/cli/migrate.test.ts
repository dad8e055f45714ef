/**
 * Catalogs of schema 7 and of schema 8 written by the code of that time
 * (scripts/make-schema-fixtures.mjs: plain disks A and B, encrypted disk E, deferred actions for
 * the offline B, a migrated SHA-1 row; from schema 8 folders and a name that is not UTF-8) are
 * migrated to today's schema once (7 -> 8 -> 9 in a row), each with one line saying so; a
 * read-only command reads them without writing; then backup, verify, apply and a full restore give
 * what the library holds.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assertDiskMatchesCatalog, assertNoMounts, blaine, fidelityOf, isRoot, repoRoot, type RunResult } from '../../test/helpers.js';
import Database from 'better-sqlite3';
import { cryptUnavailable } from '../crypt/testing.js';
import { SCHEMA_VERSION } from '../catalog/schema.js';

// The encrypted disk's names spell the library's paths: the archive is used where it was made.
const skip = !isRoot ? 'needs root (the archive holds root-owned files and an encrypted disk)' : cryptUnavailable();

const ok = (r: RunResult, what: string) => assert.equal(r.status, 0, `${what}: ${r.stdout}${r.stderr}`);
const migratedLines = (r: RunResult) => r.stderr.split('\n').filter((l) => l.startsWith('migrated the catalog'));
const catalogOf = (disk: string) => path.join(disk, '.blaine', 'catalog.sqlite');

for (const schema of [7, 8]) {
  test(`catalogs of schema ${schema} (host, plain and encrypted disks) migrate once; backup, verify, apply and restore then give the library back`, { skip }, (t) => {
    const fixture = path.join(repoRoot, 'test', 'fixtures', `schema${schema}`);
    const layout = JSON.parse(fs.readFileSync(path.join(fixture, 'layout.json'), 'utf8')) as {
      root: string; lib: string; db: string; key: string; disks: { A: string; B: string; E: string }; sha1Row: string;
    };
    const { root, lib, db, key, disks } = layout;
    // Files (not folders) in each fixture catalog, read with the SQL of its own schema (`files`: a table in 7, a view in 8).
    const filesIn = (name: string) => {
      const d = new Database(path.join(fixture, `${name}.sqlite`), { readonly: true });
      try {
        return d.prepare(`SELECT count(*) FROM files WHERE kind != 'dir'`).pluck(true).get() as number;
      } finally {
        d.close();
      }
    };
    fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(root, { recursive: true });
    t.after(() => {
      assertNoMounts(disks.E);
      fs.rmSync(root, { recursive: true, force: true });
    });
    const untar = spawnSync('tar', ['-xzf', path.join(fixture, 'archive.tar.gz'), '-C', root], { encoding: 'utf8' });
    assert.equal(untar.status, 0, untar.stderr);
    const backup = (disk: string, extra: string[] = []) => blaine(['backup', '--dest', disk, '--db', db, '--reserve', '0', '--no-parity', ...extra, lib]);

    // Read-only: the old host catalog is read through a migrated private copy; the file is not written.
    const hostBytes = fs.readFileSync(db);
    const dry = backup(disks.A, ['--dry-run']);
    ok(dry, 'backup --dry-run');
    assert.deepEqual(migratedLines(dry), [], 'a dry run migrates only its private copies, and says nothing of them');
    assert.ok(fs.readFileSync(db).equals(hostBytes), 'a dry run changed the old host catalog');
    const listed = blaine(['list', '--db', db, '--json']);
    ok(listed, 'list');
    assert.deepEqual(migratedLines(listed), []);
    assert.equal((JSON.parse(listed.stdout) as unknown[]).length, filesIn('host'), 'every row of the old catalog is listed');
    assert.ok(fs.readFileSync(db).equals(hostBytes), 'list changed the old host catalog');
    // SQLite makes an empty log beside a WAL database even to read it: nothing is written into it.
    assert.ok(!fs.existsSync(`${db}-wal`) || fs.statSync(`${db}-wal`).size === 0, 'list wrote to the old host catalog\'s log');

    // The first writing run migrates the host catalog and A's, one line each.
    const a = backup(disks.A, ['--json']);
    ok(a, 'backup A');
    assert.deepEqual(
      migratedLines(a).map((l) => l.replace(/ in \d+\.\d s$/, '')),
      [`migrated the catalog ${db} to schema ${SCHEMA_VERSION} (${filesIn('host')} files)`, `migrated the catalog ${catalogOf(disks.A)} to schema ${SCHEMA_VERSION} (${filesIn('a')} files)`],
    );
    // The migrated SHA-1 row keeps its SHA-1 until its content is read: verify --checksum reads it.
    const sha1Row = () => (JSON.parse(blaine(['list', '--db', db, '--json']).stdout) as Array<{ path: string; sha256: string | null }>).find((e) => e.path === layout.sha1Row)!;
    assert.equal(sha1Row().sha256, null);
    ok(blaine(['verify', '--checksum', '--dest', disks.A, '--db', db]), 'verify A');
    assert.match(sha1Row().sha256 ?? '', /^[0-9a-f]{64}$/);
    assertDiskMatchesCatalog(disks.A, db);
    const again = backup(disks.A, ['--json']);
    ok(again, 'backup A again');
    assert.deepEqual(migratedLines(again), [], 'migrated once');
    assert.equal(JSON.parse(again.stdout).added, 0);

    // restore only reads B: its old catalog is read through a migrated copy, and B's files come back
    // under the names the library has now (the deferred rename, delete and link not yet done on B).
    const bBytes = fs.readFileSync(catalogOf(disks.B));
    const early = path.join(root, 'restored-early');
    const fromB = blaine(['restore', '--dest', disks.B, '--db', db, '--to', early, `${lib}/old/*`]);
    ok(fromB, 'restore from B before apply');
    assert.deepEqual(migratedLines(fromB), []);
    assert.ok(fs.readFileSync(catalogOf(disks.B)).equals(bBytes), 'restore changed the old disk catalog');
    assert.deepEqual(fidelityOf(path.join(early, lib.slice(1), 'old')), fidelityOf(path.join(lib, 'old')));
    // verify records when each file was read: it writes B's catalog, so it migrates it.
    const checked = blaine(['verify', '--checksum', '--dest', disks.B, '--db', db]);
    ok(checked, 'verify B');
    assert.deepEqual(migratedLines(checked).map((l) => l.replace(/ in \d+\.\d s$/, '')), [`migrated the catalog ${catalogOf(disks.B)} to schema ${SCHEMA_VERSION} (${filesIn('b')} files)`]);
    const applied = blaine(['apply', '--dest', disks.B, '--db', db]);
    ok(applied, 'apply B');
    assert.deepEqual(migratedLines(applied), []);
    assertDiskMatchesCatalog(disks.B, db);
    const pending = JSON.parse(blaine(['disks', '--db', db, '--json']).stdout) as unknown;
    assert.doesNotMatch(JSON.stringify(pending), /"RENAME":[1-9]|"DELETE":[1-9]|"LINK":[1-9]/, 'the deferred actions were applied');

    // The encrypted disk: its catalog lives inside the cipher and migrates there.
    const e = backup(disks.E, ['--key-file', key]);
    ok(e, 'backup E');
    assert.equal(migratedLines(e).length, 1, e.stderr);
    assert.match(migratedLines(e)[0]!, new RegExp(`^migrated the catalog .*catalog\\.sqlite to schema ${SCHEMA_VERSION} \\(${filesIn('e')} files\\) in \\d+\\.\\d s$`));
    ok(blaine(['verify', '--checksum', '--dest', disks.E, '--db', db, '--key-file', key]), 'verify E');

    // The whole library back from the three disks: content, mode, owner, mtime to the ns, hardlinks.
    const to = path.join(root, 'restored');
    for (const [disk, extra] of [[disks.A, []], [disks.B, []], [disks.E, ['--key-file', key]]] as const) {
      const r = blaine(['restore', '--dest', disk, '--db', db, '--to', to, ...extra, `${lib}/*`]);
      ok(r, `restore from ${disk}`);
      assert.deepEqual(migratedLines(r), []);
    }
    const restored = path.join(to, lib.slice(1));
    assert.deepEqual(fidelityOf(restored), fidelityOf(lib), 'the restore differs from the library');
    for (const [x, y] of [['photos/p1.jpg', 'photos/p1-link.jpg'], ['old/o3.bin', 'old/o3-link.bin'], ['secret/s1.txt', 'secret/s1-link.txt']]) {
      assert.equal(fs.statSync(path.join(restored, x)).ino, fs.statSync(path.join(restored, y)).ino, `${x} and ${y} are one file`);
    }
  });
}
