import { formatAddressBytes, parseAddressBytes, type Endpoint, type Protocol } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketActivity, SocketRow, SocketTimer } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { TcpState } from '../../core/tcp-state.js';
import { activityOf, updateActivity, writeActivity, type TcpInfoValues } from './tcp-info.js';

// NETLINK_SOCK_DIAG messages, read from bytes. Layouts from the kernel's uapi headers:
//   linux/netlink.h   struct nlmsghdr (16 bytes: len u32, type u16, flags u16, seq u32, pid u32),
//                     NLMSG_DONE = 3, NLMSG_ERROR = 2 (payload: int error, then the request's header),
//                     NLM_F_REQUEST = 1, NLM_F_DUMP = 0x300, NLM_F_DUMP_INTR = 0x10, 4-byte alignment;
//   linux/sock_diag.h SOCK_DIAG_BY_FAMILY = 20;
//   linux/inet_diag.h struct inet_diag_req_v2 (56 bytes), struct inet_diag_msg (72 bytes), whose
//                     struct inet_diag_sockid has big-endian ports and addresses and a host-order
//                     cookie[2]; attributes (struct rtattr: len u16, type u16) follow the message:
//                     INET_DIAG_INFO = 2 carries struct tcp_info;
//   linux/tcp.h       struct tcp_info, which grows with kernel versions (232 bytes on 6.18): a field
//                     is read only when the attribute the kernel sent is long enough to hold it.
// Header fields are in host byte order (`littleEndian`), ports and addresses in network order.

export const NLMSG_HEADER_BYTES = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_DUMP_INTR = 0x10;
export const SOCK_DIAG_BY_FAMILY = 20;
/** linux/sock_diag.h: end the one socket the request names (net/core/sock_diag.c __sock_diag_cmd). */
export const SOCK_DESTROY = 21;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const INET_DIAG_INFO = 2;
const INET_DIAG_MSG_BYTES = 72;
const INET_DIAG_REQ_V2_BYTES = 56;
export const SOCK_DIAG_REQUEST_BYTES = NLMSG_HEADER_BYTES + INET_DIAG_REQ_V2_BYTES;

// The kernel's state numbers are procfs's (include/net/tcp_states.h), which prints them as two hex
// digits: mapped once through that table for every byte value.
const STATES_BY_NUMBER = Array.from({ length: 256 }, (_, n) => mapState('linux-proc-hex', n.toString(16).toUpperCase().padStart(2, '0')));

/** Every TCP state (bits 1 to 12 of idiag_states). */
export const ALL_TCP_STATES_MASK = 0x1ffe;

/**
 * The idiag_states bit mask asking the kernel for these states only (bit N = kernel state N), so a
 * dump filtered in the kernel returns, say, the stuck states alone. SYN_RECEIVED includes request
 * sockets (TCP_NEW_SYN_RECV).
 */
export function kernelStatesMask(states: Iterable<TcpState>): number {
  const wanted = new Set(states);
  let mask = 0;
  // idiag_states is a u32: states 0 to 31, numbered as procfs's vocabulary table says.
  for (let number = 0; number < 32; number++) {
    const { state } = STATES_BY_NUMBER[number]!;
    if (state !== TcpState.UNKNOWN && wanted.has(state)) mask |= 1 << number;
  }
  return mask >>> 0;
}

export interface SockDiagRequestOptions {
  family: typeof AF_INET | typeof AF_INET6;
  /** idiag_states bit mask (kernelStatesMask), ALL_TCP_STATES_MASK by default. */
  states?: number;
  /** Ask for INET_DIAG_INFO (tcp_info) with each socket. */
  withTcpInfo: boolean;
  sequence: number;
  littleEndian: boolean;
}

/** A dump request of `length` bytes, its nlmsghdr written (NLM_F_REQUEST | NLM_F_DUMP, to the kernel: pid 0), the rest zero. */
function dumpRequest(length: number, type: number, options: { sequence: number; littleEndian: boolean }): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  const le = options.littleEndian;
  view.setUint32(0, length, le);
  view.setUint16(4, type, le);
  view.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, le);
  view.setUint32(8, options.sequence >>> 0, le);
  return { bytes, view };
}

/**
 * One dump request: nlmsghdr (SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP) + inet_diag_req_v2
 * for TCP of one family, every socket id (a zero inet_diag_sockid with no cookie matches all).
 */
export function sockDiagRequest(options: SockDiagRequestOptions): Uint8Array {
  const { bytes, view } = dumpRequest(SOCK_DIAG_REQUEST_BYTES, SOCK_DIAG_BY_FAMILY, options);
  const le = options.littleEndian;
  // inet_diag_req_v2: sdiag_family u8, sdiag_protocol u8, idiag_ext u8 (bit N-1 asks for attribute N), pad u8, idiag_states u32, id.
  bytes[16] = options.family;
  bytes[17] = IPPROTO_TCP;
  bytes[18] = options.withTcpInfo ? 1 << (INET_DIAG_INFO - 1) : 0;
  view.setUint32(20, options.states ?? ALL_TCP_STATES_MASK, le);
  // id.idiag_cookie = INET_DIAG_NOCOOKIE (~0U twice): no socket in particular.
  view.setUint32(16 + 8 + 40, 0xffffffff, le);
  view.setUint32(16 + 8 + 44, 0xffffffff, le);
  return bytes;
}

