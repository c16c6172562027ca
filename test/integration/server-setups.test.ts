// The stream agrees with the listing on the server set-ups people really run. For every case the
// bar is the burst tests' one: the event stream applied to the starting listing gives the final
// listing as `smbnotify ls` shows it (listed over SMB, not read from the disk), nothing missing
// and nothing extra; changes are made on the server's disk and over SMB, with names Windows
// forbids, hidden names, deep trees and moves.
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileAction } from '../../src/smb/change-notify.js';
import type { WatchEvent } from '../../src/watch/events.js';
import { startSamba, stopAllSamba, type SambaOptions, type SambaServer } from '../support/samba.js';
import { applyStream, listedFolders, listingTree, setDiff, watch, type Harness } from '../support/stream.js';

afterAll(async () => {
  await stopAllSamba();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Bench {
  samba: SambaServer;
  h: Harness;
  start: Set<string>;
  disk: string;
}

async function bench(opts: SambaOptions, prepare: (disk: string) => void, watchOpts: Parameters<typeof watch>[1] = {}): Promise<Bench> {
  const samba = await startSamba(opts);
  prepare(samba.sharePath);
  const h = await watch(samba, { recursive: true, ...watchOpts });
  const start = await listingTree(h.share.tree!);
  return { samba, h, start, disk: samba.sharePath };
}

/** Over SMB, as another client: smbclient commands run in order on one session. */
async function overSmb(b: Bench, commands: string[]): Promise<void> {
  const r = await b.samba.smbclient(['-c', commands.join('; ')]);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout, r.stdout).not.toMatch(/NT_STATUS_/);
}

/** Files and folders the server has open on the watched share (smbstatus -L), once settled. */
async function openHandles(b: Bench): Promise<number> {
  await b.h.quiet(500, 30_000);
  const locked = await b.samba.smbstatus(['-L']);
  return locked.split('\n').filter((l) => l.includes(` ${b.samba.sharePath} `)).length;
}

/**
 * `deltree` over SMB, again while a folder is still pending deletion: the watch holds a handle on
 * every folder, and a folder removed while open goes only when that handle closes, so its parent
 * is "not empty" until then (slow on a loaded machine). Bounded in time, not in tries.
 */
async function deltree(b: Bench, top: string): Promise<void> {
  const until = Date.now() + 60_000;
  let last = '';
  while (Date.now() < until) {
    const r = await b.samba.smbclient(['-c', `deltree ${top}`]);
    if (r.code === 0 && !/NT_STATUS_/.test(r.stdout)) return;
    if (/NT_STATUS_(OBJECT_NAME_NOT_FOUND|NO_SUCH_FILE)/.test(r.stdout)) return;
    last = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-3).join(' | ');
    await pause(300);
  }
  throw new Error(`deltree ${top} kept failing for 60 s; last: ${last}`);
}

/** The bar: stream + starting listing = final listing; every folder created is said to be one. */
async function holdsTheBar(b: Bench, quietMs = 1500): Promise<WatchEvent[]> {
  await b.h.quiet(quietMs, 120_000);
  const tree = b.h.share.tree!;
  const end = await listingTree(tree);
  const changes = b.h.changes();
  const rebuilt = applyStream(b.start, changes);
  expect(setDiff(rebuilt, end), JSON.stringify(changes.map(brief))).toEqual({ missing: [], extra: [] });
  const folders = await listedFolders(tree);
  for (const e of changes) {
    if ((e.event === 'CREATE' || e.event === 'MOVED_TO') && folders.has(e.path)) expect(e.isDir, `${e.event} ${e.path}`).toBe(true);
    if ((e.event === 'CREATE' || e.event === 'MOVED_TO') && end.has(e.path) && !folders.has(e.path)) expect(e.isDir, `${e.event} ${e.path}`).toBe(false);
  }
  return changes;
}

function brief(e: WatchEvent): string {
  return `${e.event}${e.isDir ? ',ISDIR' : ''} ${e.path}${e.oldPath ? ` <- ${e.oldPath}` : ''} [${e.source ?? ''}]`;
}

