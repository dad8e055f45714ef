// Content known by SHA-256 (migration 7); rows of an older catalog keep their SHA-1 until their content is read.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, scratchDir } from '../../test/helpers.js';
import { Catalog } from './catalog.js';
import { SCHEMA_VERSION } from './schema.js';
import { rawConnection } from './testing.js';

const fixture = path.join(repoRoot, 'test', 'fixtures', 'sha1-linked', 'host.sqlite');
const digest = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

test('a host catalog of schema 4 (made by the last release) migrates: rows keep their SHA-1, found by it only as linked, until a SHA-256 is recorded', (t) => {
  const file = path.join(scratchDir(t, 'blaine-sha256-'), 'catalog.sqlite');
  fs.copyFileSync(fixture, file);
  const before = digest(file);
  // Read-only: read through a migrated private copy, the file itself untouched.
  const ro = Catalog.open(file, { readonly: true });
  const [volume] = ro.volumes();
  assert.equal(ro.entriesOfVolume(volume!.uuid).length, 4);
  ro.close();
  assert.equal(digest(file), before, 'a read-only open does not migrate the file');

  const cat = Catalog.open(file);
  assert.equal(rawConnection(cat).pragma('user_version', { simple: true }), SCHEMA_VERSION);
  const rows = cat.entriesOfVolume(volume!.uuid);
  assert.ok(rows.every((e) => e.sha256 === null && /^[0-9a-f]{40}$/.test(e.legacySha1 ?? '')), 'every row has its SHA-1 only');
  // Each pair shares one SHA-1: stored as one, so all four are to be read.
  assert.deepEqual(cat.linkedBySha1(volume!.uuid).map((e) => e.path), rows.map((e) => e.path));
  // SHA-1 never makes content equal: no lookup by content finds a migrated row.
  assert.equal(cat.hasSize(rows[0]!.size), false);
  const first = rows[0]!;
  cat.setContentHash(volume!.uuid, first.path, 'b'.repeat(64));
  const after = cat.get(volume!.uuid, first.path)!;
  assert.equal(after.sha256, 'b'.repeat(64));
  assert.equal(after.legacySha1, null);
  assert.deepEqual(cat.findContent(first.size, 'b'.repeat(64)).map((e) => e.path), [first.path]);
  // Its pair, alone with its SHA-1 now, is no longer one of a linked pair; the other pair still is.
  assert.deepEqual(cat.linkedBySha1(volume!.uuid).map((e) => path.basename(e.path)), ['shattered-1.pdf', 'shattered-2.pdf']);
  cat.close();
});
