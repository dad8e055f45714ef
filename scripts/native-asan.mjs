// `npm run test:native-asan`: builds the addon (native/) with AddressSanitizer and
// UndefinedBehaviorSanitizer into a scratch directory and runs the tests of the native code
// against that build: GF(2^16) kernels, MD5/CRC-32/SHA-1, PAR2 creation (failing writes and
// allocations included), the scan and the copy. Any sanitizer report fails the run.
// Needs `npm run build` first (the compiled tests in dist/) and gcc's libasan.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const TESTS = [
  'dist/src/parity/kernels.test.js',
  'dist/src/parity/creator.test.js',
  'dist/src/parity/creator-faults.test.js',
  'dist/src/fsx/copy-batch.test.js',
  'dist/src/scan/native.test.js',
];

const gyp = [process.env.npm_config_node_gyp, path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')].find(
  (c) => c && fs.existsSync(c),
);
if (!gyp) {
  console.error('native-asan: node-gyp not found');
  process.exit(1);
}
const runtime = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
if (!path.isAbsolute(runtime) || !fs.existsSync(runtime)) {
  console.error('native-asan: gcc has no libasan (Debian: apt-get install gcc)');
  process.exit(1);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-asan-'));
try {
  const src = path.join(work, 'native');
  fs.mkdirSync(src);
  for (const f of fs.readdirSync(path.join(root, 'native'))) {
    if (/\.(c|h|gyp)$/.test(f)) fs.copyFileSync(path.join(root, 'native', f), path.join(src, f));
  }
  const flags = '-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1';
  const gypArgs = [gyp, 'rebuild', '--silent', '-C', src];
  if (process.env.npm_config_nodedir) gypArgs.push(`--nodedir=${process.env.npm_config_nodedir}`);
  const built = spawnSync(process.execPath, gypArgs, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CFLAGS: flags, LDFLAGS: '-fsanitize=address,undefined' },
  });
  if (built.status !== 0) {
    console.error('native-asan: the sanitized build failed');
    process.exit(1);
  }
  const addon = path.join(src, 'build', 'Release', 'blaine_native.node');
  const env = {
    ...process.env,
    BLAINE_TEST_ADDON: addon,
    LD_PRELOAD: runtime,
    // Node's own allocations live until exit by design: leak reports would be about Node.
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  };
  // The tests skip without an addon: make sure this one loads, so a clean run means something.
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)}).par2Kernels()`], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (probe.status !== 0) {
    console.error('native-asan: the sanitized addon does not load');
    process.exit(1);
  }
  const run = spawnSync(process.execPath, ['--test', ...TESTS], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env,
  });
  process.exitCode = run.status === 0 ? 0 : 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
