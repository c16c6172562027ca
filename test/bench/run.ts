// `npm run bench`: smbnotify measured next to smbclient on a real smbd on loopback. Prints a
// Markdown table (for the README) and saves everything as JSON in test/bench/results/.
//
// Options (after `npm run bench --`):
//   --quick              fewer samples and smaller bursts, for trying the bench out
//   --only=a,b           sections: latency, burst, scale, polling, throughput, mqtt, view, ls
//   --samples=N          latency samples per consumer (default 2000, --quick 200; see latency.ts)
//   --case=a,b           only these cases of a section (burst: disk-1k, disk-10k, disk-100k, smb-10k)
//   --cpu-prof[=DIR]     write CPU profiles of the smbnotify processes (default test/bench/results/profiles)
//   --disk               put the servers' shares in the default temp dir instead of /dev/shm
// Environment: SMBNOTIFY_BENCH_CLI=/path/to/cli/main.js measures another build (to try a fix).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { stopAllSamba } from '../support/samba.js';
import { findTool } from '../support/tools.js';
import { bursts, type BurstCase } from './burst.js';
import { Context, type BenchOptions } from './lib/context.js';
import { kernelRelease, readSysctl } from './lib/proc.js';
import { fmt, fmtInt, mib, ms, now, pct, percentile, ratioInterval } from './lib/stats.js';
import { ROOT } from './lib/tools.js';
import { latency, SMBCLIENT, SMBCLIENT_SIGNED, type LatencyResult, type Ratios } from './latency.js';
import { lsBench, LS_SMBCLIENT, LS_SMBCLIENT_SIGNED, LS_SMBNOTIFY, type LsBenchResult } from './ls.js';
import { mqttBench, type MqttBenchResult } from './mqtt.js';
import { polling, type PollingResult } from './polling.js';
import { scale, type ScaleResult } from './scale.js';
import { throughput, type ThroughputResult } from './throughput.js';
import { viewBench, type ViewBenchResult, type ViewIo } from './view.js';

interface Machine {
  date: string;
  cpus: number;
  model: string;
  memGiB: number;
  kernel: string;
  node: string;
  samba: string;
  smbclient: string;
  shareFs: string;
  createMicros: number;
  /** The same where the system's temp dir is, when the shares are elsewhere. */
  defaultTmp: { fs: string; createMicros: number } | null;
  nofileHard: string;
  inotifyMaxQueued: string;
  /** /proc/loadavg (1, 5, 15 min) when the run started and when it ended: other load skews the figures. */
  loadStart: string;
  loadEnd?: string;
}

interface Results {
  machine: Machine;
  command: string;
  options: { quick: boolean; only: string[]; disk: boolean };
  runtimeS: number;
  latency?: LatencyResult;
  burst?: BurstCase[];
  scale?: ScaleResult;
  polling?: PollingResult;
  throughput?: ThroughputResult;
  mqtt?: MqttBenchResult;
  view?: ViewBenchResult;
  ls?: LsBenchResult;
  errors: Record<string, string>;
  targets: Array<{ target: string; measured: string; met: boolean | null }>;
}

const SECTIONS = ['latency', 'burst', 'scale', 'polling', 'throughput', 'mqtt', 'view', 'ls'] as const;

