import { numericEndpoint, parseNamedEndpoint, type Endpoint, type Protocol } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketRow, SocketTimer } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { TcpState } from '../../core/tcp-state.js';
import { forEachLine, isBlank, skipBlanks, tokenEnd } from '../../core/text-lines.js';
import { UnusableInputError } from '../unusable-input.js';
import { applyTcpInfo } from './tcp-info.js';
import { plural } from '../../core/plural.js';

// iproute2 `ss -tanoie[H]` output: one state line per socket
//   STATE RECV-Q SEND-Q LOCAL PEER [timer:(on,7.644ms,7)] [uid:N] ino:N sk:… [v6only:1] <->
// then, with -i, an indented tcp_info line (`\t ts sack … lastsnd:N lastrcv:N lastack:N …`).
// `ss -a` without -t adds a Netid column; only its tcp rows are kept.

export interface SsParseOptions {
  /**
   * Host uptime: `last*` values above it cannot be real (docs/tcp-facts.md#tcp_info-through-ss--tanoi: SYN-SENT prints
   * jiffies minus an unset timestamp, e.g. lastsnd:4294938568).
   */
  uptimeMs?: number;
}

const NETIDS = new Set(['tcp', 'udp', 'raw', 'u_str', 'u_dgr', 'u_seq', 'nl', 'p_raw', 'p_dgr', 'v_str', 'v_dgr', 'xdp', 'mptcp', 'sctp', 'tipc', '???']);

export function parseSs(text: string, options: SsParseOptions = {}): ParseResult<SocketRow> {
  const parser = new SsParser(options);
  forEachLine(text, (line) => parser.line(line));
  return parser.finish();
}

/**
 * The same parse, a line at a time, so the ss source can parse while ss is still writing (the two
 * run on separate cores) instead of holding 60 MB of text for 100,000 sockets first.
 */
export class SsParser {
  private readonly rows: SocketRow[] = [];
  private readonly problems: ParseProblem[] = [];
  private readonly wildcards: WildcardEvidence = { stars: [], newStyle: false, oldStyle: false, v6AnyPorts: new Set(), mappedPorts: new Set() };
  private current: SocketRow | undefined;
  private recognised = 0;
  /** Rows of other protocols in `ss -a` output (a Netid column): tcp's part of it may be missing. */
  private otherNetidRows = 0;
  private lineNumber = 0;

  constructor(private readonly options: SsParseOptions = {}) {}

  line(line: string): void {
    this.lineNumber++;
    const first = line.charCodeAt(0);
    if (first === 9 || first === 32) {
      // tcp_info continuation: belongs to the socket just above, whatever it was (tcp or not).
      if (this.current) applyInfoLine(this.current, line, this.options);
      return;
    }
    if (first === 35 /* # */) return;
    let start = skipBlanks(line, 0);
    if (start === line.length) return;
    this.current = undefined;
    let end = tokenEnd(line, start);
    let word = line.slice(start, end);
    if (word === 'State' || word === 'Netid') {
      this.recognised++;
      // The Process column heading came with iproute2 5.4, long after `*` became IPv6's.
      if (line.includes('Process')) this.wildcards.newStyle = true;
      return;
    }
    if (NETIDS.has(word)) {
      this.recognised++;
      if (word !== 'tcp') {
        this.otherNetidRows++;
        return;
      }
      start = skipBlanks(line, end);
      end = tokenEnd(line, start);
      word = line.slice(start, end);
    }
    const result = parseStateLine(line, word, end, this.wildcards);
    if (typeof result === 'string') {
      this.problems.push({ line: this.lineNumber, message: result });
      return;
    }
    this.recognised++;
    this.current = result;
    this.rows.push(result);
  }

  finish(): ParseResult<SocketRow> {
    resolveStarWildcards(this.wildcards);
    if (this.recognised === 0 && this.problems.length > 0) {
      throw new UnusableInputError(`not ss output (line ${this.problems[0]?.line}: ${this.problems[0]?.message})`);
    }
    // `ss -a` lists every protocol, tcp among the last: other protocols' rows and no tcp row is a
    // capture cut before its tcp part, or one of other protocols only (-u, -x); neither is an empty table.
    if (this.otherNetidRows > 0 && this.rows.length === 0 && this.problems.length === 0) {
      throw new UnusableInputError(`${plural(this.otherNetidRows, 'row')} of other protocols and no tcp row: the tcp part of the table is not in it (cut before it, or captured without -t)`);
    }
    return { rows: this.rows, problems: this.problems };
  }
}

// The state line is read by index, without splitting it or matching regular expressions: at
// 100,000 sockets the parse runs beside ss on the other core and must keep up with it.

