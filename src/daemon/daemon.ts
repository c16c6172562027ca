/**
 * `smbnotify daemon`: keeps the configured watches (and the folders the desktop shows) live, and
 * publishes every event to the sinks: its own D-Bus API, KDirNotify for KDE, and the journal.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Credentials, DialectName, Protection } from '../smb/types.js';
import { UsageError } from '../config/errors.js';
import { ConfigError, loadConfig, type DaemonConfig, type WatchConfig } from '../config/daemon-config.js';
import { resolveTarget, type TargetResolver } from './targets.js';
import { SharePool } from './share-pool.js';
import { leaveWithin } from '../smb/share-connection.js';
import { WatchEntry } from './watch-entry.js';
import { configWatchOptions, watchInputs } from './config-watches.js';
import { localPathMapper, mountForLocalPath, mountShowing, parseMountinfo, type CifsMount } from '../config/mounts.js';
import { describeSmbFailure } from '../smb/describe.js';
import type { AddWatchOptions, DaemonControl, DaemonEvent, DaemonStatus, EventSink, WatchOrigin, WatchStatus } from '../sinks/types.js';

export interface DaemonOptions {
  config: DaemonConfig;
  configFile?: string;
  /** --watch targets from the command line. */
  watches: string[];
  /** Whether the --watch targets are watched recursively. */
  recursiveWatches?: boolean;
  /** Credentials given on the command line (-U, -A, PASSWD, -N), for --watch targets. */
  commandLineCredentials?: Credentials;
  protect?: Protection;
  /** -p: the port of targets that name none. */
  port?: number;
  /** -m / --max-protocol: the highest dialect to offer. */
  maxDialect?: DialectName;
  /** -I: where to connect for the command line's --watch targets. */
  address?: string;
  mountinfo: string;
  version: string;
  log: (line: string) => void;
  /**
   * A reloaded config's part outside the watches: applies what can change while running (the
   * journal's size and keep), returns in words what only a restart applies; null: nothing.
   */
  reloaded?: (next: DaemonConfig) => string | null;
  /** Connect and request timeout for the servers (--timeout; default 15 s). */
  timeoutMs?: number;
  /** How often mountinfo is re-read (mounts come and go). */
  mountPollMs?: number;
}

export class Daemon implements DaemonControl {
  private readonly entries = new Map<string, WatchEntry>();
  private readonly pool: SharePool;
  private readonly sinks: EventSink[] = [];
  private nextId = 1;
  private mounts: CifsMount[] = [];
  private mountText = '';
  private mountTimer: NodeJS.Timeout | null = null;
  private config: DaemonConfig;
  private readonly startedAt = new Date().toISOString();
  private stopping = false;
  /** Config watches by name, to tell what a reload added or removed. */
  private readonly configWatches = new Map<string, { id: string; inputs: string }>();
  journalPath: string | null = null;
  /** The last reload, or start() until it is done (see reload). */
  private reloads: Promise<void>;
  private markStarted!: () => void;
  /** Mounts whose watch could not start, said once each. */
  private readonly reportedMounts = new Set<string>();

  constructor(private readonly opts: DaemonOptions) {
    this.reloads = new Promise((resolve) => (this.markStarted = resolve));
    this.config = opts.config;
    this.pool = new SharePool(30_000, opts.timeoutMs ?? 15_000);
  }

  /** Sinks run in order: the cheap ones (the journal's queued write) before D-Bus marshalling. */
  addSink(sink: EventSink, first = false): void {
    if (first) this.sinks.unshift(sink);
    else this.sinks.push(sink);
  }

  private get resolver(): TargetResolver {
    return {
      mounts: () => this.mounts,
      config: () => this.config,
      commandLineCredentials: this.opts.commandLineCredentials,
      defaultPort: this.opts.port,
      defaultAddress: this.opts.address,
    };
  }

