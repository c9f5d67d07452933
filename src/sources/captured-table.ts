import type { Protocol } from '../core/address.js';
import type { ParseProblem, SocketRow } from '../core/connection.js';
import { TcpState } from '../core/tcp-state.js';
import { parseConntrack } from './linux/parse-conntrack.js';
import { parseLinuxNetstat } from './linux/parse-netstat-linux.js';
import { parseProcNetTcp } from './linux/parse-procfs.js';
import { parseSs } from './linux/parse-ss.js';
import { bsdNetstatNotices, parseBsdNetstat } from './macos/parse-netstat-bsd.js';
import { summarizeProblems } from './source.js';
import { getNetTcpConnectionNotices, looksLikeGetNetTcpConnection, parseGetNetTcpConnection } from './windows/parse-get-nettcpconnection.js';
import { parseWindowsNetstat } from './windows/parse-netstat-windows.js';

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

const CAPTURED_AT = /^#\s*captured at\s+(\S+)/i;

/** The text without a byte-order mark and without our own `# captured at …` first line. */
export function withoutCaptureLine(text: string): string {
  return text.replace(/^\uFEFF/, '').replace(/^#\s*captured at[^\n]*(\n|$)/i, '');
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

/** Parses a captured table; throws UnusableInputError when the text is not that format at all. */
export function parseCapture(text: string, format: InputFormat, takenAtMs: number, label: string): ParsedCapture {
  // The `# captured at` line is ours, not the tool's.
  const body = withoutCaptureLine(text);
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
      break;
    }
  }
  notices.push(...summarizeProblems(label, problems), ...unknownStateNotices(rows, format, label));
  return { rows, completeProtocols, notices };
}

/** One notice naming the state words nobody knows, for any source. */
export function unknownStateNotices(rows: readonly SocketRow[], format: string, label: string): string[] {
  const words = new Set(rows.filter((r) => r.state === TcpState.UNKNOWN).map((r) => r.rawState));
  if (words.size === 0) return [];
  const count = rows.filter((r) => r.state === TcpState.UNKNOWN).length;
  const advice = format === 'windows-netstat' ? '; `--source powershell` (Get-NetTCPConnection) reports states that are not translated' : '';
  return [`${label}: ${count} rows have state words tcpdwell does not know (${[...words].slice(0, 5).join(', ')}), shown as UNKNOWN${advice}`];
}