async function done(b: Bench): Promise<void> {
  await b.h.stop();
  await b.samba.stop();
}

/** The 8.3 name a listing shows for a name Windows forbids. */
function listedName(b: Bench, under: string, pattern: RegExp): string {
  const found = [...b.start].find((p) => p.startsWith(under) && pattern.test(p.slice(under.length)) && !p.slice(under.length).includes('/'));
  if (!found) throw new Error(`no listed name under "${under}" matching ${pattern} in ${[...b.start].join(', ')}`);
  return found.slice(under.length);
}

describe('names the server mangles (mangled names = yes, the default)', () => {
  const FORBIDDEN = ['meeting 10:30.txt', 'what?.txt', 'a*b', 'pipe|name', 'quote".txt', '<angle>', 'trailing dot.', 'back\\slash'];

  it('on the server disk: deletions of old names, files in old and new mangled folders, deep trees and moves', async () => {
    const b = await bench({}, (d) => {
      for (const n of FORBIDDEN) writeFileSync(join(d, n), 'x');
      mkdirSync(join(d, 'dir:a'));
      writeFileSync(join(d, 'dir:a', 'old.txt'), 'x');
    });
    try {
      expect([...b.start].some((p) => p.includes(':'))).toBe(false); // listed under 8.3 names
      const d = b.disk;
      rmSync(join(d, 'meeting 10:30.txt'));
      rmSync(join(d, 'what?.txt'));
      writeFileSync(join(d, 'dir:a', 'inside.txt'), 'x');
      mkdirSync(join(d, 'new:dir'));
      await pause(300);
      writeFileSync(join(d, 'new:dir', 'in2.txt'), 'x');
      mkdirSync(join(d, 'new:dir', 'deep:er'));
      await pause(300);
      mkdirSync(join(d, 'new:dir', 'deep:er', 'plain'));
      await pause(300);
      writeFileSync(join(d, 'new:dir', 'deep:er', 'plain', 'f:1'), 'x');
      writeFileSync(join(d, 'new:dir', 'deep:er', 'plain', 'ok'), 'x');
      renameSync(join(d, 'a*b'), join(d, 'a-b'));
      renameSync(join(d, 'dir:a', 'old.txt'), join(d, 'dir:a', 'old?.txt'));
      renameSync(join(d, 'pipe|name'), join(d, 'new:dir', 'pipe|name'));
      await holdsTheBar(b);
    } finally {
      await done(b);
    }
  }, 120_000);

  it('over SMB inside folders listed under their 8.3 names', async () => {
    const b = await bench({}, (d) => {
      mkdirSync(join(d, 'dir:a'));
      mkdirSync(join(d, 'dir:a', 'sub:b'));
      writeFileSync(join(d, 'dir:a', 'sub:b', 'f'), 'x');
      writeFileSync(join(d, 'lonely'), 'x');
    });
    try {
      const top = listedName(b, '', /~/);
      const sub = listedName(b, `${top}/`, /~/);
      await overSmb(b, [
        `mkdir ${top}\\made`, `put /etc/hostname ${top}\\made\\h`, `put /etc/hostname ${top}\\${sub}\\g`,
        `rename ${top}\\${sub}\\f ${top}\\moved`, `rename lonely ${top}\\made\\lonely`, `mkdir ${top}\\made\\d1`, `mkdir ${top}\\made\\d1\\d2`,
        `put /etc/hostname ${top}\\made\\d1\\d2\\deep`,
      ]);
      await holdsTheBar(b);
    } finally {
      await done(b);
    }
  }, 120_000);
});

describe('names served as they are (mangled names = no)', () => {
  it('a listing that shows one teaches the watch: the next forbidden name is a notify event, its rename a pair', async () => {
    // The watch's first listing holds `old:name`, which a mangling server would list under an
    // 8.3 name: the names notified after it need no listing to be placed.
    const b = await bench({ extraShare: ['mangled names = no'] }, (d) => writeFileSync(join(d, 'old:name'), 'x'));
    try {
      expect(b.start.has('old:name')).toBe(true);
      writeFileSync(join(b.disk, 'new:name'), 'x');
      renameSync(join(b.disk, 'new:name'), join(b.disk, 'renamed?'));
      const changes = await holdsTheBar(b);
      expect(changes.filter((e) => e.event !== 'MODIFY').map(brief)).toEqual(['CREATE new:name [notify]', 'MOVED_FROM new:name [notify]', 'MOVED_TO renamed? <- new:name [notify]']);
    } finally {
      await done(b);
    }
  }, 120_000);
});

