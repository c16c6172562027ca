// The FUSE codec and the serving logic against requests the Linux kernel really sent (captured
// from /dev/fuse, fixtures/fuse-requests.json), and against every truncation and random damage
// of them: decoding is exact, replies have the kernel's struct sizes, nothing ever throws.
import { PassthroughFiles } from '../../src/view/passthrough-files.js';
import { PreparedPart } from '../../src/view/prepared-part.js';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ATTR_OUT_SIZE, Body, ENTRY_OUT_SIZE, Fattr, IN_HEADER, InitFlag, InitFlag2, INIT_OUT_SIZE, OUT_HEADER, Op, decodeHeader, decodeInit, decodeIo,
  decodeSetattr, DirentplusWriter, direntSize, encodeEntry, encodeInvalEntry, encodeInvalInode, FuseWireError,
} from '../../src/view/fuse-wire.js';
import { attrOf } from '../../src/view/attrs.js';
import { FuseServer, type JobRunner } from '../../src/view/fuse-server.js';
import { runJob } from '../../src/view/backing-ops.js';
import { SLOT_DATA } from '../../src/view/pool-state.js';
import { ReplayChannel } from '../../src/view/replay-job.js';
import { isPlainName } from '../../src/view/nodes.js';

interface Capture {
  name: string;
  request: string;
  reply?: string;
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'fuse-requests.json'), 'utf8')) as { captures: Capture[] };
const captures = fixture.captures.map((c) => ({ ...c, bytes: Buffer.from(c.request, 'hex') }));
const captured = (name: string, nth = 0) => captures.filter((c) => c.name === name)[nth]!.bytes;
const body = (b: Buffer) => new Body(b, b.length);

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function server(): { s: { handle(b: Buffer, n: number): void }; replies: Buffer[]; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'smbnotify-fuse-unit-'));
  dirs.push(root);
  writeFileSync(join(root, 'a.txt'), 'hello');
  const replies: Buffer[] = [];
  const write = (b: Buffer, n = b.length) => void replies.push(Buffer.from(b.subarray(0, n)));
  // The backing calls run on this thread here (backing-ops.ts, as a backing thread runs them).
  const passthroughFiles = PassthroughFiles.create();
  const pool: JobRunner = {
    run: (job) => (runJob(job, { root: Buffer.from(`${root}/`), t: s.t, write: (b, n) => (write(b, n), true), update: (u) => s.apply(u), changes: () => 0, changed: () => undefined, preparing: () => undefined, fuseFd: -1, addon: null, passthroughFiles, prepared: PreparedPart.create() }), 0),
    abandonable: () => false,
  };
  const s: FuseServer = new FuseServer({ root, write, pool, replay: ReplayChannel.create(), onLocalChange: () => undefined });
  const slot = new SharedArrayBuffer(SLOT_DATA);
  return { s: { handle: (b, n) => s.handle(b, n, slot) }, replies, root };
}

describe('FUSE requests captured from the kernel', () => {
  it('every header decodes, with its opcode and the calling thread id', () => {
    for (const c of captures) {
      const h = decodeHeader(c.bytes, c.bytes.length);
      expect(h.opcode).toBe(Op[c.name as keyof typeof Op]);
      if (c.name !== 'INIT' && c.name !== 'FORGET') expect(h.pid).toBeGreaterThan(0);
    }
    expect(decodeHeader(captured('FORGET'), captured('FORGET').length).pid).toBe(0);
  });

  it('INIT: protocol 7.45 from kernel 6.18, readahead and flags', () => {
    const init = decodeInit(body(captured('INIT')));
    expect(init).toEqual({ major: 7, minor: 45, maxReadahead: 131072, flags: 1946157051, flags2: 1533 });
    // INIT_EXT, so flags2 is there; it offers PASSTHROUGH (flag bit 37).
    expect(init.flags & InitFlag.INIT_EXT).not.toBe(0);
    expect(init.flags2 & InitFlag2.PASSTHROUGH).not.toBe(0);
  });

  it('names, modes, offsets and write data', () => {
    expect(body(captured('LOOKUP')).names(0, 1)[0]!.toString()).toBe('a.txt');
    const create = body(captured('CREATE'));
    expect(create.names(16, 1)[0]!.toString()).toBe('new.txt');
    expect(create.u32(4)).toBe(0o100644);
    const w = captured('WRITE');
    const io = decodeIo(body(w));
    expect(io).toEqual({ fh: 2n, offset: 0n, size: 3 });
    expect(w.subarray(IN_HEADER + 40).toString()).toBe('hi\n');
    const rename = body(captured('RENAME2'));
    expect([rename.u64(0), rename.u32(8), ...rename.names(16, 2).map(String)]).toEqual([4n, 1, 'new.txt', 'n.txt']);
    expect(body(captured('SYMLINK')).names(0, 2).map(String)).toEqual(['l', 'a.txt']);
  });

  it('SETATTR: touch -d sets both times to the second; truncate a size through a handle', () => {
    const touch = decodeSetattr(body(captured('SETATTR', 0)));
    expect(touch.valid).toBe(Fattr.ATIME | Fattr.MTIME);
    expect(touch.mtimeNs).toBe(BigInt(Date.UTC(2020, 0, 2, 3, 4, 5)) * 1_000_000n);
    const trunc = decodeSetattr(body(captured('SETATTR', 1)));
    expect(trunc.valid & (Fattr.SIZE | Fattr.FH)).toBe(Fattr.SIZE | Fattr.FH);
    expect([trunc.size, trunc.fh]).toEqual([3n, 4n]);
  });

  it('a short or inconsistent request is a FuseWireError', () => {
    const b = captured('LOOKUP');
    expect(() => decodeHeader(b, 39)).toThrow(FuseWireError);
    expect(() => decodeHeader(b.subarray(0, 44), 44)).toThrow(FuseWireError);
    const noNul = Buffer.from(b);
    noNul[noNul.length - 1] = 0x41;
    expect(() => body(noNul).names(0, 1)).toThrow(FuseWireError);
  });
});

