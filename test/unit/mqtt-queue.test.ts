// The MQTT sink's queue on disk: order across segments, the bound, segments written before all
// others at shutdown, a queue taken up by the next run, a line cut short by a crash.
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskQueue } from '../../src/sinks/mqtt-queue.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-mqtt-queue-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const line = (i: number) => JSON.stringify({ seq: i, event: 'CREATE', server: 's', share: 'd', path: `f-${i}` });

async function drainAll(q: DiskQueue): Promise<string[]> {
  const out: string[] = [];
  for (let seg = await q.takeOldest(); seg; seg = await q.takeOldest()) {
    out.push(...seg.lines);
    await seg.remove();
  }
  return out;
}

describe('DiskQueue', () => {
  it('gives lines back in order across segments, and is empty after', async () => {
    const q = await DiskQueue.open(join(dir, 'q'), { maxBytes: 10_000_000, segmentBytes: 2000 });
    for (let i = 0; i < 500; i++) expect(q.append(line(i))).toBe(true);
    const first = await q.takeOldest();
    // Appends while a segment is being read go to a later segment.
    for (let i = 500; i < 600; i++) q.append(line(i));
    const got = [...first!.lines];
    await first!.remove();
    got.push(...(await drainAll(q)));
    expect(got).toEqual(Array.from({ length: 600 }, (_, i) => line(i)));
    expect(q.empty).toBe(true);
    expect(q.bytes).toBe(0);
    expect(readdirSync(join(dir, 'q'))).toEqual([]);
    expect(statSync(join(dir, 'q')).mode & 0o777).toBe(0o700);
  });

  it('refuses what would pass the bound, and takes again once there is room', async () => {
    const q = await DiskQueue.open(dir, { maxBytes: 1000, segmentBytes: 300 });
    let accepted = 0;
    while (q.append(line(accepted))) accepted++;
    expect(accepted).toBeGreaterThan(5);
    expect(q.bytes).toBeLessThanOrEqual(1000);
    const seg = await q.takeOldest();
    await seg!.remove();
    expect(q.append(line(999))).toBe(true);
    // Its write is still on its way: done before afterEach removes the folder (ENOTEMPTY in CI).
    await q.flush();
  });

  it('a segment prepended at shutdown comes first; the next run takes the queue up; a cut line is skipped', async () => {
    const q = await DiskQueue.open(dir, { maxBytes: 1_000_000 });
    for (let i = 10; i < 20; i++) q.append(line(i));
    await q.prepend([line(1), line(2)]);
    await q.flush();
    // A crash in the middle of a write leaves half a line at the end of the newest segment.
    const newest = readdirSync(dir).sort().at(-1)!;
    appendFileSync(join(dir, newest), '{"seq":20,"ev');
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    const next = await DiskQueue.open(dir, { maxBytes: 1_000_000 });
    next.append(line(30));
    expect(await drainAll(next)).toEqual([line(1), line(2), ...Array.from({ length: 10 }, (_, i) => line(10 + i)), line(30)]);
  });
});
