import assert from 'node:assert/strict';
import test from 'node:test';
import { blaine } from '../../test/helpers.js';
import { buildProgram } from './main.js';

/** The "Examples:" block of a help text: the command lines it shows. */
function exampleCommands(help: string): string[] {
  const block = help.split('\nExamples:\n')[1];
  if (block === undefined) return [];
  return block.split('\n').filter((l) => /^ {2}\S/.test(l)).map((l) => l.trim());
}

test('blaine --help and every command\'s --help show examples of that command', () => {
  const top = blaine(['--help']);
  assert.equal(top.status, 0);
  assert.ok(exampleCommands(top.stdout).length > 0, top.stdout);
  const names = buildProgram().commands.map((c) => c.name());
  assert.ok(names.length >= 9, `commands: ${names.join(', ')}`);
  for (const name of names) {
    const r = blaine([name, '--help']);
    assert.equal(r.status, 0, `${name} --help: ${r.stderr}`);
    const examples = exampleCommands(r.stdout);
    assert.ok(examples.length > 0, `${name} --help has an example`);
    for (const e of examples) assert.ok(e.startsWith(`blaine ${name} `) || e === `blaine ${name}`, `${name}: "${e}" runs that command`);
  }
});

test('the examples use only options their command has', () => {
  const program = buildProgram();
  for (const cmd of program.commands) {
    const longs = new Set(cmd.options.map((o) => o.long).filter(Boolean));
    const r = blaine([cmd.name(), '--help']);
    for (const e of exampleCommands(r.stdout)) {
      for (const flag of e.match(/(?<=\s)--[a-z][a-z-]*/g) ?? []) assert.ok(longs.has(flag), `${cmd.name()}: ${flag} in "${e}"`);
    }
  }
});

test('help text is wrapped by the program, not broken by hand mid-sentence', () => {
  for (const cmd of buildProgram().commands) {
    assert.doesNotMatch(cmd.description(), /[a-z,;:]\n/, `${cmd.name()}: a line break inside a sentence`);
  }
});
