// 8. Whole commands: `smbnotify ls` of a 10,000-entry folder from exec to exit, next to
// `smbclient -c 'ls DIR/*'` (plain and with signing on), as a script that calls them in a loop
// sees them: stdout is a pipe this process reads to the end, the time is from spawn() to the
// process's 'close'. Runs alternate between the commands in a new random order every round.
// Two floors give the context: `node -e 0` (Node's own start-up) and `smbnotify --version` (the
// CLI's modules loaded, no connection).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool } from '../support/tools.js';
import type { Context } from './lib/context.js';
import { ms, now, percentile, shuffle, sleep } from './lib/stats.js';
import { CLI, url } from './lib/tools.js';

export interface CommandTimes {
  /** Wall seconds of each run. */
  runsS: number[];
  medianS: number;
  minS: number;
  maxS: number;
  /** Output lines of the last run (a check that it listed everything). */
  lines: number;
}

export interface LsBenchResult {
  entries: number;
  runs: number;
  commands: Record<string, CommandTimes>;
  notes: string[];
}

export const LS_SMBNOTIFY = 'smbnotify ls';
export const LS_SMBCLIENT = "smbclient -c 'ls DIR/*'";
export const LS_SMBCLIENT_SIGNED = "smbclient --client-protection=sign -c 'ls DIR/*'";

interface Cmd {
  name: string;
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Output lines a complete run prints at least. */
  minLines: number;
}

/** Runs the command to its exit; resolves with its wall seconds and output line count. */
function timed(c: Cmd): Promise<{ s: number; lines: number }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(c.file, c.args, { stdio: ['ignore', 'pipe', 'pipe'], env: c.env ?? process.env });
    let lines = 0;
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const s = ms(t0, now()) / 1000;
      if (code !== 0) reject(new Error(`${c.name} exited with ${code}: ${err.trim()}`));
      else if (lines < c.minLines) reject(new Error(`${c.name} printed ${lines} lines, expected at least ${c.minLines}: ${err.trim()}`));
      else resolve({ s, lines });
    });
  });
}

export async function lsBench(ctx: Context): Promise<LsBenchResult> {
  const entries = ctx.opts.quick ? 2_000 : 10_000;
  // 25 runs: the median of each and a 95 % bootstrap interval of the ratio (in the table) show
  // whether two runs differ by more than the machine's noise.
  const runs = ctx.opts.quick ? 5 : 25;
  const smbclient = requireTool('smbclient', 'smbclient');
  const { samba, creds } = await ctx.server();
  try {
    const dir = join(samba.sharePath, 'many');
    mkdirSync(dir);
    for (let i = 0; i < entries; i++) closeSync(openSync(join(dir, `file-${String(i).padStart(5, '0')}.txt`), 'w'));
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: creds.home };
    const smbclientArgs = ['-s', '/dev/null', '-p', String(samba.port), `//${samba.host}/${samba.share}`, '-A', creds.smbclient, '-c', 'ls many/*'];
    const cmds: Cmd[] = [
      { name: LS_SMBNOTIFY, file: process.execPath, args: [...ctx.nodeArgs('ls'), CLI, 'ls', url(samba, 'many'), '-A', creds.smbnotify], env, minLines: entries },
      { name: LS_SMBCLIENT, file: smbclient, args: smbclientArgs, minLines: entries },
      { name: LS_SMBCLIENT_SIGNED, file: smbclient, args: ['--client-protection=sign', ...smbclientArgs], minLines: entries },
      { name: 'smbnotify --version (start-up, no connection)', file: process.execPath, args: [CLI, '--version'], env, minLines: 1 },
      { name: 'node -e 0 (Node alone)', file: process.execPath, args: ['-e', '0'], env, minLines: 0 },
    ];
    // One untimed run each: the page cache, smbd's directory cache and the share are warm.
    for (const c of cmds) await timed(c);
    const times: Record<string, number[]> = Object.fromEntries(cmds.map((c) => [c.name, []]));
    const lines: Record<string, number> = {};
    ctx.log(`ls: ${runs} runs of ${cmds.length} commands, ${entries} entries`);
    for (let r = 0; r < runs; r++) {
      for (const c of shuffle([...cmds])) {
        const t = await timed(c);
        times[c.name]!.push(t.s);
        lines[c.name] = t.lines;
        await sleep(50);
      }
    }
    const commands: Record<string, CommandTimes> = {};
    for (const c of cmds) {
      const v = times[c.name]!;
      commands[c.name] = { runsS: v, medianS: percentile(v, 50), minS: Math.min(...v), maxS: Math.max(...v), lines: lines[c.name] ?? 0 };
    }
    return { entries, runs, commands, notes: [] };
  } finally {
    await samba.stop();
  }
}
