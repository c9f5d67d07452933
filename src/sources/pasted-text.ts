// Captured tables arrive pasted into e-mails, tickets and Markdown: quoted (`> `, `> > `), indented
// as a code block (4 spaces or a tab), fenced (```), with the prompt that ran the tool first. Only
// ss gives a leading blank a meaning (its -i line continues the socket above), so an indented ss
// table read as it came would be nothing but continuation lines. The paste is undone before
// detection and parsing, for every format. Pure.

// A shell prompt and a command: `$ ss -tan`, `user@host:~$ …`, `[root@host ~]# …`, zsh/csh `% …`,
// PowerShell `PS C:\Users\x> …`, cmd.exe `C:\Users\x>netstat -ano`. Our own `# captured at` line
// is not one. `#TYPE` (Export-Csv's first line) is not either: a prompt is followed by a blank.
const PROMPT = /^(?!#\s*captured at)(?:(?:\[[^\]]*\]|[\w.@:~/-]*)[$#%]\s+\S|PS [^>]*>|[A-Za-z]:\\[^>]*>\s*\S)/i;
const FENCE = /^(`{3,}|~{3,})[^`]*$/;
// Markdown quotes may start up to three blanks in; one blank after `>` belongs to the marker.
const QUOTE = /^[ \t]{0,3}>[ ]?/;

/**
 * The table as the tool wrote it: quote markers, fence lines, a prompt line first, and the
 * indentation every line shares, taken away. Lines keep their numbers (a removed line becomes
 * blank), so a parse problem names the line of the file; line ends (CRLF, LF, or CR alone in a
 * file where it ends more lines than LF) become `\n`. Text that is not a paste comes back unchanged but for its line ends.
 */
export function unwrapPastedTable(text: string): string {
  // A file whose lines end in CR alone (classic Mac, some terminals' copy) would be one line split
  // on LF. Where lone CRs outnumber LFs (a final newline added to such a file included), CR ends a
  // line; otherwise a CR is part of its line (a process name may hold one, and ss prints it raw).
  const unmarked = text.replace(/^\uFEFF/, '');
  const lines = unmarked.split(crEndsLines(unmarked) ? /\r\n|\r|\n/ : /\r?\n/);
  const isBlank = (line: string) => line.trim() === '';
  // Quote markers first: a fence or a prompt may sit inside the quote.
  while (lines.some((l) => !isBlank(l)) && lines.every((l) => isBlank(l) || QUOTE.test(l))) {
    for (let i = 0; i < lines.length; i++) lines[i] = lines[i]!.replace(QUOTE, '');
  }
  for (let i = 0; i < lines.length; i++) if (FENCE.test(lines[i]!.trim())) lines[i] = '';
  const first = lines.findIndex((l) => !isBlank(l));
  if (first >= 0 && PROMPT.test(lines[first]!.trim())) lines[first] = '';
  const indent = commonIndent(lines.filter((l) => !isBlank(l)));
  if (indent.length > 0) {
    for (let i = 0; i < lines.length; i++) lines[i] = isBlank(lines[i]!) ? '' : lines[i]!.slice(indent.length);
  }
  return lines.join('\n');
}

/** Whether CR alone (not before LF) ends more lines of `text` than LF does. */
function crEndsLines(text: string): boolean {
  let loneCr = 0;
  let lf = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) lf++;
    else if (c === 13 && text.charCodeAt(i + 1) !== 10) loneCr++;
  }
  return loneCr > lf;
}

/** The leading blanks (spaces and tabs, exactly as written) that every line starts with. */
function commonIndent(lines: readonly string[]): string {
  if (lines.length === 0) return '';
  let prefix = /^[ \t]*/.exec(lines[0]!)![0];
  for (const line of lines) {
    let n = 0;
    while (n < prefix.length && line[n] === prefix[n]) n++;
    prefix = prefix.slice(0, n);
    if (prefix === '') break;
  }
  return prefix;
}
