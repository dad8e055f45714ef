import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeBytes, parseBytes } from './space.js';
import { realFs } from './fsx.js';

test('parseBytes: decimal and binary units, fractions exact', () => {
  const cases: [string, number][] = [
    ['4096', 4096],
    ['0', 0],
    ['10G', 10e9],
    ['10GB', 10e9],
    ['10gb', 10e9],
    ['10 GB', 10e9],
    [' 500M ', 500e6],
    ['500MB', 500e6],
    ['1.5T', 1.5e12],
    ['1.5TB', 1.5e12],
    ['1.1G', 1_100_000_000],
    ['2K', 2000],
    ['2KB', 2000],
    ['2KiB', 2048],
    ['2Ki', 2048],
    ['4MiB', 4 * 2 ** 20],
    ['4GiB', 4 * 2 ** 30],
    ['1TiB', 2 ** 40],
    ['1.5KiB', 1536],
    ['0.5B', 1],
    ['100B', 100],
    ['1P', 1e15],
    ['0.0001K', 1],
  ];
  for (const [text, expected] of cases) assert.equal(parseBytes(text), expected, text);
});

test('parseBytes: garbage is refused with one sentence naming it', () => {
  for (const text of ['', ' ', 'abc', '10X', '-5', '1e9', '1.', '.5G', '10 G B', 'G', '1,5G', '10GiBs', 'NaN']) {
    assert.throws(
      () => parseBytes(text),
      (err: unknown) => {
        assert.ok(err instanceof RangeError);
        assert.equal(
          err.message,
          `"${text}" is not a size; write a number of bytes with an optional unit, e.g. 4096, 500M, 10GB, 1.5T or 4GiB.`,
        );
        return true;
      },
      text,
    );
  }
  assert.throws(() => parseBytes('99999999P'), /is too large a size/);
});

test('freeBytes: a 2 MiB tmpfs has 2 MiB free, less what is written', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to mount a tmpfs');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-space-'));
  try {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'pipe' });
    } catch (err) {
      t.skip(`cannot mount a tmpfs: ${(err as Error).message.split('\n')[0]}`);
      return;
    }
    try {
      assert.equal(freeBytes(dir, realFs), 2 * 2 ** 20);
      fs.writeFileSync(path.join(dir, 'f'), Buffer.alloc(1 << 20));
      assert.equal(freeBytes(dir, realFs), 2 ** 20);
    } finally {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('freeBytes: a missing path throws', () => {
  assert.throws(() => freeBytes('/nonexistent/blaine/disk', realFs), { code: 'ENOENT' });
});
