// SMBNOTIFY_TRACE=notify: what the server answered, one line per response (watch/trace.ts).
import { describe, expect, it } from 'vitest';
import { notifyOutcome } from '../../src/smb/change-notify.js';
import { decodeHeader } from '../../src/smb/wire/header.js';
import { FileAction } from '../../src/smb/wire/notify.js';
import { notifyTraceLine, traceEnabled } from '../../src/watch/trace.js';
import { SAMBA_NOTIFY_RESPONSES as R } from './fixtures/samba-notify.js';

describe('notify trace', () => {
  it('names each action and the names, as a response smbd sent carries them', () => {
    const o = notifyOutcome(decodeHeader(R.added).status, R.added);
    if (o.kind !== 'entries') throw new Error(`expected entries, got ${o.kind}`);
    expect(notifyTraceLine('docs/2026', o.entries)).toBe('trace: notify docs/2026: ADDED new file ü.txt');
  });

  it('escapes names as the stream does, names unknown actions by code, the root as "."', () => {
    const line = notifyTraceLine('', [
      { action: FileAction.RENAMED_OLD_NAME, fileName: 'a\nb' },
      { action: FileAction.RENAMED_NEW_NAME, fileName: 'c' },
      { action: 0x42, fileName: 'd' },
    ]);
    expect(line).toBe('trace: notify .: RENAMED_OLD_NAME a\\nb, RENAMED_NEW_NAME c, 0x42 d');
  });

  it('is on only when SMBNOTIFY_TRACE lists notify', () => {
    expect(traceEnabled('notify', { SMBNOTIFY_TRACE: 'notify' })).toBe(true);
    expect(traceEnabled('notify', { SMBNOTIFY_TRACE: 'wire, notify' })).toBe(true);
    expect(traceEnabled('notify', { SMBNOTIFY_TRACE: 'notifyx' })).toBe(false);
    expect(traceEnabled('notify', {})).toBe(false);
  });
});
