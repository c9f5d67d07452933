import { parseNamedEndpoint, type Endpoint, type Protocol } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketActivity, SocketRow, SocketTimer } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { TcpState } from '../../core/tcp-state.js';
import { UnusableInputError } from '../unusable-input.js';

// iproute2 `ss -tanoie[H]` output: one state line per socket
//   STATE RECV-Q SEND-Q LOCAL PEER [timer:(on,7.644ms,7)] [uid:N] ino:N sk:… [v6only:1] <->
// then, with -i, an indented tcp_info line (`\t ts sack … lastsnd:N lastrcv:N lastack:N …`).
// `ss -a` without -t adds a Netid column; only its tcp rows are kept.

export interface SsParseOptions {
  /**
   * Host uptime: `last*` values above it cannot be real (field notes §5: SYN-SENT prints
   * jiffies minus an unset timestamp, e.g. lastsnd:4294938568).
   */
  uptimeMs?: number;
}

// No data can have flowed in these states, so the kernel's last* stamps are unset there.
const NO_DATA_STATES: ReadonlySet<string> = new Set([TcpState.SYN_SENT, TcpState.SYN_RECEIVED, TcpState.LISTEN, TcpState.CLOSED]);

const NETIDS = new Set(['tcp', 'udp', 'raw', 'u_str', 'u_dgr', 'u_seq', 'nl', 'p_raw', 'p_dgr', 'v_str', 'v_dgr', 'xdp', 'mptcp', 'sctp', 'tipc', '???']);

export function parseSs(text: string, options: SsParseOptions = {}): ParseResult<SocketRow> {
  const parser = new SsParser(options);
  let start = 0;
  for (let end = text.indexOf('\n'); start <= text.length; end = text.indexOf('\n', start)) {
    const stop = end < 0 ? text.length : end;
    parser.line(text.charCodeAt(stop - 1) === 13 ? text.slice(start, stop - 1) : text.slice(start, stop));
    if (end < 0) break;
    start = end + 1;
  }
  return parser.finish();
}

/**
 * The same parse, a line at a time, so the ss source can parse while ss is still writing (the two
 * run on separate cores) instead of holding 60 MB of text for 100,000 sockets first.
 */
export class SsParser {
  private readonly rows: SocketRow[] = [];
  private readonly problems: ParseProblem[] = [];
  private readonly starListeners: SocketRow[] = [];
  private current: SocketRow | undefined;
  private recognised = 0;
  private lineNumber = 0;

  constructor(private readonly options: SsParseOptions = {}) {}

  line(line: string): void {
    this.lineNumber++;
    const first = line.charCodeAt(0);
    if (first === 9 || first === 32) {
      // tcp_info continuation: belongs to the socket just above, whatever it was (tcp or not).
      if (this.current && line.trim() !== '') applyInfoLine(this.current, line, this.options);
      return;
    }
    if (line === '' || first === 35 /* # */ || line.trim() === '') return;
    this.current = undefined;
    const tokens = line.trim().split(/\s+/);
    if (tokens[0] === 'State' || tokens[0] === 'Netid') {
      this.recognised++;
      return;
    }
    if (NETIDS.has(tokens[0] ?? '')) {
      this.recognised++;
      if (tokens[0] !== 'tcp') return;
      tokens.shift();
    }
    const result = parseStateLine(tokens, line);
    if (typeof result === 'string') {
      this.problems.push({ line: this.lineNumber, message: result });
      return;
    }
    this.recognised++;
    this.current = result;
    this.rows.push(result);
    if (tokens[3]?.startsWith('*:')) this.starListeners.push(result);
  }

  finish(): ParseResult<SocketRow> {
    reclaimIpv4Wildcards(this.rows, this.starListeners);
    if (this.recognised === 0 && this.problems.length > 0) {
      throw new UnusableInputError(`not ss output (line ${this.problems[0]?.line}: ${this.problems[0]?.message})`);
    }
    return { rows: this.rows, problems: this.problems };
  }
}

function parseStateLine(tokens: string[], line: string): SocketRow | string {
  if (tokens.length < 5) return `truncated row: ${tokens.length} fields, at least 5 expected`;
  const [stateWord = '', recvQ = '', sendQ = '', localText = '', remoteText = ''] = tokens;
  if (!/^\d+$/.test(recvQ) || !/^\d+$/.test(sendQ)) return `bad queue columns "${recvQ} ${sendQ}"`;
  const local = parseNamedEndpoint(localText);
  const remote = parseNamedEndpoint(remoteText);
  if (!local) return `bad local address "${localText}"`;
  if (!remote) return `bad peer address "${remoteText}"`;
  const protocol: Protocol = isIpv6Text(localText) ? 'tcp6' : 'tcp';
  const { state, rawState } = mapState('ss', stateWord);
  const row: SocketRow = {
    protocol,
    local: wildcardToAny(local, protocol),
    remote: wildcardToAny(remote, protocol),
    state,
    rawState,
    receiveQueue: Number(recvQ),
    sendQueue: Number(sendQ),
  };
  const rest = tokens.slice(5).join(' ');
  const timer = /timer:\((\w+),([^,]*),(\d+)\)/.exec(rest);
  if (timer) {
    row.timer = { name: timerName(timer[1] ?? ''), remainingMs: parseSsTimerMs(timer[2] ?? '') };
    // For a request socket (SYN-RECV) this count is SYN/ACK retransmissions, see kernel-dwell.ts.
    row.retransmits = Number(timer[3]);
  }
  const inode = /(?:^|\s)ino:(\d+)/.exec(rest);
  if (inode) row.inode = Number(inode[1]);
  // ss prints uid only when it is not 0.
  const uid = /(?:^|\s)uid:(\d+)/.exec(rest);
  if (inode || uid) row.uid = uid ? Number(uid[1]) : 0;
  const user = /users:\(\("((?:[^"\\]|\\.)*)",pid=(\d+)/.exec(line);
  if (user) {
    row.process = user[1];
    row.pid = Number(user[2]);
  }
  return row;
}

