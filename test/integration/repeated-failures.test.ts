// A server that stays down: each reconnect attempt fails the same way, and the stream says so at
// attempts 1, 2, 4, 8… (not every 30 s for as long as it lasts), and at once again after the
// watch came back and lost the server a second time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSamba, type SambaServer } from '../support/samba.js';
import { watch, type Harness } from '../support/stream.js';
import type { WatchEvent } from '../../src/watch/events.js';

let samba: SambaServer;
let h: Harness | undefined;

beforeAll(async () => {
  samba = await startSamba();
});
afterAll(async () => {
  await h?.stop();
  await samba.stop();
});

const failedAttempts = (events: WatchEvent[], from: number) => events.slice(from)
  .filter((e) => e.event === 'STATE' && /^reconnect attempt \d+ failed/.test(e.message ?? ''))
  .map((e) => e.message!);

describe('a server that stays down', () => {
  it('a repeated reconnect failure is said at attempts 1, 2, 4 and 8, and at the first again after a reconnect', async () => {
    h = await watch(samba);
    await h.waitFor((e) => e.event === 'STATE' && e.state === 'watching');
    const start = h.events.length;
    await samba.kill();
    // Backoff 200 ms doubling to 1 s (stream.ts): attempt 8 comes about 6 s after the loss.
    await h.waitFor((e) => /^reconnect attempt 8 failed/.test(e.message ?? ''), 30_000);
    const said = failedAttempts(h.events, start);
    expect(said.map((m) => Number(/attempt (\d+)/.exec(m)![1]))).toEqual([1, 2, 4, 8]);
    const refused = `cannot connect to 127\\.0\\.0\\.1:${samba.port}: connection refused`;
    expect(said[0]).toMatch(new RegExp(`^reconnect attempt 1 failed \\(${refused}\\); next in \\d+ s$`));
    expect(said[3]).toMatch(new RegExp(`^reconnect attempt 8 failed \\(${refused}\\); next in \\d+ s; 8 times in a row, said again at 16$`));

    await samba.start();
    await h.waitFor((e) => e.event === 'STATE' && e.state === 'watching' && h!.events.indexOf(e) > start, 30_000);
    const again = h.events.length;
    await samba.kill();
    await h.waitFor((e) => h!.events.indexOf(e) >= again && /^reconnect attempt 1 failed/.test(e.message ?? ''), 30_000);
    expect(failedAttempts(h.events, again)[0]).toMatch(new RegExp(`^reconnect attempt 1 failed \\(${refused}\\); next in \\d+ s$`));
    await samba.start();
  }, 90_000);
});
