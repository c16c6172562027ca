// The typed outcome of a CHANGE_NOTIFY response (smb/change-notify.ts), from responses smbd sent.
import { describe, expect, it } from 'vitest';
import { notifyOutcome } from '../../src/smb/change-notify.js';
import { ProtocolError } from '../../src/smb/errors.js';
import { decodeHeader } from '../../src/smb/wire/header.js';
import { FileAction } from '../../src/smb/wire/notify.js';
import { SAMBA_NOTIFY_RESPONSES as R } from './fixtures/samba-notify.js';

const outcome = (message: Buffer) => notifyOutcome(decodeHeader(message).status, message);

describe('notifyOutcome', () => {
  it('a file created on the server: entries, name decoded from UTF-16', () => {
    expect(outcome(R.added)).toEqual({ kind: 'entries', entries: [{ action: FileAction.ADDED, fileName: 'new file ü.txt' }] });
  });

  it('STATUS_NOTIFY_ENUM_DIR (the buffer overran): overflow', () => {
    expect(outcome(R.enumDir)).toEqual({ kind: 'overflow' });
  });

  it('an empty successful response also means the changes did not fit (MS-SMB2 3.3.4.4)', () => {
    // The ENUM_DIR message carries an empty output buffer: read as SUCCESS it is an overflow too.
    expect(notifyOutcome(0, R.enumDir)).toEqual({ kind: 'overflow' });
  });

  it('STATUS_CANCELLED: cancelled', () => {
    expect(outcome(R.cancelled)).toEqual({ kind: 'cancelled' });
  });

  it('STATUS_NOTIFY_CLEANUP and STATUS_DELETE_PENDING: gone, with the status named', () => {
    expect(outcome(R.cleanup)).toEqual({ kind: 'gone', status: 0x10b, statusName: 'STATUS_NOTIFY_CLEANUP' });
    expect(outcome(R.deleted)).toEqual({ kind: 'gone', status: 0xc0000056, statusName: 'STATUS_DELETE_PENDING' });
  });

  it('`change notify = no`: unsupported', () => {
    expect(outcome(R.notImplemented)).toEqual({ kind: 'unsupported', status: 0xc0000002, statusName: 'STATUS_NOT_IMPLEMENTED' });
  });

  it('any other failing status: failed, as a typed SmbError', () => {
    const o = notifyOutcome(0xc0000022, R.cancelled);
    expect(o.kind).toBe('failed');
    expect(o.kind === 'failed' && o.error.message).toMatch(/CHANGE_NOTIFY failed: STATUS_ACCESS_DENIED/);
  });

  it('a successful response whose buffer runs past the message: ProtocolError', () => {
    expect(() => notifyOutcome(0, R.added.subarray(0, R.added.length - 4))).toThrow(ProtocolError);
  });
});
