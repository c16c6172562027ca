// The watcher under fire. While a writer keeps creating, deleting, renaming and moving files and
// folders on the server's disk, the connection is broken in every way the fault proxy knows
// (RST now, RST in the middle of a message in either direction, a truncated frame, a stall long
// enough for the keepalive to give up, a slow link) and smbd itself is killed and restarted.
// After each round, once the writer stops and the events stop, the stream applied to the
// listing it started from must equal the server's final listing: every round, not on average.
// Across rounds: no unhandled rejection, no growth in active handles and timers, no heap growth.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { trackUnhandledRejections } from '../support/tools.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { applyStream, diskTree, setDiff, watch, type Harness } from '../support/stream.js';
import { mulberry32 } from '../support/random.js';

const unhandledRejections = trackUnhandledRejections();
const unhandled = unhandledRejections.seen;

afterAll(async () => {
  unhandledRejections.stop();
  await stopAllSamba();
});

/** global.gc without --expose-gc on the command line. */
function gcFunction(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
const gc = gcFunction();

interface Writer {
  /** Stops the loop and resolves with the number of operations done. */
  stop(): Promise<number>;
}

const WRITER_MAX_OPS = 20_000;
const WRITER_MAX_MS = 30_000;

/**
 * Changes on the server disk until stopped (or WRITER_MAX_OPS / WRITER_MAX_MS, whichever comes
 * first): mostly files (create, write, delete, rename, move between folders), sometimes folders
 * (create with contents, rename, delete with contents). Small batches with short pauses, so that
 * changes are always in flight when a fault hits.
 */
function startWriter(root: string, seed: number, tag: string): Writer {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(rnd() * xs.length)] : undefined);
  let running = true;
  let ops = 0;
  let n = 0;
  const started = Date.now();
  const folders = (): string[] => ['', ...readdirSync(root).filter((d) => d.startsWith('d') && isDir(join(root, d)))];
  const files = (dir: string): string[] => readdirSync(join(root, dir)).filter((f) => f.startsWith('f'));
  const op = (): void => {
    const r = rnd();
    const all = folders();
    const dir = pick(all)!;
    const inDir = files(dir);
    const target = pick(inDir);
    // Keep the tree about the same size round after round: more deletions where it is crowded.
    if (target && inDir.length > 40 && r < 0.5) {
      rmSync(join(root, dir, target));
    } else if (all.length > 12 && r >= 0.92 && r < 0.96) {
      const d = pick(all.filter((x) => x !== '' && !x.startsWith('d-keep')));
      if (d) rmSync(join(root, d), { recursive: true });
    } else if (r < 0.4 || !target) {
      writeFileSync(join(root, dir, `f-${tag}-${n++}`), 'x');
    } else if (r < 0.55) {
      writeFileSync(join(root, dir, target), `more ${n++}`);
    } else if (r < 0.7) {
      rmSync(join(root, dir, target));
    } else if (r < 0.82) {
      renameSync(join(root, dir, target), join(root, dir, `f-${tag}-${n++}-r`));
    } else if (r < 0.92) {
      const other = pick(folders())!;
      renameSync(join(root, dir, target), join(root, other, `f-${tag}-${n++}-m`));
    } else if (r < 0.96) {
      const d = `d-${tag}-${n++}`;
      mkdirSync(join(root, d));
      for (let i = 0; i < 3; i++) writeFileSync(join(root, d, `f-${i}`), 'x');
    } else if (r < 0.98) {
      const d = pick(folders().filter((x) => x !== '' && !x.startsWith('d-keep')));
      if (d) renameSync(join(root, d), join(root, `d-${tag}-${n++}-r`));
    } else {
      const d = pick(folders().filter((x) => x !== '' && !x.startsWith('d-keep')));
      if (d) rmSync(join(root, d), { recursive: true });
    }
    ops++;
  };
  const loop = (async () => {
    while (running && ops < WRITER_MAX_OPS && Date.now() - started < WRITER_MAX_MS) {
      const batch = 1 + Math.floor(rnd() * 5);
      for (let i = 0; i < batch; i++) op();
      await sleep(4);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return ops;
    },
  };
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Active handles and requests by type (sockets, timers, child processes, ...). */
function activeResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

function total(r: Record<string, number>): number {
  return Object.values(r).reduce((a, b) => a + b, 0);
}

async function reconnectedAfter(h: Harness, seq: number, timeoutMs = 20_000): Promise<void> {
  await h.waitFor((e) => e.seq > seq && e.event === 'STATE' && e.state === 'watching' && /reconnected/.test(e.message ?? ''), timeoutMs);
}

function lastSeq(h: Harness): number {
  return h.events.at(-1)?.seq ?? 0;
}

type Fault = (ctx: { samba: SambaServer; proxy: FaultProxy; h: Harness }) => Promise<void>;

/** Each fault breaks the connection and waits for the watcher to be back. */
const FAULTS: Array<[string, Fault]> = [
  ['smbd killed, restarted 500 ms later', async ({ samba, h }) => {
    const seq = lastSeq(h);
    await samba.kill();
    await h.waitFor((e) => e.seq > seq && e.event === 'STATE' && e.state === 'reconnecting', 10_000);
    await sleep(500);
    await samba.start();
    await reconnectedAfter(h, seq);
  }],
  ['RST on every connection', async ({ proxy, h }) => {
    const seq = lastSeq(h);
    expect(proxy.cutNow()).toBeGreaterThan(0);
    await reconnectedAfter(h, seq);
  }],
  ['RST in the middle of a server->client message', async ({ samba, proxy, h }) => {
    const seq = lastSeq(h);
    const cut = proxy.cut({ dir: 's2c' });
    writeFileSync(join(samba.sharePath, `f-cut-${seq}`), 'x'); // something to answer
    const c = await cut;
    expect(c.forwarded).toBeLessThan(c.frameLength);
    await reconnectedAfter(h, seq);
  }],
  ['stall: no byte either way until the keepalive gives up, then the link comes back', async ({ proxy, h }) => {
    const seq = lastSeq(h);
    proxy.stall();
    try {
      await h.waitFor((e) => e.seq > seq && e.event === 'STATE' && e.state === 'reconnecting', 10_000);
      await sleep(300);
    } finally {
      proxy.resume();
    }
    await reconnectedAfter(h, seq);
  }],
  ['a truncated server->client frame, then FIN', async ({ samba, proxy, h }) => {
    const seq = lastSeq(h);
    const cut = proxy.truncate({ dir: 's2c', keepBytes: 30 });
    writeFileSync(join(samba.sharePath, `f-trunc-${seq}`), 'x');
    await cut;
    await reconnectedAfter(h, seq);
  }],
  ['RST in the middle of a client->server message', async ({ proxy, h }) => {
    const seq = lastSeq(h);
    // The next request: a keepalive ECHO, a re-arm or a CLOSE, whichever comes first.
    await proxy.cut({ dir: 'c2s' });
    await reconnectedAfter(h, seq);
  }],
  ['smbd killed twice in a row, the second time during the reconnect', async ({ samba, h }) => {
    const seq = lastSeq(h);
    await samba.kill();
    await sleep(300);
    await samba.start();
    await sleep(50);
    await samba.kill();
    await sleep(400);
    await samba.start();
    await reconnectedAfter(h, seq);
  }],
  ['a slow link (30 ms per frame) for a while, then an RST', async ({ proxy, h }) => {
    proxy.delay(30);
    await sleep(1500);
    const seq = lastSeq(h);
    proxy.cutNow();
    proxy.delay(0);
    await reconnectedAfter(h, seq);
  }],
];

describe('watching through faults while the share keeps changing', () => {
  it('every round, the stream rebuilds the final listing exactly; nothing leaks', async () => {
    const samba = await startSamba({});
    const proxy = await startFaultProxy({ targetPort: samba.port });
    const root = samba.sharePath;
    for (let i = 0; i < 3; i++) {
      mkdirSync(join(root, `d-keep-${i}`));
      for (let j = 0; j < 20; j++) writeFileSync(join(root, `d-keep-${i}`, `f-pre-${j}`), 'x');
    }
    for (let j = 0; j < 50; j++) writeFileSync(join(root, `f-pre-${j}`), 'x');

    gc();
    const before = activeResources();
    const h = await watch(samba, {
      recursive: true,
      keepaliveMs: 500,
      // A stalled link is given up after the ECHO timeout (2 s); retries stay quick.
      connection: { port: proxy.port, timeoutMs: 4000 },
    });
    let state = diskTree(root);
    const perRound: Array<{ resources: Record<string, number>; heap: number; ops: number; events: number; reconnects: number }> = [];
    try {
      // Two faults per round, every fault twice (in a different order the second time).
      const schedule = [...FAULTS, ...[...FAULTS].reverse()];
      const ROUNDS = schedule.length / 2;
      for (let round = 0; round < ROUNDS; round++) {
        const writer = startWriter(root, 1000 + round, `r${round}`);
        try {
          await sleep(300);
          for (const [name, fault] of schedule.slice(round * 2, round * 2 + 2)) {
            try {
              await fault({ samba, proxy, h });
            } catch (err) {
              throw new Error(`round ${round}, fault "${name}": ${(err as Error).message}`);
            }
            await sleep(300); // changes on the new connection before the next fault
          }
        } finally {
          perRound[round] = { resources: {}, heap: 0, ops: await writer.stop(), events: 0, reconnects: 0 };
        }
        await h.quiet(1500, 60_000);

        const disk = diskTree(root);
        const changes = h.changes();
        const rebuilt = applyStream(state, changes);
        // CHAOS_DUMP=/tmp/chaos saves each round (start listing, final listing, every event) to
        // /tmp/chaos-<round>.json, to find out what went wrong when a round does not add up.
        if (process.env['CHAOS_DUMP']) {
          writeFileSync(`${process.env['CHAOS_DUMP']}-${round}.json`, JSON.stringify({ start: [...state], disk: [...disk], events: h.events }));
        }
        expect(setDiff(rebuilt, disk), `round ${round}`).toEqual({ missing: [], extra: [] });
        expect(rebuilt.size).toBe(disk.size);
        expect(h.watcher.state).toBe('watching');

        // Carry the listing over and drop the events, so that memory measures the watcher only.
        const stats = perRound[round]!;
        stats.events = changes.length;
        stats.reconnects = h.events.filter((e) => e.event === 'STATE' && /reconnected/.test(e.message ?? '')).length;
        state = rebuilt;
        h.events.splice(0);
        gc();
        stats.resources = activeResources();
        stats.heap = process.memoryUsage().heapUsed;
      }
      console.log(perRound.map((r, i) => `round ${i}: ${r.ops} writer ops, ${r.events} events, ${r.reconnects} reconnects, ${total(r.resources)} active resources, heap ${(r.heap / 2 ** 20).toFixed(1)} MiB`).join('\n'));

      // No growth across rounds: handles and timers stay flat; the heap too (the snapshot holds
      // a few thousand entries, so a leak of one connection's state per round would show).
      const first = perRound[0]!;
      const last = perRound.at(-1)!;
      expect(total(last.resources), JSON.stringify({ first: first.resources, last: last.resources })).toBeLessThanOrEqual(total(first.resources) + 1);
      expect(last.heap - first.heap).toBeLessThan(4 * 2 ** 20);
      for (const r of perRound) expect(r.ops).toBeGreaterThan(50);
      expect(unhandled).toEqual([]);
    } finally {
      await h.stop();
      await proxy.close();
    }
    await samba.stop();
    // Stopped: nothing of the watcher is left running (sockets, timers, keepalive).
    await sleep(100);
    gc();
    const after = activeResources();
    expect(total(after), JSON.stringify({ before, after })).toBeLessThanOrEqual(total(before));
    expect(unhandled).toEqual([]);
  }, 180_000);
});
