import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import test from 'node:test';
import { blaine, blaineBin, scratchDir, write } from '../../test/helpers.js';
import { displayWidth } from './line.js';

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const noScript = hasScript ? false : 'needs script(1) from util-linux for a pseudo-terminal';

function sh(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs blaine with stderr (and stdout, unless redirected in `shellTail`) on a fresh
 * pseudo-terminal made by script(1). Its size is never set, so it reports 0 columns, as a
 * terminal under `script -c` does, unless `columns` sets it first.
 */
function inTerminal(args: string[], opts: { columns?: number; shellTail?: string } = {}) {
  const cmd = [process.execPath, blaineBin, ...args].map(sh).join(' ') + (opts.shellTail ?? '');
  const full = opts.columns ? `stty cols ${opts.columns} rows 24; ${cmd}` : cmd;
  const r = spawnSync('script', ['-qfec', full, '/dev/null'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  return { status: r.status ?? -1, out: r.stdout };
}

/** The states the progress line showed: the text of each redraw, terminal codes removed. */
function drawn(out: string): string[] {
  return out
    .split('\r')
    .map((s) => s.replace(/\x1b\[K/g, '').replace(/\n.*/s, ''))
    .filter((s) => /^[a-z ]+: /.test(s));
}

function library(base: string, files: number): string {
  const lib = path.join(base, 'lib');
  for (let i = 0; i < files; i++) write(path.join(lib, `dir${i % 7}`, `file-${i}-with-a-longish-name.dat`), `content ${i}\n`.repeat(50));
  return lib;
}

test('progress on a terminal that reports 0 columns: drawn in place, and the run succeeds', { skip: noScript }, (t) => {
  const base = scratchDir(t, 'blaine-tty-');
  const lib = library(base, 300);
  fs.mkdirSync(path.join(base, 'disk'));
  const r = inTerminal(['backup', '--db', path.join(base, 'db.sqlite'), '--init', '--dest', path.join(base, 'disk'), '--reserve', '0', '--no-parity', lib]);
  assert.equal(r.status, 0, r.out);
  assert.doesNotMatch(r.out, /internal error|Invalid count/);
  const states = drawn(r.out);
  assert.ok(states.some((s) => s.startsWith('scanning: ')), `scanning shown: ${JSON.stringify(states)}`);
  assert.ok(states.some((s) => s.startsWith('copying: ') && s.includes('/300 files')), `copying shown: ${JSON.stringify(states)}`);
  assert.match(r.out, /\x1b\[K/, 'redrawn in place');
  assert.match(r.out, /added 300; 0 unchanged/);
});

test('progress on a 40-column terminal never reaches the last column', { skip: noScript }, (t) => {
  const base = scratchDir(t, 'blaine-tty-');
  const lib = library(base, 200);
  fs.mkdirSync(path.join(base, 'disk'));
  const r = inTerminal(['backup', '--db', path.join(base, 'db.sqlite'), '--init', '--dest', path.join(base, 'disk'), '--reserve', '0', '--no-parity', lib], { columns: 40 });
  assert.equal(r.status, 0, r.out);
  const states = drawn(r.out);
  assert.ok(states.length > 0, r.out);
  for (const s of states) assert.ok(displayWidth(s) <= 39, `${displayWidth(s)} columns: ${JSON.stringify(s)}`);
});

test('-q on a terminal: no progress and no summary (warnings and errors only, as for every command)', { skip: noScript }, (t) => {
  const base = scratchDir(t, 'blaine-tty-');
  const lib = library(base, 50);
  fs.mkdirSync(path.join(base, 'disk'));
  const r = inTerminal(['backup', '-q', '--db', path.join(base, 'db.sqlite'), '--init', '--dest', path.join(base, 'disk'), '--reserve', '0', '--no-parity', lib]);
  assert.equal(r.status, 0, r.out);
  assert.deepEqual(drawn(r.out), []);
  assert.doesNotMatch(r.out, /\x1b\[K/);
  assert.doesNotMatch(r.out, /added 50/);
});

test('--json with progress on the terminal: stdout is pure JSON', { skip: noScript }, (t) => {
  const base = scratchDir(t, 'blaine-tty-');
  const lib = library(base, 120);
  fs.mkdirSync(path.join(base, 'disk'));
  const json = path.join(base, 'out.json');
  const r = inTerminal(
    ['backup', '--json', '--db', path.join(base, 'db.sqlite'), '--init', '--dest', path.join(base, 'disk'), '--reserve', '0', '--no-parity', lib],
    { shellTail: ` > ${sh(json)}` },
  );
  assert.equal(r.status, 0, r.out);
  assert.ok(drawn(r.out).length > 0, 'progress was shown on stderr');
  const result = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, unknown>;
  assert.equal(result.added, 120);
});

test('not a terminal: no redrawn line, no terminal codes, a short run prints no progress at all', (t) => {
  const base = scratchDir(t, 'blaine-tty-');
  const lib = library(base, 100);
  fs.mkdirSync(path.join(base, 'disk'));
  const r = blaine(['backup', '--db', path.join(base, 'db.sqlite'), '--init', '--dest', path.join(base, 'disk'), '--reserve', '0', '--no-parity', lib]);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr + r.stdout, /\r|\x1b/);
  assert.doesNotMatch(r.stderr, /copying|scanning/);
  assert.match(r.stdout, /added 100; 0 unchanged/);
});
