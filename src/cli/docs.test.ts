/**
 * Completion scripts and the man page come from the command definitions: every command and option
 * --help shows is in them, and they work in the real shells (bash; zsh when installed) and groff.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import test from 'node:test';
import { blaine, repoRoot, scratchDir } from '../../test/helpers.js';
import { buildProgram } from './main.js';

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** What bash completes for the words typed so far (the last one being completed). */
function bashCompletes(script: string, words: string[], cwd: string): string[] {
  const r = spawnSync('bash', ['-c', `source "$1"; COMP_WORDS=("\${@:2}"); COMP_CWORD=$(($# - 2)); _blaine; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', script, ...words], { encoding: 'utf8', cwd });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test('bash completion: commands, each command\'s own options, directories after --dest', (t) => {
  const dir = scratchDir(t, 'blaine-completion-');
  const script = path.join(dir, 'blaine.bash');
  const r = blaine(['completion', 'bash']);
  assert.equal(r.status, 0, r.stderr);
  fs.writeFileSync(script, r.stdout);
  fs.mkdirSync(path.join(dir, 'disk-a'));
  fs.writeFileSync(path.join(dir, 'disk-file'), '');
  assert.deepEqual(bashCompletes(script, ['blaine', 'ba'], dir), ['backup']);
  for (const cmd of buildProgram().commands) {
    const offered = new Set(bashCompletes(script, ['blaine', cmd.name(), '--'], dir));
    for (const o of cmd.options.filter((x) => !x.hidden)) assert.ok(offered.has(o.long!), `${cmd.name()} ${o.long}`);
  }
  // Global options before the command, as blaine takes them.
  assert.deepEqual(bashCompletes(script, ['blaine', '-q', 'backup', '--dest', 'disk-'], dir), ['disk-a']);
  assert.deepEqual(bashCompletes(script, ['blaine', 'report', '--html', 'disk-'], dir).sort(), ['disk-a', 'disk-file']);
});

test('zsh completion: parses, and completes commands and directories in a real zsh', { skip: has('zsh') ? false : 'zsh is not installed' }, (t) => {
  const dir = scratchDir(t, 'blaine-zsh-');
  fs.writeFileSync(path.join(dir, '_blaine'), blaine(['completion', 'zsh']).stdout);
  assert.equal(spawnSync('zsh', ['-n', path.join(dir, '_blaine')]).status, 0);
  fs.mkdirSync(path.join(dir, 'diskdir'));
  // An interactive zsh on a pseudo-terminal: type, press Tab, read what the line became.
  const driver = `
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z 'PS1="> "; fpath=(${dir} $fpath); autoload -U compinit; compinit -u -D; cd ${dir}'
zpty -w z 'print BACK; blaine back'$'\\t'
zpty -w z $'\\x15'
zpty -w z 'print DEST; blaine backup --dest disk'$'\\t'
zpty -w z $'\\x15'
zpty -w z 'print OPT; blaine disks --js'$'\\t'
zpty -w z $'\\x15print END-OF-TEST'
zpty -r z out '*END-OF-TEST*END-OF-TEST*'
print -r -- "$out"
`;
  const r = spawnSync('zsh', ['-f', '-c', driver], { encoding: 'utf8', timeout: 20_000 });
  const text = r.stdout.replace(/\x1b\[[0-9;?]*[a-zA-Z]|[\b\r]/g, '');
  assert.match(text, /blaine backup /);
  assert.match(text, /blaine backup --dest diskdir\//);
  assert.match(text, /blaine disks --json/);
});

test('the man page: every command and option, no groff warning; the README installs it and the completion', { skip: has('groff') ? false : 'groff is not installed' }, () => {
  const page = blaine(['man']);
  assert.equal(page.status, 0, page.stderr);
  const g = spawnSync('groff', ['-man', '-Tutf8', '-ww'], { input: page.stdout, encoding: 'utf8', env: { ...process.env, GROFF_NO_SGR: '1' } });
  assert.equal(g.stderr, '');
  const text = g.stdout.replace(/.\x08/g, '').replace(/‐/g, '-');
  for (const cmd of buildProgram().commands) {
    assert.ok(text.includes(`blaine ${cmd.name()}`), cmd.name());
    for (const o of cmd.options.filter((x) => !x.hidden)) assert.ok(text.includes(o.long!), `${cmd.name()} ${o.long}`);
  }
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  assert.match(readme, /blaine completion bash > \/etc\/bash_completion\.d\/blaine/);
  assert.match(readme, /blaine completion zsh > \/usr\/local\/share\/zsh\/site-functions\/_blaine/);
  assert.match(readme, /blaine man > \/usr\/local\/share\/man\/man1\/blaine\.1/);
});
