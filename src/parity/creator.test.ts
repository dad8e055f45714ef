/**
 * Blaine's own PAR2 creator against the PAR2 2.0 specification and against par2cmdline (the
 * GF(2^16) kernels: kernels.test.ts): packets field by field, par2's own
 * `v` and `r` on sets of many shapes, and Blaine's verify/repair code on them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createFromFile, parityAddon, Par2Stream, type SetShape } from './creator.js';
import { flipBytes, gfExp, gfMul as mul, tempDir } from '../../test/parity-fixtures.js';
import { createParity, repairTo, verifyParity } from './par2.js';
import { parityFiles } from './paths.js';
import { planSectorSlices } from './slices.js';

const addon = parityAddon();
const skip = addon ? false : 'the native addon is not built';
const KiB = 1024;
const MiB = 1024 * KiB;

// ---- an independent reference of the arithmetic, straight from the specification ----

/** n_i of the specification: the positive integers not divisible by 3, 5, 17 or 257. */
function sliceLogs(count: number): number[] {
  const out: number[] = [];
  for (let n = 1; out.length < count; n++) if (n % 3 && n % 5 && n % 17 && n % 257) out.push(n);
  return out;
}

/** Recovery slice `e` of `data` cut into `slice`-byte slices, word by word. */
function referenceRecovery(data: Buffer, slice: number, e: number): Buffer {
  const count = Math.ceil(data.length / slice);
  const logs = sliceLogs(count);
  const out = Buffer.alloc(slice);
  for (let i = 0; i < count; i++) {
    const c = gfExp((logs[i]! * e) % 65535);
    for (let w = 0; w < slice; w += 2) {
      const at = i * slice + w;
      const word = (data[at] ?? 0) | ((data[at + 1] ?? 0) << 8);
      out.writeUInt16LE(out.readUInt16LE(w) ^ mul(c, word), w);
    }
  }
  return out;
}

// ---- PAR2 packets ----

interface Packet {
  type: string;
  setId: Buffer;
  body: Buffer;
}

const md5 = (b: Buffer): Buffer => crypto.createHash('md5').update(b).digest();

/** Every packet of a PAR2 file, each checked for magic, length and its own MD5. */
function readPackets(file: string): Packet[] {
  const buf = fs.readFileSync(file);
  const out: Packet[] = [];
  let pos = 0;
  while (pos < buf.length) {
    assert.equal(buf.subarray(pos, pos + 8).toString('latin1'), 'PAR2\0PKT', `magic at ${pos} of ${file}`);
    const len = Number(buf.readBigUInt64LE(pos + 8));
    assert.ok(len >= 64 && len % 4 === 0 && pos + len <= buf.length, `length ${len} at ${pos}`);
    assert.deepEqual(md5(buf.subarray(pos + 32, pos + len)), buf.subarray(pos + 16, pos + 32), `packet MD5 at ${pos}`);
    out.push({ type: buf.subarray(pos + 48, pos + 64).toString('latin1'), setId: buf.subarray(pos + 32, pos + 48), body: buf.subarray(pos + 64, pos + len) });
    pos += len;
  }
  return out;
}

const T = {
  main: 'PAR 2.0\0Main\0\0\0\0',
  desc: 'PAR 2.0\0FileDesc',
  ifsc: 'PAR 2.0\0IFSC\0\0\0\0',
  recv: 'PAR 2.0\0RecvSlic',
  creator: 'PAR 2.0\0Creator\0',
};

/** The set's packets by type, duplicates (same body) merged; checks they all belong to one set. */
function packetsByType(files: string[]): Map<string, Buffer[]> {
  const all = files.flatMap(readPackets);
  const setId = all[0]!.setId;
  const map = new Map<string, Buffer[]>();
  for (const p of all) {
    assert.deepEqual(p.setId, setId, 'one recovery set id throughout');
    const list = map.get(p.type) ?? [];
    if (!list.some((b) => b.equals(p.body))) list.push(p.body);
    map.set(p.type, list);
  }
  assert.deepEqual(md5(map.get(T.main)![0]!), setId, 'the set id is the MD5 of the main packet body');
  return map;
}

// ---- helpers ----

function par2(args: string[], cwd?: string): { status: number; out: string } {
  const r = spawnSync('par2', args, { encoding: 'utf8', cwd });
  return { status: r.status ?? -1, out: r.stdout + r.stderr };
}

