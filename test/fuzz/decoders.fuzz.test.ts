/**
 * Every decoder of server bytes, fed mutated and random messages: the only outcomes allowed are a
 * normal return and a ProtocolError. Anything else (TypeError, RangeError, ERR_OUT_OF_RANGE from a
 * Buffer read, a hang) fails with the seed that replays it and a minimized input in hex.
 *
 * FUZZ_ITERATIONS (default 100000) is the total number of mutated/random inputs, split across the
 * targets; FUZZ_SEED fixes the base seed (default fixed, "random" for a fresh one).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeChallengeMessage, parseAvPairs } from '../../src/smb/auth/ntlm-messages.js';
import { decodeNegToken } from '../../src/smb/auth/spnego.js';
import { decryptMessage, type CipherName } from '../../src/smb/crypto/encryption.js';
import { ProtocolError } from '../../src/smb/errors.js';
import { decodeCloseResponse, decodeCreateResponse } from '../../src/smb/wire/create.js';
import { encodeFrame, FrameDecoder } from '../../src/smb/wire/frame.js';
import { bodyOf, decodeHeader, splitCompound } from '../../src/smb/wire/header.js';
import { decodeIoctlResponse, decodeValidateNegotiateResponse } from '../../src/smb/wire/ioctl.js';
import { decodeNegotiateResponse } from '../../src/smb/wire/negotiate.js';
import { decodeFileNotifyInformation } from '../../src/smb/wire/notify.js';
import { notifyOutcome } from '../../src/smb/change-notify.js';
import { SAMBA_NOTIFY_RESPONSES } from '../unit/fixtures/samba-notify.js';
import { decodeDirectoryEntries, decodeListedEntries, decodeOutputBuffer } from '../../src/smb/wire/query-directory.js';
import { decodeFileBasicInformation, decodeFileStandardInformation } from '../../src/smb/wire/query-info.js';
import { decodeSessionSetupResponse } from '../../src/smb/wire/session-setup.js';
import { decodeEmptyResponse } from '../../src/smb/wire/simple.js';
import { decodeTransformHeader } from '../../src/smb/wire/transform.js';
import { decodeTreeConnectResponse } from '../../src/smb/wire/tree.js';
import { baseSeed, boundaryValues, caseSeed, fuzzInput, hex, minimize, Rng, splitChunks, type Seed } from './mutate.js';
import { buildCorpus, CIPHER_KEYS } from './seeds.js';
import { startWatchdog, type Watchdog } from './watchdog.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
/** fast-check runs per property per target: a few thousand, more in the long `npm run fuzz`. */
const FC_RUNS = Math.max(2_000, Math.round(ITERATIONS / 50));
const SEED = baseSeed();
/** A single decode taking this long is a failure (quadratic blow-up, near-hang). */
const SLOW_MS = 1_000;
/** Per-test timeout: the default run is a few seconds per target; leave room for the 1M run. */
const TIMEOUT_MS = Math.max(60_000, ITERATIONS / 4);

const corpus = buildCorpus();

interface Target {
  name: string;
  /** Valid inputs for this decoder: each must be accepted as is, and is mutated. */
  seeds: Seed[];
  /** Inputs of a neighbouring type (an error body where an output buffer is due, ...): mutated too. */
  extraSeeds?: Seed[];
  /** The `param` under which a seed is valid (bodyOf's StructureSize, say). */
  seedParam?(seed: Seed): number;
  /** Decode `input`; `param` is a per-case random number for targets with a choice (chunking, size). */
  run(input: Buffer, param: number): unknown;
}

const STRUCTURE_SIZES = [4, 9, 16, 24, 49, 57, 60, 65, 89];
const DECRYPT_KEYS: Array<[CipherName, Buffer]> = [
  ...(Object.keys(CIPHER_KEYS) as CipherName[]).map((c): [CipherName, Buffer] => [c, CIPHER_KEYS[c].decryptionKey]),
  ...corpus.transforms.filter((t) => t.seed.name.startsWith('Windows')).map((t): [CipherName, Buffer] => [t.cipher, t.key]),
];

const framed = (seeds: Seed[]): Seed[] => [
  ...seeds.map((s) => ({ name: `framed ${s.name}`, bytes: encodeFrame(s.bytes), fields: [{ at: 0, size: 4 as const, name: 'transport length' }, ...s.fields.map((f) => ({ ...f, at: f.at + 4 }))] })),
  {
    name: 'three frames',
    bytes: Buffer.concat(seeds.slice(0, 3).map((s) => encodeFrame(s.bytes))),
    fields: [{ at: 0, size: 4, name: 'transport length' }],
  },
];

