/**
 * A backing thread: runs the jobs the serving thread hands it (backing-ops.ts), one at a time, and
 * writes their replies to /dev/fuse itself. Its own event loop only receives jobs; it never waits
 * for the serving thread, the main thread or libuv's pool, and never calls into the view.
 */
import * as fs from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { abandonable, type BackingJob, type BackingUpdate } from './backing-job.js';
import { runJob, type BackingContext } from './backing-ops.js';
import { prepareAfterServing, prepareNext, type Part } from './readdirplus.js';
import { PreparedPart } from './prepared-part.js';
import { PoolState } from './pool-state.js';
import { viewAddon } from './addon.js';
import { PassthroughFiles } from './passthrough-files.js';
import type { Timeouts } from './fuse-wire.js';

export interface BackingWorkerData {
  fd: number;
  root: string;
  t: Timeouts;
  index: number;
  state: SharedArrayBuffer;
  /** Updates for the serving thread, which drains them synchronously before each request. */
  updates: MessagePort;
  /** The passthrough registrations (passthrough-files.ts). */
  passthroughFiles: SharedArrayBuffer;
  /** This thread's prepared part of a listing (prepared-part.ts). */
  prepared: SharedArrayBuffer;
}

/** What the serving thread sends: a request's job, or a listing's next part to prepare (prepared-part.ts). */
export type BackingMessage = BackingJob | PrepareMessage;
export interface PrepareMessage {
  op: 'prepare';
  part: Part;
}

const data = workerData as BackingWorkerData;
const state = new PoolState(data.state);
/** The job being run, and whether it goes on preparing the next part of a listing. */
let current: BackingJob | null = null;
let preparing = false;

const context: BackingContext = {
  root: Buffer.from(data.root.replace(/\/*$/, '/')),
  t: data.t,
  write(reply, length = reply.length) {
    // Done before the reply, so that the kernel's next request cannot find attributes read before it.
    if (current && !abandonable(current)) state.changed();
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
  changes: () => state.changes(),
  changed: () => state.changed(),
  preparing() {
    preparing = true;
    state.preparing(data.index);
  },
  fuseFd: data.fd,
  addon: viewAddon(),
  prepared: new PreparedPart(data.prepared),
  passthroughFiles: new PassthroughFiles(data.passthroughFiles),
};

parentPort!.on('message', (message: BackingMessage) => {
  if (message.op === 'prepare') {
    prepareAfterServing(message.part);
    try {
      prepareNext(context);
    } finally {
      state.prepared(data.index);
    }
    return;
  }
  const job = message;
  current = job;
  try {
    runJob(job, context);
  } catch {
    // Only a reply the kernel refused lands here (a bug of ours): nothing more can be done for it.
  } finally {
    if (job.op === 'write') PoolState.freeSlot(job.slot);
    current = null;
    if (!preparing) state.done(data.index);
  }
  if (preparing) {
    preparing = false;
    try {
      prepareNext(context);
    } finally {
      state.prepared(data.index);
    }
  }
});
state.ready(data.index);
