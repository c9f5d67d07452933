import type { Protocol } from '../core/address.js';
import { connectionKey, type ParseProblem, type SocketRow } from '../core/connection.js';
import { listenersSharingPort, repeatedRowsNotice, type RepeatedRows } from '../core/tracker.js';
import { INPUT_DETECTION_ORDER, inputParser, type InputFormat } from './registry.js';
import type { ParsedInput } from './source-record.js';
import { summarizeProblems } from './source.js';
import { unknownStateNotices } from './unknown-states.js';
import { UnusableInputError } from './unusable-input.js';
import { parseTimestamp } from '../core/timestamp.js';

// Socket tables captured as text (`--input`): which tool wrote them, and their rows. Pure. Each
// format's pattern, header and parser are in its source's registry record (registry.ts).

/** The format of a captured table, from its own text; undefined when nothing fits. */
export function detectInputFormat(text: string): InputFormat | undefined {
  const body = text.replace(/^\uFEFF/, '').trimStart();
  const whole = INPUT_DETECTION_ORDER.find((p) => p.detectWhole?.(body));
  if (whole) return whole.format;
  const byLine = INPUT_DETECTION_ORDER.filter((p) => p.detect);
  const scores = new Map<InputFormat, number>();
  for (const line of body.split(/\r?\n/, 5000)) {
    const match = byLine.find((p) => p.detect!.test(line));
    if (match) scores.set(match.format, (scores.get(match.format) ?? 0) + 1);
  }
  let best: InputFormat | undefined;
  for (const [format, score] of scores) if (!best || score > scores.get(best)!) best = format;
  return best;
}

// Our own first line; blank lines may come before it once a paste's fence is taken away.
// The time may be followed by punctuation that starts the rest of the line (`…Z: /proc/net/tcp`, `…Z, host`).
const CAPTURED_AT = /^\s*#\s*captured at\s+(\S+?)[:,;]?(?:[ \t]+(\S+?)[:,;]?)?(?=\s|$)/i;

