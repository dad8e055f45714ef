// `npm run test:quick`: the edit-test loop. Runs the compiled unit and in-process tests: every
// test file except those that run the `bin/blaine` executable end to end (the CLI tests) and the
// few below that spend their time in other programs or on big data. `npm test` runs them all.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Test files (source paths) left to the full suite, and why. */
const SLOW = new Map([
  ['src/parity/creator.test.ts', 'checks sets of a few hundred MB against par2cmdline'],
  ['src/parity/par2.test.ts', 'runs par2cmdline for every case'],
  ['src/parity/pool.test.ts', 'runs par2cmdline processes'],
  ['src/report/report.test.ts', 'renders the page in a browser'],
  ['src/progress/terminal.test.ts', 'drives a pseudo-terminal'],
  ['src/crypt/gocryptfs.test.ts', 'mounts gocryptfs file systems'],
]);

/** A test that starts the executable (test/helpers.ts blaine(), blaineBin) is end to end. */
const END_TO_END = /\bblaine\(|\bblaineBin\b|'bin', 'blaine'/;

const sources = (fs.readdirSync(root, { recursive: true }) ?? [])
  .filter((f) => /^(src|test)\//.test(f) && f.endsWith('.test.ts'))
  .sort();
const quick = sources.filter((f) => !SLOW.has(f) && !END_TO_END.test(fs.readFileSync(path.join(root, f), 'utf8')));
const compiled = quick.map((f) => path.join('dist', f.replace(/\.ts$/, '.js')));
const missing = compiled.filter((f) => !fs.existsSync(path.join(root, f)));
if (missing.length > 0) {
  console.error(`test:quick: not compiled (run tsc -p .): ${missing.join(', ')}`);
  process.exit(1);
}
console.log(`test:quick: ${quick.length} of ${sources.length} test files (the rest: npm test)`);
const t0 = Date.now();
// Many of these wait on disks and child processes: two files at a time even on two cores.
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${Math.max(2, os.availableParallelism())}`, ...compiled], { cwd: root, stdio: 'inherit' });
console.log(`test:quick: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exitCode = r.status ?? 1;
