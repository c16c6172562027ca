// 2. Burst completeness: many files created as fast as possible while `smbnotify watch -m -r
// --json` and `smbclient notify` watch the same folder. Each output is applied to the starting
// listing (empty): CREATE/MOVED_TO (smbclient: 0001/0005) add a name, DELETE/MOVED_FROM
// (0002/0004) remove it; the result is compared with the folder's final listing on disk.
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, Server } from './lib/context.js';
import type { Spawned } from './lib/lines.js';
import { rssKiB } from './lib/proc.js';
import { ms, now, sleep } from './lib/stats.js';
import { smbclientNotify, smbnotifyWatch, url } from './lib/tools.js';
import { createOnDisk, fileNames, type WriteResult } from './lib/writers.js';
import { createOverSmb } from './lib/smb-writer.js';

export interface ToolOutcome {
  /** Names whose presence in the rebuilt listing equals their presence on disk, / all names. */
  rightShare: number;
  missing: number;
  extra: number;
  overflows: number;
  /** Lines (events) printed. */
  events: number;
  /** Events that came from a listing after an overflow (smbnotify only). */
  fromRescan?: number;
  /** From the first file created to the last event printed. */
  lastEventS: number;
  /** From the last file closed to the last event printed. */
  lagS: number;
  /** Peak resident memory during the burst (smbnotify only). */
  peakRssKiB?: number;
}

export interface BurstCase {
  label: string;
  via: 'disk' | 'smb';
  files: number;
  writeS: number;
  filesPerS: number;
  smbnotify: ToolOutcome;
  smbclient: ToolOutcome;
  note?: string;
}

class Rebuild {
  readonly names = new Set<string>();
  overflows = 0;
  events = 0;
  fromRescan = 0;

  add(name: string): void {
    this.names.add(name);
  }

  remove(name: string): void {
    this.names.delete(name);
  }

  outcome(disk: Set<string>, write: WriteResult, lastAt: bigint): ToolOutcome {
    let right = 0;
    let missing = 0;
    let extra = 0;
    const universe = new Set([...disk, ...this.names]);
    for (const n of universe) {
      const a = disk.has(n);
      const b = this.names.has(n);
      if (a === b) right++;
      else if (a) missing++;
      else extra++;
    }
    return {
      rightShare: universe.size ? right / universe.size : 1,
      missing,
      extra,
      overflows: this.overflows,
      events: this.events,
      lastEventS: lastAt > 0n ? ms(write.start, lastAt) / 1000 : Number.NaN,
      lagS: lastAt > 0n ? ms(write.end, lastAt) / 1000 : Number.NaN,
    };
  }
}

function peakRss(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : rssKiB(pid);
  } catch {
    return 0;
  }
}

