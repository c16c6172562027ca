/**
 * Whether a folder given as a view's backing (`--backing`, `view-backing`) shows the share's
 * folder at all. A wrong one would be mounted and then lie: its own files in the view, and every
 * change of the share replayed into it under names it does not have. Names may differ a little
 * between the two (case, Samba's mangled 8.3 names, names a server hides), so only a folder that
 * holds none of the share's names, of at least three, is taken for a wrong one.
 */
const SAMPLE = 100;
const AT_LEAST = 3;

/** Why `backing` does not look like the share's folder, or null. */
export function backingMismatch(shareNames: readonly string[], backingNames: readonly string[], backing: string): string | null {
  const sample = shareNames.filter((n) => n !== '.' && n !== '..').slice(0, SAMPLE);
  if (sample.length < AT_LEAST) return null;
  const here = new Set(backingNames.map((n) => n.toLowerCase()));
  if (sample.some((n) => here.has(n.toLowerCase()))) return null;
  const shown = sample.slice(0, 3).join(', ');
  const more = shareNames.length > 3 ? `, and ${shareNames.length - 3} more` : '';
  return `${backing} does not show this folder of the share: none of its names (${shown}${more}) is there; give the folder that shows its files`;
}
