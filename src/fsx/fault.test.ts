import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir, writeUnder } from '../../test/helpers.js';
import { CopyError, copyWithSha256, sha256File } from './copy.js';
import { faultyFs, parseFaults } from './fault.js';
import { realFs } from './fsx.js';

const META = { mode: 0o644, uid: 0, gid: 0, mtimeSec: 1_600_000_000, mtimeNsec: 0 };

test('parseFaults reads KIND:N:ACTION[@TEXT] and refuses anything else', () => {
  assert.deepEqual(parseFaults('write:2:ENOSPC, read:1:EIO@/lib/b,rename:3:crash'), [
    { kind: 'write', nth: 2, action: 'ENOSPC', pathIncludes: undefined },
    { kind: 'read', nth: 1, action: 'EIO', pathIncludes: '/lib/b' },
    { kind: 'rename', nth: 3, action: 'crash', pathIncludes: undefined },
  ]);
  for (const bad of ['write:0:EIO', 'scribble:1:EIO', 'write:1', 'write:x:EIO']) assert.throws(() => parseFaults(bad), /BLAINE_TEST_FAULTS/);
});

test('ENOSPC on the Nth write: the copy fails as a full disk and leaves no temporary file', async (t) => {
  const dir = scratchDir(t);
  const src = writeUnder(dir, 'src/big', crypto.randomBytes(3 << 20));
  for (const nth of [1, 2]) {
    const faulty = faultyFs(realFs, parseFaults(`write:${nth}:ENOSPC`));
    const dest = path.join(dir, `disk${nth}/big`);
    await assert.rejects(copyWithSha256(src, dest, META, { fs: faulty, tempDir: path.join(dir, `disk${nth}/tmp`) }), (err) => {
      assert.ok(err instanceof CopyError);
      assert.equal(err.code, 'ENOSPC');
      return true;
    });
    assert.equal(faulty.log.fired.length, 1);
    assert.equal(faulty.log.calls.write, nth);
    assert.ok(!fs.existsSync(dest));
    assert.deepEqual(fs.readdirSync(path.join(dir, `disk${nth}/tmp`)), []);
  }
});

test('EIO on a read of one path only: other files read normally; the failing one is a source error', async (t) => {
  const dir = scratchDir(t);
  const a = writeUnder(dir, 'a', 'first');
  const b = writeUnder(dir, 'b', 'second');
  const faulty = faultyFs(realFs, parseFaults(`read:1:EIO@${b}`));
  assert.equal((await sha256File(a, { fs: faulty })).bytes, 5);
  await assert.rejects(sha256File(b, { fs: faulty }), (err) => err instanceof CopyError && err.code === 'SOURCE' && /i\/o error/.test(err.message));
  assert.equal((await sha256File(b, { fs: faulty })).bytes, 6, 'only the first read of b fails');
});

test('counting is deterministic: the same work makes the same calls', async (t) => {
  const dir = scratchDir(t);
  const src = writeUnder(dir, 'src', crypto.randomBytes(5 << 20));
  const logs = [];
  for (const n of [1, 2]) {
    const faulty = faultyFs(realFs, []);
    await copyWithSha256(src, path.join(dir, `out${n}`), META, { fs: faulty, bufferSize: 1 << 20 });
    logs.push(faulty.log.calls);
  }
  assert.deepEqual(logs[0], logs[1]);
  assert.equal(logs[0]!.write, 5);
});

/**
 * Runs `body` in a child process (a crash kills the process) with `f`, the real layer under the
 * faults `spec`, and `realFs` in scope.
 */
function runUnderFaults(spec: string, body: string) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = `
    const { faultyFs, parseFaults } = await import(${JSON.stringify(path.join(here, 'fault.js'))});
    const { realFs } = await import(${JSON.stringify(path.join(here, 'fsx.js'))});
    const f = faultyFs(realFs, parseFaults(${JSON.stringify(spec)}));
    ${body}`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
}

test('crash after step N: the process dies by SIGKILL right after that call, running no handler', (t) => {
  const dir = scratchDir(t);
  for (const name of ['a', 'b', 'c']) writeUnder(dir, name, name);
  const r = runUnderFaults(
    'rename:2:crash',
    `
    process.on('exit', () => realFs.writeFileSync(${JSON.stringify(path.join(dir, 'handler-ran'))}, ''));
    try {
      for (const n of ['a', 'b', 'c']) f.renameSync(${JSON.stringify(dir)} + '/' + n, ${JSON.stringify(dir)} + '/' + n + '.moved');
    } finally {
      realFs.writeFileSync(${JSON.stringify(path.join(dir, 'finally-ran'))}, '');
    }`,
  );
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a.moved', 'b.moved', 'c']);
});

test('crash after a call that failed: still a step, the process dies there', (t) => {
  const dir = scratchDir(t);
  const r = runUnderFaults(
    'rename:1:crash',
    `
    try {
      f.renameSync(${JSON.stringify(path.join(dir, 'missing'))}, ${JSON.stringify(path.join(dir, 'x'))});
    } catch {
      realFs.writeFileSync(${JSON.stringify(path.join(dir, 'caught'))}, '');
    }`,
  );
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  assert.deepEqual(fs.readdirSync(dir), []);
});
