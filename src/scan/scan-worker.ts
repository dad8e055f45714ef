/**
 * Entry point of the thread that scans the data paths (see background.ts): it walks each data path
 * in turn and hands each chunk over as soon as it is complete, its numbers without copying.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ExclusionFilter } from './exclude.js';
import { scanRootPacked } from './scanner.js';
import type { ScanReply, ScanRequest } from './background.js';

const request = workerData as ScanRequest;
const filter = request.filter ? new ExclusionFilter(request.filter.rules, request.filter.regexes) : undefined;
const post = (reply: ScanReply, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(reply, transfer);
let before = 0;
for (let root = 0; root < request.roots.length; root++) {
  let files = 0;
  const s = scanRootPacked(request.roots[root]!, {
    filter,
    onProgress: (n) => post({ progress: before + n }),
    onChunk: (chunk) => {
      files += chunk.count;
      post({ root, chunk }, [chunk.info.buffer as ArrayBuffer]);
    },
  });
  before += files;
  post({ root, scan: s });
}
post({ done: true });
