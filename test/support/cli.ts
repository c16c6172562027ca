// Running the built CLI as a real process, with credentials in a 0600 file (never on argv).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SambaServer } from './samba.js';
import { atExit } from './tools.js';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" (npm test does it in its pretest)`);
}

export function credentialsFile(samba: SambaServer): string {
  const dir = mkdtempSync(join(tmpdir(), 'smbnotify-cred-'));
  const file = join(dir, 'cred');
  writeFileSync(file, `username=${samba.user}\npassword=${samba.password}\ndomain=${samba.domain}\n`, { mode: 0o600 });
  atExit(() => rmSync(dir, { recursive: true, force: true }));
  return file;
}

export interface Running {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolve when a stdout line matches. */
  waitLine(re: RegExp, timeoutMs?: number, stream?: 'stdout' | 'stderr'): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start the CLI; lines of stdout and stderr are collected as they come. */
export function runCli(args: string[], env: Record<string, string> = {}, cli = CLI): Running {
  requireBuild();
  const child = spawn(process.execPath, [cli, ...args], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<() => void> = [];
  const collect = (into: string[]) => {
    let partial = '';
    return (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop()!;
      into.push(...lines);
      for (const w of [...waiters]) w();
    };
  };
  child.stdout!.on('data', collect(stdout));
  child.stderr!.on('data', collect(stderr));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      // Let the last data events land first.
      setTimeout(() => resolve({ code, signal }), 50);
    });
  });
  return {
    child,
    stdout,
    stderr,
    exit,
    waitLine(re, timeoutMs = 10_000, stream = 'stdout') {
      const lines = stream === 'stdout' ? stdout : stderr;
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => re.test(l));
          if (!found) return;
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`no ${stream} line matching ${re} within ${timeoutMs} ms; stdout: ${stdout.slice(-10).join(' | ')}; stderr: ${stderr.slice(-10).join(' | ')}`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
  };
}
