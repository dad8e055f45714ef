/**
 * The engines return data and the command line speaks (README, "Where things are"): no module of
 * the engine folders below writes to the terminal, reads the environment, or takes a callback that
 * hands it a sentence to print. Tests are left out: they may print and set what they like.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.js';

const ENGINES = ['backup', 'apply', 'plan', 'scan', 'parity'];

/** What an engine must not contain, and why each is a sign of an engine that speaks. */
const SPEAKS: Array<[RegExp, string]> = [
  [/\bprocess\.(stdout|stderr)\b/, 'writes to the terminal'],
  [/\bconsole\.\w+\(/, 'writes to the terminal'],
  [/\bprocess\.env\b/, 'reads the environment (the command passes settings as options)'],
  [/\b(warn|detail|info|debug|say)\(/, 'hands out a sentence to print (tell a typed event instead)'],
  [/from '\.\.\/cli\//, 'imports the command line'],
];

/** Every line of the engines' modules that breaks a rule, as "file:line: why". */
function speakingLines(): string[] {
  const found: string[] = [];
  for (const dir of ENGINES) {
    const base = path.join(repoRoot, 'src', dir);
    const files = (fs.readdirSync(base, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    for (const f of files) {
      const lines = fs.readFileSync(path.join(base, f), 'utf8').split('\n');
      lines.forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '');
        if (/^\s*(\*|\/\*)/.test(code)) return; // a comment
        for (const [re, why] of SPEAKS) if (re.test(code)) found.push(`src/${dir}/${f}:${i + 1}: ${why}`);
      });
    }
  }
  return found;
}

test('the engines (backup, apply, plan, scan, parity) print nothing, read no environment and hand out no sentences', () => {
  assert.deepEqual(speakingLines(), []);
});
