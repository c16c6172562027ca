/**
 * Reading a file with another user's rights, for a root daemon acting for a D-Bus caller: a
 * credentials file named by the caller is used only if the caller could read it (else any member
 * of the policy's group could make the daemon send root-only credentials to a server it names).
 *
 * The file is read by `cat` run through `setpriv` with the caller's uid, primary group and
 * supplementary groups (`id`), so the kernel decides (modes, ACLs, every folder on the way), and
 * what the daemon uses is exactly what the caller could read: no check-then-use race.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The uid's primary group and groups, as `id` reports them (NSS included); null when unknown. */
async function groupsOf(uid: number): Promise<{ gid: number; groups: number[] } | null> {
  try {
    const [g, all] = await Promise.all([run('id', ['-g', String(uid)]), run('id', ['-G', String(uid)])]);
    const gid = Number(g.stdout.trim());
    const groups = all.stdout.trim().split(/\s+/).filter(Boolean).map(Number);
    if (!Number.isInteger(gid) || groups.some((n) => !Number.isInteger(n))) return null;
    return { gid, groups };
  } catch {
    return null;
  }
}

/** An error with the errno code `cat` met, so callers word it like their own reads. */
function catError(stderr: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(stderr.trim().split('\n')[0] ?? 'cannot read');
  if (/Permission denied/.test(stderr)) err.code = 'EACCES';
  else if (/No such file/.test(stderr)) err.code = 'ENOENT';
  else if (/Is a directory/.test(stderr)) err.code = 'EISDIR';
  else if (/Not a directory/.test(stderr)) err.code = 'ENOTDIR';
  return err;
}

/**
 * The file's text as `uid` would read it. Our own uid reads directly; another uid needs root
 * (setpriv), and an unknown uid reads with the nobody group and no supplementary groups.
 */
export async function readFileAsUser(uid: number, file: string, readOwn: (f: string) => Promise<string>): Promise<string> {
  if (uid === process.geteuid?.()) return readOwn(file);
  if (process.geteuid?.() !== 0) {
    const err: NodeJS.ErrnoException = new Error('only a daemon running as root reads files for other users');
    err.code = 'EPERM';
    throw err;
  }
  const ids = (await groupsOf(uid)) ?? { gid: 65534, groups: [] };
  const groupArgs = ids.groups.length ? [`--groups=${ids.groups.join(',')}`] : ['--clear-groups'];
  try {
    const r = await run('setpriv', [`--reuid=${uid}`, `--regid=${ids.gid}`, ...groupArgs, '--', 'cat', '--', file], { maxBuffer: 1 << 20 });
    return r.stdout;
  } catch (err) {
    throw catError(String((err as { stderr?: unknown }).stderr ?? ''));
  }
}