/** A data file `<dir>/d/<name>` of random bytes, and the shape of its set at pct/maxSlices. */
function dataFile(size: number, pct = 10, maxSlices = 256, name = 'sub/data.bin', memory = 64 * MiB) {
  const dir = tempDir('blaine-creator-');
  const file = path.join(dir, 'd', name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const data = crypto.randomBytes(size);
  fs.writeFileSync(file, data);
  // The creator is tested on 4 KiB slices at every size (small files' own plan: small-sets.test.ts).
  const plan = planSectorSlices(size, pct, maxSlices);
  const shape: SetShape = { sliceSize: plan.blockSize, recoverySlices: plan.recoveryBlocks, size, name, memory };
  return { dir, file, data, shape, plan, index: path.join(dir, 'p.par2'), recovery: path.join(dir, 'p.vol+.par2') };
}

/** Damages `slices` different slices: the last by cutting bytes off its end if asked, the others by flipping bytes. */
function damage(file: string, sliceSize: number, slices: number, truncate: boolean): void {
  const size = fs.statSync(file).size;
  const count = Math.ceil(size / sliceSize);
  const hit = new Set<number>();
  if (truncate) {
    fs.truncateSync(file, size - Math.min(7, size - (count - 1) * sliceSize));
    hit.add(count - 1);
  }
  for (let k = 0; hit.size < Math.min(slices, count) && k < count; k++) {
    const s = Math.floor((k * 7919) % count);
    if (hit.has(s)) continue;
    hit.add(s);
    const from = s * sliceSize;
    const len = Math.min(sliceSize, fs.statSync(file).size - from);
    if (len > 0) flipBytes(file, from + Math.floor(len / 2), Math.min(3, len - Math.floor(len / 2)));
  }
}

// ---- tests ----

test('MD5 and CRC-32 equal node:crypto and zlib at every length around a block', { skip }, () => {
  for (const n of [0, 1, 15, 16, 17, 55, 56, 63, 64, 65, 79, 80, 119, 120, 127, 128, 129, 191, 4095, 4096, 100_003]) {
    const b = crypto.randomBytes(n);
    assert.deepEqual(addon!.md5(b), md5(b), `md5 of ${n}`);
    assert.equal(addon!.crc32(b), zlib.crc32(b), `crc32 of ${n}`);
    assert.equal(addon!.crc32(b, true), zlib.crc32(b), `crc32 of ${n} by the table method`);
  }
});

test('packets follow the specification field by field; recovery data equals the reference', { skip }, async () => {
  // 5 slices of 4 KiB, the last one short; 3 recovery slices at 50%.
  const f = dataFile(4 * 4096 + 1234, 50);
  assert.deepEqual([f.plan.blockSize, f.plan.sourceBlocks, f.plan.recoveryBlocks], [4096, 5, 3]);
  const bytes = await createFromFile(f.file, f.shape, f.index, f.recovery);
  assert.equal(bytes, fs.statSync(f.index).size + fs.statSync(f.recovery).size);
  const index = packetsByType([f.index]);
  assert.deepEqual([...index.keys()].sort(), [T.creator, T.desc, T.ifsc, T.main].sort(), 'the index holds no recovery data');
  const set = packetsByType([f.index, f.recovery]);

  const head = md5(f.data.subarray(0, 16 * KiB));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(f.data.length));
  const fileId = md5(Buffer.concat([head, len, Buffer.from(f.shape.name)]));
  const main = set.get(T.main)!;
  assert.equal(main.length, 1);
  assert.equal(main[0]!.readBigUInt64LE(0), 4096n, 'slice size');
  assert.equal(main[0]!.readUInt32LE(8), 1, 'one recoverable file');
  assert.deepEqual(main[0]!.subarray(12), fileId, 'file id = MD5(MD5 of first 16 KiB, length, name)');

  const desc = set.get(T.desc)![0]!;
  assert.deepEqual(desc.subarray(0, 16), fileId);
  assert.deepEqual(desc.subarray(16, 32), md5(f.data), 'MD5 of the whole file');
  assert.deepEqual(desc.subarray(32, 48), head, 'MD5 of the first 16 KiB');
  assert.equal(desc.readBigUInt64LE(48), BigInt(f.data.length));
  assert.equal(desc.subarray(56).toString('latin1'), 'sub/data.bin', 'name, zero-padded to 4 (12 bytes: no padding)');

  const ifsc = set.get(T.ifsc)![0]!;
  assert.deepEqual(ifsc.subarray(0, 16), fileId);
  assert.equal(ifsc.length, 16 + 5 * 20);
  for (let i = 0; i < 5; i++) {
    const slice = Buffer.alloc(4096);
    f.data.copy(slice, 0, i * 4096, (i + 1) * 4096);
    assert.deepEqual(ifsc.subarray(16 + 20 * i, 32 + 20 * i), md5(slice), `MD5 of zero-padded slice ${i}`);
    assert.equal(ifsc.readUInt32LE(32 + 20 * i), zlib.crc32(slice), `CRC-32 of slice ${i}`);
  }

  const recv = set.get(T.recv)!;
  assert.deepEqual(recv.map((b) => b.readUInt32LE(0)).sort(), [0, 1, 2], 'exponents 0..recovery-1');
  for (const b of recv) {
    assert.equal(b.length, 4 + 4096);
    assert.ok(b.subarray(4).equals(referenceRecovery(f.data, 4096, b.readUInt32LE(0))), `recovery slice ${b.readUInt32LE(0)}`);
  }
  assert.match(set.get(T.creator)![0]!.toString('latin1'), /^Blaine/);
});

