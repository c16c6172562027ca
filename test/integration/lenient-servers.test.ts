// Servers that bend the rules, and clear words about what a server offers. A real smbd sits
// behind the fault proxy, which turns it into the server of each case on unprotected (guest)
// sessions: a directory listing whose last entry has a non-zero NextEntryOffset, QUERY_INFO
// without FileBasicInformation, an NTLM CHALLENGE that drops NEGOTIATE_SIGN, a CHANGE_NOTIFY
// refused with ACCESS_DENIED. Dialect mismatch and encrypted sessions use smbd as configured.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NtlmFlag } from '../../src/smb/auth/ntlm.js';
import { NtStatus } from '../../src/smb/wire/ntstatus.js';
import { credentialsFile, runCli, type Running } from '../support/cli.js';
import { Cmd, startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';

afterAll(async () => {
  await stopAllSamba();
});

const HEADER = 64;

/** Each SMB2 message of a (possibly compounded) payload: its offset and length. */
function messages(payload: Buffer): Array<{ at: number; end: number }> {
  const out: Array<{ at: number; end: number }> = [];
  let at = 0;
  while (at + HEADER <= payload.length && payload.readUInt32LE(at) === 0x424d53fe) {
    const next = payload.readUInt32LE(at + 20);
    const end = next === 0 ? payload.length : at + next;
    out.push({ at, end });
    if (next === 0) break;
    at += next;
  }
  return out;
}

/**
 * A lenient server's listing: the last FileIdFullDirectoryInformation entry of every successful
 * QUERY_DIRECTORY response points past itself (its 8-byte aligned size) instead of being 0.
 */
function lastEntryPointsOn(payload: Buffer): Buffer {
  for (const m of messages(payload)) {
    if (payload.readUInt16LE(m.at + 12) !== Cmd.QUERY_DIRECTORY || payload.readUInt32LE(m.at + 8) !== 0) continue;
    const offset = m.at + payload.readUInt16LE(m.at + HEADER + 2);
    const length = payload.readUInt32LE(m.at + HEADER + 4);
    let entry = offset;
    for (let guard = 0; guard < 100_000; guard++) {
      const next = payload.readUInt32LE(entry);
      if (next === 0) break;
      entry += next;
    }
    const size = 80 + payload.readUInt32LE(entry + 60);
    const aligned = Math.ceil(size / 8) * 8;
    if (entry + aligned >= offset + length) payload.writeUInt32LE(aligned, entry);
  }
  return payload;
}

/** A server without the optional information classes: QUERY_INFO answers STATUS_NOT_SUPPORTED. */
function noQueryInfo(payload: Buffer): Buffer {
  for (const m of messages(payload)) {
    if (payload.readUInt16LE(m.at + 12) === Cmd.QUERY_INFO && payload.readUInt32LE(m.at + 8) === 0) {
      payload.writeUInt32LE(NtStatus.NOT_SUPPORTED, m.at + 8);
    }
  }
  return payload;
}

async function finished(r: Running): Promise<{ code: number | null; out: string[]; err: string[] }> {
  const { code } = await r.exit;
  return { code, out: r.stdout.filter((l) => l !== ''), err: r.stderr.filter((l) => l !== '') };
}

describe('a lenient directory listing (last NextEntryOffset not 0)', () => {
  let samba: SambaServer;
  let proxy: FaultProxy;

  beforeAll(async () => {
    samba = await startSamba({});
    // 44 characters: an entry of 80 + 88 = 168 bytes, the size from the report.
    mkdirSync(join(samba.guestSharePath, 'd'));
    for (let i = 0; i < 30; i++) writeFileSync(join(samba.guestSharePath, 'd', `${String(i).padStart(2, '0')}-${'x'.repeat(41)}`), 'x'.repeat(i));
    writeFileSync(join(samba.guestSharePath, 'd', 'short'), '');
    proxy = await startFaultProxy({ targetPort: samba.port });
  });

  afterAll(async () => {
    await proxy?.close();
  });

  it('ls lists exactly what the strict listing shows, like smbclient', async () => {
    const direct = await finished(runCli(['ls', `smb://127.0.0.1:${samba.port}/public/d`, '-N']));
    expect(direct.code).toBe(0);
    expect(direct.out).toHaveLength(31);
    proxy.rewrite(lastEntryPointsOn);
    try {
      const lenient = await finished(runCli(['ls', `smb://127.0.0.1:${proxy.port}/public/d`, '-N']));
      expect(lenient.err).toEqual([]);
      expect(lenient.code).toBe(0);
      expect(lenient.out).toEqual(direct.out);
      const client = await samba.smbclient(['-c', 'ls d/*'], { user: 'guest', share: 'public' });
      expect(client.code).toBe(0);
      for (const line of direct.out) expect(client.stdout).toContain(line.slice(line.lastIndexOf(' ') + 1));
    } finally {
      proxy.rewrite(null);
    }
  });
});

describe('a server without FileBasicInformation', () => {
  let samba: SambaServer;
  let proxy: FaultProxy;

  beforeAll(async () => {
    samba = await startSamba({ changeNotify: false });
    writeFileSync(join(samba.guestSharePath, 'file.txt'), 'hello');
    mkdirSync(join(samba.guestSharePath, 'sub'));
    proxy = await startFaultProxy({ targetPort: samba.port });
    proxy.rewrite(noQueryInfo);
  });

  afterAll(async () => {
    await proxy?.close();
  });

  it('ls of one file falls back to what CREATE returns', async () => {
    const r = await finished(runCli(['ls', '--json', `smb://127.0.0.1:${proxy.port}/public/file.txt`, '-N']));
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out[0]!)).toMatchObject({ name: 'file.txt', type: 'file', size: 5 });
  });

  it('the polling fallback keeps polling and reports changes instead of exiting 1', async () => {
    const w = runCli(['watch', '-m', '-r', '--json', '--poll-interval', '0.3', `smb://127.0.0.1:${proxy.port}/public`, '-N']);
    try {
      await w.waitLine(/"state":"polling"/, 15_000);
      // The first listing (the baseline) follows the state line: a file made before it is no change.
      for (let i = 0; i < 40 && !w.stdout.some((l) => l.includes('"path":"probe-')); i++) {
        writeFileSync(join(samba.guestSharePath, `probe-${i}`), '');
        await new Promise((r) => setTimeout(r, 500));
      }
      writeFileSync(join(samba.guestSharePath, 'sub', 'new.txt'), 'x');
      writeFileSync(join(samba.guestSharePath, 'top.txt'), 'x');
      await w.waitLine(/"event":"CREATE".*"path":"sub\/new.txt"/, 15_000);
      await w.waitLine(/"event":"CREATE".*"path":"top.txt"/, 15_000);
      expect(w.child.exitCode).toBeNull();
      expect(w.stderr.join('\n')).not.toMatch(/QUERY_INFO/);
    } finally {
      w.child.kill('SIGTERM');
      await w.exit;
    }
  }, 60_000);
});

