// 4. Polling fallback (`change notify = no`): a 10,000-entry folder watched with
// --poll-interval 2 through a counting TCP proxy. Per cycle: bytes on the wire (each way) and CPU
// of smbnotify and of its smbd; then the delay from a file's creation to its event. Next to it, a
// user's own polling loop: `smbclient -c 'ls DIR/*'`, per listing, through the same proxy.
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from './lib/context.js';
import { cpuSeconds, smbdPids } from './lib/proc.js';
import { CountingProxy, type Burst } from './lib/proxy.js';
import { mean, ms, now, sleep, summarize, until, type Summary } from './lib/stats.js';
import { Spawned } from './lib/lines.js';
import { requireTool } from '../support/tools.js';
import { smbnotifyWatch, url } from './lib/tools.js';

export interface CycleCost {
  bytesUp: number;
  bytesDown: number;
  cpuMs: number;
  smbdCpuMs: number;
}

export interface PollingResult {
  entries: number;
  intervalS: number;
  cycles: number;
  /** Cycles that only compare the folder's change time (9 of 10). */
  light: CycleCost & { count: number };
  /** Every 10th cycle lists the folder in full. */
  full: CycleCost & { count: number };
  /** Averages over all cycles of the window. */
  average: CycleCost;
  /** Seconds from a file's creation to its event. */
  delay: Summary;
  smbclientLs: CycleCost & { runs: number };
}

interface CpuSample {
  t: number;
  cpu: number;
  smbd: number;
}

