// The event journal: JSON lines, private file mode, size rotation with `keep` files, append-only,
// nothing lost on close.
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DaemonEvent } from '../../src/sinks/types.js';
import { defaultJournalPath, JournalSink } from '../../src/sinks/journal.js';
import { eventJson } from '../../src/watch/events.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-journal-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function ev(seq: number, over: Partial<DaemonEvent> = {}): DaemonEvent {
  return {
    seq,
    time: '2025-01-02T03:04:05.678Z',
    event: 'CREATE',
    server: 'nas',
    share: 'data',
    path: `docs/file-${seq}.txt`,
    source: 'notify',
    action: 1,
    watch: 'docs',
    watchId: 'w1',
    ...over,
  };
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
const mode = (file: string) => statSync(file).mode & 0o777;

describe('daemonEventJson', () => {
  it("is eventJson's object with watchId appended", () => {
    const e = ev(7, { oldPath: 'a', localPath: '/mnt/x/docs/file-7.txt', isDir: false, message: 'm "q"\n' });
    const line = eventJson(e);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    // The `watch --json` line of the same event (which has no watchId), then watchId last.
    const { watchId: _id, ...plain } = e;
    expect(parsed).toEqual({ ...JSON.parse(eventJson(plain)), watchId: 'w1' });
    expect(Object.keys(parsed)).toEqual([...Object.keys(JSON.parse(eventJson(plain)) as object), 'watchId']);
    expect(line).not.toContain('\n');
  });
});