/** The text without a byte-order mark and with our own `# captured at …` first line blanked (line numbers stay the file's). */
export function withoutCaptureLine(text: string): string {
  return text.replace(/^\uFEFF/, '').replace(/^(\s*)#\s*captured at[^\n]*/i, '$1');
}

/**
 * The time in a `# captured at 2026-11-21T05:29:18Z …` first line: Unix ms; undefined without such
 * a line; `{ unreadable }` with the text and why when the line is there but its time is not an
 * RFC 3339 time with a zone (core/timestamp): a time guessed would put a wrong number on every dwell.
 * `2026-11-21 05:29:18Z` (a space for the T) takes both words.
 */
export function capturedAtFromText(text: string): number | { unreadable: string } | undefined {
  const match = CAPTURED_AT.exec(text.replace(/^\uFEFF/, ''));
  if (!match) return undefined;
  const [, first, second] = match;
  const spaced = second !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(first!) ? parseTimestamp(`${first} ${second}`) : undefined;
  if (typeof spaced === 'number') return spaced;
  const ms = parseTimestamp(first!);
  if (typeof ms === 'number') return ms;
  return { unreadable: `"# captured at ${spaced === undefined ? first : `${first} ${second}`}": ${typeof spaced === 'string' ? spaced : ms}` };
}

export interface ParsedCapture {
  rows: SocketRow[];
  /** Protocols the capture lists in full (a capture of /proc/net/tcp alone says nothing of tcp6). */
  completeProtocols: Protocol[];
  notices: string[];
}

// Fail closed: a capture with no row is an empty table only where the tool's own header (or a
// whole JSON array) says the table was written and empty; otherwise nothing was read. Parsers that
// find no row without a line of the table itself throw (`needsTableLine`): their not throwing
// proves it. Windows netstat's header is translated (CJK too), and nf_conntrack has none: an empty
// capture of those is indistinguishable from a file that holds nothing, so it is not taken as an
// empty table (`conntrack -L`'s trailer `0 flow entries have been shown` is taken: the parser accepts it).

/** Whether the text is the tool's header (after at most one title line) with nothing under it. */
function isHeaderOnly(body: string, header: RegExp | undefined): boolean {
  if (!header) return false;
  const lines = body.split('\n').filter((l) => l.trim() !== '');
  return lines.some((l) => header.test(l)) && lines.every((l, i) => header.test(l) || (i === 0 && lines.length > 1));
}

/** Throws UnusableInputError unless a capture without rows proves an empty table. */
function requireRowsOrEmptyTable(body: string, format: InputFormat, rows: readonly SocketRow[], problems: readonly ParseProblem[]): void {
  if (rows.length > 0) return;
  if (problems.length > 0) {
    const first = problems[0]!;
    throw new UnusableInputError(`no row could be read: ${problems.length} malformed (first: line ${first.line}: ${first.message})`);
  }
  const { emptyTableHeader: header, needsTableLine } = inputParser(format);
  if (needsTableLine || (header && body.split('\n').some((l) => header.test(l)))) return;
  throw new UnusableInputError(`no ${format} row and no ${format} header`);
}

/**
 * Parses a captured table (unwrapped: see unwrapPastedTable). Throws UnusableInputError when the
 * text is not that format at all, or holds no row and does not prove an empty table.
 */
export function parseCapture(text: string, format: InputFormat, takenAtMs: number, label: string): ParsedCapture {
  // The `# captured at` line is ours, not the tool's.
  const body = withoutCaptureLine(text).replace(/\r\n/g, '\n');
  const parser = inputParser(format);
  if (isHeaderOnly(body, parser.emptyTableHeader)) {
    const completeProtocols: Protocol[] = parser.emptyTableProtocols?.(body) ?? ['tcp', 'tcp6'];
    return { rows: [], completeProtocols, notices: [`${label}: the table is empty (${format} header, no rows)`] };
  }
  const { parsed, splitAt } = parseAroundLoneCrs(body, (text) => parser.parse(text, { takenAtMs, label }));
  const notices = [...(parsed.notices ?? [])];
  if (splitAt.length > 0) notices.push(loneCrNotice(label, splitAt));
  requireRowsOrEmptyTable(body, format, parsed.rows, parsed.problems);
  notices.push(...summarizeProblems(label, parsed.problems), ...unknownStateNotices(parsed.rows, format, label));
  const repeated = repeatedTupleNotice(parsed.rows, label);
  if (repeated) notices.push(repeated);
  return { rows: parsed.rows, completeProtocols: parsed.completeProtocols ?? ['tcp', 'tcp6'], notices };
}

/** Lines with a lone CR decided one by one (a full parse each); past this many, the rest are decided together. */
const LONE_CR_LINES_ONE_BY_ONE = 32;

/**
 * Parses `body` (LF-ended lines), deciding for each line that holds a CR alone (not before its LF:
 * unwrapPastedTable keeps those inside their line where LF ends most lines) whether that CR ends a
 * row. A file whose line ends mix CR and LF (two captures joined, a paste through a terminal)
 * would otherwise join two rows into one line, and the parser would read the first and drop the
 * rest unseen; but a CR may also be data (a process name holds one: ss prints it raw). The line is
 * split at its CRs when that reads more rows with no more problems, or when the line read whole
 * keeps no CR in any row (the text after the CR was dropped) while split it gives a problem: the
 * fragment is then a skipped line with its number, never lost unsaid. Problems keep the file's
 * line numbers. `splitAt`: the file's lines split.
 */
function parseAroundLoneCrs(body: string, parse: (text: string) => ParsedInput): { parsed: ParsedInput; splitAt: number[] } {
  if (!body.includes('\r')) return { parsed: parse(body), splitAt: [] };
  const lines = body.split('\n');
  const crLines: number[] = [];
  for (let i = 0; i < lines.length; i++) if (lines[i]!.includes('\r')) crLines.push(i);
  let parsed = parse(body);
  if (crLines.length === 0) return { parsed, splitAt: [] };
  // The current lines and, for each, its line number in the file.
  let current = lines.map((line) => [line]);
  const splitAt: number[] = [];
  const attempt = (indices: readonly number[]) => {
    const next = current.map((pieces, i) => (indices.includes(i) ? pieces[0]!.split('\r') : pieces));
    let candidate: ParsedInput;
    try {
      candidate = parse(next.flat().join('\n'));
    } catch {
      return; // split, the text is no table at all: the CR was not a line end
    }
    const crKept = parsed.rows.some((row) => row.process?.includes('\r'));
    const moreRows = candidate.rows.length > parsed.rows.length && candidate.problems.length <= parsed.problems.length;
    const fragmentDropped = candidate.rows.length === parsed.rows.length && candidate.problems.length > parsed.problems.length && !crKept;
    if (!moreRows && !fragmentDropped) return;
    current = next;
    parsed = candidate;
    for (const i of indices) splitAt.push(i + 1);
  };
  for (const i of crLines.slice(0, LONE_CR_LINES_ONE_BY_ONE)) attempt([i]);
  if (crLines.length > LONE_CR_LINES_ONE_BY_ONE) attempt(crLines.slice(LONE_CR_LINES_ONE_BY_ONE));
  if (splitAt.length === 0) return { parsed, splitAt };
  // Problems name the file's lines, not the split text's.
  const fileLine = current.flatMap((pieces, i) => pieces.map(() => i + 1));
  return { parsed: { ...parsed, problems: parsed.problems.map((p) => ({ ...p, line: fileLine[p.line - 1] ?? p.line })) }, splitAt };
}

function loneCrNotice(label: string, lines: readonly number[]): string {
  const shown = lines.slice(0, 5).join(', ') + (lines.length > 5 ? ` and ${lines.length - 5} more` : '');
  return `${label}: ${lines.length === 1 ? 'line' : 'lines'} ${shown} ${lines.length === 1 ? 'holds' : 'hold'} a carriage return alone that ends a row (line ends mixing CR and LF): read as separate lines`;
}

/**
 * Rows of one captured table whose 4-tuple (connectionKey: protocol, endpoints, instance, namespace)
 * an earlier row already listed, counted and the first one named; undefined when there are none.
 * The tracker keeps the first row of a flow listed twice in one reading, so this says what it drops:
 * a table taken while it changed (`ss` walks the kernel's hash tables, not a snapshot), or one 4-tuple
 * in use twice (a new socket beside its TIME_WAIT). Listeners sharing a port are not a repeat.
 */
function repeatedTupleNotice(rows: readonly SocketRow[], label: string): string | undefined {
  const first = new Map<string, SocketRow>();
  let repeated: RepeatedRows | undefined;
  for (const row of rows) {
    const key = connectionKey(row);
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, row);
      continue;
    }
    if (listenersSharingPort(earlier, row)) continue;
    if (repeated) repeated.count++;
    else repeated = { count: 1, earlier, again: row };
  }
  return repeated && repeatedRowsNotice(label, repeated);
}
