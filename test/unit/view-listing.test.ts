// Listings through the view's serving logic, with the native addon (src/native/view: folders
// read and entries' attributes taken in C) and without it (the JavaScript a plain `npm install`
// runs): OPENDIR and every READDIRPLUS part answer the same bytes either way, on a real folder
// with every kind of entry and names that are not UTF-8. And the nodes the serving thread makes
// ahead for the next part (dir-listing.ts) are counted only when handed to the kernel.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, utimesSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { viewAddon, type ViewAddon } from '../../src/view/addon.js';
import { runJob, type BackingContext } from '../../src/view/backing-ops.js';
import { prepareAfterServing, prepareNext } from '../../src/view/readdirplus.js';
import { FuseServer, type JobRunner } from '../../src/view/fuse-server.js';
import { ENTRY_OUT_SIZE, IN_HEADER, OUT_HEADER, Op } from '../../src/view/fuse-wire.js';
import { PassthroughFiles } from '../../src/view/passthrough-files.js';
import { PreparedPart } from '../../src/view/prepared-part.js';
import { SLOT_DATA } from '../../src/view/pool-state.js';
import { ReplayChannel } from '../../src/view/replay-job.js';

const ADDON_PATH = join(import.meta.dirname, '..', '..', 'src', 'native', 'view', 'build', 'Release', 'view.node');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function addon(): ViewAddon {
  const a = viewAddon();
  if (!a) throw new Error('the view addon is not built: run npm run build:view (npm test does)');
  return a;
}

/** A folder with files, folders, a symlink, a FIFO, names in Latin-1 bytes and with a newline, and `many` more files. */
function folder(many: number): string {
  const root = mkdtempSync(join(tmpdir(), 'smbnotify-listing-'));
  dirs.push(root);
  writeFileSync(join(root, 'a.txt'), 'hello');
  writeFileSync(join(root, 'sparse.bin'), '');
  execFileSync('truncate', ['-s', '5G', join(root, 'sparse.bin')]);
  mkdirSync(join(root, 'sub'));
  symlinkSync('a.txt', join(root, 'link'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0xe9, 0x74, 0xe9, 0xff])]), 'latin-1 bytes');
  writeFileSync(join(root, 'new\nline'), '');
  writeFileSync(join(root, 'old'), '');
  utimesSync(join(root, 'old'), -86_400.5, 1e9 + 0.25);
  for (let i = 0; i < many; i++) writeFileSync(join(root, `entry-${String(i).padStart(5, '0')}-${'x'.repeat(i % 40)}`), '');
  return root;
}

