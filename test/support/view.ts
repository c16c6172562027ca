// Running `smbnotify view` in tests: a mount point in a temp folder, and clean-up that never
// leaves a mount behind, even when a test fails or the run is interrupted.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type Running } from './cli.js';
import { atExit } from './tools.js';

export interface RunningView extends Running {
  mountPoint: string;
  /** SIGTERM, wait for the exit, then unmount whatever is left. */
  stop(): Promise<void>;
}

function mountedViews(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' - fuse.smbnotify '))
    .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

export function isViewMounted(mountPoint: string): boolean {
  return mountedViews().includes(mountPoint);
}

/** Lazily unmounts every view at `mountPoint` (there may be none). */
export function unmountView(mountPoint: string): void {
  for (let i = 0; i < 5 && isViewMounted(mountPoint); i++) spawnSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
}

export function newMountPoint(): string {
  const dir = mkdtempSync(join(tmpdir(), 'smbnotify-view-'));
  // rmdir, never a recursive removal: a view still mounted there would lose its backing files.
  atExit(() => {
    try {
      rmdirSync(dir);
    } catch {
      // still mounted, or a test left files in it
    }
  });
  return dir;
}

/** Starts the view (of the built CLI, or `cli`) and resolves once it is mounted and watching. */
export async function startView(args: string[], mountPoint = newMountPoint(), cli?: string): Promise<RunningView> {
  const r = runCli(['view', ...args.slice(0, 1), mountPoint, ...args.slice(1)], {}, cli);
  const unregister = atExit(() => unmountView(mountPoint));
  await r.waitLine(/smbnotify: view of /, 20_000, 'stderr');
  return {
    ...r,
    mountPoint,
    async stop() {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
      await r.exit;
      unmountView(mountPoint);
      unregister();
    },
  };
}
