/**
 * contrib/: the udev rule, the systemd units and their ExecStopPost script. systemd does not run
 * here (not PID 1), so what can be checked is checked with systemd's own tools: systemd-analyze
 * verify loads each unit instance for the labels users give (the mount unit it requires comes from
 * the README's fstab line through the real systemd-fstab-generator), systemd-escape shows why %i
 * and not %I; then the very commands the units run are run, with systemd's substitutions made by
 * hand, against a real disk and library, and the script that ends a unit is run as systemd would
 * for each way a run can end.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import test from 'node:test';
import { blaine, repoRoot, scratchDir, write } from './helpers.js';

const contrib = path.join(repoRoot, 'contrib');
const read = (name: string) => fs.readFileSync(path.join(contrib, name), 'utf8');
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const FSTAB_GENERATOR = '/usr/lib/systemd/system-generators/systemd-fstab-generator';
const UNITS = ['blaine-backup@.service', 'blaine-verify@.service', 'blaine-verify@.timer'];
/** Labels as the README tells users to give them: a disk, its twin, a longer name. */
const LABELS = ['blaine-C', 'blaine-C2', 'blaine-Photos-2019'];

function lines(unit: string, key: string): string[] {
  return read(unit)
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

function escapePath(p: string, suffix: string): string {
  return spawnSync('systemd-escape', ['-p', `--suffix=${suffix}`, p], { encoding: 'utf8' }).stdout.trim();
}

/** The README's fstab line for a label. */
function fstabLine(label: string): string {
  const line = /^echo '(LABEL=blaine-C .*)' >> \/etc\/fstab$/m.exec(fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8'))?.[1];
  assert.ok(line, 'the README gives the fstab line');
  return line.replaceAll('blaine-C', label);
}

/** A stand-in executable that records its arguments, one call per line, and exits with `status`. */
function fakeTool(dir: string, name: string, status = 0): { file: string; calls: () => string[][] } {
  const record = path.join(dir, `${name}.calls`);
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\nfor a in "$@"; do printf '%s\\t' "$a"; done >> '${record}'\necho >> '${record}'\nexit ${status}\n`, { mode: 0o755 });
  return {
    file,
    calls: () => (fs.existsSync(record) ? fs.readFileSync(record, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t').slice(0, -1)) : []),
  };
}

test('the units use %i, never %I: %I turns the label blaine-C into blaine/C', { skip: hasAnalyze ? false : 'systemd-analyze is not installed' }, () => {
  for (const unit of UNITS) {
    const settings = read(unit).split('\n').filter((l) => !l.startsWith('#'));
    assert.ok(settings.some((l) => l.includes('%i')));
    assert.ok(!settings.some((l) => l.includes('%I')), `${unit} uses %I`);
  }
  for (const label of LABELS) {
    const unescaped = spawnSync('systemd-escape', ['--unescape', label], { encoding: 'utf8' }).stdout.trim();
    assert.notEqual(unescaped, label, `%I of ${label} is ${unescaped}`);
  }
});

test('every instance for the README\'s labels passes systemd-analyze verify and requires the mount unit of its fstab line', { skip: hasAnalyze ? false : 'systemd-analyze is not installed' }, (t) => {
  const dir = scratchDir(t, 'blaine-units-');
  const fakeBlaine = fakeTool(dir, 'blaine');
  const fakeDone = fakeTool(dir, 'blaine-unit-done');
  for (const name of UNITS) {
    fs.writeFileSync(path.join(dir, name), read(name).replaceAll('/usr/local/bin/blaine-unit-done', fakeDone.file).replaceAll('/usr/local/bin/blaine', fakeBlaine.file));
  }
  const generated = fs.existsSync(FSTAB_GENERATOR);
  for (const label of LABELS) {
    const mountUnit = escapePath(`/media/blaine/${label}`, 'mount');
    if (generated) {
      // The README's fstab line, through systemd's own generator, into the folder verify loads from.
      const fstab = path.join(dir, `fstab-${label}`);
      fs.writeFileSync(fstab, `${fstabLine(label)}\n`);
      const gen = path.join(dir, `gen-${label}`);
      fs.mkdirSync(gen);
      const g = spawnSync(FSTAB_GENERATOR, [gen, gen, gen], { encoding: 'utf8', env: { ...process.env, SYSTEMD_FSTAB: fstab, SYSTEMD_PROC_CMDLINE: '' } });
      assert.equal(g.status, 0, g.stderr);
      // A key systemd does not know: its warning proves that verify loaded this very mount unit.
      fs.writeFileSync(path.join(dir, mountUnit), `${fs.readFileSync(path.join(gen, mountUnit), 'utf8')}ProbeLoaded=yes\n`);
    }
    const instances = UNITS.map((u) => path.join(dir, u.replace('@.', `@${label}.`)));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...instances], { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter(Boolean);
    if (generated) {
      assert.ok(warnings.some((w) => w.includes(mountUnit) && w.includes('ProbeLoaded')), `${label}: the backup unit requires ${mountUnit}:\n${r.stderr}`);
    }
    assert.deepEqual(warnings.filter((w) => !w.includes('ProbeLoaded')), [], `${label}: no other warning`);
  }
  // A label systemd cannot take as an instance (the README says why and how to label a twin).
  const bad = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(dir, "blaine-backup@C'.service")], { encoding: 'utf8', cwd: dir });
  assert.notEqual(bad.status, 0);
  assert.match(fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8'), /e2label \/dev\/sdY1 blaine-C2/);
});

test('the udev rule starts the backup unit of the plugged-in disk; the units wait for locks, give Blaine time to stop, count disk full as success', () => {
  const rule = read('99-blaine.rules').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  assert.equal(rule.length, 1);
  assert.equal(/SYSTEMD_WANTS\}\+="([^"]+)"/.exec(rule[0]!)?.[1], 'blaine-backup@$env{ID_FS_LABEL}.service');
  for (const unit of ['blaine-backup@.service', 'blaine-verify@.service']) {
    assert.deepEqual(lines(unit, 'RequiresMountsFor'), ['/media/blaine/%i']);
    for (const cmd of lines(unit, 'ExecStart')) {
      assert.match(cmd, / --wait /, `${unit}: ${cmd}`);
      assert.match(cmd, / --dest \/media\/blaine\/%i /);
      assert.match(cmd, / --log-file \/var\/log\/blaine\/%i\.log/);
    }
    assert.deepEqual(lines(unit, 'LogsDirectory'), ['blaine'], 'systemd makes /var/log/blaine');
    assert.deepEqual(lines(unit, 'ExecStopPost'), ['/usr/local/bin/blaine-unit-done /media/blaine/%i /var/log/blaine/%i.log']);
    assert.deepEqual(lines(unit, 'KillMode'), ['mixed'], 'SIGTERM to Blaine only; par2 dies with it');
    assert.ok(/^(\d+)min$/.test(lines(unit, 'TimeoutStopSec')[0] ?? '') && Number(/\d+/.exec(lines(unit, 'TimeoutStopSec')[0]!)![0]) >= 10);
  }
  assert.deepEqual(lines('blaine-backup@.service', 'SuccessExitStatus'), ['3']);
  assert.match(lines('blaine-backup@.service', 'ConditionPathExists')[0]!, /^\/media\/blaine\/%i\/\.blaine\/volume\.json$/);
});

test('the commands the units run, with the one config file: a backup that applies and copies, then a time-boxed checksum verify', (t) => {
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
  // The sample config with this test's catalog and data paths; found through BLAINE_CONFIG as the
  // units find /etc/blaine/config.toml: without --config.
  const config = path.join(base, 'config.toml');
  fs.writeFileSync(
    config,
    read('config.toml')
      .replace(/^db = .*$/m, `db = ${JSON.stringify(db)}`)
      .replace(/^paths = .*$/m, `paths = ${JSON.stringify([lib1, lib2])}`),
  );
  const env = { BLAINE_CONFIG: config };
  // By hand: a 64 MB-sized story needs no --reserve (the default fits the disk).
  const init = blaine(['backup', '--init', '--label', label, '--dest', disk], { env });
  assert.equal(init.status, 0, init.stderr);
  write(path.join(lib1, '2020', 'c.jpg'), 'another picture');
  fs.renameSync(path.join(lib2, 'b.flac'), path.join(lib2, 'b-renamed.flac'));

  const argvs = (unit: string) =>
    lines(unit, 'ExecStart').map((cmd) =>
      cmd.split(/\s+/).map((w) => w.replaceAll('%i', label).replace('/media/blaine', media).replace('/var/log/blaine', logs)),
    );
  const [backup, scrub] = argvs('blaine-backup@.service');
  assert.equal(backup![0], '/usr/local/bin/blaine');
  const r = blaine(backup!.slice(1), { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /added 1, renamed 1;/);
  const s = blaine(scrub!.slice(1), { env });
  assert.equal(s.status, 0, s.stderr);
  const [verify] = argvs('blaine-verify@.service');
  const v = blaine(verify!.slice(1), { env });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /3 file\(s\) read and checked; 0 problem\(s\)/);
  const log = fs.readFileSync(path.join(logs, `${label}.log`), 'utf8');
  assert.match(log, / DEBUG blaine backup /);
  assert.match(log, / DEBUG blaine verify /);
});

test('blaine-unit-done: unmounts after success (disk full too), leaves a failed disk mounted, and tells the hook when Blaine was killed', (t) => {
  const dir = scratchDir(t, 'blaine-unit-done-');
  const umount = fakeTool(dir, 'umount');
  const fakeBlaine = fakeTool(dir, 'blaine');
  const log = path.join(dir, 'blaine-C.log');
  const script = path.join(contrib, 'blaine-unit-done');
  const run = (result: string, code: string, status: string) =>
    spawnSync(script, ['/media/blaine/blaine-C', log], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, SERVICE_RESULT: result, EXIT_CODE: code, EXIT_STATUS: status },
    });
  // Exit 0, and exit 3 (SuccessExitStatus): systemd calls both "success".
  for (const status of ['0', '3']) {
    const r = run('success', 'exited', status);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /safe to remove/);
  }
  assert.deepEqual(umount.calls(), [['/media/blaine/blaine-C'], ['/media/blaine/blaine-C']]);
  // Exit 1 or 4: Blaine told the hook itself; the disk stays for a person to look at.
  const failed = run('exit-code', 'exited', '4');
  assert.equal(failed.status, 0);
  assert.match(failed.stdout, /exit status 4; \/media\/blaine\/blaine-C stays mounted/);
  assert.equal(umount.calls().length, 2);
  assert.deepEqual(fakeBlaine.calls(), []);
  // Killed at the stop timeout: nobody told the hook, so the script does.
  const killed = run('timeout', 'killed', 'KILL');
  assert.equal(killed.status, 0);
  const [call] = fakeBlaine.calls();
  assert.deepEqual(call!.slice(0, 6), ['notify', '--status', '137', '--dest', '/media/blaine/blaine-C', '--log-file']);
  assert.match(call!.at(-1)!, /stopped \(timeout: killed KILL\)/);
  assert.equal(umount.calls().length, 2);
  assert.match(fs.readFileSync(log, 'utf8'), /safe to remove[^]*stays mounted/);
});
