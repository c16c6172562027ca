// A flipped byte on a signed or an encrypted session is caught: the tampered message is
// rejected (the connection fails with a ProtocolError about the signature or the decryption, and
// is re-established), and no event is ever made from it. The real change is still reported, by
// the listing that follows the reconnect.
//
// The byte flipped is the first character of the file name inside the FILE_NOTIFY_INFORMATION
// of the CHANGE_NOTIFY response that reports a new file: 't' ^ 0x01 = 'u'. Were the message
// accepted, `uamper-...` would appear in the stream.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isEncrypted, notifyFirstName, notifyNameOffset, startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { trackUnhandledRejections } from '../support/tools.js';
import { startSamba, stopAllSamba, type SambaOptions, type SambaServer } from '../support/samba.js';
import { watch, type Harness } from '../support/stream.js';
import { decryptMessage } from '../../src/smb/crypto/encryption.js';
import { encodeFileNotifyInformation, FileAction } from '../../src/smb/wire/notify.js';

const unhandledRejections = trackUnhandledRejections();
const unhandled = unhandledRejections.seen;

afterAll(async () => {
  unhandledRejections.stop();
  await stopAllSamba();
});

/** Transform header (52 bytes) + SMB2 header (64) + CHANGE_NOTIFY response fixed part (8). */
const TRANSFORM = 52;
/** Where the FILE_NOTIFY_INFORMATION starts in Samba's CHANGE_NOTIFY response (OutputBufferOffset). */
const NOTIFY_OUTPUT_OFFSET = 64 + 8;
/** Offset of SessionId in the SMB2 header. */
const SESSION_ID = 40;

interface Variant {
  name: string;
  server: SambaOptions;
  /** What the reconnecting STATE event must say was wrong. */
  detected: RegExp;
  /** Is this server->client frame the CHANGE_NOTIFY response naming `file`? */
  match(payload: Buffer, file: string): boolean;
  /** Offset(s) of the first name character in that frame. */
  nameOffset(payload: Buffer): number;
}

const variants: Variant[] = [
  {
    name: 'signed session (server signing = mandatory)',
    server: { signing: 'mandatory' },
    detected: /bad signature on CHANGE_NOTIFY response/,
    match: (p, file) => notifyFirstName(p) === file,
    nameOffset: (p) => notifyNameOffset(p)!,
  },
  {
    name: 'encrypted session (server smb encrypt = required)',
    server: { encrypt: 'required' },
    detected: /decryption failed/,
    // Encrypted: the command cannot be seen. The plaintext size (OriginalMessageSize at 36) of a
    // notify response for `file` is known; interim and ECHO responses (keepalives) are smaller.
    // The server may put the ADDED and the MODIFIED of the file in one response (two entries).
    match: (p, file) => {
      if (!isEncrypted(p)) return false;
      const size = p.readUInt32LE(36);
      const entry = 12 + 2 * file.length;
      return size >= NOTIFY_OUTPUT_OFFSET + entry && size <= NOTIFY_OUTPUT_OFFSET + 2 * entry + 8;
    },
    // AES-GCM/CCM are counter modes: plaintext byte i is ciphertext byte TRANSFORM + i.
    nameOffset: () => TRANSFORM + NOTIFY_OUTPUT_OFFSET + 12,
  },
];

async function setup(server: SambaOptions): Promise<{ samba: SambaServer; proxy: FaultProxy; h: Harness }> {
  const samba = await startSamba(server);
  const proxy = await startFaultProxy({ targetPort: samba.port });
  const h = await watch(samba, { keepaliveMs: 60_000, connection: { port: proxy.port } });
  return { samba, proxy, h };
}

async function teardown(x: { samba: SambaServer; proxy: FaultProxy; h: Harness }): Promise<void> {
  await x.h.stop();
  await x.proxy.close();
  await x.samba.stop();
}

function reconnected(h: Harness, after: number) {
  return h.waitFor((e) => e.seq > after && e.event === 'STATE' && e.state === 'watching' && /reconnected/.test(e.message ?? ''), 30_000);
}

