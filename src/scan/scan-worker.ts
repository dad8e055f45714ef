/**
 * Entry point of a thread that scans parts of data paths (see background.ts): it takes one part
 * at a time and hands each chunk over as soon as it is complete, its numbers without copying.
 */
import { parentPort } from 'node:worker_threads';
import { ExclusionFilter } from './exclude.js';
import { scanRootPacked } from './scanner.js';
import { chunkToPost } from './packed.js';
import { HELD, type ScanReply, type ScanTask } from './background.js';

const post = (reply: ScanReply, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(reply, transfer);
let filterKey = 'null';
let filter: ExclusionFilter | undefined;

parentPort!.on('message', (task: ScanTask) => {
  // Every part carries the run's rules (a thread may have started before they were known).
  const key = JSON.stringify(task.filter);
  if (key !== filterKey) {
    filterKey = key;
    filter = task.filter ? new ExclusionFilter(task.filter.rules, task.filter.regexes) : undefined;
  }
  const s = scanRootPacked(task.root, {
    filter,
    part: task.part,
    chunkSize: task.chunkSize,
    onProgress: (n) => post({ id: task.id, progress: n }),
    onChunk: (chunk) => {
      const wire = chunkToPost(chunk);
      post({ id: task.id, chunk: wire.chunk }, wire.transfer);
      // Back-pressure: while the main thread holds as many chunks as it allows, the walk waits
      // here (in the middle of it: the native walk calls back with each chunk) until one is released.
      const held = task.held;
      for (let n = Atomics.add(held, HELD.count, 1) + 1; n > Atomics.load(held, HELD.most); n = Atomics.load(held, HELD.count)) {
        Atomics.wait(held, HELD.count, n, 1000);
      }
    },
  });
  post({ id: task.id, done: { complete: s.complete, skipped: s.skipped, folders: s.folders } }, (s.folders ?? []).map((f) => f.info.buffer as ArrayBuffer));
});
