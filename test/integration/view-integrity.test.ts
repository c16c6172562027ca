// Data through the live view is the backing folder's data, byte for byte: a randomized sequence
// of file operations (random-offset writes, truncate, append, rename over, unlink of open files,
// sparse files, many handles) applied to a view and to a reference folder gives identical bytes
// and listings; so do `tar x` and `git clone` of a real repository. And when the process serving
// a view is killed, the mount point works again at once (for an over-mount: the folder below).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { mulberry32 } from '../support/random.js';
import { requireTool } from '../support/tools.js';
import { isViewMounted, startView, type RunningView } from '../support/view.js';

let samba: SambaServer;
let cred: string;
let url: string;
let view: RunningView;
let backing: string;

const REPO = join(import.meta.dirname, '..', '..');

beforeAll(async () => {
  requireBuild();
  requireTool('fusermount3', 'fuse3');
  requireTool('git', 'git');
  requireTool('tar', 'tar');
  samba = await startSamba({});
  cred = credentialsFile(samba);
  url = `smb://${samba.host}:${samba.port}/data`;
  backing = join(samba.sharePath, 'integrity');
  fs.mkdirSync(backing);
  view = await startView([`${url}/integrity`, '-A', cred, '--backing', backing]);
}, 60_000);

afterAll(async () => {
  await view?.stop();
  await stopAllSamba();
});

/** Every path below `root` with its type and, for files, its bytes (as hex digests would hide a diff). */
function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const abs = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) {
        out.set(r, 'dir');
        walk(abs, r);
      } else if (st.isSymbolicLink()) out.set(r, `link:${fs.readlinkSync(abs)}`);
      else out.set(r, `file:${st.size}:${st.mode & 0o777}:${fs.readFileSync(abs).toString('base64')}`);
    }
  };
  walk(root, '');
  return out;
}

function expectSameTree(a: string, b: string): void {
  const ta = tree(a);
  const tb = tree(b);
  expect([...ta.keys()]).toEqual([...tb.keys()]);
  for (const [k, v] of ta) if (v !== tb.get(k)) expect.fail(`${k} differs: ${v.slice(0, 80)} vs ${(tb.get(k) ?? 'missing').slice(0, 80)}`);
}

/**
 * Files opened write-only are answered FOPEN_DIRECT_IO (from Linux 6.9, FUSE 7.40): their writes
 * leave no pages behind, and drop the written range from the cache of other descriptors.
 */
function checkDirectWrites(mountPoint: string, backingDir: string): void {
  const resident = (p: string) => Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', p], { encoding: 'utf8' }).trim());
  const [major, minor] = release().split('.').map(Number) as [number, number];
  // Linux 6.9 speaks FUSE 7.40, from which the view answers write-only opens FOPEN_DIRECT_IO.
  const direct = major > 6 || (major === 6 && minor >= 9);
  // The file is read whole into the cache, then its first MiB is overwritten through a
  // write-only descriptor; its mtime is put back behind the view each time, so that only the
  // write itself can drop pages.
  const file = join(mountPoint, 'file');
  const keepMtime = () => fs.utimesSync(join(backingDir, 'file'), 1_700_000_000, 1_700_000_000);
  fs.writeFileSync(file, Buffer.alloc(4 << 20, 7));
  keepMtime();
  fs.readFileSync(file);
  expect(resident(file)).toBe(4 << 20);
  const writer = fs.openSync(file, fs.constants.O_WRONLY);
  fs.writeSync(writer, Buffer.alloc(1 << 20, 8), 0, 1 << 20, 0);
  fs.closeSync(writer);
  keepMtime();
  expect(resident(file)).toBe(direct ? 3 << 20 : 4 << 20);

  // The same size and the same mtime: the kernel's check of the attributes (AUTO_INVAL_DATA)
  // sees no change, so only dropping the written range keeps the reader's pages right.
  const SIZE = 8192;
  const reader = fs.openSync(file, 'r');
  const seen = Buffer.alloc(SIZE);
  const stale: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      fs.readSync(reader, seen, 0, SIZE, 0);
      const fill = 65 + (i % 26);
      const writer = fs.openSync(file, fs.constants.O_WRONLY);
      fs.writeSync(writer, Buffer.alloc(SIZE, fill), 0, SIZE, 0);
      fs.closeSync(writer);
      keepMtime();
      fs.readSync(reader, seen, 0, SIZE, 0);
      if (seen[0] !== fill || seen[SIZE - 1] !== fill) stale.push(i);
    }
  } finally {
    fs.closeSync(reader);
  }
  expect(stale).toEqual([]);
}