function isIpv6Text(text: string): boolean {
  return text.startsWith('[') || text.startsWith('*');
}

/**
 * Old ss (iproute2 3.x, CentOS 7) printed IPv4 INADDR_ANY as `*`, where today's ss means a dual-stack
 * IPv6 socket. A `*:P` beside a `[::]:P` on the same port cannot be dual-stack (the two would
 * collide), so it is the IPv4 one.
 */
function reclaimIpv4Wildcards(rows: SocketRow[], starRows: readonly SocketRow[]): void {
  if (starRows.length === 0) return;
  const v6Ports = new Set(rows.filter((r) => !starRows.includes(r) && r.local.address === '::').map((r) => r.local.port));
  for (const row of starRows) {
    if (!v6Ports.has(row.local.port)) continue;
    row.protocol = 'tcp';
    row.local = { address: '0.0.0.0', port: row.local.port };
    if (row.remote.address === '::') row.remote = { address: '0.0.0.0', port: row.remote.port };
  }
}

// `*` is a dual-stack IPv6 socket bound to any address.
function wildcardToAny(endpoint: Endpoint & { wildcard: boolean }, protocol: Protocol): Endpoint {
  return { address: endpoint.wildcard ? (protocol === 'tcp6' ? '::' : '0.0.0.0') : endpoint.address, port: endpoint.port };
}

function timerName(word: string): SocketTimer['name'] {
  return word === 'on' || word === 'keepalive' || word === 'timewait' || word === 'persist' || word === 'off' ? word : 'other';
}

/**
 * ss's own compact timer format (print_ms_timer in misc/ss.c): `850ms`, `7.644ms` (7 s 644 ms),
 * `12sec`, `1min23sec`, `119min`, and an empty string for 0.
 */
export function parseSsTimerMs(text: string): number {
  const match = /^(?:(\d+)min)?(?:(\d+)(sec|\.))?(?:(\d+)ms)?$/.exec(text);
  if (!match) return 0;
  const [, minutes = '0', seconds = '0', , millis = '0'] = match;
  return (Number(minutes) * 60 + Number(seconds)) * 1000 + Number(millis);
}

/**
 * The number after ` key:` in a tcp_info line, or undefined. A scan with indexOf per wanted key:
 * the line holds ~40 fields and there is one per socket, so splitting it into tokens would dominate.
 */
function infoNumber(line: string, key: string): number | undefined {
  let at = line.indexOf(key);
  while (at > 0 && line.charCodeAt(at - 1) !== 32 && line.charCodeAt(at - 1) !== 9) at = line.indexOf(key, at + 1);
  return at < 0 ? undefined : leadingNumber(line, at + key.length);
}

function leadingNumber(line: string, from: number): number | undefined {
  let end = from;
  for (let c = line.charCodeAt(end); (c >= 48 && c <= 57) || c === 46; c = line.charCodeAt(++end));
  return end === from ? undefined : Number(line.slice(from, end));
}

/** The second number of a `key:A/B` pair (rtt:SRTT/RTTVAR, retrans:UNACKED/TOTAL). */
function infoSecond(line: string, key: string): number | undefined {
  const at = line.indexOf(key);
  if (at < 0) return undefined;
  const slash = line.indexOf('/', at);
  const space = line.indexOf(' ', at + 1);
  return slash < 0 || (space >= 0 && slash > space) ? undefined : leadingNumber(line, slash + 1);
}

function applyInfoLine(row: SocketRow, line: string, options: SsParseOptions): void {
  const rto = infoNumber(line, 'rto:');
  if (rto !== undefined) row.rtoMs = rto;
  const rtt = infoNumber(line, 'rtt:');
  if (rtt !== undefined) row.rttMs = rtt;
  const rttVar = infoSecond(line, ' rtt:');
  if (rttVar !== undefined) row.rttVarMs = rttVar;
  const totalRetransmits = infoSecond(line, ' retrans:');
  if (totalRetransmits !== undefined) row.totalRetransmits = totalRetransmits;
  const backoff = infoNumber(line, 'backoff:');
  if (backoff !== undefined) row.backoff = backoff;
  const acked = infoNumber(line, 'bytes_acked:');
  if (acked !== undefined) row.bytesSent = acked;
  const received = infoNumber(line, 'bytes_received:');
  if (received !== undefined) row.bytesReceived = received;

  if (NO_DATA_STATES.has(row.state)) return;
  const believable = (value: number | undefined) =>
    value !== undefined && (options.uptimeMs === undefined || value <= options.uptimeMs) ? value : undefined;
  const activity: SocketActivity = {};
  const lastSend = believable(infoNumber(line, 'lastsnd:'));
  const lastReceive = believable(infoNumber(line, 'lastrcv:'));
  const lastAck = believable(infoNumber(line, 'lastack:'));
  if (lastSend !== undefined) activity.lastSendAgoMs = lastSend;
  if (lastReceive !== undefined) activity.lastReceiveAgoMs = lastReceive;
  if (lastAck !== undefined) activity.lastPeerSegmentAgoMs = lastAck;
  if (Object.keys(activity).length > 0) row.activity = activity;
}
