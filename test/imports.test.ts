/**
 * No import circle in src/: the modules (type-only imports included, tests left out) form a graph
 * without cycles, so each one can be read, and loaded, after the ones it depends on.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.js';

/** Each module of src/ (relative path) and the modules of src/ it imports. */
export function importGraph(srcDir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const files = (fs.readdirSync(srcDir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  for (const file of files) {
    const text = fs.readFileSync(path.join(srcDir, file), 'utf8');
    const deps: string[] = [];
    // `import … from './x.js'`, `export … from './x.js'`, `import './x.js'`, `import('./x.js')`.
    for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)'(\.{1,2}\/[^']+)'/g)) {
      deps.push(path.normalize(path.join(path.dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
    }
    graph.set(path.normalize(file), deps);
  }
  return graph;
}

/** The cycles of the graph, each as the list of modules in it (Tarjan's strongly connected components). */
export function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('the checker finds a circle of three modules and none in a chain', () => {
  const circle = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts', 'd.ts']],
    ['d.ts', []],
  ]);
  assert.deepEqual(cycles(circle), [['a.ts', 'b.ts', 'c.ts']]);
  circle.set('c.ts', ['d.ts']);
  assert.deepEqual(cycles(circle), []);
});

test('src/ has no import circle (type-only imports count)', () => {
  const graph = importGraph(path.join(repoRoot, 'src'));
  assert.ok(graph.size > 100, `only ${graph.size} modules found`);
  assert.ok(graph.get(path.join('apply', 'executor.ts'))!.includes(path.join('apply', 'env.ts')), 'imports were not read');
  assert.deepEqual(cycles(graph), []);
});