describe('several clients watching one folder (Samba repeats each change to each of them)', () => {
  it('every watcher pairs every rename made on the disk, and its stream rebuilds the listing', async () => {
    const samba = await startSamba({});
    mkdirSync(join(samba.sharePath, 'shared'));
    for (let i = 0; i < 40; i++) writeFileSync(join(samba.sharePath, 'shared', `f${i}`), 'x');
    const watchers = [];
    try {
      for (let i = 0; i < 3; i++) watchers.push(await watch(samba, { path: 'shared', recursive: true }));
      const start = await listingTree(watchers[0]!.share.tree!, 'shared');
      for (let i = 0; i < 40; i++) renameSync(join(samba.sharePath, 'shared', `f${i}`), join(samba.sharePath, 'shared', `g${i}`));
      for (const h of watchers) {
        await h.quiet(1500, 60_000);
        const changes = h.changes();
        const moves = changes.filter((e) => e.event === 'MOVED_TO').map((e) => `${e.oldPath} -> ${e.path}`);
        expect(moves, JSON.stringify(changes.map(brief))).toEqual(Array.from({ length: 40 }, (_, i) => `shared/f${i} -> shared/g${i}`));
        expect(setDiff(applyStream(start, changes), await listingTree(h.share.tree!, 'shared'))).toEqual({ missing: [], extra: [] });
      }
    } finally {
      for (const h of watchers) await h.stop();
      await samba.stop();
    }
  }, 120_000);
});

describe('names the listing hides (veto files, vfs_fruit AppleDouble, dangling symlinks)', () => {
  const setup: SambaOptions = { fruit: true, vetoFiles: '/*.tmp/', hideDotFiles: true };

  it('on the server disk: only what the listing shows is reported', async () => {
    const b = await bench(setup, (d) => {
      writeFileSync(join(d, 'keep.txt'), 'x');
      writeFileSync(join(d, 'to-hide'), 'x');
      writeFileSync(join(d, 'was.tmp'), 'x');
      mkdirSync(join(d, 'folder'));
    });
    try {
      expect(b.start.has('was.tmp')).toBe(false);
      const d = b.disk;
      writeFileSync(join(d, 'x.tmp'), 'x');
      writeFileSync(join(d, '._keep.txt'), 'x');
      writeFileSync(join(d, '.dotfile'), 'x');
      symlinkSync('/nonexistent/target', join(d, 'dangling'));
      mkdirSync(join(d, 'v.tmp'));
      writeFileSync(join(d, 'v.tmp', 'inside'), 'x');
      mkdirSync(join(d, 'folder', 'deep', 'er'), { recursive: true });
      await pause(300);
      writeFileSync(join(d, 'folder', 'deep', 'er', '._f'), 'x');
      writeFileSync(join(d, 'folder', 'deep', 'er', 'f'), 'x');
      symlinkSync('nowhere', join(d, 'folder', 'deep', 'er', 'dangling2'));
      renameSync(join(d, 'to-hide'), join(d, 'now-hidden.tmp'));
      renameSync(join(d, 'was.tmp'), join(d, 'now-visible'));
      rmSync(join(d, '._keep.txt'));
      await holdsTheBar(b);
    } finally {
      await done(b);
    }
  }, 120_000);

  it('over SMB: a Mac-style client writing streams and dot files', async () => {
    const b = await bench(setup, (d) => {
      mkdirSync(join(d, 'photos'));
      writeFileSync(join(d, 'photos', 'a.jpg'), 'x');
    });
    try {
      await overSmb(b, [
        'put /etc/hostname photos\\b.jpg', 'put /etc/hostname photos\\b.jpg:AFP_AfpInfo', 'put /etc/hostname .DS_Store',
        'mkdir photos\\2024', 'put /etc/hostname photos\\2024\\c.jpg', 'rename photos\\a.jpg photos\\2024\\a.jpg', 'rm photos\\b.jpg',
      ]);
      await holdsTheBar(b);
    } finally {
      await done(b);
    }
  }, 120_000);
});

