// A live view for an ordinary user (here: nobody): mounted through fusermount3, which hands the
// /dev/fuse descriptor back over a Unix socket (the optional native module usocket receives it);
// replays work, a clean stop unmounts, and after SIGKILL the watchdog's `fusermount3 -u -z`
// gives the folder back. Without usocket the view says exactly what is missing. Such a view is
// mounted without default_permissions (src/view/mount.ts): the backing folder's own checks, made
// as the same user, must refuse exactly what they refuse directly.
//
// usocket is not a dependency of the project; `npm test` installs it into test/.optional
// (test/support/install-usocket.sh), and the scripts run as nobody find it through NODE_PATH.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requireBuild } from '../support/cli.js';
import { requireTool } from '../support/tools.js';
import { isViewMounted, unmountView } from '../support/view.js';

const DIST_VIEW = join(import.meta.dirname, '..', '..', 'dist', 'view', 'live-view.js');
const OPTIONAL_MODULES = join(import.meta.dirname, '..', '.optional', 'node_modules');
const NOBODY = 65534;
let dir: string;
const mounts: string[] = [];

/** usocket installed among the project's own modules (never by `npm test`). */
function projectHasUsocket(): boolean {
  try {
    createRequire(import.meta.url).resolve('usocket');
    return true;
  } catch {
    return false;
  }
}

