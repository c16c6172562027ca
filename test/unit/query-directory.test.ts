// FileIdFullDirectoryInformation chains (MS-FSCC 2.4.18) as strict and lenient servers send them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/smb/errors.js';
import { decodeDirectoryEntries, decodeListedEntries, type ListedEntry } from '../../src/smb/wire/query-directory.js';
import { directoryBuffer } from '../fuzz/seeds.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 2000);

/**
 * One entry laid out field by field as MS-FSCC 2.4.18 gives it: NextEntryOffset, FileIndex, four
 * FILETIMEs, EndOfFile, AllocationSize, FileAttributes, FileNameLength, EaSize, Reserved, FileId,
 * FileName (UTF-16LE), zero padding to 8 bytes when `pad`.
 */
function entry(name: string, next: number, fileId: number, pad: boolean): Buffer {
  const n = Buffer.from(name, 'utf16le');
  const size = 80 + n.length;
  const b = Buffer.alloc(pad ? Math.ceil(size / 8) * 8 : size);
  b.writeUInt32LE(next, 0);
  b.writeUInt32LE(0, 4);
  for (let i = 0; i < 4; i++) b.writeBigUInt64LE(133_700_000_000_000_000n + BigInt(i), 8 + 8 * i);
  b.writeBigUInt64LE(BigInt(name.length), 40);
  b.writeBigUInt64LE(4096n, 48);
  b.writeUInt32LE(0x20, 56);
  b.writeUInt32LE(n.length, 60);
  b.writeUInt32LE(0, 64);
  b.writeUInt32LE(0, 68);
  b.writeBigUInt64LE(BigInt(fileId), 72);
  n.copy(b, 80);
  return b;
}

/** A chain of `names`; the last entry's NextEntryOffset is `lastNext` (0 for a strict server). */
function chain(names: string[], lastNext: number, padLast = false): Buffer {
  return Buffer.concat(names.map((name, i) => {
    const last = i === names.length - 1;
    const aligned = Math.ceil((80 + name.length * 2) / 8) * 8;
    return entry(name, last ? lastNext : aligned, 100 + i, !last || padLast);
  }));
}

const LONG = `${'x'.repeat(43)}y`; // 44 characters: 80 + 88 = 168 bytes, the size from the report

