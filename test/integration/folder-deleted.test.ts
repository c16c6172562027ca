// A watched folder deleted by another SMB client while none of our CHANGE_NOTIFY requests is
// parked on it. Samba ends only the requests parked when the deletion starts (with
// STATUS_DELETE_PENDING); one sent later waits for ever, and our open handle keeps the folder,
// and its parent, from going ("not empty" for the other client's deltree). FolderWatch asks
// whether the folder is being deleted after every response that may have emptied it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmbClient } from '../../src/smb/client.js';
import type { SmbTree } from '../../src/smb/tree.js';
import { FileAction } from '../../src/smb/wire/notify.js';
import { FolderWatch } from '../../src/watch/folder-watch.js';
import { credentialsFile } from '../support/cli.js';
import { startSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';

let samba: SambaServer;
let client: SmbClient;
let tree: SmbTree;
let cred: string;

beforeAll(async () => {
  samba = await startSamba({ signing: 'mandatory' });
  cred = credentialsFile(samba);
  client = await SmbClient.connect({
    host: samba.host,
    port: samba.port,
    credentials: { kind: 'user', user: samba.user, domain: samba.domain, password: samba.password },
  });
  tree = await client.connectTree('data');
});

afterAll(async () => {
  await client?.close();
  await samba?.stop();
});

/** smbclient run to the end while this process is blocked: nothing of ours is sent meanwhile. */
function smbclientNow(commands: string): string {
  return execFileSync(requireTool('smbclient', 'smbclient'), ['-s', '/dev/null', '-p', String(samba.port), `//${samba.host}/data`, '-A', cred, '-c', commands], {
    encoding: 'utf8',
    timeout: 15_000,
  });
}

describe('a watched folder deleted over SMB between two requests', () => {
  it('is reported gone (STATUS_DELETE_PENDING), and the other client can then remove it and its parent', async () => {
    mkdirSync(join(samba.sharePath, 'parent', 'doomed'), { recursive: true });
    for (const f of ['a', 'b']) writeFileSync(join(samba.sharePath, 'parent', 'doomed', f), 'x');
    let deletedMeanwhile = '';
    let gone: (status: string) => void;
    const goneStatus = new Promise<string>((resolve) => {
      gone = resolve;
    });
    const fw = new FolderWatch(tree, 'parent/doomed', { bufferSize: 65536, completionFilter: 0x17f, outstanding: 1 }, {
      entries: (_fw, entries) => {
        // The only request is answered and not yet sent again: delete the rest now.
        if (!deletedMeanwhile && entries.some((e) => e.action === FileAction.REMOVED && e.fileName === 'a')) {
          deletedMeanwhile = smbclientNow('rm parent\\doomed\\b; rmdir parent\\doomed');
        }
      },
      overflow: () => undefined,
      gone: (_fw, statusName) => gone(statusName),
      unsupported: (_fw, statusName) => gone(`unsupported ${statusName}`),
      failed: (_fw, err) => gone(`failed ${err.message}`),
    });
    await fw.start();
    try {
      const removed = await samba.smbclient(['-c', 'rm parent\\doomed\\a']);
      expect(removed.code, removed.stdout).toBe(0);
      const status = await Promise.race([goneStatus, new Promise<string>((resolve) => setTimeout(() => resolve('nothing within 20 s'), 20_000))]);
      expect(deletedMeanwhile).not.toMatch(/NT_STATUS_/);
      expect(status).toBe('STATUS_DELETE_PENDING');
    } finally {
      await fw.close();
    }
    // Our handle is closed: the folder is gone, and its parent can be removed too.
    const rest = await samba.smbclient(['-c', 'rmdir parent']);
    expect(`${rest.stdout}${rest.stderr}`).not.toMatch(/NT_STATUS_/);
  }, 60_000);
});
