/**
 * A first backup copies each scanned chunk as it comes while the scan threads wait for room
 * (backup/stream.ts ChunkStream, scan/background.ts bound). Whatever stops the copying early (a
 * full disk, Ctrl-C, a write that fails the run, a disk that goes away) must let the waiting scan
 * threads go and end the run with its usual sentence and exit status: a stopped stream that kept
 * the threads waiting, or waited on itself, hung the run for good (its first version, on a full disk).
 * Each run is killed after RUN_LIMIT_MS, so a hang fails the test instead of hanging it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  assertDiskMatchesCatalog, assertRestoresLibrary, blaine, isMounted, loopDiskEnv, mountImage, rows, summaryOf, testEnvFor, write, type RunResult,
} from '../../test/helpers.js';

const RUN_LIMIT_MS = 60_000;
/** Tiny chunks and two scanning threads: 150 chunks from 600 files, most of them waiting on the copying. */
const STREAMING = { BLAINE_SCAN_CHUNK: '4', BLAINE_SCAN_THREADS: '2' };
/** The library's files (FOLDERS × PER_FOLDER, and one more name of one of them). */
const FOLDERS = 20;
const PER_FOLDER = 30;
const FILES = FOLDERS * PER_FOLDER + 1;
const T = new Date('2021-06-07T08:09:10.111Z');

/** Folders of small files, and one content under two names in far-apart chunks. */
function library(lib: string): void {
  for (let d = 0; d < FOLDERS; d++) {
    for (let f = 0; f < PER_FOLDER; f++) write(path.join(lib, `d${String(d).padStart(2, '0')}`, `f${f}.dat`), crypto.randomBytes(100 + ((d * PER_FOLDER + f) % 37) * 50), T);
  }
  fs.linkSync(path.join(lib, 'd00', 'f0.dat'), path.join(lib, `d${FOLDERS - 1}`, 'again.dat'));
}

type Env = ReturnType<typeof testEnvFor>;

/** The first backup of env's library onto its (new) disk, with test faults and more environment. */
function firstBackup(env: Env, faults: string, more: Record<string, string> = {}): RunResult {
  return blaine(['backup', '--init', '--label', 'F', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--no-parity', '--json', env.lib], {
    env: { ...STREAMING, ...more, BLAINE_TEST_FAULTS: faults },
    timeoutMs: RUN_LIMIT_MS,
  });
}

/**
 * What a stopped first backup leaves must be whole, and the next run must finish it: disk,
 * catalogs and a full restore equal the library. `vanished`: the disk went away mid-run, so the
 * run could prove no file, and copies it made are leftovers (the next run removes them).
 */
function assertNextRunFinishes(env: Env, o: { vanished?: boolean } = {}): void {
  const volume = JSON.parse(fs.readFileSync(path.join(env.disk, '.blaine', 'volume.json'), 'utf8')).volume as string;
  const before = rows(env.db, volume).length;
  assert.ok(before < FILES && (o.vanished || before > 0), `${before} of ${FILES} files catalogued before the run stopped`);
  if (!o.vanished) assertDiskMatchesCatalog(env.disk, env.db);
  const again = blaine(['backup', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--no-parity', env.lib], { env: STREAMING, timeoutMs: RUN_LIMIT_MS });
  assert.equal(again.status, 0, again.stderr);
  assertDiskMatchesCatalog(env.disk, env.db);
  assert.equal(rows(env.db, volume).length, FILES);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restored'));
}

/** Where the library's files are written on the disk first (not the catalogs or the journal): where the faults go. */
const onDisk = (env: Env) => path.join(env.disk, '.blaine', 'tmp') + '/';

test('a first backup whose disk fills mid-stream ends with the summary and exit 3, and the next run finishes it', (t) => {
  const env = testEnvFor(t, 'blaine-stream-full-');
  library(env.lib);
  const r = firstBackup(env, `write:150+:ENOSPC@${onDisk(env)}`);
  assert.equal(r.status, 3, r.stderr);
  const s = summaryOf(r);
  assert.equal(s.diskFull, true);
  assert.ok(Number(s.added) > 0 && Number(s.added) < FILES - 1, `added ${s.added}`);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assertNextRunFinishes(env);
});

test('Ctrl-C in the middle of a streamed first backup stops it with status 130, and the next run finishes it', (t) => {
  const env = testEnvFor(t, 'blaine-stream-int-');
  library(env.lib);
  // The 150th file written on the disk sends the run its SIGINT (the hook's shell is its child).
  const r = firstBackup(env, `write:150:hook@${onDisk(env)}`, { BLAINE_TEST_HOOK: 'kill -INT $PPID' });
  assert.equal(r.status, 130, r.stderr);
  assert.match(r.stderr, /SIGINT: stopping/);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assertNextRunFinishes(env);
});

test('a journal write that fails mid-stream ends the run at once with one sentence and exit 1, and the next run finishes it', (t) => {
  const env = testEnvFor(t, 'blaine-stream-eio-');
  library(env.lib);
  // Not one file's problem (the journal is the run's): the error ends the run, from inside a chunk.
  const r = firstBackup(env, `write:20:EIO@${path.join(env.disk, '.blaine', 'journal')}`);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^blaine: Cannot write .*journal: i\/o error\.$/m);
  assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('blaine:')).length, 1, `one sentence: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assertNextRunFinishes(env);
});

test('a disk unmounted in the middle of a streamed first backup stops the run with its sentence, and the next run finishes it', (t) => {
  const env = loopDiskEnv(t, '64M');
  if (!env.img) return t.skip('needs root to mount a loop ext4');
  library(env.lib);
  const r = firstBackup(env, `write:150:hook@${onDisk(env)}`, { BLAINE_TEST_HOOK: `umount -l ${env.disk}` });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /is no longer the disk this run opened/);
  assert.ok(!isMounted(env.disk), 'the hook unmounted the disk');
  // What landed in the bare mount point is not the disk's.
  fs.rmSync(env.disk, { recursive: true, force: true });
  fs.mkdirSync(env.disk);
  mountImage(env.img, env.disk);
  assertNextRunFinishes(env, { vanished: true });
});
