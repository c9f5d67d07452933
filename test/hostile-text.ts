// Hostile text for the sanitiser tests (issue 13, item 2), written for these tests. Each name fits
// a Linux process name (comm, 15 bytes in UTF-8), so any local user can give one to a process.

export interface HostileName {
  what: string;
  name: string;
  /** How the text formats must show it (README "Security": the escape format). */
  shown: string;
}

export const HOSTILE_NAMES: readonly HostileName[] = [
  { what: 'a newline forging a CRITICAL line', name: 'a\nCRITICAL: x', shown: 'a\\nCRITICAL: x' },
  { what: 'an OSC terminal-title sequence', name: '\x1b]0;pwned\x07', shown: '\\x1b]0;pwned\\x07' },
  { what: 'clear screen and cursor home', name: '\x1b[2J\x1b[H', shown: '\\x1b[2J\\x1b[H' },
  { what: 'a carriage return rewriting the line', name: 'ok\rCRITICAL', shown: 'ok\\rCRITICAL' },
  { what: 'a C1 CSI (U+009B) colour sequence', name: '\u009b31mred', shown: '\\x9b31mred' },
  { what: 'a DEL', name: 'x\x7fy', shown: 'x\\x7fy' },
  { what: 'an RLM (U+200F) reordering the columns', name: 'ab\u200fcd', shown: 'ab\\u200fcd' },
  { what: 'an ALM (U+061C)', name: 'ab\u061ccd', shown: 'ab\\u061ccd' },
  { what: 'an LRM (U+200E)', name: 'ab\u200ecd', shown: 'ab\\u200ecd' },
  { what: 'a blessed tag and a Nagios pipe', name: '{red-fg}x|y=1', shown: '{red-fg}x|y=1' },
];

/** Characters a terminal or a line-based reader acts on, other than the line feeds the formatter put there. */
export function rawControls(text: string): string[] {
  return [...text.matchAll(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g)].map((m) => m[0]);
}

/** Lines of `text` that a hostile name could have started (it must never manage to). */
export function forgedLines(text: string): string[] {
  return text.split('\n').filter((line) => /^(CRITICAL|x|ok|\x1b|\u009b)/.test(line) && !line.startsWith('CRITICAL half-') && !line.startsWith('CRITICAL count'));
}