describe('JournalSink', () => {
  it('writes one valid JSON line per event, with the fields, in order; file mode 0600', async () => {
    const file = join(dir, 'events.jsonl');
    const j = await JournalSink.open(file);
    j.publish(ev(1));
    j.publish(ev(2, { event: 'MOVED_TO', oldPath: 'docs/old name.txt', localPath: '/mnt/data/docs/file-2.txt' }));
    j.publish(ev(3, { event: 'STATE', state: 'watching', message: 'connected, SMB 3.1.1', path: 'docs' }));
    await j.close();
    const got = lines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got.map((o) => o['seq'])).toEqual([1, 2, 3]);
    expect(got[0]).toEqual({
      seq: 1, time: '2025-01-02T03:04:05.678Z', event: 'CREATE', server: 'nas', share: 'data',
      path: 'docs/file-1.txt', source: 'notify', action: 1, watch: 'docs', watchId: 'w1',
    });
    expect(got[1]).toMatchObject({ event: 'MOVED_TO', oldPath: 'docs/old name.txt', localPath: '/mnt/data/docs/file-2.txt' });
    expect(got[2]).toMatchObject({ event: 'STATE', state: 'watching', message: 'connected, SMB 3.1.1' });
    expect(mode(file)).toBe(0o600);
  });

  it('creates missing parent directories with mode 0700', async () => {
    const file = join(dir, 'a', 'smbnotify', 'events.jsonl');
    const j = await JournalSink.open(file);
    await j.close();
    expect(mode(join(dir, 'a'))).toBe(0o700);
    expect(mode(join(dir, 'a', 'smbnotify'))).toBe(0o700);
    expect(mode(file)).toBe(0o600);
  });

  it('tightens a pre-existing 0644 journal and appends to it without truncating', async () => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, '{"seq":0,"old":true}\n');
    chmodSync(file, 0o644);
    const j = await JournalSink.open(file);
    expect(mode(file)).toBe(0o600);
    j.publish(ev(1));
    await j.close();
    const j2 = await JournalSink.open(file);
    j2.publish(ev(2));
    await j2.close();
    expect(lines(file).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([0, 1, 2]);
  });

  it('with a group: the file 0640 and its smbnotify folder 0750, both of that group, so members can reach it', async () => {
    const folder = join(dir, 'smbnotify');
    const file = join(folder, 'events.jsonl');
    const j = await JournalSink.open(file, { group: 65534 });
    await j.close();
    const { statSync } = await import('node:fs');
    expect([statSync(folder).mode & 0o777, statSync(folder).gid]).toEqual([0o750, 65534]);
    expect([statSync(file).mode & 0o777, statSync(file).gid]).toEqual([0o640, 65534]);
    // Without a group again: private again.
    await (await JournalSink.open(file)).close();
    expect(statSync(folder).mode & 0o777).toBe(0o700);
  });

  it('a folder that cannot be made is one line in words, at once (Node\'s recursive mkdir hangs under /proc)', async () => {
    // A hang would fail the test at its time limit.
    await expect(JournalSink.open('/proc/nope/j.jsonl')).rejects.toThrow(/^cannot open the journal \/proc\/nope\/j\.jsonl: cannot create \/proc\/nope: no such folder$/);
    const notAFolder = join(dir, 'file');
    writeFileSync(notAFolder, '');
    await expect(JournalSink.open(join(notAFolder, 'sub', 'j.jsonl'))).rejects.toThrow(/^cannot open the journal .*: a parent is not a folder$/);
  });

  it('refuses a symlink in place of the journal', async () => {
    const { symlinkSync } = await import('node:fs');
    const target = join(dir, 'elsewhere');
    writeFileSync(target, '');
    symlinkSync(target, join(dir, 'events.jsonl'));
    await expect(JournalSink.open(join(dir, 'events.jsonl'))).rejects.toThrow(/cannot open the journal/);
  });

  it('rotates at the size bound, keeping `keep` old files; never more than (keep+1) x maxBytes', async () => {
    const file = join(dir, 'events.jsonl');
    const maxBytes = 4096;
    const keep = 2;
    const j = await JournalSink.open(file, { maxBytes, keep });
    const lineBytes = Buffer.byteLength(`${eventJson(ev(100))}\n`);
    const perFile = Math.floor(maxBytes / lineBytes);
    const total = perFile * 6 + 3; // enough for several rotations
    for (let i = 1; i <= total; i++) {
      j.publish(ev(i));
      if (i % 17 === 0) await new Promise((r) => setImmediate(r)); // several batches
    }
    await j.close();
    const names = readdirSync(dir).sort();
    expect(names).toEqual(['events.jsonl', 'events.jsonl.1', 'events.jsonl.2']);
    for (const n of names) {
      expect(statSync(join(dir, n)).size).toBeLessThanOrEqual(maxBytes);
      expect(mode(join(dir, n))).toBe(0o600);
    }
    // The newest events are in events.jsonl, the ones before in .1, then .2; contiguous.
    const seqs = ['events.jsonl.2', 'events.jsonl.1', 'events.jsonl'].flatMap((n) =>
      lines(join(dir, n)).map((l) => (JSON.parse(l) as { seq: number }).seq),
    );
    expect(seqs[seqs.length - 1]).toBe(total);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
    // Full files are full: a rotated file holds as many lines as fit.
    expect(lines(join(dir, 'events.jsonl.1')).length).toBe(perFile);
  });

  it('a journal deleted while in use is made again at the next write, and that is said', async () => {
    const file = join(dir, 'events.jsonl');
    const said: string[] = [];
    const j = await JournalSink.open(file, { maxBytes: 1000, keep: 9, onError: (err) => said.push(err.message) });
    j.publish(ev(1));
    await j.flush();
    rmSync(file);
    for (let i = 2; i <= 20; i++) j.publish(ev(i)); // past maxBytes: a rotation comes too
    await j.close();
    // Nothing went into the deleted file: every event after the removal is in a file tail -F reads.
    const age = (n: string) => Number(n.split('.')[2] ?? 0);
    const seqs = readdirSync(dir).sort((a, b) => age(b) - age(a))
      .flatMap((n) => lines(join(dir, n)).map((l) => (JSON.parse(l) as { seq: number }).seq));
    expect(seqs).toEqual(Array.from({ length: 19 }, (_v, i) => i + 2));
    expect(said).toEqual([`journal ${file}: was deleted; writing to a new one`]);
  });

  it('renamed away as logrotate does: reopen() (SIGHUP) makes a new file at its path at once, and later events go there', async () => {
    const file = join(dir, 'events.jsonl');
    const said: string[] = [];
    const j = await JournalSink.open(file, { onError: (err) => said.push(err.message) });
    for (let i = 1; i <= 3; i++) j.publish(ev(i));
    await j.flush();
    renameSync(file, `${file}-20261202`);
    await j.reopen();
    // At once, before any event: tail -F and a path unit see the new file.
    expect(existsSync(file)).toBe(true);
    expect(mode(file)).toBe(0o600);
    for (let i = 4; i <= 6; i++) j.publish(ev(i));
    await j.flush();
    // Without the SIGHUP (logrotate with no postrotate): found at the next write.
    renameSync(file, `${file}-20261203`);
    for (let i = 7; i <= 9; i++) j.publish(ev(i));
    await j.close();
    const seqs = (n: string) => lines(join(dir, n)).map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs('events.jsonl-20261202')).toEqual([1, 2, 3]);
    expect(seqs('events.jsonl-20261203')).toEqual([4, 5, 6]);
    expect(seqs('events.jsonl')).toEqual([7, 8, 9]);
    expect(said).toEqual([
      `journal ${file}: was renamed (rotated by another program?); writing to a new one at its path`,
      `journal ${file}: was renamed (rotated by another program?); writing to a new one at its path`,
    ]);
  });

  it('a file logrotate made in its place (create) is the one written to; reopen() with nothing moved changes nothing', async () => {
    const file = join(dir, 'events.jsonl');
    const said: string[] = [];
    const j = await JournalSink.open(file, { onError: (err) => said.push(err.message) });
    j.publish(ev(1));
    await j.reopen();
    expect(said).toEqual([]);
    renameSync(file, `${file}.old`);
    writeFileSync(file, '', { mode: 0o600 });
    j.publish(ev(2));
    await j.close();
    expect(lines(`${file}.old`).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1]);
    expect(lines(file).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([2]);
  });

  it("truncated under it (logrotate's copytruncate): rotation counts from the new size, not the old one", async () => {
    const file = join(dir, 'events.jsonl');
    const lineBytes = Buffer.byteLength(`${eventJson(ev(100))}\n`);
    const j = await JournalSink.open(file, { maxBytes: lineBytes * 10, keep: 3 });
    for (let i = 1; i <= 8; i++) j.publish(ev(i));
    await j.flush();
    truncateSync(file, 0);
    for (let i = 9; i <= 16; i++) j.publish(ev(i));
    await j.close();
    // 8 lines fit in a file of 10: no rotation, the file holds just what came after the truncation.
    expect(readdirSync(dir)).toEqual(['events.jsonl']);
    expect(lines(file).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it("setLimits (a reloaded config's journal-max-size and journal-keep) applies from the next write", async () => {
    const file = join(dir, 'events.jsonl');
    const lineBytes = Buffer.byteLength(`${eventJson(ev(100))}\n`);
    const j = await JournalSink.open(file);
    j.publish(ev(1));
    await j.flush();
    j.setLimits(lineBytes * 2, 1);
    for (let i = 2; i <= 9; i++) j.publish(ev(i));
    await j.close();
    expect(readdirSync(dir).sort()).toEqual(['events.jsonl', 'events.jsonl.1']);
    expect(statSync(file).size).toBeLessThanOrEqual(lineBytes * 2);
    expect(() => j.setLimits(0, 1)).toThrow(/positive/);
  });

  it('keep = 0 keeps only the current file', async () => {
    const file = join(dir, 'events.jsonl');
    const j = await JournalSink.open(file, { maxBytes: 1000, keep: 0 });
    for (let i = 1; i <= 50; i++) j.publish(ev(i));
    await j.close();
    expect(readdirSync(dir)).toEqual(['events.jsonl']);
    expect(statSync(file).size).toBeLessThanOrEqual(1000);
    expect(lines(file).map((l) => (JSON.parse(l) as { seq: number }).seq).at(-1)).toBe(50);
  });

  it('close flushes everything: 10,000 events across rotated files', async () => {
    const file = join(dir, 'events.jsonl');
    const j = await JournalSink.open(file, { maxBytes: 256 * 1024, keep: 10 });
    for (let i = 1; i <= 10_000; i++) j.publish(ev(i));
    await j.close();
    const all = readdirSync(dir).flatMap((n) => lines(join(dir, n)));
    expect(readdirSync(dir).length).toBeGreaterThan(2);
    expect(all.length).toBe(10_000);
    const seqs = new Set(all.map((l) => (JSON.parse(l) as { seq: number }).seq));
    expect(seqs.size).toBe(10_000);
    j.publish(ev(10_001)); // after close: ignored, no throw
  });

  it('an idle journal writes at once; a burst behind it goes out complete and in order', async () => {
    const file = join(dir, 'events.jsonl');
    const j = await JournalSink.open(file);
    j.publish(ev(1));
    for (let i = 0; i < 50 && statSync(file).size === 0; i++) await new Promise((r) => setTimeout(r, 2));
    expect(lines(file).length).toBe(1);
    for (let i = 2; i <= 1000; i++) j.publish(ev(i));
    await j.flush();
    expect(lines(file).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    await j.close();
  });
});

describe('defaultJournalPath', () => {
  it('uses XDG_RUNTIME_DIR, /tmp/smbnotify-$UID without it, /run for the system service', () => {
    const saved = process.env['XDG_RUNTIME_DIR'];
    try {
      process.env['XDG_RUNTIME_DIR'] = '/run/user/1000';
      expect(defaultJournalPath(false)).toBe('/run/user/1000/smbnotify/events.jsonl');
      delete process.env['XDG_RUNTIME_DIR'];
      expect(defaultJournalPath(false)).toBe(`/tmp/smbnotify-${process.getuid!()}/events.jsonl`);
      expect(defaultJournalPath(true)).toBe('/run/smbnotify/events.jsonl');
    } finally {
      if (saved === undefined) delete process.env['XDG_RUNTIME_DIR'];
      else process.env['XDG_RUNTIME_DIR'] = saved;
    }
  });

  it('the /tmp fallback directory is made (or tightened to) 0700', async () => {
    const d = join(dir, 'smbnotify-4242');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(d, { mode: 0o755 });
    chmodSync(d, 0o755);
    const j = await JournalSink.open(join(d, 'events.jsonl'));
    await j.close();
    expect(mode(d)).toBe(0o700);
    expect(existsSync(join(d, 'events.jsonl'))).toBe(true);
  });
});

describe('journal-group', () => {
  it('a custom path: every folder the journal creates is 0750 of the group, so members reach the file; existing ones are left alone', async () => {
    chmodSync(dir, 0o711);
    const file = join(dir, 'new', 'folder', 'events.jsonl');
    const j = await JournalSink.open(file, { group: 65534 });
    await j.close();
    for (const folder of [join(dir, 'new'), join(dir, 'new', 'folder')]) {
      expect([folder, mode(folder), statSync(folder).gid]).toEqual([folder, 0o750, 65534]);
    }
    expect([mode(file), statSync(file).gid]).toEqual([0o640, 65534]);
    expect([mode(dir), statSync(dir).gid]).toEqual([0o711, process.getgid!()]);
    // The group can get to the file: nobody (65534) reads it.
    const { execFileSync } = await import('node:child_process');
    expect(execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', file]).toString()).toBe('');
  });

  it('a group-readable journal is 0640 and owned by that group', async () => {
    const gid = process.getgid!();
    const file = join(dir, 'grouped', 'events.jsonl');
    const j = await JournalSink.open(file, { group: gid });
    await j.close();
    expect(mode(file)).toBe(0o640);
    expect(statSync(file).gid).toBe(gid);
  });
});