/**
 * linux/inet_diag.h: the request type of the first inet_diag interface (struct inet_diag_req, 60
 * bytes), still served beside SOCK_DIAG_BY_FAMILY (net/ipv4/inet_diag.c inet_diag_rcv_msg_compat).
 * Its dump runs with sdiag_family AF_UNSPEC (inet_diag_dump_compat), so one walk of the kernel's
 * hash tables lists both families, where two SOCK_DIAG_BY_FAMILY dumps walk them twice: the
 * AF_INET6 walk of a table of IPv4 sockets found nothing and cost 14-19 ms at 95,000 sockets (run
 * by sendto(2) itself, on the calling thread, since no message filled its first batch). Its
 * messages are inet_diag_msg, as the other's, with this nlmsg_type.
 */
export const TCPDIAG_GETSOCK = 18;
const INET_DIAG_REQ_BYTES = 60;
export const TCPDIAG_REQUEST_BYTES = NLMSG_HEADER_BYTES + INET_DIAG_REQ_BYTES;
/** The compat dump (TCPDIAG_GETSOCK) lists every family: AF_UNSPEC in its idiag_family. */
export const AF_UNSPEC = 0;

/**
 * One dump of both families' TCP sockets in one walk (TCPDIAG_GETSOCK, NLM_F_REQUEST | NLM_F_DUMP):
 * nlmsghdr + struct inet_diag_req { u8 idiag_family (AF_UNSPEC), u8 idiag_src_len, u8
 * idiag_dst_len, u8 idiag_ext, struct inet_diag_sockid id (48), u32 idiag_states, u32 idiag_dbs }.
 */
export function tcpDiagRequest(options: Omit<SockDiagRequestOptions, 'family'>): Uint8Array {
  const { bytes, view } = dumpRequest(TCPDIAG_REQUEST_BYTES, TCPDIAG_GETSOCK, options);
  const le = options.littleEndian;
  bytes[16] = AF_UNSPEC;
  bytes[19] = options.withTcpInfo ? 1 << (INET_DIAG_INFO - 1) : 0;
  // id (from byte 20): ports, addresses and interface zero; idiag_cookie = INET_DIAG_NOCOOKIE twice.
  view.setUint32(20 + 40, 0xffffffff, le);
  view.setUint32(20 + 44, 0xffffffff, le);
  view.setUint32(20 + 48, options.states ?? ALL_TCP_STATES_MASK, le);
  return bytes;
}

export interface SockDiagParseOptions {
  littleEndian: boolean;
  /** Host uptime: a tcp_info last* value above it was never set (as in parse-ss.ts). */
  uptimeMs?: number;
  /**
   * The rows of the last dump of the same request, in the order the kernel listed them: a message
   * for one of these sockets (same 4-tuple, cookie and inode) in the same state updates that row
   * in place (only the fields that changed) and hands it back instead of a new row, so a census of
   * 100,000 unchanged connections makes no object per row (issue 15). Callers that keep a row past
   * the next dump see its new values (NetlinkSource passes it only under ReadRequest.reuseRows).
   * Never for SYN_RECEIVED (request-sockets.ts adds procfs's fields to those rows).
   */
  previous?: readonly SocketRow[];
  /** Address texts by address, kept across dumps (bounded); one per parser when not given. */
  names?: AddressNames;
  /**
   * A screened dump (screened-dump.ts): each datagram is handed to it to keep, and each readable
   * message is judged by it before a row is made; a message it leaves out is no row (and no
   * problem). Never with `previous`.
   */
  screening?: MessageScreening;
}

/**
 * What SockDiagParser asks of a screened dump (screened-dump.ts ScreenedDump). `scratch` holds the
 * message's fields that kernelStateAgeMs and the activity counters read (state, queues, timer,
 * retransmits, RTO, backoff, activity) and its endpoints, in one object reused for every message:
 * read it during the call only.
 */
export interface MessageScreening {
  /** The datagram about to be read, kept (copied) for a later pass: its number. */
  retain(bytes: Uint8Array): number;
  /**
   * Whether the message is left out. `scratch` has its endpoints' texts and ports too; `view` at
   * `id` is its struct inet_diag_sockid (its address bytes); `handle` is MESSAGE_HANDLE_SPAN ×
   * the retained datagram's number + the message's offset in it (for SockDiagParser.rowAt).
   */
  leavesOut(scratch: SocketRow, view: DataView, id: number, family: number, handle: number): boolean;
}

/**
 * A message's handle: its retained datagram's number times this, plus its offset (the channel's
 * datagrams are at most 256 KiB, its receive buffer; a screen keeps every message of a larger one,
 * screened-dump.ts). 2^18, not more: a handle stays a small integer (V8's Smi, below 2^30) up to
 * 4,096 datagrams (~400,000 sockets), where 2^24 made every handle past the 64th datagram a heap
 * number, and the parser's optimized code was thrown away and compiled again for it (profiled).
 */
export const MESSAGE_HANDLE_SPAN = 2 ** 18;

/**
 * The text of each address a dump listed (IPv4 by its u32, IPv6 by its four u32s), so a host's few
 * local addresses and its peers are one string each, and a row reused in place is compared by
 * string identity. Bounded: a busy host has few local addresses but may have many peers.
 */
export class AddressNames {
  readonly v4 = new Map<number, string>();
  /** By the address's four u32s in turn: found without building a key (no object per message). */
  readonly v6 = new Map<number, Map<number, Map<number, Map<number, string>>>>();
  /** Texts held in `v6`. */
  v6Count = 0;
  static readonly MAX = 65_536;
}

/** What a dump said besides its rows. */
export interface SockDiagParseResult extends ParseResult<SocketRow> {
  /** NLMSG_DONE arrived: the dump is whole (with no rows, the table is empty). */
  done: boolean;
  /** The kernel ended the dump with NLMSG_ERROR: its errno (positive, e.g. 2 ENOENT, 93 EPROTONOSUPPORT). */
  errno?: number;
  /** NLM_F_DUMP_INTR: the tables changed while being dumped, so the dump may miss or repeat sockets. */
  interrupted: boolean;
}

