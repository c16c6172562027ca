/**
 * The small part of DER (ITU-T X.690) that SPNEGO needs: definite lengths in short and long form,
 * single-byte tags, OBJECT IDENTIFIER, ENUMERATED and OCTET STRING. Decoding is bounds-checked and
 * throws ProtocolError on anything malformed, since these bytes come from the server.
 */
import { ProtocolError } from '../errors.js';

export const Tag = {
  ENUMERATED: 0x0a,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
  /** [APPLICATION 0] constructed: the GSS-API InitialContextToken (RFC 2743 3.1). */
  APPLICATION_0: 0x60,
} as const;

/** Context-specific constructed tag [n] (X.690 8.1.2). */
export const contextTag = (n: number): number => 0xa0 | n;

/** X.690 8.1.3: short form below 128, otherwise 0x80 | byte count followed by the big-endian length. */
export function encodeLength(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`DER length ${n}`);
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function encodeTlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

/** X.690 8.19: the first two arcs share a byte (40 * a + b), the rest are base-128 big-endian. */
export function encodeOid(oid: string): Buffer {
  const arcs = oid.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`bad OID ${oid}`);
    return Number(s);
  });
  if (arcs.length < 2 || arcs[0]! > 2 || (arcs[0]! < 2 && arcs[1]! >= 40)) throw new RangeError(`bad OID ${oid}`);
  const out: number[] = [];
  const push = (v: number): void => {
    const groups = [v & 0x7f];
    for (let rest = Math.floor(v / 128); rest > 0; rest = Math.floor(rest / 128)) groups.unshift(0x80 | (rest & 0x7f));
    out.push(...groups);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return encodeTlv(Tag.OID, Buffer.from(out));
}

export function decodeOid(content: Buffer): string {
  if (content.length === 0) throw new ProtocolError('empty OBJECT IDENTIFIER');
  const values: number[] = [];
  let value = 0;
  let started = false;
  for (const byte of content) {
    if (!started && byte === 0x80) throw new ProtocolError('OBJECT IDENTIFIER arc with a leading zero group');
    started = true;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new ProtocolError('OBJECT IDENTIFIER arc too large');
    if ((byte & 0x80) === 0) {
      values.push(value);
      value = 0;
      started = false;
    }
  }
  if (started) throw new ProtocolError('OBJECT IDENTIFIER ends inside an arc');
  const first = values[0]!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...values.slice(1)].join('.');
}

export interface Tlv {
  tag: number;
  content: Buffer;
  /** Offset just past this element in the buffer it was read from. */
  end: number;
}

/** Read one element at `offset`; its content must lie inside `buf`. */
export function readTlv(buf: Buffer, offset: number, what: string): Tlv {
  if (offset + 2 > buf.length) throw new ProtocolError(`${what}: truncated DER element`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new ProtocolError(`${what}: multi-byte DER tags are not used by SPNEGO`);
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new ProtocolError(`${what}: indefinite length is not DER`);
    if (count > 4) throw new ProtocolError(`${what}: length of ${count} bytes`);
    if (pos + count > buf.length) throw new ProtocolError(`${what}: truncated DER length`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos++]!;
  }
  if (pos + length > buf.length) {
    throw new ProtocolError(`${what}: DER length ${length} exceeds the ${buf.length - pos} bytes left`);
  }
  return { tag, content: buf.subarray(pos, pos + length), end: pos + length };
}

/** Read one element of an expected tag. */
export function expectTlv(buf: Buffer, offset: number, tag: number, what: string): Tlv {
  const tlv = readTlv(buf, offset, what);
  if (tlv.tag !== tag) throw new ProtocolError(`${what}: expected DER tag 0x${tag.toString(16)}, got 0x${tlv.tag.toString(16)}`);
  return tlv;
}

/** All elements of a constructed value; they must fill it exactly. */
export function readChildren(content: Buffer, what: string): Tlv[] {
  const children: Tlv[] = [];
  let offset = 0;
  while (offset < content.length) {
    const child = readTlv(content, offset, what);
    children.push(child);
    offset = child.end;
  }
  return children;
}

/** The single element that a context tag [n] wraps (explicit tagging). */
export function unwrapExplicit(tlv: Tlv, tag: number, what: string): Tlv {
  const inner = expectTlv(tlv.content, 0, tag, what);
  if (inner.end !== tlv.content.length) throw new ProtocolError(`${what}: trailing bytes after the tagged value`);
  return inner;
}