/**
 * A randomized sequence of file operations, applied through the view at `mountPoint` (showing
 * `backingDir`) and to a reference folder, gives the same results, bytes and listing.
 */
function randomizedSequenceMatches(mountPoint: string, backingDir: string): void {
  const seed = Number(process.env['VIEW_SEED'] ?? Date.now() % 100000);
  const rnd = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (n: number) => Math.floor(rnd() * n);
  const viewDir = join(mountPoint, 'random');
  const refDir = mkdtempSync(join(tmpdir(), 'smbnotify-ref-'));
  fs.mkdirSync(viewDir);
  const roots = [viewDir, refDir];
  const names = Array.from({ length: 12 }, (_, i) => `f${i}`);
  const dirs = ['', 'd1', 'd2'];
  // Open handles: the same handle on both sides, [viewFd, refFd].
  const handles: { fds: number[]; path: string }[] = [];
  const log: string[] = [];
  const both = (what: string, fn: (root: string, i: number) => unknown): void => {
    log.push(what);
    const results = roots.map((r, i) => {
      try {
        return { ok: fn(r, i) };
      } catch (err) {
        return { err: (err as NodeJS.ErrnoException).code ?? String(err) };
      }
    });
    expect(JSON.stringify(results[0]), `seed ${seed}, step ${log.length}: ${what}`).toBe(JSON.stringify(results[1]));
  };
  for (let step = 0; step < 1500; step++) {
    const file = `${pick(dirs)}${pick(dirs) ? '/' : ''}${pick(names)}`.replace(/^\//, '');
    const op = int(12);
    if (op === 0) both(`mkdir ${file}`, (r) => fs.mkdirSync(join(r, file.split('/')[0]!), { recursive: true }) && undefined);
    else if (op === 1 && handles.length < 40) {
      const flags = pick(['r+', 'w+', 'a+', 'wx', 'r']);
      const fds: number[] = [];
      both(`open ${file} ${flags}`, (r) => void fds.push(fs.openSync(join(r, file), flags)));
      if (fds.length === 2) handles.push({ fds, path: file });
      else fds.forEach((fd) => fs.closeSync(fd));
    } else if (op === 2 && handles.length) {
      const h = pick(handles);
      const data = Buffer.alloc(int(3) === 0 ? int(300_000) : int(5000), int(256));
      for (let i = 0; i < data.length; i += 97) data[i] = int(256);
      const at = int(4) === 0 ? int(2_000_000) : int(20_000); // sometimes far: a sparse file
      both(`pwrite ${h.path} ${data.length}@${at}`, (_r, i) => fs.writeSync(h.fds[i]!, data, 0, data.length, at));
    } else if (op === 3 && handles.length) {
      const h = pick(handles);
      const len = int(100_000);
      const at = int(500_000);
      both(`pread ${h.path} ${len}@${at}`, (_r, i) => {
        const b = Buffer.alloc(len);
        const n = fs.readSync(h.fds[i]!, b, 0, len, at);
        return b.subarray(0, n).toString('base64');
      });
    } else if (op === 4 && handles.length) {
      const h = pick(handles);
      const size = int(400_000);
      both(`ftruncate ${h.path} ${size}`, (_r, i) => fs.ftruncateSync(h.fds[i]!, size));
    } else if (op === 5) {
      const size = int(100_000);
      both(`truncate ${file} ${size}`, (r) => fs.truncateSync(join(r, file), size));
    } else if (op === 6) {
      const data = Buffer.from(`append ${step}\n`.repeat(int(50)));
      both(`append ${file}`, (r) => fs.appendFileSync(join(r, file), data));
    } else if (op === 7) {
      const to = `${pick(dirs)}/${pick(names)}`.replace(/^\//, '');
      both(`rename ${file} ${to}`, (r) => fs.renameSync(join(r, file), join(r, to)));
    } else if (op === 8) {
      // Unlink, even while handles are open on it: they keep working.
      both(`unlink ${file}`, (r) => fs.unlinkSync(join(r, file)));
    } else if (op === 9 && handles.length) {
      const h = handles.splice(int(handles.length), 1)[0]!;
      both(`close ${h.path}`, (_r, i) => fs.closeSync(h.fds[i]!));
    } else if (op === 10) {
      both(`stat ${file}`, (r) => {
        const st = fs.statSync(join(r, file));
        return [st.size, st.isDirectory(), st.blocks > 0 || st.size === 0];
      });
    } else if (op === 11) {
      both(`readdir ${file.split('/')[0]}`, (r) => fs.readdirSync(join(r, file.split('/')[0]!)).sort());
    }
  }
  for (const h of handles) both(`close ${h.path}`, (_r, i) => fs.closeSync(h.fds[i]!));
  expectSameTree(viewDir, refDir);
  // And the bytes really are in the backing folder.
  expectSameTree(join(backingDir, 'random'), refDir);
}

describe('data through the view', () => {
  // As root, the kernel reads and writes the view's files itself (FUSE passthrough), where the
  // optional addon is built; the second test passes data through the view's own threads.
  it('a randomized file-operation sequence gives the same bytes and listing as on a reference folder', () => {
    randomizedSequenceMatches(view.mountPoint, backing);
  }, 240_000);

  it('the same without FUSE passthrough (file data through the view, as for an ordinary user)', async () => {
    const dir = join(samba.sharePath, 'integrity-np');
    fs.mkdirSync(dir);
    const plain = await startView([`${url}/integrity-np`, '-A', cred, '--backing', dir, '--no-passthrough']);
    try {
      randomizedSequenceMatches(plain.mountPoint, dir);
    } finally {
      await plain.stop();
    }
  }, 240_000);

  it('a write-only descriptor writes past the page cache, and a reader holding cached pages sees each new byte', async () => {
    // A backing folder outside the share: the mtime put back below must not come back from the
    // server as a change, whose replay would drop the file's pages by itself.
    const local = mkdtempSync(join(tmpdir(), 'smbnotify-direct-'));
    // The page cache of the view's own files: not used by FUSE passthrough.
    // Watching a folder of the share that stays empty: the view shows `local` (a backing folder
    // that holds none of a share folder's names would be refused).
    fs.mkdirSync(join(samba.sharePath, 'direct-writes'));
    const localView = await startView([`${url}/direct-writes`, '-A', cred, '--backing', local, '--no-passthrough']);
    try {
      checkDirectWrites(localView.mountPoint, local);
    } finally {
      await localView.stop();
      fs.rmSync(local, { recursive: true });
    }
  });


  it('listings: a fresh one and one read again later through the same handle show the backing folder, attributes included', () => {
    const dir = join(backing, 'listed');
    fs.mkdirSync(dir);
    for (let i = 0; i < 600; i++) fs.writeFileSync(join(dir, `f${i}`), 'x'.repeat(i));
    fs.mkdirSync(join(dir, 'sub'));
    fs.symlinkSync('f1', join(dir, 'link'));
    // Each listing of the folder, as name type size, through one descriptor: the first when it
    // is opened, the second 1.5 s later after rewinding it (the same handle: the names as listed
    // at OPENDIR, the attributes as they are now). A file grows in between.
    const script = [
      'import os, sys, time',
      'fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)',
      'def listing():',
      '    return sorted(f"{e.name} {\'d\' if e.is_dir(follow_symlinks=False) else \'l\' if e.is_symlink() else \'f\'} {e.stat(follow_symlinks=False).st_size}" for e in os.scandir(fd))',
      'print("|".join(listing()), flush=True)',
      'time.sleep(1.5)',
      'open(sys.argv[2], "a").write("grown")',
      'print("|".join(listing()), flush=True)',
    ].join('\n');
    const [first, again] = execFileSync('python3', ['-c', script, join(view.mountPoint, 'listed'), join(dir, 'f7')], { encoding: 'utf8' }).trim().split('\n');
    const expected = () => fs.readdirSync(dir).map((n) => {
      const st = fs.lstatSync(join(dir, n));
      return `${n} ${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f'} ${st.isDirectory() ? fs.lstatSync(join(view.mountPoint, 'listed', n)).size : st.size}`;
    }).sort().join('|');
    expect(again).toBe(expected());
    expect(first!.split('|')).toHaveLength(602);
    expect(first!.split('|').find((l) => l.startsWith('f7 '))).toBe('f7 f 7');
    expect(again!.split('|').find((l) => l.startsWith('f7 '))).toBe('f7 f 12');
  });

  it('a listing of several parts: a write through the view between parts and names removed after OPENDIR show in the parts read after', () => {
    const dir = join(backing, 'parts');
    fs.mkdirSync(dir);
    // 4-byte names: about 200 entries a 32 KiB READDIRPLUS part.
    for (let i = 0; i < 700; i++) fs.writeFileSync(join(dir, `f${String(i).padStart(3, '0')}`), 'abc');
    // After the first part, the backing thread prepares the second (reads its attributes ahead):
    // a write through the view to a name of that part must still show, and names removed from
    // the backing folder after OPENDIR must not show in the parts read after.
    const script = [
      'import os, sys, time',
      'view_dir, backing_dir = sys.argv[1], sys.argv[2]',
      'order = [e.name for e in os.scandir(view_dir)]',
      'grow, drop = order[300], set(order[500:560])',
      'it = os.scandir(view_dir)',
      'first = next(it)',
      'time.sleep(0.02)',
      'with open(os.path.join(view_dir, grow), "a") as f: f.write("grown")',
      'sizes = {e.name: e.stat(follow_symlinks=False).st_size for e in it}',
      'print(sizes[grow], len(sizes) + 1, flush=True)',
      'it = os.scandir(view_dir)',
      'first = next(it)',
      'for name in drop: os.unlink(os.path.join(backing_dir, name))',
      'time.sleep(0.3)',
      'rest = [e.name for e in it]',
      'print(sorted(rest + [first.name]) == sorted(set(order) - drop), flush=True)',
    ].join('\n');
    const out = execFileSync('python3', ['-c', script, join(view.mountPoint, 'parts'), dir], { encoding: 'utf8' }).trim().split('\n');
    expect(out).toEqual(['8 700', 'True']);
  });

  it('names of any bytes (not UTF-8, UTF-8, control characters) are listed and found with those bytes', () => {
    const dir = join(backing, 'bytes');
    fs.mkdirSync(dir);
    const names = [Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from('caf\u00e9 \u00fc\u4e2d'), Buffer.from([0x01, 0x7f, 0x80, 0xff, 0x0a]), Buffer.from('plain')];
    for (const name of names) fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), name]), name);
    const script = [
      'import os, sys',
      'for d in sys.argv[1:]:',
      '    print(sorted((n.hex(), os.lstat(os.path.join(d.encode(), n)).st_size) for n in os.listdir(d.encode())))',
    ].join('\n');
    const [viewed, direct] = execFileSync('python3', ['-c', script, join(view.mountPoint, 'bytes'), dir], { encoding: 'utf8' }).trim().split('\n');
    expect(viewed).toBe(direct);
    expect(direct).toContain("('636166e9', 4)");
  });

  it('tar x into the view gives the same tree as into a reference folder', () => {
    const archive = join(mkdtempSync(join(tmpdir(), 'smbnotify-tar-')), 'src.tar');
    execFileSync('tar', ['-cf', archive, '-C', REPO, 'src', 'test', 'docs', 'package.json']);
    const ref = mkdtempSync(join(tmpdir(), 'smbnotify-ref-'));
    const into = join(view.mountPoint, 'tar');
    fs.mkdirSync(into);
    execFileSync('tar', ['-xf', archive, '-C', into]);
    execFileSync('tar', ['-xf', archive, '-C', ref]);
    expectSameTree(into, ref);
    expectSameTree(join(backing, 'tar'), ref);
  }, 120_000);

  it('git clone of a real repository into the view: fsck clean, same files as a reference clone', () => {
    const source = mkdtempSync(join(tmpdir(), 'smbnotify-gitsrc-'));
    // A small real repository of our own making, so the test does not depend on where it runs.
    execFileSync('cp', ['-r', join(REPO, 'src'), join(REPO, 'docs'), source]);
    const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe' }).toString();
    git(source, 'init', '-q');
    git(source, 'add', '.');
    git(source, 'commit', '-qm', 'one');
    fs.appendFileSync(join(source, 'docs', 'README.md'), 'more\n');
    git(source, 'commit', '-qam', 'two');
    const ref = join(mkdtempSync(join(tmpdir(), 'smbnotify-ref-')), 'clone');
    const into = join(view.mountPoint, 'clone');
    git(tmpdir(), 'clone', '-q', '--no-local', source, ref);
    git(tmpdir(), 'clone', '-q', '--no-local', source, into);
    git(into, 'fsck', '--full', '--strict');
    expect(git(into, 'status', '--porcelain')).toBe('');
    expect(git(into, 'log', '--format=%H')).toBe(git(ref, 'log', '--format=%H'));
    fs.rmSync(join(ref, '.git'), { recursive: true });
    const copy = mkdtempSync(join(tmpdir(), 'smbnotify-copy-'));
    execFileSync('cp', ['-r', into, copy]);
    fs.rmSync(join(copy, 'clone', '.git'), { recursive: true });
    expectSameTree(join(copy, 'clone'), ref);
  }, 120_000);
});

