// The journal on a disk that refuses writes, against a real smbd: the daemon runs under a file
// size limit (`ulimit -f`, so writes past it fail with EFBIG, as on a full disk), and its watch
// keeps reporting changes. The failure must be said at the 1st, 2nd, 4th… write, not at each
// one, and once the journal can be written again an OVERFLOW line tells its readers which folder
// to list again: nothing missing from it silently.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, credentialsFile, requireBuild } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { until } from '../support/until.js';

let samba: SambaServer;
let dir: string;

function lines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-journal-full-'));
  samba = await startSamba();
  mkdirSync(join(samba.sharePath, 'scans'));
}, 60_000);

afterAll(async () => {
  await stopAllSamba();
  rmSync(dir, { recursive: true, force: true });
});

describe('a journal that cannot be written', () => {
  it('is said at 1, 2, 4, 8…, and an OVERFLOW line follows once it can be written again', { timeout: 90_000 }, async () => {
    const journal = join(dir, 'events.jsonl');
    // 12 blocks of 512 bytes: about 25 events fit, the rest of the burst below does not.
    const child = spawn('sh', ['-c', 'ulimit -f 12 && exec "$@"', 'sh', process.execPath, CLI, 'daemon', '--bus', 'none', '--journal', journal,
      '--watch', `smb://127.0.0.1:${samba.port}/data/scans`, '-r', '-A', credentialsFile(samba)], { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr: string[] = [];
    child.stderr!.on('data', (b: Buffer) => stderr.push(...b.toString('utf8').split('\n').filter(Boolean)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until(() => stderr.some((l) => /scans: watching/.test(l)), 'watching');
      for (let i = 0; i < 60; i++) {
        closeSync(openSync(join(samba.sharePath, 'scans', `scan ${i}.pdf`), 'w'));
        await new Promise((r) => setTimeout(r, 50));
      }
      await until(() => stderr.some((l) => /EFBIG/.test(l)), 'the first failed write said');
      await new Promise((r) => setTimeout(r, 3000));
      const said = stderr.filter((l) => /^journal .*EFBIG/.test(l));
      // Dozens of failed writes (one per change or so): said at 1, 2, 4, 8, 16, 32 at most.
      expect(said.length).toBeLessThanOrEqual(6);
      expect(said[0]).toMatch(/^journal .*events\.jsonl: EFBIG: file too large, write; events that could not be written are left out, an OVERFLOW line will say which folders to list again$/);
      expect(said[1]).toMatch(/; 2 times in a row, said again at 4$/);

      // Room again (here: the journal removed; a new one starts at its next write).
      const before = lines(journal).length;
      rmSync(journal);
      closeSync(openSync(join(samba.sharePath, 'scans', 'after.pdf'), 'w'));
      await until(() => lines(journal).some((l) => l.includes('after.pdf')), 'the next change in a new journal');
      const [overflow] = lines(journal).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(overflow).toMatchObject({ event: 'OVERFLOW', path: 'scans', watchId: 'w1', message: expect.stringMatching(/^the journal could not be written: \d+ events are missing from it; list the folder again$/) });
      // 60 files made at least 60 events; those not in the first journal are counted.
      const missing = Number(/: (\d+) events/.exec(String(overflow!['message']))![1]);
      expect(before + missing).toBeGreaterThanOrEqual(61);
      expect(stderr.some((l) => /^journal .*: can be written again; \d+ events had been left out, an OVERFLOW line written for each watch concerned$/.test(l))).toBe(true);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