// idiag_timer (net/ipv4/inet_diag.c inet_sk_diag_fill; ss's tmr_name): 1 retransmit or probe, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe.
const TIMER_NAMES: readonly SocketTimer['name'][] = ['off', 'on', 'keepalive', 'timewait', 'persist'];

// struct tcp_info offsets (linux/tcp.h; checked with offsetof against 6.18's header).
const TI_BACKOFF = 4; // u8 tcpi_backoff
const TI_RTO = 8; // u32 µs
const TI_UNACKED = 24;
const TI_LOST = 32;
const TI_LAST_DATA_SENT = 44; // u32 ms
const TI_LAST_DATA_RECV = 52;
const TI_LAST_ACK_RECV = 56;
const TI_RTT = 68; // u32 µs
const TI_RTTVAR = 72;
const TI_TOTAL_RETRANS = 100;
const TI_BYTES_ACKED = 120; // u64, since 4.1
const TI_BYTES_RECEIVED = 128; // u64, since 4.1

/**
 * Reads the messages of a sock_diag dump, one received datagram at a time (a datagram holds whole
 * messages). Never throws on bytes: a message it cannot read is a problem (its `line` is the
 * message's number in the dump, from 1), and the walk stops at a length that cannot be trusted.
 */
export class SockDiagParser {
  private readonly rows: SocketRow[] = [];
  private readonly problems: ParseProblem[] = [];
  private messageNumber = 0;
  private done = false;
  private interrupted = false;
  private errno: number | undefined;
  private readonly names: AddressNames;
  /** The retained datagram being read and the message's offset in it (options.screening). */
  private datagramNumber = 0;
  private messageAt = 0;
  /** The message's fields for options.screening (MessageScreening.leavesOut), one object for the dump. */
  private readonly scratch: SocketRow = {
    protocol: 'tcp',
    local: { address: '', port: 0 },
    remote: { address: '', port: 0 },
    state: TcpState.UNKNOWN,
    rawState: '',
    sendQueue: undefined,
    receiveQueue: undefined,
    inode: undefined,
    timer: undefined,
    retransmits: undefined,
    rtoMs: undefined,
    backoff: undefined,
    activity: undefined,
  };
  private readonly scratchTimer: SocketTimer = { name: 'off', remainingMs: 0 };
  private readonly scratchActivity: SocketActivity = { lastSendAgoMs: undefined, lastReceiveAgoMs: undefined, lastPeerSegmentAgoMs: undefined, lastPacketAgoMs: undefined };
  /** IPv4 endpoints of this dump by address * 65536 + port (see endpoint). */
  private readonly v4Endpoints = new Map<number, Endpoint>();
  /** Where the walk of `options.previous` is: the row after the last one reused. */
  private cursor = 0;
  private reusedRows = 0;
  /** tcp_info of the message being read: one object for the dump, its values copied into the row at once. */
  private readonly info: TcpInfoValues = {
    rtoMs: undefined,
    rttMs: undefined,
    rttVarMs: undefined,
    totalRetransmits: undefined,
    backoff: undefined,
    unacked: undefined,
    lost: undefined,
    bytesSent: undefined,
    bytesReceived: undefined,
    lastDataSentMs: undefined,
    lastDataRecvMs: undefined,
    lastAckRecvMs: undefined,
  };

  private readonly options: SockDiagParseOptions;

  constructor(options: SockDiagParseOptions) {
    // Every parser's options in one shape (each member present, in this order): the options the
    // callers pass differ in shape, and a second parser of another shape (a screened dump's rows
    // made after the dump, screened-dump.ts finish) made V8 throw away the first one's optimized
    // code for the message walk and compile it again (--trace-deopt: "wrong map").
    this.options = { littleEndian: options.littleEndian, uptimeMs: options.uptimeMs, previous: options.previous, names: options.names, screening: options.screening };
    this.names = options.names ?? new AddressNames();
  }

