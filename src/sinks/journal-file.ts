/**
 * The journal's file on disk: its folders (made 0700, or 0750 of the journal's group), the file
 * opened for appending (0600 or 0640, never through a symlink), and whether its path still names
 * the file we hold.
 */
import { constants as fsc, lstatSync, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { JournalError } from './journal-error.js';
import { errnoWords } from '../platform/errno-words.js';

const OPEN_FLAGS = fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW; // libuv adds O_CLOEXEC itself

/**
 * mkdir -p, one level at a time, with mode 0700 for what we create; returns what it created.
 * (Node 20's recursive mkdir never returns for a path under /proc, and cannot be stopped.)
 */
async function makeFolders(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      await fsp.lstat(d);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || d === path.dirname(d)) throw err;
      missing.unshift(d);
    }
  }
  for (const d of missing) {
    try {
      await fsp.mkdir(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new JournalError(`cannot create ${d}: ${errnoWords(err, 'folder')}`);
    }
  }
  return missing;
}

/**
 * The journal's folder, created when missing; our own `smbnotify*` folder is kept at 0700, or at
 * 0750 with the journal's group, so that the group can reach the file. With a group, every folder
 * created here gets the same 0750 and group: a custom `--journal /new/dir/events.jsonl` is
 * otherwise a 0640 file the group cannot reach.
 */
export async function ensureParent(dir: string, group: number | undefined): Promise<void> {
  const created = await makeFolders(dir);
  if (group !== undefined) {
    for (const d of created) {
      const st = await fsp.lstat(d);
      if (st.gid !== group) await fsp.chown(d, st.uid, group);
      await fsp.chmod(d, 0o750);
    }
  }
  const st = await fsp.lstat(dir);
  if (!st.isDirectory()) throw new JournalError(`${dir} is not a folder`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    // e.g. someone else created /tmp/smbnotify-$UID first: never write our events there.
    throw new JournalError(`${dir} belongs to another user (uid ${st.uid})`);
  }
  if (path.basename(dir).startsWith('smbnotify') && st.uid === uid) {
    if (group !== undefined && st.gid !== group) await fsp.chown(dir, st.uid, group);
    const mode = group !== undefined ? 0o750 : 0o700;
    if ((st.mode & 0o777) !== mode) await fsp.chmod(dir, mode);
  }
}

/** Opens (creating or appending) the journal file; tightens a looser mode. */
export async function openJournal(file: string, mode: number, group: number | undefined): Promise<{ fh: FileHandle; size: number }> {
  const fh = await fsp.open(file, OPEN_FLAGS, mode);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    if (group !== undefined && st.gid !== group) await fh.chown(st.uid, group);
    if ((st.mode & 0o777 & ~mode) !== 0) await fh.chmod(mode);
    return { fh, size: st.size };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

export function lstatSafe(file: string): { dev: number; ino: number } | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}
