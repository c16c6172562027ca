/**
 * Typed errors of the SMB layer. Every failure that leaves src/smb is one of these, so callers
 * (and the fuzz tests) can tell "the server said no" from "the server sent garbage" from "the
 * network failed" without parsing messages.
 */
import { ntStatusName } from './wire/ntstatus.js';

/** The server answered with a failing NTSTATUS. */
export class SmbError extends Error {
  readonly status: number;
  readonly statusName: string;
  readonly command: string;
  /** What the failure means in this context, when the caller knows better than the status name. */
  readonly detail: string | undefined;
  /**
   * Why an attempt made before this one failed, when this one was its fallback: `--use-kerberos
   * desired` tries the password after Kerberos, and a user who reads only the password's failure
   * would never learn that the ticket was the problem.
   */
  triedFirst: string | undefined;

  constructor(status: number, command: string, detail?: string) {
    const name = ntStatusName(status);
    super(`${command} failed: ${name} (0x${status.toString(16).padStart(8, '0')})${detail ? `: ${detail}` : ''}`);
    this.name = 'SmbError';
    this.status = status >>> 0;
    this.statusName = name;
    this.command = command;
    this.detail = detail;
  }
}

/** The server sent bytes that break the protocol: a bad length, offset, signature or state. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** The transport failed: refused, unreachable, reset, timed out, closed. */
export class ConnectionError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = 'ConnectionError';
    this.code = code;
  }
}

/** The session does not meet what the user asked for (for example `--protect encrypt`). */
export class SecurityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecurityError';
  }
}
