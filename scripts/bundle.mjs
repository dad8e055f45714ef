// Bundles the command-line program and the scanning thread into one file each (dist/bundle/), so
// that starting Blaine reads and compiles two files rather than fifty: start-up time counts on
// every run, and most on the no-change runs that are nearly all of them. tsc's dist/src stays for
// the tests and the benchmarks, which import modules one by one.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: {
    main: path.join(root, 'src/cli/main.ts'),
    'scan-worker': path.join(root, 'src/scan/scan-worker.ts'),
    prestart: path.join(root, 'src/cli/prestart.ts'),
  },
  outdir: path.join(root, 'dist/bundle'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // better-sqlite3 finds its compiled part relative to its own package: it stays a package.
  external: ['better-sqlite3'],
  // CommonJS dependencies (commander) call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as blaineRequire } from 'node:module'; const require = blaineRequire(import.meta.url);" },
  logLevel: 'warning',
});
