/**
 * The native PAR2 creator's error paths: every allocation and every write of a set failing in turn
 * (the addon's test-only counters, native/testfault.h) ends in an errno for the caller, never a
 * crash, and leaves no descriptor open behind it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createFromFile, parityAddon, Par2Stream, type SetShape } from './creator.js';
import { tempDir, writeRandom } from '../../test/parity-fixtures.js';

interface FaultAddon {
  nativeTestFaults(allocNth: number, writeNth: number): void;
}

const addon = parityAddon() as unknown as (FaultAddon & ReturnType<typeof parityAddon>) | null;
const skip = addon && typeof addon.nativeTestFaults === 'function' ? false : 'the native addon (with its test counters) is not built';
const MiB = 1 << 20;

/** Descriptors this process holds now. */
function openDescriptors(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** A file big enough for the creator's helper thread (from 4 MiB), cut into 32 slices, 4 recovery slices. */
function bigFile(dir: string): { file: string; shape: SetShape } {
  const size = 5 * MiB + 123;
  writeRandom(dir, 'data.bin', size);
  return { file: path.join(dir, 'data.bin'), shape: { sliceSize: 163_840 + 4096, recoverySlices: 4, size, name: 'data.bin', memory: 64 * MiB } };
}

async function attempt(file: string, shape: SetShape, out: string): Promise<string> {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out);
  try {
    await createFromFile(file, shape, path.join(out, 'set.par2'), path.join(out, 'set.vol.par2'));
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    addon!.nativeTestFaults(0, 0);
  }
}

test('every allocation of a set failing in turn is ENOMEM for the caller, never a crash (with and without the helper thread)', { skip }, async () => {
  const dir = tempDir();
  const big = bigFile(dir);
  writeRandom(dir, 'small.bin', 70_000);
  const small: SetShape = { sliceSize: 8192, recoverySlices: 3, size: 70_000, name: 'small.bin', memory: 64 * MiB };
  for (const [file, shape] of [
    [big.file, big.shape],
    [path.join(dir, 'small.bin'), small],
  ] as const) {
    const outcomes: string[] = [];
    for (let n = 1; n <= 18; n++) {
      addon!.nativeTestFaults(n, 0);
      outcomes.push(await attempt(file, shape, path.join(dir, 'out')));
    }
    // The first allocations fail; once n passes the number of allocations a set makes, it succeeds.
    assert.ok(outcomes.every((o) => o === 'ENOMEM' || o === 'ok'), `${shape.name}: ${outcomes.join(' ')}`);
    assert.equal(outcomes[0], 'ENOMEM');
    assert.equal(outcomes.at(-1), 'ok', `${shape.name}: ${outcomes.join(' ')}`);
  }
  // The stream's buffers too (par2Open through Par2Stream).
  addon!.nativeTestFaults(1, 0);
  try {
    assert.throws(() => new Par2Stream(small), /memory/);
  } finally {
    addon!.nativeTestFaults(0, 0);
  }
});

test('every write of a set failing in turn (ENOSPC) is reported and closes the recovery file', { skip }, async () => {
  const dir = tempDir();
  const { file, shape: onePass } = bigFile(dir);
  const out = path.join(dir, 'out');
  // Warm up: whatever the first call opens for good (libuv, the addon) is not counted as a leak.
  assert.equal(await attempt(file, onePass, out), 'ok');
  const before = openDescriptors();
  // One pass writes the recovery file front to back in 1 MiB writes (here one), then the index;
  // column bands (a small budget) write each band's slices in place and the headers after.
  for (const [shape, writes] of [
    [onePass, 2],
    [{ ...onePass, memory: 512 * 1024 }, 10],
  ] as const) {
    const outcomes: string[] = [];
    for (let n = 1; n <= 24; n++) {
      addon!.nativeTestFaults(0, n);
      outcomes.push(await attempt(file, shape, out));
      assert.equal(openDescriptors(), before, `write ${n} failed (${outcomes.at(-1)}): a descriptor was left open`);
    }
    assert.ok(outcomes.every((o) => o === 'ENOSPC' || o === 'ok'), outcomes.join(' '));
    assert.ok(outcomes.indexOf('ok') >= writes && !outcomes.slice(outcomes.indexOf('ok')).includes('ENOSPC'), `budget ${shape.memory}: ${outcomes.join(' ')}`);
    assert.equal(outcomes.at(-1), 'ok', outcomes.join(' '));
  }
  // What the last attempt wrote is a set par2 accepts.
  // (Without a sanitizer runtime preloaded for this process: par2 is not what is being checked.)
  const v = spawnSync('par2', ['v', '-q', '-B', dir, path.join(out, 'set.par2')], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } });
  if (v.error === undefined) assert.equal(v.status, 0, v.stdout + v.stderr);
});
