// FUSE passthrough (src/view/passthrough.ts): as root, with the optional addon built (the test
// set-up builds it), a view hands each regular file to the kernel at OPEN, and the kernel reads
// and writes the backing file itself. Shown by stopping the view's process (SIGSTOP) after a
// file was opened: reads and writes on that descriptor still complete, which they cannot when
// they have to go through the view. `--no-passthrough` keeps file data in the view, and says
// nothing about it; the data-integrity tests (view-integrity) run both ways. Without the addon
// (a plain `npm install`), a view says what it lacks and works all the same.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';
import { until } from '../support/until.js';
import { startView } from '../support/view.js';

let samba: SambaServer;
let cred: string;
let url: string;

const ROOT = join(import.meta.dirname, '..', '..');
const ADDON = join(ROOT, 'src', 'native', 'view', 'build', 'Release', 'view.node');

beforeAll(async () => {
  requireBuild();
  requireTool('inotifywait', 'inotify-tools');
  if (process.getuid?.() !== 0) throw new Error('the passthrough tests run as root (FUSE passthrough needs CAP_SYS_ADMIN)');
  if (!fs.existsSync(ADDON)) throw new Error(`${ADDON} is missing: run npm run build:view (npm test does)`);
  samba = await startSamba({});
  cred = credentialsFile(samba);
  url = `smb://${samba.host}:${samba.port}/data`;
}, 60_000);

afterAll(async () => {
  await stopAllSamba();
});

/** Runs `script` in sh with `fd` as its standard input, killed after 5 s (a read stuck in the view). */
function withDescriptor(fd: number, script: string): { out: string; timedOut: boolean } {
  const r = spawnSync('sh', ['-c', script], { stdio: [fd, 'pipe', 'pipe'], timeout: 5000, encoding: 'utf8' });
  return { out: r.stdout, timedOut: r.error !== undefined || r.signal !== null };
}

describe('FUSE passthrough', () => {
  it('as root, the kernel reads and writes an open file itself: both go on while the view is stopped', async () => {
    const dir = join(samba.sharePath, 'pt');
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, 'file.txt'), 'from the server\n');
    const view = await startView([`${url}/pt`, '-A', cred, '--backing', dir]);
    try {
      expect(view.stderr.join('\n')).toMatch(/\(backing [^)]*\); the kernel reads and writes its files directly \(FUSE passthrough\); Ctrl-C unmounts$/m);
      // A first write and close through the view: it answers the kernel's GETXATTR (the check
      // for a file capability to drop, made before each write) and FLUSH with ENOSYS, and the
      // kernel asks neither again. So the write and the child's close of its copy of the
      // descriptor below need nothing from the view.
      fs.writeFileSync(join(view.mountPoint, 'warm-up.txt'), 'x');
      const fd = fs.openSync(join(view.mountPoint, 'file.txt'), 'r+');
      view.child.kill('SIGSTOP');
      try {
        const read = withDescriptor(fd, 'cat');
        const written = withDescriptor(fd, 'printf "written while stopped\\n" >&0');
        expect(read).toEqual({ out: 'from the server\n', timedOut: false });
        expect(written.timedOut).toBe(false);
      } finally {
        view.child.kill('SIGCONT');
      }
      fs.closeSync(fd);
      expect(fs.readFileSync(join(dir, 'file.txt'), 'utf8')).toBe('from the server\nwritten while stopped\n');
    } finally {
      await view.stop();
    }
  });

  it('many processes opening the same files at once share one registration per file: no EIO, the same bytes', async () => {
    const dir = join(samba.sharePath, 'many');
    fs.mkdirSync(dir);
    for (let i = 0; i < 4; i++) fs.writeFileSync(join(dir, `f${i}`), `file ${i}\n`.repeat(1000));
    const view = await startView([`${url}/many`, '-A', cred, '--backing', dir]);
    try {
      // 8 shells, each opening the four files 100 times, for reading and for writing: the opens
      // of one file run on several backing threads at once.
      const script = 'for i in $(seq 100); do for f in f0 f1 f2 f3; do cat "$f" > /dev/null || exit 1; : >> "$f" || exit 1; done; done';
      const runs = await Promise.all(
        Array.from({ length: 8 }, () => new Promise<number | null>((done) => spawn('sh', ['-c', script], { cwd: view.mountPoint, stdio: 'ignore' }).on('exit', done))),
      );
      expect(runs).toEqual(Array(8).fill(0));
      for (let i = 0; i < 4; i++) expect(fs.readFileSync(join(view.mountPoint, `f${i}`), 'utf8')).toBe(`file ${i}\n`.repeat(1000));
    } finally {
      await view.stop();
    }
  }, 120_000);

  it('a file a reader holds open (tail -f) still gets IN_MODIFY for each server-side append', async () => {
    // The kernel refuses any open of a file held in passthrough that is not passthrough too
    // (EIO, fs/fuse/iomode.c): the replayed MODIFY's own open must join the reader's registration.
    const dir = join(samba.sharePath, 'held');
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, 'log.txt'), 'one\n');
    const view = await startView([`${url}/held`, '-A', cred, '--backing', dir]);
    const events: string[] = [];
    const iw = spawn('inotifywait', ['-m', '--format', '%e %f', view.mountPoint], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = (chunk: Buffer) => events.push(...chunk.toString().split('\n').filter(Boolean));
    iw.stdout.on('data', lines);
    iw.stderr.on('data', lines);
    try {
      await until(() => events.includes('Watches established.'), 'inotifywait ready', 10_000);
      const fd = fs.openSync(join(view.mountPoint, 'log.txt'), 'r');
      try {
        fs.appendFileSync(join(dir, 'log.txt'), 'two\n');
        await until(() => events.includes('CLOSE_WRITE,CLOSE log.txt'), `IN_CLOSE_WRITE of log.txt (events: ${events.join(', ')})`, 15_000);
        expect(events).toContain('MODIFY log.txt');
        expect(fs.readFileSync(fd, 'utf8')).toBe('one\ntwo\n');
        // The replay's own open and release count as no change of the user's: the next append,
        // within the 3 s such a change would mask, is replayed too.
        events.length = 0;
        fs.appendFileSync(join(dir, 'log.txt'), 'three\n');
        await until(() => events.includes('CLOSE_WRITE,CLOSE log.txt'), `a second IN_CLOSE_WRITE (events: ${events.join(', ')})`, 15_000);
        expect(events).toContain('MODIFY log.txt');
        expect(fs.readFileSync(fd, 'utf8')).toBe('three\n');
      } finally {
        fs.closeSync(fd);
      }
      expect(view.stderr.filter((l) => l.includes('replay failed'))).toEqual([]);
      // The registration the replays joined ended with the reader's close: a new one is made.
      fs.appendFileSync(join(view.mountPoint, 'log.txt'), 'four\n');
      expect(fs.readFileSync(join(view.mountPoint, 'log.txt'), 'utf8')).toBe('one\ntwo\nthree\nfour\n');
    } finally {
      iw.kill();
      await view.stop();
    }
  }, 60_000);

  it('--no-passthrough: file data goes through the view (a read waits while it is stopped), and nothing is said', async () => {
    const dir = join(samba.sharePath, 'npt');
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, 'file.txt'), 'from the server\n');
    const view = await startView([`${url}/npt`, '-A', cred, '--backing', dir, '--no-passthrough']);
    try {
      expect(view.stderr.find((l) => l.startsWith('smbnotify: view of '))).toBe(
        `smbnotify: view of ${url}/npt at ${view.mountPoint} (backing ${dir}); Ctrl-C unmounts`,
      );
      fs.closeSync(fs.openSync(join(view.mountPoint, 'other.txt'), 'w'));
      // A fresh descriptor: no page of the file is cached yet, so the read must ask the view.
      const fd = fs.openSync(join(view.mountPoint, 'file.txt'), 'r');
      view.child.kill('SIGSTOP');
      let read: { out: string; timedOut: boolean };
      try {
        read = withDescriptor(fd, 'cat');
      } finally {
        view.child.kill('SIGCONT');
      }
      expect(read.timedOut).toBe(true);
      fs.closeSync(fd);
    } finally {
      await view.stop();
    }
  });
});

