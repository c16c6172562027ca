/**
 * `smbnotify daemon`: the service. Watches from the config file and from --watch, events out on
 * D-Bus (its own API and KDirNotify), and in the journal. SIGHUP reloads the config; SIGTERM and
 * SIGINT shut down cleanly at any time, connecting included (requests cancelled, handles
 * closed, journal flushed): status 0 after SIGTERM, 130 after SIGINT.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type dbus from 'dbus-next';
import { defaultConfig, defaultConfigPath, loadConfig, type DaemonConfig } from '../../config/daemon-config.js';
import { resolveCredentials } from '../../config/credentials.js';
import { checkMqttUrl, resolveMqtt } from '../../config/mqtt-config.js';
import { kerberosUse, resolveLogon } from '../../config/kerberos.js';
import { isShareTarget, parseTarget, targetPort } from '../../config/target.js';
import { Daemon } from '../../daemon/daemon.js';
import { DesktopFollower } from '../../daemon/desktop.js';
import { connectBus } from '../../sinks/bus.js';
import { DbusApi } from '../../sinks/dbus-api.js';
import { defaultJournalPath, JournalSink } from '../../sinks/journal.js';
import { KDirNotifySink } from '../../sinks/kdirnotify.js';
import type { Credentials, Protection } from '../../smb/types.js';
import { UsageError } from '../errors.js';
import { ExitStatus, SIGNAL_STATUS, stopSignals, type StopIO } from '../stop.js';
import { takeHeldHangup } from '../early-signals.js';
import type { ConnectionCliOptions } from '../options.js';
import type { CommandIO } from './info.js';

export interface DaemonCliOptions extends ConnectionCliOptions {
  config?: string;
  watch?: string[];
  recursive?: boolean;
  mountinfo?: string;
  bus?: string;
  journal?: string;
  mqtt?: string;
}

async function commandLineCredentials(opts: DaemonCliOptions): Promise<Credentials | undefined> {
  const given = opts.user !== undefined || opts.authenticationFile !== undefined || opts.pass === false || process.env['PASSWD'] !== undefined;
  const password = (): Promise<Credentials> =>
    resolveCredentials({ user: opts.user, authenticationFile: opts.authenticationFile, noPass: opts.pass === false });
  if (kerberosUse(opts) !== 'off') return resolveLogon(opts, password);
  return given ? password() : undefined;
}

/** A group's id from /etc/group (Node has no getgrnam); numbers are taken as they are. */
async function groupId(name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new UsageError(`journal-group ${name}: no such group`);
}

