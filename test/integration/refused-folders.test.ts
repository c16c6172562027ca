// A folder the server will not open for the watch's user (no access): `watch -r` says once that it
// cannot watch it and goes on. When its permissions change to let the user in (chmod, an ACL), the
// server reports that change of the folder to its parent's watch: the folder is then opened,
// listed (its contents as rescan events) and watched like any other.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';

let samba: SambaServer;
let cred: string;
let url: string;

beforeAll(async () => {
  requireBuild();
  if (process.getuid?.() !== 0) throw new Error('a folder closed to the session\'s user needs smbd to switch users: run the tests as root, as CI does');
  // SMB operations run as the session's own user (smbnotify-test), not as the test process's.
  samba = await startSamba({ forceUser: false });
  cred = credentialsFile(samba);
  url = `smb://${samba.host}:${samba.port}/data`;
});

afterAll(async () => {
  await stopAllSamba();
});

describe('a folder closed to the user', () => {
  it('watch -r: said once at the start; once opened to the user (chmod), its contents and changes are reported', async () => {
    // Before, it stayed unwatched for good: the listing showed closed/secret and closed/after.txt,
    // the stream never did.
    const closed = join(samba.sharePath, 'closed');
    mkdirSync(closed);
    writeFileSync(join(closed, 'secret'), 'x');
    chmodSync(closed, 0o700);
    const r = runCli(['watch', '-m', '-r', url, '-A', cred]);
    try {
      await r.waitLine(/WATCHING/, 15_000, 'stderr');
      chmodSync(closed, 0o755);
      await r.waitLine(/closed\/secret/);
      writeFileSync(join(closed, 'after.txt'), 'x');
      await r.waitLine(/CREATE {10}closed\/after\.txt/);
    } finally {
      r.child.kill('SIGTERM');
      await r.exit;
    }
    expect(r.stdout.filter((l) => l.startsWith('CREATE'))).toEqual(['CREATE          closed/secret [rescan]', 'CREATE          closed/after.txt']);
    expect(r.stderr.filter((l) => l.includes('cannot watch'))).toEqual([
      `${url} CONNECTING: cannot watch //${samba.host}:${samba.port}/data/closed (STATUS_ACCESS_DENIED): its changes are not reported`,
    ]);
  });
});
