/**
 * Mounting as an ordinary user: fusermount3 (setuid root) opens /dev/fuse, mounts it, and sends
 * the descriptor back over the Unix socket named by _FUSE_COMMFD, as SCM_RIGHTS ancillary data.
 * Node's own sockets cannot receive descriptors, so this needs the optional native module
 * usocket (src/platform/usocket.ts); without it the view says so and how to get it.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadUsocket } from '../platform/usocket.js';

interface USocketLike {
  on(event: 'fds', listener: (fds: number[]) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  resume(): void;
  end(): void;
}

export async function mountAsUser(mountPoint: string, options: string): Promise<number> {
  const { UServer } = loadUsocket('a view for an ordinary user (receiving the /dev/fuse descriptor from fusermount3; or run the view as root)');
  const dir = mkdtempSync(join(tmpdir(), 'smbnotify-fusermount-'));
  const path = join(dir, 'sock');
  const server = new UServer();
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fusermount3 did not send the FUSE descriptor')), 20_000);
      server.on('error', reject);
      server.on('connection', (conn: unknown) => {
        const s = conn as USocketLike;
        s.on('error', reject);
        s.on('fds', (fds) => {
          clearTimeout(timer);
          for (const extra of fds.slice(1)) fs.closeSync(extra);
          s.end();
          if (fds[0] === undefined) reject(new Error('fusermount3 sent no descriptor'));
          else resolve(fds[0]);
        });
        // Descriptors arrive with data (one byte): the socket must be read for either to come.
        s.resume();
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
              reject(new Error(`fusermount3: ${stderr.trim().replace(/^fusermount3: /, '') || `exit ${status}`}`));
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
