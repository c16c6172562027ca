// The install the README documents, as a user runs it: `npm pack`, then `npm install -g` of the
// tarball into a prefix. The command must be a copy that survives the clone (not a link into
// it), land in PREFIX/bin, run, and the install must print no warning and compile nothing.
// Needs the npm registry (or a warm npm cache) for the dependencies, as `npm ci` does.
import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { requireBuild } from '../support/cli.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'smbnotify-install-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('npm pack + npm install -g of the tarball (README "Install")', () => {
  it('installs a copy in PREFIX/bin that runs on its own, with no warning and nothing compiled', { timeout: 300_000 }, async () => {
    requireBuild();
    // dist/ is already built by npm test's pretest: pack it as it is.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
    const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = info!.files.map((f) => f.path);
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('systemd/smbnotify-system.service');
    expect(files).toContain('systemd/io.github.smbnotify.conf');
    expect(files.filter((f) => f.startsWith('test/'))).toEqual([]);

    const prefix = join(dir, 'prefix');
    const install = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, info!.filename)], { cwd: dir }).catch((err: { stderr?: string }) => {
      throw new Error(`npm install -g of the tarball failed (it needs the npm registry or a warm cache, as npm ci does): ${err.stderr ?? String(err)}`);
    });
    expect(install.stderr).toBe('');
    expect(install.stdout).not.toMatch(/EBADENGINE|gyp|warn/i);

    // PREFIX/bin/smbnotify -> the copy in PREFIX/lib/node_modules, not the clone.
    const bin = join(prefix, 'bin', 'smbnotify');
    expect(readlinkSync(bin)).toBe('../lib/node_modules/smbnotify/dist/cli/main.js');
    const installed = join(prefix, 'lib', 'node_modules', 'smbnotify');
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(realpathSync(bin).startsWith(realpathSync(prefix))).toBe(true);
    // No native module came along.
    await expect(run('npm', ['ls', '-g', '--prefix', prefix, '--all', 'usocket'])).rejects.toBeDefined();

    const version = await run(bin, ['--version'], { cwd: '/' });
    expect(version.stdout.trim()).toBe('0.1.0');
    const ls = await run('npm', ['ls', '-g', '--prefix', prefix, '--all', '--json']);
    expect((JSON.parse(ls.stdout) as { problems?: string[] }).problems ?? []).toEqual([]);
  });
});