describe('decodeDirectoryEntries', () => {
  it('a strict chain: every entry, last NextEntryOffset 0', () => {
    const e = decodeDirectoryEntries(chain(['.', '..', 'a.txt', LONG], 0));
    expect(e.map((x) => x.name)).toEqual(['.', '..', 'a.txt', LONG]);
    expect(e.map((x) => x.fileId)).toEqual([100n, 101n, 102n, 103n]);
    expect(e[2]!.endOfFile).toBe(5n);
  });

  it('a lenient last entry whose NextEntryOffset (168) points at the end of the buffer', () => {
    const buf = chain(['.', '..', LONG], 168);
    expect(buf.readUInt32LE(buf.length - 168)).toBe(168); // the last entry is 168 bytes and says so
    expect(decodeDirectoryEntries(buf).map((x) => x.name)).toEqual(['.', '..', LONG]);
  });

  it('a lenient last entry, padded, whose NextEntryOffset points past the buffer', () => {
    for (const next of [8 * 12, 8 * 13, 0xfff8, 0xfffffff8]) {
      expect(decodeDirectoryEntries(chain(['a', 'bc', 'def'], next, true)).map((x) => x.name)).toEqual(['a', 'bc', 'def']);
    }
  });

  it('trailing bytes too few for another entry end the chain; a truncated name does not', () => {
    const buf = Buffer.concat([chain(['a', 'b'], 88, true), Buffer.alloc(40)]);
    expect(decodeDirectoryEntries(buf).map((x) => x.name)).toEqual(['a', 'b']);
    // A next entry whose fixed part fits but whose name runs past the end is malformed.
    const cut = chain(['a', LONG], 0).subarray(0, 88 + 80 + 10);
    expect(() => decodeDirectoryEntries(cut)).toThrow(ProtocolError);
  });

  it('keeps every other bounds check', () => {
    expect(() => decodeDirectoryEntries(chain(['a', 'b'], 0).subarray(0, 50))).toThrow(ProtocolError);
    const misaligned = chain(['a', 'b'], 0);
    misaligned.writeUInt32LE(84, 0);
    expect(() => decodeDirectoryEntries(misaligned)).toThrow(/bad NextEntryOffset 84/);
    const backwards = chain(['a', 'b'], 0);
    backwards.writeUInt32LE(8, 0); // into its own fixed part
    expect(() => decodeDirectoryEntries(backwards)).toThrow(/bad NextEntryOffset 8/);
  });

  it('any bytes: entries or a ProtocolError, never a read outside the buffer or an endless walk', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.tuple(fc.nat(599), fc.integer({ min: 0, max: 0xffffffff })), { maxLength: 4 }),
      (bytes, patches) => {
        const buf = Buffer.from(bytes);
        for (const [at, v] of patches) if (at + 4 <= buf.length) buf.writeUInt32LE(v, at);
        let entries;
        try {
          entries = decodeDirectoryEntries(buf);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
          return;
        }
        // Each entry took at least its 80-byte fixed part and its name from inside the buffer.
        const used = entries.reduce((n, e) => n + 80 + e.name.length * 2, 0);
        expect(used).toBeLessThanOrEqual(buf.length);
      }), { numRuns: ITERATIONS });
  });

  it('a valid chain with any lenient last NextEntryOffset decodes to the same entries', () => {
    const name = fc.string({ minLength: 1, maxLength: 30 });
    fc.assert(fc.property(fc.array(name, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 0x1ffff000 }), fc.boolean(), (names, k, padLast) => {
      const strict = decodeDirectoryEntries(chain(names, 0, padLast));
      const lastSize = Math.ceil((80 + names[names.length - 1]!.length * 2) / 8) * 8;
      const next = lastSize + 8 * (k % 16 === 0 ? 0 : k); // the aligned size itself or beyond
      expect(decodeDirectoryEntries(chain(names, next, padLast))).toEqual(strict);
    }), { numRuns: ITERATIONS });
  });
});

describe('decodeListedEntries (the compact form a watch keeps)', () => {
  const compact = (buf: Buffer) => {
    const out: ListedEntry[] = [];
    decodeListedEntries(buf, out);
    return out;
  };
  const projected = (buf: Buffer) => decodeDirectoryEntries(buf).map((e) => ({
    name: e.name,
    isDirectory: (e.fileAttributes & 0x10) !== 0,
    size: Number(e.endOfFile),
    lastWrite: Number(e.lastWriteTime),
    ...((e.fileAttributes & 0x10) !== 0 ? { fileId: e.fileId } : {}),
  }));

  it('agrees with decodeDirectoryEntries on the fuzz corpus listing and on strict and lenient chains', () => {
    for (const buf of [directoryBuffer().bytes, chain(['a', 'b', LONG], 0), chain(['a', LONG], 168), chain(['a', 'b'], 88, true)]) {
      expect(compact(buf)).toEqual(projected(buf));
    }
  });

  it('appends to what the earlier responses of the same listing gave', () => {
    const out: ListedEntry[] = [{ name: 'first', isDirectory: false, size: 0, lastWrite: 0 }];
    decodeListedEntries(chain(['a', 'b'], 0), out);
    expect(out.map((e) => e.name)).toEqual(['first', 'a', 'b']);
  });

  it('any bytes: the same entries as decodeDirectoryEntries, or the same ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const buf = Buffer.from(bytes);
        let full: unknown;
        let small: unknown;
        try {
          full = projected(buf);
        } catch (err) {
          full = err instanceof ProtocolError ? 'ProtocolError' : err;
        }
        try {
          small = compact(buf);
        } catch (err) {
          small = err instanceof ProtocolError ? 'ProtocolError' : err;
        }
        expect(small).toEqual(full);
      }),
      { numRuns: ITERATIONS },
    );
  });
});
