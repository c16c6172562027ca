/**
 * Follow the desktop: KIO applications (Dolphin, file dialogs) broadcast
 * `org.kde.KDirNotify.enteredDirectory(s url)` / `leftDirectory(s url)` whenever a view starts or
 * stops showing a folder. For `file://` folders inside a cifs mount, watch them while shown, with
 * no configuration (DESIGN.md, "Desktop integration").
 *
 * References are counted per folder and per sender (its unique bus name). Dolphin sends no
 * leftDirectory when it quits, so a sender's references are dropped when
 * `NameOwnerChanged` says it is gone; they linger a while first (KIO keeps recent folders cached,
 * and a user who comes back should find the watch still there), and a `leftDirectory` from
 * another sender can release such orphaned references (one-shot senders like dbus-send).
 */
import dbus from 'dbus-next';
import { parseFileUrl } from '../sinks/kdirnotify.js';
import { mountForLocalPath } from './mounts.js';
import type { Daemon } from './daemon.js';

type MessageBus = dbus.MessageBus;
type Message = dbus.Message;

interface FolderRefs {
  live: Map<string, number>;
  orphans: number;
  linger: NodeJS.Timeout | null;
  watchId: Promise<string | null> | null;
}

const MATCHES = [
  "type='signal',interface='org.kde.KDirNotify',member='enteredDirectory'",
  "type='signal',interface='org.kde.KDirNotify',member='leftDirectory'",
  "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'",
];

export class DesktopFollower {
  private readonly folders = new Map<string, FolderRefs>();
  private readonly onMessage = (msg: Message) => this.handle(msg);
  private stopped = false;

  constructor(
    private readonly bus: MessageBus,
    private readonly daemon: Daemon,
    private readonly log: (line: string) => void,
    private readonly lingerMs = 60_000,
  ) {}

  async start(): Promise<void> {
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
    this.bus.off('message', this.onMessage);
    for (const refs of this.folders.values()) if (refs.linger) clearTimeout(refs.linger);
    this.folders.clear();
  }
}