describe('a server that does not report changes made on its own disk (kernel change notify = no)', () => {
  it('the safety net finds them, reports them as rescan events and warns once naming the cause', async () => {
    const b = await bench({ kernelChangeNotify: false }, (d) => {
      mkdirSync(join(d, 'a', 'b'), { recursive: true });
      writeFileSync(join(d, 'a', 'b', 'old'), 'x');
    }, { safetyNetMs: 300 });
    try {
      const d = b.disk;
      writeFileSync(join(d, 'top'), 'x');
      writeFileSync(join(d, 'a', 'b', 'new'), 'x');
      rmSync(join(d, 'a', 'b', 'old'));
      mkdirSync(join(d, 'a', 'c', 'd'), { recursive: true });
      writeFileSync(join(d, 'a', 'c', 'd', 'deep'), 'x');
      await b.h.waitFor((e) => e.path === 'a/c/d/deep', 30_000);
      renameSync(join(d, 'a', 'c'), join(d, 'a', 'moved'));
      await b.h.waitFor((e) => e.path.startsWith('a/moved'), 30_000);
      // Over SMB the server still notifies at once.
      await overSmb(b, ['put /etc/hostname a\\over-smb']);
      const viaSmb = await b.h.waitFor((e) => e.path === 'a/over-smb', 10_000);
      expect(viaSmb.source).toBe('notify');
      const changes = await holdsTheBar(b, 2000);
      const diskChanges = changes.filter((e) => e.path !== 'a/over-smb');
      expect(diskChanges.length).toBeGreaterThan(0);
      expect(diskChanges.every((e) => e.source === 'rescan'), JSON.stringify(diskChanges.map(brief))).toBe(true);
      const warnings = b.h.events.filter((e) => e.event === 'STATE' && /kernel change notify/.test(e.message ?? ''));
      expect(warnings).toHaveLength(1);
    } finally {
      await done(b);
    }
  }, 120_000);
});