  /** One datagram's bytes. */
  datagram(bytes: Uint8Array): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = this.options.littleEndian;
    if (this.options.screening) this.datagramNumber = this.options.screening.retain(bytes);
    let at = 0;
    while (at < bytes.byteLength && !this.done) {
      this.messageNumber++;
      if (bytes.byteLength - at < NLMSG_HEADER_BYTES) {
        this.problem(`truncated netlink header: ${bytes.byteLength - at} bytes, 16 expected`);
        return;
      }
      const length = view.getUint32(at, le);
      const type = view.getUint16(at + 4, le);
      const flags = view.getUint16(at + 6, le);
      if (length < NLMSG_HEADER_BYTES || at + length > bytes.byteLength) {
        this.problem(`netlink message length ${length} does not fit the ${bytes.byteLength - at} bytes left`);
        return;
      }
      if (flags & NLM_F_DUMP_INTR) this.interrupted = true;
      if (type === NLMSG_DONE) this.done = true;
      else if (type === NLMSG_ERROR) {
        // struct nlmsgerr: int error (negative errno; 0 is an acknowledgement).
        const error = length >= NLMSG_HEADER_BYTES + 4 ? view.getInt32(at + NLMSG_HEADER_BYTES, le) : -5; /* EIO */
        if (error !== 0) {
          this.errno = -error;
          this.done = true;
        }
      } else if (type === SOCK_DIAG_BY_FAMILY || type === TCPDIAG_GETSOCK) {
        this.messageAt = at;
        const row = this.inetDiagMessage(view, at + NLMSG_HEADER_BYTES, at + length);
        if (typeof row === 'string') this.problem(row);
        else if (row) this.rows.push(row);
      } else {
        this.problem(`unexpected netlink message type ${type}`);
      }
      // NLMSG_ALIGN: the next message starts on a 4-byte boundary.
      at += (length + 3) & ~3;
    }
  }

  /** How many rows of `options.previous` were updated in place and handed back so far. */
  get reused(): number {
    return this.reusedRows;
  }

  finish(): SockDiagParseResult {
    const result: SockDiagParseResult = { rows: this.rows, problems: this.problems, done: this.done, interrupted: this.interrupted };
    if (this.errno !== undefined) result.errno = this.errno;
    return result;
  }

  private problem(message: string): void {
    this.problems.push({ line: this.messageNumber, message });
  }

  /**
   * The row of the message at `at` in `bytes` (a datagram read before, with options.screening or
   * not): what the first reading would have made of it; undefined where it is no readable socket.
   */
  rowAt(bytes: Uint8Array, at: number): SocketRow | undefined {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const length = view.getUint32(at, this.options.littleEndian);
    const row = this.inetDiagMessage(view, at + NLMSG_HEADER_BYTES, at + length);
    return typeof row === 'string' ? undefined : row;
  }

  /** The text of the address at `at` (16 bytes of struct inet_diag_sockid; IPv4 in the first 4), from the names kept. */
  addressText(view: DataView, at: number, family: number): string {
    return this.address(view, at, family);
  }

  /** struct inet_diag_msg at [from, end), then its attributes; undefined when options.screening leaves it out. */
  private inetDiagMessage(view: DataView, from: number, end: number): SocketRow | string | undefined {
    if (end - from < INET_DIAG_MSG_BYTES) return `truncated inet_diag_msg: ${end - from} bytes, ${INET_DIAG_MSG_BYTES} expected`;
    const le = this.options.littleEndian;
    const family = view.getUint8(from);
    if (family !== AF_INET && family !== AF_INET6) return `address family ${family} is neither AF_INET nor AF_INET6`;
    // Attributes: struct rtattr { u16 rta_len (header included), u16 rta_type }, each 4-byte aligned.
    let info = -1;
    let infoEnd = -1;
    for (let at = from + INET_DIAG_MSG_BYTES; at + 4 <= end;) {
      const length = view.getUint16(at, le);
      const type = view.getUint16(at + 2, le);
      if (length < 4 || at + length > end) return `attribute ${type} length ${length} does not fit the ${end - at} bytes left`;
      if (type === INET_DIAG_INFO) {
        info = at + 4;
        infoEnd = at + length;
      }
      at += (length + 3) & ~3;
    }
    const protocol: Protocol = family === AF_INET ? 'tcp' : 'tcp6';
    const stateNumber = view.getUint8(from + 1);
    const { state, rawState } = STATES_BY_NUMBER[stateNumber]!;
    const timerCode = view.getUint8(from + 2);
    const retrans = view.getUint8(from + 3);
    const id = from + 4; // struct inet_diag_sockid
    const boundInterface = view.getUint32(id + 36, le); // idiag_if: sk_bound_dev_if, 0 when unbound
    const cookieLow = view.getUint32(id + 40, le);
    const cookieHigh = view.getUint32(id + 44, le);
    // idiag_expires (ms), idiag_rqueue, idiag_wqueue, idiag_uid, idiag_inode after the 48-byte id.
    const receiveQueue = view.getUint32(from + 56, le);
    const sendQueue = view.getUint32(from + 60, le);
    const uid = view.getUint32(from + 64, le);
    const inode = view.getUint32(from + 68, le);
    const localPort = view.getUint16(id, false);
    const remotePort = view.getUint16(id + 2, false);
    const tcpInfo = info < 0 ? undefined : this.tcpInfo(view, info, infoEnd);
    const localAddress = this.address(view, id + 4, family);
    const remoteAddress = this.address(view, id + 20, family);
    // A screened dump (screened-dump.ts) may leave the message out: no row. In a method of its own,
    // so that this one, which every reading runs for every socket, keeps its size.
    if (
      this.options.screening &&
      this.leftOut(view, from, id, family, protocol, state, rawState, localAddress, localPort, remoteAddress, remotePort, sendQueue, receiveQueue, timerCode, retrans, tcpInfo, inode)
    )
      return undefined;
    if (this.options.previous && state !== TcpState.SYN_RECEIVED) {
      const row = this.previousRow(protocol, localAddress, localPort, remoteAddress, remotePort);
      if (row && row.state === state && row.rawState === rawState && row.inode === inode && sameCookie(row.cookie, cookieLow, cookieHigh)) {
        // The same socket in the same state: its row, with the fields that change set where they did.
        this.reusedRows++;
        if (row.receiveQueue !== receiveQueue) row.receiveQueue = receiveQueue;
        if (row.sendQueue !== sendQueue) row.sendQueue = sendQueue;
        if (row.uid !== uid) row.uid = uid;
        const bound = boundInterface !== 0 ? boundInterface : undefined;
        if (row.boundInterface !== bound) row.boundInterface = bound;
        const backlog = state === TcpState.LISTEN ? sendQueue : undefined;
        if (row.acceptBacklog !== backlog) row.acceptBacklog = backlog;
        if (timerCode !== 0) {
          const name = TIMER_NAMES[timerCode] ?? 'other';
          const remainingMs = view.getUint32(from + 52, le);
          const timer = row.timer;
          if (timer?.name === name) {
            if (timer.remainingMs !== remainingMs) timer.remainingMs = remainingMs;
          } else row.timer = { name, remainingMs };
          if (row.retransmits !== retrans) row.retransmits = retrans;
        } else {
          if (row.timer !== undefined) row.timer = undefined;
          if (row.retransmits !== undefined) row.retransmits = undefined;
        }
        if (row.rtoMs !== tcpInfo?.rtoMs) row.rtoMs = tcpInfo?.rtoMs;
        if (row.rttMs !== tcpInfo?.rttMs) row.rttMs = tcpInfo?.rttMs;
        if (row.rttVarMs !== tcpInfo?.rttVarMs) row.rttVarMs = tcpInfo?.rttVarMs;
        if (row.totalRetransmits !== tcpInfo?.totalRetransmits) row.totalRetransmits = tcpInfo?.totalRetransmits;
        if (row.backoff !== tcpInfo?.backoff) row.backoff = tcpInfo?.backoff;
        if (row.unacked !== tcpInfo?.unacked) row.unacked = tcpInfo?.unacked;
        if (row.lost !== tcpInfo?.lost) row.lost = tcpInfo?.lost;
        if (row.bytesSent !== tcpInfo?.bytesSent) row.bytesSent = tcpInfo?.bytesSent;
        if (row.bytesReceived !== tcpInfo?.bytesReceived) row.bytesReceived = tcpInfo?.bytesReceived;
        const activity = tcpInfo ? updateActivity(row.activity, state, tcpInfo, this.options.uptimeMs) : undefined;
        if (row.activity !== activity) row.activity = activity;
        return row;
      }
    }
    // One object literal with every field, always in this order, the absent ones undefined: V8
    // gives every row one hidden class with all fields inside the object (fields added one by one
    // spilled into a separate property array), and each number field a tagged slot, where a whole
    // number is stored inside the object (a field once given a fraction became a boxed double in
    // every row). Undefined fields read as absent (`?? null` in the JSON, skipped by JSON.stringify).
    const row: SocketRow = {
      protocol,
      local: this.endpoint(view, id + 4, family, localPort, localAddress),
      remote: this.endpoint(view, id + 20, family, remotePort, remoteAddress),
      state,
      rawState,
      receiveQueue,
      sendQueue,
      uid,
      inode,
      // ss -e prints the same cookie as `sk:` in hex.
      cookie: cookieHigh === 0 ? cookieLow.toString(16) : cookieHigh.toString(16) + cookieLow.toString(16).padStart(8, '0'),
      timer: timerCode !== 0 ? { name: TIMER_NAMES[timerCode] ?? 'other', remainingMs: view.getUint32(from + 52, le) } : undefined,
      // As ss shows it: the count beside the timer (for a request socket, its SYN/ACK retransmissions).
      retransmits: timerCode !== 0 ? retrans : undefined,
      rtoMs: tcpInfo?.rtoMs,
      rttMs: tcpInfo?.rttMs,
      rttVarMs: tcpInfo?.rttVarMs,
      totalRetransmits: tcpInfo?.totalRetransmits,
      backoff: tcpInfo?.backoff,
      unacked: tcpInfo?.unacked,
      lost: tcpInfo?.lost,
      bytesSent: tcpInfo?.bytesSent,
      bytesReceived: tcpInfo?.bytesReceived,
      activity: tcpInfo ? activityOf(state, tcpInfo, this.options.uptimeMs) : undefined,
    };
    // Set on the few rows that have them, after the literal: a slot in every row would be 8 bytes
    // a connection each, undefined in nearly all (a heap snapshot at 96,000). A listener is a row
    // of its own shape (few of them); a socket bound to an interface is rare.
    // For a listener the kernel reports the accept queue and its limit (sk_ack_backlog / sk_max_ack_backlog).
    if (state === TcpState.LISTEN) row.acceptBacklog = sendQueue;
    if (boundInterface !== 0) row.boundInterface = boundInterface;
    return row;
  }

  /** Whether options.screening leaves this message out (MessageScreening.leavesOut), given its fields as inetDiagMessage read them. */
  private leftOut(
    view: DataView,
    from: number,
    id: number,
    family: number,
    protocol: Protocol,
    state: TcpState,
    rawState: string,
    localAddress: string,
    localPort: number,
    remoteAddress: string,
    remotePort: number,
    sendQueue: number,
    receiveQueue: number,
    timerCode: number,
    retrans: number,
    tcpInfo: TcpInfoValues | undefined,
    inode: number,
  ): boolean {
    const le = this.options.littleEndian;
    // The fields a row would have that the screen reads, without making the row (see MessageScreening).
    const scratch = this.scratch;
    scratch.protocol = protocol;
    scratch.local.address = localAddress;
    scratch.local.port = localPort;
    scratch.remote.address = remoteAddress;
    scratch.remote.port = remotePort;
    scratch.state = state;
    scratch.rawState = rawState;
    scratch.sendQueue = sendQueue;
    scratch.receiveQueue = receiveQueue;
    scratch.inode = inode;
    if (timerCode !== 0) {
      this.scratchTimer.name = TIMER_NAMES[timerCode] ?? 'other';
      this.scratchTimer.remainingMs = view.getUint32(from + 52, le);
      scratch.timer = this.scratchTimer;
      scratch.retransmits = retrans;
    } else {
      scratch.timer = undefined;
      scratch.retransmits = undefined;
    }
    scratch.rtoMs = tcpInfo?.rtoMs;
    scratch.backoff = tcpInfo?.backoff;
    scratch.activity = tcpInfo ? writeActivity(this.scratchActivity, state, tcpInfo, this.options.uptimeMs) : undefined;
    return this.options.screening!.leavesOut(scratch, view, id, family, this.datagramNumber * MESSAGE_HANDLE_SPAN + this.messageAt);
  }

  /**
   * The row of `options.previous` with this flow, looked for where the last dump had it: at the
   * cursor, or a few rows on (sockets closed since); the walk then goes on after it. Undefined for
   * a flow the last dump did not list there (opened since, or listed out of order).
   */
  private previousRow(protocol: Protocol, localAddress: string, localPort: number, remoteAddress: string, remotePort: number): SocketRow | undefined {
    const previous = this.options.previous!;
    const end = Math.min(previous.length, this.cursor + REUSE_WINDOW);
    for (let i = this.cursor; i < end; i++) {
      const row = previous[i]!;
      if (row.local.port !== localPort || row.remote.port !== remotePort || row.local.address !== localAddress || row.remote.address !== remoteAddress || row.protocol !== protocol) continue;
      // Rows of another namespace or with an instance are never this dump's: not the same flow.
      if (row.netns !== undefined || row.instance !== undefined) return undefined;
      this.cursor = i + 1;
      return row;
    }
    return undefined;
  }

  /**
   * The endpoint object for an address and port: one object for every row of this dump with that
   * endpoint (a server's own address and port is in every connection it accepted, a client's
   * server in every connection it opened), not one per row side. Endpoints are never modified.
   */
  private endpoint(view: DataView, at: number, family: number, port: number, address: string): Endpoint {
    const key = family === AF_INET ? view.getUint32(at, false) * 65536 + port : undefined;
    if (key !== undefined) {
      const known = this.v4Endpoints.get(key);
      if (known) return known;
    }
    const endpoint = { address, port };
    if (key !== undefined) this.v4Endpoints.set(key, endpoint);
    return endpoint;
  }

  private address(view: DataView, at: number, family: number): string {
    if (family === AF_INET) {
      const key = view.getUint32(at, false);
      const names = this.names.v4;
      let name = names.get(key);
      if (name === undefined) {
        if (names.size >= AddressNames.MAX) names.clear();
        names.set(key, (name = `${key >>> 24}.${(key >>> 16) & 255}.${(key >>> 8) & 255}.${key & 255}`));
      }
      return name;
    }
    const names = this.names;
    const w0 = view.getUint32(at, false);
    const w1 = view.getUint32(at + 4, false);
    const w2 = view.getUint32(at + 8, false);
    const w3 = view.getUint32(at + 12, false);
    let name = names.v6.get(w0)?.get(w1)?.get(w2)?.get(w3);
    if (name === undefined) {
      const bytes: number[] = [];
      for (let i = 0; i < 16; i++) bytes.push(view.getUint8(at + i));
      name = formatAddressBytes(bytes);
      if (names.v6Count >= AddressNames.MAX) {
        names.v6.clear();
        names.v6Count = 0;
      }
      let byW1 = names.v6.get(w0);
      if (!byW1) names.v6.set(w0, (byW1 = new Map()));
      let byW2 = byW1.get(w1);
      if (!byW2) byW1.set(w1, (byW2 = new Map()));
      let byW3 = byW2.get(w2);
      if (!byW3) byW2.set(w2, (byW3 = new Map()));
      byW3.set(w3, name);
      names.v6Count++;
    }
    return name;
  }

  /**
   * struct tcp_info at [from, end): each field only when the kernel's struct is long enough to hold
   * it. Written into the parser's one TcpInfoValues (no object per message): read it before the next.
   */
  private tcpInfo(view: DataView, from: number, end: number): TcpInfoValues {
    const length = end - from;
    const info = this.info;
    // 0 on a listener (no retransmission timer yet): left unset, as ss prints no rto: there.
    const rto = this.u32(view, from, length, TI_RTO);
    // tcpi_rtt is 0 until the first RTT sample: "no sample yet", left unset as ss does.
    const rtt = this.u32(view, from, length, TI_RTT);
    const rttVar = rtt ? this.u32(view, from, length, TI_RTTVAR) : undefined;
    info.rtoMs = rto ? msOfMicros(rto) : undefined;
    info.rttMs = rtt ? msOfMicros(rtt) : undefined;
    info.rttVarMs = rttVar === undefined ? undefined : msOfMicros(rttVar);
    info.totalRetransmits = this.u32(view, from, length, TI_TOTAL_RETRANS);
    info.backoff = length > TI_BACKOFF ? view.getUint8(from + TI_BACKOFF) : undefined;
    info.unacked = this.u32(view, from, length, TI_UNACKED);
    info.lost = this.u32(view, from, length, TI_LOST);
    info.bytesSent = this.u64(view, from, length, TI_BYTES_ACKED);
    info.bytesReceived = this.u64(view, from, length, TI_BYTES_RECEIVED);
    info.lastDataSentMs = this.u32(view, from, length, TI_LAST_DATA_SENT);
    info.lastDataRecvMs = this.u32(view, from, length, TI_LAST_DATA_RECV);
    info.lastAckRecvMs = this.u32(view, from, length, TI_LAST_ACK_RECV);
    return info;
  }

  /** The u32 at `offset` of a struct of `length` bytes at `from`, or undefined past its end. */
  private u32(view: DataView, from: number, length: number, offset: number): number | undefined {
    return offset + 4 <= length ? view.getUint32(from + offset, this.options.littleEndian) : undefined;
  }

  /** The u64 at `offset` (exact up to 2^53), or undefined past the struct's end. */
  private u64(view: DataView, from: number, length: number, offset: number): number | undefined {
    if (offset + 8 > length) return undefined;
    const le = this.options.littleEndian;
    return view.getUint32(from + offset + (le ? 0 : 4), le) + view.getUint32(from + offset + (le ? 4 : 0), le) * 2 ** 32;
  }
}

