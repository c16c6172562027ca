/**
 * SMBNOTIFY_TRACE=notify: one stderr line per CHANGE_NOTIFY response, as it arrived, before it
 * becomes events. It shows what the server said and in which order, which is what to look at
 * when the stream and the server seem to disagree (docs/protocol.md, "Order across folders").
 */
import { FileAction, type FileNotifyInformation } from '../smb/change-notify.js';
import { escapeForTerminal } from './safe-text.js';

const ACTION_NAMES = new Map<number, string>(Object.entries(FileAction).map(([name, code]) => [code, name]));

/** Whether SMBNOTIFY_TRACE (a comma-separated list) asks for `what`. */
export function traceEnabled(what: 'notify', env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.SMBNOTIFY_TRACE ?? '').split(',').map((s) => s.trim()).includes(what);
}

/** `trace: notify FOLDER: ACTION name, ...` with names escaped as the stream escapes them. */
export function notifyTraceLine(folder: string, entries: readonly FileNotifyInformation[]): string {
  const what = entries.map((e) => `${ACTION_NAMES.get(e.action) ?? `0x${e.action.toString(16)}`} ${escapeForTerminal(e.fileName)}`);
  return `trace: notify ${escapeForTerminal(folder) || '.'}: ${what.join(', ') || '(no entries)'}`;
}