/** NODE_PATH for scripts that need usocket; fails loudly when the test set-up did not install it. */
function usocketPath(): string {
  if (!existsSync(join(OPTIONAL_MODULES, 'usocket', 'package.json'))) {
    throw new Error(`usocket is not installed for the tests: run bash test/support/install-usocket.sh (npm test does)`);
  }
  return OPTIONAL_MODULES;
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
function asNobody(script: string, args: string[], nodePath?: string, setprivFlags: string[] = []): Promise<Record<string, unknown>> {
  const file = join(dir, `script-${mounts.length}-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, script, { mode: 0o644 });
  const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...setprivFlags, process.execPath, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: nobodyEnv(nodePath) });
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

function nobodyEnv(nodePath?: string): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, ...(nodePath ? { NODE_PATH: nodePath } : {}) };
}

it('as an ordinary user without usocket: says exactly what is missing', async () => {
  expect(projectHasUsocket(), 'this test needs usocket absent from the project\'s node_modules').toBe(false);
  const [mnt, back] = folders();
  const r = await asNobody(VIEW_SCRIPT(false), [mnt, back]);
  expect(String(r['error'])).toMatch(/needs the optional package usocket, which is not installed: run `(npm_config_nodedir=\S+ )?npm install --no-save --omit=dev usocket`/);
});

it('as an ordinary user: mounts through fusermount3, replays, unmounts, and SIGKILL leaves no mount', async () => {
  const [mnt, back] = folders();
  const r = await asNobody(VIEW_SCRIPT(false), [mnt, back], usocketPath());
  expect(r).toEqual({ listing: ['from-server.txt', 'hello.txt'], uid: NOBODY, mountedAfterClose: false });
  await killedViewIsUnmounted();
});

it('as an ordinary user with no_new_privs (what NoNewPrivileges= and seccomp settings give a systemd user unit): fusermount3 cannot mount, and the view says so', async () => {
  const [mnt, back] = folders();
  const r = await asNobody(VIEW_SCRIPT(false), [mnt, back], usocketPath(), ['--no-new-privs']);
  expect(String(r['error'])).toBe('fusermount3: mount failed: Operation not permitted');
  expect(isViewMounted(mnt)).toBe(false);
});

// Each check runs directly in the backing folder and through the view, as nobody; the outcomes
// (an errno code or 'ok') must be the same, and a replay into a folder nobody may not write to
// must still appear.
const PERMISSION_SCRIPT = `
import { LiveView } from ${JSON.stringify(DIST_VIEW)};
import * as fs from 'node:fs';
const [mnt, back] = process.argv.slice(2);
const outcome = (f) => { try { f(); return 'ok'; } catch (err) { return err.code; } };
const checks = (root) => ({
  writeReadOnly: outcome(() => fs.closeSync(fs.openSync(root + '/ro.txt', 'r+'))),
  readReadOnly: outcome(() => fs.readFileSync(root + '/ro.txt')),
  readRootsSecret: outcome(() => fs.readFileSync(root + '/secret.txt')),
  createInReadOnlyFolder: outcome(() => fs.writeFileSync(root + '/rodir/new.txt', 'x')),
  unlinkInReadOnlyFolder: outcome(() => fs.unlinkSync(root + '/rodir/kept.txt')),
  listClosedFolder: outcome(() => fs.readdirSync(root + '/closed')),
  chmodRootsFile: outcome(() => fs.chmodSync(root + '/secret.txt', 0o644)),
  accessWriteReadOnly: outcome(() => fs.accessSync(root + '/ro.txt', fs.constants.W_OK)),
  accessReadReadOnly: outcome(() => fs.accessSync(root + '/ro.txt', fs.constants.R_OK)),
  accessExecPlainFile: outcome(() => fs.accessSync(root + '/ro.txt', fs.constants.X_OK)),
  writeOwnFile: outcome(() => fs.appendFileSync(root + '/own.txt', 'y')),
});
try {
  const v = await LiveView.open({ mountPoint: mnt, backing: back, root: '', source: '//server/share' });
  const direct = checks(back);
  const view = checks(mnt);
  v.handle({ event: 'CREATE', path: 'rodir/from-server.txt', isDir: false });
  await v.whenIdle();
  const replayed = { listing: fs.readdirSync(mnt + '/rodir').sort(), failed: v.stats.failed, replayed: v.stats.replayed };
  await v.close();
  console.log(JSON.stringify({ direct, view, replayed }));
} catch (err) { console.log(JSON.stringify({ error: err.message })); }
`;

it('as an ordinary user: the view refuses exactly what the backing folder refuses', async () => {
  const [mnt, back] = folders();
  writeFileSync(join(back, 'ro.txt'), 'r', { mode: 0o444 });
  writeFileSync(join(back, 'own.txt'), 'o', { mode: 0o644 });
  writeFileSync(join(back, 'secret.txt'), 's', { mode: 0o600 });
  mkdirSync(join(back, 'rodir'));
  writeFileSync(join(back, 'rodir', 'kept.txt'), 'k');
  mkdirSync(join(back, 'closed'), { mode: 0o700 });
  for (const p of ['ro.txt', 'own.txt', 'rodir', 'rodir/kept.txt']) chownSync(join(back, p), NOBODY, NOBODY);
  chmodSync(join(back, 'rodir'), 0o555);
  // The server's new file, written by root as Samba would; the script replays its CREATE.
  writeFileSync(join(back, 'rodir', 'from-server.txt'), '');
  const r = await asNobody(PERMISSION_SCRIPT, [mnt, back], usocketPath()).catch((err: Error) => ({ error: err.message }) as Record<string, unknown>);
  expect(r['error']).toBeUndefined();
  expect(r['direct']).toEqual({
    writeReadOnly: 'EACCES', readReadOnly: 'ok', readRootsSecret: 'EACCES', createInReadOnlyFolder: 'EACCES',
    unlinkInReadOnlyFolder: 'EACCES', listClosedFolder: 'EACCES', chmodRootsFile: 'EPERM', accessWriteReadOnly: 'EACCES',
    accessReadReadOnly: 'ok', accessExecPlainFile: 'EACCES', writeOwnFile: 'ok',
  });
  expect(r['view']).toEqual(r['direct']);
  expect(r['replayed']).toEqual({ listing: ['from-server.txt', 'kept.txt'], failed: 0, replayed: 1 });
});

/** After SIGKILL of a user's view, the watchdog's fusermount3 -u -z gives the folder back. */
async function killedViewIsUnmounted(): Promise<void> {
  const [mnt, back] = folders();
  const file = join(dir, 'stay.mjs');
  writeFileSync(file, VIEW_SCRIPT(true), { mode: 0o644 });
  const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, file, mnt, back], { stdio: ['ignore', 'pipe', 'pipe'], env: nobodyEnv(usocketPath()) });
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

it('as an ordinary user: a backing folder the user cannot read is refused before mounting, in words', async () => {
  const [mnt, back] = folders();
  chmodSync(back, 0o700);
  const r = await asNobody(VIEW_SCRIPT(false), [mnt, back], usocketPath());
  expect(r).toEqual({ error: `backing folder ${back}: permission denied (you cannot read it)` });
  expect(isViewMounted(mnt)).toBe(false);
});
