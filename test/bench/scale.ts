// 3. Scale: one recursive watch over a tree of 1,000, 5,000 and 20,000 folders (one handle per
// folder) in one smbnotify daemon: set-up time, resident memory, CPU over 30 idle seconds, handles
// open on the server, and what the daemon said when the server's open-file limit stopped it; next
// to 50 `smbclient notify` processes (one per folder), scaled linearly. `--case=1000,5000,20000`
// picks sizes.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, Server } from './lib/context.js';
import type { Spawned } from './lib/lines.js';
import { cpuSeconds, fdCount, pssKiB, rssKiB, smbdPids } from './lib/proc.js';
import { ms, now, sleep, until } from './lib/stats.js';
import { scratchDir, smbclientNotify, smbnotifyDaemon, smbnotifyWatch, url } from './lib/tools.js';

export interface ScaleCase {
  folders: number;
  via: 'daemon' | 'watch -r -m';
  setupS: number;
  /** CPU time of smbnotify and of its smbd until set-up was complete. */
  setupCpuS: number;
  smbdSetupCpuS: number;
  rssKiB: number;
  peakRssKiB: number;
  idleCpuPercent: number;
  idleWindowS: number;
  /** Handles the server lists for the tree (`smbstatus -L` lines under the tree). */
  serverHandles: number;
  /** Descriptors of the smbd process serving the connection. */
  smbdFds: number;
  smbdRssKiB: number;
  smbdPssKiB: number;
  smbdIdleCpuPercent: number;
  /** What the daemon said when the server would not open more folders, if it did. */
  limit?: string;
}

export interface SmbclientScale {
  processes: number;
  rssKiBEach: number;
  pssKiBEach: number;
  /** The smbd process each smbclient gets on the server. */
  smbdRssKiBEach: number;
  smbdPssKiBEach: number;
  idleCpuPercentAll: number;
  idleWindowS: number;
}

export interface ScaleResult {
  cases: ScaleCase[];
  smbclient: SmbclientScale;
  notes: string[];
}

/** `total` folders including `root`: groups of 40 below the root. */
function makeTree(base: string, root: string, total: number): string[] {
  const folders = [root];
  mkdirSync(join(base, root));
  let g = 0;
  while (folders.length < total) {
    const group = `${root}/g${String(g++).padStart(3, '0')}`;
    mkdirSync(join(base, group));
    folders.push(group);
    for (let j = 0; j < 40 && folders.length < total; j++) {
      const leaf = `${group}/d${String(j).padStart(2, '0')}`;
      mkdirSync(join(base, leaf));
      folders.push(leaf);
    }
  }
  return folders;
}