export async function polling(ctx: Context): Promise<PollingResult> {
  const server = await ctx.server({ changeNotify: false });
  const { samba, creds } = server;
  const entries = 10_000;
  const interval = 2;
  const folder = 'poll-10k';
  mkdirSync(join(samba.sharePath, folder));
  for (let i = 0; i < entries; i++) writeFileSync(join(samba.sharePath, folder, `entry-${String(i).padStart(5, '0')}.dat`), '');
  const proxy = new CountingProxy(samba.port, 400);
  await proxy.start();
  const before = new Set(smbdPids(samba.confPath));
  const w = smbnotifyWatch('watch', creds, url(samba, folder, proxy.port), ['-m', '--json', '--poll-interval', String(interval)], ctx.nodeArgs('polling'));
  let sampler: NodeJS.Timeout | null = null;
  try {
    await w.stdout.waitFor(/"state":"polling"/, 60_000);
    const smbd = smbdPids(samba.confPath).filter((p) => !before.has(p));
    const samples: CpuSample[] = [];
    const sample = () => samples.push({ t: Date.now(), cpu: cpuSeconds(w.pid), smbd: smbd.reduce((a, p) => a + cpuSeconds(p), 0) });
    sampler = setInterval(sample, 50);
    // Idle cycles: 10 intervals hold exactly one full listing (every 10th cycle).
    const cycles = ctx.opts.quick ? 10 : 20;
    // The baseline listing runs right after the 'polling' state: start once it is over.
    await until(() => proxy.bursts.some((b) => b.down > 100_000) && Date.now() - proxy.bursts[proxy.bursts.length - 1]!.end > 300, 30_000, 20);
    const windowStart = Date.now();
    const firstBurst = proxy.bursts.length;
    ctx.log(`polling: ${cycles} idle cycles of ${interval} s on a ${entries}-entry folder`);
    const inWindow = () => proxy.bursts.slice(firstBurst).filter((b) => b.start >= windowStart);
    // `cycles` complete cycles: the last one has been quiet for a moment (a burst ends after 400 ms of silence).
    await until(() => inWindow().length > cycles || (inWindow().length === cycles && Date.now() - inWindow()[cycles - 1]!.end > 500), cycles * interval * 1000 + 30_000, 50);
    const bursts = inWindow().slice(0, cycles);
    const windowEnd = bursts[bursts.length - 1]!.end + 200;
    await sleep(Math.max(0, windowEnd - Date.now()));
    sample();
    const cost = (b: Burst): CycleCost => {
      const at = (t: number, pick: (s: CpuSample) => number, after: boolean) => {
        const s = after ? samples.find((x) => x.t >= t) ?? samples[samples.length - 1]! : [...samples].reverse().find((x) => x.t <= t) ?? samples[0]!;
        return pick(s);
      };
      return {
        bytesUp: b.up,
        bytesDown: b.down,
        cpuMs: (at(b.end + 150, (s) => s.cpu, true) - at(b.start - 60, (s) => s.cpu, false)) * 1000,
        smbdCpuMs: (at(b.end + 150, (s) => s.smbd, true) - at(b.start - 60, (s) => s.smbd, false)) * 1000,
      };
    };
    const costs = bursts.map(cost);
    const bigCut = Math.max(...costs.map((c) => c.bytesDown)) / 4;
    const avg = (list: CycleCost[]): CycleCost => ({
      bytesUp: mean(list.map((c) => c.bytesUp)),
      bytesDown: mean(list.map((c) => c.bytesDown)),
      cpuMs: mean(list.map((c) => c.cpuMs)),
      smbdCpuMs: mean(list.map((c) => c.smbdCpuMs)),
    });
    const fullCosts = costs.filter((c) => c.bytesDown > bigCut && c.bytesDown > 100_000);
    const lightCosts = costs.filter((c) => !fullCosts.includes(c));
    const windowCpu = samples.find((x) => x.t >= windowEnd) ?? samples[samples.length - 1]!;
    const startCpu = [...samples].reverse().find((x) => x.t <= windowStart) ?? samples[0]!;
    const average: CycleCost = {
      bytesUp: bursts.reduce((a, b) => a + b.up, 0) / Math.max(1, bursts.length),
      bytesDown: bursts.reduce((a, b) => a + b.down, 0) / Math.max(1, bursts.length),
      cpuMs: ((windowCpu.cpu - startCpu.cpu) * 1000) / Math.max(1, bursts.length),
      smbdCpuMs: ((windowCpu.smbd - startCpu.smbd) * 1000) / Math.max(1, bursts.length),
    };

    // Delay until a change is seen: creations at random moments of the cycle.
    const delays: number[] = [];
    const samplesWanted = ctx.opts.quick ? 5 : 12;
    ctx.log(`polling: ${samplesWanted} changes at random moments`);
    for (let i = 0; i < samplesWanted; i++) {
      await sleep(Math.random() * interval * 1000);
      const name = `change-${i}.txt`;
      const seen = w.stdout.waitFor(new RegExp(`"event":"CREATE".*"path":"${folder}/${name.replace('.', '\\.')}"`), 15_000);
      closeSync(openSync(join(samba.sharePath, folder, name), 'w'));
      const t0 = now();
      const { at } = await seen;
      delays.push(ms(t0, at) / 1000);
    }

    // The comparison: what one `smbclient -c 'ls DIR/*'` costs, through the same proxy.
    const lsRuns = 3;
    const ls: CycleCost[] = [];
    const bash = requireTool('bash', 'bash');
    const smbclient = requireTool('smbclient', 'smbclient');
    for (let i = 0; i < lsRuns; i++) {
      const up0 = proxy.up;
      const down0 = proxy.down;
      const p = new Spawned('smbclient ls', bash, ['-c', `"$0" -s /dev/null -p ${proxy.port} //${samba.host}/${samba.share} -A "$1" -c 'ls ${folder}/*' >/dev/null; times`, smbclient, creds.smbclient]);
      const { code } = await p.exited;
      if (code !== 0) throw new Error(`smbclient ls failed: ${p.stderrText}`);
      // `times`: the shell's own user/sys, then its children's.
      const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(p.stdout.lines.filter(Boolean).pop() ?? '');
      const cpu = m ? (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000 : Number.NaN;
      await sleep(300);
      ls.push({ bytesUp: proxy.up - up0, bytesDown: proxy.down - down0, cpuMs: cpu, smbdCpuMs: Number.NaN });
    }

    return {
      entries,
      intervalS: interval,
      cycles: bursts.length,
      light: { ...avg(lightCosts), count: lightCosts.length },
      full: { ...avg(fullCosts), count: fullCosts.length },
      average,
      delay: summarize(delays),
      smbclientLs: { ...avg(ls), runs: lsRuns },
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await w.stop();
    await proxy.stop();
    await samba.stop();
  }
}
