/**
 * Running Blaine unattended and by habit: one config file found without flags, a disk
 * that remembers its settings, waiting for a busy lock, the notify hook, and the small things
 * (global options first, -q, closed pipes, files given as directories, sizes a person reads).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import test from 'node:test';
import { blaine, blaineBin, isRoot, mountTmpfs, scratchDir, testEnv, unmount, write } from '../../test/helpers.js';
import { initVolume } from '../archive/volume.js';
import { requireHostCatalog } from '../archive/session.js';
import { realFs } from '../fsx/fsx.js';

/** A config home of its own, so that no file of the machine's is found by accident. */
function isolated(base: string, extra: Record<string, string> = {}): Record<string, string> {
  return { XDG_CONFIG_HOME: path.join(base, 'xdg'), BLAINE_CONFIG: '', BLAINE_DB: '', ...extra };
}

function library(lib: string, n: number): void {
  for (let i = 0; i < n; i++) write(path.join(lib, 'photos', String(i % 7), `f${i}.jpg`), `picture ${i} `.repeat(3));
}

/** A library of n files archived onto a new disk without parity, in a folder removed after the test. */
function archivedLibrary(t: { after: (fn: () => void) => void }, n: number) {
  const env = testEnv();
  t.after(env.cleanup);
  library(env.lib, n);
  const e = isolated(env.base);
  const init = blaine(['backup', '--init', '--no-parity', '--db', env.db, '--dest', env.disk, env.lib], { env: e });
  assert.equal(init.status, 0, init.stderr);
  return { env, e };
}

test('one config file without --config: $XDG_CONFIG_HOME/blaine/config.toml, $BLAINE_CONFIG before it, BLAINE_DB; the config names the data paths', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  library(env.lib, 5);
  const base = env.base;
  const xdgConfig = path.join(base, 'xdg', 'blaine', 'config.toml');
  write(xdgConfig, `db = ${JSON.stringify(env.db)}\n[backup]\npaths = [${JSON.stringify(env.lib)}]\nno_parity = true\n`);
  const e = isolated(base);
  const init = blaine(['backup', '--init', '--label', 'A', '--dest', env.disk], { env: e });
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stdout, /"A": added 5;/);
  assert.ok(fs.existsSync(env.db), 'the host catalog the config names');
  const disks = blaine(['disks', '--json'], { env: e });
  assert.equal(disks.status, 0, disks.stderr);
  assert.equal((JSON.parse(disks.stdout) as { label: string }[])[0]!.label, 'A');
  // BLAINE_CONFIG wins over the XDG file; BLAINE_DB gives the catalog when the config does not.
  const other = path.join(base, 'other.toml');
  write(other, '');
  const viaEnv = blaine(['disks', '--json'], { env: isolated(base, { BLAINE_CONFIG: other, BLAINE_DB: env.db }) });
  assert.equal(viaEnv.status, 0, viaEnv.stderr);
  assert.equal((JSON.parse(viaEnv.stdout) as unknown[]).length, 1);
  const empty = blaine(['disks'], { env: isolated(base, { BLAINE_CONFIG: other, BLAINE_DB: path.join(base, 'none.sqlite') }) });
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /no host catalog at .*none\.sqlite/);
  const missing = blaine(['disks'], { env: isolated(base, { BLAINE_CONFIG: path.join(base, 'nope.toml') }) });
  assert.equal(missing.status, 2);
  assert.equal(missing.stderr, `blaine: BLAINE_CONFIG names ${path.join(base, 'nope.toml')}, which does not exist\n`);
});

test('a disk remembers --reserve and --parity from --init; later runs use them unless the command line says otherwise', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  library(env.lib, 3);
  const e = isolated(env.base);
  const init = blaine(['backup', '--init', '--no-parity', '--reserve', '1M', '--db', env.db, '--dest', env.disk, env.lib], { env: e });
  assert.equal(init.status, 0, init.stderr);
  const volume = JSON.parse(fs.readFileSync(path.join(env.disk, '.blaine', 'volume.json'), 'utf8')) as { settings: unknown };
  assert.deepEqual(volume.settings, { reserve: 1e6, parity: 0 });
  const parityFiles = () => spawnSync('find', [path.join(env.disk, '.blaine', 'parity'), '-name', '*.par2'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  assert.equal(parityFiles().length, 0);
  // The daily command repeats nothing: still no parity.
  write(path.join(env.lib, 'photos', 'new.jpg'), 'a new picture');
  const daily = blaine(['backup', '--db', env.db, '--dest', env.disk, env.lib], { env: e });
  assert.equal(daily.status, 0, daily.stderr);
  assert.match(daily.stdout, /added 1;/);
  assert.equal(parityFiles().length, 0, 'the disk said: no parity');
  // The command line wins.
  write(path.join(env.lib, 'photos', 'newer.jpg'), 'another new picture');
  const withParity = blaine(['backup', '--parity', '10', '--db', env.db, '--dest', env.disk, env.lib], { env: e });
  assert.equal(withParity.status, 0, withParity.stderr);
  assert.ok(parityFiles().some((f) => f.endsWith('newer.jpg.par2')));
});

test('the README rotation on a 64 MB disk with the defaults: the default reserve fits a small disk', { skip: isRoot ? false : 'needs root for a 64 MB tmpfs disk' }, (t) => {
  const env = testEnv();
  library(env.lib, 20);
  const disk = path.join(env.base, 'disk64');
  assert.ok(mountTmpfs(disk, '64m'));
  t.after(() => {
    unmount(disk);
    env.cleanup();
  });
  const r = blaine(['backup', '--init', '--label', 'A', '--db', env.db, '--dest', disk, env.lib], { env: isolated(env.base) });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /"A": added 20;/);
});

