/**
 * contrib/: the udev rule and systemd units. systemd does not run here, so what can be checked
 * is checked: the unit files' syntax (systemd-analyze verify) and the very commands they run,
 * with systemd's substitutions made by hand, against a real disk and library.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import test from 'node:test';
import { blaine, blaineBin, repoRoot, scratchDir, write } from './helpers.js';

const contrib = path.join(repoRoot, 'contrib');
const read = (name: string) => fs.readFileSync(path.join(contrib, name), 'utf8');
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function execStart(unit: string): string {
  const line = read(unit).split('\n').find((l) => l.startsWith('ExecStart='));
  assert.ok(line, `${unit} has an ExecStart`);
  return line.slice('ExecStart='.length);
}

test('the unit files pass systemd-analyze verify without a warning', { skip: hasAnalyze ? false : 'systemd-analyze is not installed' }, (t) => {
  const dir = scratchDir(t, 'blaine-units-');
  // The units name the installed executable; here it is the repository's.
  for (const name of ['blaine-backup@.service', 'blaine-verify@.service', 'blaine-verify@.timer']) {
    fs.writeFileSync(path.join(dir, name), read(name).replaceAll('/usr/local/bin/blaine', blaineBin));
  }
  const instances = ['blaine-backup@blaine-C.service', 'blaine-verify@blaine-C.service', 'blaine-verify@blaine-C.timer'].map((n) => path.join(dir, n));
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...instances], { encoding: 'utf8', cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings (unknown keys, bad values)');
});

test('the udev rule starts the backup unit for the disk that was plugged in, and the timer its verify', () => {
  const rule = read('99-blaine.rules').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  assert.equal(rule.length, 1);
  const wants = /SYSTEMD_WANTS\}\+="([^"]+)"/.exec(rule[0]!)?.[1];
  assert.equal(wants, 'blaine-backup@$env{ID_FS_LABEL}.service');
  assert.ok(fs.existsSync(path.join(contrib, 'blaine-backup@.service')));
  assert.ok(fs.existsSync(path.join(contrib, 'blaine-verify@.service')), 'the timer has its service');
  // Each unit works on the disk it mounts and checks: one path.
  for (const unit of ['blaine-backup@.service', 'blaine-verify@.service']) {
    const text = read(unit);
    const dest = /--dest (\S+)/.exec(execStart(unit))![1];
    assert.match(text, new RegExp(`^ConditionPathExists=${dest!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.blaine/volume\\.json$`, 'm'));
  }
});

test('the commands the units run: a backup that applies and copies, then a time-boxed checksum verify', (t) => {
  const base = scratchDir(t, 'blaine-units-');
  const label = 'blaine-C';
  const media = path.join(base, 'media');
  const disk = path.join(media, label);
  const lib1 = path.join(base, 'photos');
  const lib2 = path.join(base, 'music');
  const db = path.join(base, 'catalog.sqlite');
  const logs = path.join(base, 'log');
  fs.mkdirSync(disk, { recursive: true });
  fs.mkdirSync(logs);
  write(path.join(lib1, '2019', 'a.jpg'), 'a picture');
  write(path.join(lib2, 'b.flac'), 'a song');
  // The sample config with this test's catalog, and without the reserve a test disk cannot spare.
  const config = path.join(base, 'blaine.toml');
  fs.writeFileSync(config, read('blaine.toml').replace(/^db = .*$/m, `db = ${JSON.stringify(db)}`).replace(/^reserve = .*$/m, 'reserve = "0"'));
  assert.match(read('blaine.env'), /^BLAINE_PATHS="[^"]+"$/m);
  const init = blaine(['backup', '--config', config, '--init', '--label', label, '--dest', disk, lib1, lib2]);
  assert.equal(init.status, 0, init.stderr);
  write(path.join(lib1, '2020', 'c.jpg'), 'another picture');
  fs.renameSync(path.join(lib2, 'b.flac'), path.join(lib2, 'b-renamed.flac'));

  // systemd's part: %I, the EnvironmentFile's $BLAINE_PATHS split on spaces, the installed paths.
  const argv = (unit: string) =>
    execStart(unit)
      .split(/\s+/)
      .flatMap((w) => (w === '$BLAINE_PATHS' ? [lib1, lib2] : [w]))
      .map((w) =>
        w
          .replaceAll('%I', label)
          .replace('/media/blaine', media)
          .replace('/etc/blaine/blaine.toml', config)
          .replace('/var/log/blaine', logs),
      );
  const backup = argv('blaine-backup@.service');
  assert.equal(backup[0], '/usr/local/bin/blaine');
  const r = blaine(backup.slice(1));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /added 1, renamed 1;/);
  const verify = argv('blaine-verify@.service');
  assert.deepEqual(verify.slice(verify.indexOf('--checksum')), ['--checksum', '--max-time', '120', '--log-file', path.join(logs, `${label}.log`)]);
  const v = blaine(verify.slice(1));
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /3 file\(s\) read and checked; 0 problem\(s\)/);
  const log = fs.readFileSync(path.join(logs, `${label}.log`), 'utf8');
  assert.match(log, / DEBUG blaine backup /);
  assert.match(log, / DEBUG blaine verify /);
});
