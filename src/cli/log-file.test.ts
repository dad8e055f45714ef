import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import test from 'node:test';
import { blaine, scratchDir, write } from '../../test/helpers.js';

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [A-Z]+ /;

test('--log-file: every action taken, with timestamps, appended run after run; errors too', (t) => {
  const base = scratchDir(t, 'blaine-log-');
  const lib = path.join(base, 'lib');
  const disk = path.join(base, 'disk');
  const db = path.join(base, 'db.sqlite');
  const log = path.join(base, 'blaine.log');
  fs.mkdirSync(disk);
  const names = ['a.txt', 'b.txt', 'sub/c.txt'];
  for (const n of names) write(path.join(lib, n), `content of ${n}`);
  const first = blaine(['backup', '--db', db, '--init', '--dest', disk, '--reserve', '0', '--no-parity', '--log-file', log, lib]);
  assert.equal(first.status, 0, first.stderr);
  const once = fs.readFileSync(log, 'utf8');
  assert.doesNotMatch(first.stdout, STAMP, 'the terminal gets no log lines');

  fs.renameSync(path.join(lib, 'a.txt'), path.join(lib, 'a-renamed.txt'));
  fs.rmSync(path.join(lib, 'b.txt'));
  const second = blaine(['backup', '-q', '--db', db, '--dest', disk, '--reserve', '0', '--no-parity', '--clean', '--max-delete', '50', '--log-file', log, lib]);
  assert.equal(second.status, 0, second.stderr);
  const bad = blaine(['verify', '--db', db, '--dest', path.join(base, 'no-such-disk'), '--log-file', log]);
  assert.equal(bad.status, 1);

  const text = fs.readFileSync(log, 'utf8');
  assert.ok(text.startsWith(once), 'appended, not replaced');
  const lines = text.trimEnd().split('\n');
  for (const l of lines) assert.match(l, STAMP);
  const times = lines.map((l) => Date.parse(l.slice(0, 24)));
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'in order');
  const has = (re: RegExp) => assert.ok(lines.some((l) => re.test(l)), `log has ${re}`);
  has(/ DEBUG blaine backup .*--init/);
  for (const n of names) has(new RegExp(` DETAIL added ${path.join(lib, n).replace(/[.]/g, '\\.')}$`));
  has(/ PHASE scanning$/);
  has(/ PHASE copying \(\d+ files, \d+ bytes\)$/);
  has(/ INFO ".*": added 3; 0 unchanged$/);
  // The second run was quiet on the terminal and complete in the log.
  has(new RegExp(` DETAIL renamed ${path.join(lib, 'a.txt').replace(/[.]/g, '\\.')} -> ${path.join(lib, 'a-renamed.txt').replace(/[.]/g, '\\.')}$`));
  has(/ DETAIL removed .*b\.txt$/);
  has(/ DEBUG exit status 0$/);
  has(/ ERROR .*no-such-disk/);
  has(/ DEBUG exit status 1$/);
});
