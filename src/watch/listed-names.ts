/**
 * Names a server notifies under one name and lists under another. With Samba's default
 * `mangled names = yes`, a name Windows cannot hold is listed under an 8.3 name (`meeting
 * 10:30.txt` as `MJXW7P~I.TXT`) while CHANGE_NOTIFY carries the real name; such a name cannot be
 * placed in the snapshot, which holds names as listed. The watcher lists the folder instead, so
 * the stream says what a listing shows.
 *
 * Samba's rule (is_legal_name in its mangle code) is the Windows one (MS-FSCC 2.1.5.2): any of
 * `" * / : < > ? \ |` or a control character, or a trailing dot or space.
 */
// eslint-disable-next-line no-control-regex
const WINDOWS_FORBIDDEN = /["*/:<>?\\|\u0000-\u001f\u2215]/;

/**
 * Characters only a server that lists forbidden names as they are can list (U+2215 is legal on
 * Windows; trailing dots and spaces are left out, as servers differ on them).
 */
// eslint-disable-next-line no-control-regex
const MANGLED_UNLESS_SERVED_AS_IS = /["*/:<>?\\|\u0000-\u001f]/;

export function mayBeListedOtherwise(name: string): boolean {
  if (name === '.' || name === '..' || name === '') return false;
  return WINDOWS_FORBIDDEN.test(name) || name.endsWith('.') || name.endsWith(' ');
}

/**
 * Whether a listed name shows that the server lists the names Windows forbids as they are (Samba's
 * `mangled names = no`): a mangling server lists such a name under an 8.3 name, never as it is.
 */
export function provesNamesServedAsIs(listedName: string): boolean {
  return MANGLED_UNLESS_SERVED_AS_IS.test(listedName);
}
