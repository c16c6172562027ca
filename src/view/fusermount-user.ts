/**
 * Mounting as an ordinary user: fusermount3 (setuid root) opens /dev/fuse, mounts it, and sends
 * the descriptor back over the Unix socket named by _FUSE_COMMFD, as SCM_RIGHTS ancillary data.
 * Node's own sockets cannot receive descriptors, so this needs the optional native module
 * usocket; without it the view says so and how to get it.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface USocketLike {
  on(event: 'fds', listener: (fds: number[]) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  end(): void;
}
interface UServerLike {
  listen(path: string, cb: () => void): void;
  on(event: 'connection', listener: (s: USocketLike) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  close(): void;
}

async function loadUsocket(): Promise<{ UServer: new () => UServerLike }> {
  try {
    // A variable name: the module is optional and has no type declarations.
    const name = 'usocket';
    const mod = (await import(name)) as unknown as { default?: { UServer: new () => UServerLike }; UServer?: new () => UServerLike };
    const UServer = mod.UServer ?? mod.default?.UServer;
    if (!UServer) throw new Error('no UServer');
    return { UServer };
  } catch {
    throw new Error(
      'a view for an ordinary user needs the optional native module usocket (to receive the /dev/fuse descriptor from fusermount3): ' +
        'install it with `npm install usocket` (needs a C++ compiler), or run the view as root',
    );
  }
}

export async function mountAsUser(mountPoint: string, options: string): Promise<number> {
  const { UServer } = await loadUsocket();
  const dir = mkdtempSync(join(tmpdir(), 'smbnotify-fusermount-'));
  const path = join(dir, 'sock');
  const server = new UServer();
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fusermount3 did not send the FUSE descriptor')), 20_000);
      server.on('error', reject);
      server.on('connection', (s) => {
        s.on('error', reject);
        s.on('fds', (fds) => {
          clearTimeout(timer);
          for (const extra of fds.slice(1)) fs.closeSync(extra);
          s.end();
          if (fds[0] === undefined) reject(new Error('fusermount3 sent no descriptor'));
          else resolve(fds[0]);
        });
      });
      server.listen(path, () => {
        const sock = createConnection(path, () => {
          // The child gets the socket as its fd 3; Node's sockets are non-blocking, fusermount3 copes.
          const child = spawn('fusermount3', ['-o', options, '--', mountPoint], {
            stdio: ['ignore', 'ignore', 'pipe', sock],
            env: { ...process.env, _FUSE_COMMFD: '3' },
          });
          let stderr = '';
          child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
          child.on('error', (err) => reject(new Error(`fusermount3: ${err.message}`)));
          child.on('exit', (status) => {
            sock.destroy();
            if (status !== 0) {
              clearTimeout(timer);
              reject(new Error(`fusermount3: ${stderr.trim() || `exit ${status}`}`));
            }
          });
        });
        sock.on('error', reject);
      });
    });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
