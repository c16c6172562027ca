/** Errors and attributes shared by the serving thread's modules. */
import type * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { Attr } from './fuse-wire.js';

export const E = osConstants.errno;

/** A failure answered to the kernel as -errno. */
export class Errno extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`);
  }
}

export function errnoOf(err: unknown): number {
  if (err instanceof Errno) return err.errno;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const n = code ? (E as Record<string, number>)[code] : undefined;
  return n ?? E.EIO;
}

/** The kernel's view of a backing file: its own node id stands in for the inode number. */
export function attrOf(st: fs.BigIntStats, ino: bigint): Attr {
  return {
    ino, size: st.size, blocks: st.blocks, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs,
    mode: Number(st.mode), nlink: Number(st.nlink), uid: Number(st.uid), gid: Number(st.gid), rdev: Number(st.rdev),
    blksize: Number(st.blksize),
  };
}

/**
 * A backing file's attributes as they travel in a replay job (JSON: the 64-bit values as decimal
 * strings), read by the replaying thread just before it replays the name's creation.
 */
export interface FoundAttr {
  size: string;
  blocks: string;
  atimeNs: string;
  mtimeNs: string;
  ctimeNs: string;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
}

export function foundAttrOf(st: fs.BigIntStats): FoundAttr {
  const a = attrOf(st, 0n);
  return {
    size: String(a.size), blocks: String(a.blocks), atimeNs: String(a.atimeNs), mtimeNs: String(a.mtimeNs), ctimeNs: String(a.ctimeNs),
    mode: a.mode, nlink: a.nlink, uid: a.uid, gid: a.gid, rdev: a.rdev, blksize: a.blksize,
  };
}

export function attrOfFound(f: FoundAttr, ino: bigint): Attr {
  return {
    ino, size: BigInt(f.size), blocks: BigInt(f.blocks), atimeNs: BigInt(f.atimeNs), mtimeNs: BigInt(f.mtimeNs), ctimeNs: BigInt(f.ctimeNs),
    mode: f.mode, nlink: f.nlink, uid: f.uid, gid: f.gid, rdev: f.rdev, blksize: f.blksize,
  };
}

/** Attributes for a name the backing folder no longer (or not yet) has. */
export function syntheticAttr(ino: bigint, isDir: boolean, owner: { uid: number; gid: number }): Attr {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    ino, size: 0n, blocks: 0n, atimeNs: now, mtimeNs: now, ctimeNs: now, mode: isDir ? 0o40755 : 0o100644,
    nlink: isDir ? 2 : 1, uid: owner.uid, gid: owner.gid, rdev: 0, blksize: 4096,
  };
}
