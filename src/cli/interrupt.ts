import { EXIT } from './exit.js';
import type { Output } from './output.js';

/** Ctrl-C and SIGTERM ask the run to stop cleanly; a second one ends the process at once. */
export function interruptSignal(out: Output): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    out.warn(`${sig}: stopping after the file under way (press again to stop at once)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // bin/blaine caught a signal while the program was loading: the command stops before it starts.
  if ((globalThis as { blaineSignalled?: boolean }).blaineSignalled) {
    out.warn('interrupted while starting: stopping');
    controller.abort();
  }
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
