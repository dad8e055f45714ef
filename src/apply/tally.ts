import type { Operation } from '../plan/operation.js';
import type { ExecutionResult } from './env.js';

/**
 * Counts an operation that was carried out, by kind (SPEC §4's summary). `deduped`: a copy that
 * turned out to be content the volume already had, and became a link.
 */
export function tally(c: ExecutionResult['counts'], op: Operation, deduped: boolean): void {
  switch (op.type) {
    case 'copy':
      c[deduped && op.why === 'added' ? 'linked' : op.why]++;
      break;
    case 'symlink':
    case 'link':
      c[op.why]++;
      break;
    case 'rename':
      if (op.record) c.renamed++;
      break;
    case 'delete':
      if (op.why === 'removed') c.removed++;
      break;
    case 'defer':
      c.deferred++;
      if (op.why !== 'replaced' && (op.action !== 'RENAME' || op.record)) c[op.why]++;
      break;
    case 'update':
      break;
  }
}

/** The path an operation is about, for messages. */
export function opPath(op: Operation): string {
  switch (op.type) {
    case 'copy':
    case 'symlink':
    case 'link':
      return op.record.path;
    case 'rename':
      return op.to;
    case 'delete':
    case 'update':
      return op.entry.path;
    case 'defer':
      return op.target ?? op.path;
  }
}

export function emptyResult(): ExecutionResult {
  return {
    done: 0,
    bytesCopied: 0,
    parityBytes: 0,
    parityDiskBytes: 0,
    skipped: [],
    stopped: null,
    deferredVolumes: new Set(),
    counts: { added: 0, modified: 0, renamed: 0, linked: 0, removed: 0, deferred: 0 },
  };
}