function peakRss(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function lockedUnder(server: Server, root: string): Promise<number> {
  const out = await server.samba.smbstatus(['-L']);
  // Columns: Pid User DenyMode Access R/W Oplock SharePath Name Time; Name is share-relative.
  const needle = `${server.samba.sharePath}   ${root}`;
  return out.split('\n').filter((l) => l.includes(`${needle}   `) || l.includes(`${needle}/`)).length;
}

async function oneCase(ctx: Context, server: Server, folders: number, idleS: number): Promise<ScaleCase> {
  const { samba, creds } = server;
  const root = `scale-${folders}`;
  const tree = makeTree(samba.sharePath, root, folders);
  const before = new Set(smbdPids(samba.confPath));
  let proc: Spawned;
  let bus: Awaited<ReturnType<Context['bus']>> | null = null;
  const via: ScaleCase['via'] = ctx.daemonBuilt ? 'daemon' : 'watch -r -m';
  const t0 = now();
  if (ctx.daemonBuilt) {
    bus = await ctx.bus();
    const journal = join(scratchDir('journal'), 'events.jsonl');
    proc = smbnotifyDaemon('daemon', creds, { targets: [url(samba, root)], recursive: true, bus: bus.address, journal, nodeArgs: ctx.nodeArgs(`scale-${folders}`) });
    await proc.stderr.waitFor(/^w\d+ .*: watching$/, 300_000);
  } else {
    proc = smbnotifyWatch('watch', creds, url(samba, root), ['-m', '-r'], ctx.nodeArgs(`scale-${folders}`));
    await proc.stderr.waitFor(/WATCHING/, 300_000);
  }
  const setupS = ms(t0, now()) / 1000;
  const setupCpuS = cpuSeconds(proc.pid);
  try {
    const smbd = smbdPids(samba.confPath).filter((p) => !before.has(p));
    const smbdSetupCpuS = smbd.reduce((a, p) => a + cpuSeconds(p), 0);
    // Every folder open on the server (the daemon says it is running once all are armed).
    let handles = 0;
    const limitLine = () => /refuses to open more folders[^\n]*/.exec(proc.stderrText)?.[0];
    await until(async () => (handles = await lockedUnder(server, root)) >= tree.length || limitLine() !== undefined, 30_000, 500);
    await sleep(2000);
    const c0 = cpuSeconds(proc.pid);
    const s0 = smbd.reduce((a, p) => a + cpuSeconds(p), 0);
    await sleep(idleS * 1000);
    const c1 = cpuSeconds(proc.pid);
    const s1 = smbd.reduce((a, p) => a + cpuSeconds(p), 0);
    const result: ScaleCase = {
      folders: tree.length,
      via,
      setupS,
      setupCpuS,
      smbdSetupCpuS,
      rssKiB: rssKiB(proc.pid),
      peakRssKiB: peakRss(proc.pid),
      idleCpuPercent: ((c1 - c0) / idleS) * 100,
      idleWindowS: idleS,
      serverHandles: handles,
      smbdFds: smbd.reduce((a, p) => a + fdCount(p), 0),
      smbdRssKiB: smbd.reduce((a, p) => a + rssKiB(p), 0),
      smbdPssKiB: smbd.reduce((a, p) => a + pssKiB(p), 0),
      smbdIdleCpuPercent: ((s1 - s0) / idleS) * 100,
    };
    const limit = limitLine();
    if (limit) result.limit = limit;
    ctx.log(`scale ${folders}: set-up ${setupS.toFixed(1)} s, ${(result.rssKiB / 1024).toFixed(1)} MiB, idle CPU ${result.idleCpuPercent.toFixed(2)} %, ${handles} handles`);
    return result;
  } finally {
    await proc.stop(30_000);
    await bus?.stop();
  }
}

async function smbclientCase(ctx: Context, server: Server, count: number, idleS: number): Promise<SmbclientScale> {
  const { samba, creds } = server;
  const root = 'scale-smbclient';
  const tree = makeTree(samba.sharePath, root, count);
  const before = new Set(smbdPids(samba.confPath));
  const procs = tree.map((f, i) => smbclientNotify(`smbclient-${i}`, samba, creds, f, false, samba.port, false));
  try {
    let smbd: number[] = [];
    const ok = await until(async () => {
      smbd = smbdPids(samba.confPath).filter((p) => !before.has(p));
      return smbd.length >= count && (await lockedUnder(server, root)) >= count;
    }, 60_000, 500);
    if (!ok) throw new Error(`only ${smbd.length} of ${count} smbclient sessions came up`);
    ctx.log(`scale: ${count} smbclient notify processes up`);
    await sleep(2000);
    const pids = procs.map((p) => p.pid);
    const c0 = pids.reduce((a, p) => a + cpuSeconds(p), 0);
    await sleep(idleS * 1000);
    const c1 = pids.reduce((a, p) => a + cpuSeconds(p), 0);
    const sum = (f: (pid: number) => number, list: number[]) => list.reduce((a, p) => a + f(p), 0);
    return {
      processes: count,
      rssKiBEach: sum(rssKiB, pids) / count,
      pssKiBEach: sum(pssKiB, pids) / count,
      smbdRssKiBEach: sum(rssKiB, smbd) / smbd.length,
      smbdPssKiBEach: sum(pssKiB, smbd) / smbd.length,
      idleCpuPercentAll: ((c1 - c0) / idleS) * 100,
      idleWindowS: idleS,
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

export async function scale(ctx: Context): Promise<ScaleResult> {
  const server = await ctx.server();
  const idleS = ctx.opts.quick ? 10 : 30;
  const notes: string[] = [];
  try {
    const cases: ScaleCase[] = [];
    for (const n of ctx.opts.quick ? [1000] : [1000, 5000, 20_000]) {
      if (ctx.opts.cases.size === 0 || ctx.opts.cases.has(String(n))) cases.push(await oneCase(ctx, server, n, idleS));
    }
    const smbclient = await smbclientCase(ctx, server, 50, idleS);
    const log = server.samba.logTail(200_000);
    const limits = log.split('\n').filter((l) => /open files|EMFILE|Too many open|rlimit/i.test(l));
    notes.push(limits.length ? `smbd log about open-file limits: ${limits.slice(0, 3).join(' | ')}` : 'smbd log: no open-file limit messages (default `max open files`, RLIMIT_NOFILE hard limit of the bench: see machine header)');
    return { cases, smbclient, notes };
  } finally {
    await server.samba.stop();
  }
}
