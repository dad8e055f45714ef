// Names are bytes (SPEC §3): names that are not UTF-8, symlink targets
// that are not UTF-8 and 255-byte names are archived, listed, matched, restored and caught up by
// their exact bytes. Names are written here in Blaine's string form (fsx/name-bytes.ts: a byte
// that is not UTF-8 is the lone surrogate U+DC00 + byte) and made through realFs, which passes
// them to the kernel as those bytes.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  assertDiskMatchesCatalog, assertNoMounts, assertRestoresLibrary, backup, blaine, blaineBin, fidelityOf, isRoot, rows, summaryOf, testEnv, tmpfsDisk,
} from '../../test/helpers.js';
import { cryptUnavailable, fastScrypt } from '../crypt/testing.js';
import { realFs } from '../fsx/fsx.js';
import { nameToBytes } from '../fsx/name-bytes.js';

/** Latin-1 é, as an old Samba share or Linux system wrote it: one byte, not UTF-8. */
const E9 = '\udce9';
const FOLDER = '\udcff\udcfe dir';
/** 255 bytes (ext4's limit) of two-byte characters and one more byte. */
const LONG_UTF8 = 'é'.repeat(127) + 'x';
/** 255 bytes, almost all of them foreign. */
const LONG_FOREIGN = E9.repeat(251) + '.jpg';

function put(lib: string, rel: string, content: string, mtime = 1_600_000_000): string {
  const file = path.join(lib, rel);
  realFs.mkdirSync(path.dirname(file), { recursive: true });
  realFs.writeFileSync(file, content);
  realFs.lutimesSync(file, mtime, mtime);
  return file;
}

/** A library whose names and link targets are not all UTF-8, with 255-byte names and a hardlink pair. */
function oddLibrary(lib: string): void {
  put(lib, `caf${E9}.jpg`, 'latin-1 photo');
  put(lib, `${FOLDER}/inner.txt`, 'in a folder with a foreign name');
  put(lib, `${FOLDER}/${LONG_UTF8}`, 'long utf-8 name '.repeat(50));
  put(lib, `${FOLDER}/${LONG_FOREIGN}`, 'long foreign name '.repeat(40));
  put(lib, `plain/ok.txt`, 'plain');
  put(lib, `plain/caf\u00e9.jpg`, 'the UTF-8 spelling is another file');
  realFs.linkSync(path.join(lib, `caf${E9}.jpg`), path.join(lib, `plain/twin${E9}.jpg`));
  realFs.symlinkSync(`caf${E9}.jpg`, path.join(lib, 'link'));
  assert.equal(nameToBytes(realFs.readlinkSync(path.join(lib, 'link'))).toString('hex'), '636166e92e6a7067');
  for (const n of [LONG_UTF8, LONG_FOREIGN]) assert.equal(nameToBytes(n).length, 255);
}

