// CHANGE_NOTIFY against a real smbd: the FILE_NOTIFY_INFORMATION of a file created on the
// server's disk, a cancelled request (sync and async cancel forms), the compounded
// CREATE + CHANGE_NOTIFY, and a server with `change notify = no`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmbClient } from '../../src/smb/client.js';
import type { SmbTree } from '../../src/smb/tree.js';
import { decodeOutputBuffer } from '../../src/smb/wire/query-directory.js';
import { FileAction, decodeFileNotifyInformation } from '../../src/smb/wire/notify.js';
import { NtStatus } from '../../src/smb/wire/ntstatus.js';
import { startSamba, type SambaServer } from '../support/samba.js';

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