/**
 * A fraction of a millisecond (an RTT of 0.035) is a separate 16-byte number object wherever it is
 * stored, and each division makes a new one: rttMs and rttVarMs were 32 bytes a connection (a heap
 * snapshot at 96,000). Handed out from here, every row with the same value shares one number.
 * Whole milliseconds are stored inside the row and need no sharing. Bounded: values counted in
 * microseconds are many, but a host's RTTs bunch up.
 */
const MS_OF_MICROS = new Map<number, number>();
const MS_OF_MICROS_MAX = 65_536;

/** `micros / 1000`, the same number object for the same fractional value (see MS_OF_MICROS). */
export function msOfMicros(micros: number): number {
  if (micros % 1000 === 0) return micros / 1000;
  let ms = MS_OF_MICROS.get(micros);
  if (ms === undefined) {
    if (MS_OF_MICROS.size >= MS_OF_MICROS_MAX) MS_OF_MICROS.clear();
    MS_OF_MICROS.set(micros, (ms = micros / 1000));
  }
  return ms;
}

/** How far past the last reused row the walk looks for the next one (rows of sockets closed since). */
const REUSE_WINDOW = 16;

/** Whether `cookie` (a row's hex, as the parser writes it) is the 64-bit cookie low + high * 2^32; false where it is not exact as a number. */
function sameCookie(cookie: string | undefined, low: number, high: number): boolean {
  // 13 hex digits are 52 bits: exact as a double (kernel cookies count up from 1 since boot).
  return cookie !== undefined && cookie.length <= 13 && high < 0x100000 && parseInt(cookie, 16) === high * 4294967296 + low;
}

