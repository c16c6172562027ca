/**
 * The serving thread: reads requests from /dev/fuse with a blocking read and answers each before
 * reading the next. It never makes a call on the view's own mount point (that would wait for
 * itself, beyond SIGKILL), and it never waits for the main thread or libuv's pool.
 */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { FuseServer, REQUEST_BUFFER_SIZE } from './fuse-server.js';
import { ReplayChannel } from './replay-job.js';

export interface ServeWorkerData {
  fd: number;
  root: string;
  shared: SharedArrayBuffer;
}

export type ServeWorkerMessage = { type: 'local'; paths: string[] } | { type: 'ended'; error?: string };

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

const server = new FuseServer({
  root: data.root,
  write: reply,
  replay: new ReplayChannel(data.shared),
  onLocalChange: (paths) => post({ type: 'local', paths }),
});

const buf = Buffer.alloc(REQUEST_BUFFER_SIZE);
let error: string | undefined;
for (;;) {
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
    server.handle(buf, n);
  } catch (err) {
    error = (err as Error).message;
    break;
  }
  if (server.destroyed) break;
}
post(error ? { type: 'ended', error } : { type: 'ended' });
