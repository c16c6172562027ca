/**
 * The `Event` signal as D-Bus wire bytes, written for its one fixed shape: a signal from a fixed
 * object, interface and member whose body is one `a{sv}` with the event's fields in record order
 * (watch/events.ts EVENT_FIELDS), each key's type known in advance. dbus-next's generic path turns
 * the dictionary into Variants, walks them against the parsed signature into an intermediate
 * form, marshals that value by value and copies the parts together; here everything that does not
 * depend on the event (the header but its length and serial, each key with its variant signature
 * and padding) is encoded once, and an event costs its values only. Pure: no I/O.
 *
 * Layout (D-Bus specification, "Message Format"; little-endian): the fixed header `yyyyuua(yv)`
 * padded to 8, then the body. In the body an array is its byte length (uint32), padding to its
 * element alignment, the elements; a dict entry aligns to 8; a string is uint32 length, UTF-8,
 * NUL; a variant is its signature (byte length, type codes, NUL) then its value aligned to its
 * type; uint64 aligns to 8, uint32 and boolean (a uint32 0 or 1) to 4. Padding bytes are zero.
 */
import { EVENT_FIELDS, type FieldType } from '../watch/events.js';
import type { DaemonEvent } from './types.js';

const LITTLE_ENDIAN = 0x6c; // 'l'
const SIGNAL = 4;
const PROTOCOL_VERSION = 1;
// Header field codes.
const PATH = 1;
const INTERFACE = 2;
const MEMBER = 3;
const SIGNATURE = 8;

const align = (n: number, to: number): number => (n + to - 1) & ~(to - 1);

const VALUE_ALIGNMENT: Record<FieldType, number> = { s: 4, t: 8, u: 4, b: 4 };

/** D-Bus strings are UTF-8 without NUL: a NUL or an unpaired surrogate would get us disconnected. */
export function busString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** The message header with its fields; body length (offset 4) and serial (offset 8) left 0. */
function encodeHeader(path: string, iface: string, member: string, signature: string): Buffer {
  const fields: Array<[number, 'o' | 's' | 'g', string]> = [
    [PATH, 'o', path],
    [INTERFACE, 's', iface],
    [MEMBER, 's', member],
    [SIGNATURE, 'g', signature],
  ];
  const buf = Buffer.alloc(16 + fields.reduce((n, [, , v]) => n + 8 + 8 + Buffer.byteLength(v) + 1 + 8, 0));
  buf[0] = LITTLE_ENDIAN;
  buf[1] = SIGNAL;
  buf[2] = 0; // flags
  buf[3] = PROTOCOL_VERSION;
  let o = 16; // the array's elements start 8-aligned after its length at offset 12
  for (const [code, type, value] of fields) {
    o = align(o, 8);
    buf[o++] = code;
    buf[o++] = 1; // the variant's signature: one type code
    buf[o++] = type.charCodeAt(0);
    buf[o++] = 0;
    if (type === 'g') {
      buf[o++] = Buffer.byteLength(value);
    } else {
      o = align(o, 4);
      buf.writeUInt32LE(Buffer.byteLength(value), o);
      o += 4;
    }
    o += buf.write(value, o, 'utf8');
    buf[o++] = 0;
  }
  buf.writeUInt32LE(o - 16, 12);
  return buf.subarray(0, align(o, 8));
}

/** A dict entry's key and its variant's signature, padded so that the value comes next. */
function encodeKey(key: string, type: FieldType): Buffer {
  const keyLength = Buffer.byteLength(key);
  const buf = Buffer.alloc(align(4 + keyLength + 1 + 3, VALUE_ALIGNMENT[type]));
  buf.writeUInt32LE(keyLength, 0);
  buf.write(key, 4, 'utf8');
  buf[4 + keyLength + 1] = 1;
  buf[4 + keyLength + 2] = type.charCodeAt(0);
  return buf;
}

const FIELDS = EVENT_FIELDS.map(([key, type]) => ({ key, type, prefix: encodeKey(key, type) }));

/** Builds complete `Event` messages; the caller gives each its serial. */
export class EventSignalEncoder {
  private readonly header: Buffer;

  constructor(path: string, iface: string, member = 'Event') {
    this.header = encodeHeader(path, iface, member, 'a{sv}');
  }

  encode(e: DaemonEvent, serial: number): Buffer {
    // First pass: the strings as they go on the bus, and the size.
    const strings: Array<string | undefined> = new Array(FIELDS.length);
    let size = this.header.length + 8;
    for (let i = 0; i < FIELDS.length; i++) {
      const f = FIELDS[i]!;
      const v = e[f.key];
      if (v === undefined) continue;
      size = align(size, 8) + f.prefix.length;
      if (f.type === 's') {
        const s = busString(v as string);
        strings[i] = s;
        size += 4 + Buffer.byteLength(s) + 1;
      } else size += f.type === 't' ? 8 : 4;
    }
    const buf = Buffer.alloc(size);
    this.header.copy(buf, 0);
    const bodyStart = this.header.length;
    buf.writeUInt32LE(size - bodyStart, 4);
    buf.writeUInt32LE(serial, 8);
    let o = bodyStart + 8; // the array's length, then padding to the entries' 8
    for (let i = 0; i < FIELDS.length; i++) {
      const f = FIELDS[i]!;
      const v = e[f.key];
      if (v === undefined) continue;
      o = align(o, 8);
      o += f.prefix.copy(buf, o);
      switch (f.type) {
        case 's': {
          const n = buf.write(strings[i]!, o + 4, 'utf8');
          buf.writeUInt32LE(n, o);
          o += 4 + n + 1;
          break;
        }
        case 't': {
          const n = v as number;
          buf.writeUInt32LE(n % 0x1_0000_0000, o);
          buf.writeUInt32LE(Math.floor(n / 0x1_0000_0000), o + 4);
          o += 8;
          break;
        }
        case 'u':
          buf.writeUInt32LE(v as number, o);
          o += 4;
          break;
        case 'b':
          buf.writeUInt32LE(v ? 1 : 0, o);
          o += 4;
          break;
      }
    }
    buf.writeUInt32LE(o - (bodyStart + 8), bodyStart);
    return buf;
  }
}
