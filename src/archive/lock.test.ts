import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLock, LockError, processStartTicks, type LockHolder } from './lock.js';

const dirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-lock-'));
  dirs.push(dir);
  return dir;
}

test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function writeHolder(lockPath: string, holder: Partial<LockHolder>): void {
  const full: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    started: new Date().toISOString(),
    bootId: bootId(),
    token: 'someone-else',
    ...holder,
  };
  fs.writeFileSync(lockPath, JSON.stringify(full));
}

function deadPid(): number {
  const child = spawnSync('true');
  assert.ok(child.pid);
  return child.pid;
}

function holderIn(lockPath: string): LockHolder {
  return JSON.parse(fs.readFileSync(lockPath, 'utf8')) as LockHolder;
}

test('lock: a second acquire fails with a clear message until the first is released', () => {
  const lockPath = path.join(tempDir(), 'lock');
  const release = acquireLock(lockPath, 'The disk /mnt/a');
  const held = holderIn(lockPath);
  assert.equal(held.pid, process.pid);
  assert.equal(held.host, os.hostname());
  assert.throws(
    () => acquireLock(lockPath, 'The disk /mnt/a'),
    (err: unknown) => {
      assert.ok(err instanceof LockError);
      assert.equal(
        err.message,
        `The disk /mnt/a is in use by another Blaine run (pid ${process.pid}, started ${held.started}); wait for it to finish.`,
      );
      return true;
    },
  );
  release();
  assert.equal(fs.existsSync(lockPath), false);
  release();
  const again = acquireLock(lockPath, 'The disk /mnt/a');
  assert.ok(fs.existsSync(lockPath));
  again();
  assert.deepEqual(fs.readdirSync(path.dirname(lockPath)), []);
});

test('lock: a stale lock of a dead process is taken over', () => {
  const lockPath = path.join(tempDir(), 'lock');
  writeHolder(lockPath, { pid: deadPid(), started: '2020-01-01T00:00:00.000Z' });
  const release = acquireLock(lockPath, 'The host catalog');
  const held = holderIn(lockPath);
  assert.equal(held.pid, process.pid);
  assert.notEqual(held.token, 'someone-else');
  release();
  assert.deepEqual(fs.readdirSync(path.dirname(lockPath)), []);
});

test('lock: a live pid that started at another time (pid reused after a crash) is stale', (t) => {
  if (processStartTicks(process.pid) === undefined) {
    t.skip('needs /proc');
    return;
  }
  const lockPath = path.join(tempDir(), 'lock');
  writeHolder(lockPath, { pid: process.pid, procStart: '1' });
  const release = acquireLock(lockPath, 'The host catalog');
  assert.notEqual(holderIn(lockPath).token, 'someone-else');
  release();
});

test('lock: a lock from before this boot is stale; one from another host is refused with what to do', () => {
  const dir = tempDir();
  const lockPath = path.join(dir, 'lock');
  writeHolder(lockPath, { bootId: 'another-boot', started: '2001-01-01T00:00:00.000Z', pid: 1 });
  acquireLock(lockPath, 'The disk /mnt/a')();

  writeHolder(lockPath, { host: 'elsewhere.example', bootId: 'their-boot', pid: 4242, started: '2024-05-01T10:00:00.000Z' });
  assert.throws(
    () => acquireLock(lockPath, 'The disk /mnt/a'),
    (err: unknown) => {
      assert.ok(err instanceof LockError);
      assert.equal(
        err.message,
        `The disk /mnt/a is in use by a Blaine run on host elsewhere.example (pid 4242, started 2024-05-01T10:00:00.000Z); if that run is over, delete ${lockPath}.`,
      );
      return true;
    },
  );
  assert.equal(holderIn(lockPath).token, 'someone-else');
});

test('lock: release leaves a lock that is no longer ours', () => {
  const lockPath = path.join(tempDir(), 'lock');
  const release = acquireLock(lockPath, 'The disk');
  writeHolder(lockPath, { token: 'the-new-owner' });
  release();
  assert.equal(holderIn(lockPath).token, 'the-new-owner');
});

test('lock: an unreadable lock file is in use while young and stale when old', () => {
  const lockPath = path.join(tempDir(), 'lock');
  fs.writeFileSync(lockPath, '');
  assert.throws(() => acquireLock(lockPath, 'The disk'), { name: 'LockError', message: 'The disk is in use by another Blaine run; wait for it to finish.' });
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(lockPath, old, old);
  acquireLock(lockPath, 'The disk')();
  assert.equal(fs.existsSync(lockPath), false);
});

test('lock: a missing directory is an error naming the lock file, and creates nothing', () => {
  const dir = tempDir();
  const lockPath = path.join(dir, 'not-mounted', '.blaine', 'lock');
  assert.throws(() => acquireLock(lockPath, 'The disk'), (err: unknown) => {
    assert.ok(err instanceof Error && !(err instanceof LockError));
    assert.match(err.message, /^Cannot create the lock file .*not-mounted\/\.blaine\/lock: no such file or directory\.$/);
    return true;
  });
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('lock: processes racing for a stale lock: exactly one gets it', async () => {
  const dir = tempDir();
  const lockPath = path.join(dir, 'lock');
  const go = path.join(dir, 'go');
  writeHolder(lockPath, { pid: deadPid() });
  const lockModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lock.js');
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
    return new Promise<string>((resolve) => child.on('close', () => resolve(outputs[i].replace('ready', '').trim())));
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
  assert.deepEqual(fs.readdirSync(dir), ['go']);
});