test('names and symlink targets that are not UTF-8 and 255-byte names: backup with parity, verify, list --json, restore give back the exact bytes', (t) => {
  const env = testEnv('blaine-names-');
  t.after(env.cleanup);
  oddLibrary(env.lib);
  const r = backup(env, ['--init', '--label', 'A', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(Number(summaryOf(r).added) + Number(summaryOf(r).linked), 8, r.stderr);
  assert.equal(summaryOf(r).skipped, 0);
  assertDiskMatchesCatalog(env.disk, env.db, { parity: true });
  const link = rows(env.db).find((x) => x.path === `${env.lib}/link`);
  assert.equal(link?.link_target, `caf${E9}.jpg`, 'the catalog keeps the target bytes');

  const again = backup(env, ['--json']);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(summaryOf(again).unchanged, 8, 'a second run finds nothing changed');

  const v = blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
  assert.equal(v.status, 0, v.stdout + v.stderr);

  // list --json: valid UTF-8; each foreign byte as the escape \udcXX and the exact bytes in pathBase64.
  const raw = spawnSync(process.execPath, [blaineBin, 'list', '--db', env.db, '--json'], { encoding: 'buffer' });
  assert.equal(raw.status, 0);
  const text = raw.stdout.toString('utf8');
  assert.ok(Buffer.from(text, 'utf8').equals(raw.stdout), 'list --json is valid UTF-8');
  const listed = JSON.parse(text) as Array<{ path: string; pathBase64?: string }>;
  const want = [...fidelityOf(env.lib)].filter(([, meta]) => !meta.startsWith('dir ')).map(([rel]) => `${env.lib}/${rel}`).sort();
  assert.deepEqual(listed.map((e) => e.path).sort(), want);
  for (const e of listed) {
    if (e.pathBase64 === undefined) assert.ok(!/[\udc80-\udcff]/.test(e.path), `${e.path} needs its bytes`);
    else assert.ok(Buffer.from(e.pathBase64, 'base64').equals(nameToBytes(e.path)));
  }
  assert.ok(listed.some((e) => e.path === `${env.lib}/plain/ok.txt` && !('pathBase64' in e)), 'UTF-8 names get nothing more');

  // The text listing prints the name's own bytes, as ls does.
  const one = spawnSync(process.execPath, [blaineBin, 'list', '--db', env.db, '-1', `${env.lib}/caf*`], { encoding: 'buffer' });
  assert.ok(one.stdout.equals(Buffer.concat([nameToBytes(`${env.lib}/caf${E9}.jpg`), Buffer.from('\n')])), one.stdout.toString('hex'));

  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restored'));
});

test('exclude rules match the exact bytes: `?` is one byte, so skip?.tmp takes skip\\xe9.tmp but not the two-byte é, and /?? dir/ the folder \\xff\\xfe dir', (t) => {
  const env = testEnv('blaine-names-');
  t.after(env.cleanup);
  put(env.lib, `skip${E9}.tmp`, 'one foreign byte');
  put(env.lib, 'skipé.tmp', 'two UTF-8 bytes');
  put(env.lib, `${FOLDER}/x`, 'x');
  put(env.lib, '€ dir/y', 'a three-byte character is not two bytes');
  const r = backup(env, ['--init', '--exclude', 'skip?.tmp', '--exclude', '/?? dir/'], { ok: true });
  assert.equal(r.status, 0);
  assert.deepEqual(rows(env.db).map((x) => x.path).sort(), [`${env.lib}/skipé.tmp`, `${env.lib}/€ dir/y`]);
});

test('a file with a foreign name renamed while its disk is stored: the deferred rename is listed with its bytes and applied exactly on the next visit', (t) => {
  const env = testEnv('blaine-names-');
  t.after(env.cleanup);
  put(env.lib, `album/caf${E9}.jpg`, 'stored on A only');
  put(env.lib, 'other.txt', 'also');
  backup(env, ['--init', '--label', 'A'], { ok: true });
  const B = path.join(env.base, 'diskB');
  fs.mkdirSync(B);
  realFs.renameSync(path.join(env.lib, `album/caf${E9}.jpg`), path.join(env.lib, `album/caf\udce8 renamed.jpg`));
  const r = backup(env, ['--init', '--label', 'B'], { disk: B, ok: true });
  assert.equal(r.status, 0);

  const p = blaine(['pending', '--db', env.db, '--json']);
  assert.equal(p.status, 0, p.stderr);
  const queued = (JSON.parse(p.stdout) as Array<{ action: string; path: string; target: string; pathBase64?: string; targetBase64?: string }>).filter((q) => q.action === 'RENAME');
  assert.equal(queued.length, 1, p.stdout);
  assert.equal(queued[0]!.path, `${env.lib}/album/caf${E9}.jpg`);
  assert.equal(queued[0]!.target, `${env.lib}/album/caf\udce8 renamed.jpg`);
  assert.ok(Buffer.from(queued[0]!.pathBase64!, 'base64').equals(nameToBytes(queued[0]!.path)));
  assert.ok(Buffer.from(queued[0]!.targetBase64!, 'base64').equals(nameToBytes(queued[0]!.target)));

  const a = blaine(['apply', '--dest', env.disk, '--db', env.db]);
  assert.equal(a.status, 0, a.stdout + a.stderr);
  const onA = path.join(env.disk, env.lib.slice(1), 'album');
  assert.deepEqual(realFs.readdirSync(onA), [`caf\udce8 renamed.jpg`]);
  assertDiskMatchesCatalog(env.disk, env.db, { parity: true });
  assertRestoresLibrary(env.lib, [env.disk, B], env.db, path.join(env.base, 'restored'));
});

fastScrypt();
const noCrypt = !isRoot ? 'needs root for a tmpfs disk' : cryptUnavailable();

test('an encrypted disk archives and gives back names that are not UTF-8, 255-byte names and foreign symlink targets', { skip: noCrypt }, (t) => {
  const env = testEnv('blaine-names-crypt-');
  t.after(env.cleanup);
  const disk = tmpfsDisk(t, '40m');
  if (disk === null) return;
  const keyFile = path.join(env.base, 'key');
  fs.writeFileSync(keyFile, 'correct horse battery staple\n', { mode: 0o600 });
  oddLibrary(env.lib);
  const r = backup(env, ['--init', '--encrypt', '--key-file', keyFile, '--json'], { disk });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(Number(summaryOf(r).added) + Number(summaryOf(r).linked), 8, r.stderr);
  const again = backup(env, ['--key-file', keyFile, '--json'], { disk });
  assert.equal(summaryOf(again).unchanged, 8, again.stderr);
  const v = blaine(['verify', '--checksum', '--dest', disk, '--db', env.db, '--key-file', keyFile]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  const to = path.join(env.base, 'restored');
  const back = blaine(['restore', '--dest', disk, '--db', env.db, '--key-file', keyFile, '--to', to, `${env.lib}/*`]);
  assert.equal(back.status, 0, back.stderr);
  assert.deepEqual(fidelityOf(path.join(to, env.lib.slice(1))), fidelityOf(env.lib));
  assertNoMounts(disk);
});