test('the same packets as par2cmdline makes for the same file and settings (creator packet aside)', { skip }, async () => {
  for (const [size, pct] of [[300 * KiB + 5, 10], [2 * MiB + 4096, 5], [17, 100]] as const) {
    const f = dataFile(size, pct);
    await createFromFile(f.file, f.shape, f.index, f.recovery);
    const refDir = path.join(f.dir, 'ref');
    fs.mkdirSync(refDir);
    const r = par2(['c', '-q', '-q', `-s${f.plan.blockSize}`, `-c${f.plan.recoveryBlocks}`, '-n1', '-t1', `-B${path.join(f.dir, 'd')}`, '--', 'r.par2', f.file], refDir);
    assert.equal(r.status, 0, r.out);
    const ours = packetsByType([f.index, f.recovery]);
    const theirs = packetsByType(fs.readdirSync(refDir).map((n) => path.join(refDir, n)));
    for (const type of [T.main, T.desc, T.ifsc, T.recv]) {
      const sort = (l: Buffer[]) => l.map((b) => b.toString('hex')).sort();
      assert.deepEqual(sort(ours.get(type)!), sort(theirs.get(type)!), `${type.replace(/\0/g, ' ')} packets of a ${size}-byte file`);
    }
  }
});

test('par2 verifies and repairs sets of many sizes and slice counts, damaged up to the recovery count', { skip }, async () => {
  const cases: Array<[size: number, pct: number, maxSlices: number]> = [
    [1, 10, 256],
    [3, 100, 256],
    [4095, 10, 256],
    [4096, 10, 256],
    [4097, 50, 256],
    [256 * 4096 - 1, 10, 256],
    [256 * 4096, 10, 256],
    [256 * 4096 + 1, 10, 256],
    [5 * MiB + 333, 10, 256],
    [3 * MiB + 1, 20, 2000],
    [1 * MiB + 7, 5, 1],
    [700 * KiB, 30, 7],
  ];
  for (const [size, pct, maxSlices] of cases) {
    const f = dataFile(size, pct, maxSlices);
    await createFromFile(f.file, f.shape, f.index, f.recovery);
    const base = `-B${path.join(f.dir, 'd')}`;
    const what = `${size} bytes, ${f.plan.sourceBlocks} slices of ${f.plan.blockSize}, ${f.plan.recoveryBlocks} recovery`;
    const v = par2(['v', '-q', base, f.index]);
    assert.equal(v.status, 0, `par2 v, ${what}: ${v.out}`);
    damage(f.file, f.plan.blockSize, f.plan.recoveryBlocks, size > 7);
    assert.ok(!fs.readFileSync(f.file).equals(f.data), 'damaged');
    const r = par2(['r', '-q', base, f.index]);
    assert.equal(r.status, 0, `par2 r, ${what}: ${r.out}`);
    assert.ok(fs.readFileSync(f.file).equals(f.data), `repaired bit-exact, ${what}`);
  }
});