describe('without the optional addon (a plain npm install, no compiler)', () => {
  it('a root view says what is missing and how to build it, lists folders and passes file data itself', async () => {
    // smbnotify as installed without building the addon: the same dist/, no src/native/view/build.
    const pkg = fs.mkdtempSync(join(tmpdir(), 'smbnotify-no-addon-'));
    try {
      fs.cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
      fs.copyFileSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
      fs.symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
      const dir = join(samba.sharePath, 'no-addon');
      fs.mkdirSync(join(dir, 'sub'), { recursive: true });
      for (let i = 0; i < 300; i++) fs.writeFileSync(join(dir, `file-${i}.txt`), `content ${i}\n`.repeat(i));
      const view = await startView([`${url}/no-addon`, '-A', cred, '--backing', dir], undefined, join(pkg, 'dist', 'cli', 'main.js'));
      try {
        expect(view.stderr.find((l) => l.startsWith('smbnotify: view of '))).toBe(
          `smbnotify: view of ${url}/no-addon at ${view.mountPoint} (backing ${dir}); file data goes through smbnotify and large folders ` +
            `list slower: FUSE passthrough and fast listings need the optional addon (apt-get install build-essential python3, then npm run build:view in ${pkg}); Ctrl-C unmounts`,
        );
        // The state is said once (it was 'view: watching: watching //...').
        expect(view.stderr).toContain(`smbnotify: view: watching ${url.slice('smb:'.length)}/no-addon`);
        const listing = (d: string) => spawnSync('ls', ['-ln', '--time-style=+%s', d], { encoding: 'utf8' }).stdout.split('\n').slice(1).map((l) => l.replace(/^(\S+\s+)\d+/, '$1'));
        expect(listing(view.mountPoint)).toEqual(listing(dir));
        expect(fs.readFileSync(join(view.mountPoint, 'file-299.txt'), 'utf8')).toBe('content 299\n'.repeat(299));
      } finally {
        await view.stop();
      }
    } finally {
      fs.rmSync(pkg, { recursive: true, force: true });
    }
  }, 60_000);
});
