import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { scratchDir, writeUnder } from '../../test/helpers.js';
import { fsAddon } from './addon.js';
import { copyBatchToTemp, copyFileToTemp } from './copy-batch.js';
import { CopyError, installTemp, storedMtime, type TempCopy } from './copy.js';
import { faultyFs, parseFaults } from './fault.js';
import { isRoot, realFs } from './fsx.js';
import { isTempName } from './temp.js';
import { nameToBytes } from './name-bytes.js';

const addon = fsAddon();
const needAddon = addon ? false : 'the native addon is not built';

// Both compressions: the CPU's SHA instructions where it has them (else plain C again), and plain C.
for (const portable of [false, true]) {
  test(`native SHA-256${portable ? ' (plain C)' : ''} equals node:crypto at every length around the block and padding boundaries, and on random data`, { skip: needAddon }, () => {
    const lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 65_537, 1 << 20];
    for (let n = 0; n < 300; n++) lengths.push(crypto.randomInt(0, 20_000));
    for (const n of lengths) {
      const data = crypto.randomBytes(n);
      assert.equal(addon!.sha256(data, portable).toString('hex'), crypto.createHash('sha256').update(data).digest('hex'), `length ${n}`);
    }
    // FIPS 180 example "abc", the two-block example, and the one-million "a" test.
    assert.equal(addon!.sha256(Buffer.from('abc'), portable).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(addon!.sha256(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), portable).toString('hex'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
    assert.equal(addon!.sha256(Buffer.alloc(1_000_000, 'a'), portable).toString('hex'), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });
}

/** Files of assorted sizes (and one of each special kind) to copy in one batch. */
function sources(dir: string) {
  const sizes = [0, 1, 63, 64, 4095, 4096, 100_000, (256 << 10) + 5];
  const files = sizes.map((n, i) => ({ file: writeUnder(dir, `src/f${i}.bin`, crypto.randomBytes(n)), size: n }));
  const t = 1_600_000_000;
  files.forEach(({ file }, i) => fs.utimesSync(file, t, t + i));
  return files;
}

for (const [name, layer] of [['native', realFs], ['through the file-system layer', { ...faultyFs(realFs, []), copyFiles: null }]] as const) {
  test(`copyBatchToTemp (${name}): content, SHA-256, mode, mtime to the ns and owner of each file under a temporary name`, { skip: name === 'native' && needAddon }, async (t) => {
    const dir = scratchDir(t);
    const tmpDir = path.join(dir, 'tmp');
    fs.mkdirSync(tmpDir);
    const files = sources(dir);
    const jobs = files.map(({ file }, i) => ({
      src: file,
      dest: path.join(dir, 'disk', `f${i}.bin`),
      meta: { mode: 0o640 | (i % 2 ? 0o4000 : 0), uid: isRoot ? 1234 : process.getuid!(), gid: isRoot ? 567 : process.getgid!(), mtimeSec: 1_500_000_000 + i, mtimeNsec: 123_456_789 - i },
    }));
    const out = await copyBatchToTemp(jobs, tmpDir, layer);
    assert.equal(out.length, files.length);
    out.forEach((r, i) => {
      assert.ok(!(r instanceof CopyError), String(r));
      const c = r as TempCopy;
      const data = fs.readFileSync(files[i]!.file);
      assert.equal(path.dirname(c.tmp), tmpDir);
      assert.ok(isTempName(path.basename(c.tmp)), c.tmp);
      assert.equal(c.bytes, data.length);
      assert.equal(c.sha256, crypto.createHash('sha256').update(data).digest('hex'));
      assert.deepEqual(fs.readFileSync(c.tmp), data);
      const st = fs.statSync(c.tmp, { bigint: true });
      assert.equal(Number(st.mode) & 0o7777, jobs[i]!.meta.mode);
      const want = storedMtime(jobs[i]!.meta.mtimeSec, jobs[i]!.meta.mtimeNsec);
      assert.equal(st.mtimeNs, BigInt(want.mtimeSec) * 1_000_000_000n + BigInt(want.mtimeNsec));
      if (isRoot) assert.deepEqual([Number(st.uid), Number(st.gid)], [1234, 567]);
    });
    // In place with parents made on demand.
    const first = out[0] as TempCopy;
    installTemp(first, jobs[0]!.src, jobs[0]!.dest, { tempDir: tmpDir, fs: realFs });
    assert.ok(fs.existsSync(jobs[0]!.dest));
    assert.ok(!fs.existsSync(first.tmp));
  });

  test(`copyBatchToTemp (${name}): a missing source, a directory and a full temporary directory are reported per file, with nothing left behind`, { skip: name === 'native' && needAddon }, async (t) => {
    const dir = scratchDir(t);
    const tmpDir = path.join(dir, 'tmp');
    fs.mkdirSync(tmpDir);
    const good = writeUnder(dir, 'src/good.bin', crypto.randomBytes(3000));
    const meta = { mode: 0o644, uid: process.getuid!(), gid: process.getgid!(), mtimeSec: 1_600_000_000, mtimeNsec: 0 };
    const job = (src: string, name: string) => ({ src, dest: path.join(dir, 'disk', name), meta });
    const out = await copyBatchToTemp([job(path.join(dir, 'src', 'gone.bin'), 'gone.bin'), job(path.join(dir, 'src'), 'dir'), job(good, 'good.bin')], tmpDir, layer);
    assert.ok(out[0] instanceof CopyError && out[0].code === 'SOURCE');
    assert.match((out[0] as CopyError).message, /^Cannot read .*gone\.bin: no such file or directory\.$/);
    assert.ok(out[1] instanceof CopyError && out[1].code === 'SOURCE');
    assert.match((out[1] as CopyError).message, /not a regular file/);
    assert.ok(!(out[2] instanceof CopyError));
    assert.deepEqual(fs.readdirSync(tmpDir), [path.basename((out[2] as TempCopy).tmp)]);
    // A target that cannot be written: the temporary directory is gone.
    fs.rmSync(tmpDir, { recursive: true });
    const [lost] = await copyBatchToTemp([job(good, 'good.bin')], path.join(dir, 'no-such-dir', 'tmp'), layer === realFs ? realFs : faultyFs(realFs, parseFaults('mkdir:1:EACCES')));
    assert.ok(lost instanceof CopyError && lost.code === 'TARGET', String(lost));
  });
}

test('copyFileToTemp (what restore copies with): a media-sized file through the addon and a sparse one through copyToTemp, each with content, SHA-256, mode and mtime, the sparse one still sparse', async (t) => {
  const dir = scratchDir(t);
  const tmpDir = path.join(dir, 'tmp');
  fs.mkdirSync(tmpDir);
  const meta = { mode: 0o640, uid: process.getuid!(), gid: process.getgid!(), mtimeSec: 1_500_000_000, mtimeNsec: 987_654_321 };
  // Not a multiple of the addon's buffer, so its last read is a short one.
  const dense = writeUnder(dir, 'src/dense.bin', crypto.randomBytes(3 * 1024 * 1024 + 4321));
  const sparse = path.join(dir, 'src', 'sparse.img');
  const blob = crypto.randomBytes(5000);
  const fd = fs.openSync(sparse, 'w');
  fs.writeSync(fd, blob, 0, blob.length, 0);
  fs.writeSync(fd, blob, 0, blob.length, 40 * 1024 * 1024);
  fs.closeSync(fd);
  for (const src of [dense, sparse]) {
    const got = await copyFileToTemp(src, path.join(dir, 'out', path.basename(src)), meta, { tempDir: tmpDir, fs: realFs });
    const data = fs.readFileSync(src);
    assert.equal(path.dirname(got.tmp), tmpDir);
    assert.ok(isTempName(path.basename(got.tmp)), got.tmp);
    assert.equal(got.bytes, data.length);
    assert.equal(got.sha256, crypto.createHash('sha256').update(data).digest('hex'));
    assert.ok(fs.readFileSync(got.tmp).equals(data), `${src}: same bytes`);
    const st = fs.statSync(got.tmp, { bigint: true });
    assert.equal(Number(st.mode) & 0o7777, 0o640);
    const want = storedMtime(meta.mtimeSec, meta.mtimeNsec);
    assert.equal(st.mtimeNs, BigInt(want.mtimeSec) * 1_000_000_000n + BigInt(want.mtimeNsec));
    const srcSparse = fs.statSync(src).blocks * 512 < data.length;
    if (src === sparse && srcSparse) assert.ok(Number(st.blocks) * 512 < 1024 * 1024, `the copy of a sparse file is sparse (${st.blocks} blocks)`);
  }
  // Aborted before it starts: nothing is written.
  const ac = new AbortController();
  ac.abort();
  const before = fs.readdirSync(tmpDir).length;
  await assert.rejects(copyFileToTemp(dense, path.join(dir, 'out', 'x.bin'), meta, { tempDir: tmpDir, fs: realFs, signal: ac.signal }));
  assert.equal(fs.readdirSync(tmpDir).length, before);
  // A missing source is a SOURCE CopyError, as copyToTemp says it, and leaves nothing.
  await assert.rejects(copyFileToTemp(path.join(dir, 'src', 'gone.bin'), path.join(dir, 'out', 'gone.bin'), meta, { tempDir: tmpDir, fs: realFs }), (e: unknown) => e instanceof CopyError && e.code === 'SOURCE');
  assert.equal(fs.readdirSync(tmpDir).length, before);
});

test('injected faults reach the native batch copy: ENOSPC at the second write and EIO reading one source are seen per file, the rest is copied natively', { skip: needAddon }, async (t) => {
  const dir = scratchDir(t);
  const tmpDir = path.join(dir, 'tmp');
  fs.mkdirSync(tmpDir);
  const meta = { mode: 0o644, uid: process.getuid!(), gid: process.getgid!(), mtimeSec: 1_600_000_000, mtimeNsec: 5 };
  const srcs = [0, 1, 2, 3].map((i) => writeUnder(dir, `src/f${i}.bin`, crypto.randomBytes(1000 + i)));
  let nativeBatches = 0;
  const counted = { ...realFs, copyFiles: (jobs: Parameters<NonNullable<typeof realFs.copyFiles>>[0]) => (nativeBatches++, realFs.copyFiles!(jobs)) };
  const layer = faultyFs(counted, parseFaults(`write:2:ENOSPC,read:1:EIO@f3.bin`));
  const out = await copyBatchToTemp(srcs.map((src, i) => ({ src, dest: path.join(dir, 'disk', `f${i}.bin`), meta })), tmpDir, layer);
  assert.ok(nativeBatches > 0, 'the batch went through the native copy');
  assert.ok(out[1] instanceof CopyError && /disk is full/.test(out[1].message), String(out[1]));
  assert.ok(out[3] instanceof CopyError && out[3].code === 'SOURCE' && /i\/o error/i.test(out[3].message), String(out[3]));
  for (const i of [0, 2]) {
    const c = out[i] as TempCopy;
    assert.ok(!(out[i] instanceof CopyError), String(out[i]));
    assert.deepEqual(fs.readFileSync(c.tmp), fs.readFileSync(srcs[i]!));
    assert.equal(c.sha256, crypto.createHash('sha256').update(fs.readFileSync(srcs[i]!)).digest('hex'));
  }
  assert.equal(fs.readdirSync(tmpDir).length, 2, 'nothing is left of the failed copies');
});

test('the native batch copy reads and writes names that are not UTF-8 by their bytes', { skip: needAddon }, async (t) => {
  const dir = scratchDir(t);
  const tmpDir = path.join(dir, 'tmp\udcff');
  realFs.mkdirSync(tmpDir);
  const src = path.join(dir, 'caf\udce9.jpg');
  realFs.writeFileSync(src, 'latin-1 name');
  const meta = { mode: 0o644, uid: process.getuid!(), gid: process.getgid!(), mtimeSec: 1_600_000_000, mtimeNsec: 7 };
  const [got] = await copyBatchToTemp([{ src, dest: path.join(dir, 'disk', 'caf\udce9.jpg'), meta }], tmpDir, realFs);
  assert.ok(!(got instanceof CopyError), String(got));
  const tmp = (got as TempCopy).tmp;
  assert.ok(nameToBytes(tmp).includes(Buffer.from([0x2f, 0x74, 0x6d, 0x70, 0xff, 0x2f])), 'written inside the folder named tmp\\xff');
  assert.equal(realFs.readFileSync(tmp, 'utf8'), 'latin-1 name');
  assert.deepEqual(fs.readdirSync(Buffer.from(`${dir}/tmp\xff`, 'latin1')).length, 1);
});

for (const [name, layer] of [['native', realFs], ['under the fault layer', faultyFs(realFs, [])]] as const) {
  test(`copyBatchToTemp (${name}) puts a copy at its destination only onto no existing name and only at the size expected`, { skip: needAddon }, async (t) => {
    const dir = scratchDir(t);
    const tmpDir = path.join(dir, 'tmp');
    fs.mkdirSync(tmpDir);
    const disk = path.join(dir, 'disk');
    const taken = writeUnder(disk, 'taken.bin', 'stored before');
    const data = [crypto.randomBytes(3_000), crypto.randomBytes(200), crypto.randomBytes(700), crypto.randomBytes(10)];
    const srcs = data.map((d, i) => writeUnder(dir, `src/f${i}.bin`, d));
    const meta = { mode: 0o604, uid: process.getuid!(), gid: process.getgid!(), mtimeSec: 1_500_000_000, mtimeNsec: 987_654_321 };
    const jobs = [
      { src: srcs[0]!, dest: path.join(disk, 'new.bin'), meta, placeSize: 3_000 },
      { src: srcs[1]!, dest: taken, meta, placeSize: 200 },
      { src: srcs[2]!, dest: path.join(disk, 'grew.bin'), meta, placeSize: 600 },
      { src: srcs[3]!, dest: path.join(disk, 'later.bin'), meta },
    ];
    const out = (await copyBatchToTemp(jobs, tmpDir, layer)).map((r) => {
      assert.ok(!(r instanceof CopyError), String(r));
      return r;
    });
    assert.deepEqual(out.map((r) => r.placed), [true, false, false, false]);
    // Placed: the bytes and metadata at the name, nothing left at the temporary one.
    assert.ok(!fs.existsSync(out[0]!.tmp));
    const st = fs.statSync(jobs[0]!.dest, { bigint: true });
    assert.deepEqual(fs.readFileSync(jobs[0]!.dest), data[0]);
    assert.equal(Number(st.mode & 0o7777n), 0o604);
    assert.equal(st.mtimeNs, 1_500_000_000_987_654_321n);
    // Not placed: the stored file untouched, the size that differs not put anywhere, each copy at its temporary name.
    assert.equal(fs.readFileSync(taken, 'utf8'), 'stored before');
    assert.ok(!fs.existsSync(jobs[2]!.dest) && !fs.existsSync(jobs[3]!.dest));
    for (const k of [1, 2, 3]) assert.deepEqual(fs.readFileSync(out[k]!.tmp), data[k]);
  });
}
