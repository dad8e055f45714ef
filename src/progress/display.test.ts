import assert from 'node:assert/strict';
import test from 'node:test';
import { displayMode, PLAIN_INTERVAL_MS, ProgressDisplay, TERMINAL_INTERVAL_MS, type Every } from './display.js';
import { Progress } from './progress.js';

/** A stream that records what is written, and a timer driven by hand. */
function rig(opts: { isTTY: boolean; columns?: number; throws?: boolean }) {
  const writes: string[] = [];
  const stream = {
    isTTY: opts.isTTY,
    columns: opts.columns,
    write(text: string) {
      if (opts.throws) throw new Error('EPIPE');
      writes.push(text);
      return true;
    },
  };
  const timers: { ms: number; fn: () => void; stopped: boolean }[] = [];
  const every: Every = (ms, fn) => {
    const t = { ms, fn, stopped: false };
    timers.push(t);
    return () => (t.stopped = true);
  };
  let now = 1_000_000;
  const progress = new Progress(() => now);
  const tick = () => timers.filter((t) => !t.stopped).forEach((t) => t.fn());
  return { writes, stream, every, timers, progress, tick, advance: (ms: number) => (now += ms) };
}

test('display mode: -q shows nothing, a terminal the redrawn line, anything else the plain line', () => {
  assert.equal(displayMode({ write: () => true, isTTY: true }, true), 'off');
  assert.equal(displayMode({ write: () => true, isTTY: true }, false), 'terminal');
  assert.equal(displayMode({ write: () => true }, false), 'plain');
});

test('terminal: drawn at once on a new phase, redrawn in place on ticks only when it changed, cleared for messages', () => {
  const r = rig({ isTTY: true, columns: 60 });
  const d = new ProgressDisplay(r.progress, r.stream, 'terminal', r.every);
  assert.equal(r.writes.length, 0, 'nothing before the run says what it does');
  r.progress.begin('scanning');
  assert.equal(r.writes.length, 1);
  assert.equal(r.writes[0], '\rscanning: 0 files\x1b[K');
  assert.deepEqual(r.timers.map((t) => t.ms), [TERMINAL_INTERVAL_MS]);
  r.tick();
  assert.equal(r.writes.length, 1, 'unchanged: not redrawn');
  r.progress.at(4096, 0);
  r.tick();
  assert.equal(r.writes[1], '\rscanning: 4,096 files\x1b[K');
  d.clear();
  assert.equal(r.writes[2], '\r\x1b[K');
  d.clear();
  assert.equal(r.writes.length, 3, 'a cleared line is not cleared twice');
  r.tick();
  assert.equal(r.writes[3], '\rscanning: 4,096 files\x1b[K', 'back after the message');
  for (const w of r.writes) assert.ok(w.replace(/\r|\x1b\[K/g, '').length <= 59);
  d.stop();
  assert.equal(r.writes.at(-1), '\r\x1b[K');
  assert.ok(r.timers.every((t) => t.stopped));
  r.progress.begin('copying');
  assert.equal(r.writes.at(-1), '\r\x1b[K', 'stopped: draws no more');
});

test('terminal: a terminal reporting 0 columns (script -c) or none, and a failing stream, never throw', () => {
  for (const columns of [0, undefined]) {
    const r = rig({ isTTY: true, columns });
    new ProgressDisplay(r.progress, r.stream, 'terminal', r.every);
    r.progress.begin('copying', { files: 10, bytes: 1000 });
    r.progress.at(3, 300, '/a/very/long/path/'.repeat(20));
    r.advance(2000);
    r.tick();
    assert.ok(r.writes.at(-1)!.includes('/a/very/long/path/'.repeat(20)), 'the whole line: the width is unknown');
  }
  const broken = rig({ isTTY: true, columns: 80, throws: true });
  const d = new ProgressDisplay(broken.progress, broken.stream, 'terminal', broken.every);
  broken.progress.begin('copying');
  broken.tick();
  d.clear();
  d.stop();
});

test('plain: one line per 30 s tick, with a newline and no terminal codes; off: nothing at all', () => {
  const r = rig({ isTTY: false });
  new ProgressDisplay(r.progress, r.stream, 'plain', r.every);
  r.progress.begin('copying', { files: 100 });
  assert.equal(r.writes.length, 0, 'a short phase prints nothing');
  assert.deepEqual(r.timers.map((t) => t.ms), [PLAIN_INTERVAL_MS]);
  r.progress.at(40, 0);
  r.advance(PLAIN_INTERVAL_MS);
  r.tick();
  r.progress.begin('parity', { files: 40 });
  r.tick();
  assert.equal(r.writes.length, 2);
  assert.match(r.writes[0]!, /^\[\d\d:\d\d:\d\d\] copying: 40\/100 files, ETA 45s\n$/);
  assert.match(r.writes[1]!, /^\[\d\d:\d\d:\d\d\] parity: 0\/40 files\n$/);
  assert.equal(r.timers.length, 1, 'one timer for the whole run');

  const off = rig({ isTTY: true });
  new ProgressDisplay(off.progress, off.stream, 'off', off.every);
  off.progress.begin('copying');
  off.tick();
  assert.deepEqual(off.writes, []);
  assert.equal(off.timers.length, 0);
});
