import type { Protocol } from '../core/address.js';
import type { ParseProblem, SocketRow } from '../core/connection.js';
import { TcpState } from '../core/tcp-state.js';
import { parseConntrack } from './linux/parse-conntrack.js';
import { parseLinuxNetstat } from './linux/parse-netstat-linux.js';
import { parseProcNetTcp } from './linux/parse-procfs.js';
import { parseSs } from './linux/parse-ss.js';
import { bsdNetstatNotices, parseBsdNetstat } from './macos/parse-netstat-bsd.js';
import { summarizeProblems } from './source.js';
import { UnusableInputError } from './unusable-input.js';
import { getNetTcpConnectionNotices, looksLikeGetNetTcpConnection, parseGetNetTcpConnection } from './windows/parse-get-nettcpconnection.js';
import { parseWindowsNetstat } from './windows/parse-netstat-windows.js';
import { plural } from '../core/plural.js';

// Socket tables captured as text (`--input`): which tool wrote them, and their rows. Pure.

export const INPUT_FORMATS = ['procfs', 'ss', 'linux-netstat', 'windows-netstat', 'powershell', 'macos-netstat', 'conntrack'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

// One pattern per format that matches its data rows (or header) and no other format's.
const ROW_PATTERNS: [InputFormat, RegExp][] = [
  ['procfs', /^\s*(\d+:\s+[0-9A-Fa-f]{8,32}:[0-9A-Fa-f]{4}\s|sl\s+local_address)/],
  // The seconds left are absent on offloaded entries (`tcp 6 src=… [OFFLOAD]`), the trailer is conntrack -L's.
  ['conntrack', /^(ipv[46]\s+\d+\s+)?(tcp|udp|icmp|icmpv6|sctp)\s+\d+\s.*\bsrc=|^conntrack v\S+ \(conntrack-tools\)/],
  ['windows-netstat', /^\s+(TCP|UDP)(v6)?\s+\S+\s+\S+/],
  ['linux-netstat', /^tcp6?\s+\d+\s+\d+\s+\S+:\S+\s+\S+:\S+/],
  ['macos-netstat', /(^|\s)tcp(4|6|46)?\s+\d+\s+\d+\s+\S+\.[\d*]+\s+\S+\.[\d*]+/],
  ['ss', /^((tcp|udp|u_str|u_dgr|u_seq|raw|nl|p_raw|p_dgr)\s+)?(ESTAB|LISTEN|SYN-SENT|SYN-RECV|FIN-WAIT-[12]|TIME-WAIT|CLOSE-WAIT|LAST-ACK|CLOSING|UNCONN)\s+\d+\s+\d+|^(Netid\s+)?State\s+Recv-Q/],
];

/** The format of a captured table, from its own text; undefined when nothing fits. */
export function detectInputFormat(text: string): InputFormat | undefined {
  const body = text.replace(/^\uFEFF/, '').trimStart();
  // JSON, CSV, the table view or Format-List: LocalAddress is no other tool's word.
  if (looksLikeGetNetTcpConnection(body)) return 'powershell';
  const scores = new Map<InputFormat, number>();
  for (const line of body.split(/\r?\n/, 5000)) {
    for (const [format, pattern] of ROW_PATTERNS) {
      if (pattern.test(line)) {
        scores.set(format, (scores.get(format) ?? 0) + 1);
        break;
      }
    }
  }
  let best: InputFormat | undefined;
  for (const [format, score] of scores) if (!best || score > scores.get(best)!) best = format;
  return best;
}

// Our own first line; blank lines may come before it once a paste's fence is taken away.
const CAPTURED_AT = /^\s*#\s*captured at\s+(\S+)/i;

/** The text without a byte-order mark and with our own `# captured at …` first line blanked (line numbers stay the file's). */
export function withoutCaptureLine(text: string): string {
  return text.replace(/^\uFEFF/, '').replace(/^(\s*)#\s*captured at[^\n]*/i, '$1');
}

/** The time in a `# captured at 2026-11-21T05:29:18Z …` first line, if there is one. */
export function capturedAtFromText(text: string): number | undefined {
  const match = CAPTURED_AT.exec(text.replace(/^\uFEFF/, ''));
  const ms = match ? Date.parse(match[1]!) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

export interface ParsedCapture {
  rows: SocketRow[];
  /** Protocols the capture lists in full (a capture of /proc/net/tcp alone says nothing of tcp6). */
  completeProtocols: Protocol[];
  notices: string[];
}

// Fail closed: a capture with no row is an empty table only where the tool's own header (or a
// whole JSON array) says the table was written and empty; otherwise nothing was read. These
// parsers find no row without a line of the table itself and throw: their not throwing proves it.
// Windows netstat's header is translated (CJK too), and nf_conntrack has none: an empty capture of
// those is indistinguishable from a file that holds nothing, so it is not taken as an empty table
// (`conntrack -L`'s trailer `0 flow entries have been shown` is taken: the parser accepts it).
const EMPTY_TABLE_HEADERS: Partial<Record<InputFormat, RegExp>> = {
  procfs: /^\s*sl\s+local_address/,
  ss: /^(Netid\s+)?State\s+Recv-Q\s+Send-Q/,
  // Its column names are translated (es `Proto  Recib Enviad Dirección local`); `Proto` is not.
  'linux-netstat': /^Proto\s+\S+\s+\S+\s+\S/,
  'macos-netstat': /^(Socket\s+(Flowhash\s+)?)?Proto\s+Recv-Q\s+Send-Q/,
  powershell: /^\s*\[\s*\]\s*$|(^|,)"?LocalAddress"?(,|$)/,
};
const PARSER_NEEDS_A_TABLE_LINE: ReadonlySet<InputFormat> = new Set(['windows-netstat', 'linux-netstat', 'macos-netstat', 'conntrack']);

/** Whether the text is the tool's header (after at most one title line) with nothing under it. */
function isHeaderOnly(body: string, format: InputFormat): boolean {
  const header = EMPTY_TABLE_HEADERS[format];
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
  const header = EMPTY_TABLE_HEADERS[format];
  if (PARSER_NEEDS_A_TABLE_LINE.has(format) || (header && body.split('\n').some((l) => header.test(l)))) return;
  throw new UnusableInputError(`no ${format} row and no ${format} header`);
}

/**
 * Parses a captured table (unwrapped: see unwrapPastedTable). Throws UnusableInputError when the
 * text is not that format at all, or holds no row and does not prove an empty table.
 */
export function parseCapture(text: string, format: InputFormat, takenAtMs: number, label: string): ParsedCapture {
  // The `# captured at` line is ours, not the tool's.
  const body = withoutCaptureLine(text).replace(/\r\n/g, '\n');
  if (isHeaderOnly(body, format)) {
    // Both procfs headers: tcp and tcp6 were captured; one alone does not say which.
    const both = format !== 'procfs' || body.split('\n').filter((l) => EMPTY_TABLE_HEADERS.procfs!.test(l)).length >= 2;
    return { rows: [], completeProtocols: both ? ['tcp', 'tcp6'] : [], notices: [`${label}: the table is empty (${format} header, no rows)`] };
  }
  const notices: string[] = [];
  let rows: SocketRow[];
  let problems: ParseProblem[];
  let completeProtocols: Protocol[] = ['tcp', 'tcp6'];
  switch (format) {
    case 'procfs': {
      ({ rows, problems } = parseProcNetTcp(body));
      // A tcp-only or tcp6-only file: the other table was not captured.
      const tables = body.split(/\r?\n/).filter((l) => /^\s*sl\s+local_address/.test(l)).length;
      if (tables < 2) completeProtocols = [...new Set(rows.map((r) => r.protocol))];
      break;
    }
    case 'ss':
      ({ rows, problems } = parseSs(body));
      break;
    case 'linux-netstat':
      ({ rows, problems } = parseLinuxNetstat(body));
      break;
    case 'windows-netstat':
      ({ rows, problems } = parseWindowsNetstat(body));
      break;
    case 'macos-netstat': {
      const parsed = parseBsdNetstat(body);
      ({ rows, problems } = parsed);
      notices.push(...bsdNetstatNotices(parsed, label));
      break;
    }
    case 'powershell': {
      const parsed = parseGetNetTcpConnection(body, { takenAtMs });
      ({ rows, problems } = parsed);
      notices.push(...getNetTcpConnectionNotices(parsed, label));
      break;
    }
    case 'conntrack': {
      // Offline, the sysctl timeouts are unknown: no time since the last packet.
      const parsed = parseConntrack(body);
      ({ rows, problems } = parsed);
      notices.push(`${label}: conntrack entries carry no process; time since the last packet needs the host's timeouts, so idle is not measured offline`);
      if (parsed.missingEntries) notices.push(`${label}: ${parsed.missingEntries}`);
      // The trailer counts entries the text does not hold: with none left, nothing was read.
      if (rows.length === 0 && parsed.missingEntries) throw new UnusableInputError(`no row could be read: ${parsed.missingEntries}`);
      break;
    }
  }
  requireRowsOrEmptyTable(body, format, rows, problems);
  notices.push(...summarizeProblems(label, problems), ...unknownStateNotices(rows, format, label));
  return { rows, completeProtocols, notices };
}

/** One notice naming the state words nobody knows, for any source. */
export function unknownStateNotices(rows: readonly SocketRow[], format: string, label: string): string[] {
  const words = new Set(rows.filter((r) => r.state === TcpState.UNKNOWN).map((r) => r.rawState));
  if (words.size === 0) return [];
  const count = rows.filter((r) => r.state === TcpState.UNKNOWN).length;
  const advice = format === 'windows-netstat' ? '; `--source powershell` (Get-NetTCPConnection) reports states that are not translated' : '';
  return [`${label}: ${plural(count, 'row')} ${count === 1 ? 'has a state word' : 'have state words'} tcpdwell does not know (${[...words].slice(0, 5).join(', ')}), shown as UNKNOWN${advice}`];
}