function parseArgs(argv: string[]): BenchOptions & { disk: boolean } {
  const opts: BenchOptions & { disk: boolean } = { quick: false, only: new Set(), cases: new Set(), cpuProfDir: null, disk: false };
  for (const a of argv) {
    if (a === '--quick') opts.quick = true;
    else if (a === '--disk') opts.disk = true;
    else if (a.startsWith('--only=')) {
      for (const s of a.slice(7).split(',').filter(Boolean)) {
        if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown section ${s}: use ${SECTIONS.join(', ')}`);
        opts.only.add(s);
      }
    } else if (a.startsWith('--case=')) {
      for (const c of a.slice(7).split(',').filter(Boolean)) opts.cases.add(c);
    } else if (a === '--cpu-prof') opts.cpuProfDir = join(ROOT, 'test', 'bench', 'results', 'profiles');
    else if (a.startsWith('--cpu-prof=')) opts.cpuProfDir = a.slice('--cpu-prof='.length);
    else if (a.startsWith('--samples=')) {
      const n = Number(a.slice('--samples='.length));
      if (!Number.isInteger(n) || n < 10) throw new Error(`--samples wants a whole number of at least 10, got ${a.slice(10)}`);
      opts.samples = n;
    }
    else throw new Error(`unknown option ${a} (see the top of test/bench/run.ts)`);
  }
  return opts;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    const path = findTool(cmd);
    return path ? execFileSync(path, args, { encoding: 'utf8' }).split('\n')[0]!.trim() : 'missing';
  } catch {
    return 'unknown';
  }
}

/** Cost of creating one empty file where the shares live (context for the burst rates). */
function createCost(dir: string): number {
  const d = join(dir, `smbnotify-bench-probe-${process.pid}`);
  mkdirSync(d);
  const t0 = now();
  for (let i = 0; i < 300; i++) closeSync(openSync(join(d, `f${i}`), 'w'));
  const us = (ms(t0, now()) * 1000) / 300;
  rmSync(d, { recursive: true, force: true });
  return us;
}

function fsType(dir: string): string {
  try {
    const t = statfsSync(dir).type;
    if (t === 0x01021994) return 'tmpfs';
    if (t === 0xef53) return 'ext4';
    if (t === 0x9123683e) return 'btrfs';
    if (t === 0x58465342) return 'xfs';
    if (t === 0x794c7630) return 'overlayfs';
    return `fs type 0x${t.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

function loadavg(): string {
  return readSysctl('/proc/loadavg').split(' ').slice(0, 3).join(' ');
}

function machine(defaultTmp: Machine['defaultTmp']): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  let nofile = 'unknown';
  try {
    nofile = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  } catch {
    // keep unknown
  }
  const dir = tmpdir();
  return {
    date: new Date().toISOString(),
    cpus: availableParallelism(),
    model: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memGiB: totalmem() / 2 ** 30,
    kernel: kernelRelease(),
    node: process.version,
    samba: firstLine('smbd', ['--version']),
    smbclient: firstLine('smbclient', ['--version']),
    shareFs: `${fsType(dir)} (${dir})`,
    createMicros: createCost(dir),
    defaultTmp,
    nofileHard: nofile,
    inotifyMaxQueued: readSysctl('/proc/sys/fs/inotify/max_queued_events'),
    loadStart: loadavg(),
  };
}

// ---------------------------------------------------------------------------------------------
// The table.

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function latencyRows(consumers: LatencyResult['consumers']): string[][] {
  return Object.entries(consumers).map(([c, s]) => [c, fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(s.max), ratioCell(s.vsPlain.p50, s.vsPlain.p50Interval), ratioCell(s.vsPlain.p99, s.vsPlain.p99Interval), s.vsSigned ? ratioCell(s.vsSigned.p50, s.vsSigned.p50Interval) : '', s.vsSigned ? ratioCell(s.vsSigned.p99, s.vsSigned.p99Interval) : '', String(s.misses)]);
}

/** `1.23× (1.10–1.40)`: a ratio and its 95 % interval. */
function ratioCell(r: number, ci: [number, number]): string {
  return `${fmt(r)}× (${fmt(ci[0])}–${fmt(ci[1])})`;
}

function secs(s: number): string {
  return Number.isFinite(s) ? `${s.toFixed(2)} s` : 'n/a';
}

function render(r: Results): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`## smbnotify benchmarks, ${m.date.slice(0, 16).replace('T', ' ')} UTC`);
  out.push('');
  out.push(`Machine: ${m.cpus} × ${m.model}, ${m.memGiB.toFixed(0)} GiB, Linux ${m.kernel}; Node ${m.node}; Samba ${m.samba.replace(/^Version /, '')} (smbclient ${m.smbclient.replace(/^Version /, '')}), loopback.`);
  const other = m.defaultTmp ? ` (${fmt(m.defaultTmp.createMicros, 0)} µs on ${m.defaultTmp.fs}, the default temp dir: use --disk for that)` : '';
  out.push(`Shares on ${m.shareFs}: creating an empty file there takes ${fmt(m.createMicros, 0)} µs${other}. RLIMIT_NOFILE hard ${m.nofileHard}, inotify max_queued_events ${m.inotifyMaxQueued}.`);
  out.push(`Command: \`${r.command}\`, run time ${Math.floor(r.runtimeS / 60)} min ${Math.round(r.runtimeS % 60)} s; load average ${m.loadStart} at the start, ${m.loadEnd ?? '?'} at the end${r.options.quick ? ' (--quick: reduced sizes, not for the README)' : ''}.`);

  if (r.latency) {
    const l = r.latency;
    out.push('');
    out.push(`### 1. Latency: file created on the server's disk → event (ms; ${fmtInt(l.samplesPerConsumer)} samples per consumer and change after ${l.warmupPerConsumer} warm-up, consumers interleaved in random order)`);
    out.push('');
    out.push('Ratios to smbclient in the same run, plain and with `--client-protection=sign` (smbnotify signs every message), each with its 95 % bootstrap interval.');
    out.push('');
    out.push(
      table(
        ['consumer', 'p50', 'p95', 'p99', 'max', 'p50 ÷ smbclient', 'p99 ÷ smbclient', 'p50 ÷ smbclient signing', 'p99 ÷ smbclient signing', 'missed'],
        latencyRows(l.consumers),
      ),
    );
    if (l.deletes && Object.keys(l.deletes).length) {
      out.push('');
      out.push('The same files removed (DELETE): a known name goes out without the open that confirms a new one, so this is the path from the socket to the line alone.');
      out.push('');
      out.push(table(['consumer (DELETE)', 'p50', 'p95', 'p99', 'max', 'p50 ÷ smbclient', 'p99 ÷ smbclient', 'p50 ÷ smbclient signing', 'p99 ÷ smbclient signing', 'missed'], latencyRows(l.deletes)));
    }
    for (const n of l.notes) out.push('', `Note: ${n}`);
  }

  if (r.burst) {
    out.push('');
    out.push('### 2. Burst completeness (`watch -m -r --json` and `smbclient notify` on the same folder; each stream applied to the starting listing, compared with the final listing)');
    out.push('');
    const rows: string[][] = [];
    for (const b of r.burst) {
      const what = `${fmtInt(b.files)} ${b.via === 'disk' ? 'on disk' : 'over SMB'} (${fmtInt(b.filesPerS)}/s)`;
      for (const [tool, o] of [['smbnotify', b.smbnotify], ['smbclient notify', b.smbclient]] as const) {
        rows.push([what, tool, pct(o.rightShare, 2), fmtInt(o.missing), fmtInt(o.extra), fmtInt(o.overflows), fmtInt(o.events), secs(o.lastEventS), o.peakRssKiB ? mib(o.peakRssKiB) : '']);
      }
      if (b.note) rows.push([what, `note: ${b.note}`, '', '', '', '', '', '', '']);
    }
    out.push(table(['burst (write rate)', 'tool', 'names right', 'missing', 'extra', 'overflows', 'lines', 'last event after start', 'peak RSS'], rows));
  }

  if (r.scale) {
    const s = r.scale;
    const c = s.smbclient;
    out.push('');
    out.push(`### 3. Scale: one recursive watch, one handle per folder (${s.cases[0]?.via ?? ''}), idle CPU over ${s.cases[0]?.idleWindowS ?? 30} s`);
    out.push('');
    out.push(
      table(
        ['folders', 'set-up (CPU smbnotify / smbd)', 'RSS (peak)', 'idle CPU', 'handles on server', 'smbd fds', 'smbd RSS / PSS', 'idle CPU of smbd'],
        s.cases.map((k) => [
          fmtInt(k.folders),
          `${secs(k.setupS)} (${fmt(k.setupCpuS, 1)} / ${fmt(k.smbdSetupCpuS, 1)} s)`,
          `${mib(k.rssKiB)} (${mib(k.peakRssKiB)})`,
          `${fmt(k.idleCpuPercent, 2)} %`,
          fmtInt(k.serverHandles),
          fmtInt(k.smbdFds),
          `${mib(k.smbdRssKiB)} / ${mib(k.smbdPssKiB)}`,
          `${fmt(k.smbdIdleCpuPercent, 2)} %`,
        ]),
      ),
    );
    for (const k of s.cases) if (k.limit) out.push('', `${fmtInt(k.folders)} folders: the daemon said: ${k.limit}`);
    out.push('');
    out.push(`The same number of \`smbclient notify\` processes (one per folder): ${c.processes} measured, scaled linearly to N. RSS counts shared libraries once per process, PSS shares them out.`);
    out.push('');
    out.push(
      table(
        ['folders', 'smbclient ×N RSS / PSS', 'their smbd ×N RSS / PSS', `idle CPU (${c.processes} measured)`],
        s.cases.map((k) => [
          fmtInt(k.folders),
          `${mib(c.rssKiBEach * k.folders)} / ${mib(c.pssKiBEach * k.folders)}`,
          `${mib(c.smbdRssKiBEach * k.folders)} / ${mib(c.smbdPssKiBEach * k.folders)}`,
          `${fmt(c.idleCpuPercentAll, 2)} %`,
        ]),
      ),
    );
    out.push('');
    out.push(`Measured per process: smbclient ${mib(c.rssKiBEach)} RSS / ${mib(c.pssKiBEach)} PSS, its smbd ${mib(c.smbdRssKiBEach)} / ${mib(c.smbdPssKiBEach)}.`);
    for (const n of s.notes) out.push('', `Note: ${n}`);
  }

  if (r.polling) {
    const p = r.polling;
    out.push('');
    out.push(`### 4. Polling fallback (\`change notify = no\`): ${fmtInt(p.entries)}-entry folder, --poll-interval ${p.intervalS}, ${p.cycles} cycles measured through a counting TCP proxy`);
    out.push('');
    const row = (name: string, c: { bytesUp: number; bytesDown: number; cpuMs: number; smbdCpuMs: number }, n: string) => [name, n, fmtInt(c.bytesUp), fmtInt(c.bytesDown), `${fmt(c.cpuMs, 1)} ms`, Number.isFinite(c.smbdCpuMs) ? `${fmt(c.smbdCpuMs, 1)} ms` : 'n/a'];
    out.push(
      table(['cycle', 'count', 'bytes sent', 'bytes received', 'CPU (client)', 'CPU (smbd)'], [
        row('smbnotify: light cycle (folder change time only)', p.light, String(p.light.count)),
        row('smbnotify: full cycle (listing)', p.full, String(p.full.count)),
        row('smbnotify: average per cycle', p.average, String(p.cycles)),
        row("for comparison: one `smbclient -c 'ls DIR/*'`", p.smbclientLs, `${p.smbclientLs.runs} runs`),
      ]),
    );
    out.push('');
    out.push(`Delay from a file's creation to its event (${p.delay.n} changes at random moments): p50 ${secs(p.delay.p50)}, max ${secs(p.delay.max)}, mean ${secs(p.delay.mean)}.`);
  }

  if (r.throughput) {
    const t = r.throughput;
    out.push('');
    out.push(`### 5. Throughput: ${fmtInt(t.files)} files per burst; rate between each consumer's first and last event`);
    out.push('');
    const rows: string[][] = [];
    for (const run of t.runs) {
      for (const c of run.consumers) rows.push([`${run.label} (${fmtInt(run.filesPerS)} files/s)`, c.consumer, `${fmtInt(c.names)} / ${fmtInt(t.files)}`, fmtInt(c.events), fmtInt(c.overflows), fmtInt(c.eventsPerS), secs(c.lagS)]);
    }
    out.push(table(['burst (write rate)', 'consumer', 'new names', 'events', 'overflows', 'events/s', 'last event after last write'], rows));
    out.push('');
    out.push('The stages alone, in one process, events back to back:');
    out.push('');
    out.push(
      table(['stage', 'events', 'events/s', 'note'], [
        [`parser (decodeFileNotifyInformation, ${t.parser.entriesPerBuffer} entries / ${fmtInt(t.parser.bytesPerBuffer)} bytes per buffer)`, '', fmtInt(t.parser.entriesPerS), `${fmt(t.parser.mbPerS, 0)} MB/s`],
        ...(t.sinks ?? []).map((k) => [k.sink, fmtInt(k.events), fmtInt(k.eventsPerS), k.note]),
      ]),
    );
  }

  if (r.mqtt) {
    const q = r.mqtt;
    out.push('');
    out.push(`### 6. MQTT: the daemon publishing to Mosquitto on loopback (QoS 1), \`mosquitto_sub\` as the subscriber, smbclient in the same run`);
    out.push('');
    out.push(`Latency, file created on the server's disk → message printed by the subscriber (ms; ${q.samplesPerConsumer} samples per consumer, interleaved in random order):`);
    out.push('');
    out.push(table(['consumer', 'p50', 'p95', 'p99', 'max', 'p50 ÷ smbclient', 'p99 ÷ smbclient', 'missed'], Object.entries(q.latency).map(([c, s]) => [c, fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(s.max), `${fmt(s.ratioP50)}×`, `${fmt(s.ratioP99)}×`, String(s.misses)])));
    out.push('');
    out.push('Bursts, one folder watched by the daemon (MQTT) and by smbclient:');
    out.push('');
    const rows: string[][] = [];
    for (const b of q.bursts) for (const c of b.consumers) rows.push([`${fmtInt(b.files)} ${b.label} (${fmtInt(b.filesPerS)} files/s)`, c.consumer, `${fmtInt(c.names)} / ${fmtInt(b.files)}`, fmtInt(c.events), fmtInt(c.overflows), fmtInt(c.eventsPerS), secs(c.lagS)]);
    out.push(table(['burst (write rate)', 'consumer', 'new names', 'events', 'overflows', 'events/s', 'last event after last write'], rows));
    out.push('');
    out.push(`The sink alone, in one process (MqttSink.publish → Mosquitto → an MQTT.js subscriber, ${fmtInt(q.stage.events)} events back to back): ${fmtInt(q.stage.eventsPerS)} events/s delivered; publishing alone ${fmtInt(q.stage.publishPerS)}/s.`);
    for (const n of q.notes) out.push('', `Note: ${n}`);
  }

  if (r.view) {
    const v = r.view;
    out.push('');
    out.push('### 7. Live view (`smbnotify view`): inotify on the view, and what passing through costs');
    out.push('');
    out.push(`Latency, file created on the server's disk → line printed (ms; ${v.samplesPerConsumer} samples per consumer, interleaved in random order):`);
    out.push('');
    out.push(table(['consumer', 'p50', 'p95', 'p99', 'max', 'p50 ÷ smbclient', 'p99 ÷ smbclient', 'missed'], Object.entries(v.latency).map(([c, s]) => [c, fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(s.max), `${fmt(s.ratioP50)}×`, `${fmt(s.ratioP99)}×`, String(s.misses)])));
    out.push('');
    const ioRows = (io: ViewIo, how: string) => [
      [`sequential write, ${fmtInt(io.bytes / 2 ** 20)} MiB (dd bs=1M conv=fsync)${how}`, `${fmtInt(io.writeView)} MB/s`, `${fmtInt(io.writeDirect)} MB/s`, `${fmt(io.writeView / io.writeDirect)}×`],
      [`sequential read, ${fmtInt(io.bytes / 2 ** 20)} MiB (dd bs=1M)${how}`, `${fmtInt(io.readView)} MB/s`, `${fmtInt(io.readDirect)} MB/s`, `${fmt(io.readView / io.readDirect)}×`],
      [`the same read again (view: pages kept by the kernel)${how}`, `${fmtInt(io.readViewAgain)} MB/s`, `${fmtInt(io.readDirect)} MB/s`, `${fmt(io.readViewAgain / io.readDirect)}×`],
    ];
    out.push(`The view says: ${v.passthrough || 'nothing about FUSE passthrough (not root, or --no-passthrough)'}.`);
    out.push('');
    out.push(table(['through the view vs direct', 'view', 'direct', 'view ÷ direct'], [
      ...ioRows(v.io, ''),
      ...ioRows(v.ioWithoutPassthrough, ', view --no-passthrough, 128 KiB readahead (as a user\'s view)'),
      [`ls -l of ${fmtInt(v.ls.entries)} entries (view: first after mounting, better of two fresh views / again; direct: better of two)`, `${secs(v.ls.viewColdS)} / ${secs(v.ls.viewWarmS)}`, secs(v.ls.directS), `${fmt(v.ls.viewColdS / v.ls.directS)}× / ${fmt(v.ls.viewWarmS / v.ls.directS)}×`],
    ]));
    for (const n of v.notes) out.push('', `Note: ${n}`);
  }

  if (r.ls) {
    const k = r.ls;
    out.push('');
    out.push(`### 8. Whole commands: a ${fmtInt(k.entries)}-entry folder listed, from exec to exit, stdout read through a pipe (${k.runs} runs each, interleaved in random order; ratios of the medians with their 95 % bootstrap interval)`);
    out.push('');
    const base = k.commands[LS_SMBCLIENT]?.runsS ?? [];
    const signed = k.commands[LS_SMBCLIENT_SIGNED]?.runsS ?? [];
    const cell = (runs: number[], against: number[]) => ratioCell(percentile(runs, 50) / percentile(against, 50), ratioInterval(runs, against, 50));
    out.push(table(['command', 'median', 'min', 'max', 'median ÷ smbclient', 'median ÷ smbclient signing', 'lines'], Object.entries(k.commands).map(([c, t]) => [c, secs(t.medianS), secs(t.minS), secs(t.maxS), cell(t.runsS, base), cell(t.runsS, signed), fmtInt(t.lines)])));
    for (const n of k.notes) out.push('', `Note: ${n}`);
  }

  if (Object.keys(r.errors).length) {
    out.push('');
    out.push('### Sections that failed');
    for (const [s, e] of Object.entries(r.errors)) out.push(`- ${s}: ${e}`);
  }

  out.push('');
  out.push('### Targets');
  out.push('');
  out.push(table(['target', 'measured', 'met'], r.targets.map((t) => [t.target, t.measured, t.met === null ? 'not measured' : t.met ? 'PASS' : '**MISS**'])));
  return out.join('\n');
}

function targets(r: Results): Results['targets'] {
  const t: Results['targets'] = [];
  const l = r.latency;
  const ours = l ? Object.entries(l.consumers).filter(([c]) => c.startsWith('smbnotify')) : [];
  const lines: Array<[string, string]> = [
    ['smbnotify watch (stdout)', '`watch` line'],
    ['smbnotify daemon (journal line)', 'journal line'],
    ['smbnotify daemon (D-Bus signal)', 'D-Bus Event'],
  ];
  for (const [pct, key] of [['p50', 'p50'], ['p99', 'p99']] as const) {
    for (const [consumer, label] of lines) {
      const limit = pct === 'p50' && consumer.includes('D-Bus') ? 1.5 : 1.2;
      const s = ours.find(([c]) => c === consumer)?.[1];
      for (const [baseName, baseLabel, pick] of [[SMBCLIENT, 'smbclient', (x: typeof s) => x?.vsPlain], [SMBCLIENT_SIGNED, 'smbclient signing', (x: typeof s) => x?.vsSigned ?? undefined]] as const) {
        const rt: Ratios | undefined = pick(s);
        const base = l?.consumers[baseName];
        t.push({
          target: `${pct} latency, ${label}: within ${limit}× ${baseLabel}`,
          measured: s && rt && base ? `${fmt(s[key])} ms = ${ratioCell(rt[key], rt[`${key}Interval`])} ${baseLabel}'s ${fmt(base[key])} ms` : 'not measured',
          met: s && rt ? rt[key] <= limit : null,
        });
      }
    }
  }
  if (r.burst) {
    for (const b of r.burst) t.push({ target: `100 % of names right: ${fmtInt(b.files)} ${b.via === 'disk' ? 'on disk' : 'over SMB'}`, measured: `${pct(b.smbnotify.rightShare, 2)} (${b.smbnotify.missing} missing, ${b.smbnotify.extra} extra; smbclient ${pct(b.smbclient.rightShare, 1)})`, met: b.smbnotify.rightShare === 1 });
  } else t.push({ target: '100 % of names right at every burst size', measured: 'not measured', met: null });
  const big = r.burst?.find((b) => b.files === 100_000 && b.via === 'disk');
  t.push({ target: 'peak RSS during the 100,000-file burst under 150 MiB', measured: big?.smbnotify.peakRssKiB ? mib(big.smbnotify.peakRssKiB) : 'not measured', met: big?.smbnotify.peakRssKiB ? big.smbnotify.peakRssKiB < 150 * 1024 : null });
  const five = r.scale?.cases.find((c) => c.folders === 5000);
  t.push({ target: '5,000 folders: set-up of one recursive watch under 5 s', measured: five ? secs(five.setupS) : 'not measured', met: five ? five.setupS < 5 : null });
  const ls = r.ls;
  const lsOurs = ls?.commands[LS_SMBNOTIFY];
  for (const [baseName, baseLabel] of [[LS_SMBCLIENT, 'smbclient'], [LS_SMBCLIENT_SIGNED, 'smbclient signing']] as const) {
    const base = ls?.commands[baseName];
    t.push({
      target: `\`smbnotify ls\` of ${fmtInt(ls?.entries ?? 10_000)} entries as a whole command within 1.3× ${baseLabel}`,
      measured: lsOurs && base ? `${secs(lsOurs.medianS)} = ${ratioCell(lsOurs.medianS / base.medianS, ratioInterval(lsOurs.runsS, base.runsS, 50))} ${baseLabel}'s ${secs(base.medianS)} (medians)` : 'not measured',
      met: lsOurs && base && ls?.entries === 10_000 ? lsOurs.medianS <= 1.3 * base.medianS : null,
    });
  }
  const k = r.scale?.cases.find((c) => c.folders === 1000);
  t.push({ target: '1,000 watches under 150 MB resident', measured: k ? `${mib(k.rssKiB)} (peak ${mib(k.peakRssKiB)})` : 'not measured', met: k ? k.peakRssKiB * 1024 < 150e6 : null });
  const v = r.view;
  const inView = v?.latency['inotifywait on the view (IN_CREATE)'];
  t.push({ target: 'view: p50 latency within 1.5× smbclient', measured: inView ? `${fmt(inView.p50)} ms = ${fmt(inView.ratioP50)}×` : 'not measured', met: inView ? inView.ratioP50 <= 1.5 : null });
  t.push({ target: 'view: p99 latency within 1.5× smbclient', measured: inView ? `${fmt(inView.p99)} ms = ${fmt(inView.ratioP99)}×` : 'not measured', met: inView ? inView.ratioP99 <= 1.5 : null });
  const without = (w: number, d: number) => (v?.passthrough.includes('FUSE passthrough)') ? ` (passthrough; as a user\'s view: ${fmt(w / d)}×)` : '');
  t.push({ target: 'view: sequential read at least half the direct rate', measured: v ? `${fmt(v.io.readView / v.io.readDirect)}×${without(v.ioWithoutPassthrough.readView, v.ioWithoutPassthrough.readDirect)}` : 'not measured', met: v ? v.io.readView >= v.io.readDirect / 2 : null });
  t.push({ target: 'view: sequential write at least half the direct rate', measured: v ? `${fmt(v.io.writeView / v.io.writeDirect)}×${without(v.ioWithoutPassthrough.writeView, v.ioWithoutPassthrough.writeDirect)}` : 'not measured', met: v ? v.io.writeView >= v.io.writeDirect / 2 : null });
  t.push({ target: 'view: ls -l of 10,000 entries within 2× direct', measured: v ? `${fmt(v.ls.viewColdS / v.ls.directS)}× (cold)` : 'not measured', met: v ? v.ls.viewColdS <= 2 * v.ls.directS : null });
  t.push({ target: '1,000 watches under 1 % idle CPU', measured: k ? `${fmt(k.idleCpuPercent, 2)} % over ${k.idleWindowS} s` : 'not measured', met: k ? k.idleCpuPercent < 1 : null });
  return t;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  let defaultTmp: Machine['defaultTmp'] = null;
  if (!opts.disk) {
    defaultTmp = { fs: `${fsType(tmpdir())} (${tmpdir()})`, createMicros: createCost(tmpdir()) };
    // Fast bursts need a fast file system: on this project's machines a file creation costs
    // about 0.5 ms on the root ext4 and 10 µs on tmpfs. TMPDIR is where startSamba() puts the
    // shares (and where the bench keeps its scratch files).
    try {
      if (statfsSync('/dev/shm').bavail * statfsSync('/dev/shm').bsize > 2 * 2 ** 30) process.env['TMPDIR'] = '/dev/shm';
    } catch {
      // no /dev/shm: stay on the default
    }
  }
  if (opts.cpuProfDir) mkdirSync(opts.cpuProfDir, { recursive: true });
  const started = now();
  const ctx = new Context(opts);
  const results: Results = {
    machine: machine(process.env['TMPDIR'] === '/dev/shm' ? defaultTmp : null),
    command: `${process.env['SMBNOTIFY_BENCH_CLI'] ? `SMBNOTIFY_BENCH_CLI=${process.env['SMBNOTIFY_BENCH_CLI']} ` : ''}npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    options: { quick: opts.quick, only: [...opts.only], disk: opts.disk },
    runtimeS: 0,
    errors: {},
    targets: [],
  };
  const want = (s: string) => opts.only.size === 0 || opts.only.has(s);
  ctx.log(`machine: ${results.machine.cpus} × ${results.machine.model}, Node ${results.machine.node}, ${results.machine.samba}; shares on ${results.machine.shareFs}`);
  if (!ctx.daemonBuilt) ctx.log('the daemon is not built: D-Bus and journal figures are skipped');
  const section = async <K extends (typeof SECTIONS)[number]>(name: K, fn: () => Promise<NonNullable<Results[K]>>) => {
    if (!want(name)) return;
    const t0 = now();
    try {
      results[name] = (await fn()) as Results[K];
      ctx.log(`${name}: done in ${(ms(t0, now()) / 1000).toFixed(0)} s`);
    } catch (err) {
      results.errors[name] = (err as Error).stack ?? String(err);
      ctx.log(`${name} FAILED: ${(err as Error).message}`);
    } finally {
      await stopAllSamba();
    }
  };
  await section('latency', () => latency(ctx));
  await section('burst', () => bursts(ctx));
  await section('scale', () => scale(ctx));
  await section('polling', () => polling(ctx));
  await section('throughput', () => throughput(ctx));
  await section('mqtt', () => mqttBench(ctx));
  await section('view', () => viewBench(ctx));
  await section('ls', () => lsBench(ctx));
  results.runtimeS = ms(started, now()) / 1000;
  results.machine.loadEnd = loadavg();
  results.targets = targets(results);

  const text = render(results);
  const dir = join(ROOT, 'test', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = results.machine.date.replace(/[:.]/g, '-');
  const json = JSON.stringify(results, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
  writeFileSync(join(dir, `bench-${stamp}.json`), json);
  writeFileSync(join(dir, 'latest.json'), json);
  writeFileSync(join(dir, 'latest.md'), `${text}\n`);
  process.stdout.write(`\n${text}\n\nSaved: test/bench/results/bench-${stamp}.json (also latest.json, latest.md)\n`);
  if (Object.keys(results.errors).length) process.exitCode = 1;
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  await stopAllSamba();
  process.exit(1);
});
