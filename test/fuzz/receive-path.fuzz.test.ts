/**
 * The connection's receive path fed mutated server traffic. For every case a fresh Connection on
 * an in-memory Duplex sends the scenario's requests (MessageIds 0, 1, ...), then receives the
 * scenario's frames (mutated: in the SMB2 message, in the plaintext before encryption, in the
 * ciphertext, in the 4-byte transport header; duplicated, truncated, extended) in random chunk
 * sizes through conn.receive(). Asserted for every case:
 *
 * - no exception escapes conn.receive();
 * - an independent oracle (MS-SMB2 2.1 framing, 3.2.5.1.9 compounds, 3.2.5.1.3 signing,
 *   3.2.5.1.1.1 decryption, MessageId and Command matching) decides which frames are garbage: a
 *   complete garbage frame must by itself fail the connection with a ProtocolError, reject every
 *   request not yet answered with that same error, and emit 'closed' with it, exactly once;
 * - otherwise the connection stays open and exactly the requests the oracle saw answered are
 *   resolved, each with the right message; the rest are pending only because the stream ended
 *   inside a frame or the server said STATUS_PENDING (one tolerated, counted deviation: a complete
 *   response followed by a bad transport header in the same chunk is dropped, see feed());
 * - each resolved body is decoded through conn.decode() as the client layers do: the decoder
 *   returns, or its ProtocolError closes the connection with that error ('closed', rejections);
 * - a still-pending request is settled by conn.close() with a ConnectionError;
 * - no non-ProtocolError thrown inside the receive path (which receive() would wrap as
 *   "malformed message from the server: ...") — that would be a decoder bug.
 *
 * No timers are waited on: requests resolve or reject synchronously inside receive(), and only
 * microtasks are flushed. FUZZ_ITERATIONS (default 100000) is the number of feeds.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection, type Inflight, type Response } from '../../src/smb/connection.js';
import { decryptMessage } from '../../src/smb/crypto/encryption.js';
import { ConnectionError, ProtocolError } from '../../src/smb/errors.js';
import type { SessionSecurity } from '../../src/smb/security.js';
import { decodeChallengeMessage } from '../../src/smb/auth/ntlm-messages.js';
import { decodeNegToken } from '../../src/smb/auth/spnego.js';
import { decodeCloseResponse, decodeCreateResponse } from '../../src/smb/wire/create.js';
import { encodeFrame } from '../../src/smb/wire/frame.js';
import { Command } from '../../src/smb/wire/header.js';
import { decodeIoctlResponse, decodeValidateNegotiateResponse } from '../../src/smb/wire/ioctl.js';
import { decodeNegotiateResponse } from '../../src/smb/wire/negotiate.js';
import { decodeFileNotifyInformation } from '../../src/smb/wire/notify.js';
import { isErrorStatus, NtStatus } from '../../src/smb/wire/ntstatus.js';
import { decodeDirectoryEntries, decodeOutputBuffer } from '../../src/smb/wire/query-directory.js';
import { decodeFileBasicInformation, decodeFileStandardInformation } from '../../src/smb/wire/query-info.js';
import { decodeSessionSetupResponse } from '../../src/smb/wire/session-setup.js';
import { decodeEmptyResponse, encodeEmptyRequest } from '../../src/smb/wire/simple.js';
import { decodeTreeConnectResponse } from '../../src/smb/wire/tree.js';
import { baseSeed, caseSeed, hex, minimizeAsync, mutate, randomBuffer, Rng, splitChunks } from './mutate.js';
import { buildCorpus, CIPHER_KEYS, encrypted, receiveScenarios, SESSION_ID, SIGNING_KEY, TRANSFORM_FIELDS, type Scenario } from './seeds.js';
import { startWatchdog, type Watchdog } from './watchdog.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
const SEED = baseSeed();
const TIMEOUT_MS = Math.max(60_000, ITERATIONS / 2);
const scenarios = receiveScenarios();
const pool = buildCorpus().pool;

const SMB2_ID = 0x424d53fe;
const TRANSFORM_ID = 0x424d53fd;
const MAX_U64 = 0xffffffffffffffffn;

function securityFor(sc: Scenario): SessionSecurity | null {
  if (!sc.security) return null;
  if (sc.security.kind === 'sign') return { sessionId: SESSION_ID, signing: { algorithm: 'HMAC-SHA256', key: SIGNING_KEY }, cipher: null, encryptAll: false };
  const keys = CIPHER_KEYS[sc.security.cipher];
  return { sessionId: SESSION_ID, signing: null, cipher: { name: sc.security.cipher, ...keys }, encryptAll: false };
}

// ---------------------------------------------------------------------------------------------
// The byte stream of one case

function buildStream(rng: Rng, sc: Scenario): Buffer {
  const r = rng.int(100);
  if (r < 4) return randomBuffer(rng, 2048);
  if (r < 7) return encodeFrame(rng.chance(0.5) ? randomBuffer(rng, 2048) : mutate(rng, rng.pick(pool), pool));
  const frames: Buffer[] = [];
  let mutated = false;
  const pMutate = sc.frames.length === 1 ? 0.85 : 0.5;
  for (const f of sc.frames) {
    const mutateThis = rng.chance(pMutate);
    mutated ||= mutateThis;
    let payload: Buffer;
    if (!f.encrypt) payload = mutateThis ? mutate(rng, f.plain, pool) : f.plain.bytes;
    else {
      const cipher = sc.security?.kind === 'encrypt' ? sc.security.cipher : 'AES-128-GCM';
      const nonceSeed = rng.u32();
      if (mutateThis && rng.chance(0.6)) payload = encrypted(cipher, mutate(rng, f.plain, pool), nonceSeed);
      else {
        payload = encrypted(cipher, f.plain.bytes, nonceSeed);
        if (mutateThis) payload = mutate(rng, { name: 'transform', bytes: payload, fields: TRANSFORM_FIELDS }, pool);
      }
    }
    frames.push(encodeFrame(payload));
  }
  // The transport header itself: length off by a little or a lot, non-zero first byte.
  if (rng.chance(0.08) || (!mutated && rng.chance(0.5))) {
    const i = rng.int(frames.length);
    frames[i] = mutate(rng, { name: 'frame', bytes: frames[i]!, fields: [{ at: 0, size: 4, name: 'transport length' }, { at: 0, size: 1, name: 'transport zero' }, { at: 1, size: 2, name: 'length high' }] }, []);
  }
  if (frames.length > 1 && rng.chance(0.05)) {
    const i = rng.int(frames.length - 1);
    [frames[i], frames[i + 1]] = [frames[i + 1]!, frames[i]!];
  }
  if (rng.chance(0.07)) frames.push(frames[rng.int(frames.length)]!); // a duplicated response
  let stream = Buffer.concat(frames);
  if (rng.chance(0.05)) stream = Buffer.concat([stream, rng.chance(0.5) ? rng.bytes(rng.range(1, 80)) : encodeFrame(randomBuffer(rng, 256))]);
  if (rng.chance(0.05)) stream = stream.subarray(0, rng.int(stream.length + 1));
  return stream;
}

// ---------------------------------------------------------------------------------------------
// The oracle: what a correct client must do with this stream

interface Expectation {
  /** Why the first complete garbage frame is garbage; null when there is none. */
  garbage: string | null;
  /** MessageId -> the final response message, in the order answered (before any garbage). */
  answered: Map<bigint, { message: Buffer; encrypted: boolean }>;
  /** The stream ends inside a frame. */
  partial: boolean;
}

