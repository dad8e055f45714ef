import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { mountCipher, readMounts, requireTools } from '../crypt/gocryptfs.js';
import { cipherDir } from '../archive/layout.js';
import { readVolume } from '../archive/volume.js';
import { action, addCommonOptions, keyProvider, requireDest, type CommonOptions, fileSystem } from './common.js';
import { EXIT, UsageError, UserError } from './exit.js';
import type { Output } from './output.js';

/** How often to notice that someone else unmounted the browsing mount. */
const WATCH_MS = 1000;

export function registerMount(program: Command): void {
  const cmd = program
    .command('mount')
    .summary('mount an encrypted disk read-only for browsing, until interrupted')
    .description(
      'Mount the encrypted disk --dest read-only at MOUNTPOINT (an empty directory) and wait; Ctrl-C or ' +
        'SIGTERM unmounts it and ends. The files are at MOUNTPOINT/<absolute path>, as on a plain disk.',
    )
    .argument('<mountpoint>', 'an empty directory to show the disk at');
  addCommonOptions(cmd);
  cmd.action(action<CommonOptions>(mount));
}

async function mount(opts: CommonOptions, args: string[], out: Output): Promise<number> {
  const dest = requireDest(opts);
  const target = path.resolve(args[0] ?? '');
  const info = readVolume(dest, fileSystem());
  if (!info.encrypted) throw new UserError(`"${info.label}" at ${dest} is not encrypted: its files can be read there directly`);
  if (!fs.existsSync(target) || !fs.statSync(target).isDirectory()) throw new UsageError(`${target} does not exist or is not a directory`);
  if (fs.readdirSync(target).length > 0) throw new UsageError(`${target} is not empty; mount onto an empty directory`);
  requireTools();
  const key = keyProvider(opts)(`the disk "${info.copyLabel}" at ${dest}`, false);
  // Handlers first: a signal between mounting and waiting must still unmount.
  let stop: (sig: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  const onSignal = (sig: NodeJS.Signals) => stop(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  const m = mountCipher(cipherDir(dest), key, { tag: info.copy, readonly: true, mountPoint: target });
  const watch = setInterval(() => {
    if (!readMounts().some((e) => e.mountPoint === target)) stop('unmounted');
  }, WATCH_MS);
  try {
    out.info(`"${info.label}" is mounted read-only at ${target}; press Ctrl-C to unmount`);
    const why = await stopped;
    out.info(why === 'unmounted' ? `${target} was unmounted` : `${why}: unmounting ${target}`);
    return EXIT.ok;
  } finally {
    clearInterval(watch);
    m.unmount();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}
