import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireDiskLock, acquireLock, LockError, type LockHolder } from './lock.js';
import { tempDir } from '../../test/helpers.js';

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
    // the holder's command line is nobody else's business
    assert.equal(fs.statSync(lockPath).mode & 0o777, 0o600);
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
  // Each child says "ready", waits for a line on stdin to race, and the winner holds the lock
  // until a second line: no timers, each step waits on the one before.
  const script = `
    import readline from 'node:readline';
    import { acquireLock } from ${JSON.stringify(lockModule)};
    const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
    console.log('ready');
    await lines.next();
    let release;
    try { release = acquireLock(${JSON.stringify(lockPath)}, 'The disk'); } catch (err) { console.log(err.name); process.exit(0); }
    console.log('got');
    await lines.next();
    release();
    process.exit(0);
  `;
  const children = Array.from({ length: 4 }, () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const waiting: Array<() => void> = [];
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const check of waiting.splice(0)) check();
    });
    /** Resolves once the child has printed `word`. */
    const said = (word: string) =>
      new Promise<void>((resolve) => {
        const check = () => (out.includes(word) ? resolve() : waiting.push(check));
        check();
      });
    const closed = new Promise<string>((resolve) => child.on('close', () => resolve(out.replace('ready', '').trim())));
    return { child, said, closed };
  });
  // The race starts only when every child waits at the line, so that all of them overlap.
  await Promise.all(children.map((c) => c.said('ready')));
  for (const c of children) c.child.stdin.write('go\n');
  // The winner keeps the lock until every other child has been refused.
  const outcomes = await Promise.all(children.map((c) => Promise.race([c.said('got').then(() => 'got'), c.closed])));
  for (const c of children) c.child.stdin.end('release\n');
  const results = (await Promise.all(children.map((c) => c.closed))).sort();
  assert.deepEqual(outcomes.sort(), ['LockError', 'LockError', 'LockError', 'got']);
  assert.deepEqual(results, ['LockError', 'LockError', 'LockError', 'got']);
  assert.deepEqual(fs.readdirSync(dir), ['lock']);
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
