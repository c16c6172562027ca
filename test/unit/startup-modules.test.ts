// Scripts call `ls` and `info` in loops, where start-up is most of the time (issue 11): the
// commands that do not watch must not load the watch, view, daemon, D-Bus or MQTT code. What the
// built CLI loads is read from Node's own module loader (a resolve hook that names each module).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, requireBuild } from '../support/cli.js';

const REGISTER = join(import.meta.dirname, '..', 'support', 'module-log-register.mjs');

function modulesLoadedBy(args: string[]): string[] {
  requireBuild();
  const r = spawnSync(process.execPath, ['--import', REGISTER, CLI, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent' } });
  const loaded = r.stderr.split('\n').filter((l) => l.startsWith('module-loaded ')).map((l) => l.slice('module-loaded '.length));
  expect(loaded.length).toBeGreaterThan(10);
  return [...new Set(loaded)];
}

describe('start-up', () => {
  it('--version and ls load neither the watch, the view, the daemon, D-Bus nor MQTT', () => {
    for (const args of [['--version'], ['ls', '--help']]) {
      const heavy = modulesLoadedBy(args).filter((url) => /\/dist\/(watch\/(?!events\.js|safe-text\.js)|view\/(?!threads-left\.js)|daemon\/|sinks\/(?!bus-errors\.js|journal-error\.js))|\/node_modules\/(dbus-next|mqtt)\//.test(url));
      expect(heavy, `loaded by ${args.join(' ')}`).toEqual([]);
    }
  });
});
