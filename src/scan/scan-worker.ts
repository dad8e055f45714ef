/**
 * Entry point of a thread that scans parts of data paths (see background.ts): it takes one part
 * at a time and hands each chunk over as soon as it is complete, its numbers without copying.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ExclusionFilter } from './exclude.js';
import { scanRootPacked } from './scanner.js';
import type { ScanReply, ScanRequest, ScanTask } from './background.js';

const request = workerData as ScanRequest;
const filter = request.filter ? new ExclusionFilter(request.filter.rules, request.filter.regexes) : undefined;
const post = (reply: ScanReply, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(reply, transfer);

parentPort!.on('message', (task: ScanTask) => {
  const s = scanRootPacked(task.root, {
    filter,
    part: task.part,
    onProgress: (n) => post({ id: task.id, progress: n }),
    onChunk: (chunk) => post({ id: task.id, chunk }, [chunk.info.buffer as ArrayBuffer]),
  });
  post({ id: task.id, done: { complete: s.complete, skipped: s.skipped } });
});
