/** Settings every section receives from the command line. */
export interface BenchContext {
  /** A fresh directory for this section under the run's temporary root; removed afterwards. */
  work: string;
  /** Small files in the scan tree. */
  files: number;
  /** Size of the single file the copy section copies. */
  copyBytes: number;
  /** Total size of the parity section's tree. */
  parityBytes: number;
  /** Total size of the crypt section's tree. */
  cryptBytes: number;
  /** Total size of the restore section's tree. */
  restoreBytes: number;
  /** Runs per cheap measurement; tables show the best. */
  repeat: number;
  /** Parallel par2 processes, for Blaine (--jobs) and the direct reference alike. */
  jobs: number;
  /** Profile Blaine's no-change rescan with --cpu-prof and print its hottest functions. */
  profile: boolean;
}

export interface SpaceNeed {
  bytes: number;
  inodes: number;
}

/** One selectable section: `run` fills in the Section it is given, so figures taken before a failure survive it. */
export interface SectionDef {
  name: string;
  title(ctx: BenchContext): string;
  /** Peak space the section's data takes under its work directory. */
  need(ctx: BenchContext): SpaceNeed;
  run(ctx: BenchContext, s: import('./report.js').Section): Promise<void>;
}
