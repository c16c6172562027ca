/**
 * Follow the desktop: KIO applications (Dolphin, file dialogs) broadcast
 * `org.kde.KDirNotify.enteredDirectory(s url)` / `leftDirectory(s url)` whenever a view starts or
 * stops showing a folder. For `file://` folders inside a cifs mount, watch them while shown, with
 * no configuration (docs/desktop.md).
 *
 * References are counted per folder and per sender (its unique bus name). Dolphin sends no
 * leftDirectory when it quits, so a sender's references are dropped when
 * `NameOwnerChanged` says it is gone; they linger a while first (KIO keeps recent folders cached,
 * and a user who comes back should find the watch still there), and a `leftDirectory` from
 * another sender can release such orphaned references (one-shot senders like dbus-send).
 */
import dbus from 'dbus-next';
import { parseFileUrl } from '../sinks/file-url.js';
import { mountForLocalPath } from '../config/mounts.js';
import type { Daemon } from './daemon.js';

type MessageBus = dbus.MessageBus;
type Message = dbus.Message;

interface FolderRefs {
  live: Map<string, number>;
  orphans: number;
  linger: NodeJS.Timeout | null;
  watchId: Promise<string | null> | null;
}

/** The synthetic sender of the folders the file manager reports. */
const FILE_MANAGER = 'org.freedesktop.FileManager1';

const MATCHES = [
  "type='signal',interface='org.kde.KDirNotify',member='enteredDirectory'",
  "type='signal',interface='org.kde.KDirNotify',member='leftDirectory'",
  "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'",
];

export class DesktopFollower {
  private readonly folders = new Map<string, FolderRefs>();
  private readonly onMessage = (msg: Message) => this.handle(msg);
  private stopped = false;
  private nautilusTimer: NodeJS.Timeout | null = null;
  /** Folders the file manager (Nautilus) showed at the last look. */
  private fileManagerFolders = new Set<string>();
  private polling = false;

  constructor(
    private readonly bus: MessageBus,
    private readonly daemon: Daemon,
    private readonly log: (line: string) => void,
    private readonly lingerMs = 60_000,
    private readonly fileManagerPollMs = 3000,
  ) {}

