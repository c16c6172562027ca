// When a Kerberos session is renewed ahead of its ticket's end, and how often the cache is looked
// at again when it has no fresher ticket yet (src/smb/session-renewal.ts).
import { describe, expect, it } from 'vitest';
import { recheckDelayMs, renewalLeadMs } from '../../src/smb/session-renewal.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('renewalLeadMs', () => {
  it('renews a 10-hour ticket at 90 % of its life (an hour before the end)', () => {
    expect(renewalLeadMs(10 * HOUR)).toBe(HOUR);
  });
  it('renews a 30-minute ticket 5 minutes before the end', () => {
    expect(renewalLeadMs(30 * MIN)).toBe(5 * MIN);
  });
  it('renews a ticket of 10 minutes or less half-way, never sooner', () => {
    expect(renewalLeadMs(10 * MIN)).toBe(5 * MIN);
    expect(renewalLeadMs(150_000)).toBe(75_000);
  });
});

describe('recheckDelayMs', () => {
  it('looks again at half the time left, between 5 s and 5 minutes', () => {
    expect(recheckDelayMs(HOUR)).toBe(5 * MIN);
    expect(recheckDelayMs(60_000)).toBe(30_000);
    expect(recheckDelayMs(21_000)).toBe(10_500);
  });
  it('leaves the last 20 s to the expiry path', () => {
    expect(recheckDelayMs(20_000)).toBeNull();
    expect(recheckDelayMs(-1)).toBeNull();
  });
});