  async start(): Promise<void> {
    try {
      await this.refreshMounts();
      this.mountTimer = setInterval(() => void this.refreshMounts(), this.opts.mountPollMs ?? 2000);
      for (const w of this.config.watches) await this.addConfigWatch(w);
      for (const target of this.opts.watches) {
        try {
          await this.addWatchEntry(target, 'command-line', { recursive: this.opts.recursiveWatches === true });
        } catch (err) {
          // A malformed target or unusable credentials on the command line: the user must fix it.
          if (err instanceof UsageError) throw err;
          this.opts.log(`--watch ${target}: ${(err as Error).message}`);
        }
      }
    } finally {
      this.markStarted();
    }
  }

  /** Mounts come and go: re-read mountinfo, and watch every mounted share when configured to. */
  private async refreshMounts(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.opts.mountinfo, 'utf8');
    } catch (err) {
      if (this.mountText !== '!') this.opts.log(`cannot read ${this.opts.mountinfo}: ${(err as Error).message}`);
      this.mountText = '!';
      return;
    }
    if (text === this.mountText) return;
    this.mountText = text;
    this.mounts = parseMountinfo(text);
    if (this.stopping) return;
    for (const entry of this.entries.values()) await entry.mountsChanged().catch((err: Error) => this.opts.log(`${entry.id}: view: ${err.message}`));
    // Without watch-mounts (a reload may have turned it off), no mount keeps a watch of its own.
    const mounted = new Set(this.config.watchMounts ? this.mounts.map((m) => m.mountPoint) : []);
    for (const entry of [...this.entries.values()]) {
      if (entry.spec.origin === 'mount' && !mounted.has(entry.spec.target)) await this.removeWatch(entry.id).catch(() => undefined);
    }
    if (!this.config.watchMounts) return;
    for (const m of this.mounts) {
      if (this.findByTarget(m.mountPoint, 'mount')) continue;
      await this.addWatchEntry(m.mountPoint, 'mount', { recursive: false }).catch((err: Error) => {
        if (this.reportedMounts.has(m.mountPoint)) return;
        this.reportedMounts.add(m.mountPoint);
        this.opts.log(`mount ${m.mountPoint}: ${err.message}`);
      });
    }
  }

  private async addConfigWatch(w: WatchConfig): Promise<void> {
    try {
      const id = await this.addWatchEntry(w.target, 'config', configWatchOptions(w), w);
      this.configWatches.set(w.name, { id, inputs: watchInputs(w, this.config) });
    } catch (err) {
      this.opts.log(`[watch ${w.name}]: ${(err as Error).message}`);
    }
  }

  /** Why a config watch cannot be made as the config now says (its target, its credentials file), or null. */
  private async refusal(w: WatchConfig): Promise<string | null> {
    try {
      await resolveTarget(w.target, configWatchOptions(w), 'config', this.resolver);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /**
   * Resolve and start one watch (its connection shared per share and identity); returns its id
   * at once. Only a D-Bus caller waits for the first connect, so that what no retry can fix
   * (no such share or folder, wrong password) fails the call instead of leaving a stopped watch.
   */
  async addWatchEntry(target: string, origin: WatchOrigin, options: AddWatchOptions, filters?: WatchConfig): Promise<string> {
    if (this.stopping) throw new Error('the daemon is stopping');
    const r = await resolveTarget(target, options, origin, this.resolver);
    const share = this.pool.acquire({
      host: r.host,
      ...(r.address ? { address: r.address } : {}),
      port: r.port,
      share: r.share,
      credentials: r.credentials,
      protect: this.opts.protect ?? 'off',
      ...(this.opts.maxDialect ? { maxDialect: this.opts.maxDialect } : {}),
    });
    // The same folder named twice on the command line (as a URL and as a UNC name, say) is watched
    // once, as `watch` and inotifywait do: else every change would be published twice. The pool
    // gave both the one connection its share and identity make.
    const recursive = options.recursive === true;
    const same = origin === 'command-line'
      ? [...this.entries.values()].find((e) => e.spec.origin === 'command-line' && e.share === share && e.spec.path === r.path && e.spec.recursive === recursive)
      : undefined;
    if (same) {
      await this.pool.release(share);
      this.opts.log(`--watch ${target}: the same folder as ${same.spec.id} (${same.spec.target}), watched once`);
      return same.spec.id;
    }
    const id = `w${this.nextId++}`;
    // Mounts come and go (re-read every 2 s): the one a local target was named through is looked up each time.
    const through = () => (target.startsWith('/') ? mountForLocalPath(this.mounts, target)?.mount : undefined);
    const mapper = (p: string) => localPathMapper(this.mounts, r.host, r.share, r.port, through())(p);
    const namesOf = (p: string) => mountShowing(this.mounts, r.host, r.share, r.port, through())(p)?.names;
    const entry = new WatchEntry({
      id,
      target,
      origin,
      path: r.path,
      recursive: options.recursive === true || filters?.view !== undefined,
      localPathOf: mapper,
      namesOf,
      ...(filters?.view
        ? { view: { where: filters.view, name: filters.name, ...(filters.viewBacking ? { backing: filters.viewBacking } : {}), ...(filters.viewAllowOther ? { allowOther: true } : {}) } }
        : {}),
      ...(filters?.events ? { events: filters.events } : {}),
      ...(filters?.include ? { include: filters.include } : {}),
      ...(filters?.exclude ? { exclude: filters.exclude } : {}),
      ...(options.pollIntervalSeconds ?? this.config.pollIntervalSeconds ? { pollIntervalSeconds: options.pollIntervalSeconds ?? this.config.pollIntervalSeconds } : {}),
      ...safetyNet(filters?.safetyNetSeconds ?? this.config.safetyNetSeconds),
    }, share, this.opts.log);
    this.entries.set(id, entry);
    if (origin !== 'dbus') {
      entry.on('event', (e) => this.publish(e));
      void entry.start();
      return id;
    }
    // A refused call leaves no trace: the watch's events wait until its first connect is through,
    // and its id is given again when no other watch took the next one meanwhile.
    let held: DaemonEvent[] | null = [];
    entry.on('event', (e) => (held ? held.push(e) : this.publish(e)));
    const failure = await entry.start();
    if (failure !== undefined) {
      await this.removeWatch(id).catch(() => undefined);
      if (this.nextId === Number(id.slice(1)) + 1) this.nextId--;
      throw new WatchRefused(describeSmbFailure(failure, entry.context) ?? (failure as Error).message);
    }
    const waiting = held;
    held = null;
    for (const e of waiting) this.publish(e);
    return id;
  }

  private publish(e: DaemonEvent): void {
    for (const sink of this.sinks) {
      try {
        sink.publish(e);
      } catch (err) {
        this.opts.log(`event sink failed: ${(err as Error).message}`);
      }
    }
  }

  // DaemonControl (the D-Bus API calls these).

  async addWatch(target: string, opts: AddWatchOptions): Promise<string> {
    return this.addWatchEntry(target, 'dbus', opts);
  }

  async removeWatch(id: string, why?: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry) throw new NotFoundError(`no watch ${id}`);
    this.entries.delete(id);
    await entry.stop(why);
    await this.pool.release(entry.share);
  }

  listWatches(): WatchStatus[] {
    return [...this.entries.values()].map((e) => e.status());
  }

  status(): DaemonStatus {
    const own: DaemonStatus = { version: this.opts.version, pid: process.pid, startedAt: this.startedAt, journal: this.journalPath, watches: this.entries.size };
    return Object.assign(own, ...this.sinks.map((s) => s.status?.() ?? {}));
  }

  /** Watches the desktop asked for (followed folders), by local folder. */
  findByTarget(target: string, origin: WatchOrigin): WatchEntry | undefined {
    return [...this.entries.values()].find((e) => e.spec.target === target && e.spec.origin === origin);
  }

  get mountList(): CifsMount[] {
    return this.mounts;
  }

  /**
   * SIGHUP. Reloads run one at a time, and only once start() has made the config's watches: a
   * SIGHUP while the daemon starts (or while it reloads) would otherwise start every watch twice.
   */
  reload(): Promise<void> {
    const run = this.reloads.then(() => this.reloadNow());
    this.reloads = run.catch(() => undefined);
    return run;
  }

  /**
   * Re-read the config file; add the new watches, remove the dropped ones, restart the changed
   * ones, keep the rest. The running config watches then are the file's: one removed over D-Bus
   * starts again.
   */
  private async reloadNow(): Promise<void> {
    if (this.stopping) return;
    if (!this.opts.configFile) {
      this.opts.log('reload: no config file to re-read');
      return;
    }
    let next: DaemonConfig;
    try {
      next = await loadConfig(this.opts.configFile);
    } catch (err) {
      this.opts.log(`reload failed, keeping the running config: ${err instanceof ConfigError ? err.message : (err as Error).message}`);
      return;
    }
    const before = this.config;
    this.config = next;
    const wanted = new Map(next.watches.map((w) => [w.name, w]));
    const said: string[] = [];
    const restarted = new Set<string>();
    for (const [name, { id, inputs }] of [...this.configWatches]) {
      const w = wanted.get(name);
      const running = this.entries.get(id);
      if (running && w && watchInputs(w, next) === inputs) {
        await running.retryView();
        continue;
      }
      // A changed watch whose new settings cannot work (a credentials file that is not there)
      // keeps running as it was: a reload never loses a watch to a typo.
      const refused = running && w ? await this.refusal(w) : null;
      if (refused !== null) {
        said.push(`${name} (${id}) kept as it was: ${refused}`);
        continue;
      }
      this.configWatches.delete(name);
      if (!running) continue;
      await this.removeWatch(id, w ? 'its settings changed; started again as a new watch' : 'watch removed');
      if (!w) said.push(`${name} (${id}) removed`);
      else {
        await this.addConfigWatch(w);
        restarted.add(name);
        const now = this.configWatches.get(name)?.id;
        said.push(`${name} restarted with its new settings (${now ? `${id} is now ${now}` : `${id} stopped; it could not start again, see above`})`);
      }
    }
    for (const [name, w] of wanted) {
      if (this.configWatches.has(name) || restarted.has(name)) continue;
      await this.addConfigWatch(w);
      const now = this.configWatches.get(name)?.id;
      said.push(now ? `${name} added (${now})` : `${name} could not start, see above`);
    }
    if (next.watchMounts !== before.watchMounts) {
      // Applied now, not at the next change of the mounts.
      this.mountText = '';
      await this.refreshMounts();
    }
    const ignored = this.opts.reloaded?.(next);
    if (ignored) said.push(ignored);
    this.opts.log(`reloaded ${path.basename(this.opts.configFile)}: ${this.entries.size} ${this.entries.size === 1 ? 'watch' : 'watches'}${said.map((part) => `; ${part}`).join('')}`);
  }

  /** SIGTERM: cancel requests, close handles, log off, flush the sinks. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.markStarted(); // a reload still waiting for start() ends at once
    if (this.mountTimer) clearInterval(this.mountTimer);
    const entries = [...this.entries.values()];
    this.entries.clear();
    // Each entry unmounts its view first (local, always waited for); the server's part waits
    // LEAVE_GRACE_MS at most on a server that stopped answering.
    const shares = this.pool.all();
    await leaveWithin(async () => {
      await Promise.all(entries.map((e) => e.stop('the daemon stopped')));
      await this.pool.closeAll();
    }, () => shares);
    for (const sink of this.sinks) await sink.close().catch(() => undefined);
  }
}

/** A watch that cannot work as asked (no such share or folder, wrong password): fix and retry. */
export class WatchRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchRefused';
  }
}

export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The safety net's base interval for a watch spec, when the config sets one (0: off). */
function safetyNet(seconds: number | undefined): { safetyNetSeconds?: number } {
  return seconds === undefined ? {} : { safetyNetSeconds: seconds };
}
