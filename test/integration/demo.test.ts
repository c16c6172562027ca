// `smbnotify demo`, the README's main command, end to end: it must show the changes arriving
// through every consumer, exit 0, and leave no process or temporary folder behind.
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { requireBuild, runCli } from '../support/cli.js';

function demoDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('smbnotify-demo-'));
}

describe('smbnotify demo', () => {
  it('shows every consumer receiving the changes, then cleans up', async () => {
    requireBuild();
    const before = new Set(demoDirs());
    const r = runCli(['demo']);
    const { code } = await r.exit;
    const out = r.stdout.join('\n');
    expect(code, `${out}\n${r.stderr.join('\n')}`).toBe(0);
    expect(out).toMatch(/^\[watch\] CREATE\s+report\.txt$/m);
    expect(out).toMatch(/^\[watch\] MOVED_TO\s+report\.txt -> report final\.txt$/m);
    expect(out).toMatch(/^\[d-bus\] w1 CREATE\s+report\.txt$/m);
    expect(out).toMatch(/^\[journal\] \{.*"event":"DELETE".*"path":"report final\.txt"/m);
    expect(out).toMatch(/^\[kdirnotify\] FileRenamedWithLocalPath "file:\/\/.*\/Demo%20Share\/report\.txt" "file:\/\/.*\/Demo%20Share\/report%20final\.txt"/m);
    expect(out).toMatch(/every consumer saw the changes/);
    expect(out).toMatch(/cleaned up/);
    expect(demoDirs().filter((d) => !before.has(d))).toEqual([]);
    const smbd = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('smbnotify-demo-');
      } catch {
        return false;
      }
    });
    expect(smbd).toEqual([]);
  }, 120_000);
});
