import { prepareFoldersFromHost } from '../dirs/sync.js';
import type { Command } from 'commander';
import { catchUp, noCopyContext } from '../mirror/catchup.js';
import { beginWrite, finishWrite, openDiskSession } from '../archive/session.js';
import { action, addCommonOptions, fileSystem, dbPath, interruptSignal, keyProvider, requireDest, type CommonOptions } from './common.js';
import { EXIT } from './exit.js';
import type { Output } from './output.js';
import { readShelf } from '../report/shelf.js';
import { heldLine, shelfFacts, stateLines } from '../report/summary.js';
import { tellApplyEvent } from './apply-events.js';

export function registerApply(program: Command): void {
  const cmd = program
    .command('apply')
    .summary("apply the mounted disk's deferred actions")
    .description(
      'Apply the deferred actions queued for the mounted disk, and bring a mirror copy up to its ' +
        "volume's state, without backing anything up. (A backup does this first anyway.)",
    );
  addCommonOptions(cmd);
  cmd.action(action<CommonOptions>(apply));
}

async function apply(opts: CommonOptions, _args: string[], out: Output): Promise<number> {
  const session = openDiskSession({ dest: requireDest(opts), db: dbPath(opts), key: keyProvider(opts), fs: fileSystem() });
  const interrupt = interruptSignal(out);
  try {
    const { info } = session;
    if (session.sync !== 'behind') {
      out.info(`"${info.label}" is up to date: nothing to apply`);
      if (opts.json) out.result({ applied: 0, changed: 0, lacking: 0 });
      return EXIT.ok;
    }
    beginWrite(session);
    prepareFoldersFromHost({ root: session.root, volume: info.volume, disk: session.disk, host: session.host, fs: session.fs, warn: (m) => out.warn(m) });
    out.progress.begin('applying deferred actions');
    const r = await catchUp(
      session,
      noCopyContext(session, { signal: interrupt.signal, tell: (e) => tellApplyEvent(e, out), fs: fileSystem() }),
    );
    out.progress.begin('writing catalogs');
    // Catching up brings this copy to its volume and leaves the volume as it is: the twin stays in step.
    const free = await finishWrite(session, 'apply', r.stopped ?? 'ok', { ...r, lacking: r.lacking.length }, true, false);
    if (opts.json) out.result({ applied: r.applied, changed: r.changed, lacking: r.lacking.length, held: r.held.length });
    else {
      out.summary(`"${info.copyLabel}": applied ${r.applied} deferred action(s), ${r.changed} change(s) on the disk`);
      if (r.held.length > 0) out.summary(heldLine(r.held));
      const lacking = r.lacking.length > 0 ? [`${r.lacking.length} file(s) of the volume are not on this copy yet; the next backup onto it copies them`] : [];
      const facts = shelfFacts(readShelf(session.host, Date.now(), undefined, { counts: false }), info.volume);
      const stopped = r.stopped === 'disk-full' || r.stopped === 'interrupted' ? r.stopped : null;
      for (const line of stateLines({ label: info.copyLabel, freeBytes: free, stopped, paths: [], ...facts }, lacking)) out.summary(line);
    }
    if (r.stopped === 'interrupted') return EXIT.interrupted;
    if (r.stopped === 'disk-full') return EXIT.diskFull;
    return EXIT.ok;
  } finally {
    interrupt.dispose();
    session.close();
  }
}