describe('an NTLM CHALLENGE without NEGOTIATE_SIGN', () => {
  let samba: SambaServer;
  let proxy: FaultProxy;

  beforeAll(async () => {
    samba = await startSamba({});
    proxy = await startFaultProxy({ targetPort: samba.port });
  });

  afterAll(async () => {
    await proxy?.close();
  });

  it('is refused as a possible downgrade before any NTLM response is sent', async () => {
    proxy.rewrite((p) => {
      const sig = p.indexOf(Buffer.from('NTLMSSP\0', 'latin1'));
      if (p.readUInt16LE(12) === Cmd.SESSION_SETUP && sig >= 0 && p.readUInt32LE(sig + 8) === 2) {
        p.writeUInt32LE((p.readUInt32LE(sig + 20) & ~NtlmFlag.NEGOTIATE_SIGN) >>> 0, sig + 20);
      }
      return p;
    });
    const sent: number[] = [];
    proxy.rewrite((p) => {
      const sig = p.indexOf(Buffer.from('NTLMSSP\0', 'latin1'));
      if (sig >= 0) sent.push(p.readUInt32LE(sig + 8));
      return p;
    }, 'c2s');
    try {
      const r = await finished(runCli(['ls', `smb://127.0.0.1:${proxy.port}/data`, '-A', credentialsFile(samba)]));
      expect(r.code).not.toBe(0);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/possible downgrade/);
      expect(r.err[0]).toMatch(/signing/);
      expect(sent).toEqual([1]);
    } finally {
      proxy.rewrite(null);
      proxy.rewrite(null, 'c2s');
    }
  });
});

