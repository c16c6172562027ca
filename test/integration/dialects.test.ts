// Every dialect with signing mandatory, every 3.1.1 signing algorithm, and encryption with each
// cipher forced in turn, against a real smbd. Each session lists, stats and probes notify, so
// every signed or encrypted message is checked by the server and every response by us.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SmbClient } from '../../src/smb/client.js';
import { SecurityError } from '../../src/smb/errors.js';
import type { DialectName, EncryptionName, SigningName } from '../../src/smb/types.js';
import { startSamba, type SambaOptions, type SambaServer, type SmbProtocol } from '../support/samba.js';

const servers: SambaServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function server(opts: SambaOptions): Promise<SambaServer> {
  const s = await startSamba(opts);
  servers.push(s);
  writeFileSync(join(s.sharePath, 'hello.txt'), 'hello world\n');
  return s;
}

async function connect(s: SambaServer, extra: Partial<Parameters<typeof SmbClient.connect>[0]> = {}): Promise<SmbClient> {
  return SmbClient.connect({
    host: s.host,
    port: s.port,
    credentials: { kind: 'user', user: s.user, domain: s.domain, password: s.password },
    timeoutMs: 10_000,
    ...extra,
  });
}

/** List, stat and probe notify on the share: a real workload over the protected session. */
async function exercise(client: SmbClient): Promise<void> {
  const tree = await client.connectTree('data');
  const names = (await tree.list('')).map((e) => e.name);
  expect(names).toContain('hello.txt');
  const st = await tree.stat('hello.txt');
  expect(st.size).toBe(12n);
  expect(st.isDirectory).toBe(false);
  expect(await tree.probeChangeNotify('')).toEqual({ supported: true });
  await client.echo();
  await tree.disconnect();
}

const DIALECTS: Array<[SmbProtocol, DialectName, SigningName]> = [
  ['SMB2_02', '2.0.2', 'HMAC-SHA256'],
  ['SMB2_10', '2.1', 'HMAC-SHA256'],
  ['SMB3_00', '3.0', 'AES-128-CMAC'],
  ['SMB3_02', '3.0.2', 'AES-128-CMAC'],
  ['SMB3_11', '3.1.1', 'AES-128-GMAC'],
];

describe('every dialect with signing mandatory', () => {
  for (const [protocol, dialect, signing] of DIALECTS) {
    it(`${dialect} signs with ${signing}`, async () => {
      const s = await server({ maxProtocol: protocol, signing: 'mandatory' });
      const client = await connect(s);
      try {
        expect(client.session.dialect).toBe(dialect);
        expect(client.session.signing).toBe(signing);
        expect(client.session.signingRequired).toBe(true);
        expect(client.session.encryption).toBeNull();
        await exercise(client);
        const status = await s.smbstatus(['-b']);
        expect(status).toMatch(new RegExp(`SMB${dialect.replace(/\./g, '_').replace(/^2_1$/, '2_10')}|${protocol}`));
      } finally {
        await client.close();
      }
    });
  }
});

describe('3.1.1 signing algorithms, each offered alone', () => {
  const algorithms: SigningName[] = ['HMAC-SHA256', 'AES-128-CMAC', 'AES-128-GMAC'];
  for (const algorithm of algorithms) {
    it(`verifies ${algorithm}`, async () => {
      const s = await server({ signing: 'mandatory' });
      const client = await connect(s, { signingAlgorithms: [algorithm] });
      try {
        expect(client.session.dialect).toBe('3.1.1');
        expect(client.session.signing).toBe(algorithm);
        await exercise(client);
      } finally {
        await client.close();
      }
    });
  }
});

describe('encryption required, each cipher forced by the server', () => {
  const ciphers: EncryptionName[] = ['AES-128-CCM', 'AES-128-GCM', 'AES-256-CCM', 'AES-256-GCM'];
  for (const cipher of ciphers) {
    it(`encrypts with ${cipher}`, async () => {
      const s = await server({ encrypt: 'required', encryptionAlgorithms: cipher });
      const client = await connect(s);
      try {
        expect(client.session.dialect).toBe('3.1.1');
        expect(client.session.encryption).toBe(cipher);
        expect(client.session.sessionFlags).toContain('ENCRYPT_DATA');
        await exercise(client);
        expect(await s.smbstatus(['-b'])).toMatch(new RegExp(cipher));
      } finally {
        await client.close();
      }
    });
  }

  it('encrypts 3.0 sessions with AES-128-CCM', async () => {
    const s = await server({ encrypt: 'required', maxProtocol: 'SMB3_00' });
    const client = await connect(s);
    try {
      expect(client.session.dialect).toBe('3.0');
      expect(client.session.encryption).toBe('AES-128-CCM');
      await exercise(client);
    } finally {
      await client.close();
    }
  });
});

describe('share-level encryption and --protect', () => {
  it('encrypts only the share that asks for it', async () => {
    const s = await server({ encryptShare: true });
    const client = await connect(s);
    try {
      expect(client.session.encryption).toBeNull();
      const tree = await client.connectTree('data');
      expect(tree.info.flags).toContain('ENCRYPT_DATA');
      expect(tree.info.encrypted).toBe(true);
      expect((await tree.list('')).map((e) => e.name)).toContain('hello.txt');
    } finally {
      await client.close();
    }
  });

  it('--protect encrypt encrypts a session the server would not', async () => {
    const s = await server({});
    const client = await connect(s, { protect: 'encrypt' });
    try {
      expect(client.session.encryption).not.toBeNull();
      await exercise(client);
    } finally {
      await client.close();
    }
  });

  it('--protect encrypt refuses a server that cannot encrypt, never downgrades', async () => {
    const s = await server({ maxProtocol: 'SMB2_10' });
    await expect(connect(s, { protect: 'encrypt' })).rejects.toBeInstanceOf(SecurityError);
    const off = await server({ encrypt: 'off' });
    await expect(connect(off, { protect: 'encrypt' })).rejects.toThrow(/does not offer encryption/);
  });

  it('refuses a guest session when the server requires signing', async () => {
    const s = await server({ signing: 'mandatory' });
    await expect(SmbClient.connect({ host: s.host, port: s.port, credentials: { kind: 'guest' } })).rejects.toThrow(/requires signing/);
  });

  it('gives a guest an unsigned session on the guest share', async () => {
    const s = await server({});
    writeFileSync(join(s.guestSharePath, 'public.txt'), 'x');
    const client = await SmbClient.connect({ host: s.host, port: s.port, credentials: { kind: 'guest' } });
    try {
      expect(client.session.signing).toBeNull();
      const tree = await client.connectTree('public');
      expect((await tree.list('')).map((e) => e.name)).toContain('public.txt');
    } finally {
      await client.close();
    }
  });
});
