// 7. The live view (`smbnotify view`): what a desktop program waits for, and what the view costs.
//
// Latency: a file created on the server's disk until `inotifywait -m` on the view prints its
// IN_CREATE, next to `smbclient notify` on another folder of the same share, samples interleaved
// in a new random order every round (t0 right after close(), arrival = the line's 'data' event).
// Next to them, `smbnotify watch` on a third folder: the view's own cost is the difference.
// Throughput: 1 GiB written and read sequentially with dd (1 MiB blocks; the better of two runs
// each) through the view and directly in the backing folder, and read once more through the view
// (from the pages it kept); metadata: `ls -l` of a 10,000-entry folder through a freshly
// mounted view (nothing cached) and directly, each side the better of two runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool } from '../support/tools.js';
import type { Context } from './lib/context.js';
import { Spawned } from './lib/lines.js';
import { ms, now } from './lib/stats.js';
import { CLI, scratchDir, smbclientNotify, smbnotifyWatch, url, type Creds } from './lib/tools.js';
import { lineProbe } from './latency.js';
import { interleavedLatency, type LatencyFigures } from './lib/interleaved.js';

export interface ViewIo {
  bytes: number;
  writeView: number;
  writeDirect: number;
  readView: number;
  readViewAgain: number;
  readDirect: number;
}

export interface ViewBenchResult {
  samplesPerConsumer: number;
  latency: Record<string, LatencyFigures>;
  /** The view as it starts here (as root: FUSE passthrough, where the addon is built). */
  io: ViewIo;
  /** The same through `view --no-passthrough` with 128 KiB readahead, as an ordinary user's view passes data. */
  ioWithoutPassthrough: ViewIo;
  /** What the view said about passthrough when it started ('' when nothing). */
  passthrough: string;
  ls: { entries: number; viewColdS: number; viewWarmS: number; directS: number };
  notes: string[];
}

function startView(creds: Creds, target: string, mountPoint: string, backing: string, extra: string[] = []): Spawned {
  return new Spawned('view', process.execPath, [CLI, 'view', target, mountPoint, '--backing', backing, '-A', creds.smbnotify, ...extra], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: creds.home },
  });
}

/** Seconds dd took to copy `count` MiB (wall time around the process; conv=fsync on writes). */
function dd(args: string[]): number {
  const t0 = now();
  const r = spawnSync('dd', [...args, 'bs=1M', 'status=none'], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`dd ${args.join(' ')}: ${r.stderr.toString().trim()}`);
  return ms(t0, now()) / 1000;
}

function lsSeconds(dir: string): number {
  const t0 = now();
  execFileSync('ls', ['-l', dir], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 64 * 2 ** 20 });
  return ms(t0, now()) / 1000;
}

/**
 * 1 GiB (`mib`) written and read with dd through the view and directly in the backing folder, in
 * MB/s: the better of two runs each, taken in turns (the disk's flushes vary by seconds from one
 * run to the next), and the view's read once more from the pages the kernel kept.
 */
function throughput(mountPoint: string, backing: string, mib: number): ViewIo {
  let writeDirect = Infinity;
  let writeView = Infinity;
  for (let round = 0; round < 2; round++) {
    writeDirect = Math.min(writeDirect, dd(['if=/dev/zero', `of=${join(backing, 'direct.bin')}`, `count=${mib}`, 'conv=fsync']));
    writeView = Math.min(writeView, dd(['if=/dev/zero', `of=${join(mountPoint, 'view.bin')}`, `count=${mib}`, 'conv=fsync']));
  }
  // Reads too: the better of two runs each, in turns. Before each, the view's pages of the
  // file are dropped (posix_fadvise DONTNEED, which needs no root), so that both runs pass
  // through the view. One run alone measured the VM as much as the view: the first touch of
  // memory the guest has not used for a while is slow here (a 3 GiB buffer takes 12 s to
  // fill), and the view's read is the one that fills 1 GiB of new page cache.
  let readDirect = Infinity;
  let readView = Infinity;
  for (let round = 0; round < 2; round++) {
    readDirect = Math.min(readDirect, dd([`if=${join(backing, 'direct.bin')}`, 'of=/dev/null']));
    dd([`if=${join(mountPoint, 'view.bin')}`, 'iflag=nocache', 'count=0']);
    readView = Math.min(readView, dd([`if=${join(mountPoint, 'view.bin')}`, 'of=/dev/null']));
  }
  // The kernel keeps what the last read brought in.
  const readViewAgain = dd([`if=${join(mountPoint, 'view.bin')}`, 'of=/dev/null']);
  rmSync(join(backing, 'direct.bin'));
  rmSync(join(mountPoint, 'view.bin'));
  const rate = (s: number) => (mib * 2 ** 20) / 1e6 / s;
  return { bytes: mib * 2 ** 20, writeView: rate(writeView), writeDirect: rate(writeDirect), readView: rate(readView), readViewAgain: rate(readViewAgain), readDirect: rate(readDirect) };
}