describe('new folders and deleted trees', () => {
  function tree(d: string, root: string): string[] {
    const made: string[] = [root];
    mkdirSync(join(d, root));
    for (const a of ['x', 'y']) {
      mkdirSync(join(d, root, a));
      made.push(`${root}/${a}`);
      writeFileSync(join(d, root, a, 'f'), 'x');
      made.push(`${root}/${a}/f`);
      mkdirSync(join(d, root, a, 'deep'));
      made.push(`${root}/${a}/deep`);
      writeFileSync(join(d, root, a, 'deep', 'g'), 'x');
      made.push(`${root}/${a}/deep/g`);
    }
    return made;
  }

  /** One DELETE per entry of the tree, each entry's DELETE before its folder's. */
  function deletedDeepestFirst(changes: WatchEvent[], entries: string[]): void {
    const deletes = changes.filter((e) => e.event === 'DELETE').map((e) => e.path);
    for (const p of entries) expect(deletes.filter((x) => x === p), `DELETE ${p} in ${JSON.stringify(changes.map(brief))}`).toHaveLength(1);
    for (const p of entries) {
      for (const q of entries) if (q.startsWith(`${p}/`)) expect(deletes.indexOf(q), `${q} before ${p}`).toBeLessThan(deletes.indexOf(p));
    }
  }

  it('on the server disk: CREATE of a folder says ISDIR; rm -rf gives one DELETE per entry, deepest first', async () => {
    const b = await bench({}, (d) => {
      tree(d, 'before');
    });
    try {
      const d = b.disk;
      mkdirSync(join(d, 'plain-folder'));
      const during = tree(d, 'during');
      await b.h.waitFor((e) => e.path === 'during/y/deep/g', 10_000);
      rmSync(join(d, 'before'), { recursive: true });
      rmSync(join(d, 'during'), { recursive: true });
      const changes = await holdsTheBar(b);
      expect(changes.find((e) => e.event === 'CREATE' && e.path === 'plain-folder')?.isDir).toBe(true);
      deletedDeepestFirst(changes, [...b.start].filter((p) => p.startsWith('before')));
      deletedDeepestFirst(changes, during);
    } finally {
      await done(b);
    }
  }, 120_000);

  it('over SMB: mkdir says ISDIR; deltree gives one DELETE per entry, deepest first', async () => {
    const b = await bench({}, (d) => {
      tree(d, 'before');
    });
    try {
      await overSmb(b, ['mkdir made', 'mkdir made\\sub', 'put /etc/hostname made\\sub\\f', 'mkdir made\\sub\\deeper', 'put /etc/hostname made\\sub\\deeper\\g']);
      await b.h.waitFor((e) => e.path === 'made/sub/deeper/g', 10_000);
      // Our own handles on the folders keep a deleted folder pending until they close (Windows
      // semantics), so smbclient's deltree may find a parent not yet empty: it goes on when asked again.
      for (const top of ['before', 'made']) await deltree(b, top);
      // A folder smbclient removed stays (pending deletion, and listed) until our handle on it
      // closes; the watch closes it once it sees it pending, a round trip per level. The stream
      // is compared once the server has really removed them, not at the first quiet moment.
      for (let i = 0; i < 300 && (existsSync(join(b.disk, 'before')) || existsSync(join(b.disk, 'made'))); i++) await pause(100);
      expect([existsSync(join(b.disk, 'before')), existsSync(join(b.disk, 'made'))]).toEqual([false, false]);
      const changes = await holdsTheBar(b);
      expect(changes.find((e) => e.event === 'CREATE' && e.path === 'made')?.isDir).toBe(true);
      expect(changes.find((e) => e.event === 'CREATE' && e.path === 'made/sub')?.isDir).toBe(true);
      deletedDeepestFirst(changes, [...b.start].filter((p) => p.startsWith('before')));
      deletedDeepestFirst(changes, ['made', 'made/sub', 'made/sub/f', 'made/sub/deeper', 'made/sub/deeper/g']);
    } finally {
      await done(b);
    }
  }, 120_000);
});

describe('folders reachable through themselves (wide links)', () => {
  it('each folder is watched once, by file id; one creation is one event; the link itself is reported', async () => {
    const b = await bench({ wideLinks: true }, (d) => {
      mkdirSync(join(d, 'a', 'b'), { recursive: true });
      symlinkSync('../..', join(d, 'a', 'b', 'to-root'));
      symlinkSync('.', join(d, 'a', 'self'));
    });
    try {
      // a, a/b and the share root: three folders, three handles (as the server counts them).
      expect(await openHandles(b)).toBe(3);
      const d = b.disk;
      writeFileSync(join(d, 'a', 'b', 'one'), 'x');
      symlinkSync('..', join(d, 'a', 'b', 'up'));
      await overSmb(b, ['put /etc/hostname a\\over-smb']);
      const changes = await holdsTheBar(b);
      // Before: one event per level of handles (a/b/to-root/a/b/one, ...). Writes add MODIFY.
      const once = (name: string) => changes.filter((e) => e.path.endsWith(`/${name}`) && e.event !== 'MODIFY').map(brief);
      expect(once('one')).toEqual(['CREATE a/b/one [notify]']);
      expect(once('over-smb')).toEqual(['CREATE a/over-smb [notify]']);
      expect(new Set(changes.filter((e) => /\/(one|over-smb)$/.test(e.path)).map((e) => e.path))).toEqual(new Set(['a/b/one', 'a/over-smb']));
      expect(changes.filter((e) => e.path === 'a/b/up').map((e) => e.event)).toEqual(['CREATE']);
      expect(await openHandles(b)).toBe(3);
    } finally {
      await done(b);
    }
  }, 120_000);
});

