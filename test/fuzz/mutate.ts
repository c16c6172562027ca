/**
 * A small deterministic mutator for the fuzz tests. Everything is driven by `Rng` (mulberry32), and
 * every case gets its own seed from `caseSeed(base, stream, index)`, so a failure printed as
 * "FUZZ_SEED=b case i" replays exactly, independently of the cases around it.
 */

/** A field of a seed message that the mutator aims at: an offset, length or count the server sends. */
export interface Field {
  /** Byte offset in the seed. */
  at: number;
  size: 1 | 2 | 4 | 8;
  name: string;
}

/** A valid message as a server would send it, with its offset/length fields marked. */
export interface Seed {
  name: string;
  bytes: Buffer;
  fields: Field[];
}

/** mulberry32: tiny, fast, 32-bit state, good enough for picking mutations. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, n); 0 when n <= 0. */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 0x100000000) * n);
  }

  /** Uniform in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      b[i] = v & 0xff;
      if (i + 1 < n) b[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) b[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) b[i + 3] = v >>> 24;
    }
    return b;
  }
}

/** murmur3's finalizer over (base, stream, index): independent per-case seeds. */
export function caseSeed(base: number, stream: number, index: number): number {
  let h = (base ^ Math.imul(stream + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The base seed: FUZZ_SEED from the environment (a number, or "random"), else a fixed one for CI. */
export function baseSeed(): number {
  const env = process.env.FUZZ_SEED;
  if (env === undefined || env === '') return 0x5eed_f00d;
  if (env === 'random') return (Date.now() ^ (process.pid << 16)) >>> 0;
  const n = Number(env);
  if (!Number.isFinite(n)) throw new Error(`FUZZ_SEED=${env} is not a number or "random"`);
  return n >>> 0;
}

export const INTERESTING_BYTES: readonly number[] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/**
 * Values an offset or length field should be tried with, for a message of `len` bytes: the edges
 * of the buffer (len - 1, len, len + 1), of the header (63, 64, 65), of the integer types, and
 * the signed/unsigned boundaries.
 */
export function boundaryValues(len: number, size: 1 | 2 | 4 | 8): number[] {
  const candidates = [
    0, 1, 2, 3, 4, 7, 8, len - 1, len, len + 1, len - 2, len + 2, len >> 1, 63, 64, 65, 0x7f, 0x80, 0xff, 0x100,
    0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
  ];
  const max = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  const out = new Set<number>();
  for (const v of candidates) if (v >= 0 && v <= max) out.add(v);
  return [...out];
}

function writeUint(buf: Buffer, at: number, size: 1 | 2 | 4 | 8, value: number): void {
  if (at < 0 || at + size > buf.length) return;
  switch (size) {
    case 1:
      buf.writeUInt8(value & 0xff, at);
      break;
    case 2:
      buf.writeUInt16LE(value & 0xffff, at);
      break;
    case 4:
      buf.writeUInt32LE(value >>> 0, at);
      break;
    case 8:
      buf.writeUInt32LE(value >>> 0, at);
      buf.writeUInt32LE(value > 0xffffffff ? 0xffffffff : 0, at + 4);
      break;
  }
}

function readUint(buf: Buffer, at: number, size: 1 | 2 | 4 | 8): number {
  if (at < 0 || at + size > buf.length) return 0;
  switch (size) {
    case 1:
      return buf.readUInt8(at);
    case 2:
      return buf.readUInt16LE(at);
    default:
      return buf.readUInt32LE(at);
  }
}

type Mutation = (rng: Rng, buf: Buffer, seed: Seed, pool: readonly Seed[]) => Buffer;

const bitFlip: Mutation = (rng, buf) => {
  if (buf.length === 0) return buf;
  const at = rng.int(buf.length);
  buf[at]! ^= 1 << rng.int(8);
  return buf;
};

const interestingByte: Mutation = (rng, buf) => {
  if (buf.length === 0) return buf;
  buf[rng.int(buf.length)] = rng.pick(INTERESTING_BYTES);
  return buf;
};

const randomByte: Mutation = (rng, buf) => {
  if (buf.length === 0) return buf;
  buf[rng.int(buf.length)] = rng.int(256);
  return buf;
};

/** u16/u32 boundary value at any offset (not necessarily aligned). */
const boundaryAnywhere: Mutation = (rng, buf) => {
  const size = rng.pick([2, 4] as const);
  if (buf.length < size) return buf;
  writeUint(buf, rng.int(buf.length - size + 1), size, rng.pick(boundaryValues(buf.length, size)));
  return buf;
};

/** Boundary value at one of the structure's own offset/length/count fields. */
const boundaryAtField: Mutation = (rng, buf, seed) => {
  if (seed.fields.length === 0) return boundaryAnywhere(rng, buf, seed, []);
  const f = rng.pick(seed.fields);
  writeUint(buf, f.at, f.size, rng.pick(boundaryValues(buf.length, f.size)));
  return buf;
};

/** Small arithmetic on a field: off by one, two, eight, or doubled. */
const arithmeticAtField: Mutation = (rng, buf, seed) => {
  if (seed.fields.length === 0) return buf;
  const f = rng.pick(seed.fields);
  const v = readUint(buf, f.at, f.size);
  const delta = rng.pick([-8, -4, -2, -1, 1, 2, 4, 8]);
  writeUint(buf, f.at, f.size, rng.chance(0.15) ? v * 2 : v + delta < 0 ? 0 : v + delta);
  return buf;
};

/** Truncate: anywhere, at a field, or at the SMB2 header edge. */
const truncate: Mutation = (rng, buf, seed) => {
  if (buf.length === 0) return buf;
  const choice = rng.int(4);
  let to: number;
  if (choice === 0 && seed.fields.length) {
    const f = rng.pick(seed.fields);
    to = f.at + rng.int(f.size + 1);
  } else if (choice === 1) {
    to = rng.pick([63, 64, 65, 66, buf.length - 1]);
  } else {
    to = rng.int(buf.length);
  }
  return buf.subarray(0, Math.max(0, Math.min(to, buf.length)));
};

/** Extend with junk: random bytes, zeros, 0xff, or a repeat of the message's own tail. */
const extend: Mutation = (rng, buf) => {
  const n = rng.chance(0.8) ? rng.range(1, 64) : rng.range(65, 2048);
  let junk: Buffer;
  switch (rng.int(4)) {
    case 0:
      junk = Buffer.alloc(n);
      break;
    case 1:
      junk = Buffer.alloc(n, 0xff);
      break;
    case 2:
      junk = buf.length ? Buffer.from(buf.subarray(Math.max(0, buf.length - n))) : rng.bytes(n);
      break;
    default:
      junk = rng.bytes(n);
  }
  return Buffer.concat([buf, junk]);
};

/** Overwrite or insert a chunk of another seed (for example a body from a different command). */
const splice: Mutation = (rng, buf, _seed, pool) => {
  if (pool.length === 0) return buf;
  const donor = rng.pick(pool).bytes;
  if (donor.length === 0) return buf;
  const from = rng.int(donor.length);
  const n = rng.range(1, Math.min(donor.length - from, 256));
  const chunk = donor.subarray(from, from + n);
  const at = rng.int(buf.length + 1);
  if (rng.chance(0.5)) return Buffer.concat([buf.subarray(0, at), chunk, buf.subarray(at)]);
  const out = Buffer.from(buf);
  chunk.copy(out, at, 0, Math.min(chunk.length, out.length - at));
  return out;
};

/** Duplicate a range in place (a repeated entry, a doubled header). */
const duplicate: Mutation = (rng, buf) => {
  if (buf.length === 0) return buf;
  const from = rng.int(buf.length);
  const n = rng.range(1, Math.min(buf.length - from, 128));
  const at = rng.int(buf.length + 1);
  return Buffer.concat([buf.subarray(0, at), buf.subarray(from, from + n), buf.subarray(at)]);
};

/** Delete a range. */
const remove: Mutation = (rng, buf) => {
  if (buf.length === 0) return buf;
  const from = rng.int(buf.length);
  const n = rng.range(1, Math.min(buf.length - from, 64));
  return Buffer.concat([buf.subarray(0, from), buf.subarray(from + n)]);
};

/** Weighted: the structure's own offset/length fields are the main target. */
const MUTATIONS: ReadonlyArray<[Mutation, number]> = [
  [bitFlip, 10],
  [interestingByte, 8],
  [randomByte, 5],
  [boundaryAnywhere, 8],
  [boundaryAtField, 24],
  [arithmeticAtField, 10],
  [truncate, 8],
  [extend, 6],
  [splice, 6],
  [duplicate, 5],
  [remove, 5],
];
const TOTAL_WEIGHT = MUTATIONS.reduce((n, [, w]) => n + w, 0);

function pickMutation(rng: Rng): Mutation {
  let r = rng.int(TOTAL_WEIGHT);
  for (const [m, w] of MUTATIONS) {
    if (r < w) return m;
    r -= w;
  }
  return bitFlip;
}

/** One to a few stacked mutations of `seed`; always a fresh buffer. */
export function mutate(rng: Rng, seed: Seed, pool: readonly Seed[]): Buffer {
  let buf = Buffer.from(seed.bytes);
  const count = rng.chance(0.5) ? 1 : rng.range(2, 5);
  for (let i = 0; i < count; i++) buf = Buffer.from(pickMutation(rng)(rng, buf, seed, pool));
  return buf;
}

/** Fully random bytes of a random length, mostly short, sometimes a few KiB. */
export function randomBuffer(rng: Rng, maxLength = 4096): Buffer {
  const r = rng.int(100);
  const n = r < 15 ? rng.int(9) : r < 70 ? rng.int(129) : r < 95 ? rng.int(1025) : rng.int(maxLength + 1);
  return rng.bytes(n);
}

/** A valid prefix of the seed (header, say) followed by random bytes. */
export function prefixThenRandom(rng: Rng, seed: Seed): Buffer {
  const keep = rng.int(seed.bytes.length + 1);
  return Buffer.concat([seed.bytes.subarray(0, keep), rng.bytes(rng.int(Math.max(1, seed.bytes.length - keep) + 64))]);
}

/** One input for a decoder: mostly a mutated seed, sometimes random bytes. */
export function fuzzInput(rng: Rng, seeds: readonly Seed[], pool: readonly Seed[]): Buffer {
  const r = rng.int(100);
  if (r < 8) return randomBuffer(rng);
  if (r < 12) return prefixThenRandom(rng, rng.pick(seeds));
  if (r < 14) return Buffer.from(rng.pick(seeds).bytes); // the seeds themselves stay accepted
  return mutate(rng, rng.pick(seeds), pool);
}

/** Split a byte stream into chunks as TCP might deliver it: whole, byte by byte, or random sizes. */
export function splitChunks(rng: Rng, buf: Buffer): Buffer[] {
  const r = rng.int(10);
  if (r < 4 || buf.length <= 1) return [buf];
  if (r === 4 && buf.length <= 512) return [...buf].map((b) => Buffer.from([b]));
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    const n = rng.chance(0.3) ? rng.range(1, 4) : rng.range(1, Math.max(1, buf.length - at));
    chunks.push(buf.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

export function hex(buf: Buffer): string {
  return buf.toString('hex');
}

/**
 * Greedy delta debugging as a generator: yields each candidate and is told whether it still
 * fails; removes chunks, then (when `zeroBytes`) zeroes bytes. Bounded by `budget` tries. One
 * algorithm for both drivers below, synchronous and awaiting.
 */
function* shrinkSteps(input: Buffer, budget: number, zeroBytes: boolean): Generator<Buffer, Buffer, boolean> {
  let cur = input;
  let tries = 0;
  for (let chunk = Math.max(1, cur.length >> 1); chunk >= 1 && tries < budget; chunk = chunk === 1 ? 0 : chunk >> 1) {
    let at = 0;
    while (at < cur.length && tries < budget) {
      const candidate = Buffer.concat([cur.subarray(0, at), cur.subarray(at + chunk)]);
      tries++;
      if (yield candidate) cur = candidate;
      else at += chunk;
    }
  }
  for (let i = 0; zeroBytes && i < cur.length && tries < budget; i++) {
    if (cur[i] === 0) continue;
    const candidate = Buffer.from(cur);
    candidate[i] = 0;
    tries++;
    if (yield candidate) cur = candidate;
  }
  return cur;
}

/** The smallest input (removing chunks, then zeroing bytes) for which `fails` still holds. */
export function minimize(input: Buffer, fails: (b: Buffer) => boolean, budget = 20_000): Buffer {
  const steps = shrinkSteps(input, budget, true);
  let step = steps.next(false);
  while (!step.done) step = steps.next(fails(step.value));
  return step.value;
}

/** `minimize` (chunk removal only) for a predicate that has to await (the receive path settles promises). */
export async function minimizeAsync(input: Buffer, fails: (b: Buffer) => Promise<boolean>, budget = 3_000): Promise<Buffer> {
  const steps = shrinkSteps(input, budget, false);
  let step = steps.next(false);
  while (!step.done) step = steps.next(await fails(step.value));
  return step.value;
}