const messages = corpus.messages;
const targets: Target[] = [
  { name: 'decodeHeader', seeds: messages, run: (b) => decodeHeader(b) },
  { name: 'splitCompound', seeds: [...corpus.compounds, ...messages], run: (b) => splitCompound(b) },
  {
    name: 'bodyOf',
    seeds: messages.filter((m) => STRUCTURE_SIZES.includes(m.bytes.readUInt16LE(64))),
    seedParam: (m) => STRUCTURE_SIZES.indexOf(m.bytes.readUInt16LE(64)),
    run: (b, p) => bodyOf(b, STRUCTURE_SIZES[p % STRUCTURE_SIZES.length]!, 'fuzzed'),
  },
  {
    name: 'FrameDecoder.push',
    seeds: framed([...corpus.messages.slice(0, 8), ...corpus.transforms.slice(0, 2).map((t) => t.seed)]),
    run: (b, p) => {
      const d = new FrameDecoder();
      const frames: Buffer[] = [];
      for (const chunk of splitChunks(new Rng(p), b)) frames.push(...d.push(chunk));
      // A broken stream is reported through `error` after the frames cut before the break.
      if (d.error) throw d.error;
      return frames;
    },
  },
  { name: 'decodeNegotiateResponse', seeds: corpus.negotiate, run: (b) => decodeNegotiateResponse(b) },
  { name: 'decodeSessionSetupResponse', seeds: corpus.sessionSetup, run: (b) => decodeSessionSetupResponse(b) },
  { name: 'decodeTreeConnectResponse', seeds: corpus.treeConnect, run: (b) => decodeTreeConnectResponse(b) },
  { name: 'decodeCreateResponse', seeds: corpus.create, run: (b) => decodeCreateResponse(b) },
  { name: 'decodeCloseResponse', seeds: corpus.close, run: (b) => decodeCloseResponse(b) },
  {
    name: 'decodeOutputBuffer',
    seeds: [...corpus.queryDirectory, ...corpus.changeNotify, ...corpus.queryInfo],
    extraSeeds: corpus.errors,
    run: (b) => decodeOutputBuffer(b, 'fuzzed'),
  },
  { name: 'decodeDirectoryEntries', seeds: corpus.directoryBuffers, run: (b) => decodeDirectoryEntries(b) },
  { name: 'decodeListedEntries', seeds: corpus.directoryBuffers, run: (b) => decodeListedEntries(b, []) },
  { name: 'decodeFileBasicInformation', seeds: corpus.basicInfo, extraSeeds: corpus.standardInfo, run: (b) => decodeFileBasicInformation(b) },
  { name: 'decodeFileStandardInformation', seeds: corpus.standardInfo, extraSeeds: corpus.basicInfo, run: (b) => decodeFileStandardInformation(b) },
  { name: 'decodeFileNotifyInformation', seeds: corpus.notifyBuffers, run: (b) => decodeFileNotifyInformation(b) },
  { name: 'decodeIoctlResponse', seeds: corpus.ioctl, run: (b) => decodeIoctlResponse(b) },
  { name: 'decodeValidateNegotiateResponse', seeds: corpus.validateNegotiate, run: (b) => decodeValidateNegotiateResponse(b) },
  { name: 'decodeEmptyResponse', seeds: corpus.empty, run: (b) => decodeEmptyResponse(b, 'fuzzed') },
  { name: 'decodeTransformHeader', seeds: corpus.transforms.map((t) => t.seed), run: (b) => decodeTransformHeader(b) },
  {
    name: 'decryptMessage',
    seeds: corpus.transforms.map((t) => t.seed),
    // Every cipher and key on every input: each must return or throw ProtocolError. Accepted when
    // one of them decrypts; otherwise the last ProtocolError is the outcome.
    run: (b) => {
      let opened = 0;
      let last: ProtocolError | undefined;
      for (const [cipher, key] of DECRYPT_KEYS) {
        try {
          decryptMessage(cipher, key, b);
          opened++;
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          last = err;
        }
      }
      if (opened === 0 && last) throw last;
      return opened;
    },
  },
  { name: 'decodeChallengeMessage', seeds: corpus.challenges, run: (b) => decodeChallengeMessage(b) },
  { name: 'parseAvPairs', seeds: corpus.targetInfos, run: (b) => parseAvPairs(b) },
  { name: 'decodeNegToken', seeds: corpus.spnego, run: (b) => decodeNegToken(b) },
  // Whole messages through the decoders the client chains on them.
  { name: 'NEGOTIATE -> decodeNegToken', seeds: corpus.negotiate, run: (b) => decodeNegToken(decodeNegotiateResponse(b).securityBuffer) },
  {
    name: 'SESSION_SETUP -> decodeNegToken -> decodeChallengeMessage',
    seeds: corpus.sessionSetup,
    run: (b) => {
      const token = decodeNegToken(decodeSessionSetupResponse(b).securityBuffer);
      return token.kind === 'resp' && token.responseToken ? decodeChallengeMessage(token.responseToken) : token;
    },
  },
  { name: 'QUERY_DIRECTORY -> decodeDirectoryEntries', seeds: corpus.queryDirectory, run: (b) => decodeDirectoryEntries(decodeOutputBuffer(b, 'fuzzed')) },
  { name: 'CHANGE_NOTIFY -> decodeFileNotifyInformation', seeds: corpus.changeNotify, run: (b) => decodeFileNotifyInformation(decodeOutputBuffer(b, 'fuzzed')) },
  {
    // The typed outcome the watch engine acts on, from synthetic and smbd-captured responses.
    name: 'CHANGE_NOTIFY -> notifyOutcome',
    seeds: [...corpus.changeNotify, ...Object.entries(SAMBA_NOTIFY_RESPONSES).map(([name, bytes]) => ({ name: `smbd ${name}`, bytes, fields: [] }))],
    extraSeeds: corpus.errors,
    run: (b) => notifyOutcome(decodeHeader(b).status, b),
  },
  {
    name: 'QUERY_INFO -> FileBasic/StandardInformation',
    seeds: corpus.queryInfo,
    seedParam: (m) => (m.name.includes('Basic') ? 1 : 0),
    run: (b, p) => (p & 1 ? decodeFileBasicInformation : decodeFileStandardInformation)(decodeOutputBuffer(b, 'fuzzed')),
  },
  { name: 'IOCTL -> decodeValidateNegotiateResponse', seeds: corpus.ioctl, run: (b) => decodeValidateNegotiateResponse(decodeIoctlResponse(b).output) },
];