describe('order across folders', () => {
  // Writes add MODIFY after a CREATE; the order asked for is that of the changes to names.
  const ORDER = (changes: WatchEvent[], paths: string[]) => changes.filter((e) => paths.includes(e.path) && e.event !== 'MODIFY').map(brief);

  it('on the server disk: a root rename, then changes in subfolders, come out in that order', async () => {
    const b = await bench({}, (d) => {
      mkdirSync(join(d, 'sub', 'inner'), { recursive: true });
      writeFileSync(join(d, 'a'), 'x');
      writeFileSync(join(d, 'sub', 'c'), 'x');
    });
    try {
      const d = b.disk;
      for (let round = 0; round < 5; round++) {
        renameSync(join(d, round % 2 ? 'b' : 'a'), join(d, round % 2 ? 'a' : 'b'));
        mkdirSync(join(d, 'sub', `x${round}`));
        writeFileSync(join(d, 'sub', 'inner', `y${round}`), 'x');
        writeFileSync(join(d, `z${round}`), 'x');
        await pause(50);
      }
      const changes = await holdsTheBar(b);
      const expected: string[] = [];
      for (let round = 0; round < 5; round++) {
        const from = round % 2 ? 'b' : 'a';
        const to = round % 2 ? 'a' : 'b';
        expected.push(`MOVED_FROM ${from} [notify]`, `MOVED_TO ${to} <- ${from} [notify]`, `CREATE,ISDIR sub/x${round} [notify]`, `CREATE sub/inner/y${round} [notify]`, `CREATE z${round} [notify]`);
      }
      const watched = ['a', 'b', ...[0, 1, 2, 3, 4].flatMap((r) => [`sub/x${r}`, `sub/inner/y${r}`, `z${r}`])];
      expect(ORDER(changes, watched)).toEqual(expected);
    } finally {
      await done(b);
    }
  }, 120_000);

  it('over SMB: the server order across folders is kept', async () => {
    const b = await bench({}, (d) => {
      mkdirSync(join(d, 'sub', 'inner'), { recursive: true });
      writeFileSync(join(d, 'a'), 'x');
    });
    // What the server answered, entry by entry, in the order its responses arrived.
    const answered: { action: number; path: string }[] = [];
    b.h.watcher.on('notified', (folder, entries) => {
      for (const e of entries) if (e.action !== FileAction.MODIFIED) answered.push({ action: e.action, path: folder ? `${folder}/${e.fileName}` : e.fileName });
    });
    try {
      await overSmb(b, ['rename a b', 'mkdir sub\\x', 'put /etc/hostname sub\\inner\\y', 'rename b a', 'put /etc/hostname z', 'mkdir sub\\inner\\w']);
      const changes = await holdsTheBar(b);
      const order = ORDER(changes, ['a', 'b', 'sub/x', 'sub/inner/y', 'z', 'sub/inner/w']);
      // Each handle reports its own folder, so the server's order across folders is the order
      // its responses arrive in. Samba does not always answer in the order of the changes (the
      // last two, in two folders, came in either order about 1 run in 2); the stream follows the
      // responses exactly.
      const fromAnswers: string[] = [];
      for (let i = 0; i < answered.length; i++) {
        const { action, path } = answered[i]!;
        if (action === FileAction.ADDED) fromAnswers.push(`CREATE ${path} [notify]`);
        if (action === FileAction.RENAMED_OLD_NAME) fromAnswers.push(`MOVED_FROM ${path} [notify]`, `MOVED_TO ${answered[++i]!.path} <- ${path} [notify]`);
      }
      expect(order.map((o) => o.replace(',ISDIR', ''))).toEqual(fromAnswers);
      expect(order.slice(0, 6)).toEqual([
        'MOVED_FROM a [notify]', 'MOVED_TO b <- a [notify]', 'CREATE,ISDIR sub/x [notify]', 'CREATE sub/inner/y [notify]',
        'MOVED_FROM b [notify]', 'MOVED_TO a <- b [notify]',
      ]);
      expect(order.slice(6).sort()).toEqual(['CREATE z [notify]', 'CREATE,ISDIR sub/inner/w [notify]'].sort());
    } finally {
      await done(b);
    }
  }, 120_000);
});