  /**
   * Nautilus publishes its open folders as the `OpenLocations` property of
   * org.freedesktop.FileManager1 (newer versions: `OpenWindowsWithLocations`, a{sas}). It sends
   * no signal when they change, so look every few seconds, and follow them like KIO's folders
   * (one synthetic sender, the file manager's name).
   */
  private async pollFileManager(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      const urls = await this.fileManagerLocations();
      const now = new Set(urls.map((u) => parseFileUrl(u)).filter((p): p is string => p !== null));
      for (const folder of now) if (!this.fileManagerFolders.has(folder)) this.entered(FILE_MANAGER, folder);
      for (const folder of this.fileManagerFolders) if (!now.has(folder)) this.left(FILE_MANAGER, folder);
      this.fileManagerFolders = now;
    } finally {
      this.polling = false;
    }
  }

  private async fileManagerLocations(): Promise<string[]> {
    const get = async (property: string): Promise<unknown> => {
      const reply = await this.bus.call(new dbus.Message({
        destination: 'org.freedesktop.FileManager1',
        path: '/org/freedesktop/FileManager1',
        interface: 'org.freedesktop.DBus.Properties',
        member: 'Get',
        signature: 'ss',
        body: ['org.freedesktop.FileManager1', property],
        // Ask a file manager that runs; never have the bus start one (Thunar, Nemo, Nautilus and
        // Dolphin each install a .service file for this name): it would load a file manager
        // nobody opened, and where it cannot start (no display yet) try again every few seconds.
        flags: dbus.MessageFlag.NO_AUTO_START,
      }));
      return (reply?.body?.[0] as { value?: unknown } | undefined)?.value;
    };
    try {
      const open = await get('OpenLocations');
      if (Array.isArray(open)) return open.filter((u): u is string => typeof u === 'string');
    } catch {
      // No file manager on the bus, or an older one without this property: try the newer one.
    }
    try {
      const windows = await get('OpenWindowsWithLocations');
      if (windows && typeof windows === 'object') return Object.values(windows as Record<string, unknown>).flat().filter((u): u is string => typeof u === 'string');
    } catch {
      // No file manager running: nothing to follow.
    }
    return [];
  }

  async start(): Promise<void> {
    this.nautilusTimer = setInterval(() => void this.pollFileManager(), this.fileManagerPollMs);
    this.nautilusTimer.unref();
    for (const rule of MATCHES) {
      await this.bus.call(new dbus.Message({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'AddMatch',
        signature: 's',
        body: [rule],
      }));
    }
    this.bus.on('message', this.onMessage);
  }

  private handle(msg: Message): void {
    if (this.stopped || msg.type !== dbus.MessageType.SIGNAL) return;
    if (msg.interface === 'org.kde.KDirNotify' && (msg.member === 'enteredDirectory' || msg.member === 'leftDirectory')) {
      const url = msg.body?.[0];
      if (typeof url !== 'string' || !msg.sender) return;
      const local = parseFileUrl(url);
      if (!local) return;
      if (msg.member === 'enteredDirectory') this.entered(msg.sender, local);
      else this.left(msg.sender, local);
    } else if (msg.interface === 'org.freedesktop.DBus' && msg.member === 'NameOwnerChanged') {
      const [name, , newOwner] = (msg.body ?? []) as string[];
      if (name && name.startsWith(':') && newOwner === '') this.senderGone(name);
    }
  }

  private total(refs: FolderRefs): number {
    let n = refs.orphans;
    for (const c of refs.live.values()) n += c;
    return n;
  }

  private entered(sender: string, folder: string): void {
    const clean = folder.replace(/\/+$/, '') || '/';
    if (!mountForLocalPath(this.daemon.mountList, clean)) return; // not on a share: inotify covers it
    let refs = this.folders.get(clean);
    if (!refs) {
      refs = { live: new Map(), orphans: 0, linger: null, watchId: null };
      this.folders.set(clean, refs);
    }
    if (refs.linger) {
      clearTimeout(refs.linger);
      refs.linger = null;
    }
    refs.live.set(sender, (refs.live.get(sender) ?? 0) + 1);
    if (!refs.watchId) {
      refs.watchId = this.daemon.addWatchEntry(clean, 'desktop', { recursive: false }).catch((err: Error) => {
        this.log(`desktop folder ${clean}: ${err.message}`);
        return null;
      });
    }
  }

  private left(sender: string, folder: string): void {
    const clean = folder.replace(/\/+$/, '') || '/';
    const refs = this.folders.get(clean);
    if (!refs) return;
    const mine = refs.live.get(sender) ?? 0;
    if (mine > 1) refs.live.set(sender, mine - 1);
    else if (mine === 1) refs.live.delete(sender);
    else if (refs.orphans > 0) refs.orphans--;
    else return;
    if (this.total(refs) === 0) void this.release(clean, refs);
  }

  private senderGone(sender: string): void {
    for (const [folder, refs] of this.folders) {
      const mine = refs.live.get(sender);
      if (!mine) continue;
      refs.live.delete(sender);
      refs.orphans += mine;
      if (refs.live.size === 0 && !refs.linger) {
        refs.linger = setTimeout(() => {
          refs.linger = null;
          refs.orphans = 0;
          if (this.total(refs) === 0) void this.release(folder, refs);
        }, this.lingerMs);
      }
    }
  }

  private async release(folder: string, refs: FolderRefs): Promise<void> {
    this.folders.delete(folder);
    if (refs.linger) clearTimeout(refs.linger);
    const id = await refs.watchId;
    if (id) await this.daemon.removeWatch(id).catch(() => undefined);
  }

  /** Folders currently followed, for status and tests. */
  get followed(): string[] {
    return [...this.folders.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.nautilusTimer) clearInterval(this.nautilusTimer);
    this.bus.off('message', this.onMessage);
    for (const refs of this.folders.values()) if (refs.linger) clearTimeout(refs.linger);
    this.folders.clear();
  }
}