describe.each(variants)('$name', (v) => {
  it('a flipped byte in a notify file name is rejected; the change is still reported after the resync', async () => {
    const x = await setup(v.server);
    const { samba, proxy, h } = x;
    try {
      // Once honestly, to know the path works.
      writeFileSync(join(samba.sharePath, 'before.txt'), 'x');
      await h.waitFor((e) => e.event === 'CREATE' && e.path === 'before.txt');
      const seq = h.events.at(-1)!.seq;

      const file = 'tamper-1.txt';
      const flipped = proxy.flip({ match: (p) => v.match(p, file), offset: v.nameOffset });
      writeFileSync(join(samba.sharePath, file), 'x');
      const flip = await flipped;
      if (!isEncrypted(flip.payload)) expect(notifyFirstName(flip.payload)).toBe('uamper-1.txt');

      const lost = await h.waitFor((e) => e.seq > seq && e.event === 'STATE' && e.state === 'reconnecting');
      expect(lost.message).toMatch(v.detected);
      await reconnected(h, seq);
      const created = await h.waitFor((e) => e.event === 'CREATE' && e.path === file);
      expect(created.source).toBe('rescan');

      // And the session keeps working afterwards.
      writeFileSync(join(samba.sharePath, 'after.txt'), 'x');
      await h.waitFor((e) => e.event === 'CREATE' && e.path === 'after.txt' && e.source === 'notify');
      await h.quiet(500);
      expect(h.changes().filter((e) => /uamper/.test(e.path) || /uamper/.test(e.oldPath ?? ''))).toEqual([]);
      expect(h.changes().filter((e) => e.path === file)).toHaveLength(1);
      expect(unhandled).toEqual([]);
    } finally {
      await teardown(x);
    }
  }, 60_000);

  it('random flips in server->client frames: each one is detected, none makes an event', async () => {
    const x = await setup(v.server);
    const { samba, proxy, h } = x;
    try {
      // A deterministic sequence of offsets over the whole frame, header included.
      const ROUNDS = 6;
      for (let round = 0; round < ROUNDS; round++) {
        const seq = h.events.at(-1)!.seq;
        const file = `tamper-r${round}.txt`;
        const flipped = proxy.flip({
          match: (p) => v.match(p, file),
          // Spread over the frame: header fields, the response fixed part, the name.
          offset: (p) => Math.floor(((round + 0.5) / ROUNDS) * p.length),
          mask: 0x20,
          // Generous: on a loaded CI machine a notification has taken more than 10 s.
          timeoutMs: 30_000,
        });
        writeFileSync(join(samba.sharePath, file), 'x');
        const flip = await flipped;
        const lost = await h.waitFor((e) => e.seq > seq && e.event === 'STATE' && e.state === 'reconnecting', 30_000);
        // A flip in the header may be caught before the signature check (a response to an
        // unknown message id, say): any ProtocolError will do, the connection must be dropped.
        expect(lost.message, `offset ${flip.offsets[0]}`).toMatch(/signature|decryption|unknown message id|response to a|malformed|unsigned|unencrypted|session/);
        await reconnected(h, seq);
        await h.waitFor((e) => e.event === 'CREATE' && e.path === file, 30_000);
      }
      await h.quiet(500);
      // Every name reported is one of ours, exactly once.
      const names = h.changes().filter((e) => e.event === 'CREATE').map((e) => e.path).sort();
      expect(names).toEqual(Array.from({ length: ROUNDS }, (_, i) => `tamper-r${i}.txt`).sort());
      expect(unhandled).toEqual([]);
    } finally {
      await teardown(x);
    }
  }, 240_000);
});

describe('signed session: the SessionId field is covered too', () => {
  it('a response whose SessionId and file name were both changed is rejected, not trusted unchecked', async () => {
    const x = await setup({ signing: 'mandatory' });
    const { samba, proxy, h } = x;
    try {
      const seq = h.events.at(-1)!.seq;
      const file = 'tamper-s.txt';
      // A man in the middle rewriting the name and, to dodge the signature check, the SessionId.
      const flipped = proxy.flip({ match: (p) => notifyFirstName(p) === file, offset: (p) => [SESSION_ID, notifyNameOffset(p)!] });
      writeFileSync(join(samba.sharePath, file), 'x');
      await flipped;
      const lost = await h.waitFor((e) => e.seq > seq && e.event === 'STATE' && e.state === 'reconnecting', 5_000);
      expect(lost.message).toMatch(/bad signature on CHANGE_NOTIFY response/);
      await reconnected(h, seq);
      await h.waitFor((e) => e.event === 'CREATE' && e.path === file);
      await h.quiet(300);
      expect(h.changes().filter((e) => /uamper/.test(e.path))).toEqual([]);
    } finally {
      await teardown(x);
    }
  }, 60_000);
});

describe('encrypted session: a plaintext message is never accepted in place of an encrypted one', () => {
  it('an unencrypted CHANGE_NOTIFY response with another SessionId is rejected', async () => {
    // Not a flip but a forgery: the proxy replaces the encrypted notify response with a plain
    // one, unsigned, whose SessionId is 0.
    const x = await setup({ encrypt: 'required' });
    const { samba, proxy, h } = x;
    try {
      const seq = h.events.at(-1)!.seq;
      const file = 'forged-real.txt';
      const forged = proxy.replace({
        match: (p) => variants[1]!.match(p, file),
        with: (p) => forgeNotifyResponse(h, p, 'forged-by-mitm.txt'),
      });
      writeFileSync(join(samba.sharePath, file), 'x');
      await forged;
      const lost = await h.waitFor((e) => e.seq > seq && e.event === 'STATE' && e.state === 'reconnecting', 5_000);
      expect(lost.message).toMatch(/unencrypted CHANGE_NOTIFY response on an encrypted session/);
      await reconnected(h, seq);
      await h.waitFor((e) => e.event === 'CREATE' && e.path === file);
      await h.quiet(300);
      expect(h.changes().filter((e) => /forged-by-mitm/.test(e.path))).toEqual([]);
    } finally {
      await teardown(x);
    }
  }, 60_000);
});

/**
 * A plaintext, unsigned CHANGE_NOTIFY response naming `name`, in answer to the request the
 * encrypted `frame` answers. A real man in the middle guesses the MessageId (they are sequential);
 * the test reads it with the session's key so that the forgery is exactly on target.
 */
function forgeNotifyResponse(h: Harness, frame: Buffer, name: string): Buffer {
  const security = h.share.tree!.client.connection.security!;
  const { plaintext } = decryptMessage(security.cipher!.name, security.cipher!.decryptionKey, frame);
  const header = Buffer.from(plaintext.subarray(0, 64));
  header.writeBigUInt64LE(0n, SESSION_ID); // not our session: skips the checks when trusted
  header.writeUInt32LE(header.readUInt32LE(16) & ~0x08, 16); // not signed
  header.fill(0, 48, 64); // no signature
  header.writeUInt32LE(0, 20); // not compounded
  const info = encodeFileNotifyInformation([{ action: FileAction.ADDED, fileName: name }]);
  const body = Buffer.alloc(8);
  body.writeUInt16LE(9, 0);
  body.writeUInt16LE(NOTIFY_OUTPUT_OFFSET, 2);
  body.writeUInt32LE(info.length, 4);
  return Buffer.concat([header, body, info]);
}