describe('replies and notifications', () => {
  it('have the sizes of the kernel structs (linux/fuse.h)', () => {
    expect([ENTRY_OUT_SIZE, ATTR_OUT_SIZE, INIT_OUT_SIZE]).toEqual([128, 104, 64]);
    expect(direntSize(1)).toBe(32);
    expect(direntSize(8)).toBe(32);
    expect(direntSize(9)).toBe(40);
    const inode = encodeInvalInode(7n);
    expect([inode.length, inode.readUInt32LE(0), inode.readInt32LE(4), inode.readBigInt64LE(32)]).toEqual([40, 40, 2, -1n]);
    const entry = encodeInvalEntry(1n, Buffer.from('abc'));
    expect([entry.length, entry.readInt32LE(4), entry.readUInt32LE(24), entry.subarray(32).toString('latin1')]).toEqual([36, 3, 3, 'abc\0']);
  });

  it('a READDIRPLUS entry written in place holds what an entry reply holds, for any time', () => {
    const root = mkdtempSync(join(tmpdir(), 'smbnotify-fuse-unit-'));
    dirs.push(root);
    writeFileSync(join(root, 'f'), 'hello');
    const t = { entrySeconds: 1, attrSeconds: 1 };
    const real = lstatSync(join(root, 'f'), { bigint: true });
    // Times around second boundaries (where a floating-point quotient is off by one), far ones.
    const NS = 1_000_000_000n;
    const times = [0n, 1n, NS - 1n, NS, 1_764_000_000n * NS - 1n, 1_764_000_000n * NS, 4_294_967_295n * NS + NS - 1n, 9_000_000_000n * NS + 999_999_999n];
    for (let i = 0; i < 2000; i++) times.push(BigInt(Math.floor(Math.random() * 2 ** 32)) * NS + BigInt(Math.floor(Math.random() * 1e9)));
    for (const ns of times) {
      const st = { ...real, atimeNs: ns, mtimeNs: ns + 1n, ctimeNs: ns + NS - 1n, size: 2n ** 40n + 3n };
      const w = new DirentplusWriter(4096);
      w.add(42n, 42n, st, t, 1e9, 7, 0, Buffer.from('name'));
      const entry = encodeEntry(1n, 42n, attrOf(st, 42n), t).subarray(OUT_HEADER);
      expect(w.buf.subarray(OUT_HEADER, OUT_HEADER + ENTRY_OUT_SIZE).equals(entry)).toBe(true);
    }
    // Before 1970: floored seconds, nanoseconds never negative. A shortened attribute timeout.
    const w = new DirentplusWriter(4096);
    w.add(42n, 42n, { ...real, atimeNs: -1n, mtimeNs: -NS, ctimeNs: -NS - 5n }, t, 250_000_000, 7, 0, Buffer.from('name'));
    const e = w.buf.subarray(OUT_HEADER);
    expect([e.readBigInt64LE(64), e.readUInt32LE(88), e.readBigInt64LE(72), e.readUInt32LE(92), e.readBigInt64LE(80), e.readUInt32LE(96)]).toEqual([-1n, 999_999_999, -1n, 0, -2n, 999_999_995]);
    expect([e.readBigUInt64LE(24), e.readUInt32LE(36)]).toEqual([0n, 250_000_000]);
    // The dirent: node id as d_ino, the next cookie, the name padded; without attributes a zero entry.
    w.add(0n, 9n, null, t, 0, 8, 4, Buffer.from('..'));
    const d = w.reply(5n);
    expect([d.readUInt32LE(0), d.readBigUInt64LE(8)]).toEqual([d.length, 5n]);
    const first = OUT_HEADER + ENTRY_OUT_SIZE;
    expect([d.readBigUInt64LE(first), d.readBigUInt64LE(first + 8), d.readUInt32LE(first + 16), d.readUInt32LE(first + 20), d.subarray(first + 24, first + 32).toString('latin1')])
      .toEqual([42n, 7n, 4, 8, 'name\0\0\0\0']);
    const second = first + direntSize(4);
    expect(d.subarray(second, second + ENTRY_OUT_SIZE).every((b) => b === 0)).toBe(true);
    expect([d.readBigUInt64LE(second + ENTRY_OUT_SIZE), d.readUInt32LE(second + ENTRY_OUT_SIZE + 20), d.length]).toEqual([9n, 4, second + ENTRY_OUT_SIZE + 32]);
  });

  it('the server answers the captured INIT and LOOKUP as it did for the kernel', () => {
    const { s, replies } = server();
    for (const name of ['INIT', 'LOOKUP']) {
      const c = captures.find((x) => x.name === name)!;
      s.handle(c.bytes, c.bytes.length);
      const got = replies.pop()!;
      expect(got.length).toBe(c.reply!.length / 2);
      expect(got.readInt32LE(4)).toBe(0);
      expect(got.readBigUInt64LE(8)).toBe(decodeHeader(c.bytes, c.bytes.length).unique);
    }
  });

  it('a LOOKUP of a name that is not one plain name is refused, never resolved', () => {
    expect(['.', '..', '', 'a/b'].map((n) => isPlainName(Buffer.from(n)))).toEqual([false, false, false, false]);
    const { s, replies } = server();
    const init = captured('INIT');
    s.handle(init, init.length);
    const base = captured('LOOKUP');
    const evil = Buffer.concat([base.subarray(0, IN_HEADER), Buffer.from('../etc\0')]);
    evil.writeUInt32LE(evil.length, 0);
    s.handle(evil, evil.length);
    expect(replies.pop()!.readInt32LE(4)).toBeLessThan(0);
  });
});

