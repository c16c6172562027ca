// Item: a plain `npm install` needs no compiler. Nothing native is a dependency; usocket is
// loaded lazily by the features that want it, with a message saying how to get it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadUsocket, OptionalModuleMissing, PACKAGE_ROOT, tryLoadUsocket } from '../../src/platform/usocket.js';

const ROOT = join(import.meta.dirname, '..', '..');
// node-gyp is pointed at this Node's headers where they are installed (it would download them).
const NODE_PREFIX = join(process.execPath, '..', '..');
const NODEDIR = existsSync(join(NODE_PREFIX, 'include', 'node', 'node_api.h')) ? `npm_config_nodedir=${NODE_PREFIX} ` : '';

describe('install', () => {
  it('package.json lists no package that compiles at install time', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    const all = { ...pkg['dependencies'], ...pkg['optionalDependencies'] };
    // usocket compiles C++ at install time: it is loaded on demand, never a dependency.
    expect(Object.keys(all)).not.toContain('usocket');
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean; optional?: boolean; dev?: boolean }> };
    // Only dbus-next's own optional usocket 0.3.0 has an install script; npm skips it quietly
    // when it does not build, and nothing here needs it.
    const scripted = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript && !p.dev).map(([name, p]) => [name, p.optional === true]);
    expect(scripted).toEqual([['node_modules/dbus-next/node_modules/usocket', true]]);
  });

  it('npm ls reports no invalid or missing package', () => {
    const out = execFileSync('npm', ['ls', '--all', '--json'], { cwd: ROOT, encoding: 'utf8' });
    const tree = JSON.parse(out) as { problems?: string[] };
    expect(tree.problems ?? []).toEqual([]);
  });

  it('the install folder named in messages is the package root', () => {
    expect(PACKAGE_ROOT).toBe(ROOT);
  });

  it('usocket loads only on demand, and its absence names the feature and the fix', () => {
    let installed: boolean;
    try {
      createRequire(import.meta.url).resolve('usocket');
      installed = true;
    } catch {
      installed = false;
    }
    if (installed) {
      expect(typeof loadUsocket('descriptor passing').USocket).toBe('function');
    } else {
      expect(tryLoadUsocket()).toBeNull();
      expect(() => loadUsocket('receiving the FUSE descriptor from fusermount3')).toThrow(OptionalModuleMissing);
      expect(() => loadUsocket('receiving the FUSE descriptor from fusermount3')).toThrow(
        `receiving the FUSE descriptor from fusermount3 needs the optional package usocket, which is not installed: run \`${NODEDIR}npm install --no-save --omit=dev usocket\` in ${ROOT} (it compiles C++: needs python3, make and g++)`,
      );
    }
  });
});

describe('building the addons on a machine without a C compiler', () => {
  it('both build scripts say the compiler is missing and what to install (krb5-config needs one too)', () => {
    // Every program of PATH but the compiler and make, as on a machine without build-essential.
    const bin = mkdtempSync(join(tmpdir(), 'smbnotify-nocc-'));
    try {
      for (const folder of (process.env['PATH'] ?? '/usr/bin:/bin').split(delimiter)) {
        if (!existsSync(folder)) continue;
        for (const name of readdirSync(folder)) {
          if (/^(cc|c\+\+|gcc.*|g\+\+.*|make|.*-linux-gnu-.*)$/.test(name) || existsSync(join(bin, name))) continue;
          symlinkSync(join(folder, name), join(bin, name));
        }
      }
      const build = (script: string) => spawnSync('bash', [join(ROOT, 'src', 'native', script, 'build.sh')], { env: { PATH: bin, HOME: tmpdir() }, encoding: 'utf8' });
      const kerberos = build('gssapi');
      expect(kerberos.stderr).toBe('build:kerberos: no C compiler: apt-get install build-essential libkrb5-dev python3, then npm run build:kerberos\n');
      expect(kerberos.status).toBe(1);
      const view = build('view');
      expect(view.stderr).toBe('build:view: no C compiler: apt-get install build-essential python3, then npm run build:view\n');
      expect(view.status).toBe(1);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
