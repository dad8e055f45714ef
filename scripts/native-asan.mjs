// `npm run test:native-asan`: the addon (native/) built with sanitizers in a scratch directory,
// each build under the tests of the native code; any sanitizer report fails the run.
// - AddressSanitizer + UndefinedBehaviorSanitizer: GF(2^16) kernels, MD5 (lanes too)/CRC-32/SHA-1, PAR2
//   creation (every allocation and write failing in turn included), the scan and the copies (the
//   native copy of big files, its faults, aborts and feeds too).
// - ThreadSanitizer: the hashes asked for on the JS thread while the addon's threads hash; creators
//   whose file MD5 chains pair up across threads; the native copy's ring shared by its three threads.
// Needs the compiled tests (tsc -p .) and gcc's sanitizer runtimes (Debian: gcc).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

const BUILDS = [
  {
    name: 'ASan+UBSan',
    cflags: '-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1',
    ldflags: '-fsanitize=address,undefined',
    runtime: 'libasan.so',
    options: {
      // Node's own allocations live until exit by design: leak reports would be about Node.
      ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1',
      UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
    },
    tests: [
      'dist/src/parity/kernels.test.js',
      'dist/src/parity/md5-lanes.test.js',
      'dist/src/parity/creator.test.js',
      'dist/src/parity/creator-faults.test.js',
      'dist/src/fsx/copy-batch.test.js',
      'dist/src/fsx/copy-native.test.js',
      'dist/src/fsx/hash-threads.test.js',
      'dist/src/scan/native.test.js',
      'dist/src/backup/no-change-cost.test.js',
    ],
  },
  {
    name: 'TSan',
    cflags: '-fsanitize=thread -g -O1',
    ldflags: '-fsanitize=thread',
    runtime: 'libtsan.so',
    // Node and V8 are not built with TSan: their own synchronisation looks like races to it.
    options: { TSAN_OPTIONS: `halt_on_error=1 suppressions=${path.join(root, 'scripts', 'tsan-node.supp')}` },
    tests: ['dist/src/fsx/hash-threads.test.js', 'dist/src/fsx/copy-native.test.js', 'dist/src/parity/creator-faults.test.js', 'dist/src/parity/md5-lanes.test.js'],
  },
];

const gyp = [process.env.npm_config_node_gyp, path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')].find(
  (c) => c && fs.existsSync(c),
);
if (!gyp) {
  console.error('native-asan: node-gyp not found');
  process.exit(1);
}

/** The addon built with `build`'s flags below work/; its path. */
function compile(build, work) {
  const src = path.join(work, 'native');
  fs.mkdirSync(src);
  for (const f of fs.readdirSync(path.join(root, 'native'))) {
    if (/\.(c|h|gyp)$/.test(f)) fs.copyFileSync(path.join(root, 'native', f), path.join(src, f));
  }
  const args = [gyp, 'rebuild', '--silent', '-C', src];
  if (process.env.npm_config_nodedir) args.push(`--nodedir=${process.env.npm_config_nodedir}`);
  // binding.gyp finds SQLite's extension header (quickdigest.c) beside native/; the copy is elsewhere.
  const sqliteHeaders = path.join(root, 'node_modules', 'better-sqlite3', 'deps', 'sqlite3');
  const cflags = `${build.cflags} -I${sqliteHeaders}`;
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CFLAGS: cflags, LDFLAGS: build.ldflags } });
  if (r.status !== 0) throw new Error(`native-asan: the ${build.name} build failed`);
  return path.join(src, 'build', 'Release', 'blaine_native.node');
}

let failed = false;
for (const build of BUILDS) {
  const runtime = execFileSync('gcc', [`-print-file-name=${build.runtime}`], { encoding: 'utf8' }).trim();
  if (!path.isAbsolute(runtime) || !fs.existsSync(runtime)) {
    console.error(`native-asan: gcc has no ${build.runtime} (Debian: apt-get install gcc)`);
    process.exit(1);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-sanitized-'));
  try {
    const addon = compile(build, work);
    const env = { ...process.env, ...build.options, BLAINE_TEST_ADDON: addon, LD_PRELOAD: runtime };
    // The tests skip without an addon: make sure this one loads, so a clean run means something.
    const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)}).par2Kernels()`], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    if (probe.status !== 0) throw new Error(`native-asan: the ${build.name} addon does not load`);
    console.log(`# native-asan: ${build.name}`);
    const run = spawnSync(process.execPath, ['--test', ...build.tests], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env });
    if (run.status !== 0) failed = true;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
process.exitCode = failed ? 1 : 0;
