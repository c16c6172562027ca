/**
 * The credentials a cifs mount logs on with, from its /etc/fstab entry (`credentials=FILE` or
 * `cred=FILE`, mount.cifs(8)), so that `watch /mnt/share/dir` needs no credentials of its own
 * where the user may read the mount's. The kernel's own session cannot be borrowed: smbnotify
 * speaks SMB itself. Pure parsing here; reading the files is the caller's.
 */
import type { CifsMount } from './mounts.js';

export interface FstabEntry {
  spec: string;
  file: string;
  type: string;
  options: Map<string, string | true>;
}

/** fstab escapes space, tab, newline and backslash in its fields as octal (\040 ...). */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseFstab(text: string): FstabEntry[] {
  const out: FstabEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [spec, file, type, opts] = line.split(/\s+/);
    if (!spec || !file || !type) continue;
    const options = new Map<string, string | true>();
    for (const o of (opts ?? '').split(',')) {
      if (!o) continue;
      const eq = o.indexOf('=');
      if (eq < 0) options.set(o, true);
      else options.set(o.slice(0, eq), unescapeOctal(o.slice(eq + 1)));
    }
    out.push({ spec: unescapeOctal(spec), file: unescapeOctal(file), type, options });
  }
  return out;
}

/** The fstab entries of this mount (same mount point, cifs/smb3). */
export function entriesOfMount(entries: FstabEntry[], mount: Pick<CifsMount, 'mountPoint'>): FstabEntry[] {
  const norm = (p: string) => p.replace(/\/+$/, '') || '/';
  return entries.filter((e) => (e.type === 'cifs' || e.type === 'smb3') && norm(e.file) === norm(mount.mountPoint));
}

/** The credentials file named by the fstab entry of this mount (same mount point, cifs/smb3). */
export function credentialsFileOfMount(entries: FstabEntry[], mount: Pick<CifsMount, 'mountPoint'>): string | undefined {
  for (const e of entriesOfMount(entries, mount)) {
    const file = e.options.get('credentials') ?? e.options.get('cred');
    if (typeof file === 'string' && file) return file;
  }
  return undefined;
}
