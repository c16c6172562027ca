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

/** Attributes for a name the backing folder no longer (or not yet) has. */
export function syntheticAttr(ino: bigint, isDir: boolean, owner: { uid: number; gid: number }): Attr {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    ino, size: 0n, blocks: 0n, atimeNs: now, mtimeNs: now, ctimeNs: now, mode: isDir ? 0o40755 : 0o100644,
    nlink: isDir ? 2 : 1, uid: owner.uid, gid: owner.gid, rdev: 0, blksize: 4096,
  };
}
