// stdout for a slow reader: lines wait as strings and go out in pieces, in order, none lost.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineWriter } from '../../src/cli/line-writer.js';

/** A stream that takes one write every few milliseconds, like a pipe whose reader lags. */
function slowStream(received: string[], stats: { maxBuffered: number; writes: number }): Writable {
  const w: Writable = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, done) {
      stats.writes++;
      stats.maxBuffered = Math.max(stats.maxBuffered, w.writableLength);
      received.push(chunk.toString());
      setTimeout(done, 2);
    },
  });
  return w;
}

describe('LineWriter', () => {
  it('hands every line over in order, at most about one piece at a time, and says when it is done', async () => {
    const received: string[] = [];
    const stats = { maxBuffered: 0, writes: 0 };
    const lines = new LineWriter(slowStream(received, stats));
    const sent: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const line = `{"seq":${i},"event":"CREATE","path":"burst/f${i}"}\n`;
      sent.push(line);
      lines.write(line);
    }
    await lines.idle();
    expect(received.join('')).toBe(sent.join(''));
    // Line by line until the stream is full (16 KiB here), then in pieces: not one chunk per line.
    expect(stats.writes).toBeLessThan(sent.length / 20);
    expect(stats.maxBuffered).toBeLessThan(100 * 1024);
  });

  it('drops what waits once the stream is closed, and is idle then', async () => {
    const received: string[] = [];
    const lines = new LineWriter(slowStream(received, { maxBuffered: 0, writes: 0 }));
    for (let i = 0; i < 5000; i++) lines.write(`line ${i}\n`);
    lines.close();
    lines.write('after close\n');
    await lines.idle();
    expect(received.join('')).not.toContain('after close');
  });
});
