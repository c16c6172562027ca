/**
 * A backing thread: runs the jobs the serving thread hands it (backing-ops.ts), one at a time, and
 * writes their replies to /dev/fuse itself. Its own event loop only receives jobs; it never waits
 * for the serving thread, the main thread or libuv's pool, and never calls into the view.
 */
import * as fs from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { BackingJob, BackingUpdate } from './backing-job.js';
import { runJob, type BackingContext } from './backing-ops.js';
import { PoolState } from './pool-state.js';
import type { Timeouts } from './fuse-wire.js';

export interface BackingWorkerData {
  fd: number;
  root: string;
  t: Timeouts;
  index: number;
  state: SharedArrayBuffer;
  /** Updates for the serving thread, which drains them synchronously before each request. */
  updates: MessagePort;
}

const data = workerData as BackingWorkerData;
const state = new PoolState(data.state);

const context: BackingContext = {
  root: Buffer.from(data.root.replace(/\/*$/, '/')),
  t: data.t,
  write(reply, length = reply.length) {
    try {
      fs.writeSync(data.fd, reply, 0, length);
      return true;
    } catch (err) {
      // ENOENT: the request was interrupted and the kernel no longer waits for this answer.
      // ENODEV: the view is gone.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENODEV') return false;
      throw err;
    }
  },
  update(u: BackingUpdate) {
    data.updates.postMessage(u);
  },
};

parentPort!.on('message', (job: BackingJob) => {
  try {
    runJob(job, context);
  } catch {
    // Only a reply the kernel refused lands here (a bug of ours): nothing more can be done for it.
  } finally {
    if (job.op === 'write') PoolState.freeSlot(job.slot);
    state.done(data.index);
  }
});
state.ready(data.index);
