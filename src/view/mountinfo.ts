/** The few facts about /proc/self/mountinfo the view needs (proc(5): fields, octal escapes). */

export const FUSE_TYPE = 'fuse.smbnotify';

/** mountinfo writes space, tab, newline and backslash in paths as \ooo. */
export function mountinfoEscape(path: string): string {
  return path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

export function mountinfoUnescape(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface MountLine {
  mountPoint: string;
  fstype: string;
  source: string;
  /** The device, as in the third field (major:minor). */
  major: number;
  minor: number;
}

export function parseMountLine(line: string): MountLine | null {
  const fields = line.split(' ');
  const dash = fields.indexOf('-', 6);
  if (dash < 0 || fields.length < dash + 3) return null;
  const [major, minor] = (fields[2] ?? '').split(':').map(Number);
  return { mountPoint: mountinfoUnescape(fields[4]!), fstype: fields[dash + 1]!, source: mountinfoUnescape(fields[dash + 2]!), major: major ?? NaN, minor: minor ?? NaN };
}

/** The mount that is visible at `mountPoint`: the last one listed there. */
export function topMountAt(mountinfo: string, mountPoint: string): MountLine | null {
  let top: MountLine | null = null;
  for (const line of mountinfo.split('\n')) {
    const m = parseMountLine(line);
    if (m && m.mountPoint === mountPoint) top = m;
  }
  return top;
}