/** MS-SMB2 3.2.5.1.9: split a chain on NextCommand (8-aligned, at least a header, inside the chain). */
function splitChain(chain: Buffer): Buffer[] | string {
  const out: Buffer[] = [];
  for (let at = 0; ; ) {
    const rest = chain.subarray(at);
    if (rest.length < 64) return `message of ${rest.length} bytes is shorter than a header`;
    if (rest.readUInt32LE(0) !== SMB2_ID) return 'not an SMB2 protocol id';
    if (rest.readUInt16LE(4) !== 64) return 'header StructureSize is not 64';
    const next = rest.readUInt32LE(20);
    if (next === 0) {
      out.push(rest);
      return out;
    }
    if (next % 8 !== 0 || next < 64 || next > rest.length) return `bad NextCommand ${next}`;
    out.push(rest.subarray(0, next));
    at += next;
    if (out.length > 64) return 'more than 64 messages in a compound';
  }
}

function hmacSignatureOk(message: Buffer): boolean {
  const copy = Buffer.from(message);
  copy.fill(0, 48, 64);
  const mac = createHmac('sha256', SIGNING_KEY).update(copy).digest().subarray(0, 16);
  return timingSafeEqual(mac, message.subarray(48, 64));
}

function oracle(stream: Buffer, sc: Scenario): Expectation {
  const outstanding = new Map(sc.requests.map((command, i) => [BigInt(i), command]));
  const answered: Expectation['answered'] = new Map();
  const frameGarbage = (frame: Buffer): string | null => {
    let chain = frame;
    let wasEncrypted = false;
    if (frame.readUInt32LE(0) === TRANSFORM_ID) {
      if (sc.security?.kind !== 'encrypt') return 'encrypted message on a session without keys';
      try {
        const { sessionId, plaintext } = decryptMessage(sc.security.cipher, CIPHER_KEYS[sc.security.cipher].decryptionKey, frame);
        if (sessionId !== SESSION_ID) return 'encrypted for another session';
        chain = plaintext;
        wasEncrypted = true;
      } catch {
        return 'does not decrypt';
      }
    }
    const messages = splitChain(chain);
    if (typeof messages === 'string') return messages;
    for (const m of messages) {
      const flags = m.readUInt32LE(16);
      const status = m.readUInt32LE(8);
      const command = m.readUInt16LE(12);
      const messageId = m.readBigUInt64LE(24);
      if (!(flags & 0x1)) return 'a request, not a response';
      const interim = status === 0x103 && (flags & 0x2) !== 0;
      // Whatever SessionId the message names: there is one session, and a changed SessionId must
      // not exempt a message from the checks (test/reliability/tamper.test.ts).
      if (sc.security?.kind === 'sign' && !wasEncrypted) {
        if (flags & 0x8) {
          if (!hmacSignatureOk(m)) return 'bad signature';
        } else if (!interim && command !== 0x0001) return 'unsigned on a signed session';
      }
      if (command === 0x0012 && messageId === MAX_U64) continue;
      const expected = outstanding.get(messageId);
      if (expected === undefined) return `response to unknown MessageId ${messageId}`;
      if (expected !== command) return `command ${command} answers a ${expected} request`;
      if (interim) continue;
      outstanding.delete(messageId);
      answered.set(messageId, { message: m, encrypted: wasEncrypted });
    }
    return null;
  };
  let at = 0;
  while (stream.length - at >= 4) {
    if (stream[at] !== 0) return { garbage: `transport header byte 0x${stream[at]!.toString(16)}`, answered, partial: false };
    const length = stream.readUInt32BE(at);
    if (length < 4) return { garbage: `transport length ${length}`, answered, partial: false };
    if (stream.length - at - 4 < length) return { garbage: null, answered, partial: true };
    const why = frameGarbage(stream.subarray(at + 4, at + 4 + length));
    if (why) return { garbage: why, answered, partial: false };
    at += 4 + length;
  }
  return { garbage: null, answered, partial: at < stream.length };
}

