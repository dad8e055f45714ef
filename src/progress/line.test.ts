import assert from 'node:assert/strict';
import test from 'node:test';
import { formatBytes } from '../fsx/space.js';
import { displayWidth, etaOf, fitTail, formatDuration, plainLine, terminalLine } from './line.js';
import type { ProgressSnapshot } from './progress.js';

const t0 = Date.parse('2026-11-29T10:00:00Z');
function snap(over: Partial<ProgressSnapshot> = {}): ProgressSnapshot {
  return {
    phase: 'copying', filesDone: 1200, filesTotal: 3543, bytesDone: 3e9, bytesTotal: 12e9,
    current: '/mnt/media/photos/2019/summer/IMG_0001.jpg', parityQueue: 7, phaseStarted: t0, now: t0 + 60_000, ...over,
  };
}

test('terminal line: phase, counts, rate, ETA, parity queue and the current file', () => {
  const line = terminalLine(snap(), 200);
  const rate = formatBytes(3e9 / 60);
  assert.equal(
    line,
    `copying: 1,200/3,543 files  ${formatBytes(3e9)}/${formatBytes(12e9)}  ${rate}/s  ETA ${formatDuration(((12e9 - 3e9) * 60) / 3e9)}  parity queue 7  /mnt/media/photos/2019/summer/IMG_0001.jpg`,
  );
});

test('terminal line never reaches the last column, at any width, and survives a width of 0 or less', () => {
  const s = snap({ current: '/mnt/media/写真/2019/夏/とても長いファイル名の写真です.jpg' });
  for (let columns = 1; columns <= 160; columns++) {
    const line = terminalLine(s, columns);
    assert.ok(displayWidth(line) <= columns - 1, `${columns} columns: ${JSON.stringify(line)}`);
  }
  for (const columns of [0, -1, Number.NaN]) {
    const line = terminalLine(s, columns);
    assert.ok(line.startsWith('copying: 1,200/3,543 files') && line.endsWith('.jpg'), 'unknown width: nothing cut');
  }
  // With room, the path keeps its end: the file name is what a user recognises.
  const narrow = terminalLine(s, 100);
  assert.match(narrow, /…[^…]*写真です\.jpg$/);
});

test('fitTail keeps whole characters, counting wide ones as two columns', () => {
  assert.equal(fitTail('abcdef', 6), 'abcdef');
  assert.equal(fitTail('abcdef', 4), '…def');
  assert.equal(fitTail('ab写真', 4), '…真');
  assert.equal(fitTail('😀😀😀', 5), '…😀😀');
  assert.equal(fitTail('abc', 0), '');
});

test('ETA follows bytes when their total is known, files otherwise; none in the first half second', () => {
  assert.equal(etaOf(snap()), ((12e9 - 3e9) * 60) / 3e9);
  assert.equal(etaOf(snap({ bytesTotal: null })), ((3543 - 1200) * 60) / 1200);
  assert.equal(etaOf(snap({ bytesTotal: null, filesTotal: null })), null);
  assert.equal(etaOf(snap({ now: t0 + 100 })), null);
  assert.doesNotMatch(terminalLine(snap({ now: t0 + 100 }), 200), /ETA|B\/s/);
});

test('plain line: a timestamp and every fact, never cut; nothing before the first phase', () => {
  assert.equal(
    plainLine(snap()),
    `[10:01:00] copying: 1,200/3,543 files, ${formatBytes(3e9)}/${formatBytes(12e9)}, ${formatBytes(3e9 / 60)}/s, ETA ${formatDuration(180)}, parity queue 7, now /mnt/media/photos/2019/summer/IMG_0001.jpg`,
  );
  assert.equal(plainLine(snap({ phase: null })), '');
  assert.equal(terminalLine(snap({ phase: null }), 80), '');
  // Scanning knows no totals yet; the parity phase's files are the queue, not said twice.
  assert.equal(plainLine(snap({ phase: 'scanning', filesDone: 5000, filesTotal: null, bytesDone: 0, bytesTotal: null, current: null, parityQueue: null })), '[10:01:00] scanning: 5,000 files');
  assert.doesNotMatch(plainLine(snap({ phase: 'parity' })), /parity queue/);
});

test('durations read as seconds, minutes, hours', () => {
  assert.deepEqual([0, 4.24, 9.96, 42, 185, 7620, -1, Infinity].map(formatDuration), ['0.0s', '4.2s', '10s', '42s', '3m05s', '2h07m', '?', '?']);
});