describe('clear words', () => {
  it('info on an encrypted session does not call signing "off"', async () => {
    const samba = await startSamba({ encrypt: 'required', signing: 'mandatory' });
    const r = await finished(runCli(['info', `smb://127.0.0.1:${samba.port}/data`, '-A', credentialsFile(samba)]));
    expect(r.code).toBe(0);
    const signing = r.out.find((l) => l.startsWith('Signing:'))!;
    expect(signing).not.toMatch(/off/);
    expect(signing).toMatch(/encrypted and authenticated with AES-/);
    expect(r.out.find((l) => l.startsWith('Encryption:'))).toMatch(/AES-/);
    await samba.stop();
  });

  it('-m SMB3_02 against a 3.1.1-only server names the dialect mismatch', async () => {
    const samba = await startSamba({ minProtocol: 'SMB3_11' });
    const r = await finished(runCli(['ls', '-m', 'SMB3_02', `smb://127.0.0.1:${samba.port}/data`, '-A', credentialsFile(samba)]));
    expect(r.code).not.toBe(0);
    expect(r.err).toEqual(['smbnotify: dialect mismatch: the server accepts none of the dialects offered (SMB 2.0.2 to 3.0.2); it may need a newer dialect than --max-protocol allows (STATUS_NOT_SUPPORTED)']);
    await samba.stop();
  });

  it('a server that speaks only SMB1 is named as a likely cause, not only "connection reset"', async () => {
    // Samba with `server max protocol = NT1` closes the connection on an SMB2 NEGOTIATE.
    const samba = await startSamba({ extraGlobal: ['server min protocol = NT1', 'server max protocol = NT1'] });
    const r = await finished(runCli(['ls', `smb://127.0.0.1:${samba.port}/data`, '-A', credentialsFile(samba)]));
    expect(r.code).toBe(1);
    expect(r.err).toEqual([`smbnotify: connection to 127.0.0.1:${samba.port} failed: the server closed the connection when offered SMB 2.0.2 to 3.1.1, without an answer: it may speak only SMB1 (NT1), which smbnotify does not`]);
    await samba.stop();
  });

  it('the notify probe does not say "supported" when CHANGE_NOTIFY got ACCESS_DENIED', async () => {
    const samba = await startSamba({});
    const proxy = await startFaultProxy({ targetPort: samba.port });
    // The probe parks a CHANGE_NOTIFY and cancels it: the final answer becomes ACCESS_DENIED.
    proxy.rewrite((p) => {
      for (const m of messages(p)) {
        if (p.readUInt16LE(m.at + 12) === Cmd.CHANGE_NOTIFY && p.readUInt32LE(m.at + 8) === NtStatus.CANCELLED) {
          p.writeUInt32LE(NtStatus.ACCESS_DENIED, m.at + 8);
        }
      }
      return p;
    });
    try {
      const human = await finished(runCli(['info', `smb://127.0.0.1:${proxy.port}/public`, '-N']));
      const json = await finished(runCli(['info', '--json', `smb://127.0.0.1:${proxy.port}/public`, '-N']));
      expect(human.code).toBe(0);
      const line = human.out.find((l) => l.startsWith('Change notify'))!;
      expect(line).not.toMatch(/: +supported/);
      expect(line).toMatch(/STATUS_ACCESS_DENIED/);
      expect(JSON.parse(json.out[0]!).changeNotify).toEqual({ supported: false, refused: true, status: 'STATUS_ACCESS_DENIED', statusCode: NtStatus.ACCESS_DENIED });
      // Without the rewrite the same server's probe says supported.
      proxy.rewrite(null);
      const plain = await finished(runCli(['info', `smb://127.0.0.1:${proxy.port}/public`, '-N']));
      expect(plain.out.find((l) => l.startsWith('Change notify'))).toMatch(/: +supported$/);
    } finally {
      await proxy.close();
      await samba.stop();
    }
  });
});
