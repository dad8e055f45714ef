/** Bundle entry run by bin/blaine before the program itself loads, for a backup: see threads.ts. */
import { startScanThreads } from './threads.js';

startScanThreads();
