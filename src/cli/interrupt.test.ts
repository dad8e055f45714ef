import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { assertArchiveHolds, assertDiskMatchesCatalog, blaine, blaineBin, isRoot, readableCheckout, rows, tempDir, write } from '../../test/helpers.js';

function library(lib: string, files: number): void {
  for (let i = 0; i < files; i++) write(path.join(lib, `d${i % 20}`, `f${i}.bin`), crypto.randomBytes(20_000 + (i % 7) * 1000));
}

/** Starts a backup and sends `signal` once it has stored some files, resolving with its exit status. */
function backupAndSignal(args: string[], db: string, signal: NodeJS.Signals): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [blaineBin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let sent = false;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setInterval(() => {
      if (sent) return;
      try {
        // wait until the run has committed a first batch of files, so the signal lands mid-run
        if (fs.existsSync(db) && rows(db).length > 0) {
          sent = true;
          child.kill(signal);
        }
      } catch {
        // the catalog is being written; look again
      }
    }, 50);
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      clearInterval(timer);
      resolve({ status: code ?? (sig === 'SIGKILL' ? -9 : null), stderr });
    });
  });
}

/** A first backup of 600 files onto a fresh disk, hit by `signal` midway. */
async function interruptedBackup(signal: NodeJS.Signals) {
  const base = tempDir();
  const lib = path.join(base, 'lib');
  const disk = path.join(base, 'disk');
  const db = path.join(base, 'db.sqlite');
  fs.mkdirSync(disk);
  library(lib, 600);
  const args = ['backup', '--init', '--dest', disk, '--db', db, '--reserve', '0', '--jobs', '1', lib];
  const { status, stderr } = await backupAndSignal(args, db, signal);
  const rerun = () => blaine(['backup', '--dest', disk, '--db', db, '--reserve', '0', lib]);
  return { base, lib, disk, db, status, stderr, rerun };
}

test('Ctrl-C stops cleanly with status 130; the rerun continues', async () => {
  const t = await interruptedBackup('SIGINT');
  try {
    assert.equal(t.status, 130, t.stderr);
    assert.match(t.stderr, /interrupted/);
    assert.ok(rows(t.db).length > 0, 'files stored before the interrupt are catalogued');
    // what was stored is catalogued on both sides; parity may be missing for the last files
    assertDiskMatchesCatalog(t.disk, t.db);
    const again = t.rerun();
    assert.equal(again.status, 0, again.stderr);
    assertDiskMatchesCatalog(t.disk, t.db, { parity: true });
    assertArchiveHolds(t.lib, [t.disk]);
  } finally {
    fs.rmSync(t.base, { recursive: true, force: true });
  }
});

test('after kill -9 the next run repairs the leftovers', async () => {
  const t = await interruptedBackup('SIGKILL');
  try {
    assert.equal(t.status, -9);
    const again = t.rerun();
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr + again.stdout, /did not finish/);
    assertDiskMatchesCatalog(t.disk, t.db, { parity: true });
    assertArchiveHolds(t.lib, [t.disk]);
    assert.deepEqual(fs.readdirSync(path.join(t.disk, '.blaine', 'tmp')), [], 'no temporary files left');
  } finally {
    fs.rmSync(t.base, { recursive: true, force: true });
  }
});

test('an unreadable file is reported and skipped, the run goes on, and --clean keeps its archived copy', (t) => {
  if (!isRoot || spawnSync('setpriv', ['--version']).status !== 0) {
    t.skip('needs root and setpriv to run Blaine as an unprivileged user');
    return;
  }
  const base = tempDir();
  try {
    fs.chmodSync(base, 0o777);
    const lib = path.join(base, 'lib');
    const disk = path.join(base, 'disk');
    const db = path.join(base, 'host', 'db.sqlite');
    for (let i = 0; i < 20; i++) write(path.join(lib, `f${i}.txt`), `file ${i}\n`);
    fs.mkdirSync(disk);
    fs.mkdirSync(path.dirname(db));
    for (const d of [disk, path.dirname(db)]) fs.chmodSync(d, 0o777);
    const asNobody = (args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(readableCheckout(), 'bin', 'blaine'), ...args], { encoding: 'utf8' });
    const common = ['--dest', disk, '--db', db, '--reserve', '0', '--no-parity', lib];
    const first = asNobody(['backup', '--init', ...common]);
    assert.equal(first.status, 0, first.stderr);
    // f3 changes and becomes unreadable for the run's user
    fs.writeFileSync(path.join(lib, 'f3.txt'), 'changed content\n');
    fs.chmodSync(path.join(lib, 'f3.txt'), 0o000);
    fs.writeFileSync(path.join(lib, 'new.txt'), 'new\n');
    const r = asNobody(['backup', '--clean', ...common]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /f3\.txt/);
    assert.match(r.stderr, /skipped/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    const paths = rows(db).map((x) => path.basename(x.path));
    assert.ok(paths.includes('new.txt'), 'the run went on');
    assert.ok(paths.includes('f3.txt'), 'the archived copy is kept');
    assert.equal(fs.readFileSync(path.join(disk, lib, 'f3.txt'), 'utf8'), 'file 3\n');
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