/** Request ids start again for each view: replies to the same requests compare byte for byte. */
let unique = 1000n;
function request(opcode: number, nodeid: bigint, body: Buffer): Buffer {
  const b = Buffer.alloc(IN_HEADER + body.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeBigUInt64LE(unique++, 8);
  b.writeBigUInt64LE(nodeid, 16);
  b.writeUInt32LE(4242, 32); // pid: not the replaying thread's
  body.copy(b, IN_HEADER);
  return b;
}

function readIn(fh: bigint, offset: bigint, size: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64LE(fh, 0);
  b.writeBigUInt64LE(offset, 8);
  b.writeUInt32LE(size, 16);
  return b;
}

/**
 * A view's serving logic over `root`, its backing jobs run on this thread, with or without the
 * addon. With `prepare`, this thread also plays a backing thread that prepares a listing's next
 * part in shared memory after answering one (readdirplus.ts), which the serving logic then
 * answers with itself (prepared-part.ts); `changes` is the pool's count of changes.
 */
function serving(root: string, withAddon: ViewAddon | null, prepare = false) {
  unique = 1000n;
  const replies: Buffer[] = [];
  const write = (b: Buffer, n = b.length) => void replies.push(Buffer.from(b.subarray(0, n)));
  const passthroughFiles = PassthroughFiles.create();
  const counts = { changes: 0, answeredByServing: 0 };
  let preparing = false;
  const context: BackingContext = {
    root: Buffer.from(`${root}/`), t: { entrySeconds: 1, attrSeconds: 1 }, write: (b, n) => (write(b, n), true), update: (u) => s.apply(u), changes: () => counts.changes, changed: () => void counts.changes++,
    preparing: () => void (preparing = prepare), fuseFd: -1, addon: withAddon, passthroughFiles, prepared: PreparedPart.create(),
  };
  const pool: JobRunner = {
    run: (job) => {
      runJob(job, context);
      if (preparing) prepareNext(context);
      preparing = false;
      return 0;
    },
    abandonable: () => false,
    preparedPart: () => (prepare ? context.prepared : undefined),
    prepare: (_, part) => {
      counts.answeredByServing++;
      prepareAfterServing(part);
      prepareNext(context);
      return true;
    },
    changes: () => counts.changes,
  };
  const s: FuseServer = new FuseServer({ root, write, pool, replay: ReplayChannel.create(), onLocalChange: () => undefined });
  const slot = new SharedArrayBuffer(SLOT_DATA);
  const send = (b: Buffer): Buffer => {
    s.handle(b, b.length, slot);
    return replies.pop()!;
  };
  return {
    server: s,
    counts,
    opendir(node = 1n): bigint {
      const r = send(request(Op.OPENDIR, node, Buffer.alloc(8)));
      expect(r.readInt32LE(4)).toBe(0);
      return r.readBigUInt64LE(OUT_HEADER);
    },
    readdirplus: (fh: bigint, offset: bigint, size: number) => send(request(Op.READDIRPLUS, 1n, readIn(fh, offset, size))),
    releasedir: (fh: bigint) => send(request(Op.RELEASEDIR, 1n, readIn(fh, 0n, 0))),
  };
}

/** fuse_direntplus entries of a reply: [nodeid, next offset, name]. */
function entries(reply: Buffer): [bigint, bigint, string][] {
  const out: [bigint, bigint, string][] = [];
  for (let at = OUT_HEADER; at < reply.length;) {
    const d = at + ENTRY_OUT_SIZE;
    const length = reply.readUInt32LE(d + 16);
    out.push([reply.readBigUInt64LE(at), reply.readBigUInt64LE(d + 8), reply.subarray(d + 24, d + 24 + length).toString('latin1')]);
    at = d + ((24 + length + 7) & ~7);
  }
  return out;
}

/** Every part of a whole listing of the root, `size` bytes a part. */
function wholeListing(v: ReturnType<typeof serving>, size: number): Buffer[] {
  const fh = v.opendir();
  const parts: Buffer[] = [];
  for (let offset = 0n; ;) {
    const r = v.readdirplus(fh, offset, size);
    expect(r.readInt32LE(4)).toBe(0);
    if (r.length === OUT_HEADER) break;
    parts.push(r);
    offset = entries(r).at(-1)![1];
  }
  v.releasedir(fh);
  return parts;
}

describe('view listings with and without the native addon', () => {
  it('answer every READDIRPLUS part with the same bytes', () => {
    const root = folder(1500);
    for (const size of [4096, 32768]) {
      const native = wholeListing(serving(root, addon()), size);
      const js = wholeListing(serving(root, null), size);
      expect(native.length).toBeGreaterThan(1);
      expect(native.length).toBe(js.length);
      // The first byte that differs, with its part and the bytes around it (the parts are long).
      const firstDifference = (a: Buffer, b: Buffer) => {
        const at = a.findIndex((x, i) => x !== b[i]);
        return at < 0 && a.length === b.length ? null : { at, native: a.subarray(at - 8, at + 8).toString('hex'), js: b.subarray(at - 8, at + 8).toString('hex') };
      };
      expect(native.map((b, k) => firstDifference(b, js[k]!)).filter((d) => d !== null)).toEqual([]);
      const names = native.flatMap(entries).map((e) => e[2]);
      expect(names).toContain('\u00e9t\u00e9\u00ff');
      expect(names).toContain('new\nline');
      expect(names.length).toBe(1500 + 10);
    }
  });

  it('listFolder gives what fs.readdirSync gives, and a clear errno', () => {
    const root = folder(300);
    const [names, types] = addon().listFolder(Buffer.from(root)) as [Buffer, Buffer];
    const expected = (
      [['a.txt', 8], ['sub', 4], ['link', 10], ['fifo', 1]] as const
    );
    const listed = names.toString('latin1').split('\0').slice(0, -1);
    for (const [name, type] of expected) expect(types[listed.indexOf(name)]).toBe(type);
    expect(listed).toEqual([...listed].sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'))));
    expect(addon().listFolder(Buffer.from(join(root, 'missing')))).toBe(-2);
    expect(addon().listFolder(Buffer.from(join(root, 'a.txt')))).toBe(-20);
  });

  it('statEntries refuses names outside its buffer, and wrong arguments, without reading memory', () => {
    const root = folder(0);
    const names = Buffer.from(`a.txt\0../${root.split('/').pop()}/a.txt\0unended`);
    const errors = new Uint32Array(4);
    const attrs = Buffer.alloc(4 * 88);
    const past = names.indexOf('\0') + 1;
    expect(addon().statEntries(Buffer.from(root), names, new Uint32Array([0, past, names.lastIndexOf('\0') + 1, 999]), 4, attrs, errors)).toBe(0);
    expect([...errors]).toEqual([0, 22, 22, 22]);
    expect(attrs.readBigUInt64LE(8)).toBe(5n);
    expect(() => addon().statEntries(Buffer.from(root), names, new Uint32Array([0]), 2, attrs, errors)).toThrow(TypeError);
    expect(() => addon().statEntries(Buffer.from(root), names, new Uint32Array([0, 0]), 2, Buffer.alloc(100), errors)).toThrow(TypeError);
    expect(addon().statEntries(Buffer.from(join(root, 'missing')), names, new Uint32Array([0]), 1, attrs, errors)).toBe(-2);
    expect(() => addon().listFolder(Buffer.from(`${root}\0/etc`))).toThrow(TypeError);
  });
});

/** A reply with each entry's attribute timeout zeroed: a part prepared earlier is kept for less. */
function withoutAttrTimeouts(reply: Buffer): string {
  const r = Buffer.from(reply);
  for (let at = OUT_HEADER; at < r.length;) {
    r.fill(0, at + 24, at + 32);
    r.fill(0, at + 36, at + 40);
    const d = at + ENTRY_OUT_SIZE;
    at = d + ((24 + r.readUInt32LE(d + 16) + 7) & ~7);
  }
  return r.toString('hex');
}

describe('parts prepared ahead and answered by the serving thread', () => {
  it('give the same entries as parts read on request', () => {
    const root = folder(1500);
    const ahead = serving(root, addon(), true);
    const prepared = wholeListing(ahead, 32768);
    const onRequest = wholeListing(serving(root, addon()), 32768);
    // All but the first part (read on request, then the next one prepared) come from the serving thread.
    expect(ahead.counts.answeredByServing).toBe(prepared.length - 2);
    expect(prepared.map(withoutAttrTimeouts)).toEqual(onRequest.map(withoutAttrTimeouts));
  });

  it('are not used once something was changed through the view since they were read', () => {
    const root = folder(1500);
    const v = serving(root, addon(), true);
    const fh = v.opendir();
    const first = entries(v.readdirplus(fh, 0n, 32768));
    // A request with effects (a write, a rename...) done meanwhile: the prepared attributes may be old.
    v.counts.changes++;
    const second = v.readdirplus(fh, first.at(-1)![1], 32768);
    expect(v.counts.answeredByServing).toBe(0);
    expect(entries(second).length).toBeGreaterThan(100);
    v.releasedir(fh);
  });
});

describe('nodes made ahead for the next part of a listing', () => {
  it('are counted when their part is handed over, and leave when it never is', () => {
    const root = folder(400);
    const v = serving(root, addon());
    const before = v.server.nodes.size;
    const fh = v.opendir();
    const first = entries(v.readdirplus(fh, 0n, 4096));
    const handed = first.filter((e) => e[0] !== 0n).length;
    // The next part's nodes exist now, not yet counted by the kernel, nor taken for names it holds.
    expect(v.server.nodes.size).toBeGreaterThan(before + handed);
    const sorted = readdirSync(root, { encoding: 'latin1' }).sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')));
    expect(v.server.nodes.byPathOf(Buffer.from(sorted[first.length - 2]!, 'latin1'))).toBeUndefined();
    expect(v.server.nodes.byPathOf(Buffer.from(sorted[first.length - 3]!, 'latin1'))?.lookups).toBe(1);
    v.releasedir(fh);
    expect(v.server.nodes.size).toBe(before + handed);
    for (const [id] of first.filter((e) => e[0] !== 0n)) expect(v.server.nodes.get(id)!.lookups).toBe(1);
  });

  it('are not used once the table changed: a name renamed meanwhile gets a node for its listed name', () => {
    const root = folder(400);
    const v = serving(root, addon());
    const fh = v.opendir();
    const first = entries(v.readdirplus(fh, 0n, 4096));
    const second = entries(v.readdirplus(fh, first.at(-1)![1], 4096));
    // Rename (in the table, as a RENAME through the view does) a name of the third part, made ahead.
    const [, next] = second.at(-1)!;
    const third = entries(v.readdirplus(fh, next, 4096));
    const victim = third[1]![2];
    const fh2 = v.opendir();
    const a = entries(v.readdirplus(fh2, 0n, 4096));
    const b = entries(v.readdirplus(fh2, a.at(-1)![1], 4096));
    v.server.nodes.rename(Buffer.from(victim, 'latin1'), Buffer.from('renamed', 'latin1'));
    const c = entries(v.readdirplus(fh2, b.at(-1)![1], 4096));
    const entry = c.find((e) => e[2] === victim)!;
    expect(v.server.nodes.get(entry[0])!.path.toString('latin1')).toBe(victim);
    for (const [id, , name] of c.filter((e) => e[0] !== 0n)) expect(v.server.nodes.get(id)!.path.toString('latin1')).toBe(name);
    v.releasedir(fh);
    v.releasedir(fh2);
  });
});

describe('the addon on several backing threads at once', () => {
  it('lists folders in parallel, each sorted whole (nothing shared between the calls)', async () => {
    const folders = [folder(3000), folder(2000)];
    const expected = folders.map((f) => readdirSync(f, { encoding: 'latin1' }).sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'))).join('\0'));
    const script = `
      const { workerData, parentPort } = require('node:worker_threads');
      const addon = require(workerData.addon);
      const out = [];
      for (let i = 0; i < 30; i++) out.push(addon.listFolder(Buffer.from(workerData.folder))[0].toString('latin1').slice(0, -1));
      parentPort.postMessage(out);`;
    const runs = await Promise.all([0, 1, 0, 1].map((k) => new Promise<string[]>((resolve, reject) => {
      const w = new Worker(script, { eval: true, workerData: { addon: ADDON_PATH, folder: folders[k] } });
      w.once('message', resolve);
      w.once('error', reject);
    })));
    runs.forEach((lists, i) => lists.forEach((l) => expect(l === expected[[0, 1, 0, 1][i]!]).toBe(true)));
  }, 60_000);
});