/**
 * One row read before any other, from a message without tcp_info, so that the row literal's first
 * object has every number field undefined. V8 picks each field's representation from the values
 * its objects are given: had the first row's byte counts been numbers computed in floating point
 * (tcp_info's u64, even 0), `bytesSent` and `bytesReceived` would be "double" fields, a 16-byte
 * box in every row whatever its value (32 bytes a connection, kept for as long as it is tracked:
 * a heap snapshot at 96,000). A field that has held undefined is tagged: a whole number below 2^31
 * is stored inside the row, only a larger one (or a fraction) as a separate number. The message
 * is written here in the layout of linux/netlink.h and linux/inet_diag.h: a closed AF_INET socket.
 */
function readFirstRow(): void {
  const bytes = new Uint8Array(NLMSG_HEADER_BYTES + INET_DIAG_MSG_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bytes.length, true);
  view.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
  bytes[NLMSG_HEADER_BYTES] = AF_INET;
  bytes[NLMSG_HEADER_BYTES + 1] = 7; // TCP_CLOSE
  new SockDiagParser({ littleEndian: true }).datagram(bytes);
}
readFirstRow();

/** The rows of a whole dump (its datagrams in order). */
export function parseSockDiag(datagrams: readonly Uint8Array[], options: SockDiagParseOptions): SockDiagParseResult {
  const parser = new SockDiagParser(options);
  for (const datagram of datagrams) parser.datagram(datagram);
  return parser.finish();
}