export async function runDaemon(opts: DaemonCliOptions, io: CommandIO & { err: (line: string) => void } & StopIO, version: string): Promise<void> {
  const log = (line: string) => io.err(line);
  const system = opts.bus === 'system';
  // -r only applies to --watch; alone it would look like it made the config's watches recursive.
  if (opts.recursive && !opts.watch?.length) throw new UsageError('-r/--recursive needs --watch TARGET (a config watch takes recursive = yes)');
  let configFile = opts.config;
  let config: DaemonConfig;
  if (configFile) config = await loadConfig(configFile);
  else if (existsSync(defaultConfigPath(system))) {
    configFile = defaultConfigPath(system);
    config = await loadConfig(configFile);
  } else config = defaultConfig();
  // [mqtt] as the file has it, before --mqtt: what a reload compares with (it is read at start only).
  const fileMqtt = JSON.stringify(config.mqtt ?? null);
  // So are these [daemon] keys (the bus connection, the journal's file and group, the desktop
  // follower, the mounts file), unless the command line sets them: a reload that finds them
  // changed says so rather than leave the admin believing them applied.
  const overridden = new Set([opts.bus && 'bus', opts.journal && 'journal', opts.mountinfo && 'mountinfo']);
  const startOnlyKeys = (c: DaemonConfig): Array<[string, unknown]> =>
    ([['bus', c.bus], ['journal', c.journal], ['journal-group', c.journalGroup], ['follow-desktop', c.followDesktop], ['mountinfo', c.mountinfo]] as Array<[string, unknown]>)
      .filter(([key]) => !overridden.has(key));
  const fileStartOnly = new Map(startOnlyKeys(config));
  if (opts.bus) config.bus = opts.bus;
  if (opts.mountinfo) config.mountinfo = opts.mountinfo;
  if (opts.journal) config.journal = opts.journal === 'off' ? null : opts.journal;
  if (opts.mqtt !== undefined) {
    checkMqttUrl(opts.mqtt);
    config.mqtt = { ...config.mqtt, url: opts.mqtt };
  }
  // Files read and checked before anything starts: a bad [mqtt] is the user's to fix now.
  const mqtt = config.mqtt ? await resolveMqtt(config.mqtt, system) : null;
  if (!configFile && !opts.watch?.length && !config.followDesktop) throw new UsageError('nothing to watch: give --watch TARGET or --config FILE');
  // A long-running process keeps its argv visible in ps for its whole life (/proc/PID/cmdline).
  for (const target of opts.watch ?? []) {
    if (!isShareTarget(target)) continue;
    const t = parseTarget(target);
    if (t.password !== undefined) throw new UsageError('a password in a --watch URL would stay visible in the daemon\'s command line: use -A FILE or PASSWD instead');
    targetPort(t, opts.port);
  }
  if (opts.user?.includes('%')) throw new UsageError('a password in -U would stay visible in the daemon\'s command line: use -A FILE or PASSWD instead');

  const daemon = new Daemon({
    config,
    ...(configFile ? { configFile } : {}),
    watches: opts.watch ?? [],
    recursiveWatches: opts.recursive === true,
    ...(await commandLineCredentials(opts).then((c) => (c ? { commandLineCredentials: c } : {}))),
    protect: (opts.protect ?? 'off') as Protection,
    ...(opts.port ? { port: opts.port } : {}),
    ...(opts.timeout ? { timeoutMs: Math.round(opts.timeout * 1000) } : {}),
    ...(opts.ipAddress ? { address: opts.ipAddress } : {}),
    ...(opts.maxProtocol ? { maxDialect: opts.maxProtocol } : {}),
    mountinfo: config.mountinfo ?? '/proc/self/mountinfo',
    version,
    log,
    reloaded: (next) => {
      journal?.setLimits(next.journalMaxBytes, next.journalKeep);
      const said: string[] = [];
      const keys = startOnlyKeys(next).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(fileStartOnly.get(key))).map(([key]) => key);
      if (keys.length > 0) said.push(`${keys.join(', ')} changed in [daemon]: ${keys.length === 1 ? 'it is' : 'they are'} read at start only; restart the daemon to apply ${keys.length === 1 ? 'it' : 'them'}`);
      if (JSON.stringify(next.mqtt ?? null) !== fileMqtt) said.push('[mqtt] changed: it is read at start only, restart the daemon to apply it (it still publishes with the settings it started with)');
      return said.length > 0 ? said.join('; ') : null;
    },
  });

  // Signals are honoured from here on, whatever the daemon is doing: connecting to the bus,
  // or to a server that accepts TCP and never answers. SIGTERM is the service's normal stop
  // (status 0, as systemd expects); Ctrl-C gives 130 like every other command.
  const stops = stopSignals(io);
  let bus: dbus.MessageBus | null = null;
  let follower: DesktopFollower | null = null;
  let journal: JournalSink | null = null;
  let stopping = false;
  // logrotate's postrotate sends SIGHUP after renaming the journal: a new file at once, then the
  // config. One while stopping is not acted on, but does not kill the process in its clean-up.
  const onHup = () => {
    if (stopping) return;
    void (async () => {
      await journal?.reopen();
      await daemon.reload();
    })().catch((err: Error) => log(`reload failed: ${err.message}`));
  };
  process.on('SIGHUP', onHup);
  // One that came while the modules loaded and the config was read: reloads once started.
  if (takeHeldHangup()) onHup();
  let status = 0;
  // A bus that goes away takes the D-Bus signals with it: stop (status 1) rather than run on
  // without them; a service's Restart=on-failure starts it again.
  let busClosed!: (status: number) => void;
  const busGone = new Promise<number>((resolve) => (busClosed = resolve));
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  try {
    if (config.bus !== 'none') {
      const which = config.bus;
      bus = await stops.race(connectBus(which, {
        onClose: () => {
          if (stopping) return; // our own disconnect
          log(`the D-Bus ${which === 'session' || which === 'system' ? `${which} bus` : `bus ${which.replace(/,guid=[0-9a-f]*/, '')}`} closed the connection (its dbus-daemon stopped): stopping`);
          busClosed(1);
        },
      }));
      const api = await stops.race(DbusApi.start(bus, daemon));
      api.answerAfter(started);
      daemon.addSink(api);
      // KDirNotify is for the desktop session: no desktop listens on the system bus.
      if (config.bus !== 'system') daemon.addSink(new KDirNotifySink(bus));
    }
    if (config.journal !== null) {
      const journalPath = config.journal ?? defaultJournalPath(system);
      daemon.addSink(journal = await JournalSink.open(journalPath, {
        ...(config.journalMaxBytes ? { maxBytes: config.journalMaxBytes } : {}),
        ...(config.journalKeep !== undefined ? { keep: config.journalKeep } : {}),
        ...(config.journalGroup ? { group: await groupId(config.journalGroup) } : {}),
        // Disk full, a failed rotation, the file deleted: said, never silent (the journal goes on).
        onError: (err) => log(err.message),
      }), true);
      daemon.journalPath = journalPath;
    }
    if (mqtt) {
      // Loaded only when used; last in line: it never waits, but the journal and D-Bus come first.
      const { MqttSink } = await import('../../sinks/mqtt.js');
      daemon.addSink(await stops.race(MqttSink.start({ ...mqtt, log })));
    }
    // start() resolves targets and launches the watches; it does not wait for servers.
    await stops.race(daemon.start());
    markStarted();
    if (bus && config.followDesktop && config.bus !== 'system') {
      follower = new DesktopFollower(bus, daemon, log);
      await stops.race(follower.start());
    }
    const n = daemon.listWatches().length;
    log(`smbnotify ${version} daemon running: ${n} ${n === 1 ? 'watch' : 'watches'}${bus ? `, D-Bus ${config.bus}` : ''}${daemon.journalPath ? `, journal ${daemon.journalPath}` : ''}${mqtt ? `, MQTT ${mqtt.url} under ${mqtt.prefix}/` : ''}`);
    status = await Promise.race([stops.stopped, busGone]);
    log('stopping: cancelling requests, closing handles');
  } catch (err) {
    if (!(err instanceof ExitStatus)) throw err;
    status = err.status;
  } finally {
    markStarted(); // calls still waiting get what there is
    stopping = true;
    stops.dispose();
    await follower?.stop();
    await daemon.stop();
    bus?.disconnect();
    process.off('SIGHUP', onHup);
  }
  if (status === SIGNAL_STATUS.SIGTERM) status = 0;
  if (status !== 0) throw new ExitStatus(status);
}
