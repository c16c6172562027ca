// A live view for an ordinary user (here: nobody): mounted through fusermount3, which hands the
// /dev/fuse descriptor back over a Unix socket (the optional native module usocket receives it);
// replays work, a clean stop unmounts, and after SIGKILL the watchdog's `fusermount3 -u -z`
// gives the folder back. Without usocket the view says exactly what is missing.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requireBuild } from '../support/cli.js';
import { requireTool } from '../support/tools.js';
import { isViewMounted, unmountView } from '../support/view.js';

const DIST_VIEW = join(import.meta.dirname, '..', '..', 'dist', 'view', 'live-view.js');
const NOBODY = 65534;
let dir: string;
const mounts: string[] = [];

function hasUsocket(): boolean {
  try {
    createRequire(import.meta.url).resolve('usocket');
    return true;
  } catch {
    return false;
  }
}

beforeAll(() => {
  requireBuild();
  requireTool('fusermount3', 'fuse3');
  requireTool('setpriv', 'util-linux');
  // /tmp itself: a folder nobody can write into, outside any private temp dir of root's.
  dir = mkdtempSync('/tmp/smbnotify-view-user-');
  chmodSync(dir, 0o777);
});

afterAll(() => {
  for (const m of mounts) unmountView(m);
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a script as nobody; it prints one JSON line. */
function asNobody(script: string, args: string[] = []): { out: Record<string, unknown>; child: ReturnType<typeof spawn> } | Promise<Record<string, unknown>> {
  const file = join(dir, `script-${mounts.length}-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, script, { mode: 0o644 });
  const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir } });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`script exited ${code} without a result: ${out} ${err}`)));
  });
}

const VIEW_SCRIPT = (stay: boolean) => `
import { LiveView } from ${JSON.stringify(DIST_VIEW)};
import * as fs from 'node:fs';
const [mnt, back] = process.argv.slice(2);
try {
  const v = await LiveView.open({ mountPoint: mnt, backing: back, root: '', source: '//server/share' });
  fs.writeFileSync(back + '/from-server.txt', 'x');
  v.handle({ event: 'CREATE', path: 'from-server.txt', isDir: false });
  await v.whenIdle();
  const listing = fs.readdirSync(mnt).sort();
  if (${stay}) { console.log(JSON.stringify({ listing, uid: process.getuid() })); setInterval(() => {}, 1000); }
  else { await v.close(); console.log(JSON.stringify({ listing, uid: process.getuid(), mountedAfterClose: fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(mnt) })); }
} catch (err) { console.log(JSON.stringify({ error: err.message })); }
`;

function folders(): [string, string] {
  const mnt = mkdtempSync(join(dir, 'mnt-'));
  const back = mkdtempSync(join(dir, 'back-'));
  chmodSync(mnt, 0o777);
  chmodSync(back, 0o777);
  writeFileSync(join(back, 'hello.txt'), 'hi', { mode: 0o666 });
  mounts.push(mnt);
  return [mnt, back];
}

it('as an ordinary user: mounts through fusermount3, replays, unmounts, and SIGKILL leaves no mount; or says that usocket is missing', async () => {
  const [mnt, back] = folders();
  const r = await (asNobody(VIEW_SCRIPT(false), [mnt, back]) as Promise<Record<string, unknown>>);
  if (!hasUsocket()) {
    expect(String(r['error'])).toMatch(/needs the optional package usocket, which is not installed: run `npm install --no-save usocket`/);
    return;
  }
  expect(r).toEqual({ listing: ['from-server.txt', 'hello.txt'], uid: NOBODY, mountedAfterClose: false });
  await killedViewIsUnmounted();
});

/** After SIGKILL of a user's view, the watchdog's fusermount3 -u -z gives the folder back. */
async function killedViewIsUnmounted(): Promise<void> {
  const [mnt, back] = folders();
  const file = join(dir, 'stay.mjs');
  writeFileSync(file, VIEW_SCRIPT(true), { mode: 0o644 });
  const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, file, mnt, back], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir } });
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out);
    });
    child.on('exit', () => reject(new Error(`exited early: ${out}`)));
  });
  expect(JSON.parse(first)).toEqual({ listing: ['from-server.txt', 'hello.txt'], uid: NOBODY });
  expect(isViewMounted(mnt)).toBe(true);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  const t0 = Date.now();
  while (isViewMounted(mnt) && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 20));
  expect(isViewMounted(mnt)).toBe(false);
  expect(spawnSync('ls', [mnt]).status).toBe(0);
}