describe('damaged requests', () => {
  it('every truncation and 3,000 random corruptions are answered or dropped, never thrown', () => {
    const { s, replies } = server();
    const init = captured('INIT');
    s.handle(init, init.length);
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (const c of captures) {
      if (c.name === 'INIT') continue;
      for (let n = 0; n <= c.bytes.length; n++) {
        const cut = Buffer.from(c.bytes.subarray(0, n));
        if (n >= 4) cut.writeUInt32LE(n, 0);
        expect(() => s.handle(cut, n)).not.toThrow();
      }
    }
    for (let i = 0; i < 3000; i++) {
      const c = captures[Math.floor(rnd() * captures.length)]!;
      if (c.name === 'INIT' || c.name === 'FORGET') continue;
      const bad = Buffer.from(c.bytes);
      for (let k = 0; k < 3; k++) bad[IN_HEADER + Math.floor(rnd() * Math.max(1, bad.length - IN_HEADER))] = Math.floor(rnd() * 256);
      expect(() => s.handle(bad, bad.length)).not.toThrow();
    }
    for (const r of replies) expect(r.readUInt32LE(0)).toBe(r.length);
    expect(replies.every((r) => r.length >= OUT_HEADER)).toBe(true);
  });
});

describe('ReplayChannel', () => {
  it('carries a creation job with the attributes found in the backing folder, 64-bit values exact', () => {
    const channel = ReplayChannel.create();
    const found = {
      ino: 0n, size: 2n ** 63n - 1n, blocks: 8n, atimeNs: -1_500_000_000n, mtimeNs: 1_764_547_200_123_456_789n, ctimeNs: 0n,
      mode: 0o100644, nlink: 1, uid: 1000, gid: 1000, rdev: 0, blksize: 4096,
    };
    channel.set({ kind: 'create', path: 'dir/new name', isDir: false, found });
    expect(channel.get()).toEqual({ kind: 'create', path: 'dir/new name', isDir: false, found });
    channel.set(null);
    expect(channel.get()).toBeNull();
  });
});
