/**
 * Share-relative paths: `/`-separated, no leading or trailing slash, '' for the share root. Names
 * from the server become such paths here, safely: whatever a server sends, a path never leaves the
 * share (no `..` or `.` components, no empty ones) and never gains a separator that was part of a
 * name.
 */

/**
 * One component as the server named it, made safe: `/` inside a name (legal in a server's
 * UTF-16 name, not in a path of ours) becomes U+2215 DIVISION SLASH, and the names `.` and `..`
 * become their fullwidth look-alikes, so they cannot climb out of the share.
 */
export function safeComponent(name: string): string {
  if (name === '.') return '\uff0e';
  if (name === '..') return '\uff0e\uff0e';
  // The same string when there is nothing to replace: a listing passes every name through here.
  return name.includes('/') ? name.replace(/\//g, '\u2215') : name;
}

/**
 * Normalize a user-given share-relative path (a watch target, a mount's prefix path): `/`
 * separators, no leading or trailing slash, no empty or `.` components.
 */
export function normalizeSharePath(path: string): string {
  return path.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.').join('/');
}

export function joinPath(dir: string, name: string): string {
  if (!dir) return name;
  if (!name) return dir;
  return `${dir}/${name}`;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** True when `path` is `dir` or lies below it. */
export function isWithin(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}