// ---------------------------------------------------------------------------------------------
// What the client layers do with a final response: decode its body through conn.decode()

/** The decoders the client runs on a response of this command and status; null when it would not decode. */
function bodyDecoder(response: Response): (() => unknown) | null {
  const { header, message } = response;
  const moreProcessing = header.command === Command.SESSION_SETUP && header.status === NtStatus.MORE_PROCESSING_REQUIRED;
  if (isErrorStatus(header.status) && !moreProcessing) return null; // SmbError from the status alone
  switch (header.command) {
    case Command.NEGOTIATE:
      return () => {
        const r = decodeNegotiateResponse(message);
        return r.securityBuffer.length ? decodeNegToken(r.securityBuffer) : r;
      };
    case Command.SESSION_SETUP:
      return () => {
        const token = decodeNegToken(decodeSessionSetupResponse(message).securityBuffer);
        return moreProcessing && token.kind === 'resp' && token.responseToken ? decodeChallengeMessage(token.responseToken) : token;
      };
    case Command.TREE_CONNECT:
      return () => decodeTreeConnectResponse(message);
    case Command.CREATE:
      return () => decodeCreateResponse(message);
    case Command.CLOSE:
      return () => decodeCloseResponse(message);
    case Command.IOCTL:
      return () => decodeValidateNegotiateResponse(decodeIoctlResponse(message).output);
    case Command.QUERY_DIRECTORY:
      return () => decodeDirectoryEntries(decodeOutputBuffer(message, 'QUERY_DIRECTORY response'));
    case Command.CHANGE_NOTIFY:
      return () => decodeFileNotifyInformation(decodeOutputBuffer(message, 'CHANGE_NOTIFY response'));
    case Command.QUERY_INFO:
      return () => {
        const out = decodeOutputBuffer(message, 'QUERY_INFO response');
        return out.length === 24 ? decodeFileStandardInformation(out) : decodeFileBasicInformation(out);
      };
    case Command.ECHO:
    case Command.LOGOFF:
    case Command.TREE_DISCONNECT:
      return () => decodeEmptyResponse(message, 'empty response');
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// One feed

type Settled = { state: 'pending' } | { state: 'resolved'; value: Response } | { state: 'rejected'; reason: unknown };

interface Verdict {
  problems: string[];
  kind: 'answered' | 'protocol-error' | 'pending' | 'mixed';
  /** A complete response was dropped because garbage followed it in the same chunk. */
  /** Bodies decoded, and bodies whose ProtocolError failed the connection through conn.decode(). */
  decoded: number;
  decodeFailed: boolean;
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 3; i++) await Promise.resolve();
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function feed(sc: Scenario, stream: Buffer, chunks: Buffer[]): Promise<Verdict> {
  const problems: string[] = [];
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  const conn = new Connection(socket);
  const security = securityFor(sc);
  if (security) conn.setSecurity(security);
  conn.credits.grant(sc.requests.length);
  const closedWith: unknown[] = [];
  conn.on('closed', (err: unknown) => closedWith.push(err));

  const inflights: Inflight[] = sc.requests.map((command) => conn.send({ command, body: encodeEmptyRequest() }));
  const settled: Settled[] = inflights.map(() => ({ state: 'pending' }));
  inflights.forEach((f, i) => {
    if (f.messageId !== BigInt(i)) problems.push(`request ${i} was sent with MessageId ${f.messageId}`);
    f.response.then(
      (value) => (settled[i] = { state: 'resolved', value }),
      (reason: unknown) => (settled[i] = { state: 'rejected', reason }),
    );
  });

  for (const chunk of chunks) {
    try {
      conn.receive(chunk);
    } catch (err) {
      problems.push(`exception escaped conn.receive(): ${errorText(err)}`);
      break;
    }
  }
  await flushMicrotasks();

  const exp = oracle(stream, sc);
  const answeredIds = [...exp.answered.keys()];
  let kind: Verdict['kind'];
  // Requests the server answered must be resolved with exactly that message.
  inflights.forEach((f, i) => {
    const s = settled[i]!;
    const want = exp.answered.get(f.messageId);
    if (want) {
      if (s.state !== 'resolved') problems.push(`MessageId ${i} was answered but is ${s.state}${s.state === 'rejected' ? ` (${errorText(s.reason)})` : ''}`);
      else if (!s.value.message.equals(want.message) || s.value.encrypted !== want.encrypted || s.value.header.messageId !== f.messageId) {
        problems.push(`MessageId ${i} resolved with the wrong message`);
      }
    }
  });
  if (exp.garbage) {
    kind = 'protocol-error';
    const err = closedWith[0];
    if (closedWith.length !== 1) problems.push(`garbage frame (${exp.garbage}): 'closed' emitted ${closedWith.length} times`);
    if (!(err instanceof ProtocolError)) problems.push(`garbage frame (${exp.garbage}) did not fail the connection with a ProtocolError: ${closedWith.length ? errorText(err) : 'still open'}`);
    else {
      if (!err.message) problems.push('ProtocolError without a message');
      // receive() wraps anything else thrown inside it; a wrapped error is a decoder bug.
      if (err.message.startsWith('malformed message from the server:')) problems.push(`non-ProtocolError thrown inside the receive path: ${err.message}`);
    }
    if (!conn.closed) problems.push('conn.closed is false after a protocol error');
    inflights.forEach((f, i) => {
      const s = settled[i]!;
      if (exp.answered.has(f.messageId)) return;
      if (s.state !== 'rejected' || s.reason !== err) problems.push(`MessageId ${i}: ${s.state} after the protocol error, expected rejected with it`);
    });
  } else {
    kind = answeredIds.length === inflights.length ? 'answered' : answeredIds.length === 0 ? 'pending' : 'mixed';
    if (closedWith.length) problems.push(`well-formed traffic closed the connection: ${errorText(closedWith[0])}`);
    inflights.forEach((f, i) => {
      const s = settled[i]!;
      if (!exp.answered.has(f.messageId) && s.state !== 'pending') {
        problems.push(`MessageId ${i} ${s.state}${s.state === 'rejected' ? ` (${errorText(s.reason)})` : ''} but the server never answered it`);
      }
    });
  }

  // The client decodes each body through conn.decode(): a ProtocolError there must fail the
  // connection with that error (rejecting what is still pending); nothing else may be thrown.
  let decoded = 0;
  let decodeFailed = false;
  for (const s of settled) {
    if (s.state !== 'resolved' || conn.closed) continue;
    const decoder = bodyDecoder(s.value);
    if (!decoder) continue;
    const before = closedWith.length;
    try {
      conn.decode(decoder);
      decoded++;
    } catch (err) {
      if (!(err instanceof ProtocolError)) {
        problems.push(`body decoder of ${s.value.header.command} threw ${errorText(err)} (not a ProtocolError)`);
        continue;
      }
      decodeFailed = true;
      await flushMicrotasks();
      if (!conn.closed || closedWith.length !== before + 1 || closedWith[before] !== err) problems.push(`ProtocolError from conn.decode() did not close the connection with it: ${errorText(err)}`);
      inflights.forEach((_f, i) => {
        const t = settled[i]!;
        if (t.state === 'pending') problems.push(`MessageId ${i} still pending after conn.decode() failed the connection`);
        else if (t.state === 'rejected' && t.reason !== err && !exp.garbage) problems.push(`MessageId ${i} rejected with ${errorText(t.reason)}, not the decode error`);
      });
    }
  }

  // Whatever is still pending must be settled by close(), with a ConnectionError.
  const wasClosed = closedWith.length > 0;
  conn.close();
  await flushMicrotasks();
  inflights.forEach((_f, i) => {
    const s = settled[i]!;
    if (s.state === 'pending') problems.push(`MessageId ${i} still pending after conn.close()`);
  });
  if (!wasClosed) {
    if (closedWith.length !== 1 || !(closedWith[0] instanceof ConnectionError)) problems.push(`conn.close() emitted 'closed' ${closedWith.length} times, with ${errorText(closedWith[0])}`);
    inflights.forEach((f, i) => {
      const s = settled[i]!;
      if (!exp.answered.has(f.messageId) && !(s.state === 'rejected' && s.reason instanceof ConnectionError)) problems.push(`MessageId ${i}: not rejected with a ConnectionError by close()`);
    });
  } else if (closedWith.length !== 1) problems.push(`'closed' emitted again by close() after the protocol error`);
  return { problems, kind, decoded, decodeFailed };
}

// ---------------------------------------------------------------------------------------------

const counts = { feeds: 0, answered: 0, protocolError: 0, pending: 0, mixed: 0, chunks: 0, decoded: 0, decodeFailed: 0 };
const perScenario = new Map(scenarios.map((s) => [s.name, { feeds: 0, protocolError: 0 }]));
let dog: Watchdog;

beforeAll(() => {
  dog = startWatchdog(['Connection.receive'], SEED);
});

afterAll(async () => {
  await dog?.stop();
  const lines = [...perScenario].map(([name, s]) => `fuzz receive ${name.padEnd(66)} feeds ${String(s.feeds).padStart(6)}  ProtocolError ${String(s.protocolError).padStart(6)}`);
  console.log(
    `${lines.join('\n')}\nfuzz receive path: ${counts.feeds} feeds in ${counts.chunks} chunks on ${counts.feeds} connections: ` +
      `${counts.answered} fully answered, ${counts.protocolError} failed with ProtocolError, ${counts.pending} left pending (incomplete frame or STATUS_PENDING) then closed, ` +
      `${counts.mixed} partly answered; ` +
      `bodies: ${counts.decoded} decoded, ${counts.decodeFailed} feeds where conn.decode() failed the connection with a ProtocolError (FUZZ_SEED=${SEED})`,
  );
});

describe('Connection receive path', () => {
  it('accepts every scenario unmutated, whole and byte by byte', async () => {
    for (const sc of scenarios) {
      const stream = Buffer.concat(sc.frames.map((f, i) => encodeFrame(f.encrypt && sc.security?.kind === 'encrypt' ? encrypted(sc.security.cipher, f.plain.bytes, i + 1) : f.plain.bytes)));
      for (const chunks of [[stream], [...stream].map((b) => Buffer.from([b]))]) {
        const v = await feed(sc, stream, chunks);
        expect(v.problems, `${sc.name}: ${v.problems.join('; ')}`).toEqual([]);
        expect(oracle(stream, sc).garbage, sc.name).toBeNull();
        expect(v.kind, sc.name).toBe(sc.name.includes('Windows capture') ? 'mixed' : 'answered');
      }
    }
  });

  it(`survives ${ITERATIONS} mutated feeds: ProtocolError or success, never an escape or a hang`, async () => {
    const failures: string[] = [];
    const seen = new Set<string>();
    dog.arm(0);
    try {
      for (let i = 0; i < ITERATIONS; i++) {
        dog.beat(i);
        const cs = caseSeed(SEED, 0x7ec0, i);
        const rng = new Rng(cs);
        const sc = rng.pick(scenarios);
        const stream = buildStream(rng, sc);
        const chunks = splitChunks(rng, stream);
        const v = await feed(sc, stream, chunks);
        counts.feeds++;
        counts.chunks += chunks.length;
        counts[v.kind === 'protocol-error' ? 'protocolError' : v.kind]++;
        counts.decoded += v.decoded;
        if (v.decodeFailed) counts.decodeFailed++;
        const ps = perScenario.get(sc.name)!;
        ps.feeds++;
        if (v.kind === 'protocol-error') ps.protocolError++;
        if (v.problems.length) {
          const key = v.problems[0]!.replace(/\d+/g, 'N');
          if (!seen.has(key) && failures.length < 8) {
            seen.add(key);
            failures.push(await report(sc, stream, chunks, v, i, cs));
          }
        }
        // Let destroyed sockets emit 'close' and free them.
        if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      dog.disarm();
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, TIMEOUT_MS);
});

async function report(sc: Scenario, stream: Buffer, chunks: Buffer[], v: Verdict, i: number, cs: number): Promise<string> {
  // Minimize over whole-stream feeds when the failure shows without chunking.
  const first = v.problems[0]!.replace(/\d+/g, 'N');
  const reproduces = async (b: Buffer): Promise<boolean> => (await feed(sc, b, [b])).problems.some((p) => p.replace(/\d+/g, 'N') === first);
  const small = (await reproduces(stream)) ? await minimizeAsync(stream, reproduces) : stream;
  return (
    `receive path, scenario "${sc.name}": ${v.problems.join('; ')}\n  replay: FUZZ_SEED=${SEED} case ${i} (case seed ${cs})` +
    `\n  chunk sizes: ${chunks.map((c) => c.length).join(',')}\n  stream (${stream.length} bytes): ${hex(stream)}\n  minimized (${small.length} bytes): ${hex(small)}`
  );
}
