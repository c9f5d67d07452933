import { parseAddressText, parsePortText } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketRow } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { TcpState } from '../../core/tcp-state.js';
import { UnusableInputError } from '../unusable-input.js';

// /proc/net/nf_conntrack (and `conntrack -L`): the firewall's session table.
//   ipv4 2 tcp 6 117 SYN_SENT src=A dst=B sport=P dport=Q [UNREPLIED] src=B dst=A sport=Q dport=P [ASSURED] mark=0 zone=0 use=2
// The number after `6` is the seconds left before the entry expires. Every packet of the flow
// resets it to the timeout of the entry's state, so timeout − left = seconds since the last packet.
// An entry offloaded to a flowtable prints neither the seconds nor the state (ct_seq_show and
// tcp_print_conntrack skip both while IPS_OFFLOAD is set; ctnetlink leaves out CTA_TIMEOUT and
// CTA_PROTOINFO, so `conntrack -L` has neither), and is flagged `[OFFLOAD]` or `[HW_OFFLOAD]`:
//   tcp 6 src=A dst=B sport=P dport=Q src=B dst=A sport=Q dport=P [OFFLOAD] mark=0 use=2
// `conntrack -L` also writes `conntrack v1.4.6 (conntrack-tools): N flow entries have been shown.`
// (to stderr, so before or after the entries in a capture that took both).

/** nf_conntrack_tcp_timeout_* in seconds, by conntrack state word (SYN_SENT, ESTABLISHED…). */
export type ConntrackTimeouts = Partial<Record<string, number>>;

/** The sysctl file name for each conntrack state. */
export const CONNTRACK_TIMEOUT_FILES: Record<string, string> = {
  SYN_SENT: 'nf_conntrack_tcp_timeout_syn_sent',
  SYN_SENT2: 'nf_conntrack_tcp_timeout_syn_sent',
  SYN_RECV: 'nf_conntrack_tcp_timeout_syn_recv',
  ESTABLISHED: 'nf_conntrack_tcp_timeout_established',
  FIN_WAIT: 'nf_conntrack_tcp_timeout_fin_wait',
  CLOSE_WAIT: 'nf_conntrack_tcp_timeout_close_wait',
  LAST_ACK: 'nf_conntrack_tcp_timeout_last_ack',
  TIME_WAIT: 'nf_conntrack_tcp_timeout_time_wait',
  CLOSE: 'nf_conntrack_tcp_timeout_close',
};

export interface ConntrackRow extends SocketRow {
  /** No reply seen yet ([UNREPLIED]): a half-open flow as the firewall sees it. */
  unreplied: boolean;
  /** Seconds before the entry expires; absent where none is printed (offloaded entries). */
  secondsToExpiry?: number;
}

export interface ConntrackParseResult extends ParseResult<ConntrackRow> {
  /** Set when conntrack -L's trailer counts more entries than the text holds: what to tell the user. */
  missingEntries?: string;
}

const TRAILER = /^conntrack v\S+ \(conntrack-tools\): (\d+) flow entries have been shown/;

/**
 * Conntrack text → TCP rows, other protocols skipped. `timeouts` (nf_conntrack_tcp_timeout_*, in
 * seconds) turn the seconds left into the time since the last packet. A damaged entry is a problem
 * (1-based line number); a `conntrack -L` trailer counting more entries than the text holds sets
 * `missingEntries`.
 * Throws UnusableInputError only when nothing in the text is conntrack's.
 */
export function parseConntrack(text: string, timeouts: ConntrackTimeouts = {}): ConntrackParseResult {
  const rows: ConntrackRow[] = [];
  const problems: ParseProblem[] = [];
  let entries = 0;
  let shown = 0;
  let trailerLine = 0;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]?.startsWith('#')) return;
    const trailer = TRAILER.exec(line.trim());
    if (trailer) {
      // Two runs captured together (`conntrack -L; conntrack -L -f ipv6`) print two trailers.
      shown += Number(trailer[1]);
      trailerLine ||= index + 1;
      return;
    }
    // With the /proc prefix (`ipv4 2 tcp 6 …`) or without it (`tcp 6 …`, conntrack -L).
    const at = fields[0] === 'ipv4' || fields[0] === 'ipv6' ? 2 : 0;
    if (!/^[a-z0-9]+$/.test(fields[at] ?? '') || !/^\d+$/.test(fields[at + 1] ?? '')) return; // not an entry line
    entries++;
    if (fields[at] !== 'tcp') return; // udp, icmp… are not TCP sessions
    const result = parseTcpEntry(fields.slice(at + 2), fields[0] === 'ipv6', timeouts);
    if (typeof result === 'string') problems.push({ line: index + 1, message: result });
    else rows.push(result);
  });
  if (entries === 0 && trailerLine === 0 && lines.some((l) => l.trim() !== '' && !l.startsWith('#'))) throw new UnusableInputError('no conntrack entries');
  const result: ConntrackParseResult = { rows, problems };
  // Rows are missing, not damaged: a notice of its own, not a malformed line.
  if (entries < shown) {
    const missing = shown - entries;
    result.missingEntries = `line ${trailerLine}: conntrack says ${shown} flow entries were shown, but the text holds ${entries}: ${missing} ${missing === 1 ? 'is' : 'are'} missing (filtered out, e.g. by grep, or the capture was cut)`;
  }
  return result;
}

