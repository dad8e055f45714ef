/**
 * Preloaded (node --import) into a measured Blaine process: at exit it writes the process's peak
 * resident set (KiB, getrusage ru_maxrss) to $BLAINE_BENCH_RSS_FILE, and its CPU time (user +
 * system, all threads, µs) to $BLAINE_BENCH_CPU_FILE. The parent cannot get these from
 * spawnSync, and 'exit' fires however Blaine ends (return, exitCode, process.exit).
 */
import fs from 'node:fs';

const file = process.env.BLAINE_BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    try {
      fs.writeFileSync(file, String(process.resourceUsage().maxRSS));
    } catch {
      // A missing figure is reported as such; it must never change Blaine's exit status.
    }
  });
}

const cpuFile = process.env.BLAINE_BENCH_CPU_FILE;
if (cpuFile) {
  process.on('exit', () => {
    try {
      const u = process.resourceUsage();
      fs.writeFileSync(cpuFile, String(u.userCPUTime + u.systemCPUTime));
    } catch {
      // as above
    }
  });
}
