// Text that came from outside (process names, captured fields, config values, error messages that
// quote them) made safe to print, at the output edge of every text format. Any local user can name
// a process: a newline would forge a line of `check` (`a\nCRITICAL: x`), ESC and C1 CSI sequences
// retitle or clear the terminal, CR rewrites a line. JSON and the Prometheus exposition are exact
// (they escape by themselves) and do not come here.
//
// Escape format (README "Security"): `\n` `\r` `\t`; `\xHH` for the other C0 controls, DEL and the
// C1 controls (U+0080-U+009F, so U+009B CSI is `\x9b`); `\uHHHH` for the Unicode line and
// paragraph separators and the bidirectional marks (LRM, RLM, ALM) and embedding/override/isolate controls. A backslash is left
// as it is, so escaping twice changes nothing (formatters and commands may both apply it); JSON
// output tells a real `\x1b` name from an ESC apart.

// C0, DEL, C1; U+2028/U+2029 (line breaks to some viewers); U+202A-U+202E and U+2066-U+2069
// (bidi embeddings, overrides, isolates: they reorder what follows them on the line); U+200E,
// U+200F and U+061C (LRM, RLM, ALM: bidi marks, which reorder the text and columns around them).
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const HAS_UNSAFE = new RegExp(UNSAFE.source);
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

// A word ends at a blank or at the punctuation messages put around quoted text (`(a, b)`, `"a"`),
// so the length shown is the quoted word's own.
const WORD = /[^ (),;"']+/g;
/** Longest word shown whole, in characters after escaping. */
export const MAX_WORD_CHARS = 256;
/** Characters kept of a longer word, before `…[N chars]`. */
const KEPT_WORD_CHARS = 32;

/** `text` with every control character escaped (see the format above); nothing else changed. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * One line of external text made printable: controls escaped, so it stays one line, and every word
 * longer than MAX_WORD_CHARS (an unknown state word of 100,000 characters) cut to its first 32
 * characters and `…[N chars]`, N counted in characters of the original. Idempotent.
 */
export function sanitizeLine(text: string): string {
  if (text.length <= MAX_WORD_CHARS && !HAS_UNSAFE.test(text)) return text; // the common case
  return text.replace(WORD, (word) => {
    const escaped = escapeControls(word);
    if (escaped.length <= MAX_WORD_CHARS) return escaped;
    const chars = [...word];
    return `${escapeControls(chars.slice(0, KEPT_WORD_CHARS).join(''))}…[${chars.length} chars]`;
  });
}

/** Lines joined by `\n`, each sanitised on its own: only the caller's line breaks survive. */
export function sanitizeLines(lines: readonly string[]): string {
  return lines.map(sanitizeLine).join('\n');
}

/**
 * A line of Nagios plugin output: sanitised, and `|` (which starts performance data in the status
 * line and in long output alike) shown as `\x7c`.
 */
export function sanitizeNagiosText(text: string): string {
  return sanitizeLine(text).replace(/\|/g, '\\x7c');
}

const REDACTED = '***';

/**
 * A URL fit to show: user and password become `***`, each query value `***` (names kept; a bare `?token` is all value), the
 * fragment `***`. Scheme, host, port and path stay. Text that does not parse as a URL is returned
 * with anything between `//` and an `@` replaced the same way.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\/\/[^/?#\s]*@/, `//${REDACTED}@`);
  }
  const userinfo = parsed.username || parsed.password ? `${REDACTED}@` : '';
  const query = parsed.search
    ? `?${parsed.search
        .slice(1)
        .split('&')
        .map((pair) => (pair.includes('=') ? `${pair.slice(0, pair.indexOf('='))}=${REDACTED}` : REDACTED))
        .join('&')}`
    : '';
  const fragment = parsed.hash ? `#${REDACTED}` : '';
  return `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}${query}${fragment}`;
}

/** Every http(s) URL inside `text` (an error message quoting the request) redacted with redactUrl. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\bhttps?:\/\/[^\s"'<>]+/gi, (url) => redactUrl(url));
}
