/** Bundle entry run by bin/blaine before the program itself loads, for a backup: see scan/threads.ts. */
import { scanThreads, startScanThreads } from '../scan/threads.js';
import { scanTuning } from './tuning.js';

startScanThreads(scanThreads(scanTuning().threads));
