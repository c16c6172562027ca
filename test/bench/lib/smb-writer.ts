// A fast writer over SMB, built from the project's own client: one session, CREATE + CLOSE in one
// compound per file, `window` files in flight. It makes bursts over SMB much faster than
// smbclient's mput (which does one round trip after another), fast enough to test the consumers.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Server } from './context.js';
import type { WriteResult } from './writers.js';
import { ShareConnection } from '../../../src/smb/share-connection.js';
import { expectSuccess } from '../../../src/smb/status.js';
import { Command } from '../../../src/smb/wire/header.js';
import { CreateDisposition, CreateOption, RELATED_FILE_ID, ShareAccess, encodeCloseRequest, encodeCreateRequest } from '../../../src/smb/wire/create.js';

const GENERIC_WRITE = 0x40000000;
const FILE_READ_ATTRIBUTES = 0x80;

interface Target {
  host: string;
  port: number;
  share: string;
  user: string;
  domain: string;
  password: string;
}

/**
 * Runs the writer in a worker thread, so that this process's event loop stays free to read the
 * consumers' output while the burst runs.
 */
export function createOverSmb(server: Server, dir: string, names: string[], window = 32): Promise<WriteResult> {
  const { samba } = server;
  const target: Target = { host: samba.host, port: samba.port, share: samba.share, user: samba.user, domain: samba.domain, password: samba.password };
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { smbWriter: { target, dir, names, window } } });
    w.once('message', (m: WriteResult | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
  });
}

async function write(samba: Target, dir: string, names: string[], window: number): Promise<WriteResult> {
  const share = new ShareConnection({
    host: samba.host,
    port: samba.port,
    share: samba.share,
    credentials: { kind: 'user', user: samba.user, domain: samba.domain, password: samba.password },
    timeoutMs: 30_000,
  });
  const tree = await share.connect();
  const conn = tree.client.connection;
  const one = async (name: string): Promise<void> => {
    const [create, close] = conn.submit([
      {
        command: Command.CREATE,
        treeId: tree.treeId,
        body: encodeCreateRequest({
          name: `${dir.split('/').join('\\')}\\${name}`,
          desiredAccess: GENERIC_WRITE | FILE_READ_ATTRIBUTES,
          shareAccess: ShareAccess.ALL,
          disposition: CreateDisposition.CREATE,
          options: CreateOption.NON_DIRECTORY_FILE,
        }),
      },
      { command: Command.CLOSE, treeId: tree.treeId, body: encodeCloseRequest(RELATED_FILE_ID) },
    ]);
    const [c, x] = await Promise.all([create!.response, close!.response]);
    expectSuccess(c, 'CREATE');
    expectSuccess(x, 'CLOSE');
  };
  let next = 0;
  const start = process.hrtime.bigint();
  try {
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (next < names.length) await one(names[next++]!);
      }),
    );
    return { start, end: process.hrtime.bigint(), count: names.length };
  } finally {
    await share.close();
  }
}

const job = (workerData as { smbWriter?: { target: Target; dir: string; names: string[]; window: number } } | null)?.smbWriter;
if (!isMainThread && job) {
  write(job.target, job.dir, job.names, job.window).then(
    (r) => parentPort!.postMessage(r),
    (err: Error) => parentPort!.postMessage({ error: err.message }),
  );
}
