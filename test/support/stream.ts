// Helpers for watch tests: run a Watcher against a bench server, collect its events, wait for
// quiet, and apply the event stream to a listing (the reconstruction the issue asks for).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { WatchEvent } from '../../src/watch/events.js';
import { ShareConnection, type ShareConnectionOptions } from '../../src/smb/share-connection.js';
import { Watcher, type WatcherOptions } from '../../src/watch/watcher.js';
import { SmbError } from '../../src/smb/errors.js';
import { NtStatus } from '../../src/smb/wire/ntstatus.js';
import { Arrivals } from './arrivals.js';
import type { SmbTree } from '../../src/smb/tree.js';
import type { SambaServer } from './samba.js';

export interface Harness {
  share: ShareConnection;
  watcher: Watcher;
  events: WatchEvent[];
  /** Changes only (no STATE). */
  changes(): WatchEvent[];
  /** Resolve once an event matching `pred` arrived (looks at past events too). */
  waitFor(pred: (e: WatchEvent) => boolean, timeoutMs?: number): Promise<WatchEvent>;
  /** Resolve when no event arrived for `quietMs`. */
  quiet(quietMs?: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The first connection to a server the test has just started. Under a loaded CI machine a fresh
 * smbd has answered the very first TREE_CONNECT with STATUS_NO_MEMORY or
 * STATUS_INSUFFICIENT_RESOURCES (a server-side condition that passes; the daemon retries it
 * like any failure that is not permanent): try again a few times before failing the test.
 */
async function connectFresh(share: ShareConnection): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await share.connect();
      return;
    } catch (err) {
      const passing = err instanceof SmbError && (err.status === NtStatus.NO_MEMORY || err.status === NtStatus.INSUFFICIENT_RESOURCES);
      if (!passing || attempt === 4) throw err;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}

export async function watch(
  samba: SambaServer,
  opts: Partial<WatcherOptions> & { keepaliveMs?: number; connection?: Partial<ShareConnectionOptions> } = {},
): Promise<Harness> {
  const { keepaliveMs, connection, ...watcherOpts } = opts;
  const share = new ShareConnection({
    host: samba.host,
    port: samba.port,
    share: samba.share,
    credentials: { kind: 'user', user: samba.user, domain: samba.domain, password: samba.password },
    timeoutMs: 10_000,
    keepaliveMs: keepaliveMs ?? 1000,
    minBackoffMs: 200,
    maxBackoffMs: 1000,
    // e.g. { port: proxy.port } to go through test/support/fault-proxy.ts
    ...connection,
  });
  await connectFresh(share);
  const watcher = new Watcher(share, { path: '', ...watcherOpts });
  const arrivals = new Arrivals<WatchEvent>('event');
  const events = arrivals.items;
  let last = Date.now();
  watcher.on('event', (e) => {
    last = Date.now();
    arrivals.push(e);
  });
  await watcher.start();
  return {
    share,
    watcher,
    events,
    changes: () => events.filter((e) => e.event !== 'STATE'),
    waitFor(pred, timeoutMs = 10_000) {
      return arrivals.waitFor(pred, timeoutMs);
    },
    async quiet(quietMs = 1000, timeoutMs = 120_000) {
      const start = Date.now();
      while (Date.now() - Math.max(last, start) < quietMs || !watcher.idle) {
        if (Date.now() - start > timeoutMs) throw new Error('events did not stop');
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      await watcher.stop();
      await share.close();
    },
  };
}

/** Every path below `root` on disk (folders included), share-relative. */
export function diskTree(root: string, prefix = ''): Set<string> {
  const out = new Set<string>();
  for (const name of readdirSync(join(root, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    out.add(rel);
    if (statSync(join(root, rel)).isDirectory()) for (const p of diskTree(root, rel)) out.add(p);
  }
  return out;
}

/**
 * Apply a stream to a starting set of paths: CREATE/MOVED_TO add, DELETE/MOVED_FROM remove (with
 * the subtree); a MOVED_TO whose oldPath is the preceding MOVED_FROM brings that subtree along.
 */
export function applyStream(start: Set<string>, events: WatchEvent[]): Set<string> {
  const state = new Set(start);
  let lastMovedFrom: { path: string; subtree: string[] } | null = null;
  const removeTree = (p: string): string[] => {
    const removed: string[] = [];
    for (const q of [...state]) {
      if (q === p || q.startsWith(`${p}/`)) {
        state.delete(q);
        removed.push(q);
      }
    }
    return removed;
  };
  for (const e of events) {
    if (e.event === 'CREATE') state.add(e.path);
    else if (e.event === 'MOVED_TO') {
      state.add(e.path);
      if (lastMovedFrom && e.oldPath === lastMovedFrom.path) {
        for (const q of lastMovedFrom.subtree) if (q !== e.oldPath) state.add(e.path + q.slice(e.oldPath.length));
      }
    } else if (e.event === 'DELETE') removeTree(e.path);
    else if (e.event === 'MOVED_FROM') lastMovedFrom = { path: e.path, subtree: removeTree(e.path) };
  }
  return state;
}

export function setDiff(a: Set<string>, b: Set<string>): { missing: string[]; extra: string[] } {
  return { missing: [...b].filter((x) => !a.has(x)).slice(0, 20), extra: [...a].filter((x) => !b.has(x)).slice(0, 20) };
}

/**
 * Every path below `root` as `smbnotify ls` shows it, listed over SMB (folders included),
 * share-relative. A folder reached again by another path (a symlink to an ancestor, through
 * `wide links`) is listed once: it appears as an entry, its contents are not walked again.
 */
export async function listingTree(tree: SmbTree, root = ''): Promise<Set<string>> {
  const out = new Set<string>();
  const seen = new Set<bigint>();
  const top = await tree.open(root, true);
  const rootId = await tree.internalId(top.fileId).finally(() => tree.close(top.fileId));
  if (rootId) seen.add(rootId);
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 64) throw new Error(`listing deeper than 64 levels at ${dir}`);
    for (const st of await tree.list(dir)) {
      const rel = dir ? `${dir}/${st.name}` : st.name;
      out.add(rel);
      if (!st.isDirectory) continue;
      if (st.fileId) {
        if (seen.has(st.fileId)) continue;
        seen.add(st.fileId);
      }
      await walk(rel, depth + 1);
    }
  };
  await walk(root, 0);
  return out;
}

/** The folders among `paths` according to a listing (for isDir checks). */
export async function listedFolders(tree: SmbTree, root = ''): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (dir: string, seen: Set<bigint>): Promise<void> => {
    for (const st of await tree.list(dir)) {
      if (!st.isDirectory) continue;
      const rel = dir ? `${dir}/${st.name}` : st.name;
      out.add(rel);
      if (st.fileId && seen.has(st.fileId)) continue;
      if (st.fileId) seen.add(st.fileId);
      await walk(rel, seen);
    }
  };
  const top = await tree.open(root, true);
  const rootId = await tree.internalId(top.fileId).finally(() => tree.close(top.fileId));
  await walk(root, new Set(rootId ? [rootId] : []));
  return out;
}