/** The value of the decimal digits in line[from, to), or -1 when there are none or anything else. */
function digitsValue(line: string, from: number, to: number): number {
  if (from >= to) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = line.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** The row of a state line, or what is wrong with it; what it shows of ss's wildcards goes to `wildcards`. */
function parseStateLine(line: string, stateWord: string, from: number, wildcards: WildcardEvidence): SocketRow | string {
  // STATE RECV-Q SEND-Q LOCAL PEER: four more fields after the state word.
  const starts = [0, 0, 0, 0];
  const ends = [0, 0, 0, 0];
  let at = from;
  for (let field = 0; field < 4; field++) {
    starts[field] = skipBlanks(line, at);
    if (starts[field] === line.length) return `truncated row: ${plural(field + 1, 'field')}, at least 5 expected`;
    at = ends[field] = tokenEnd(line, starts[field]!);
  }
  const receiveQueue = digitsValue(line, starts[0]!, ends[0]!);
  const sendQueue = digitsValue(line, starts[1]!, ends[1]!);
  if (receiveQueue < 0 || sendQueue < 0) return `bad queue columns "${line.slice(starts[0], ends[0])} ${line.slice(starts[1], ends[1])}"`;
  const localText = line.slice(starts[2], ends[2]);
  const remoteText = line.slice(starts[3], ends[3]);
  const protocol: Protocol = isIpv6Text(localText) ? 'tcp6' : 'tcp';
  const local = endpointOf(localText, protocol);
  const remote = endpointOf(remoteText, protocol);
  if (!local) return `bad local address "${localText}"`;
  if (!remote) return `bad peer address "${remoteText}"`;
  const { state, rawState } = mapState('ss', stateWord);
  const row: SocketRow = {
    protocol,
    local,
    remote,
    state,
    rawState,
    receiveQueue,
    sendQueue,
  };
  // For a listener, sock_diag reports the accept queue in Recv-Q and its limit in Send-Q
  // (inet_diag: sk_ack_backlog / sk_max_ack_backlog); /proc/net/tcp and netstat print no limit.
  if (state === TcpState.LISTEN) row.acceptBacklog = sendQueue;
  let uid: number | undefined;
  let v6only = false;
  for (let start = skipBlanks(line, at); start < line.length; start = skipBlanks(line, at)) {
    at = tokenEnd(line, start);
    switch (line.charCodeAt(start)) {
      case 116 /* t */:
        if (line.startsWith('timer:(', start) && !row.timer) applyTimer(row, line.slice(start + 7, at));
        break;
      case 105 /* i */:
        if (line.startsWith('ino:', start) && row.inode === undefined) {
          const inode = leadingDigits(line, start + 4);
          if (inode >= 0) row.inode = inode;
        }
        break;
      case 117 /* u */:
        if (line.startsWith('uid:', start) && uid === undefined) {
          const value = leadingDigits(line, start + 4);
          if (value >= 0) uid = value;
        } else if (line.startsWith('users:((', start) && row.pid === undefined) {
          // A process name may hold blanks: read it from the line, not from the token.
          const user = /^users:\(\("((?:[^"\\]|\\.)*)",pid=(\d+)/.exec(line.slice(start));
          if (user) {
            row.process = user[1];
            row.pid = Number(user[2]);
          }
        }
        break;
      case 118 /* v */:
        // Printed (with -e) for AF_INET6 sockets only, whatever its value.
        if (line.startsWith('v6only:', start)) v6only = true;
        break;
    }
  }
  // ss prints uid only when it is not 0.
  if (row.inode !== undefined || uid !== undefined) row.uid = uid ?? 0;
  noteWildcards(wildcards, row, localText, remoteText, v6only);
  return row;
}

/** `timer:(on,7.644ms,7)` without its `timer:(` */
function applyTimer(row: SocketRow, text: string): void {
  const match = /^(\w+),([^,]*),(\d+)\)/.exec(text);
  if (!match) return;
  row.timer = { name: timerName(match[1] ?? ''), remainingMs: parseSsTimerMs(match[2] ?? '') };
  // For a request socket (SYN-RECV) this count is SYN/ACK retransmissions, see kernel-dwell.ts.
  row.retransmits = Number(match[3]);
}

/** The decimal number at line[from…], or -1 when no digit is there. */
function leadingDigits(line: string, from: number): number {
  let value = -1;
  for (let digit = line.charCodeAt(from) - 48; digit >= 0 && digit <= 9; digit = line.charCodeAt(++from) - 48) value = (value < 0 ? 0 : value * 10) + digit;
  return value;
}

