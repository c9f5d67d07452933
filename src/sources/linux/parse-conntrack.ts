import { normalizeAddress } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketRow } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { UnusableInputError } from '../unusable-input.js';

// /proc/net/nf_conntrack (and `conntrack -L`): the firewall's session table.
//   ipv4 2 tcp 6 117 SYN_SENT src=A dst=B sport=P dport=Q [UNREPLIED] src=B dst=A sport=Q dport=P [ASSURED] mark=0 zone=0 use=2
// The number after `6` is the seconds left before the entry expires. Every packet of the flow
// resets it to the timeout of the entry's state, so timeout − left = seconds since the last packet.

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
  secondsToExpiry: number;
}

export function parseConntrack(text: string, timeouts: ConntrackTimeouts = {}): ParseResult<ConntrackRow> {
  const rows: ConntrackRow[] = [];
  const problems: ParseProblem[] = [];
  let sawEntry = false;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]?.startsWith('#')) return;
    // With the /proc prefix (`ipv4 2 tcp 6 …`) or without it (`tcp 6 …`, conntrack -L).
    const at = fields[0] === 'ipv4' || fields[0] === 'ipv6' ? 2 : 0;
    if (!/^[a-z0-9]+$/.test(fields[at] ?? '') || !/^\d+$/.test(fields[at + 1] ?? '')) return; // not an entry line
    sawEntry = true;
    if (fields[at] !== 'tcp') return; // udp, icmp… are not TCP sessions
    const result = parseTcpEntry(fields.slice(at + 2), fields[0] === 'ipv6', timeouts);
    if (typeof result === 'string') problems.push({ line: index + 1, message: result });
    else rows.push(result);
  });
  if (!sawEntry && lines.some((l) => l.trim() !== '' && !l.startsWith('#'))) throw new UnusableInputError('no conntrack entries');
  return { rows, problems };
}

function parseTcpEntry(fields: string[], ipv6: boolean, timeouts: ConntrackTimeouts): ConntrackRow | string {
  const [secondsText = '', stateWord = '', ...rest] = fields;
  if (!/^\d+$/.test(secondsText)) return `bad expiry "${secondsText}"`;
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
  const mapped = mapState('conntrack', stateWord);
  const secondsToExpiry = Number(secondsText);
  const row: ConntrackRow = {
    protocol: ipv6 || src.includes(':') ? 'tcp6' : 'tcp',
    local: { address: normalizeAddress(src), port: Number(sport) },
    remote: { address: normalizeAddress(dst), port: Number(dport) },
    state: mapped.state,
    rawState: mapped.rawState,
    unreplied: rest.includes('[UNREPLIED]'),
    secondsToExpiry,
  };
  const timeout = timeouts[stateWord];
  // A remaining time above the state's timeout means another timeout applied (unacknowledged
  // data, max_retrans): then the time since the last packet is not known.
  if (timeout !== undefined && secondsToExpiry <= timeout) {
    const agoMs = (timeout - secondsToExpiry) * 1000;
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
