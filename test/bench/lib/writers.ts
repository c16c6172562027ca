// Making many files fast: on the server's disk from a worker thread (so that this process's event
// loop keeps reading the consumers' pipes while the burst runs), or over SMB with smbclient.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Server } from './context.js';
import { scratchDir, smbclientRun } from './tools.js';

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

/**
 * Uploads every file of `srcDir` into the share folder `dir` with `writers` smbclient processes in
 * parallel (each one a session of its own, `mput` of its part of the names).
 */
export async function createOverSmb(server: Server, dir: string, names: string[], writers: number): Promise<WriteResult> {
  const parts: string[][] = Array.from({ length: writers }, () => []);
  names.forEach((n, i) => parts[i % writers]!.push(n));
  const sources = parts.map((p) => {
    const d = scratchDir('src');
    mkdirSync(d, { recursive: true });
    for (const n of p) writeFileSync(join(d, n), '');
    return d;
  });
  const start = process.hrtime.bigint();
  const results = await Promise.all(sources.map((src) => smbclientRun(server.samba, server.creds, `cd "${dir}"; lcd "${src}"; prompt; mput *`)));
  const end = process.hrtime.bigint();
  for (const r of results) if (r.code !== 0) throw new Error(`smbclient mput failed (${r.code}): ${r.stderr.slice(-500)}`);
  return { start, end, count: names.length };
}
