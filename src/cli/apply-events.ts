/** What carrying operations out tells (apply/env.ts ApplyEvent), in words: detail with -v, problems as warnings. */
import type { ApplyEvent } from '../apply/env.js';
import type { Output } from './output.js';

type Speaker = Pick<Output, 'detail' | 'warn'>;

/** The sentence for one event and whether it is a warning (else detail). */
export function applyEventText(e: ApplyEvent): { warning: boolean; text: string } {
  const detail = (text: string) => ({ warning: false, text });
  const warning = (text: string) => ({ warning: true, text });
  switch (e.type) {
    case 'added':
      return detail(`${e.replaced ? 'replaced' : 'added'} ${e.path}`);
    case 'symlinked':
      return detail(`symlink ${e.path} -> ${e.target}`);
    case 'linked':
      return detail(`linked ${e.path} to ${e.to}${e.gathered ? ' (equal content, mode and owner)' : ''}`);
    case 'renamed':
      return detail(`renamed ${e.from} -> ${e.to}`);
    case 'removed':
      return detail(`removed ${e.path}`);
    case 'deferred':
      return detail(`deferred for ${e.volume}: ${e.action} ${e.path}${e.target ? ` -> ${e.target}` : ''}`);
    case 'copying-again':
      return detail(`${e.path} changed while it was copied; copying it again`);
    case 'vanished':
      return detail(`${e.path} vanished before it was copied`);
    case 'copying-instead-of-link':
      return detail(`${e.planned} was not stored in this run; copying ${e.path} itself instead of linking it there`);
    case 'link-limit':
      return detail(`${e.from} has as many names as the file system allows; ${e.path} is stored as a copy of its own`);
    case 'stored-apart':
      return detail(`stored ${e.path} apart (its mode or owner differs from the names it shared an inode with)`);
    case 'source-skipped':
      return warning(e.changedTwice ? `${e.error.replace(/\.$/, '')} twice; skipped, the next backup tries again` : e.error);
    case 'missing-on-disk':
      return warning(
        `${e.path} is catalogued but missing on the disk; ${e.then === 'store-again' ? 'it will be stored again' : `copying ${e.then.copy} instead of linking`}`,
      );
    case 'update-failed':
      return warning(`cannot update ${e.path} on the disk: ${e.error}`);
    case 'names-unsorted':
      return warning(`cannot put the names of one stored file (${e.size} bytes) in order on the disk: ${e.error}`);
    case 'no-parity':
      return warning(`no parity for ${e.path}: ${e.error}; \`blaine verify --fix\` or the next backup makes it`);
    case 'write-skipped':
      return warning(`cannot write ${e.path} on the disk (${e.error.replace(/\.$/, '')}); skipped, the archive keeps what it had`);
  }
}

/** Says one event on the command's output. */
export function tellApplyEvent(e: ApplyEvent, out: Speaker): void {
  const { warning, text } = applyEventText(e);
  if (warning) out.warn(text);
  else out.detail(text);
}
