/**
 * The addon's hashes while other threads hash: the plain-C SHA-256 and the table CRC-32 that tests
 * ask for on the JS thread are choices of that one call, not process-wide switches flipped under
 * a copy batch (SHA-256 on the copy's worker thread) and a parity set (CRC-32 on the creator's
 * thread) running at the same time. Every digest comes out right either way; under
 * ThreadSanitizer (`npm run test:native-asan` runs this file in a TSan build too) a shared switch
 * is a data race and fails the run.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { scratchDir, writeUnder } from '../../test/helpers.js';
import { fsAddon } from './addon.js';
import { copyBatchToTemp } from './copy-batch.js';
import { realFs } from './fsx.js';
import { createFromFile, parityAddon } from '../parity/creator.js';

const addon = fsAddon();
const parity = parityAddon();
const skip = addon && parity ? false : 'the native addon is not built';

test('portable SHA-256 and CRC-32 asked for on the JS thread while a copy batch and a parity set hash on theirs', { skip }, async (t) => {
  const dir = scratchDir(t);
  const sources = Array.from({ length: 40 }, (_, i) => writeUnder(dir, `lib/f${i}.bin`, crypto.randomBytes(64 * 1024 + i)));
  const big = writeUnder(dir, 'lib/big.bin', crypto.randomBytes(6 << 20));
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  const meta = { mode: 0o644, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtimeSec: 1_700_000_000, mtimeNsec: 0 };
  const copies = copyBatchToTemp(sources.map((src, i) => ({ src, dest: path.join(dir, 'disk', `f${i}.bin`), meta })), tmp, realFs);
  const set = createFromFile(big, { sliceSize: 65536, recoverySlices: 8, size: 6 << 20, name: 'big.bin', memory: 64 << 20 }, path.join(dir, 'big.par2'), path.join(dir, 'big.vol.par2'));
  // Meanwhile, on this thread, the portable paths again and again.
  const sample = crypto.randomBytes(100_000);
  for (let i = 0; i < 50; i++) {
    assert.equal(addon!.sha256(sample, true).toString('hex'), crypto.createHash('sha256').update(sample).digest('hex'));
    assert.equal(parity!.crc32(sample, true), zlib.crc32(sample));
  }
  const copied = await copies;
  for (const [i, c] of copied.entries()) {
    assert.ok(!(c instanceof Error), String(c));
    assert.equal(c.sha256, crypto.createHash('sha256').update(fs.readFileSync(sources[i]!)).digest('hex'));
  }
  assert.ok((await set) > 0);
});
