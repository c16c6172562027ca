/** `smbnotify ls TARGET`: list a folder (or show one file) like `ls -l`, or as JSON lines. */
import type { Command } from 'commander';
import { SmbError } from '../../smb/errors.js';
import type { SmbTree } from '../../smb/tree.js';
import type { FileStat } from '../../smb/types.js';
import type { ListedEntry } from '../../smb/wire/query-directory.js';
import { formatLsLine, lsJsonLine, sizeColumnWidth, type LsEntry } from '../format.js';
import { addConnectionOptions, TARGET_FORMS, withConnection, type ConnectionCliOptions } from '../options.js';
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
export function byName(a: { name: string }, b: { name: string }): number {
  return compareCodePoints(a.name, b.name);
}

/** FILETIME (MS-DTYP 2.3.3) in a double, 100 ns units since 1601, to a Date (0: the epoch, as filetimeToDate). */
function filetimeDate(ft: number): Date {
  return new Date(ft === 0 ? 0 : Math.floor(ft / 10_000) - 11_644_473_600_000);
}

function lsEntry(e: ListedEntry): LsEntry {
  return { name: e.name, isDirectory: e.isDirectory, size: e.size, lastWriteTime: filetimeDate(e.lastWrite) };
}

/** The folder's entries by `list`, or TARGET itself (as `fileEntry` makes it) when it names a file. */
async function entriesOf<T extends { name: string }>(tree: SmbTree, path: string, list: (path: string) => Promise<T[]>, fileEntry: (st: FileStat) => T): Promise<T[]> {
  try {
    return await list(path);
  } catch (err) {
    if (!(path !== '' && err instanceof SmbError && FILE_NOT_FOLDER.has(err.statusName))) throw err;
    const st = await tree.stat(path).catch(() => {
      throw err;
    });
    if (st.isDirectory) throw err;
    const base = path.slice(path.lastIndexOf('/') + 1);
    return [fileEntry({ ...st, name: st.name || base })];
  }
}

export async function runLs(targetText: string, opts: LsOptions, io: CommandIO): Promise<void> {
  // A write per line costs more than formatting it (10,000 entries: about a fifth of the
  // command's time): the lines go out in blocks.
  const write = (lines: string[]): void => {
    for (let i = 0; i < lines.length; i += LINES_PER_WRITE) io.out(lines.slice(i, i + LINES_PER_WRITE).join('\n'));
  };
  await withConnection('ls', targetText, opts, async ({ target, tree }) => {
    if (opts.json) {
      const entries = await entriesOf(tree, target.path, (p) => tree.list(p), (st) => st);
      write(entries.sort(byName).map(lsJsonLine));
      return;
    }
    // The lines need four fields: they come from the compact listing (no BigInt, no Date per
    // timestamp, no full entry), whose decoding is most of the CPU a big folder costs.
    const entries = await entriesOf<LsEntry>(tree, target.path, async (p) => (await tree.listEntries(p)).map(lsEntry), (st) => st);
    const now = new Date();
    const sizeWidth = sizeColumnWidth(entries);
    write(entries.sort(byName).map((e) => formatLsLine(e, { now, sizeWidth })));
  }, io);
}

export function registerLs(program: Command, io: CommandIO): Command {
  const cmd = program
    .command('ls')
    .description('list a folder on a share like ls -l (or one file)')
    .argument('<TARGET>', TARGET_FORMS)
    .option('--json', 'print one JSON object per entry, one per line');
  addConnectionOptions(cmd);
  cmd.action(async (target: string, opts: LsOptions) => {
    await runLs(target, opts, io);
  });
  return cmd;
}