// One socket by its id, for SOCK_DESTROY and the exact lookup (kernel facts, Linux 6.18):
//   net/core/sock_diag.c  sock_diag_rcv_msg hands SOCK_DESTROY to the family's handler (inet_diag),
//                         which calls the protocol's destroy (net/ipv4/tcp_diag.c tcp_diag_destroy);
//                         without CONFIG_INET_DIAG_DESTROY there is none: EOPNOTSUPP.
//   net/ipv4/tcp_diag.c   tcp_diag_find_one_icsk (inet_diag_find_one_icsk in net/ipv4/inet_diag.c
//                         in older kernels) looks the socket up by the exact 4-tuple and idiag_if, as an
//                         arriving segment would (an established socket, else the listener of the
//                         port), then sock_diag_check_cookie compares idiag_cookie: a socket that is
//                         not the one with that cookie is answered ENOENT, the same as no socket
//                         (check_cookie's own -ESTALE is not passed on; seen on 6.18.44 in
//                         test/fixtures/linux-sock-destroy-ack-stale-cookie-kernel6.bin). INET_DIAG_NOCOOKIE matches
//                         whatever socket the lookup finds, a listener included.
//   net/core/sock_diag.c  sock_diag_destroy: EPERM without CAP_NET_ADMIN in the user namespace
//                         owning the socket's network namespace; then tcp_abort ends it: the owner's
//                         next call fails with ECONNABORTED and the peer gets a RST.
// The netlink socket's own network namespace is the one searched (sock_net of the request).

/** One socket, named as the kernel's inet_diag_sockid names it. */
export interface SockDiagSocketId {
  family: typeof AF_INET | typeof AF_INET6;
  local: Endpoint;
  remote: Endpoint;
  /** idiag_if (SocketRow.boundInterface); 0 when unbound. */
  boundInterface: number;
  /** idiag_cookie as [low u32, high u32] (sock_diag_save_cookie: cookie[0] is the low half), or undefined for INET_DIAG_NOCOOKIE. */
  cookie?: readonly [number, number];
}

/** `ss -e`'s `sk:` hex (SocketRow.cookie) as [low, high] u32 halves; undefined when it is not 1 to 16 hex digits. */
export function cookieHalves(cookie: string): [number, number] | undefined {
  if (!/^[0-9a-f]{1,16}$/i.test(cookie)) return undefined;
  const value = BigInt(`0x${cookie}`);
  return [Number(value & 0xffffffffn), Number(value >> 32n)];
}

/**
 * The kernel's id of the socket a row shows: family from the protocol (a tcp6 row's IPv4 address is
 * the mapped ::ffff:a.b.c.d), the interface, and the cookie where the row has one. A string says why
 * the row cannot be named (an address that is not IP text, a cookie that is not hex).
 */
