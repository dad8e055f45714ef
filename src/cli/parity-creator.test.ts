/**
 * The parity a backup makes with Blaine's own creator, through the whole program: damage up to
 * the recovery count is repaired by `verify --fix` and by `restore`; a small --parity-memory
 * makes the same parity in column bands; without the addon par2cmdline makes it, said once.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { blaine, rot, sha256, testEnv, write } from '../../test/helpers.js';
import { parityAddon } from '../parity/creator.js';
import { planSlices } from '../parity/slices.js';

const skip = parityAddon() ? false : 'the native addon is not built';
const T = new Date('2022-03-04T05:06:07.089Z');
const MiB = 1024 * 1024;

function setup() {
  const env = testEnv('blaine-creator-cli-');
  const onDisk = (rel: string) => path.join(env.disk, env.lib, rel);
  const parityOf = (rel: string) => path.join(env.disk, '.blaine', 'parity', env.lib, `${rel}.par2`);
  return { ...env, onDisk, parityOf };
}

function run(args: string[], env: Record<string, string> = {}) {
  return blaine(args, { env });
}

/** The client name in a set's creator packet. */
function creatorOf(parityFile: string): string {
  const buf = fs.readFileSync(parityFile);
  for (let pos = 0; pos < buf.length; ) {
    const len = Number(buf.readBigUInt64LE(pos + 8));
    if (buf.subarray(pos + 48, pos + 64).toString('latin1') === 'PAR 2.0\0Creator\0') return buf.subarray(pos + 64, pos + len).toString('latin1').replace(/\0+$/, '');
    pos += len;
  }
  return '';
}

test('damage in as many slices as there are recovery slices: verify --fix and restore repair it bit-exact', { skip }, (t) => {
  const env = setup();
  t.after(env.cleanup);
  const size = 3 * MiB + 777;
  const data = crypto.randomBytes(size);
  write(path.join(env.lib, 'video/clip.mkv'), data, T);
  write(path.join(env.lib, 'x/a'), crypto.randomBytes(5000), T);
  const b = run(['backup', '--init', '--dest', env.disk, '--db', env.db, '--reserve', '0', env.lib]);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(b.stderr.includes('par2cmdline'), false, 'no fallback notice');
  assert.match(creatorOf(env.parityOf('video/clip.mkv')), /^Blaine/);
  assert.match(creatorOf(env.parityOf('x/a')), /^Blaine/);

  const plan = planSlices(size, 10);
  // One slice in each of `recovery` different slices, spread over the file.
  for (let k = 0; k < plan.recoveryBlocks; k++) rot(env.onDisk('video/clip.mkv'), Math.floor((k * plan.sourceBlocks) / plan.recoveryBlocks) * plan.blockSize + 100, 8);
  rot(env.onDisk('x/a'), 4000, 3);

  const out = path.join(env.base, 'out');
  const r = run(['restore', '--dest', env.disk, '--db', env.db, '--to', out, '--json', '*']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).repaired, 2);
  assert.equal(sha256(fs.readFileSync(path.join(out, env.lib, 'video/clip.mkv'))), sha256(data));

  const v = run(['verify', '--dest', env.disk, '--db', env.db, '--checksum', '--fix', '--json']);
  assert.equal(v.status, 0, v.stderr);
  const report = JSON.parse(v.stdout) as { problems: Array<{ repaired: boolean }> };
  assert.equal(report.problems.length, 2);
  assert.ok(report.problems.every((p) => p.repaired));
  assert.ok(fs.readFileSync(env.onDisk('video/clip.mkv')).equals(data), 'the disk copy is repaired');
});

test('a small --parity-memory makes the same parity (in column bands); a bad one is a usage error', { skip }, (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'big.bin'), crypto.randomBytes(6 * MiB + 5), T);
  const disk2 = path.join(env.base, 'disk2');
  fs.mkdirSync(disk2);
  const a = run(['backup', '--init', '--dest', env.disk, '--db', env.db, '--reserve', '0', env.lib]);
  assert.equal(a.status, 0, a.stderr);
  // 26 recovery slices of 24 KiB need ~1 MiB at once: 1M forces bands.
  const b = run(['backup', '--init', '--dest', disk2, '--db', `${env.db}.2`, '--reserve', '0', '--parity-memory', '1M', env.lib]);
  assert.equal(b.status, 0, b.stderr);
  const p1 = path.join(env.disk, '.blaine', 'parity', env.lib, 'big.bin');
  const p2 = path.join(disk2, '.blaine', 'parity', env.lib, 'big.bin');
  for (const suffix of ['.par2', '.vol+.par2']) assert.ok(fs.readFileSync(p1 + suffix).equals(fs.readFileSync(p2 + suffix)), `same ${suffix}`);
  const bad = run(['backup', '--dest', env.disk, '--db', env.db, '--parity-memory', 'lots', env.lib]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--parity-memory/);
  assert.equal(bad.stderr.includes('    at '), false, 'no stack trace');
});

test('without the addon par2cmdline makes the parity, and the user is told once', (t) => {
  const env = setup();
  t.after(env.cleanup);
  for (const n of ['one.bin', 'two.bin', 'three.bin']) write(path.join(env.lib, n), crypto.randomBytes(20_000), T);
  const b = run(['backup', '--init', '--dest', env.disk, '--db', env.db, '--reserve', '0', env.lib], { BLAINE_NO_NATIVE: '1' });
  assert.equal(b.status, 0, b.stderr);
  assert.equal(b.stderr.match(/native PAR2 creator is not built/g)?.length, 1, b.stderr);
  for (const n of ['one.bin', 'two.bin', 'three.bin']) assert.doesNotMatch(creatorOf(env.parityOf(n)), /^Blaine/);
  const v = run(['verify', '--dest', env.disk, '--db', env.db, '--checksum', '--json']);
  assert.equal(v.status, 0, v.stderr);
});
