import path from 'node:path';
import type { Command } from 'commander';
import { cloneDisk } from '../mirror/clone.js';
import { openDiskSession } from '../archive/session.js';
import { action, addCommonOptions, fileSystem, dbPath, interruptSignal, keyProvider, notAFile, requireDest, type CommonOptions } from './common.js';
import { EXIT, UserError } from './exit.js';
import type { Output } from './output.js';
import { formatBytes, freeBytes } from '../fsx/space.js';
import { readShelf } from '../report/shelf.js';
import { shelfFacts, stateLines } from '../report/summary.js';

interface CloneOptions extends CommonOptions {
  to?: string;
  label?: string;
}

export function registerClone(program: Command): void {
  const cmd = program
    .command('clone')
    .summary('make a mirror copy of the mounted disk')
    .description(
      'Copy the mounted disk (--dest) onto an empty disk (--to): same volume, a new copy id. Files with ' +
        'their hardlinks, the parity tree and the catalogs are copied; each copy is caught up ' +
        'automatically when it is next mounted.',
    )
    .option('--to <disk2>', 'the empty disk that becomes the mirror copy')
    .option('--label <label>', 'a name for the new copy (the volume keeps its label)');
  addCommonOptions(cmd);
  cmd.action(action<CloneOptions>(clone));
}

async function clone(opts: CloneOptions, _args: string[], out: Output): Promise<number> {
  if (!opts.to) throw new UserError('--to is required: name the empty disk that becomes the copy', EXIT.usage);
  notAFile('--to', opts.to, 'the directory where the empty disk for the copy is mounted');
  // One key for both: the copy of an encrypted volume opens with the key of the original.
  const key = keyProvider(opts);
  const session = openDiskSession({ dest: requireDest(opts), db: dbPath(opts), key, fs: fileSystem() });
  const interrupt = interruptSignal(out);
  try {
    if (session.sync === 'behind') {
      throw new UserError(`"${session.info.copyLabel}" is behind its volume; run \`blaine apply\` or a backup onto it first`);
    }
    out.progress.begin('cloning');
    const r = await cloneDisk(session, opts.to, opts.label, {
      signal: interrupt.signal,
      detail: (m) => out.detail(m),
      warn: (m) => out.warn(m),
      fs: fileSystem(),
      key,
    });
    if (r.stopped) {
      out.error(
        `${r.stopped === 'disk-full' ? `${path.resolve(opts.to)} is too small` : 'interrupted'}; the copy is incomplete and not usable: empty it and clone again`,
      );
      return r.stopped === 'disk-full' ? EXIT.diskFull : EXIT.interrupted;
    }
    if (opts.json) out.result({ volume: r.info.volume, copy: r.info.copy, label: r.info.copyLabel, files: r.files, bytes: r.bytes, mismatched: r.mismatched });
    else {
      out.summary(`copy "${r.info.copyLabel}" of volume "${r.info.label}" made: ${r.files} files, ${formatBytes(r.bytes)}`);
      const facts = shelfFacts(readShelf(session.host, Date.now(), undefined, { counts: false }), r.info.volume);
      const state = { label: r.info.copyLabel, freeBytes: freeBytes(path.resolve(opts.to), fileSystem()), stopped: null, paths: [], ...facts };
      for (const line of stateLines(state)) out.summary(line);
    }
    return r.mismatched.length > 0 ? EXIT.damage : EXIT.ok;
  } finally {
    interrupt.dispose();
    session.close();
  }
}
