import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { calls, listTree, par2Wrapper, tempDir, untilCalls, writeRandom } from '../../test/parity-fixtures.js';
import { ParityError, verifyParity } from './par2.js';
import { parityFiles } from './paths.js';
import { ParityPool } from './pool.js';

const KiB = 1024;
const MiB = 1024 * KiB;

test('many files at once: at most `jobs` par2 processes, every set complete and verified', async () => {
  const disk = tempDir();
  const sizes = Array.from({ length: 40 }, (_, i) => [1, 4095, 4096, 10 * KiB, 100 * KiB, 700 * KiB, 2 * MiB + 3][i % 7]!);
  const rels = sizes.map((size, i) => {
    const rel = `mnt/set${i % 3}/f${i}.bin`;
    writeRandom(disk, rel, size);
    return rel;
  });
  const pool = new ParityPool({ jobs: 2, pct: 10 });
  const jobs = rels.map((rel, i) => pool.submit(disk, rel, sizes[i]!));
  assert.equal(pool.active, 2, 'two running');
  assert.equal(pool.queued, 38, 'the rest queued');
  await pool.drain();
  assert.equal(pool.active, 0);
  const results = await Promise.all(jobs);
  for (const [i, r] of results.entries()) {
    assert.equal(r.parityName, rels[i]);
    assert.equal(r.bytes, parityFiles(disk, rels[i]!).reduce((s, f) => s + fs.statSync(f).size, 0));
    assert.deepEqual(await verifyParity(disk, rels[i]!, r.parityName), { state: 'ok' }, rels[i]);
  }
  assert.deepEqual(listTree(path.join(disk, '.blaine', 'tmp')), []);
});

test('small files run with -t1; a big file runs alone with -t<jobs> only when it is the last work', async () => {
  const disk = tempDir();
  const w = par2Wrapper(tempDir());
  for (const rel of ['m/big1', 'm/big2']) writeRandom(disk, rel, 600 * KiB);
  for (const rel of ['m/s1', 'm/s2', 'm/s3', 'm/s4']) writeRandom(disk, rel, 20 * KiB);
  const pool = new ParityPool({ jobs: 2, pct: 10, bigFileBytes: 500 * KiB, cfg: { command: w.command } });
  const jobs = [pool.submit(disk, 'm/big1', 600 * KiB), pool.submit(disk, 'm/s1', 20 * KiB), pool.submit(disk, 'm/s2', 20 * KiB)];
  await Promise.all(jobs);
  // s3 and s4 take both slots, big2 waits; drain() then says nothing more comes.
  jobs.push(pool.submit(disk, 'm/s3', 20 * KiB), pool.submit(disk, 'm/s4', 20 * KiB), pool.submit(disk, 'm/big2', 600 * KiB));
  assert.equal(pool.queued, 1);
  await pool.drain();
  await Promise.all(jobs);
  const byFile = new Map(calls(w.log).map((line) => [line.split(' ').pop()!, line]));
  // Submitted while more work could follow: one slot, one thread.
  assert.match(byFile.get(path.join(disk, 'm/big1'))!, / -t1 /);
  for (const f of ['m/s1', 'm/s2', 'm/s3', 'm/s4']) assert.match(byFile.get(path.join(disk, f))!, / -t1 /, f);
  // Last in the queue once drain() said nothing more comes: par2's own threads.
  assert.match(byFile.get(path.join(disk, 'm/big2'))!, / -t2 /);
  for (const line of byFile.values()) assert.match(line, /^\d+ c -q -q -s4096 -c\d+ -n1 -t\d -m\d+ -B\/\S+ -- p\.par2 \//);
});

test('abort() kills running par2 (and its wrapper), rejects the queue, leaves no partial files', async () => {
  const disk = tempDir();
  const w = par2Wrapper(tempDir(), { sleepBefore: 30 });
  const rels = Array.from({ length: 6 }, (_, i) => `mnt/f${i}`);
  for (const rel of rels) writeRandom(disk, rel, 64 * KiB);
  const pool = new ParityPool({ jobs: 2, pct: 10, cfg: { command: w.command } });
  const jobs = rels.map((rel) => pool.submit(disk, rel, 64 * KiB));
  const settled = Promise.allSettled(jobs);
  await untilCalls(w.log, 2);
  const t0 = Date.now();
  await pool.abort();
  const results = await settled;
  assert.ok(Date.now() - t0 < 5000, 'did not wait for the sleeping wrappers');
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof ParityError);
    assert.equal(r.reason.code, 'ABORTED');
  }
  // The wrapper runs below the shell that ties it to Blaine's life (par2.ts DIE_WITH_PARENT), so
  // once killed it is reaped by init, not by us: dead is gone or a zombie, a moment later at most.
  const dead = (pid: number) => {
    try {
      return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z');
    } catch {
      return true;
    }
  };
  for (const line of calls(w.log)) {
    const pid = Number(line.split(' ')[0]);
    for (let i = 0; i < 100 && !dead(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(dead(pid), `wrapper ${pid} is gone`);
  }
  for (const rel of rels) assert.deepEqual(parityFiles(disk, rel), []);
  assert.deepEqual(listTree(path.join(disk, '.blaine', 'tmp')), []);
  await assert.rejects(pool.submit(disk, rels[0]!, 1), { code: 'ABORTED' });
  await pool.drain();
});

test('abort() while real par2 jobs run removes their output and rejects the queue', { timeout: 60_000 }, async () => {
  const disk = tempDir();
  const rels = ['mnt/a.bin', 'mnt/b.bin', 'mnt/c.bin'];
  for (const rel of rels) writeRandom(disk, rel, 2 * MiB);
  // Real par2 makes each set, then the wrapper holds the job: the abort always meets two running
  // jobs with their output written and not yet installed, and the third still queued.
  const w = par2Wrapper(tempDir(), { holdAfter: true });
  const pool = new ParityPool({ jobs: 2, pct: 60, cfg: { command: w.command } });
  const settled = Promise.allSettled(rels.map((rel) => pool.submit(disk, rel, 2 * MiB)));
  await untilCalls(w.made, 2);
  const tmp = path.join(disk, '.blaine', 'tmp');
  assert.equal(listTree(tmp).filter((p) => p.endsWith('.par2')).length >= 2, true, 'par2 wrote its sets into the scratch directories');
  void pool.abort();
  await pool.drain();
  for (const r of await settled) {
    assert.equal(r.status, 'rejected');
    assert.equal((r.reason as ParityError).code, 'ABORTED');
  }
  for (const rel of rels) assert.deepEqual(parityFiles(disk, rel), []);
  assert.deepEqual(listTree(tmp), []);
});

test('one job failing does not stop the others', async () => {
  const disk = tempDir();
  writeRandom(disk, 'mnt/ok1', 10 * KiB);
  writeRandom(disk, 'mnt/ok2', 10 * KiB);
  const pool = new ParityPool({ jobs: 2, pct: 10 });
  const [a, b, c] = [pool.submit(disk, 'mnt/ok1', 10 * KiB), pool.submit(disk, 'mnt/gone', 10 * KiB), pool.submit(disk, 'mnt/ok2', 10 * KiB)];
  const failed = assert.rejects(b, { code: 'ENOENT' });
  await pool.drain();
  assert.equal((await a).parityName, 'mnt/ok1');
  await failed;
  assert.equal((await c).parityName, 'mnt/ok2');
  assert.throws(() => new ParityPool({ jobs: 0, pct: 10 }), RangeError);
});
