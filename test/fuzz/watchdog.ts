/**
 * Hang detection for synchronous code. Vitest's test timeout cannot interrupt a decoder stuck in
 * a synchronous loop, so a worker thread watches a heartbeat in shared memory: when the fuzz loop
 * is armed and the heartbeat has not moved for `stallMs`, it prints which target and case hung
 * (enough to replay it from the seed) and kills the test process, so CI fails fast instead of
 * waiting for its job timeout.
 */
import { Worker } from 'node:worker_threads';

const WATCHER = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const state = new Int32Array(workerData.shared);
let lastBeat = -1;
let lastChange = Date.now();
setInterval(() => {
  const beat = Atomics.load(state, 0);
  if (Atomics.load(state, 1) === 0 || beat !== lastBeat) {
    lastBeat = beat;
    lastChange = Date.now();
    return;
  }
  if (Date.now() - lastChange < workerData.stallMs) return;
  const index = Atomics.load(state, 2);
  writeSync(2, '\\nFUZZ HANG: ' + (workerData.targets[index] ?? '?') + ' made no progress for ' + workerData.stallMs +
    ' ms; replay: FUZZ_SEED=' + workerData.seed + ' target ' + index + ' case ' + Atomics.load(state, 3) +
    ' (fast-check properties count runs); killing the test process\\n');
  process.kill(process.pid, 'SIGKILL');
}, 250);
`;

export interface Watchdog {
  /** Start watching: from now on the heartbeat must move every `stallMs`. */
  arm(target: number): void;
  /** One case of `target` is about to run. */
  beat(caseIndex: number): void;
  disarm(): void;
  stop(): Promise<void>;
}

export function startWatchdog(targets: string[], seed: number, stallMs = 20_000): Watchdog {
  const shared = new SharedArrayBuffer(4 * 4);
  const state = new Int32Array(shared);
  const worker = new Worker(WATCHER, { eval: true, workerData: { shared, targets, seed, stallMs } });
  worker.unref();
  let beats = 0;
  return {
    arm(target) {
      Atomics.store(state, 2, target);
      Atomics.store(state, 1, 1);
    },
    beat(caseIndex) {
      Atomics.store(state, 3, caseIndex);
      Atomics.store(state, 0, ++beats | 0);
    },
    disarm() {
      Atomics.store(state, 1, 0);
    },
    async stop() {
      await worker.terminate();
    },
  };
}
