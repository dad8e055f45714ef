/**
 * Examples for `blaine --help` and each `blaine <command> --help`: real command lines from the
 * rotation the README tells, one table so that they read alike and a test can demand one for
 * every command.
 */
import type { Command } from 'commander';

export const EXAMPLES: Record<string, [string, string][]> = {
  blaine: [
    ['blaine backup --init --label A --dest /mnt/disk /mnt/media', 'make a new disk and archive onto it'],
    ['blaine backup --dest /mnt/disk /mnt/media', 'every day after: only changes are copied'],
    ['blaine disks', 'every disk: files, free space, pending actions, mirror lag'],
    ['blaine report --html ~/shelf.html', 'the whole shelf as one HTML page'],
  ],
  backup: [
    ['blaine backup --init --label A --dest /mnt/disk /mnt/media', 'make the mounted disk a new Blaine disk "A" and archive onto it'],
    ['blaine backup --dest /mnt/disk /mnt/media/photos /mnt/media/music', 'archive what changed; queued actions for this disk come first'],
    ['blaine backup --dest /mnt/disk --dry-run --exclude "*.tmp" /mnt/media', 'show what would be done, changing nothing'],
    ['blaine backup --config /etc/blaine/blaine.toml --dest /mnt/disk --clean /mnt/media', 'also remove archived files that are gone'],
    ['blaine backup --init --force --label "D\'" --dest /mnt/disk2 /mnt/media', "retire the mirror copy C' on /mnt/disk2 and make it the new disk D'"],
  ],
  completion: [['blaine completion bash > /etc/bash_completion.d/blaine', 'Tab completion for bash (zsh: blaine completion zsh)']],
  man: [['blaine man > /usr/local/share/man/man1/blaine.1', 'install the man page']],
  notify: [
    ['blaine notify --status 143 --dest /media/blaine/blaine-C "the backup unit was killed"', 'what the units run when Blaine could not tell the hook itself'],
  ],
  list: [
    ["blaine list '/mnt/media/photos/2019/*'", 'archived files under a path, from the host catalog'],
    ['blaine list --sort size --reverse -1 | head', 'the largest archived files'],
    ['blaine list --dest /mnt/disk --local --json', "the mounted disk's own catalog, as JSON"],
  ],
  verify: [
    ['blaine verify --dest /mnt/disk', 'compare the disk with its catalog (fast: no file is read)'],
    ['blaine verify --dest /mnt/disk --checksum --max-time 120', 'scrub for two hours, files checked least recently first'],
    ['blaine verify --dest /mnt/disk --checksum --fix', 'read everything and repair what parity allows'],
  ],
  restore: [
    ["blaine restore --dest /mnt/disk --to /srv/restore '/mnt/media/photos/2019/*'", 'restore a folder to /srv/restore/mnt/media/photos/2019'],
    ["blaine restore --dest /mnt/disk --to / --overwrite '/mnt/media/music/a.flac'", 'put one file back in place'],
    ["blaine restore --plan --to /srv/restore '/mnt/media/**'", 'which disks a restore needs, and how much is already there'],
    ["blaine restore --dest /mnt/disk --to / --missing-only '/mnt/disk3/**'", 'a dead pool member: put back what is gone, once per archive disk'],
  ],
  disks: [
    ['blaine disks', 'every volume and copy: files, free space, pending actions, how far a twin is behind'],
    ['blaine disks --json', 'the same as JSON'],
  ],
  pending: [
    ['blaine pending', 'every deferred action, in the order it will be applied'],
    ['blaine pending A --json', 'the actions waiting for volume "A", as JSON'],
  ],
  apply: [['blaine apply --dest /mnt/disk', "carry out the mounted disk's deferred actions, copying nothing new"]],
  clone: [["blaine clone --dest /mnt/disk --to /mnt/disk2 --label \"C'\"", "make C', a mirror copy of the mounted disk C, on an empty disk"]],
  remove: [
    ["blaine remove --dest /mnt/disk --dry-run '*.tmp'", 'show which archived files would go, changing nothing'],
    ["blaine remove --dest /mnt/disk '/mnt/media/scratch/*'", 'delete them from this disk now; offline disks delete them when next mounted'],
  ],
  'forget-disk': [
    ['blaine forget-disk B', 'volume B is lost: forget it and list what no other disk holds'],
    ["blaine forget-disk C --copy \"C'\"", "C' is lost: forget that copy; the volume stays on C"],
  ],
  mount: [
    ['blaine mount --dest /media/offsite /mnt/browse', 'show an encrypted disk read-only at /mnt/browse until Ctrl-C'],
    ['blaine mount --dest /media/offsite --key-file ~/.blaine-key /mnt/browse', 'the same, with the key from a file'],
  ],
  'rebuild-catalog': [
    ['blaine rebuild-catalog --dest /mnt/disk', 'the host catalog lost: make it again from the newest disk'],
    ['blaine rebuild-catalog --dest /mnt/disk --key-file ~/.blaine-key', 'then give each older disk (here an encrypted one): its volume is refined, newest wins'],
  ],
  report: [
    ['blaine report --html ~/shelf.html', 'write the page; open it in any browser, offline'],
    ['blaine report --html /var/www/blaine.html --scrub-after 14', 'mark disks not scrubbed for two weeks as due'],
  ],
};

export function examplesText(examples: [string, string][]): string {
  const lines = ['', 'Examples:'];
  for (const [command, what] of examples) lines.push(`  ${command}`, `      ${what}`);
  return lines.join('\n');
}

/** Adds the examples to the program's help and every command's. */
export function addExamples(program: Command): void {
  const own = EXAMPLES[program.name()];
  if (own) program.addHelpText('after', examplesText(own));
  for (const cmd of program.commands) {
    const ex = EXAMPLES[cmd.name()];
    if (ex) cmd.addHelpText('after', examplesText(ex));
  }
}
