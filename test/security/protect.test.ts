// Protection is refused, never downgraded. A fault proxy between the client and smbd records
// every frame, so that the tests see what the client actually sent, not only what it printed:
// - `--protect encrypt` against a server that does not encrypt (SMB 2.1, or encryption off)
//   stops after NEGOTIATE, with one line and exit status 1: no SESSION_SETUP, so no NTLM
//   response that an attacker could keep, and no TREE_CONNECT;
// - a server that requires signing never gets a guest or anonymous session: refused before
//   any SESSION_SETUP;
// - a user session on such a server signs every request after SESSION_SETUP, also when a man in
//   the middle clears SIGNING_REQUIRED in the NEGOTIATE response (3.1.1 then fails on the
//   pre-authentication hash: the session is refused instead).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { Cmd, ntlmMessageType, smb2Command, smb2Commands, smb2Flags, startFaultProxy, type FaultProxy, type Frame } from '../support/fault-proxy.js';
import { startSamba, stopAllSamba, type SambaOptions, type SambaServer } from '../support/samba.js';
import { ShareConnection } from '../../src/smb/share-connection.js';
import { SecurityError } from '../../src/smb/errors.js';

const proxies: FaultProxy[] = [];
const servers = new Map<string, SambaServer>();

beforeAll(() => {
  requireBuild();
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await stopAllSamba();
});

async function server(opts: SambaOptions): Promise<SambaServer> {
  const key = JSON.stringify(opts);
  let s = servers.get(key);
  if (!s) {
    s = await startSamba(opts);
    servers.set(key, s);
  }
  return s;
}

async function proxyFor(s: SambaServer): Promise<FaultProxy> {
  const p = await startFaultProxy({ targetPort: s.port, capture: true });
  proxies.push(p);
  return p;
}

async function finished(r: Running): Promise<{ code: number | null; stdout: string[]; stderr: string[] }> {
  const { code } = await r.exit;
  return { code, stdout: r.stdout.filter(Boolean), stderr: r.stderr.filter(Boolean) };
}

function sent(p: FaultProxy): Frame[] {
  return p.frames.filter((f) => f.dir === 'c2s');
}

function commandsSent(p: FaultProxy): number[] {
  return sent(p).flatMap((f) => smb2Commands(f.payload));
}

/** One line on stderr, nothing on stdout, exit 1. */
function expectRefused(r: { code: number | null; stdout: string[]; stderr: string[] }, re: RegExp): void {
  expect(r.code, r.stderr.join('\n')).toBe(1);
  expect(r.stdout).toEqual([]);
  expect(r.stderr).toHaveLength(1);
  expect(r.stderr[0]).toMatch(/^smbnotify: /);
  expect(r.stderr[0]).toMatch(re);
}

const COMMANDS: Array<[string, (url: string, auth: string[]) => string[]]> = [
  ['ls', (url, auth) => ['ls', url, ...auth]],
  ['info', (url, auth) => ['info', url, ...auth]],
  ['watch', (url, auth) => ['watch', url, '-t', '5', ...auth]],
];

describe('--protect encrypt against a server that does not encrypt', () => {
  for (const [what, opts] of [
    ['SMB 2.1 (server max protocol = SMB2_10)', { maxProtocol: 'SMB2_10' }],
    ['SMB 3.1.1 with encryption off', { encrypt: 'off' }],
  ] as Array<[string, SambaOptions]>) {
    for (const [name, argv] of COMMANDS) {
      it(`${what}: ${name} refuses after NEGOTIATE, before any authentication`, async () => {
        const s = await server(opts);
        const p = await proxyFor(s);
        const r = await finished(runCli(argv(`smb://127.0.0.1:${p.port}/data`, ['--protect', 'encrypt', '-A', credentialsFile(s)])));
        expectRefused(r, /does not offer encryption with dialect (2\.1|3\.1\.1): refusing the session \(--protect encrypt\)/);
        const cmds = commandsSent(p);
        expect(cmds).toContain(Cmd.NEGOTIATE);
        expect(cmds).not.toContain(Cmd.SESSION_SETUP);
        expect(cmds).not.toContain(Cmd.TREE_CONNECT);
      });
    }
  }

  it('the same server is fine without --protect, and an encrypting one with it (controls)', async () => {
    const plain = await server({ encrypt: 'off' });
    const r1 = await finished(runCli(['ls', `smb://127.0.0.1:${plain.port}/data`, '-A', credentialsFile(plain)]));
    expect(r1.code, r1.stderr.join('\n')).toBe(0);
    const enc = await server({});
    const p = await proxyFor(enc);
    const r2 = await finished(runCli(['info', `smb://127.0.0.1:${p.port}/data`, '--protect', 'encrypt', '-A', credentialsFile(enc)]));
    expect(r2.code, r2.stderr.join('\n')).toBe(0);
    expect(r2.stdout.join('\n')).toMatch(/AES-\d+-(GCM|CCM)/);
    // Everything after SESSION_SETUP travelled encrypted (0xFD 'SMB' transform header).
    const after = sent(p).slice(sent(p).findIndex((f) => smb2Command(f.payload) === Cmd.SESSION_SETUP && ntlmMessageType(f.payload) === 3) + 1);
    expect(after.length).toBeGreaterThan(0);
    for (const f of after) expect(f.payload.readUInt32LE(0)).toBe(0x424d53fd);
  });
});

