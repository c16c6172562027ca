// The live view as a desktop program sees it: inotifywait -m -r and gio monitor (GIO's own
// monitor, the one GNOME Files uses) on a view see every change made on the server, on its disk
// and over SMB, with the right names and types; on a view that does not replay, they see none.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, readdirSync, writeSync, renameSync, rmSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';
import { newMountPoint, startView, type RunningView } from '../support/view.js';

let samba: SambaServer;
let cred: string;
let url: string;
let view: RunningView;
let backing: string;

interface Lines {
  child: ChildProcess;
  lines: string[];
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): void;
}

function follow(cmd: string, args: string[]): Lines {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  const onData = (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of [...waiters]) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  return {
    child,
    lines,
    waitFor(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => re.test(l));
          if (!hit) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no line matching ${re} from ${cmd} within ${timeoutMs} ms; got:\n${lines.join('\n')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop: () => void child.kill(),
  };
}

async function inotifywait(dir: string): Promise<Lines> {
  const l = follow('inotifywait', ['-m', '-r', '--format', '%e %w%f', dir]);
  await l.waitFor(/Watches established/);
  return l;
}

async function gioMonitor(dir: string): Promise<Lines> {
  const l = follow('gio', ['monitor', dir]);
  // gio prints nothing when ready; give it a moment to set up its inotify watch.
  await new Promise((r) => setTimeout(r, 1000));
  return l;
}

beforeAll(async () => {
  requireBuild();
  requireTool('inotifywait', 'inotify-tools');
  requireTool('fusermount3', 'fuse3');
  requireTool('gio', 'libglib2.0-bin');
  samba = await startSamba({});
  cred = credentialsFile(samba);
  url = `smb://${samba.host}:${samba.port}/data`;
  backing = join(samba.sharePath, 'live');
  mkdirSync(join(backing, 'sub'), { recursive: true });
  writeFileSync(join(backing, 'existing.txt'), 'hello\n');
  view = await startView([`${url}/live`, '-A', cred, '--backing', backing]);
}, 60_000);

afterAll(async () => {
  await view?.stop();
  await stopAllSamba();
});

describe('smbnotify view', () => {
  it('shows the backing folder and passes data through', () => {
    expect(readdirSync(view.mountPoint).sort()).toEqual(['existing.txt', 'sub']);
  });

  it('inotifywait -m -r sees changes made on the server disk: create, mkdir, modify, rename, delete', async () => {
    const iw = await inotifywait(view.mountPoint);
    const m = view.mountPoint;
    try {
      writeFileSync(join(backing, 'disk-new.txt'), 'x');
      await iw.waitFor(new RegExp(`^CREATE ${m}/disk-new.txt$`));
      // Looked at as soon as the event comes: the real attributes, not the replay's made-up ones.
      const seen = statSync(join(m, 'disk-new.txt'));
      const real = statSync(join(backing, 'disk-new.txt'));
      expect({ file: seen.isFile(), size: seen.size, mtime: seen.mtimeMs, mode: seen.mode }).toEqual({ file: true, size: 1, mtime: real.mtimeMs, mode: real.mode });
      mkdirSync(join(backing, 'disk-dir'));
      await iw.waitFor(new RegExp(`^CREATE,ISDIR ${m}/disk-dir$`));
      expect(statSync(join(m, 'disk-dir')).mtimeMs).toBe(statSync(join(backing, 'disk-dir')).mtimeMs);
      writeFileSync(join(backing, 'sub', 'deep.txt'), 'y');
      await iw.waitFor(new RegExp(`^CREATE ${m}/sub/deep.txt$`));
      appendFileSync(join(backing, 'existing.txt'), 'more\n');
      await iw.waitFor(new RegExp(`^MODIFY ${m}/existing.txt$`));
      renameSync(join(backing, 'disk-new.txt'), join(backing, 'renamed.txt'));
      await iw.waitFor(new RegExp(`^MOVED_TO ${m}/renamed.txt$`));
      // Between folders Samba reports a removal and an addition; either way the view follows.
      renameSync(join(backing, 'renamed.txt'), join(backing, 'sub', 'renamed.txt'));
      await iw.waitFor(new RegExp(`^(CREATE|MOVED_TO) ${m}/sub/renamed.txt$`));
      unlinkSync(join(backing, 'sub', 'deep.txt'));
      await iw.waitFor(new RegExp(`^DELETE ${m}/sub/deep.txt$`));
      rmdirSync(join(backing, 'disk-dir'));
      await iw.waitFor(new RegExp(`^DELETE,ISDIR ${m}/disk-dir$`));
      const from = iw.lines.findIndex((l) => l === `MOVED_FROM ${m}/disk-new.txt`);
      const to = iw.lines.findIndex((l) => l === `MOVED_TO ${m}/renamed.txt`);
      expect(from).toBeGreaterThanOrEqual(0);
      expect(to).toBe(from + 1);
      // A program reacting to the event sees the new state.
      expect(readdirSync(join(m, 'sub')).sort()).toEqual(['renamed.txt']);
    } finally {
      iw.stop();
    }
  });

  it('inotifywait and gio monitor see changes made over SMB', async () => {
    const m = view.mountPoint;
    const iw = await inotifywait(m);
    const gio = await gioMonitor(m);
    try {
      const local = join(samba.dir, 'upload.txt');
      writeFileSync(local, 'over smb\n');
      const put = await samba.smbclient(['-c', `put ${local} live\\smb-file.txt; mkdir live\\smb-dir; rename live\\existing.txt live\\smb-renamed.txt`]);
      expect(put.code, put.stderr).toBe(0);
      await iw.waitFor(new RegExp(`^CREATE ${m}/smb-file.txt$`));
      await iw.waitFor(new RegExp(`^CREATE,ISDIR ${m}/smb-dir$`));
      await iw.waitFor(new RegExp(`^MOVED_TO ${m}/smb-renamed.txt$`));
      await gio.waitFor(new RegExp(`${m}/smb-file.txt: created$`));
      await gio.waitFor(new RegExp(`${m}/smb-dir: created$`));
      await gio.waitFor(new RegExp(`${m}/existing.txt: renamed to ${m}/smb-renamed.txt$`));
      const del = await samba.smbclient(['-c', 'del live\\smb-file.txt; rmdir live\\smb-dir']);
      expect(del.code, del.stderr).toBe(0);
      await iw.waitFor(new RegExp(`^DELETE ${m}/smb-file.txt$`));
      await iw.waitFor(new RegExp(`^DELETE,ISDIR ${m}/smb-dir$`));
      await gio.waitFor(new RegExp(`${m}/smb-file.txt: deleted$`));
      await gio.waitFor(new RegExp(`${m}/smb-dir: deleted$`));
    } finally {
      iw.stop();
      gio.stop();
    }
  });

  it('a change made through the view reaches inotify once, and is not replayed again', async () => {
    const m = view.mountPoint;
    const iw = await inotifywait(m);
    try {
      writeFileSync(join(m, 'own.txt'), 'mine');
      await iw.waitFor(new RegExp(`^CLOSE_WRITE,CLOSE ${m}/own.txt$`));
      // The server reports it too; give that report time to come back, then a marker change.
      await new Promise((r) => setTimeout(r, 1500));
      writeFileSync(join(backing, 'marker.txt'), 'm');
      await iw.waitFor(new RegExp(`^CREATE ${m}/marker.txt$`));
      expect(iw.lines.filter((l) => l === `CREATE ${m}/own.txt`)).toHaveLength(1);
    } finally {
      iw.stop();
    }
  });

  it('a write through the view that lasts longer than the own-change window still reaches inotify once', async () => {
    const m = view.mountPoint;
    const iw = await inotifywait(m);
    try {
      // 5 s of writes (the window is 3 s): the server reports them all along.
      const fd = openSync(join(m, 'long.txt'), 'w');
      try {
        for (let i = 0; i < 10; i++) {
          writeSync(fd, `line ${i}\n`);
          await new Promise((r) => setTimeout(r, 500));
        }
      } finally {
        closeSync(fd);
      }
      await iw.waitFor(new RegExp(`^CLOSE_WRITE,CLOSE ${m}/long.txt$`));
      // Give the server's last reports time to come back, then a marker change.
      await new Promise((r) => setTimeout(r, 1500));
      writeFileSync(join(backing, 'long-marker.txt'), 'm');
      await iw.waitFor(new RegExp(`^CREATE ${m}/long-marker.txt$`));
      // A replayed MODIFY would open and close the file once more (or, the file being open in
      // passthrough, fail: 'replay failed: EIO').
      expect(iw.lines.filter((l) => l === `CLOSE_WRITE,CLOSE ${m}/long.txt`)).toHaveLength(1);
      expect(view.stderr.filter((l) => /replay failed/.test(l))).toEqual([]);
      expect(readFileSync(join(m, 'long.txt'), 'utf8').split('\n')).toHaveLength(11);
    } finally {
      iw.stop();
    }
  });

  it('a colleague\'s change right after a save through the view is replayed (the save\'s own report is not)', async () => {
    const m = view.mountPoint;
    const iw = await inotifywait(m);
    try {
      writeFileSync(join(m, 'saved.txt'), 'mine\n');
      await iw.waitFor(new RegExp(`^CLOSE_WRITE,CLOSE ${m}/saved.txt$`));
      // Well inside the 3 s own-change window of the save, which once masked this change.
      await new Promise((r) => setTimeout(r, 500));
      const seen = iw.lines.length;
      appendFileSync(join(backing, 'saved.txt'), 'colleague\n');
      const t0 = Date.now();
      while (!iw.lines.slice(seen).includes(`MODIFY ${m}/saved.txt`) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 20));
      expect(iw.lines.slice(seen)).toContain(`MODIFY ${m}/saved.txt`);
      expect(readFileSync(join(m, 'saved.txt'), 'utf8')).toBe('mine\ncolleague\n');
      // Then the save alone, nothing after it: its report finds the file as the save left it.
      writeFileSync(join(m, 'saved-alone.txt'), 'mine\n');
      await iw.waitFor(new RegExp(`^CLOSE_WRITE,CLOSE ${m}/saved-alone.txt$`));
      await new Promise((r) => setTimeout(r, 1500));
      writeFileSync(join(backing, 'saved-marker.txt'), 'm');
      await iw.waitFor(new RegExp(`^CREATE ${m}/saved-marker.txt$`));
      expect(iw.lines.filter((l) => l === `CLOSE_WRITE,CLOSE ${m}/saved-alone.txt`)).toHaveLength(1);
    } finally {
      iw.stop();
    }
  });

  it('a folder tree removed on the server (rm -r) reaches inotify as locally: each file, then each folder with its DELETE_SELF', async () => {
    const m = view.mountPoint;
    const tree = join(backing, 'tree');
    mkdirSync(join(tree, 'a', 'b'), { recursive: true });
    writeFileSync(join(tree, 'a', 'f1.txt'), '1');
    writeFileSync(join(tree, 'a', 'b', 'f2.txt'), '2');
    // Someone browsed it through the view (the kernel holds its folders, inotifywait watches
    // them), a while ago: the entries have expired (1 s), so the removals' walks look the folders
    // up again, when the server has removed them all already.
    const t0 = Date.now();
    while (!readdirSync(m).includes('tree') && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1000));
    expect(readdirSync(join(m, 'tree', 'a', 'b'))).toEqual(['f2.txt']);
    const iw = await inotifywait(m);
    const errors = view.stderr.length;
    try {
      await new Promise((r) => setTimeout(r, 1500));
      rmSync(tree, { recursive: true });
      await iw.waitFor(new RegExp(`^DELETE,ISDIR ${m}/tree$`));
      const seen = iw.lines.filter((l) => !/^(OPEN|ACCESS|CLOSE_NOWRITE)/.test(l) && l.includes(`${m}/tree`));
      expect([...seen].sort()).toEqual([
        `DELETE ${m}/tree/a/b/f2.txt`,
        `DELETE ${m}/tree/a/f1.txt`,
        `DELETE,ISDIR ${m}/tree`,
        `DELETE,ISDIR ${m}/tree/a`,
        `DELETE,ISDIR ${m}/tree/a/b`,
        `DELETE_SELF ${m}/tree/`,
        `DELETE_SELF ${m}/tree/a/`,
        `DELETE_SELF ${m}/tree/a/b/`,
      ]);
      // A folder goes after what it held, as rm -r does it.
      const at = (line: string) => seen.indexOf(line);
      expect(at(`DELETE ${m}/tree/a/b/f2.txt`)).toBeLessThan(at(`DELETE,ISDIR ${m}/tree/a/b`));
      expect(at(`DELETE,ISDIR ${m}/tree/a/b`)).toBeLessThan(at(`DELETE,ISDIR ${m}/tree/a`));
      expect(at(`DELETE ${m}/tree/a/f1.txt`)).toBeLessThan(at(`DELETE,ISDIR ${m}/tree/a`));
      expect(at(`DELETE,ISDIR ${m}/tree`)).toBe(seen.length - 1);
      expect(view.stderr.slice(errors).filter((l) => /replay failed/.test(l))).toEqual([]);
    } finally {
      iw.stop();
    }
  });

  it('a file moved out of a folder that the server then removes appears at its new name, whether the kernel held that folder or not', async () => {
    const m = view.mountPoint;
    for (const held of [true, false]) {
      const tmp = join(backing, `tmp-${held}`);
      mkdirSync(join(tmp, 'in'), { recursive: true });
      writeFileSync(join(tmp, 'in', `res-${held}.txt`), 'r');
      const t0 = Date.now();
      while (!readdirSync(m).includes(`tmp-${held}`) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
      expect(readdirSync(join(m, `tmp-${held}`, 'in'))).toEqual([`res-${held}.txt`]);
      // Not held: the kernel has dropped the folders (as it does under memory pressure).
      if (!held) writeFileSync('/proc/sys/vm/drop_caches', '2');
      // Only the root is watched: a recursive watch would hold the folders.
      const iw = follow('inotifywait', ['-m', '--format', '%e %w%f', m]);
      await iw.waitFor(/Watches established/);
      const errors = view.stderr.length;
      try {
        await new Promise((r) => setTimeout(r, 1500)); // the entries expire: the walk looks again
        renameSync(join(tmp, 'in', `res-${held}.txt`), join(backing, `res-${held}.txt`));
        rmSync(tmp, { recursive: true });
        await iw.waitFor(new RegExp(`^DELETE,ISDIR ${m}/tmp-${held}$`));
        await iw.waitFor(new RegExp(`^(MOVED_TO|CREATE) ${m}/res-${held}.txt$`));
        expect(view.stderr.slice(errors).filter((l) => /replay failed/.test(l))).toEqual([]);
      } finally {
        iw.stop();
      }
    }
  });

  it('a watch on a file that a colleague replaces by a rename (an editor\'s atomic save) gets IN_ATTRIB and IN_DELETE_SELF, as locally', async () => {
    // What entr, node --watch and an editor's auto-reload wait for to watch the new file.
    const m = view.mountPoint;
    const dirWatch = await inotifywait(m);
    let fileWatch: Lines | undefined;
    try {
      writeFileSync(join(backing, 'atomic.txt'), 'v1\n');
      await dirWatch.waitFor(new RegExp(`^CREATE ${m}/atomic.txt$`));
      fileWatch = follow('inotifywait', ['-m', '--format', '%e %w', join(m, 'atomic.txt')]);
      await fileWatch.waitFor(/Watches established/);
      // The kernel's entry of the name expires (1 s): the replayed rename looks the name up again.
      await new Promise((r) => setTimeout(r, 1500));
      writeFileSync(join(backing, '.atomic.txt.tmp'), 'v2\n');
      renameSync(join(backing, '.atomic.txt.tmp'), join(backing, 'atomic.txt'));
      await dirWatch.waitFor(new RegExp(`^MOVED_TO ${m}/atomic.txt$`));
      await fileWatch.waitFor(new RegExp(`^DELETE_SELF ${m}/atomic.txt$`), 5_000);
      expect(fileWatch.lines.filter((l) => !/^(Setting up|Watches established)/.test(l))).toEqual([`ATTRIB ${m}/atomic.txt`, `DELETE_SELF ${m}/atomic.txt`]);
      expect(readFileSync(join(m, 'atomic.txt'), 'utf8')).toBe('v2\n');
    } finally {
      fileWatch?.stop();
      dirWatch.stop();
    }
  });

  it('a file deleted through the view and made again on the server right after reaches inotify as a new file', async () => {
    const m = view.mountPoint;
    writeFileSync(join(backing, 'again.txt'), 'old\n');
    const iw = await inotifywait(m);
    try {
      unlinkSync(join(m, 'again.txt'));
      await iw.waitFor(new RegExp(`^DELETE ${m}/again.txt$`));
      // Inside the 3 s window of the user's delete, which masks its own report, not this one.
      await new Promise((r) => setTimeout(r, 300));
      writeFileSync(join(backing, 'again.txt'), 'new\n');
      await iw.waitFor(new RegExp(`^CREATE ${m}/again.txt$`));
      expect(readFileSync(join(m, 'again.txt'), 'utf8')).toBe('new\n');
      expect(iw.lines.filter((l) => l === `DELETE ${m}/again.txt`)).toHaveLength(1);
    } finally {
      iw.stop();
    }
  });

  it('a file read through the view (its pages kept by the kernel) reads the new data once the server changed it', async () => {
    const m = view.mountPoint;
    const iw = await inotifywait(m);
    try {
      writeFileSync(join(backing, 'cached.txt'), 'old\n');
      await iw.waitFor(new RegExp(`^CREATE ${m}/cached.txt$`));
      expect(readFileSync(join(m, 'cached.txt'), 'utf8')).toBe('old\n');
      expect(readFileSync(join(m, 'cached.txt'), 'utf8')).toBe('old\n');
      // Same size, so only the data (and mtime) tell the change. The MODIFY to wait for is one
      // after this write (the first write gave one too).
      await new Promise((r) => setTimeout(r, 1500));
      const seen = iw.lines.length;
      writeFileSync(join(backing, 'cached.txt'), 'new\n');
      const t0 = Date.now();
      while (!iw.lines.slice(seen).includes(`MODIFY ${m}/cached.txt`) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 20));
      expect(iw.lines.slice(seen)).toContain(`MODIFY ${m}/cached.txt`);
      expect(readFileSync(join(m, 'cached.txt'), 'utf8')).toBe('new\n');
    } finally {
      iw.stop();
    }
  });

  it('as root, reads ahead 4 MiB (set after INIT, which would reset it to 128 KiB)', () => {
    expect(process.getuid?.(), 'the tests run as root').toBe(0);
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === view.mountPoint);
    expect(line, 'the view in mountinfo').toBeDefined();
    const device = line!.split(' ')[2];
    expect(readFileSync(`/sys/class/bdi/${device}/read_ahead_kb`, 'utf8').trim()).toBe('4096');
  });

  it('a program that reads each new file as soon as its IN_CREATE comes reads all of it (but for a rare race under load), and all once the replays are done', async () => {
    // The server's write follows the creation at once, so the replayed MODIFY races the reader;
    // the kernel may then throw away the reader's fresh attributes and keep those of the replayed
    // creation. Those were made up (size 0), and the reader read nothing, about one time in three
    // (18 of 40 here). They are now read from the backing folder just before the replay. Under
    // load one read of 40 still came back empty in about one run of the suite in eight (likely
    // the writer held up between its creation and its write, so that the replay found the file
    // empty, and the reader then raced the MODIFY that follows). A program that reads again on
    // IN_MODIFY / IN_CLOSE_WRITE, as it must on any file system, then reads the content.
    const m = view.mountPoint;
    mkdirSync(join(backing, 'fresh'));
    const iw = await inotifywait(m);
    const contents = new Map<string, string>();
    try {
      const wrong: string[] = [];
      for (let i = 0; i < 40; i++) {
        const name = `fresh-${i}.txt`;
        const content = `content of ${name}\n`.repeat(1 + (i % 5));
        contents.set(name, content);
        writeFileSync(join(backing, 'fresh', name), content);
        await iw.waitFor(new RegExp(`^CREATE ${m}/fresh/${name}$`));
        const read = readFileSync(join(m, 'fresh', name), 'utf8');
        if (read !== content) wrong.push(`${name}: ${JSON.stringify(read)}`);
      }
      expect(wrong.length, wrong.join(', ')).toBeLessThanOrEqual(2);
      await new Promise((r) => setTimeout(r, 1000));
      for (const [name, content] of contents) expect(readFileSync(join(m, 'fresh', name), 'utf8'), name).toBe(content);
    } finally {
      iw.stop();
    }
  });

  it('a program that watched the mount point before the view covered it is named: its watch stays on the folder below and hears nothing', async () => {
    // As a file manager that showed the empty folder before `smbnotify view` was started (Thunar
    // and Nemo keep that folder's watch even for a window opened afterwards).
    const mountPoint = newMountPoint();
    const early = await inotifywait(mountPoint);
    const late = await startView([`${url}/live`, '-A', cred, '--backing', backing], mountPoint);
    try {
      await late.waitLine(new RegExp(`^smbnotify: view: inotifywait \\(pid ${early.child.pid}\\) watched ${mountPoint} before the view covered it: .* until it is restarted$`), 10_000, 'stderr');
      const fresh = await inotifywait(mountPoint);
      try {
        writeFileSync(join(backing, 'after-late-view.txt'), 'z');
        await fresh.waitFor(new RegExp(`^CREATE ${mountPoint}/after-late-view.txt$`));
      } finally {
        fresh.stop();
      }
      expect(early.lines.filter((l) => /^(CREATE|DELETE|MOVED)/.test(l))).toEqual([]);
      // Nobody watched the first view's mount point before it: it named nobody.
      expect(view.stderr.filter((l) => /before the view covered it/.test(l))).toEqual([]);
    } finally {
      early.stop();
      await late.stop();
      rmSync(join(backing, 'after-late-view.txt'), { force: true });
    }
  });

  it('control: a view that does not replay shows the changes in listings but inotify sees none', async () => {
    const control = await startView([`${url}/live`, '-A', cred, '--backing', backing, '--no-replay']);
    const iw = await inotifywait(control.mountPoint);
    try {
      writeFileSync(join(backing, 'unseen.txt'), 'z');
      mkdirSync(join(backing, 'unseen-dir'));
      // The replaying view sees them: wait for that, so the control has had its chance too.
      const live = await inotifywait(view.mountPoint);
      try {
        writeFileSync(join(backing, 'after.txt'), 'z');
        await live.waitFor(new RegExp(`^CREATE ${view.mountPoint}/after.txt$`));
      } finally {
        live.stop();
      }
      expect(readdirSync(control.mountPoint)).toContain('unseen.txt');
      expect(iw.lines.filter((l) => /^(CREATE|DELETE|MOVED)/.test(l))).toEqual([]);
    } finally {
      iw.stop();
      await control.stop();
    }
  });
});
