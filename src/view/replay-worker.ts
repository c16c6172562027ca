/**
 * The replaying thread: performs each change the server reported as a real system call on the
 * view's mount point, so that the kernel emits genuine inotify events, while the serving thread
 * (another thread, recognising this one by its thread id) answers those calls from the job
 * without touching the backing folder. It also writes the cache invalidations: they may wait for
 * a request in the same folder to be answered, which only another thread can do.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { attrOf } from './attrs.js';
import { encodeInvalEntry, encodeInvalInode } from './fuse-wire.js';
import { ReplayChannel, type BackingVersion, type ReplayJob } from './replay-job.js';
import { PoolState } from './pool-state.js';

export interface ReplayWorkerData {
  fd: number;
  mountPoint: string;
  backing: string;
  shared: SharedArrayBuffer;
  /** The backing threads' state: each replay counts as a change (attributes read before it are not reused). */
  pool: SharedArrayBuffer;
}

export interface ReplayRequest {
  id: number;
  job: ReplayJob | { kind: 'invalidate'; path: string };
}

export interface ReplayResult {
  id: number;
  error?: string;
}

const data = workerData as ReplayWorkerData;
const channel = new ReplayChannel(data.shared);
const pool = new PoolState(data.pool);
channel.replayThread = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());

function notify(message: Buffer): void {
  try {
    fs.writeSync(data.fd, message);
  } catch (err) {
    // ENOENT: the kernel has nothing cached for it, which is what we wanted.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
}

/** open(2)'s O_PATH on Linux (absent from fs.constants): a handle for the name, no open call. */
const O_PATH = 0o10000000;

/**
 * The node id of a path on the view (the view reports node ids as inode numbers). Read from
 * /proc's fdinfo of an O_PATH handle (Linux 5.14 and later), which asks the view nothing: a stat
 * would, as every replay has just made the kernel drop the folder's attributes, and that
 * GETATTR round trip (through a backing thread) was a third of a replay's time.
 */
function nodeOf(path: string): bigint | null {
  let fd: number;
  try {
    fd = fs.openSync(join(data.mountPoint, path), O_PATH | fs.constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const ino = /^ino:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/thread-self/fdinfo/${fd}`, 'latin1'))?.[1];
    return ino !== undefined ? BigInt(ino) : fs.fstatSync(fd, { bigint: true }).ino;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

function parentAndName(path: string): [string, string] {
  const i = path.lastIndexOf('/');
  return i < 0 ? ['', path] : [path.slice(0, i), path.slice(i + 1)];
}

function forgetName(path: string): void {
  const [dir, name] = parentAndName(path);
  const parent = nodeOf(dir);
  if (parent !== null) notify(encodeInvalEntry(parent, Buffer.from(name)));
}

function refresh(path: string): void {
  const node = nodeOf(path);
  if (node !== null) notify(encodeInvalInode(node));
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function run(job: ReplayRequest['job']): void {
  // The backing folder has changed already: a listing's part prepared before must be read again.
  pool.changed();
  const abs = join(data.mountPoint, job.path);
  if (job.kind === 'invalidate') {
    refresh(job.path);
    return;
  }
  const [dir] = parentAndName(job.path);
  if (job.kind === 'create') job = withFound(job);
  channel.set(job);
  try {
    switch (job.kind) {
      case 'create':
        create(job.path, abs, job.isDir ?? false);
        break;
      case 'delete':
        remove(abs, job.isDir);
        break;
      case 'rename':
        try {
          fs.renameSync(join(data.mountPoint, job.oldPath), abs);
        } catch (err) {
          if (code(err) !== 'ENOENT') throw err;
          // The old name's folder is gone from the backing folder and the kernel never held it
          // (nobody looked): nothing to move away, but the new name must still appear.
          const created = withFound({ kind: 'create', path: job.path, ...(job.isDir !== undefined ? { isDir: job.isDir } : {}) });
          channel.set(created);
          create(created.path, abs, created.isDir ?? false);
        }
        break;
      case 'modify':
        modify(job.path, abs, job.isDir === true, job.unlessStill);
        break;
    }
  } finally {
    channel.set(null);
  }
  refresh(dir);
  if (job.kind === 'rename') refresh(parentAndName(job.oldPath)[0]);
}

/**
 * IN_DELETE: unlink or rmdir. ENOENT means the view shows no such name any more: a folder it was
 * in went first and the kernel no longer holds it (nobody can be watching inside), or the name was
 * never looked at since it was made. Nothing is left to remove, so that is no failure.
 */
function remove(abs: string, isDir: boolean | undefined): void {
  try {
    if (isDir) fs.rmdirSync(abs);
    else {
      try {
        fs.unlinkSync(abs);
      } catch (err) {
        if (code(err) !== 'EISDIR' && code(err) !== 'EPERM') throw err;
        fs.rmdirSync(abs);
      }
    }
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err;
  }
}

/**
 * IN_CREATE: mkdir, or an exclusive create and close. A name the kernel still holds as existing
 * (an entry cached before the server removed it) fails with EEXIST without reaching the view:
 * then the entry is dropped and the call made again. Dropping it first, every time, would cost
 * each replay a look-up of the folder's node and a notification before the event.
 */
function create(path: string, abs: string, isDir: boolean): void {
  for (let attempt = 0; ; attempt++) {
    try {
      if (isDir) fs.mkdirSync(abs);
      else fs.closeSync(fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL));
      return;
    } catch (err) {
      if (code(err) !== 'EEXIST' || attempt > 0) throw err;
      forgetName(path);
    }
  }
}

/**
 * The creation's attributes, read from the backing folder now. The view answers the replayed
 * CREATE or MKDIR with them, so the kernel's first idea of the new file is its real size and
 * times. Made-up ones (size 0) were given as expired, but a reader's refresh can be thrown away
 * by the kernel when another request changes the file's attributes at the same moment (the
 * replayed MODIFY that follows a write on the server does): the reader then saw size 0 and read
 * nothing. A name already gone again is replayed with made-up attributes (its DELETE follows).
 */
function withFound(job: Extract<ReplayJob, { kind: 'create' }>): Extract<ReplayJob, { kind: 'create' }> {
  let st: fs.BigIntStats;
  try {
    st = fs.lstatSync(join(data.backing, job.path), { bigint: true });
  } catch {
    return job;
  }
  return { ...job, isDir: job.isDir ?? st.isDirectory(), found: attrOf(st, 0n) };
}

/**
 * Whether the backing file is still as a save through the view left it. The mtime may move a
 * little without anyone changing the file: a cifs mount shows the time it set itself until it
 * learns the server's, set when the cached writes reached the server at close. So a version of the
 * same size within SAVED_MTIME_SLACK_NS counts as the same; a colleague's change within that
 * slack that keeps the size is the one it misses.
 */
function stillSaved(st: fs.BigIntStats, saved: BackingVersion): boolean {
  const drift = st.mtimeNs - saved.mtimeNs;
  return st.size === saved.size && drift < SAVED_MTIME_SLACK_NS && drift > -SAVED_MTIME_SLACK_NS;
}

const SAVED_MTIME_SLACK_NS = 2_000_000_000n;

/** IN_MODIFY + IN_CLOSE_WRITE for a file (ftruncate to its own size), IN_ATTRIB for a folder. */
function modify(path: string, abs: string, isDir: boolean, unlessStill?: BackingVersion): void {
  if (!isDir) {
    let size: number | null = null;
    try {
      const st = fs.lstatSync(join(data.backing, path), { bigint: true });
      if (unlessStill && stillSaved(st, unlessStill)) return;
      if (st.isFile()) size = Number(st.size);
    } catch {
      return; // gone again: its DELETE follows
    }
    if (size !== null) {
      // The kernel keeps a file's pages across opens: drop them before the event, so that a
      // program reacting to IN_MODIFY reads the server's new data, not the old pages.
      refresh(path);
      let fd: number | null = null;
      try {
        fd = fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
      } catch (err) {
        if (code(err) !== 'EACCES' && code(err) !== 'EPERM') throw err;
      }
      if (fd !== null) {
        try {
          fs.ftruncateSync(fd, size);
        } finally {
          fs.closeSync(fd);
        }
        refresh(path);
        return;
      }
    }
  }
  const now = new Date();
  fs.utimesSync(abs, now, now);
  refresh(path);
}

parentPort!.on('message', (req: ReplayRequest) => {
  let error: string | undefined;
  try {
    run(req.job);
  } catch (err) {
    // Node's messages start with the code already ("ENOENT: no such file or directory, ...").
    const message = (err as Error).message;
    const c = code(err);
    error = c && !message.startsWith(c) ? `${c}: ${message}` : message;
  }
  parentPort!.postMessage({ id: req.id, ...(error ? { error } : {}) } satisfies ReplayResult);
});
