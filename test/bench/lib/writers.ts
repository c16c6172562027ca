// Making many files fast: on the server's disk from a worker thread (so that this process's event
// loop keeps reading the consumers' pipes while the burst runs). Over SMB: see smb-writer.ts.
import { Worker } from 'node:worker_threads';

export interface WriteResult {
  /** hrtime.bigint() when the first file was started and when the last one was closed. */
  start: bigint;
  end: bigint;
  count: number;
}

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const { openSync, closeSync } = require('node:fs');
const { dir, names } = workerData;
const start = process.hrtime.bigint();
for (const n of names) closeSync(openSync(dir + '/' + n, 'w'));
parentPort.postMessage({ start, end: process.hrtime.bigint() });
`;

/** Creates (open O_CREAT + close) every name in `dir`, as fast as one thread can. */
export function createOnDisk(dir: string, names: string[]): Promise<WriteResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { dir, names } });
    w.once('message', (m: { start: bigint; end: bigint }) => resolve({ ...m, count: names.length }));
    w.once('error', reject);
  });
}

export function fileNames(prefix: string, count: number): string[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(width, '0')}.dat`);
}

