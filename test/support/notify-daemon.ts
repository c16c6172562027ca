// Samba's notify daemon (the `smbd-notifyd` child of smbd) holds the inotify watches that turn
// changes made on the server's disk into notifications. smbd answers CHANGE_NOTIFY (the interim
// STATUS_PENDING) before that daemon has read its message and added the watch, so a test that
// changes the disk right after the interim can fall into the gap on a loaded machine. These
// helpers find the daemon, and wait until it watches a given folder (read from the inotify
// descriptor's /proc fdinfo, where the kernel lists each watch's inode).
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SambaServer } from './samba.js';

/** The pid of smbd's notify daemon: the child of smbd named smbd-notifyd. */
export function notifyDaemonPid(samba: SambaServer): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (comm === 'smbd-notifyd' && ppid === samba.pid) return Number(entry);
  }
  throw new Error(`no smbd-notifyd child of smbd ${samba.pid}`);
}

/**
 * Waits until a tree connect succeeds: smbd's first tree connect of a connection finds the notify
 * daemon by the name it registers once started, and answers STATUS_NO_MEMORY until then (seen
 * on a loaded CI machine). A notify daemon stopped before it registered never does.
 */
export async function notifyDaemonRegistered(samba: SambaServer): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    const r = await samba.smbclient(['-c', 'ls']);
    if (r.code === 0 && !/NT_STATUS_/.test(r.stdout)) return;
    if (Date.now() > until) throw new Error(`no tree connect within 20 s: ${r.stdout}${r.stderr}`);
    await sleep(200);
  }
}

/** Whether the notify daemon has an inotify watch on the folder (by its inode). */
function notifyDaemonWatches(pid: number, folder: string): boolean {
  const inode = `ino:${statSync(folder).ino.toString(16)} `;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target !== 'anon_inode:inotify') continue;
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    if (info.split('\n').some((line) => line.startsWith('inotify ') && line.includes(inode))) return true;
  }
  return false;
}

/** Waits until the notify daemon watches the folder on the server's disk (at most 20 s). */
export async function notifyDaemonWatching(samba: SambaServer, folder: string): Promise<void> {
  const pid = notifyDaemonPid(samba);
  const until = Date.now() + 20_000;
  while (!notifyDaemonWatches(pid, folder)) {
    if (Date.now() > until) throw new Error(`smbd-notifyd ${pid} added no inotify watch on ${folder} within 20 s`);
    await sleep(10);
  }
}
