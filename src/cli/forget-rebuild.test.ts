// A volume dropped with forget-disk stays forgotten whichever disk's snapshot of the
// host catalog rebuild-catalog reads later, in whichever order.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { backup, blaine, rows, testEnv, volumeOf, write, expectOk } from '../../test/helpers.js';


test('a forgotten volume is not brought back by an older snapshot on another disk, whichever disk rebuild-catalog reads first', (t) => {
  const env = testEnv('blaine-forgotten-');
  t.after(env.cleanup);
  const disk = (label: string) => {
    const d = path.join(env.base, label);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };
  const [A, B, C] = [disk('A'), disk('B'), disk('C')];
  const data = (label: string) => {
    const lib = path.join(env.lib, label);
    write(path.join(lib, 'f.bin'), crypto.randomBytes(2000));
    return lib;
  };
  expectOk(backup(env, ['--no-parity', '--init', '--label', 'A'], { disk: A, lib: data('a') }), 'backup A');
  expectOk(backup(env, ['--no-parity', '--init', '--label', 'B'], { disk: B, lib: data('b') }), 'backup B');
  expectOk(backup(env, ['--no-parity', '--init', '--label', 'C'], { disk: C, lib: data('c') }), 'backup C');
  // B's snapshot of the host catalog now lists C; then C is lost and forgotten, and A visits.
  expectOk(backup(env, ['--no-parity'], { disk: B, lib: path.join(env.lib, 'b') }), 'backup B again');
  expectOk(blaine(['forget-disk', 'C', '--db', env.db]), 'forget-disk C');
  expectOk(backup(env, ['--no-parity'], { disk: A, lib: path.join(env.lib, 'a') }), 'backup A again');
  const volC = volumeOf(C).volume;
  const labels = () => (JSON.parse(expectOk(blaine(['disks', '--db', env.db, '--json']), 'disks').stdout) as Array<{ label: string }>).map((d) => d.label).sort();
  const loseHost = () => {
    for (const ext of ['', '-wal', '-shm']) fs.rmSync(`${env.db}${ext}`, { force: true });
  };

  for (const order of [[B, A], [A, B]]) {
    loseHost();
    for (const d of order) {
      const r = expectOk(blaine(['rebuild-catalog', '--dest', d, '--db', env.db]), `rebuild-catalog from ${path.basename(d)}`);
      if (d === B && order[0] === A) assert.match(r.stdout + r.stderr, /volume "C": forgotten/, 'the rebuild says why C is left out');
    }
    const from = order.map((d) => path.basename(d)).join(' then ');
    assert.deepEqual(labels(), ['A', 'B'], `rebuilt from ${from}: C stays forgotten`);
    assert.deepEqual(rows(env.db, volC), [], `rebuilt from ${from}: no row of C`);
    // The disks that know of C only from an old snapshot are still refused nothing: backups go on.
    expectOk(backup(env, ['--no-parity'], { disk: B, lib: path.join(env.lib, 'b') }), `backup B after rebuilding from ${from}`);
    assert.deepEqual(labels(), ['A', 'B']);
  }
  // C's own disk given to rebuild-catalog is asking for it back: it is taken in.
  expectOk(blaine(['rebuild-catalog', '--dest', C, '--db', env.db]), 'rebuild-catalog from C');
  assert.deepEqual(labels(), ['A', 'B', 'C']);
});
