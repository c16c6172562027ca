/**
 * `smbnotify demo`: the whole product on a fresh machine in half a minute. A throwaway Samba on
 * loopback, a private D-Bus bus, the daemon, and three consumers as separate processes (the
 * `watch` stream, `monitor` of the D-Bus signals, the journal), plus the KDirNotify signals that
 * make Dolphin refresh (through a simulated mount). It changes files on the server's disk, shows
 * each consumer's lines as they arrive, then cleans everything up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitStatus, SIGNAL_STATUS, stopSignals, type StopIO } from '../cli/stop.js';
import { ensureTools, findTool, freePort, spawnDemoBus, spawnDemoSamba, stopProcess, type DemoBus, type DemoSamba } from './processes.js';
import { DemoSetupError } from './demo-error.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

interface Consumer {
  name: string;
  child: ChildProcess;
  lines: number;
  ready: Promise<void>;
}

export interface DemoIO extends StopIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

export async function runDemo(io: DemoIO): Promise<number> {
  const say = (line: string) => io.out(line);
  const { smbd, dbusDaemon } = ensureTools(say);
  // Like watch: Ctrl-C (130) and SIGTERM (143) end the demo at any step, and the finally below
  // stops what it started; without this Node dies at once and leaves dbus-daemon, dbus-monitor
  // and the temporary folder behind.
  const stops = stopSignals(io);
  const sleep = (ms: number) => stops.race(new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    void stops.stopped.then(() => clearTimeout(timer));
  }));
  const dir = mkdtempSync(join(tmpdir(), 'smbnotify-demo-'));
  const consumers: Consumer[] = [];
  let samba: DemoSamba | null = null;
  let bus: DemoBus | null = null;
  let journalTimer: NodeJS.Timeout | null = null;
  // The signal's status (130, 143), or 0 when the reader of the output went away.
  let stoppedWith: number | null = null;
  void stops.stopped.then((s) => (stoppedWith = s));
  let status = 1;
  try {
    samba = spawnDemoSamba(smbd, dir, await stops.race(freePort()));
    await stops.race(samba.ready);
    bus = spawnDemoBus(dbusDaemon, dir);
    const busAddress = await stops.race(bus.address);
    const target = `//127.0.0.1/${samba.share}`;
    const mnt = join(dir, 'mnt', 'Demo Share');
    const mountinfo = join(dir, 'mountinfo');
    writeFileSync(mountinfo, `99 1 0:55 / ${mnt.replace(/ /g, '\\040')} rw - cifs ${target} rw,vers=3.1.1,addr=127.0.0.1,port=${samba.port}\n`);
    const journal = join(dir, 'events.jsonl');
    say(`Samba on 127.0.0.1:${samba.port} sharing ${samba.sharePath} as [${samba.share}] (guest)`);
    say(`private D-Bus at ${busAddress}`);
    say(`the share is "mounted" at ${mnt} (a mountinfo fixture), so events get local paths and KDirNotify URLs`);
    say('');

    const start = (name: string, args: string[], readyOn: RegExp | null, stream: 'stdout' | 'stderr' = 'stderr'): Consumer => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const c: Consumer = { name, child, lines: 0, ready: Promise.resolve() };
      let resolveReady!: () => void;
      c.ready = readyOn ? new Promise<void>((r) => (resolveReady = r)) : Promise.resolve();
      const show = (which: 'stdout' | 'stderr') => (b: Buffer) => {
        for (const line of b.toString('utf8').split('\n')) {
          if (!line) continue;
          if (readyOn && which === stream && readyOn.test(line)) resolveReady();
          if (which === 'stdout') c.lines++;
          say(`[${name}] ${line}`);
        }
      };
      child.stdout!.on('data', show('stdout'));
      child.stderr!.on('data', show('stderr'));
      consumers.push(c);
      return c;
    };
    const daemon = start('daemon', ['daemon', '--watch', target, '-p', String(samba.port), '-N', '-r', '--bus', busAddress, '--journal', journal, '--mountinfo', mountinfo], /^w\d+ .*: watching$/);
    await withTimeout(stops.race(daemon.ready), 20_000, 'the daemon did not start');
    const watch = start('watch', ['watch', '-m', '-r', target, '-p', String(samba.port), '-N'], /WATCHING/);
    const monitor = start('d-bus', ['monitor', '--bus', busAddress], /listening to the daemon's events/);
    const kde = findTool('dbus-monitor')
      ? spawnKdeMonitor(busAddress, say, consumers)
      : null;
    await withTimeout(stops.race(watch.ready), 20_000, 'watch did not start');
    await withTimeout(stops.race(monitor.ready), 20_000, 'monitor did not start');
    await sleep(500);

    let journalSeen = 0;
    journalTimer = setInterval(() => {
      let text = '';
      try {
        if (statSync(journal).size === 0) return;
        text = readFileSync(journal, 'utf8');
      } catch {
        return;
      }
      const lines = text.split('\n').filter(Boolean);
      for (const line of lines.slice(journalSeen)) say(`[journal] ${line}`);
      journalSeen = lines.length;
    }, 200);

    const share = samba.sharePath;
    const steps: Array<[string, () => void]> = [
      ['create report.txt', () => writeFileSync(join(share, 'report.txt'), 'draft\n')],
      ['append to report.txt', () => appendFileSync(join(share, 'report.txt'), 'more\n')],
      ['rename report.txt -> report final.txt', () => renameSync(join(share, 'report.txt'), join(share, 'report final.txt'))],
      ['create folder photos/ with a file', () => {
        mkdirSync(join(share, 'photos'));
        writeFileSync(join(share, 'photos', 'beach #1.jpg'), 'jpeg');
      }],
      ['delete report final.txt', () => rmSync(join(share, 'report final.txt'))],
    ];
    for (const [what, act] of steps) {
      say('');
      say(`>>> on the server's disk: ${what}`);
      act();
      await sleep(900);
    }
    await sleep(1500); // KDirNotify holds removals about a second
    const silent = [watch, monitor, ...(kde ? [kde] : [])].filter((c) => c.lines === 0).map((c) => c.name);
    if (journalSeen === 0) silent.push('journal');
    say('');
    if (silent.length) {
      io.err(`smbnotify: demo: no events reached ${silent.join(', ')}`);
    } else {
      say('every consumer saw the changes: the CLI stream, the D-Bus signals, KDirNotify and the journal.');
      status = 0;
    }
  } catch (err) {
    if (!(err instanceof ExitStatus)) throw err;
  } finally {
    if (journalTimer) clearInterval(journalTimer);
    try {
      await Promise.all(consumers.map((c) => stopProcess(c.child, 5000)));
      await bus?.stop();
      await samba?.stop();
      rmSync(dir, { recursive: true, force: true });
    } finally {
      // Only now: a second Ctrl-C during the clean-up ends the demo at once, as in every command.
      stops.dispose();
    }
    const by = stoppedWith === SIGNAL_STATUS.SIGINT ? ' by Ctrl-C' : stoppedWith === SIGNAL_STATUS.SIGTERM ? ' by SIGTERM' : '';
    say(`${stoppedWith === null ? '' : `demo stopped${by}; `}cleaned up: processes stopped, temporary files removed.`);
  }
  // A signal that came during the clean-up still decides the status, as it would have ended us.
  return stoppedWith ?? status;
}

function spawnKdeMonitor(address: string, say: (line: string) => void, consumers: Consumer[]): Consumer {
  const child = spawn(findTool('dbus-monitor')!, ['--address', address, "type='signal',interface='org.kde.KDirNotify'"], { stdio: ['ignore', 'pipe', 'ignore'] });
  const c: Consumer = { name: 'kdirnotify', child, lines: 0, ready: Promise.resolve() };
  let buffered: string[] = [];
  child.stdout!.on('data', (b: Buffer) => {
    for (const line of b.toString('utf8').split('\n')) {
      if (/^signal /.test(line)) {
        if (buffered.length) say(`[kdirnotify] ${buffered.join(' ')}`);
        const member = /member=(\w+)/.exec(line)?.[1] ?? '?';
        buffered = member === 'NameAcquired' || member === 'NameLost' ? [] : [member];
        if (buffered.length) c.lines++;
      } else if (buffered.length && line.trim()) buffered.push(line.trim().replace(/^string /, ''));
    }
  });
  child.on('exit', () => {
    if (buffered.length) say(`[kdirnotify] ${buffered.join(' ')}`);
  });
  consumers.push(c);
  return c;
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DemoSetupError(message)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}
