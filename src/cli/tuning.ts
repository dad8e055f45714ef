/**
 * Settings the engines take as options that the environment gives, for tests and benchmarks
 * (README, Development): read here, at the command line, so that no engine reads the environment.
 */

/** A positive whole number, or undefined for anything else (unset, empty, a typo). */
function positive(v: string | undefined): number | undefined {
  const n = Number.parseInt(v ?? '', 10);
  return n > 0 ? n : undefined;
}

/** BLAINE_SCAN_THREADS (threads that walk the data paths) and BLAINE_SCAN_CHUNK (files per chunk of a scan). */
export function scanTuning(env: NodeJS.ProcessEnv = process.env): { threads?: number; chunkSize?: number } {
  return { threads: positive(env.BLAINE_SCAN_THREADS), chunkSize: positive(env.BLAINE_SCAN_CHUNK) };
}

/** BLAINE_PARITY_CREATOR=par2: parity made by par2cmdline even where Blaine's own creator is built. */
export function parityCreator(env: NodeJS.ProcessEnv = process.env): 'native' | 'par2' {
  return env.BLAINE_PARITY_CREATOR === 'par2' ? 'par2' : 'native';
}