describe('crash safety', () => {
  it('SIGKILL of the process serving a view: the mount point works again within a second', async () => {
    const v = await startView([`${url}/integrity`, '-A', cred, '--backing', backing]);
    try {
      expect(isViewMounted(v.mountPoint)).toBe(true);
      fs.writeFileSync(join(v.mountPoint, 'before-kill.txt'), 'x');
      const t0 = Date.now();
      v.child.kill('SIGKILL');
      await v.exit;
      while (isViewMounted(v.mountPoint) && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 20));
      expect(isViewMounted(v.mountPoint)).toBe(false);
      // The plain (empty) folder is back: no "Transport endpoint is not connected".
      expect(fs.readdirSync(v.mountPoint)).toEqual([]);
      fs.writeFileSync(join(v.mountPoint, 'after.txt'), 'y');
      fs.unlinkSync(join(v.mountPoint, 'after.txt'));
      expect(fs.readFileSync(join(backing, 'before-kill.txt'), 'utf8')).toBe('x');
    } finally {
      await v.stop();
    }
  });

  it('a view over its own backing folder (as over a cifs mount point): after SIGKILL the folder below is back', async () => {
    // The share's own folder on the server's disk, covered by the view (as a cifs mount point is).
    const dir = join(samba.sharePath, 'over');
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, 'below.txt'), 'below');
    const v = await startView([`${url}/over`, '-A', cred, '--backing', dir], dir);
    try {
      expect(isViewMounted(dir)).toBe(true);
      // Through the view: the covered folder's files, read and written.
      expect(fs.readFileSync(join(dir, 'below.txt'), 'utf8')).toBe('below');
      fs.writeFileSync(join(dir, 'through-view.txt'), 'v');
      expect(fs.readdirSync(dir).sort()).toEqual(['below.txt', 'through-view.txt']);
      v.child.kill('SIGKILL');
      await v.exit;
      const t0 = Date.now();
      while (isViewMounted(dir) && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 20));
      expect(isViewMounted(dir)).toBe(false);
      expect(fs.readdirSync(dir).sort()).toEqual(['below.txt', 'through-view.txt']);
      expect(fs.readFileSync(join(dir, 'through-view.txt'), 'utf8')).toBe('v');
    } finally {
      await v.stop();
    }
  });

  it('Ctrl-C (SIGINT) unmounts and exits 0', async () => {
    const v = await startView([`${url}/integrity`, '-A', cred, '--backing', backing]);
    v.child.kill('SIGINT');
    const { code } = await v.exit;
    expect(code).toBe(0);
    expect(isViewMounted(v.mountPoint)).toBe(false);
    await v.stop();
  });
});
