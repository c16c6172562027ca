/**
 * Errors of the command line and their one-line descriptions.
 *
 * Every failure the user sees is ONE line on stderr (`smbnotify: <describeError>`): no stack, no
 * multi-line dumps, no control characters from a hostile server, and never a password.
 */
import { UsageError } from '../config/errors.js';
import { SecurityError } from '../smb/errors.js';
import { describeSmbFailure, type ErrorContext } from '../smb/describe.js';
import { BusNameTaken, BusUnavailable } from '../sinks/bus-errors.js';
import { JournalError } from '../sinks/journal-error.js';
import { DemoSetupError } from '../demo/demo-error.js';

export { UsageError };
export { hostPort, uncName, type ErrorContext } from '../smb/describe.js';

/** Wraps a failure with the context it happened in; describeError unwraps it. */
export class CommandFailed extends Error {
  readonly original: unknown;
  readonly context: ErrorContext;
  constructor(original: unknown, context: ErrorContext) {
    super(original instanceof Error ? original.message : String(original));
    this.name = 'CommandFailed';
    this.original = original;
    this.context = context;
  }
}

/** Make any text safe for one terminal line: newlines folded, control characters escaped. */
export function oneLine(text: string): string {
  const folded = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  // eslint-disable-next-line no-control-regex
  return folded.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code === 0x09) return '\\t';
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/**
 * ONE line (no trailing newline, no stack) telling the user what went wrong, naming the host,
 * share or path from `context` where that helps.
 */
export function describeError(err: unknown, context: ErrorContext = {}): string {
  let ctx = context;
  let e = err;
  while (e instanceof CommandFailed) {
    ctx = { ...e.context, ...ctx };
    e = e.original;
  }
  let line: string;
  const smb = describeSmbFailure(e, ctx);
  if (smb !== undefined) {
    line = smb;
  } else if (e instanceof UsageError || e instanceof SecurityError || e instanceof BusUnavailable || e instanceof BusNameTaken || e instanceof JournalError || e instanceof DemoSetupError) {
    line = e.message;
  } else if (e instanceof Error) {
    line = `internal error: ${e.message || e.name}`;
  } else {
    line = `internal error: ${String(e)}`;
  }
  return oneLine(line);
}
