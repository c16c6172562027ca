// Desktop check (not in CI): GNOME Files (Nautilus), Dolphin, Thunar (XFCE) and Nemo (Cinnamon)
// on a live view under Xvfb.
// Files are changed on the server (its disk and over SMB) while each window shows the view;
// screenshots before and after go to test/desktop/results/. Look at them: the new file and
// folder must be in the "after" pictures, the renamed and deleted ones gone, without a keypress.
//   npx vitest run --config test/desktop/vitest.config.ts
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { credentialsFile, requireBuild } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';
import { startView, type RunningView } from '../support/view.js';

const RESULTS = join(import.meta.dirname, 'results');
/** The file managers, each started on the view's folder in a window of its own. */
const APPS = [
  { name: 'nautilus', cmd: 'nautilus', pkg: 'nautilus', args: ['--new-window'] },
  { name: 'dolphin', cmd: 'dolphin', pkg: 'dolphin', args: ['--new-window'] },
  { name: 'thunar', cmd: 'thunar', pkg: 'thunar', args: [] },
  { name: 'nemo', cmd: 'nemo', pkg: 'nemo', args: [] },
] as const;
let samba: SambaServer;
let view: RunningView;
let xvfb: ChildProcess;
let backing: string;
let env: NodeJS.ProcessEnv;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The standard deviation of a picture's pixels (0: one colour all over), from ImageMagick. */
function colourSpread(file: string): number {
  const r = spawnSync('identify', ['-format', '%[fx:standard_deviation]', file], { stdio: 'pipe' });
  if (r.status !== 0) throw new Error(`identify: ${r.stderr.toString()}`);
  return Number(r.stdout.toString());
}

function screenshot(name: string): string {
  const file = join(RESULTS, `${name}.png`);
  const r = spawnSync('import', ['-window', 'root', file], { env, stdio: 'pipe' });
  if (r.status !== 0) throw new Error(`import: ${r.stderr.toString()}`);
  return file;
}

beforeAll(async () => {
  requireBuild();
  for (const [tool, pkg] of [['Xvfb', 'xvfb'], ['import', 'imagemagick'], ['dbus-run-session', 'dbus-daemon']] as const) requireTool(tool, pkg);
  for (const app of APPS) requireTool(app.cmd, app.pkg);
  mkdirSync(RESULTS, { recursive: true });
  samba = await startSamba({});
  backing = join(samba.sharePath, 'desk');
  mkdirSync(join(backing, 'Existing folder'), { recursive: true });
  for (const n of ['report.odt', 'to-rename.txt', 'to-delete.txt']) writeFileSync(join(backing, n), `${n}\n`);
  view = await startView([`smb://${samba.host}:${samba.port}/data/desk`, '-A', credentialsFile(samba), '--backing', backing]);
  const display = `:${90 + Math.floor(Math.random() * 9)}`;
  xvfb = spawn('Xvfb', [display, '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  const home = mkdtempSync(join(tmpdir(), 'smbnotify-desktop-home-'));
  const runtime = join(home, 'run');
  mkdirSync(runtime, { mode: 0o700 });
  env = {
    PATH: process.env['PATH'], HOME: home, DISPLAY: display, XDG_RUNTIME_DIR: runtime,
    GDK_BACKEND: 'x11', QT_QPA_PLATFORM: 'xcb', NO_AT_BRIDGE: '1', GSETTINGS_BACKEND: 'memory', LANG: 'C.UTF-8',
  };
  for (let i = 0; i < 50 && !existsSync(`/tmp/.X11-unix/X${display.slice(1)}`); i++) await sleep(100);
}, 60_000);

afterAll(async () => {
  xvfb?.kill();
  await view?.stop();
  await stopAllSamba();
});

async function changeOnServer(tag: string): Promise<void> {
  writeFileSync(join(backing, `created-on-server-${tag}.txt`), 'made on the server\n');
  mkdirSync(join(backing, `New folder from server ${tag}`));
  renameSync(join(backing, 'to-rename.txt'), join(backing, `renamed-on-server-${tag}.txt`));
  rmSync(join(backing, 'to-delete.txt'));
  const local = join(samba.dir, 'upload.txt');
  writeFileSync(local, 'over SMB\n');
  const r = await samba.smbclient(['-c', `put ${local} desk\\uploaded-over-smb-${tag}.txt`]);
  expect(r.code, r.stderr).toBe(0);
}

/** Puts back the two names changeOnServer removes, so the next window sees the same changes. */
function reset(): void {
  writeFileSync(join(backing, 'to-rename.txt'), 'again\n');
  writeFileSync(join(backing, 'to-delete.txt'), 'again\n');
}

for (const app of APPS) {
  it(`${app.name} on the view shows server-side changes without a refresh`, async () => {
    // A session bus of its own with service activation (Nautilus waits for Tracker and friends).
    const child = spawn('dbus-run-session', ['--', app.cmd, ...app.args, view.mountPoint], { env, stdio: 'ignore', detached: true });
    try {
      await sleep(15_000);
      const before = screenshot(`${app.name}-1-before`);
      await changeOnServer(app.name);
      await sleep(6_000);
      const after = screenshot(`${app.name}-2-after`);
      console.log(`${app.name}: ${before} and ${after}`);
      // A window must be on screen: an empty display is one colour (GNOME Files once showed none
      // while something it waited on hung, and this check still passed).
      expect(colourSpread(before), `${before} is blank: ${app.name} shows no window`).toBeGreaterThan(0.05);
      expect(colourSpread(after), `${after} is blank: ${app.name} shows no window`).toBeGreaterThan(0.05);
      // The pictures show the view only while it runs: once it ended (killed from outside, say),
      // the window shows the empty folder below, with a window on screen all the same.
      expect({ exit: view.child.exitCode, signal: view.child.signalCode }, `the view ended: ${view.stderr.join('\n')}`).toEqual({ exit: null, signal: null });
      expect(readdirSync(view.mountPoint)).toContain(`created-on-server-${app.name}.txt`);
    } finally {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
      await sleep(1000);
      reset();
      await sleep(1500);
    }
  });
}