describe('a server that requires signing never gets a guest or anonymous session', () => {
  for (const [name, argv] of COMMANDS) {
    for (const [who, auth] of [
      ['guest (-N)', ['-N']],
      ['anonymous (-U %)', ['-U', '%']],
    ] as Array<[string, string[]]>) {
      it(`${name} as ${who}: refused before SESSION_SETUP`, async () => {
        const s = await server({ signing: 'mandatory' });
        const p = await proxyFor(s);
        const r = await finished(runCli(argv(`smb://127.0.0.1:${p.port}/data`, auth)));
        expectRefused(r, /refusing a guest session: the server requires signing, and a guest session cannot be signed or encrypted/);
        const cmds = commandsSent(p);
        expect(cmds).toEqual([Cmd.NEGOTIATE]);
        // Belt and braces: no NTLM AUTHENTICATE of any kind went out.
        expect(sent(p).filter((f) => ntlmMessageType(f.payload) === 3)).toEqual([]);
      });
    }
  }

  it('the library refuses the same way, at once and for good (no retry loop)', async () => {
    const s = await server({ signing: 'mandatory' });
    const p = await proxyFor(s);
    const share = new ShareConnection({ host: '127.0.0.1', port: p.port, share: 'data', credentials: { kind: 'guest' }, timeoutMs: 5000, minBackoffMs: 50 });
    const retried: unknown[] = [];
    share.on('retrying', (e) => retried.push(e));
    await expect(share.connect()).rejects.toBeInstanceOf(SecurityError);
    await new Promise((r) => setTimeout(r, 300));
    await share.close();
    expect(retried).toEqual([]);
    expect(p.accepted).toBe(1);
    expect(commandsSent(p)).toEqual([Cmd.NEGOTIATE]);
  });

  it('a user session signs every request after SESSION_SETUP', async () => {
    const s = await server({ signing: 'mandatory' });
    const p = await proxyFor(s);
    const r = await finished(runCli(['ls', `smb://127.0.0.1:${p.port}/data`, '-A', credentialsFile(s)]));
    expect(r.code, r.stderr.join('\n')).toBe(0);
    expectAllSignedAfterSetup(p);
  });

  for (const [what, opts, outcome] of [
    ['SMB 3.1.1: the pre-authentication hash exposes it, the session is refused', { signing: 'mandatory' }, 'refused'],
    ['SMB 2.1: the client signs anyway', { signing: 'mandatory', maxProtocol: 'SMB2_10' }, 'signed'],
  ] as Array<[string, SambaOptions, 'refused' | 'signed']>) {
    it(`a man in the middle clearing SIGNING_REQUIRED in NEGOTIATE: ${what}`, async () => {
      const s = await server(opts);
      const p = await proxyFor(s);
      p.rewrite((payload) => {
        // NEGOTIATE response body: StructureSize (2), SecurityMode (2); bit 0x02 = SIGNING_REQUIRED.
        if (smb2Command(payload) === Cmd.NEGOTIATE && (smb2Flags(payload)! & 1) === 1) payload[64 + 2] = payload[64 + 2]! & ~0x02;
        return payload;
      });
      const r = await finished(runCli(['ls', `smb://127.0.0.1:${p.port}/data`, '-A', credentialsFile(s)]));
      if (outcome === 'refused') {
        expectRefused(r, /signature|SESSION_SETUP/);
        expect(commandsSent(p)).not.toContain(Cmd.TREE_CONNECT);
      } else {
        expect(r.code, r.stderr.join('\n')).toBe(0);
        expectAllSignedAfterSetup(p);
      }
    });
  }
});

function expectAllSignedAfterSetup(p: FaultProxy): void {
  const frames = sent(p);
  const lastSetup = frames.map((f) => smb2Command(f.payload)).lastIndexOf(Cmd.SESSION_SETUP);
  expect(lastSetup).toBeGreaterThan(0);
  const after = frames.slice(lastSetup + 1);
  expect(after.map((f) => smb2Command(f.payload))).toContain(Cmd.TREE_CONNECT);
  for (const f of after) {
    // Every message of a compound is signed on its own.
    let at = 0;
    for (;;) {
      const flags = f.payload.readUInt32LE(at + 16);
      expect(flags & 0x08, `unsigned command ${f.payload.readUInt16LE(at + 12)}`).toBe(0x08);
      const next = f.payload.readUInt32LE(at + 20);
      if (next === 0) break;
      at += next;
    }
  }
}
