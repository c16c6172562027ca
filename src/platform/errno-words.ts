/**
 * What a failed file-system call means, in the words every message of the CLI uses ("no such
 * file", "permission denied"), not Node's ("ENOENT: no such file or directory, open '/x'").
 */
export function errnoWords(err: unknown, what: 'file' | 'folder'): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return `no such ${what}`;
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a folder';
    case 'ENOTDIR': return 'a parent is not a folder';
    case 'EROFS': return 'read-only file system';
    case 'ENOSPC': return 'no space left';
    case 'ENOTCONN': return 'a dead mount ("Transport endpoint is not connected"): unmount it first (fusermount3 -u or umount -l)';
    default: return code ?? (err instanceof Error ? err.message : String(err));
  }
}