/** `[::1]:22`, `*:22` (taken as IPv6 until resolveStarWildcards decides), or old ss's bare `::1:22`. */
function isIpv6Text(text: string): boolean {
  const first = text.charCodeAt(0);
  return first === 91 /* [ */ || first === 42 /* * */ || text.indexOf(':') !== text.lastIndexOf(':');
}

/**
 * How the ss that printed a table writes the unspecified address (misc/ss.c inet_addr_print):
 *   before iproute2 4.14: IPv4 any is `*`, IPv6 any `::` (bare before 4.13: `:::22`; `[::]` in 4.13
 *     and in CentOS 7's 4.11), so `*:22 *:*` is an IPv4 listener;
 *   since 4.14 (commit 1267c0b9, "Distinguish between IPv4 and IPv6 wildcard sockets"): IPv4 any is
 *     `0.0.0.0`, `[::]` an IPV6_V6ONLY socket, and `*` a dual-stack IPv6 one, so the very same
 *     `*:22 *:*` is an IPv6 listener (`-e` adds `v6only:0`). 4.13 alone printed `*` for both.
 * What each row shows of its table's ss is gathered here, and the `*` rows decided at the end.
 */
interface WildcardEvidence {
  /** Rows printed as `*:P`, with what they say of themselves. */
  stars: { row: SocketRow; v6only: boolean; peer: Protocol | undefined }[];
  /** Only ss ≥ 4.14 prints this: a `0.0.0.0`, a `Process` heading, an IPv6 socket's any-peer as `*`. */
  newStyle: boolean;
  /** Only ss < 4.14 prints this: an IPv4 socket's any-peer as `*`, an IPv6 address without brackets. */
  oldStyle: boolean;
  /** Ports of `[::]:P` / `:::P` rows. */
  v6AnyPorts: Set<number>;
  /** Ports of IPv4-mapped local addresses: connections an IPv6 socket accepted. */
  mappedPorts: Set<number>;
}

