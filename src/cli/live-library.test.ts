/**
 * A library in use while it is backed up. Writer processes rename a folder back
 * and forth, append to a file, rewrite one in place and replace one atomically while backups with
 * --clean --force run (the mass-delete guard would hide a wrongful removal). After every run:
 * nothing that existed throughout was removed, and every catalogued hash is the disk's bytes.
 * Bounded: the writers stop themselves after WRITERS_MAX_MS and are killed in `finally`.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assertArchiveHolds, assertDiskMatchesCatalog, blaine, rows, testEnv, write } from '../../test/helpers.js';

const BATCH = 40;
const ROUNDS = 6;
const WRITERS_MAX_MS = 20_000;

/** A node process running `body` in a loop until `stop` exists or its time is up. */
function writer(stop: string, body: string): ChildProcess {
  const script = `
    const fs = require('node:fs');
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const end = Date.now() + ${WRITERS_MAX_MS};
    let i = 0;
    while (Date.now() < end && !fs.existsSync(${JSON.stringify(stop)})) {
      i++;
      try { ${body} } catch {}
      Atomics.wait(nap, 0, 0, i % 4);
    }`;
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
}

test('backups while writers rename a folder back and forth and rewrite files: nothing that existed throughout is removed', async (t) => {
  const env = testEnv('blaine-live-');
  const stop = path.join(env.base, 'stop');
  const writers: ChildProcess[] = [];
  t.after(() => {
    for (const w of writers) if (w.exitCode === null) w.kill('SIGKILL');
    env.cleanup();
  });
  for (let i = 0; i < 30; i++) write(path.join(env.lib, 'stable', `s${i}.jpg`), `stable ${i} `.repeat(20));
  for (let i = 0; i < BATCH; i++) write(path.join(env.lib, 'import', 'batch-A', `p${i}.jpg`), `photo ${i} `.repeat(30));
  write(path.join(env.lib, 'live', 'log.txt'), 'first line\n');
  write(path.join(env.lib, 'live', 'rewritten.db'), 'version 0'.padEnd(4096, '.'));
  write(path.join(env.lib, 'live', 'atomic.json'), '{"n":0}');
  const args = ['backup', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--no-parity', '--clean', '--force', env.lib];
  const first = blaine([...args.slice(0, 1), '--init', ...args.slice(1)]);
  assert.equal(first.status, 0, first.stderr);

  const batch = (name: string) => path.join(env.lib, 'import', name);
  const live = (name: string) => path.join(env.lib, 'live', name);
  writers.push(
    writer(stop, `
      if (fs.existsSync(${JSON.stringify(batch('batch-A'))})) fs.renameSync(${JSON.stringify(batch('batch-A'))}, ${JSON.stringify(batch('batch-B'))});
      else fs.renameSync(${JSON.stringify(batch('batch-B'))}, ${JSON.stringify(batch('batch-A'))});`),
    writer(stop, `
      fs.appendFileSync(${JSON.stringify(live('log.txt'))}, 'line ' + i + '\\n');
      const fd = fs.openSync(${JSON.stringify(live('rewritten.db'))}, 'r+');
      fs.writeSync(fd, 'version ' + i, 0);
      fs.closeSync(fd);
      fs.writeFileSync(${JSON.stringify(live('atomic.json.tmp'))}, JSON.stringify({ n: i, pad: 'x'.repeat(i % 500) }));
      fs.renameSync(${JSON.stringify(live('atomic.json.tmp'))}, ${JSON.stringify(live('atomic.json'))});`),
  );
  const throughout = (catalogued: Set<string>) => {
    for (let i = 0; i < 30; i++) assert.ok(catalogued.has(path.join(env.lib, 'stable', `s${i}.jpg`)), `stable/s${i}.jpg was removed`);
    for (let i = 0; i < BATCH; i++) {
      const either = ['batch-A', 'batch-B'].some((d) => catalogued.has(path.join(batch(d), `p${i}.jpg`)));
      assert.ok(either, `p${i}.jpg is under neither folder name in the archive`);
    }
    for (const name of ['log.txt', 'rewritten.db', 'atomic.json']) assert.ok(catalogued.has(live(name)), `live/${name} was removed`);
  };
  const statuses: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const r = blaine(args);
    statuses.push(r.status);
    // 1: something was skipped (a file that kept changing, a folder that kept changing while listed)
    assert.ok(r.status === 0 || r.status === 1, `round ${round}: exit ${r.status}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /catalogued but missing/);
    const catalogued = new Set(rows(env.db).map((x) => x.path));
    throughout(catalogued);
    for (const x of rows(env.db)) assert.ok(fs.existsSync(path.join(env.disk, x.path)), `${x.path} is catalogued but not on the disk`);
    assertDiskMatchesCatalog(env.disk, env.db);
  }
  fs.writeFileSync(stop, '');
  await Promise.all(writers.map((w) => (w.exitCode !== null ? null : new Promise((ok) => w.once('exit', ok)))));
  // The library at rest: one more run makes the archive exactly the library.
  const last = blaine(args);
  assert.equal(last.status, 0, `after the writers stopped (earlier: ${statuses.join(', ')}): ${last.stderr}`);
  throughout(new Set(rows(env.db).map((x) => x.path)));
  assertArchiveHolds(env.lib, [env.disk]);
  assertDiskMatchesCatalog(env.disk, env.db);
});
