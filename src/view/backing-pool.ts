/**
 * The backing threads, seen from the serving thread: it hands each request that touches the
 * backing folder to a free thread and goes back to reading /dev/fuse at once, so one blocked call
 * (a FIFO without a writer, a stalled cifs mount) holds only its own request. A thread is added
 * (up to MAX_THREADS) only when every thread has started and has been busy with one request for
 * STUCK_MS: more threads are for calls that block, not for throughput (starting one costs about
 * a second of CPU, loading its modules, and a cold `ls -l` during a burst used to start up to
 * sixteen). With all of them blocked, the serving thread waits for one (the view then stalls as
 * the cifs mount does).
 *
 * The threads are started from the serving thread itself, not the main thread, so that nothing
 * the view needs depends on the main thread's event loop.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { BackingJob, BackingUpdate } from './backing-job.js';
import { abandonable } from './backing-job.js';
import type { BackingWorkerData, PrepareMessage } from './backing-worker.js';
import { PreparedPart } from './prepared-part.js';
import type { Part } from './readdirplus.js';
import { PassthroughFiles } from './passthrough-files.js';
import type { Timeouts } from './fuse-wire.js';
import type { JobRunner } from './fuse-server.js';
import { MAX_THREADS, PoolState, SLOT_DATA } from './pool-state.js';

/** Threads started with the view: one may block while another answers. */
const START_THREADS = 2;
/**
 * How long every thread must have been busy with its request before another is started: far
 * above a call on a healthy backing folder (microseconds locally, a round trip on cifs), far
 * below what a user notices as a hang.
 */
const STUCK_MS = 50;

export class BackingPool implements JobRunner {
  private readonly workers: Worker[] = [];
  private readonly ports: MessagePort[] = [];
  private readonly slots: SharedArrayBuffer[] = [];
  /** When each thread was handed its current (or last) request, on this thread's clock. */
  private readonly takenAt: number[] = [];
  private readonly passthroughFiles = PassthroughFiles.create();
  /** Each thread's prepared part of a listing, which the serving thread may answer with. */
  private readonly parts: PreparedPart[] = [];

  constructor(
    private readonly fd: number,
    private readonly root: string,
    private readonly t: Timeouts,
    readonly state: PoolState,
    private readonly slotSize: number,
  ) {
    for (let i = 0; i < START_THREADS; i++) this.start();
  }

  private start(): void {
    const { port1, port2 } = new MessageChannel();
    const index = this.workers.length;
    const part = PreparedPart.create();
    this.parts.push(part);
    const workerData: BackingWorkerData = {
      fd: this.fd, root: this.root, t: this.t, index, state: this.state.shared, updates: port2, passthroughFiles: this.passthroughFiles.shared, prepared: part.shared,
    };
    this.workers.push(new Worker(new URL('./backing-worker.js', import.meta.url), { workerData, transferList: [port2] }));
    this.ports.push(port1);
  }

  /**
   * Hands `job` to a free thread (starting one, or waiting for one, when none is free), or to
   * `prefer` when that thread is free or preparing this very request. Returns the thread's index.
   */
  run(job: BackingJob, prefer = -1): number {
    let i = prefer >= 0 && prefer < this.workers.length && this.state.takeable(prefer) ? prefer : this.state.idle(this.workers.length);
    while (i < 0) {
      const stuckFor = performance.now() - Math.max(...this.takenAt);
      // A thread still loading its code is about to serve: starting another would not be quicker.
      if (this.workers.length < MAX_THREADS && stuckFor >= STUCK_MS && !this.state.starting(this.workers.length)) {
        this.start();
        i = this.workers.length - 1;
      } else {
        this.state.waitForFree(this.workers.length < MAX_THREADS ? Math.max(1, STUCK_MS - stuckFor) : 1000, this.workers.length);
        i = this.state.idle(this.workers.length);
      }
    }
    this.takenAt[i] = performance.now();
    this.state.take(i, job.u, abandonable(job));
    this.workers[i]!.postMessage(job);
    return i;
  }

  /** Thread `i`'s prepared part of a listing. */
  preparedPart(i: number): PreparedPart | undefined {
    return this.parts[i];
  }

  /** Has thread `i` prepare a listing's next part, when it is free: false when it is busy. */
  prepare(i: number, part: Part): boolean {
    if (i < 0 || i >= this.workers.length || !this.state.startPreparing(i)) return false;
    const message: PrepareMessage = { op: 'prepare', part };
    this.workers[i]!.postMessage(message);
    return true;
  }

  joinPassthrough(node: bigint): number {
    return this.passthroughFiles.join(node);
  }

  changes(): number {
    return this.state.changes();
  }

  abandonable(unique: bigint): boolean {
    const i = this.state.holder(unique);
    return i >= 0 && this.state.abandonable(i);
  }

  /** The table changes the threads made, in the order each thread made them. */
  drain(apply: (u: BackingUpdate) => void): void {
    for (const port of this.ports) {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) apply(m.message as BackingUpdate);
    }
  }

  /** A request buffer not held by a WRITE in progress (the data stays in it until written). */
  freeSlot(): SharedArrayBuffer {
    for (const s of this.slots) if (!PoolState.slotInUse(s)) return s;
    const s = new SharedArrayBuffer(SLOT_DATA + this.slotSize);
    this.slots.push(s);
    return s;
  }
}
