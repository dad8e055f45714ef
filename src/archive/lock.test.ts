import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireDiskLock, acquireLock, LockError, type LockHolder } from './lock.js';

const dirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-lock-'));
  dirs.push(dir);
  return dir;
}

test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function holderIn(lockPath: string): LockHolder {
  return JSON.parse(fs.readFileSync(lockPath, 'utf8')) as LockHolder;
}

const lockModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lock.js');

/** A child process that takes the lock, says so, and holds it until killed. */
function holdInChild(lockPath: string, shared: boolean): Promise<{ child: ReturnType<typeof spawn>; said: string }> {
  const script = `
    import { acquireLock } from ${JSON.stringify(lockModule)};
    try { acquireLock(${JSON.stringify(lockPath)}, 'The disk', { shared: ${shared}, command: 'blaine backup' }); console.log('held'); }
    catch (err) { console.log(err.name); process.exit(0); }
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout!.once('data', (d: Buffer) => resolve({ child, said: d.toString().trim() })));
}

function killed(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve) => {
    child.once('close', () => resolve());
    child.kill('SIGKILL');
  });
}

test('lock: a writer excludes everyone; the busy message names the holder: pid, command, start time', async () => {
  const lockPath = path.join(tempDir(), 'lock');
  const { child, said } = await holdInChild(lockPath, false);
  try {
    assert.equal(said, 'held');
    const held = holderIn(lockPath);
    assert.equal(held.pid, child.pid);
    for (const shared of [false, true]) {
      assert.throws(
        () => acquireLock(lockPath, 'the disk /mnt/a', { shared }),
        (err: unknown) => {
          assert.ok(err instanceof LockError);
          assert.equal(
            err.message,
            `The disk /mnt/a is in use by another Blaine run (blaine backup, pid ${child.pid}, started ${held.started}); wait for it to finish.`,
          );
          return true;
        },
      );
    }
  } finally {
    await killed(child);
  }
  // the kernel released it with the process: no stale lock to clear
  const release = acquireLock(lockPath, 'the disk /mnt/a');
  assert.equal(holderIn(lockPath).pid, process.pid);
  release();
  release();
});

test('lock: readers share the lock and keep a writer out until the last reader is done', async () => {
  const lockPath = path.join(tempDir(), 'lock');
  acquireLock(lockPath, 'the disk')(); // a writer made the file
  const reader = await holdInChild(lockPath, true);
  try {
    assert.equal(reader.said, 'held');
    const mine = acquireLock(lockPath, 'the disk', { shared: true });
    assert.throws(() => acquireLock(lockPath, 'the disk'), { name: 'LockError', message: 'The disk is in use by another Blaine run; wait for it to finish.' });
    await killed(reader.child);
    assert.throws(() => acquireLock(lockPath, 'the disk'), { name: 'LockError' }, 'this process still reads');
    mine();
  } finally {
    reader.child.kill('SIGKILL');
  }
  acquireLock(lockPath, 'the disk')();
  assert.equal(fs.readFileSync(lockPath, 'utf8'), '', 'a released writer leaves no label behind');
  // a reader of a disk without a lock file (no writer ever ran) writes nothing there
  const bare = tempDir();
  acquireLock(path.join(bare, 'lock'), 'the disk', { shared: true })();
  assert.deepEqual(fs.readdirSync(bare), []);
});

test('lock: a missing directory is an error naming the lock file, and creates nothing', () => {
  const dir = tempDir();
  const lockPath = path.join(dir, 'not-mounted', '.blaine', 'lock');
  assert.throws(() => acquireLock(lockPath, 'The disk'), (err: unknown) => {
    assert.ok(err instanceof Error && !(err instanceof LockError));
    assert.match(err.message, /^Cannot open the lock file .*not-mounted\/\.blaine\/lock: no such file or directory\.$/);
    return true;
  });
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('lock: processes racing for a lock: exactly one gets it', async () => {
  const dir = tempDir();
  const lockPath = path.join(dir, 'lock');
  const go = path.join(dir, 'go');
  const script = `
    import fs from 'node:fs';
    import { acquireLock } from ${JSON.stringify(lockModule)};
    console.log('ready');
    while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
    let release;
    try { release = acquireLock(${JSON.stringify(lockPath)}, 'The disk'); } catch (err) { console.log(err.name); process.exit(0); }
    console.log('got');
    await new Promise((r) => setTimeout(r, 1000));
    release();
  `;
  const outputs: string[] = [];
  const children = Array.from({ length: 4 }, (_, i) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    outputs[i] = '';
    child.stdout.on('data', (d: Buffer) => (outputs[i] += d.toString()));
    return new Promise<string>((resolve) => child.on('close', () => resolve(outputs[i]!.replace('ready', '').trim())));
  });
  // Start the race only when every child is waiting at the line, so that all of them overlap.
  const deadline = Date.now() + 30_000;
  while (!outputs.every((o) => o.includes('ready'))) {
    assert.ok(Date.now() < deadline, 'the children did not start');
    await new Promise((r) => setTimeout(r, 10));
  }
  fs.writeFileSync(go, '');
  const results = (await Promise.all(children)).sort();
  assert.deepEqual(results, ['LockError', 'LockError', 'LockError', 'got']);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['go', 'lock']);
});

test('lock: a disk is locked on its .blaine directory; only a writer leaves a label there, and only while it runs', () => {
  const disk = tempDir();
  const dir = path.join(disk, '.blaine');
  fs.mkdirSync(dir);
  const reader = acquireDiskLock(disk, { shared: true });
  assert.deepEqual(fs.readdirSync(dir), [], 'a reader writes nothing');
  const other = acquireDiskLock(disk, { shared: true });
  assert.throws(() => acquireDiskLock(disk), { name: 'LockError', message: `The disk ${disk} is in use by another Blaine run; wait for it to finish.` });
  reader();
  other();
  const writer = acquireDiskLock(disk, { command: 'blaine backup' });
  const label = holderIn(path.join(dir, 'lock'));
  assert.equal(label.pid, process.pid);
  assert.throws(() => acquireDiskLock(disk, { shared: true }), (err: unknown) => err instanceof LockError && err.message.includes(`blaine backup, pid ${process.pid}`));
  writer();
  assert.deepEqual(fs.readdirSync(dir), [], 'the label goes with the writer');
});