// Conntrack's TCP state words are upper case (tcp_conntrack_names); tuples are key=value.
const STATE_WORD = /^[A-Z][A-Z0-9_]*$/;

function parseTcpEntry(fields: string[], ipv6: boolean, timeouts: ConntrackTimeouts): ConntrackRow | string {
  let next = 0;
  const secondsText = /^\d+$/.test(fields[next] ?? '') ? fields[next++] : undefined;
  const stateWord = STATE_WORD.test(fields[next] ?? '') ? fields[next++] : undefined;
  if (secondsText === undefined && stateWord === undefined && !fields[next]?.includes('=')) return `bad expiry "${fields[next] ?? ''}"`;
  const rest = fields.slice(next);
  const original: Record<string, string> = {};
  for (const field of rest) {
    const eq = field.indexOf('=');
    if (eq < 0) continue;
    const name = field.slice(0, eq);
    if (name in original) break; // the reply tuple starts: the original one is complete
    original[name] = field.slice(eq + 1);
  }
  const { src, dst, sport, dport } = original;
  if (src === undefined || dst === undefined || sport === undefined || dport === undefined) return 'truncated entry: no complete original tuple';
  const local = parseAddressText(src);
  const remote = parseAddressText(dst);
  if (local === undefined || remote === undefined) return `bad address "${local === undefined ? src : dst}"`;
  const localPort = parsePortText(sport);
  const remotePort = parsePortText(dport);
  if (localPort === undefined || remotePort === undefined || sport === '*' || dport === '*') return `bad port "${localPort === undefined ? sport : dport}"`;
  const offload = rest.includes('[HW_OFFLOAD]') ? 'hardware' : rest.includes('[OFFLOAD]') ? 'software' : undefined;
  let mapped;
  if (stateWord !== undefined) mapped = mapState('conntrack', stateWord);
  // Only established flows are offloaded (nft_flow_offload and act_ct take a TCP flow only once
  // conntrack has it ESTABLISHED and ASSURED, and hand it back on FIN or RST), and the entry's
  // state stays ESTABLISHED while it is: the flag stands for the state word it replaces.
  else if (offload) mapped = { state: TcpState.ESTABLISHED, rawState: offload === 'hardware' ? '[HW_OFFLOAD]' : '[OFFLOAD]' };
  else return 'no state: neither a state word nor [OFFLOAD]';
  const row: ConntrackRow = {
    protocol: ipv6 || src.includes(':') ? 'tcp6' : 'tcp',
    local: { address: local, port: localPort },
    remote: { address: remote, port: remotePort },
    state: mapped.state,
    rawState: mapped.rawState,
    unreplied: rest.includes('[UNREPLIED]'),
  };
  if (offload) row.offload = offload;
  if (secondsText !== undefined) row.secondsToExpiry = Number(secondsText);
  const timeout = stateWord === undefined ? undefined : timeouts[stateWord];
  // A remaining time above the state's timeout means another timeout applied (unacknowledged
  // data, max_retrans): then the time since the last packet is not known. An offloaded flow's
  // packets do not touch the entry at all.
  if (timeout !== undefined && row.secondsToExpiry !== undefined && row.secondsToExpiry <= timeout && !offload) {
    const agoMs = (timeout - row.secondsToExpiry) * 1000;
    // conntrack sees packets, not data: any packet either way is activity, and a packet is the
    // only thing that changes a conntrack state, so the state is at least this old.
    row.activity = { lastSendAgoMs: agoMs, lastReceiveAgoMs: agoMs, lastPeerSegmentAgoMs: agoMs, lastPacketAgoMs: agoMs };
  }
  const bytes = rest.filter((f) => f.startsWith('bytes=')).map((f) => Number(f.slice(6)));
  if (bytes.length === 2) {
    row.bytesSent = bytes[0]!;
    row.bytesReceived = bytes[1]!;
  }
  return row;
}
