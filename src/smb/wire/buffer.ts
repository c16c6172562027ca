/**
 * Bounds-checked little-endian reading and writing. Every length and offset a server sends goes
 * through `Reader`, which throws `ProtocolError` instead of reading past the end: this is what
 * lets the decoders be fed arbitrary bytes by the fuzz tests.
 */
import { ProtocolError } from '../errors.js';

export class Reader {
  readonly buf: Buffer;
  offset: number;

  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.offset = offset;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.offset + n > this.buf.length) {
      throw new ProtocolError(`truncated ${what}: need ${n} bytes at offset ${this.offset}, have ${this.remaining}`);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf.readUInt8(this.offset++);
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.offset);
    this.offset += 8;
    return v;
  }

  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  skip(n: number, what = 'padding'): void {
    this.need(n, what);
    this.offset += n;
  }
}

/**
 * A slice of `buf` at an absolute offset and length that the peer announced; checked against the
 * buffer (and optionally a minimum offset, such as the end of the fixed part of a structure).
 */
export function slice(buf: Buffer, offset: number, length: number, what: string, minOffset = 0): Buffer {
  if (length === 0) return Buffer.alloc(0);
  if (offset < minOffset || offset + length > buf.length || length < 0) {
    throw new ProtocolError(`${what} out of bounds: offset ${offset} length ${length} in ${buf.length} bytes`);
  }
  return buf.subarray(offset, offset + length);
}

/** Growable little-endian writer for building requests. */
export class Writer {
  private chunks: Buffer;
  length = 0;

  constructor(initial = 256) {
    this.chunks = Buffer.alloc(initial);
  }

  private ensure(n: number): void {
    if (this.length + n <= this.chunks.length) return;
    const next = Buffer.alloc(Math.max(this.chunks.length * 2, this.length + n));
    this.chunks.copy(next, 0, 0, this.length);
    this.chunks = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.chunks.writeUInt8(v, this.length);
    this.length += 1;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.chunks.writeUInt16LE(v, this.length);
    this.length += 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.chunks.writeUInt32LE(v >>> 0, this.length);
    this.length += 4;
    return this;
  }

  u64(v: bigint): this {
    this.ensure(8);
    this.chunks.writeBigUInt64LE(BigInt.asUintN(64, v), this.length);
    this.length += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.chunks.set(b, this.length);
    this.length += b.length;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    this.chunks.fill(0, this.length, this.length + n);
    this.length += n;
    return this;
  }

  /** Pad with zeros to a multiple of `n` bytes. */
  align(n: number): this {
    const rem = this.length % n;
    return rem === 0 ? this : this.zeros(n - rem);
  }

  /** Overwrite a u16 written earlier (for offsets known only later). */
  patchU16(at: number, v: number): void {
    this.chunks.writeUInt16LE(v, at);
  }

  patchU32(at: number, v: number): void {
    this.chunks.writeUInt32LE(v >>> 0, at);
  }

  toBuffer(): Buffer {
    return Buffer.from(this.chunks.subarray(0, this.length));
  }
}

/** UTF-16LE encoding of a name as SMB2 sends it. */
export function utf16(s: string): Buffer {
  return Buffer.from(s, 'utf16le');
}

/** Decode UTF-16LE; an odd length is a protocol error, not a silently dropped byte. */
/**
 * `fromUtf16(slice(...))` without the intermediate view: the same bounds and length checks, the
 * string decoded straight from `buf` (for names decoded by the hundred thousand).
 */
export function utf16At(buf: Buffer, offset: number, length: number, what: string): string {
  if (offset < 0 || length < 0 || offset + length > buf.length) {
    throw new ProtocolError(`${what} out of bounds: offset ${offset} length ${length} in ${buf.length} bytes`);
  }
  if (length % 2 !== 0) throw new ProtocolError(`${what}: odd UTF-16 length ${length}`);
  return buf.toString('utf16le', offset, offset + length);
}

export function fromUtf16(b: Buffer, what: string): string {
  if (b.length % 2 !== 0) throw new ProtocolError(`${what}: odd UTF-16 length ${b.length}`);
  return b.toString('utf16le');
}
