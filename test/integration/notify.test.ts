// CHANGE_NOTIFY against a real smbd: the FILE_NOTIFY_INFORMATION of a file created on the
// server's disk, a cancelled request (sync and async cancel forms), the compounded
// CREATE + CHANGE_NOTIFY, a server with `change notify = no`, and a watched folder deleted by
// another client while none of our requests is parked on it (Samba ends only the parked ones
// with STATUS_DELETE_PENDING: FolderWatch asks DeletePending after responses that may have
// emptied the folder).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmbClient } from '../../src/smb/client.js';
import type { SmbTree } from '../../src/smb/tree.js';
import { decodeOutputBuffer } from '../../src/smb/wire/query-directory.js';
import { FileAction, decodeFileNotifyInformation } from '../../src/smb/wire/notify.js';
import { NtStatus } from '../../src/smb/wire/ntstatus.js';
import { FolderWatch } from '../../src/watch/folder-watch.js';
import { credentialsFile } from '../support/cli.js';
import { notifyDaemonWatching } from '../support/notify-daemon.js';
import { startSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';

let samba: SambaServer;
let client: SmbClient;
let tree: SmbTree;

beforeAll(async () => {
  samba = await startSamba({ signing: 'mandatory' });
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

describe('CHANGE_NOTIFY', () => {
  it('reports a file created on the server disk as FILE_ACTION_ADDED with its name', async () => {
    mkdirSync(join(samba.sharePath, 'watched'));
    const { fileId } = await tree.open('watched', true);
    const inflight = tree.changeNotify(fileId, { outputBufferLength: 65536 });
    await inflight.interim;
    expect(inflight.asyncId).not.toBeNull();
    // The interim comes before smbd's notify daemon watches the disk: a change made earlier is lost.
    await notifyDaemonWatching(samba, join(samba.sharePath, 'watched'));
    writeFileSync(join(samba.sharePath, 'watched', 'new file ü.txt'), 'x');
    const res = await inflight.response;
    expect(res.header.status).toBe(NtStatus.SUCCESS);
    const entries = decodeFileNotifyInformation(decodeOutputBuffer(res.message, 'CHANGE_NOTIFY'));
    expect(entries[0]).toEqual({ action: FileAction.ADDED, fileName: 'new file ü.txt' });
    await tree.close(fileId);
  });

  it('reports changes below the folder with WATCH_TREE over SMB', async () => {
    mkdirSync(join(samba.sharePath, 'deep', 'a', 'b'), { recursive: true });
    const { handle, notify } = await tree.openAndWatch('deep', { outputBufferLength: 65536, watchTree: true });
    await notify.interim;
    // A second client makes the change over SMB, so Samba reports it at any depth.
    const other = await samba.smbclient(['-c', 'mkdir deep\\a\\b\\c']);
    expect(other.code).toBe(0);
    const res = await notify.response;
    expect(res.header.status).toBe(NtStatus.SUCCESS);
    const entries = decodeFileNotifyInformation(decodeOutputBuffer(res.message, 'CHANGE_NOTIFY'));
    expect(entries).toContainEqual({ action: FileAction.ADDED, fileName: 'a\\b\\c' });
    await tree.close(handle.fileId);
  });

  it('a cancelled request completes with STATUS_CANCELLED (async form, after the interim)', async () => {
    const { fileId } = await tree.open('', true);
    const inflight = tree.changeNotify(fileId, { outputBufferLength: 4096 });
    await inflight.interim;
    tree.cancel(inflight);
    const res = await inflight.response;
    expect(res.header.status).toBe(NtStatus.CANCELLED);
    await tree.close(fileId);
  });

  it('a request cancelled before its interim arrives also completes with STATUS_CANCELLED (sync form)', async () => {
    const { fileId } = await tree.open('', true);
    const inflight = tree.changeNotify(fileId, { outputBufferLength: 4096 });
    tree.cancel(inflight);
    const res = await inflight.response;
    expect(res.header.status).toBe(NtStatus.CANCELLED);
    await tree.close(fileId);
    // The connection is still healthy afterwards.
    await client.echo();
  });

  it('answers STATUS_NOT_IMPLEMENTED on a `change notify = no` server', async () => {
    const noNotify = await startSamba({ changeNotify: false });
    const c = await SmbClient.connect({
      host: noNotify.host,
      port: noNotify.port,
      credentials: { kind: 'user', user: noNotify.user, domain: noNotify.domain, password: noNotify.password },
    });
    try {
      const t = await c.connectTree('data');
      const { fileId } = await t.open('', true);
      const res = await t.changeNotify(fileId, { outputBufferLength: 4096 }).response;
      expect(res.header.status).toBe(NtStatus.NOT_IMPLEMENTED);
      expect(await t.probeChangeNotify('')).toMatchObject({ supported: false, statusName: 'STATUS_NOT_IMPLEMENTED' });
    } finally {
      await c.close();
      await noNotify.stop();
    }
  });
});

/** smbclient run to the end while this process is blocked: nothing of ours is sent meanwhile. */
function smbclientNow(commands: string): string {
  return execFileSync(requireTool('smbclient', 'smbclient'), ['-s', '/dev/null', '-p', String(samba.port), `//${samba.host}/data`, '-A', credentialsFile(samba), '-c', commands], {
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
