// The install the README documents, as a user runs it: `npm pack`, then `npm install -g` of the
// tarball into a prefix. The command must be a copy that survives the clone (not a link into
// it), land in PREFIX/bin, run, and the install must print no warning and compile nothing.
// Needs the npm registry (or a warm npm cache) for the dependencies, as `npm ci` does.
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { requireBuild } from '../support/cli.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'smbnotify-install-'));
/** The installed package's folder, once the first test has installed it. */
let installed = '';

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
    // Source maps would point to src/*.ts, which is not shipped.
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);

    const prefix = join(dir, 'prefix');
    const install = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, info!.filename)], { cwd: dir }).catch((err: { stderr?: string }) => {
      throw new Error(`npm install -g of the tarball failed (it needs the npm registry or a warm cache, as npm ci does): ${err.stderr ?? String(err)}`);
    });
    expect(install.stderr).toBe('');
    expect(install.stdout).not.toMatch(/EBADENGINE|gyp|warn/i);

    // PREFIX/bin/smbnotify -> the copy in PREFIX/lib/node_modules, not the clone.
    const bin = join(prefix, 'bin', 'smbnotify');
    expect(readlinkSync(bin)).toBe('../lib/node_modules/smbnotify/dist/cli/main.js');
    installed = join(prefix, 'lib', 'node_modules', 'smbnotify');
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(realpathSync(bin).startsWith(realpathSync(prefix))).toBe(true);
    // No native module came along.
    await expect(run('npm', ['ls', '-g', '--prefix', prefix, '--all', 'usocket'])).rejects.toBeDefined();

    const version = await run(bin, ['--version'], { cwd: '/' });
    expect(version.stdout.trim()).toBe('0.1.0');
    const ls = await run('npm', ['ls', '-g', '--prefix', prefix, '--all', '--json']);
    expect((JSON.parse(ls.stdout) as { problems?: string[] }).problems ?? []).toEqual([]);
  });

  it('the command that the message of a missing usocket names installs it there, and nothing of smbnotify\'s development', { timeout: 600_000 }, async () => {
    expect(installed, 'needs the install of the test above').not.toBe('');
    // The message as the installed package words it, e.g. for a view mounted by an ordinary user.
    const said = await run(process.execPath, ['--input-type=module', '-e', `import { OptionalModuleMissing } from ${JSON.stringify(join(installed, 'dist', 'platform', 'usocket.js'))}; console.log(new OptionalModuleMissing('usocket', 'a view').message)`]);
    const [, command, folder] = /run `([^`]+)` in (\S+) \(/.exec(said.stdout) ?? [];
    expect(folder).toBe(installed);
    // As a user types it (sh), with npm's cache as the first install used it, on a machine where
    // node-gyp never ran (no Node headers in its cache: it would download them).
    const env = { ...process.env, npm_config_devdir: join(dir, 'node-gyp-never-ran') };
    await run('sh', ['-c', `${command!} --prefer-offline --no-audit --no-fund`], { cwd: folder, env }).catch((err: { stderr?: string }) => {
      throw new Error(`\`${command!}\` failed in ${folder!}: ${err.stderr ?? String(err)}`);
    });
    const loaded = await run(process.execPath, ['-e', "require('usocket'); console.log('usocket loads')"], { cwd: installed });
    expect(loaded.stdout.trim()).toBe('usocket loads');
    // Not vitest, typescript and the rest of the devDependencies beside it.
    expect(existsSync(join(installed, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(join(installed, 'node_modules', 'vitest'))).toBe(false);
  });
});