/** Sets the view's readahead back to the kernel's default for a FUSE mount, which is what an ordinary user's view keeps. */
function userReadahead(mountPoint: string): void {
  const dev = statSync(mountPoint).dev;
  // st_dev as glibc encodes it (major bits 8-19, minor bits 0-7 and 20-31); FUSE mounts have major 0.
  const major = (dev >>> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  writeFileSync(`/sys/class/bdi/${major}:${minor}/read_ahead_kb`, '128');
}

export async function viewBench(ctx: Context): Promise<ViewBenchResult> {
  requireTool('inotifywait', 'inotify-tools');
  requireTool('fusermount3', 'fuse3');
  const samples = ctx.opts.quick ? 60 : 300;
  const warmup = 10;
  const notes: string[] = [];
  const { samba, creds } = await ctx.server();
  const procs: Spawned[] = [];
  const backing = join(samba.sharePath, 'v');
  const mountPoint = mkdtempSync(join(scratchDir('view'), 'mnt-'));
  try {
    mkdirSync(join(backing, 'lat'), { recursive: true });
    mkdirSync(join(samba.sharePath, 'sc'));
    let view = startView(creds, url(samba, 'v'), mountPoint, backing);
    procs.push(view);
    const started = await view.stderr.waitFor(/view of /, 30_000);
    // What it says about FUSE passthrough (see docs/live-view.md): used, or why a root view cannot.
    const passthroughSaid = /\); ([^;]*); Ctrl-C unmounts$/.exec(started.line)?.[1] ?? '';
    const iw = new Spawned('inotifywait', 'inotifywait', ['-m', '-e', 'create', '--format', '%e %f', join(mountPoint, 'lat')]);
    procs.push(iw);
    await iw.stderr.waitFor(/Watches established/, 10_000);
    const sc = smbclientNotify('smbclient', samba, creds, 'sc');
    procs.push(sc);
    // The watch engine alone, on a folder of its own: the view's own share of the latency is
    // the difference.
    mkdirSync(join(samba.sharePath, 'wl'));
    const w = smbnotifyWatch('watch', creds, url(samba, 'wl'), ['-m']);
    procs.push(w);
    await w.stderr.waitFor(/WATCHING/, 30_000);
    const latency = await interleavedLatency(ctx, 'view latency', [
      { consumer: 'inotifywait on the view (IN_CREATE)', dir: join(backing, 'lat'), probe: lineProbe(iw.stdout, (l, n) => l === `CREATE ${n}`) },
      { consumer: 'smbnotify watch (stdout), for comparison', dir: join(samba.sharePath, 'wl'), probe: lineProbe(w.stdout, (l, n) => l === `${'CREATE'.padEnd(16)}${n}`) },
      { consumer: 'smbclient notify (stdout)', dir: join(samba.sharePath, 'sc'), probe: lineProbe(sc.stdout, (l, n) => l.endsWith(` ${n}`)) },
    ], samples, warmup);
    await iw.stop();
    await sc.stop();
    await w.stop();

    const mib = ctx.opts.quick ? 256 : 1024;
    ctx.log(`view: ${mib} MiB sequential write and read, through the view and direct`);
    const io = throughput(mountPoint, backing, mib);
    // The same through a view that passes file data itself, as an ordinary user's view does
    // (FUSE passthrough needs root), with the readahead an ordinary user's view has: the kernel's
    // 128 KiB (a root view raises its own to 4 MiB: live-view.ts), so that sequential reads
    // arrive as 128 KiB requests, as they do for a user.
    await view.stop();
    view = startView(creds, url(samba, 'v'), mountPoint, backing, ['--no-passthrough']);
    procs.push(view);
    await view.stderr.waitFor(/view of /, 30_000);
    userReadahead(mountPoint);
    ctx.log(`view: the same with --no-passthrough`);
    const ioWithout = throughput(mountPoint, backing, mib);

    const entries = ctx.opts.quick ? 2000 : 10_000;
    ctx.log(`view: ls -l of ${entries} entries`);
    mkdirSync(join(backing, 'many'));
    for (let i = 0; i < entries; i++) closeSync(openSync(join(backing, 'many', `entry-${String(i).padStart(5, '0')}.txt`), 'w'));
    // Each side is the better of two runs, so that one noisy moment of the machine does not decide
    // the ratio: direct, two runs (warm), once the first fresh view is up (the view before it is
    // still taking in the 10,000 creations, which would slow the direct runs); the view, the first
    // ls -l after mounting in each of two fresh views (nothing of the folder cached in the kernel
    // or the node table), then once more.
    let directS = Infinity;
    const viewColdRuns: number[] = [];
    let viewWarmS = Infinity;
    for (let run = 0; run < 2; run++) {
      await view.stop();
      view = startView(creds, url(samba, 'v'), mountPoint, backing);
      procs.push(view);
      await view.stderr.waitFor(/view of /, 30_000);
      if (run === 0) directS = Math.min(lsSeconds(join(backing, 'many')), lsSeconds(join(backing, 'many')));
      viewColdRuns.push(lsSeconds(join(mountPoint, 'many')));
      viewWarmS = Math.min(viewWarmS, lsSeconds(join(mountPoint, 'many')));
    }
    const viewColdS = Math.min(...viewColdRuns);
    notes.push(`shares (and so the backing folder) on the same file system as the other sections; ls -l, each side the better of two: direct, two runs (warm); the view, the first ls -l after mounting in each of two fresh views (${viewColdRuns.map((s) => s.toFixed(3)).join(' s and ')} s), then once more`);
    return {
      samplesPerConsumer: samples,
      latency,
      io,
      ioWithoutPassthrough: ioWithout,
      passthrough: passthroughSaid,
      ls: { entries, viewColdS, viewWarmS, directS },
      notes,
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    spawnSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
    await samba.stop();
  }
}
