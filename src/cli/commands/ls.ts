/** `smbnotify ls TARGET`: list a folder (or show one file) like `ls -l`, or as JSON lines. */
import type { Command } from 'commander';
import { SmbError } from '../../smb/errors.js';
import type { FileStat } from '../../smb/types.js';
import { formatLsLine, lsJsonLine, sizeColumnWidth } from '../format.js';
import { addConnectionOptions, withConnection, type ConnectionCliOptions } from '../options.js';
import type { CommandIO } from './info.js';

export interface LsOptions extends ConnectionCliOptions {
  json?: boolean;
}

/** Lines written at once: about 100 KiB of `ls -l` lines. */
const LINES_PER_WRITE = 1000;

/** Statuses with which servers refuse to list something that is a file. */
const FILE_NOT_FOLDER = new Set(['STATUS_NOT_A_DIRECTORY', 'STATUS_INVALID_PARAMETER', 'STATUS_FILE_IS_A_DIRECTORY']);

/**
 * Compare strings by code point (= UTF-8 byte order, like `LC_ALL=C ls`). JavaScript's `<`
 * compares UTF-16 code units, which puts astral characters (surrogates, 0xD800-0xDFFF) before
 * U+E000-U+FFFF; moving the surrogates above that range restores code-point order.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x += x >= 0xe000 ? -0x800 : 0x2000;
      y += y >= 0xe000 ? -0x800 : 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Code-point order (like `LC_ALL=C ls`): the same on every machine. */
export function byName(a: FileStat, b: FileStat): number {
  return compareCodePoints(a.name, b.name);
}

export async function runLs(targetText: string, opts: LsOptions, io: CommandIO): Promise<void> {
  await withConnection('ls', targetText, opts, async ({ target, tree }) => {
    let entries: FileStat[];
    try {
      entries = await tree.list(target.path);
    } catch (err) {
      if (!(target.path !== '' && err instanceof SmbError && FILE_NOT_FOLDER.has(err.statusName))) throw err;
      // TARGET names a file: show that one entry.
      const st = await tree.stat(target.path).catch(() => {
        throw err;
      });
      if (st.isDirectory) throw err;
      const base = target.path.slice(target.path.lastIndexOf('/') + 1);
      entries = [{ ...st, name: st.name || base }];
    }
    entries = [...entries].sort(byName);
    const now = new Date();
    const sizeWidth = opts.json ? 0 : sizeColumnWidth(entries);
    const line = opts.json ? lsJsonLine : (e: FileStat) => formatLsLine(e, { now, sizeWidth });
    // A write per line costs more than formatting it (10,000 entries: about a fifth of the
    // command's time): the lines go out in blocks.
    for (let i = 0; i < entries.length; i += LINES_PER_WRITE) io.out(entries.slice(i, i + LINES_PER_WRITE).map(line).join('\n'));
  }, io);
}

export function registerLs(program: Command, io: CommandIO): Command {
  const cmd = program
    .command('ls')
    .description('list a folder on a share like ls -l (or one file)')
    .argument('<TARGET>', 'smb://[DOMAIN;]USER@HOST[:PORT]/SHARE[/PATH], //HOST/SHARE[/PATH] or \\\\HOST\\SHARE[\\PATH]')
    .option('--json', 'print one JSON object per entry, one per line');
  addConnectionOptions(cmd);
  cmd.action(async (target: string, opts: LsOptions) => {
    await runLs(target, opts, io);
  });
  return cmd;
}
