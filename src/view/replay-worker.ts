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
import { encodeInvalEntry, encodeInvalInode } from './fuse-wire.js';
import { ReplayChannel, type ReplayJob } from './replay-job.js';

export interface ReplayWorkerData {
  fd: number;
  mountPoint: string;
  backing: string;
  shared: SharedArrayBuffer;
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

/** The node id of a path on the view (the view reports node ids as inode numbers). */
function nodeOf(path: string): bigint | null {
  try {
    return fs.lstatSync(join(data.mountPoint, path), { bigint: true }).ino;
  } catch {
    return null;
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
  const abs = join(data.mountPoint, job.path);
  if (job.kind === 'invalidate') {
    refresh(job.path);
    return;
  }
  const [dir] = parentAndName(job.path);
  if (job.kind === 'create') forgetName(job.path); // a cached entry would make O_EXCL fail silently
  channel.set(job);
  try {
    switch (job.kind) {
      case 'create':
        if (job.isDir ?? isBackingDir(job.path)) fs.mkdirSync(abs);
        else fs.closeSync(fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL));
        break;
      case 'delete':
        if (job.isDir) fs.rmdirSync(abs);
        else {
          try {
            fs.unlinkSync(abs);
          } catch (err) {
            if (code(err) !== 'EISDIR' && code(err) !== 'EPERM') throw err;
            fs.rmdirSync(abs);
          }
        }
        break;
      case 'rename':
        fs.renameSync(join(data.mountPoint, job.oldPath), abs);
        break;
      case 'modify':
        modify(job.path, abs, job.isDir === true);
        break;
    }
  } finally {
    channel.set(null);
  }
  refresh(dir);
  if (job.kind === 'rename') refresh(parentAndName(job.oldPath)[0]);
}

function isBackingDir(path: string): boolean {
  try {
    return fs.lstatSync(join(data.backing, path)).isDirectory();
  } catch {
    return false;
  }
}

/** IN_MODIFY + IN_CLOSE_WRITE for a file (ftruncate to its own size), IN_ATTRIB for a folder. */
function modify(path: string, abs: string, isDir: boolean): void {
  if (!isDir) {
    let size: number | null = null;
    try {
      const st = fs.lstatSync(join(data.backing, path));
      if (st.isFile()) size = st.size;
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
    error = `${code(err) ?? 'error'}: ${(err as Error).message}`;
  }
  parentPort!.postMessage({ id: req.id, ...(error ? { error } : {}) } satisfies ReplayResult);
});
