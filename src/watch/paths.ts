/**
 * Names from the server become share-relative paths here, safely: whatever a server sends, a
 * path never leaves the share (no `..` or `.` components, no empty ones) and never gains a
 * separator that was part of a name.
 */

/**
 * One component as the server named it, made safe: `/` inside a name (legal in a server's
 * UTF-16 name, not in a path of ours) becomes U+2215 DIVISION SLASH, and the names `.` and `..`
 * become their fullwidth look-alikes, so they cannot climb out of the share.
 */
export function safeComponent(name: string): string {
  if (name === '.') return '\uff0e';
  if (name === '..') return '\uff0e\uff0e';
  return name.replace(/\//g, '\u2215');
}

/** A FILE_NOTIFY_INFORMATION name (relative, `\`-separated) below the share-relative `folder`. */
export function notifyNameToPath(folder: string, name: string): string {
  const parts = name.split('\\').filter((p) => p !== '').map(safeComponent);
  const joined = parts.join('/');
  if (!folder) return joined;
  return joined ? `${folder}/${joined}` : folder;
}

/** Normalize a user-given share-relative path: `/` separators, no leading or trailing slash. */
export function normalizeSharePath(path: string): string {
  return path.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.').join('/');
}