test('column bands (a small memory budget), a stream of odd pieces and the scalar kernel all give the same set', { skip }, async () => {
  const f = dataFile(3 * MiB + 4321, 10, 64);
  await createFromFile(f.file, f.shape, f.index, f.recovery);
  const want = [fs.readFileSync(f.index), fs.readFileSync(f.recovery)];
  const again = async (label: string, make: (index: string, recovery: string) => Promise<unknown>): Promise<void> => {
    const dir = tempDir('blaine-creator-');
    const index = path.join(dir, 'p.par2');
    const recovery = path.join(dir, 'p.vol+.par2');
    await make(index, recovery);
    assert.ok(fs.readFileSync(index).equals(want[0]!), `${label}: index`);
    assert.ok(fs.readFileSync(recovery).equals(want[1]!), `${label}: recovery file`);
  };
  // 7 recovery slices of 49,152 bytes need ~340 KiB at once; 100 KiB forces several bands.
  const small = { ...f.shape, memory: 100 * KiB };
  const h = addon!.par2Open(small.sliceSize, small.recoverySlices, small.size, Buffer.from(small.name), small.memory);
  const [passes] = addon!.par2Info(h);
  addon!.par2Close(h);
  assert.ok(passes > 1, `${passes} passes`);
  await again(`${passes} column bands`, (i, r) => createFromFile(f.file, small, i, r));
  await again('a stream of odd-sized pieces', async (i, r) => {
    const s = new Par2Stream(f.shape);
    for (let at = 0, n = 1; at < f.data.length; at += n, n = (n * 3 + 1) % 300_007) await s.update(f.data.subarray(at, at + n));
    await s.finish(i, r);
  });
  const kernels = addon!.par2Kernels();
  try {
    for (const k of kernels) {
      addon!.par2SelectKernel(k);
      await again(`kernel ${k}`, (i, r) => createFromFile(f.file, f.shape, i, r));
    }
  } finally {
    addon!.par2SelectKernel(kernels.at(-1)!);
  }
  assert.throws(() => new Par2Stream(small), RangeError, 'a stream must fit the budget in one pass');
});

test('a file that changes size while its parity is made, or is missing, is an error, not a set', { skip }, async () => {
  const f = dataFile(10 * KiB);
  await assert.rejects(createFromFile(f.file, { ...f.shape, size: 20 * KiB }, f.index, f.recovery), { code: 'EIO' });
  await assert.rejects(createFromFile(path.join(f.dir, 'none'), f.shape, `${f.index}.2`, `${f.recovery}.2`), { code: 'ENOENT' });
  const s = new Par2Stream(f.shape);
  await assert.rejects(s.update(Buffer.alloc(20 * KiB)), RangeError);
  await assert.rejects(s.finish(`${f.index}.3`, `${f.recovery}.3`), RangeError);
  s.close();
});

test('a few hundred MB: par2 verifies it and repairs a damaged slice bit-exact', { skip }, async () => {
  const f = dataFile(300 * MiB + 12345);
  await createFromFile(f.file, f.shape, f.index, f.recovery);
  const base = `-B${path.join(f.dir, 'd')}`;
  assert.equal(par2(['v', '-q', base, f.index]).status, 0);
  flipBytes(f.file, 123 * MiB, 100);
  flipBytes(f.file, 299 * MiB, 100);
  const r = par2(['r', '-q', base, f.index]);
  assert.equal(r.status, 0, r.out);
  assert.ok(fs.readFileSync(f.file).equals(f.data), 'repaired bit-exact');
  fs.rmSync(f.dir, { recursive: true, force: true });
});

test("createParity uses the native creator; Blaine's verify and repairTo work on its sets", { skip }, async () => {
  const disk = tempDir('blaine-creator-');
  const rel = 'mnt/media/film.mkv';
  const file = path.join(disk, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const data = crypto.randomBytes(2 * MiB + 999);
  fs.writeFileSync(file, data);
  const made = await createParity(disk, rel, { pct: 10 });
  const files = parityFiles(disk, rel);
  assert.equal(files.length, 2);
  assert.match(packetsByType(files).get(T.creator)![0]!.toString('latin1'), /^Blaine/, 'made by Blaine, not par2cmdline');
  assert.deepEqual(await verifyParity(disk, rel, made.parityName), { state: 'ok' });
  flipBytes(file, 10, 50);
  flipBytes(file, MiB, 50);
  fs.truncateSync(file, data.length - 100);
  assert.equal((await verifyParity(disk, rel, made.parityName)).state, 'repairable');
  const out = path.join(disk, 'out.mkv');
  assert.equal(await repairTo(disk, rel, made.parityName, out), true);
  assert.ok(fs.readFileSync(out).equals(data));
  // BLAINE_PARITY_CREATOR=par2 (or creator: 'par2') gives par2cmdline's set instead.
  await createParity(disk, rel, { pct: 10, creator: 'par2' });
  assert.doesNotMatch(packetsByType(parityFiles(disk, rel)).get(T.creator)![0]!.toString('latin1'), /^Blaine/);
});