async function runCase(ctx: Context, server: Server, label: string, via: 'disk' | 'smb', count: number): Promise<BurstCase> {
  const { samba, creds } = server;
  const folder = `burst-${label}`;
  const dir = join(samba.sharePath, folder);
  mkdirSync(dir);
  const procs: Spawned[] = [];
  try {
    // smbnotify: JSON lines applied as they come (no need to keep 100,000 lines around).
    const sn = smbnotifyWatch('smbnotify', creds, url(samba, folder), ['-m', '-r', '--json'], ctx.nodeArgs(`burst-${label}`), false);
    procs.push(sn);
    const snRebuild = new Rebuild();
    const prefix = `${folder}/`;
    sn.stdout.onLine((line) => {
      let e: { event: string; path: string; source?: string };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        return;
      }
      if (e.event === 'STATE') return;
      snRebuild.events++;
      if (e.source === 'rescan') snRebuild.fromRescan++;
      const name = e.path.startsWith(prefix) ? e.path.slice(prefix.length) : e.path;
      if (e.event === 'OVERFLOW') snRebuild.overflows++;
      else if (e.event === 'CREATE' || e.event === 'MOVED_TO') snRebuild.add(name);
      else if (e.event === 'DELETE' || e.event === 'MOVED_FROM') snRebuild.remove(name);
    });
    await sn.stdout.waitFor(/"state":"watching"/, 30_000);

    const sc = smbclientNotify('smbclient', samba, creds, folder, false);
    procs.push(sc);
    const scRebuild = new Rebuild();
    sc.stdout.onLine((line) => {
      if (line.includes('NOTIFY_ENUM_DIR')) {
        scRebuild.overflows++;
        scRebuild.events++;
        return;
      }
      const m = /^([0-9a-f]{4}) (.*)$/.exec(line);
      if (!m) return;
      scRebuild.events++;
      const action = parseInt(m[1]!, 16);
      if (action === 1 || action === 5) scRebuild.add(m[2]!);
      else if (action === 2 || action === 4) scRebuild.remove(m[2]!);
    });

    // Both are armed once both have reported a probe file (it stays, and counts as a name).
    // Generous: on a loaded machine smbclient can take a while to arm.
    const probeSeen = Promise.all([
      sn.stdout.waitFor(new RegExp(`"path":"${folder}/probe\\.txt"`), 60_000),
      sc.stdout.waitFor(/ probe\.txt$/, 60_000),
    ]);
    await sleep(300);
    await createOnDisk(dir, ['probe.txt']);
    await probeSeen;

    const names = fileNames('f', count);
    ctx.log(`burst ${label}: creating ${count} files ${via === 'disk' ? "on the server's disk" : 'over SMB (another session, CREATE+CLOSE compounds, 32 in flight)'}`);
    const write = via === 'disk' ? await createOnDisk(dir, names) : await createOverSmb(server, folder, names);

    // Quiet: no new line from either tool for `quietMs`; a wrong result gets more time while
    // smbnotify is still talking (a rescan of a big folder takes a while).
    const quietMs = count >= 50_000 ? 10_000 : 3_000;
    const capMs = count >= 50_000 ? 240_000 : 90_000;
    const began = Date.now();
    let disk = new Set<string>();
    let peak = 0;
    for (;;) {
      const last = sn.stdout.lastAt > sc.stdout.lastAt ? sn.stdout.lastAt : sc.stdout.lastAt;
      const idleMs = ms(last > write.end ? last : write.end, now());
      if (idleMs < quietMs && Date.now() - began < capMs) {
        await sleep(Math.min(500, quietMs - idleMs + 10));
        continue;
      }
      peak = Math.max(peak, peakRss(sn.pid));
      disk = new Set(readdirSync(dir));
      const o = snRebuild.outcome(disk, write, sn.stdout.lastAt);
      if (o.rightShare === 1 || Date.now() - began >= capMs) break;
      // Still wrong: wait for another quiet period, unless nothing at all came for 3 quiet periods.
      if (idleMs > 3 * quietMs) break;
      await sleep(quietMs);
    }
    const snOut = snRebuild.outcome(disk, write, sn.stdout.lastAt);
    snOut.fromRescan = snRebuild.fromRescan;
    snOut.peakRssKiB = peak;
    const scOut = scRebuild.outcome(disk, write, sc.stdout.lastAt);
    const writeS = ms(write.start, write.end) / 1000;
    const result: BurstCase = { label, via, files: count, writeS, filesPerS: count / writeS, smbnotify: snOut, smbclient: scOut };
    if (!sn.running) result.note = `smbnotify exited early: ${sn.stderrText.slice(-300)}`;
    ctx.log(`burst ${label}: smbnotify ${(snOut.rightShare * 100).toFixed(2)} % right, ${snOut.overflows} overflows; smbclient ${(scOut.rightShare * 100).toFixed(2)} %, ${scOut.overflows} overflows`);
    return result;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function bursts(ctx: Context): Promise<BurstCase[]> {
  const server = await ctx.server();
  const cases: Array<[string, 'disk' | 'smb', number]> = ctx.opts.quick
    ? [['disk-1k', 'disk', 1000], ['disk-10k', 'disk', 10_000], ['smb-2k', 'smb', 2000]]
    : [['disk-1k', 'disk', 1000], ['disk-10k', 'disk', 10_000], ['disk-100k', 'disk', 100_000], ['smb-10k', 'smb', 10_000]];
  const out: BurstCase[] = [];
  try {
    for (const [label, via, count] of cases) {
      if (ctx.opts.cases.size === 0 || ctx.opts.cases.has(label)) out.push(await runCase(ctx, server, label, via, count));
    }
  } finally {
    await server.samba.stop();
  }
  return out;
}
