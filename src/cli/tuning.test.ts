/** The environment's settings for tests and benchmarks reach the engines as options, read here only. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { parityCreator, scanTuning } from './tuning.js';

test('BLAINE_SCAN_THREADS and BLAINE_SCAN_CHUNK: positive whole numbers are taken, anything else leaves the default', () => {
  assert.deepEqual(scanTuning({ BLAINE_SCAN_THREADS: '3', BLAINE_SCAN_CHUNK: '17' }), { threads: 3, chunkSize: 17 });
  assert.deepEqual(scanTuning({}), { threads: undefined, chunkSize: undefined });
  for (const bad of ['0', '-2', 'many', '']) {
    assert.deepEqual(scanTuning({ BLAINE_SCAN_THREADS: bad, BLAINE_SCAN_CHUNK: bad }), { threads: undefined, chunkSize: undefined }, bad);
  }
});

test('BLAINE_PARITY_CREATOR=par2 asks for par2cmdline; anything else leaves Blaine its own creator', () => {
  assert.equal(parityCreator({ BLAINE_PARITY_CREATOR: 'par2' }), 'par2');
  assert.equal(parityCreator({ BLAINE_PARITY_CREATOR: 'native' }), 'native');
  assert.equal(parityCreator({}), 'native');
});
