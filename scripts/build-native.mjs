// Builds the native scanner (native/scan.c) with the node-gyp that npm brings. Blaine works
// without it (the scanner then lstats through node:fs, several times slower on big trees), so a
// machine without a C compiler gets a warning here, not a failed install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const candidates = [
  process.env.npm_config_node_gyp,
  path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].filter(Boolean);
let gyp = candidates.find((c) => existsSync(c));
if (!gyp) {
  try {
    gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // none
  }
}
if (!gyp) {
  console.warn('blaine: node-gyp not found; the native scanner was not built and scans will use node:fs');
  process.exit(0);
}
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--silent', '-C', path.join(root, 'native')], { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) {
  console.warn('blaine: the native scanner could not be built (is a C compiler installed?); scans will use node:fs');
}
