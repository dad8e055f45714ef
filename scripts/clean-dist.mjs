// tsc never deletes: a module moved or removed in src/ would leave its old compiled file (and its
// old test) in dist/ for `node --test dist/` to run. The compiled trees are rebuilt from scratch;
// dist/bundle is rewritten by every bundle step anyway.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '../dist');
for (const tree of ['src', 'test', 'bench']) rmSync(path.join(dist, tree), { recursive: true, force: true });