export function socketIdOf(row: Pick<SocketRow, 'protocol' | 'local' | 'remote' | 'cookie' | 'boundInterface'>): SockDiagSocketId | string {
  const family = row.protocol === 'tcp6' ? AF_INET6 : AF_INET;
  for (const endpoint of [row.local, row.remote]) {
    const bytes = parseAddressBytes(endpoint.address);
    if (!bytes) return `${endpoint.address} is not an IP address`;
    if (family === AF_INET && bytes.length !== 4) return `${endpoint.address} is not an IPv4 address`;
  }
  const id: SockDiagSocketId = { family, local: row.local, remote: row.remote, boundInterface: row.boundInterface ?? 0 };
  if (row.cookie !== undefined) {
    const cookie = cookieHalves(row.cookie);
    if (!cookie) return `cookie ${row.cookie} is not hex`;
    id.cookie = cookie;
  }
  return id;
}

/** Writes an address into an idiag_src/idiag_dst field (16 bytes, network order; IPv4 in the first 4, or mapped for AF_INET6). */
function writeAddress(bytes: Uint8Array, at: number, address: string, family: number): void {
  const parsed = parseAddressBytes(address) ?? [];
  const full = family === AF_INET6 && parsed.length === 4 ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...parsed] : parsed;
  bytes.set(full, at);
}

export interface SockDiagOneOptions {
  id: SockDiagSocketId;
  sequence: number;
  littleEndian: boolean;
}

/** nlmsghdr + inet_diag_req_v2 naming one socket, with NLM_F_ACK so the kernel always answers with NLMSG_ERROR. */
function oneSocketRequest(type: number, { id, sequence, littleEndian: le }: SockDiagOneOptions): Uint8Array {
  const bytes = new Uint8Array(SOCK_DIAG_REQUEST_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, SOCK_DIAG_REQUEST_BYTES, le);
  view.setUint16(4, type, le);
  view.setUint16(6, NLM_F_REQUEST | NLM_F_ACK, le);
  view.setUint32(8, sequence >>> 0, le);
  bytes[16] = id.family;
  bytes[17] = IPPROTO_TCP;
  // idiag_states is not consulted by the exact lookup; every state, as a dump would ask.
  view.setUint32(20, ALL_TCP_STATES_MASK, le);
  const sockid = 24; // struct inet_diag_sockid: sport, dport (network order), src[4], dst[4], if, cookie[2]
  view.setUint16(sockid, id.local.port, false);
  view.setUint16(sockid + 2, id.remote.port, false);
  writeAddress(bytes, sockid + 4, id.local.address, id.family);
  writeAddress(bytes, sockid + 20, id.remote.address, id.family);
  view.setUint32(sockid + 36, id.boundInterface >>> 0, le);
  view.setUint32(sockid + 40, id.cookie ? id.cookie[0] : 0xffffffff, le);
  view.setUint32(sockid + 44, id.cookie ? id.cookie[1] : 0xffffffff, le);
  return bytes;
}

/**
 * SOCK_DESTROY (21) for exactly one socket: NLM_F_REQUEST | NLM_F_ACK and inet_diag_req_v2 with
 * the 4-tuple, the interface and the cookie. With a cookie the kernel ends that socket only, never
 * a newer one on the same 4-tuple; without one (INET_DIAG_NOCOOKIE) whatever its lookup finds,
 * so callers give one. 72 bytes; answered by one NLMSG_ERROR (parseNetlinkAck).
 */
export function sockDestroyRequest(options: SockDiagOneOptions): Uint8Array {
  return oneSocketRequest(SOCK_DESTROY, options);
}

/**
 * SOCK_DIAG_BY_FAMILY without NLM_F_DUMP: the kernel's exact lookup of one socket (tcp_diag_dump_one),
 * answered by one inet_diag_msg (SockDiagParser reads it) then the NLMSG_ERROR acknowledgement, or
 * NLMSG_ERROR ENOENT alone. With no cookie in `id` it names whatever socket holds the 4-tuple now.
 */
export function sockDiagLookupRequest(options: SockDiagOneOptions): Uint8Array {
  return oneSocketRequest(SOCK_DIAG_BY_FAMILY, options);
}

/** How the kernel answered one request: `errno` 0 is an acknowledgement, else the positive errno. */
export type NetlinkAck = { errno: number } | { problem: string };

/**
 * The NLMSG_ERROR answering request `sequence` among the received datagrams (struct nlmsgerr:
 * int error, negative errno or 0, then the request's header, linux/netlink.h). Other messages
 * (an inet_diag_msg before a lookup's acknowledgement) are stepped over. Never throws on bytes: a
 * `problem` says what was wrong (no acknowledgement, a truncated one, a length that does not fit).
 */
export function parseNetlinkAck(datagrams: readonly Uint8Array[], { sequence, littleEndian: le }: { sequence: number; littleEndian: boolean }): NetlinkAck {
  for (const bytes of datagrams) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at < bytes.byteLength;) {
      if (bytes.byteLength - at < NLMSG_HEADER_BYTES) return { problem: `truncated netlink header: ${bytes.byteLength - at} bytes, 16 expected` };
      const length = view.getUint32(at, le);
      if (length < NLMSG_HEADER_BYTES || at + length > bytes.byteLength) return { problem: `netlink message length ${length} does not fit the ${bytes.byteLength - at} bytes left` };
      if (view.getUint16(at + 4, le) === NLMSG_ERROR && view.getUint32(at + 8, le) === sequence >>> 0) {
        if (length < NLMSG_HEADER_BYTES + 4) return { problem: `truncated NLMSG_ERROR: ${length} bytes, 20 expected` };
        const error = view.getInt32(at + NLMSG_HEADER_BYTES, le);
        return { errno: error === 0 ? 0 : -error };
      }
      at += (length + 3) & ~3;
    }
  }
  return { problem: `no acknowledgement of request ${sequence >>> 0}` };
}
