/**
 * READDIRPLUS on a backing thread: each entry's attributes (an lstat) written after its name.
 * The kernel asks for the next part of a listing only once the reader has taken the previous
 * one, so the thread that answers a part then reads the next part's attributes at once, while
 * the reader and the serving thread are busy with theirs; the serving thread hands that thread
 * the next request (it is marked as preparing it: pool-state.ts), which is then answered from
 * the prepared bytes with the node ids the serving thread counted put in.
 *
 * Prepared attributes are used only when they are fresh enough to answer with (PreparedPart.age:
 * read less than 100 ms ago, with no request that changes anything done through the view since;
 * the pool counts them); the kernel is told to keep them for the attribute timeout minus their age, so
 * none is kept longer than it would be had it been read on request.
 */
import * as fs from 'node:fs';
import type { BackingJob } from './backing-job.js';
import type { BackingContext } from './backing-ops.js';
import { ATTR_SIZE, DOT, DOTDOT, DT_DIR, DirentplusWriter, OUT_HEADER, direntplusSize, type Timeouts } from './fuse-wire.js';
import type { ViewAddon } from './addon.js';
import { PreparedPart, sharedNow } from './prepared-part.js';

type Job = Extract<BackingJob, { op: 'readdirplus' }>;

/** A part of a listing: where it starts, and what the reply needs to read its entries. */
export interface Part {
  fh: bigint;
  size: number;
  dir: Uint8Array;
  dirIno: bigint;
  names: Uint8Array;
  /** Index of the first entry (0 is '.', 1 is '..'). */
  from: number;
  /** Offset of the first listing name of the part in `names`. */
  at: number;
}

/** A part's reply with the attributes read, its entries' node ids still to put in. */
interface Built {
  out: DirentplusWriter;
  /** By entry of the part: where its entry starts in the reply; -1 gone since OPENDIR, -2 '.' or '..'. */
  entryAt: number[];
  /** By entry of the part: where its name starts in the listing's names; -1 for '.', -2 for '..'. */
  nameAt: number[];
  /** Offset in the listing's names after the part's last one. */
  end: number;
}

let next: Part | null = null;
/** The part this thread prepared last: its bytes are in `c.prepared` (shared), its names' places here. */
let prepared: Built | null = null;

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * Answers `job`: with the part prepared for it when it is that one and fresh (the serving thread
 * answers such a part itself when it finds it ready: this is when the request came first), else
 * read now; notes the next part.
 */
export function readdirplus(job: Job, c: BackingContext): void {
  const p = prepared;
  prepared = null;
  const facts = p ? c.prepared.take(job) : null;
  const age = facts ? PreparedPart.age(facts, job.nodes.length, c.changes()) : null;
  const reuse = p !== null && age !== null && p.entryAt.some((at) => at >= 0);
  if (facts && !reuse) c.prepared.release();
  const b = reuse ? p : build(job, job.nodes.length, c.t, c.addon);
  b.out.claimAll(b.entryAt, b.entryAt.length, job.nodes, c.t.attrSeconds * 1e9 - (reuse ? Math.ceil(age! * 1e6) : 0));
  const gone: number[] = [];
  b.entryAt.forEach((at, k) => {
    if (at !== -1) return;
    gone.push(k);
    c.update({ kind: 'forget', node: job.nodes[k]! });
  });
  // An empty answer would end the listing: names gone since OPENDIR are shown without an entry.
  if (b.out.at === OUT_HEADER) {
    const names = buf(job.names);
    for (const k of gone) {
      const name = nameOf(names, b.nameAt[k]!);
      if (b.out.fits(name.length)) b.out.add(0n, job.nodes[k]!, null, c.t, 0, job.from + k + 1, job.types[k]!, name);
    }
  }
  const { fh, size, dir, dirIno, names } = job;
  next = b.end < names.length ? { fh, size, dir, dirIno, names, from: job.from + b.entryAt.length, at: b.end } : null;
  if (next) c.preparing();
  c.write(b.out.reply(job.u));
  if (reuse) c.prepared.release();
}

/** The serving thread answered a part itself and asks this thread for the one after it. */
export function prepareAfterServing(part: Part): void {
  next = part;
}

/**
 * Reads the attributes of the part after the one just answered, if any (after its reply), into
 * the shared part, where the serving thread finds it ready.
 */
