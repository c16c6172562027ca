/**
 * The one rule for showing a name from the server on a terminal or in a JSON line, shared by the
 * event stream (`watch`, `monitor`, the journal) and `ls` / `info`: a hostile name cannot move the
 * cursor, clear the screen, reorder text or fake a second line.
 */

// C0 controls, DEL, C1 controls (U+009B is CSI to many terminals), bidirectional marks, embeddings,
// overrides and isolates, line and paragraph separators, lone surrogates (with the `u` flag a valid
// pair is one code point and does not match), and `\` itself so that escapes stay unambiguous.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff\\]/u;
// eslint-disable-next-line no-control-regex
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

function escapeChar(c: string): string {
  if (c === '\\') return '\\\\';
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/**
 * `\n`, `\t`, `\r`, `\xNN` for the other C0 controls, DEL and C1, `\u{NNNN}` for bidi and line
 * separators and lone surrogates, `\\` for a backslash; everything else as it is.
 */
export function escapeForTerminal(s: string): string {
  return UNSAFE.test(s) ? s.replace(UNSAFE_ALL, escapeChar) : s;
}

// What JSON.stringify leaves raw but a terminal acts on. These only occur inside JSON strings.
// eslint-disable-next-line no-control-regex
const JSON_UNSAFE = /[\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const JSON_UNSAFE_ALL = new RegExp(JSON_UNSAFE.source, 'g');

/**
 * JSON.stringify, one line, safe on a terminal. JSON.stringify escapes C0 controls and lone
 * surrogates but leaves DEL, the C1 controls, line separators and bidirectional overrides raw;
 * they become \uXXXX here too. The text still parses to exactly the same value.
 */
export function jsonLine(value: unknown): string {
  const json = JSON.stringify(value);
  return JSON_UNSAFE.test(json) ? json.replace(JSON_UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}
