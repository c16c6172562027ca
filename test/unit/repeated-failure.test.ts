import { describe, expect, it } from 'vitest';
import { RepeatedFailure } from '../../src/watch/repeated-failure.js';

describe('RepeatedFailure', () => {
  it('says the 1st, 2nd, 4th, 8th… time, then anew when the words change or after a reset', () => {
    const f = new RepeatedFailure();
    const said = Array.from({ length: 9 }, () => f.next('refused'));
    expect(said).toEqual(['', '; 2 times in a row, said again at 4', null, '; 4 times in a row, said again at 8', null, null, null, '; 8 times in a row, said again at 16', null]);
    expect(f.next('no route')).toBe('');
    expect(f.next('refused')).toBe('');
    f.next('refused');
    f.reset();
    expect(f.next('refused')).toBe('');
  });
});
