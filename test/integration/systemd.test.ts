// The shipped systemd units pass `systemd-analyze verify`, with ExecStart pointing at the built
// CLI (the units name /usr/bin/smbnotify, where a package installs it), the view template for an
// instance, and the D-Bus files are well-formed.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, requireBuild } from '../support/cli.js';
import { requireTool } from '../support/tools.js';

const SYSTEMD = join(import.meta.dirname, '..', '..', 'systemd');

function verify(file: string, user: boolean): { code: number; output: string } {
  const analyze = requireTool('systemd-analyze', 'systemd');
  const dir = mkdtempSync(join(tmpdir(), 'smbnotify-units-'));
  const runtime = mkdtempSync(join(tmpdir(), 'smbnotify-xdg-'));
  chmodSync(runtime, 0o700);
  for (const name of readdirSync(SYSTEMD)) {
    if (!/\.(service|path)$/.test(name)) continue;
    writeFileSync(join(dir, name), readFileSync(join(SYSTEMD, name), 'utf8').replaceAll('/usr/bin/smbnotify', CLI));
  }
  const r = spawnSync(analyze, ['verify', ...(user ? ['--user'] : []), join(dir, file)], {
    env: { ...process.env, XDG_RUNTIME_DIR: runtime },
    encoding: 'utf8',
  });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('systemd units', () => {
  it('the built CLI is executable (ExecStart runs it directly)', () => {
    requireBuild();
    chmodSync(CLI, 0o755);
    expect(execFileSync(CLI, ['--version'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  for (const [file, user] of [
    ['smbnotify.service', true],
    ['smbnotify-journal.path', true],
    ['smbnotify-journal.service', true],
    ['smbnotify-system.service', false],
    ['smbnotify-view@mnt-projects.service', false],
  ] as const) {
    it(`systemd-analyze verify ${file} passes without warnings`, () => {
      const r = verify(file, user);
      expect(r.output).toBe('');
      expect(r.code).toBe(0);
    });
  }

  it("the view template's command line, with its mount point filled in, is one the CLI takes", () => {
    requireBuild();
    const unit = readFileSync(join(SYSTEMD, 'smbnotify-view@.service'), 'utf8');
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1];
    expect(execStart).toBe('/usr/bin/smbnotify view --allow-other %f %f');
    // %f is the unescaped instance: the mount point. This folder shows no share, so the view
    // stops at its first check, after the options were taken.
    const mountPoint = mkdtempSync(join(tmpdir(), 'smbnotify-view-unit-'));
    const args = execStart!.split(' ').slice(1).map((a) => (a === '%f' ? mountPoint : a));
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr.trim()).toBe(`smbnotify: ${mountPoint} is not inside a cifs or smb3 mount (none in /proc/self/mountinfo shows it); give an smb:// URL or //HOST/SHARE instead`);
    expect(r.status).toBe(1);
  });

  it('the D-Bus activation file and the system bus policy are well-formed', () => {
    const activation = readFileSync(join(SYSTEMD, 'io.github.smbnotify.service'), 'utf8');
    expect(activation).toMatch(/^\[D-BUS Service\]$/m);
    expect(activation).toMatch(/^Name=io\.github\.smbnotify$/m);
    expect(activation).toMatch(/^SystemdService=smbnotify\.service$/m);
    const xmllint = spawnSync('xmllint', ['--noout', join(SYSTEMD, 'io.github.smbnotify.conf')], { encoding: 'utf8' });
    if (xmllint.error) {
      // xmllint is optional; dbus-daemon itself parses the policy in the system-bus test.
      expect(readFileSync(join(SYSTEMD, 'io.github.smbnotify.conf'), 'utf8')).toMatch(/<busconfig>[\s\S]*<\/busconfig>/);
    } else expect(xmllint.status).toBe(0);
  });
});
