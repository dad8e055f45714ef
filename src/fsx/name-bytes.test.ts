import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToName, fsPath, hasEscapedBytes, nameToBytes } from './name-bytes.js';

const samples: Buffer[] = [
  Buffer.from('plain.jpg'),
  Buffer.from('café €😀.flac'),
  Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x6a, 0x70, 0x67]), // Latin-1 café.jpg
  Buffer.from([0xff, 0xfe, 0x20, 0x64, 0x69, 0x72]),
  Buffer.from([0xed, 0xb2, 0x80]), // an encoded surrogate: must stay three bytes
  Buffer.from([0xf0, 0x90, 0x82, 0x80]), // U+10080: its UTF-16 low half is U+DC80, a valid pair
  Buffer.from([0xe2, 0x82]), // a truncated sequence at the end
  Buffer.from([0xc0, 0xaf]), // overlong '/'
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // past U+10FFFF
];

test('every byte string comes back from its name exactly', () => {
  for (const b of samples) assert.deepEqual(nameToBytes(bytesToName(b)), b, b.toString('hex'));
  // every single byte and every pair of bytes
  for (let x = 0; x < 256; x++) {
    for (let y = 0; y < 256; y += 7) {
      const b = Buffer.from([x, y, 0x41]);
      assert.deepEqual(nameToBytes(bytesToName(b)), b);
    }
  }
});

test('different byte strings never share a name', () => {
  const names = new Set(samples.map((b) => bytesToName(b)));
  assert.equal(names.size, samples.length);
  assert.notEqual(bytesToName(Buffer.from([0xe9])), bytesToName(Buffer.from('\ufffd')));
});

test('a UTF-8 name is its usual string, and only names with foreign bytes need a Buffer for node:fs', () => {
  assert.equal(bytesToName(Buffer.from('café😀')), 'café😀');
  assert.equal(fsPath('/a/café😀'), '/a/café😀');
  assert.equal(hasEscapedBytes(bytesToName(Buffer.from([0xf0, 0x90, 0x82, 0x80]))), false);
  const latin = bytesToName(Buffer.from([0x2f, 0x78, 0xe9]));
  assert.equal(hasEscapedBytes(latin), true);
  assert.deepEqual(fsPath(latin), Buffer.from([0x2f, 0x78, 0xe9]));
});
