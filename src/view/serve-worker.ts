/**
 * The serving thread: the only reader of /dev/fuse. It reads each request into a shared buffer,
 * applies the table changes the backing threads made, and plans the request (fuse-server.ts):
 * answered at once from its tables, or handed to a backing thread. It never makes a call on the
 * backing folder or the view's own mount point, and never waits for the main thread or libuv's
 * pool; it waits for a backing thread only when all of them are busy.
 */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { BackingPool } from './backing-pool.js';
import { FuseServer, REQUEST_BUFFER_SIZE } from './fuse-server.js';
import { PoolState, SLOT_DATA } from './pool-state.js';
import { ReplayChannel } from './replay-job.js';
import { E } from './attrs.js';
import { encodeError, type Timeouts } from './fuse-wire.js';
import type { OwnChange } from './replayer.js';
import type { PassthroughUse } from './passthrough.js';

export interface ServeWorkerData {
  fd: number;
  root: string;
  shared: SharedArrayBuffer;
  /** The backing threads' shared state (the main thread reads it when the view stops). */
  pool: SharedArrayBuffer;
  /** false: no FUSE passthrough even where possible (view --no-passthrough). */
  passthrough: boolean;
}

export type ServeWorkerMessage = { type: 'local'; paths: string[]; change: OwnChange; held?: bigint; closed?: bigint } | { type: 'initialized'; passthrough: PassthroughUse } | { type: 'ended'; error?: string };

const data = workerData as ServeWorkerData;
const port = parentPort!;
const post = (m: ServeWorkerMessage) => port.postMessage(m);

function reply(buf: Buffer, length = buf.length): void {
  try {
    fs.writeSync(data.fd, buf, 0, length);
  } catch (err) {
    // ENOENT: the request was interrupted and the kernel no longer waits for this answer.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

const timeouts: Timeouts = { entrySeconds: 1, attrSeconds: 1 };
const pool = new BackingPool(data.fd, data.root, timeouts, new PoolState(data.pool), REQUEST_BUFFER_SIZE);
const server = new FuseServer({
  root: data.root,
  write: reply,
  pool,
  replay: new ReplayChannel(data.shared),
  onLocalChange: (paths, change, handle) => post(handle ? { type: 'local', paths, change, ...handle } : { type: 'local', paths, change }),
  onInitialized: (passthrough) => post({ type: 'initialized', passthrough }),
  ...(data.passthrough === false ? { passthrough: false } : {}),
  timeouts,
});

let error: string | undefined;
for (;;) {
  const slot = pool.freeSlot();
  const buf = Buffer.from(slot, SLOT_DATA);
  let n: number;
  try {
    n = fs.readSync(data.fd, buf, 0, buf.length, null);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EINTR' || code === 'EAGAIN' || code === 'ENOENT') continue;
    if (code !== 'ENODEV') error = (err as Error).message; // ENODEV: unmounted, the normal end
    break;
  }
  try {
    pool.drain((u) => server.apply(u));
    server.handle(buf, n, slot);
  } catch (err) {
    // A bug of ours. The caller of the request in hand would wait for its answer beyond SIGKILL
    // (the kernel gave it to us): fail it before ending, and the view unmounts.
    error = (err as Error).message;
    if (n >= 16) reply(encodeError(buf.readBigUInt64LE(8), E.EIO));
    break;
  }
  if (server.destroyed) break;
}
post(error ? { type: 'ended', error } : { type: 'ended' });