export function prepareNext(c: BackingContext): void {
  const part = next;
  next = null;
  if (!part || !PreparedPart.fits(part.size)) return;
  const changes = c.changes();
  const readAt = sharedNow();
  // Not while the serving thread answers with the part there: then this one is read on request.
  const out = c.prepared.building(part.size);
  if (!out) return;
  const b = build(part, -1, c.t, c.addon, out);
  b.entryAt.forEach((at, k) => (c.prepared.entryAt[k] = at));
  c.prepared.ready({
    fh: part.fh, from: part.from, size: part.size, count: b.entryAt.length, gone: b.entryAt.filter((at) => at === -1).length, length: out.at, changes, readAt,
  });
  prepared = b;
}

/**
 * The reply of `part` with the attributes read now and node ids left 0: `count` entries, or
 * (count -1) as many as the serving thread would count for its size (dir-listing.ts).
 */
function build(part: Part, count: number, t: Timeouts, addon: ViewAddon | null, out = new DirentplusWriter(part.size)): Built {
  const names = buf(part.names);
  // The entries that fit, and where each listing name starts in `names` (no Buffer a name).
  const nameAt: number[] = [];
  const nameLength: number[] = [];
  let at = part.at;
  let room = part.size;
  let listed = 0;
  for (let i = part.from; count < 0 || i < part.from + count; i++) {
    let length = i + 1;
    if (i >= 2) {
      if (at >= names.length) break;
      length = names.indexOf(0, at) - at;
    }
    if (count < 0 && direntplusSize(length) > room) break;
    room -= direntplusSize(length);
    nameLength.push(length);
    if (i < 2) {
      nameAt.push(-1 - i);
      continue;
    }
    if (listed === starts.length) starts = grown(starts);
    starts[listed++] = at;
    nameAt.push(at);
    at += length + 1;
  }
  // Their attributes: in one call to the addon where it is built, else one lstat each.
  if (addon) statAll(addon, part.dir, names, listed);
  const entryValid = BigInt(t.entrySeconds);
  const entryAt: number[] = [];
  for (let k = 0, j = 0; k < nameAt.length; k++) {
    const i = part.from + k;
    const from = nameAt[k]!;
    if (from < 0) {
      out.add(0n, part.dirIno, null, t, 0, i + 1, DT_DIR, nameOf(names, from));
      entryAt.push(-2);
      continue;
    }
    const length = nameLength[k]!;
    if (addon) {
      // ENOENT and the like: gone since OPENDIR.
      entryAt.push(errors[j] === 0 ? out.addWire(attrs, j * ATTR_SIZE, entryValid, i + 1, names, from, length) : -1);
      j++;
      continue;
    }
    const name = names.subarray(from, from + length);
    let st: fs.BigIntStats | undefined;
    try {
      st = fs.lstatSync(entryPath(part.dir, name), { bigint: true });
    } catch {
      st = undefined; // gone since OPENDIR
    }
    entryAt.push(st ? out.add(0n, 0n, st, t, 0, i + 1, 0, name) : -1);
  }
  return { out, entryAt, nameAt, end: at };
}

/** An entry's name: '.' or '..' (nameAt -1, -2), or the NUL-ended name at `at` of `names`. */
function nameOf(names: Buffer, at: number): Buffer {
  if (at < 0) return at === -1 ? DOT : DOTDOT;
  return names.subarray(at, names.indexOf(0, at));
}

/** Where each listing name of the part being built starts; its attributes and errors from the addon. */
let starts = new Uint32Array(256);
let attrs = Buffer.alloc(256 * ATTR_SIZE);
let errors = new Uint32Array(256);

function grown(a: Uint32Array): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

/** The addon's statEntries for the first `n` names of `starts` (a folder gone: every name gone). */
function statAll(addon: ViewAddon, dir: Uint8Array, names: Buffer, n: number): void {
  if (errors.length < starts.length) {
    errors = new Uint32Array(starts.length);
    attrs = Buffer.alloc(starts.length * ATTR_SIZE);
  }
  if (addon.statEntries(buf(dir), names, starts, n, attrs, errors) < 0) errors.fill(1, 0, n);
}

let pathBuf = Buffer.alloc(4096);
let pathDir: Uint8Array | null = null;

/** The backing path of an entry, made in place (Buffer.concat per entry cost 0.8 µs). */
function entryPath(dir: Uint8Array, name: Buffer): Buffer {
  const dirLength = dir.length + 1;
  if (pathBuf.length < dirLength + name.length) {
    pathBuf = Buffer.alloc(dirLength + name.length + 4096);
    pathDir = null;
  }
  if (pathDir !== dir) {
    pathBuf.set(dir);
    pathBuf[dirLength - 1] = 0x2f;
    pathDir = dir;
  }
  pathBuf.set(name, dirLength);
  return pathBuf.subarray(0, dirLength + name.length);
}