const allSeeds = (t: Target): Seed[] => [...t.seeds, ...(t.extraSeeds ?? [])];

type Outcome = { kind: 'ok' } | { kind: 'protocol'; error: ProtocolError } | { kind: 'bad'; error: unknown } | { kind: 'slow'; ms: number };

function classify(target: Target, input: Buffer, param: number): Outcome {
  const start = performance.now();
  let outcome: Outcome;
  try {
    target.run(input, param);
    outcome = { kind: 'ok' };
  } catch (err) {
    // A ProtocolError must say what was wrong: that is the "clear error" the connection reports.
    outcome = err instanceof ProtocolError && err.message.length > 0 ? { kind: 'protocol', error: err } : { kind: 'bad', error: err };
  }
  const ms = performance.now() - start;
  return outcome.kind !== 'bad' && ms > SLOW_MS ? { kind: 'slow', ms } : outcome;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const at = err.stack?.split('\n').find((l) => l.includes('/src/'))?.trim() ?? '';
    return `${err.name}${code ? ` [${code}]` : ''}: ${err.message} ${at}`;
  }
  return `non-Error thrown: ${String(err)}`;
}

function failureKey(o: Outcome): string {
  if (o.kind === 'slow') return 'slow';
  if (o.kind !== 'bad') return o.kind;
  return o.error instanceof Error ? `${o.error.name}:${(o.error as NodeJS.ErrnoException).code ?? ''}` : 'non-Error';
}

interface Stats {
  inputs: number;
  accepted: number;
  protocolErrors: number;
  fcRuns: number;
}
const stats = new Map<string, Stats>(targets.map((t) => [t.name, { inputs: 0, accepted: 0, protocolErrors: 0, fcRuns: 0 }]));

/** Inputs per target: the total split evenly, rounded up so the total is at least ITERATIONS. */
const PER_TARGET = Math.ceil(ITERATIONS / targets.length);

let dog: Watchdog;
beforeAll(() => {
  dog = startWatchdog(targets.map((t) => t.name), SEED);
});

afterAll(async () => {
  await dog?.stop();
  const lines = [...stats].map(
    ([name, s]) =>
      `fuzz ${name.padEnd(58)} inputs ${String(s.inputs).padStart(7)}  accepted ${String(s.accepted).padStart(7)}  ProtocolError ${String(s.protocolErrors).padStart(7)}  fast-check runs ${s.fcRuns}`,
  );
  const total = [...stats.values()].reduce((n, s) => n + s.inputs, 0);
  const fcTotal = [...stats.values()].reduce((n, s) => n + s.fcRuns, 0);
  console.log(`${lines.join('\n')}\nfuzz decoders: ${total} mutated/random inputs + ${fcTotal} fast-check runs across ${targets.length} targets (FUZZ_SEED=${SEED})`);
});

describe('seeds are valid server messages', () => {
  it.each(targets.map((t) => [t.name, t] as const))('%s accepts every one of its seeds', (_name, target) => {
    for (const seed of target.seeds) {
      const o = classify(target, seed.bytes, target.seedParam?.(seed) ?? 1);
      expect(o.kind === 'ok' ? 'ok' : `${seed.name}: ${o.kind === 'protocol' || o.kind === 'bad' ? describeError(o.error) : o.kind}`).toBe('ok');
    }
  });
});