test('the disk-full sentence gives sizes a person reads', { skip: isRoot ? false : 'needs root for a small tmpfs disk' }, (t) => {
  const env = testEnv();
  write(path.join(env.lib, 'big.bin'), Buffer.alloc(3 << 20, 7));
  const disk = path.join(env.base, 'disk2m');
  assert.ok(mountTmpfs(disk, '2m'));
  t.after(() => {
    unmount(disk);
    env.cleanup();
  });
  const r = blaine(['backup', '--init', '--no-parity', '--db', env.db, '--dest', disk, env.lib], { env: isolated(env.base) });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /big\.bin needs [\d.]+ MB with parity and reserve, [\d.]+ (MB|KB) free \([\d.]+ (MB|KB) short\)/);
});

test('--wait: a busy host catalog is waited for, then the run goes on; without it, one sentence and exit 1', { skip: spawnSync('flock', ['--version']).status === 0 ? false : 'flock (util-linux) is not installed' }, async (t) => {
  const { env, e } = archivedLibrary(t, 3);
  // Another holder of the host catalog's lock, until its stdin closes.
  const holder = spawn('flock', ['-x', `${env.db}.lock`, '-c', 'echo held; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => holder.kill());
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  const busy = blaine(['backup', '--db', env.db, '--dest', env.disk, env.lib], { env: e });
  assert.equal(busy.status, 1);
  assert.match(busy.stderr, /^blaine: The host catalog .* is in use by another Blaine run; wait for it to finish\.\n$/);
  const waiting = spawn(process.execPath, [blaineBin, 'backup', '--wait', '--db', env.db, '--dest', env.disk, env.lib], { env: { ...process.env, ...e } });
  let stdout = '';
  let stderr = '';
  waiting.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => waiting.on('exit', (code) => resolve(code)));
  // It says it waits (or, failing, ends: then the assertion below says why).
  const said = new Promise<void>((resolve) =>
    waiting.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('waiting')) resolve();
    }),
  );
  await Promise.race([said, exited]);
  assert.match(stdout, /The host catalog .* is in use by another Blaine run: waiting for it to finish/, stderr);
  holder.stdin.end();
  const status = await exited;
  assert.equal(status, 0, stderr);
  assert.match(stdout, /0 unchanged|3 unchanged/);
  const bad = blaine(['backup', '--wait=soon', '--db', env.db, '--dest', env.disk, env.lib], { env: e });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--wait takes a duration such as 90s, 15m, 2h or 1d/);
});

