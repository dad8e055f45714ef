import type { Command } from 'commander';
import { bashCompletion, manPage, zshCompletion } from './docs.js';
import { EXIT, UsageError } from './exit.js';

/** `blaine completion bash|zsh` and `blaine man`: printed from the program's own definitions. */
export function registerDocs(program: Command): void {
  program
    .command('completion')
    .summary('print the bash or zsh completion script')
    .description('Print a shell completion script for bash or zsh, made from the same definitions as --help (see the README\'s install steps).')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(bashCompletion(program));
      else if (shell === 'zsh') process.stdout.write(zshCompletion(program));
      else throw new UsageError(`completion is made for bash or zsh, not "${shell}"`);
      process.exitCode = EXIT.ok;
    });
  program
    .command('man')
    .summary('print the man page (roff)')
    .description('Print the blaine(1) man page, made from the same definitions as --help: blaine man > /usr/local/share/man/man1/blaine.1')
    .action(() => {
      process.stdout.write(manPage(program, new Date().toISOString().slice(0, 10)));
    });
}