function noteWildcards(wildcards: WildcardEvidence, row: SocketRow, localText: string, remoteText: string, v6only: boolean): void {
  const peerStar = remoteText.charCodeAt(0) === 42; /* * */
  if (localText.charCodeAt(0) === 42 /* * */) {
    wildcards.stars.push({ row, v6only, peer: peerStar || !remoteText.includes(':') ? undefined : isIpv6Text(remoteText) ? 'tcp6' : 'tcp' });
    return;
  }
  if (localText.startsWith('0.0.0.0:') || remoteText.startsWith('0.0.0.0:')) wildcards.newStyle = true;
  if (row.protocol === 'tcp6') {
    if (localText.charCodeAt(0) !== 91 /* [ */) wildcards.oldStyle = true;
    // An IPv6 socket's unspecified peer is `[::]` / `::` in old ss, and in new ss too when it is v6only.
    if (peerStar) wildcards.newStyle = true;
    if (row.local.address === '::') wildcards.v6AnyPorts.add(row.local.port);
    else if (/^\[?::ffff:/i.test(localText)) wildcards.mappedPorts.add(row.local.port);
  } else if (peerStar && /^\d+\.\d+\.\d+\.\d+:/.test(localText)) {
    wildcards.oldStyle = true; // new ss prints an IPv4 socket's unspecified peer as 0.0.0.0:*
  }
}

/**
 * Decides each `*:P` row from its own evidence first, then its port's, then its table's: `v6only:`
 * or an IPv6 peer ⇒ IPv6; a `[::]:P` on the same port ⇒ old ss's IPv4 (a dual-stack `*` and a
 * `[::]` cannot share a port); IPv4-mapped connections on P ⇒ an IPv6 listener; else the table's
 * style. With no evidence at all (or both styles, as in concatenated captures) the row is read as
 * old ss's IPv4 any: `ss -tan` from 4.14 on prints `0.0.0.0` on any host with an IPv4 listener.
 */
function resolveStarWildcards(wildcards: WildcardEvidence): void {
  for (const { row, v6only, peer } of wildcards.stars) {
    const ipv6 =
      v6only || peer === 'tcp6' ? true : peer === 'tcp' || wildcards.v6AnyPorts.has(row.local.port) ? false : wildcards.mappedPorts.has(row.local.port) || (wildcards.newStyle && !wildcards.oldStyle);
    if (ipv6) continue;
    row.protocol = 'tcp';
    row.local = { address: '0.0.0.0', port: row.local.port };
    if (row.remote.address === '::') row.remote = { address: '0.0.0.0', port: row.remote.port };
  }
}

// `*` is the unspecified address of the row's family (IPv6 until resolveStarWildcards decides).
// Names (ss without -n) take the general path.
function endpointOf(text: string, protocol: Protocol): Endpoint | undefined {
  const any = protocol === 'tcp6' ? '::' : '0.0.0.0';
  const numeric = numericEndpoint(text, any);
  if (numeric) return numeric;
  const named = parseNamedEndpoint(text);
  return named && { address: named.wildcard ? any : named.address, port: named.port };
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

/** Where the last numberAt ended: a second return value without an object per field. */
let numberEnd = 0;

/**
 * The number at line[from…] (digits and one decimal point, as ss prints them), NaN when none;
 * numberEnd tells where it ended. Read from the characters: slicing each into a string for
 * Number() would allocate per field.
 */
function numberAt(line: string, from: number): number {
  let digits = 0;
  let scale = 1;
  let end = from;
  let seenPoint = false;
  for (; ; end++) {
    const code = line.charCodeAt(end);
    if (code >= 48 && code <= 57) {
      digits = digits * 10 + (code - 48);
      if (seenPoint) scale *= 10;
    } else if (code === 46 && !seenPoint) seenPoint = true;
    else break;
  }
  numberEnd = end;
  if (end === from || (seenPoint && end === from + 1)) return NaN;
  // One division of exact integers: the same double as Number() of the text.
  return digits / scale;
}

/**
 * Where the value of ` key:` starts in a tcp_info line, or -1. One native indexOf per wanted key
 * (measured: twice as fast as walking the ~30 fields, as the line is padded with hundreds of blanks).
 */
function valueStart(line: string, key: string): number {
  let at = line.indexOf(key);
  while (at > 0 && !isBlank(line.charCodeAt(at - 1))) at = line.indexOf(key, at + 1);
  return at < 0 ? -1 : at + key.length;
}

function infoNumber(line: string, key: string): number | undefined {
  const at = valueStart(line, key);
  const value = at < 0 ? NaN : numberAt(line, at);
  return Number.isNaN(value) ? undefined : value;
}

/** The second number of a `key:A/B` pair (rtt:SRTT/RTTVAR, retrans:UNACKED/TOTAL). */
function infoSecond(line: string, key: string): number | undefined {
  const at = valueStart(line, key);
  if (at < 0 || Number.isNaN(numberAt(line, at)) || line.charCodeAt(numberEnd) !== 47 /* / */) return undefined;
  const value = numberAt(line, numberEnd + 1);
  return Number.isNaN(value) ? undefined : value;
}

/**
 * Whether a continuation line is ss's tcp_info block. ss prints each counter only when it is not 0
 * (tcp_show_info in iproute2's misc/ss.c: `if (s->lastsnd) out(" lastsnd:%u", …)`, likewise
 * lastrcv, lastack, backoff, retrans, unacked, lost, bytes_acked, bytes_received), so inside the
 * block an absent counter is a 0, not an unknown. Every tcp_info block has `cwnd:` (a listener's
 * is only `bbr cwnd:10`) or `rto:`/`mss:`; a continuation line with none of them (`-m` skmem alone,
 * the blank line under a request socket) is no tcp_info and proves nothing.
 */
function isTcpInfoLine(line: string): boolean {
  return valueStart(line, 'cwnd:') >= 0 || valueStart(line, 'rto:') >= 0 || valueStart(line, 'mss:') >= 0;
}

function applyInfoLine(row: SocketRow, line: string, options: SsParseOptions): void {
  if (!isTcpInfoLine(line)) return;
  // rtt:0 means "no sample yet" (tcpi_rtt is 0 until the first RTT measure), not 0 ms: ss prints none then.
  // Absent last* means 0 ms ago: on a busy one-way stream the sending end prints only lastrcv (old)
  // and the receiving end only lastsnd; reading "absent" as "unknown" made both look idle.
  applyTcpInfo(
    row,
    {
      rtoMs: infoNumber(line, 'rto:'),
      rttMs: infoNumber(line, 'rtt:'),
      rttVarMs: infoSecond(line, 'rtt:'),
      totalRetransmits: infoSecond(line, 'retrans:') ?? 0,
      backoff: infoNumber(line, 'backoff:') ?? 0,
      unacked: infoNumber(line, 'unacked:') ?? 0,
      lost: infoNumber(line, 'lost:') ?? 0,
      bytesSent: infoNumber(line, 'bytes_acked:') ?? 0,
      bytesReceived: infoNumber(line, 'bytes_received:') ?? 0,
      lastDataSentMs: infoNumber(line, 'lastsnd:') ?? 0,
      lastDataRecvMs: infoNumber(line, 'lastrcv:') ?? 0,
      lastAckRecvMs: infoNumber(line, 'lastack:') ?? 0,
    },
    options.uptimeMs,
  );
}
