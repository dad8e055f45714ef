/**
 * The GF(2^16) kernels (native/gf16.c): every kernel this CPU runs, the scalar one included, on
 * the same inputs, one product and four at once, against an independent reference written from
 * the PAR2 specification. Lengths straddle each kernel's block (32, 64, 128 bytes) and the
 * buffers start at odd addresses, so the vector loops and their tails both run.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { parityAddon } from './creator.js';
import { gfMul as mul } from '../../test/parity-fixtures.js';

const addon = parityAddon();
const skip = addon ? false : 'the native addon is not built';


/** dst ^= c · src, word by word (little-endian words). */
function referenceMulAdd(dst: Buffer, src: Buffer, c: number): void {
  for (let w = 0; w + 1 < dst.length; w += 2) dst.writeUInt16LE(dst.readUInt16LE(w) ^ mul(c, src.readUInt16LE(w)), w);
}

/** `len` random bytes at an odd offset inside a larger buffer (an unaligned start). */
function unaligned(len: number, offset: number): Buffer {
  return crypto.randomBytes(len + offset).subarray(offset);
}

const LENGTHS = [2, 30, 62, 64, 66, 126, 128, 130, 254, 256, 258, 4096, 65536 + 34];
const CONSTANTS = [0, 1, 2, 0x100b, 0x8000, 0xffff];

test('every kernel, the scalar one included, gives the reference product on the same inputs', { skip }, (t) => {
  const kernels = addon!.par2Kernels();
  assert.equal(kernels[0], 'scalar');
  t.diagnostic(`kernels on this CPU: ${kernels.join(', ')}`);
  for (const len of LENGTHS) {
    const src = unaligned(len, 1 + (len % 7));
    const start = unaligned(len, 3);
    for (const c of [...CONSTANTS, crypto.randomInt(65536)]) {
      const expected = Buffer.from(start);
      referenceMulAdd(expected, src, c);
      for (const k of kernels) {
        const dst = Buffer.from(start);
        addon!.gfMulAdd(dst, src, c, k);
        assert.ok(dst.equals(expected), `${k}: ${len} bytes × ${c}`);
      }
    }
  }
});

test('every kernel adds four products at once as four single products would', { skip }, () => {
  const kernels = addon!.par2Kernels();
  for (const len of LENGTHS) {
    const srcs = [0, 1, 2, 3].map((i) => unaligned(len, 1 + i));
    const cs = [crypto.randomInt(65536), 0, 1, crypto.randomInt(65536)];
    const start = unaligned(len, 5);
    const expected = Buffer.from(start);
    for (let i = 0; i < 4; i++) referenceMulAdd(expected, srcs[i]!, cs[i]!);
    for (const k of kernels) {
      const dst = Buffer.from(start);
      addon!.gfMulAdd4(dst, srcs, cs, k);
      assert.ok(dst.equals(expected), `${k}: four sources of ${len} bytes`);
    }
  }
});

test('the current kernel (the fastest) is used without a name; an unknown kernel is refused; gfMul is the reference', { skip }, () => {
  const kernels = addon!.par2Kernels();
  const src = crypto.randomBytes(1000);
  const viaCurrent = Buffer.alloc(1000);
  const viaFastest = Buffer.alloc(1000);
  addon!.gfMulAdd(viaCurrent, src, 0x1234);
  addon!.gfMulAdd(viaFastest, src, 0x1234, kernels.at(-1)!);
  assert.ok(viaCurrent.equals(viaFastest));
  assert.throws(() => addon!.gfMulAdd(Buffer.alloc(2), Buffer.alloc(2), 1, 'no-such-kernel'), /no such/);
  assert.equal(addon!.par2SelectKernel('no-such-kernel'), false);
  for (let i = 0; i < 2000; i++) {
    const x = crypto.randomInt(65536);
    const y = crypto.randomInt(65536);
    assert.equal(addon!.gfMul(x, y), mul(x, y));
  }
});