test('the notify hook hears every run: the report as JSON on stdin, the status in its environment; a failing hook is a warning', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  library(env.lib, 4);
  const heard = path.join(env.base, 'heard.json');
  const status = path.join(env.base, 'status');
  const config = path.join(env.base, 'config.toml');
  write(config, `notify = ${JSON.stringify(`cat > '${heard}'; printf '%s|%s' "$BLAINE_STATUS" "$BLAINE_SUBJECT" > '${status}'`)}\n`);
  const e = isolated(env.base, { BLAINE_CONFIG: config });
  const ok = blaine(['backup', '--init', '--label', 'A', '--no-parity', '--db', env.db, '--dest', env.disk, env.lib], { env: e });
  assert.equal(ok.status, 0, ok.stderr);
  const report = JSON.parse(fs.readFileSync(heard, 'utf8')) as { command: string; status: number; dest: string; summary: { added: number }; lines: string[] };
  assert.equal(report.command, 'backup');
  assert.equal(report.status, 0);
  assert.equal(report.dest, env.disk);
  assert.equal(report.summary.added, 4);
  assert.match(report.lines[0]!, /"A": added 4;/);
  assert.match(fs.readFileSync(status, 'utf8'), /^0\|blaine backup on .*: done \(exit 0\)$/);
  // A failed run is told too, with its error.
  const notADisk = path.join(env.base, 'empty');
  fs.mkdirSync(notADisk);
  const failed = blaine(['verify', '--db', env.db, '--dest', notADisk], { env: e });
  assert.equal(failed.status, 1);
  const told = JSON.parse(fs.readFileSync(heard, 'utf8')) as { status: number; lines: string[] };
  assert.equal(told.status, 1);
  assert.match(told.lines.at(-1)!, /^error: .* is not a Blaine disk/);
  // Read-only commands do not call it; a hook that fails does not change the status.
  fs.rmSync(heard);
  assert.equal(blaine(['disks', '--db', env.db], { env: e }).status, 0);
  assert.ok(!fs.existsSync(heard));
  write(config, `notify = "exit 7"\n`);
  const hookFails = blaine(['verify', '--db', env.db, '--dest', env.disk], { env: e });
  assert.equal(hookFails.status, 0, hookFails.stderr);
  assert.match(hookFails.stderr, /warning: the notify hook exited with status 7/);
  // What the units run when Blaine was killed.
  write(config, `notify = ${JSON.stringify(`cat > '${heard}'`)}\n`);
  const unit = blaine(['notify', '--status', '143', '--dest', env.disk, 'the unit was stopped'], { env: e });
  assert.equal(unit.status, 0, unit.stderr);
  const killed = JSON.parse(fs.readFileSync(heard, 'utf8')) as { command: string; status: number; lines: string[] };
  assert.deepEqual([killed.command, killed.status, killed.lines], ['notify', 143, ['error: the unit was stopped']]);
});

test('global options before the command, and -q alike for every command: warnings and errors only', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  library(env.lib, 2);
  const e = isolated(env.base);
  const q = blaine(['-q', '--db', env.db, 'backup', '--init', '--no-parity', '--dest', env.disk, env.lib], { env: e });
  assert.equal(q.status, 0, q.stderr);
  assert.equal(q.stdout, '', 'no summary with -q');
  assert.equal(q.stderr, '');
  const disks = blaine(['-q', 'disks', '--db', env.db], { env: e });
  assert.equal(disks.status, 0, disks.stderr);
  assert.equal(disks.stdout, '');
  const loud = blaine(['--db', env.db, 'disks'], { env: e });
  assert.equal(loud.status, 0, loud.stderr);
  assert.match(loud.stdout, /2 files/);
  assert.equal(blaine(['--version']).status, 0);
});

test('blaine list | head and blaine disks | head end quietly: no EPIPE, no stack trace', (t) => {
  const { env, e } = archivedLibrary(t, 2500);
  // list: more than a pipe holds, so head's exit cuts it short; disks: a reader gone before the
  // first line (`true` reads nothing), since its few lines would fit in the pipe.
  for (const [cmd, reader, lines] of [['list', 'head -1', 1], ['disks', 'true', 0]] as const) {
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${blaineBin}" ${cmd} --db "${env.db}" | ${reader}; echo "status \${PIPESTATUS[0]}" >&2`], {
      encoding: 'utf8',
      env: { ...process.env, ...e },
    });
    assert.equal(r.stdout.split('\n').filter(Boolean).length, lines, r.stdout);
    assert.doesNotMatch(r.stderr, /EPIPE|Error|at /, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, /^status 0\n$/);
  }
});

test('a file given as --dest or --to is one sentence saying so', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  library(env.lib, 1);
  const file = path.join(env.lib, 'photos', '0', 'f0.jpg');
  const e = isolated(env.base);
  const asDest = blaine(['backup', '--db', env.db, '--dest', file, env.lib], { env: e });
  assert.equal(asDest.status, 2);
  assert.equal(asDest.stderr, `blaine: --dest ${file} is a file, not a directory: give the directory where the archive disk is mounted\n`);
  assert.equal(blaine(['backup', '--init', '--no-parity', '--db', env.db, '--dest', env.disk, env.lib], { env: e }).status, 0);
  const asTo = blaine(['restore', '--db', env.db, '--dest', env.disk, '--to', file, '*'], { env: e });
  assert.equal(asTo.status, 2);
  assert.equal(asTo.stderr, `blaine: --to ${file} is a file, not a directory: give the directory to restore into\n`);
});

test('the rebuild-catalog advice for an encrypted disk names its key', (t) => {
  const base = scratchDir(t);
  const disk = path.join(base, 'disk');
  fs.mkdirSync(disk);
  initVolume(disk, 'Offsite', { encrypted: true, prepare: () => {} }, realFs);
  assert.throws(() => requireHostCatalog(path.join(base, 'none.sqlite'), disk, realFs), /run `blaine rebuild-catalog --dest .* --key-file KEYFILE`/);
});