describe.each(targets.map((t, i) => [t.name, t, i] as const))('%s', (_name, target, targetIndex) => {
  it(`returns or throws ProtocolError on ${PER_TARGET} mutated and random inputs`, () => {
    const s = stats.get(target.name)!;
    const failures: string[] = [];
    const seen = new Set<string>();
    dog.arm(targetIndex);
    try {
      for (let i = 0; i < PER_TARGET; i++) {
        dog.beat(i);
        const cs = caseSeed(SEED, targetIndex, i);
        const rng = new Rng(cs);
        const input = fuzzInput(rng, allSeeds(target), corpus.pool);
        const param = rng.u32();
        const o = classify(target, input, param);
        s.inputs++;
        if (o.kind === 'ok') s.accepted++;
        else if (o.kind === 'protocol') s.protocolErrors++;
        else {
          const key = failureKey(o);
          if (seen.has(key) || failures.length >= 5) continue;
          seen.add(key);
          const small = o.kind === 'bad' ? minimize(input, (b) => failureKey(classify(target, b, param)) === key) : input;
          const what = o.kind === 'bad' ? describeError(o.error) : `took ${o.ms.toFixed(0)} ms`;
          failures.push(
            `${target.name}: ${what}\n  replay: FUZZ_SEED=${SEED} target ${targetIndex} case ${i} (case seed ${cs}, param ${param})` +
              `\n  input (${input.length} bytes): ${hex(input)}\n  minimized (${small.length} bytes): ${hex(small)}`,
          );
        }
      }
    } finally {
      dog.disarm();
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, TIMEOUT_MS);

  it(`fast-check: arbitrary bytes (${FC_RUNS} runs, shrinking)`, () => {
    const s = stats.get(target.name)!;
    dog.arm(targetIndex);
    try {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), (bytes, param) => {
          dog.beat(s.fcRuns++);
          const o = classify(target, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), param);
          if (o.kind === 'bad') throw o.error;
          if (o.kind === 'slow') throw new Error(`decode took ${o.ms.toFixed(0)} ms`);
        }),
        { numRuns: FC_RUNS, seed: SEED | 0 },
      );
    } finally {
      dog.disarm();
    }
  }, TIMEOUT_MS);

  it(`fast-check: seeds with field overwrites, truncation and junk (${FC_RUNS} runs, shrinking)`, () => {
    const s = stats.get(target.name)!;
    const value = fc.oneof(fc.constantFrom(...boundaryValues(0, 4), 0xfffffff8, 0x40, 0x48), fc.nat({ max: 0xffffffff }));
    const edit = fc.record({ useField: fc.boolean(), where: fc.nat(), size: fc.constantFrom(1, 2, 4), value, relative: fc.integer({ min: -2, max: 2 }) });
    const seeds = allSeeds(target);
    const mutation = fc.record({
      seed: fc.nat({ max: seeds.length - 1 }),
      edits: fc.array(edit, { maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 24 }),
      param: fc.nat(),
    });
    dog.arm(targetIndex);
    try {
      fc.assert(
        fc.property(mutation, (m) => {
          dog.beat(s.fcRuns++);
          const seed = seeds[m.seed]!;
          let buf = Buffer.from(seed.bytes);
          for (const e of m.edits) {
            const field = e.useField && seed.fields.length ? seed.fields[e.where % seed.fields.length]! : undefined;
            const size = field ? Math.min(field.size, 4) : e.size;
            const at = field ? field.at : buf.length ? e.where % buf.length : 0;
            // "relative" makes lengths land on len-2 .. len+2 as well as on the fixed values.
            const v = e.relative !== 0 ? buf.length + e.relative : e.value;
            if (at + size > buf.length || v < 0) continue;
            if (size === 1) buf.writeUInt8(v & 0xff, at);
            else if (size === 2) buf.writeUInt16LE(v & 0xffff, at);
            else buf.writeUInt32LE(v >>> 0, at);
          }
          if (m.cut !== undefined) buf = buf.subarray(0, m.cut % (buf.length + 1));
          if (m.tail.length) buf = Buffer.concat([buf, m.tail]);
          const o = classify(target, buf, m.param);
          if (o.kind === 'bad') throw o.error;
          if (o.kind === 'slow') throw new Error(`decode took ${o.ms.toFixed(0)} ms`);
        }),
        { numRuns: FC_RUNS, seed: (SEED ^ 0x5a5a5a5a) | 0 },
      );
    } finally {
      dog.disarm();
    }
  }, TIMEOUT_MS);
});
