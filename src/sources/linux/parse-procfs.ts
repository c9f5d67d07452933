import { decodeProcHexAddress, type Endpoint, type Protocol } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketRow, SocketTimer } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { forEachLine, isBlank, skipBlanks, tokenEnd } from '../../core/text-lines.js';
import { UnusableInputError } from '../unusable-input.js';
import { plural } from '../../core/plural.js';

// /proc/net/tcp and /proc/net/tcp6 (net/ipv4/tcp_ipv4.c get_tcp4_sock, get_openreq4,
// get_timewait4_sock; docs/tcp-facts.md#procnettcp-and-tcp6). Columns:
//   sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
//   [refcount pointer rto ato quick|pingpong cwnd ssthresh]    (full sockets only)
// Times in tm->when and rto are clock_t (USER_HZ = 100, so 10 ms a tick).

const CLOCK_TICK_MS = 10;

// tr codes: 1 retransmit (or loss probe), 2 keepalive (sk_timer), 3 TIME_WAIT, 4 zero-window probe.
const TIMER_NAMES: Record<number, SocketTimer['name']> = { 0: 'off', 1: 'on', 2: 'keepalive', 3: 'timewait', 4: 'persist' };

export interface ProcfsParseOptions {
  /** Byte order of the host that wrote the file (every common Linux host is little-endian). */
  littleEndian?: boolean;
}

export function parseProcNetTcp(text: string, options: ProcfsParseOptions = {}): ParseResult<SocketRow> {
  const parser = new ProcNetTcpParser(options);
  forEachLine(text, (line) => parser.line(line));
  return parser.finish();
}

/** The same parse a line at a time, so the source can parse each chunk while the kernel writes the next. */
export class ProcNetTcpParser {
  private readonly rows: SocketRow[] = [];
  private readonly problems: ParseProblem[] = [];
  private readonly littleEndian: boolean;
  private sawHeaderOrRow = false;
  private lineNumber = 0;

  constructor(options: ProcfsParseOptions = {}) {
    this.littleEndian = options.littleEndian ?? true;
  }

  line(line: string): void {
    this.lineNumber++;
    const start = skipBlanks(line, 0);
    if (start === line.length || line.charCodeAt(start) === 35 /* # */) return;
    if (line.startsWith('sl ', start)) {
      this.sawHeaderOrRow = true;
      return;
    }
    // The kernel's own layout is read by position; anything else by the general field parser,
    // which also says what is wrong with a damaged line.
    const result = parseKernelLine(line, start, this.littleEndian) ?? parseProcLine(line.trim(), this.littleEndian);
    if (typeof result === 'string') {
      this.problems.push({ line: this.lineNumber, message: result });
    } else {
      this.sawHeaderOrRow = true;
      this.rows.push(result);
    }
  }

  finish(): ParseResult<SocketRow> {
    if (!this.sawHeaderOrRow && this.problems.length > 0) {
      throw new UnusableInputError(`not a /proc/net/tcp table (line ${this.problems[0]?.line}: ${this.problems[0]?.message})`);
    }
    return { rows: this.rows, problems: this.problems };
  }
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** The value of exactly `length` hex digits at line[from…], or -1. */
function hexAt(line: string, from: number, length: number): number {
  let value = 0;
  for (let i = from; i < from + length; i++) {
    const digit = hexDigit(line.charCodeAt(i));
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** Where the decimal digits at line[from…] end (from itself when there are none). */
function digitsEnd(line: string, from: number): number {
  while (from < line.length && line.charCodeAt(from) >= 48 && line.charCodeAt(from) <= 57) from++;
  return from;
}

// Where the fixed-width columns after the addresses are separated: blanks, and the colons of
// tx_queue:rx_queue and tr:tm->when.
const SEPARATORS: readonly (readonly [number, number])[] = [
  [2, 32],
  [11, 58],
  [20, 32],
  [23, 58],
  [32, 32],
  [41, 32],
];

// States by code: the mapped state for every two-digit hex word, made once.
const STATES_BY_CODE = Array.from({ length: 256 }, (_, code) => mapState('linux-proc-hex', code.toString(16).toUpperCase().padStart(2, '0')));

/**
 * A row in exactly the layout the kernel prints (`%4d: %08X:%04X %08X:%04X %02X %08X:%08X
 * %02X:%08lX %08X %5u %8d %lu …`), read by position with no split or regular expression: at
 * 100,000 sockets the general parser costs twice the kernel's own time. Undefined for anything
 * else, which parseProcLine then reads (and reports) the general way; the two agree on every row
 * this one reads (tested).
 */
export function parseKernelLine(line: string, start: number, littleEndian: boolean): SocketRow | undefined {
  let at = digitsEnd(line, start);
  if (at === start || line.charCodeAt(at) !== 58 /* : */ || line.charCodeAt(at + 1) !== 32) return undefined;
  at += 2;
  const addressLength = line.charCodeAt(at + 8) === 58 ? 8 : 32;
  const local = hexEndpointAt(line, at, addressLength, littleEndian);
  if (!local) return undefined;
  at += addressLength + 6;
  const remote = hexEndpointAt(line, at, addressLength, littleEndian);
  if (!remote) return undefined;
  at += addressLength + 6;
  // st tx_queue:rx_queue tr:tm->when retrnsmt: fixed widths, one blank apart.
  const stateCode = hexAt(line, at, 2);
  const sendQueue = hexAt(line, at + 3, 8);
  const receiveQueue = hexAt(line, at + 12, 8);
  const timerCode = hexAt(line, at + 21, 2);
  const timerTicks = hexAt(line, at + 24, 8);
  const retransmits = hexAt(line, at + 33, 8);
  if (stateCode < 0 || sendQueue < 0 || receiveQueue < 0 || timerCode < 0 || timerTicks < 0 || retransmits < 0) return undefined;
  for (const [offset, separator] of SEPARATORS) if (line.charCodeAt(at + offset) !== separator) return undefined;
  at += 41;
  // uid, timeout (signed) and inode, then for full sockets: refcount pointer rto ato quick cwnd ssthresh.
  const uidStart = skipBlanks(line, at);
  const uidEnd = digitsEnd(line, uidStart);
  let timeoutEnd = skipBlanks(line, uidEnd);
  if (uidEnd === uidStart || timeoutEnd === uidEnd) return undefined;
  timeoutEnd = tokenEnd(line, timeoutEnd);
  const inodeStart = skipBlanks(line, timeoutEnd);
  const inodeEnd = digitsEnd(line, inodeStart);
  if (inodeStart === timeoutEnd || inodeEnd === inodeStart || (inodeEnd < line.length && !isBlank(line.charCodeAt(inodeEnd)))) return undefined;
  const { state, rawState } = STATES_BY_CODE[stateCode]!;
  const row: SocketRow = {
    protocol: addressLength === 8 ? 'tcp' : 'tcp6',
    local,
    remote,
    state,
    rawState,
    inode: Number(line.slice(inodeStart, inodeEnd)),
    uid: Number(line.slice(uidStart, uidEnd)),
    sendQueue,
    receiveQueue,
    retransmits,
  };
  if (timerCode !== 0) {
    // tm->when is printed as a signed delta in an unsigned hex field: an expired timer wraps.
    row.timer = { name: TIMER_NAMES[timerCode] ?? 'other', remainingMs: Math.max(0, timerTicks | 0) * CLOCK_TICK_MS };
  }
  // The rto is the third field after the inode, on full sockets (17 fields in all).
  let field = 0;
  let rtoTicks = NaN;
  for (let from = skipBlanks(line, inodeEnd); from < line.length; from = skipBlanks(line, at)) {
    at = tokenEnd(line, from);
    if (++field === 3) rtoTicks = Number(line.slice(from, at));
  }
  if (field >= 7 && Number.isInteger(rtoTicks) && rtoTicks > 0) row.rtoMs = rtoTicks * CLOCK_TICK_MS;
  return row;
}

/** `0100007F:C350 ` at line[from…]: the decoded address and port, or undefined. */
function hexEndpointAt(line: string, from: number, addressLength: number, littleEndian: boolean): Endpoint | undefined {
  if (line.charCodeAt(from + addressLength) !== 58 || line.charCodeAt(from + addressLength + 5) !== 32) return undefined;
  const port = hexAt(line, from + addressLength + 1, 4);
  const address = port < 0 ? undefined : decodeProcHexAddress(line.slice(from, from + addressLength), littleEndian);
  return address === undefined ? undefined : { address, port };
}

/** The general reading of one row, field by field; says what is wrong with a damaged one. */
export function parseProcLine(line: string, littleEndian: boolean): SocketRow | string {
  const fields = line.split(/\s+/);
  if (!/^\d+:$/.test(fields[0] ?? '')) return 'not a socket row (no "N:" slot number)';
  if (fields.length < 10) return `truncated row: ${plural(fields.length, 'field')}, at least 10 expected`;
  const [, localText = '', remoteText = '', stateHex = '', queues = '', timerText = '', retransmitText = '', uidText = '', , inodeText = ''] = fields;
  const local = parseHexEndpoint(localText, littleEndian);
  const remote = parseHexEndpoint(remoteText, littleEndian);
  if (!local || !remote) return `bad address "${local ? remoteText : localText}"`;
  if (local.hexLength !== remote.hexLength) return 'local and remote addresses differ in family';
  const queueMatch = /^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8})$/.exec(queues);
  const timerMatch = /^([0-9A-Fa-f]{2}):([0-9A-Fa-f]{8})$/.exec(timerText);
  if (!/^[0-9A-Fa-f]{2}$/.test(stateHex)) return `bad state code "${stateHex}"`;
  if (!queueMatch || !timerMatch) return 'bad queue or timer column';
  if (!/^[0-9A-Fa-f]{8}$/.test(retransmitText) || !/^\d+$/.test(uidText) || !/^\d+$/.test(inodeText)) {
    return 'bad retransmit, uid or inode column';
  }
  const { state, rawState } = mapState('linux-proc-hex', stateHex.toUpperCase());
  const protocol: Protocol = local.hexLength === 8 ? 'tcp' : 'tcp6';
  const timerCode = parseInt(timerMatch[1] ?? '0', 16);
  const row: SocketRow = {
    protocol,
    local: { address: local.address, port: local.port },
    remote: { address: remote.address, port: remote.port },
    state,
    rawState,
    inode: Number(inodeText),
    uid: Number(uidText),
    sendQueue: parseInt(queueMatch[1] ?? '0', 16),
    receiveQueue: parseInt(queueMatch[2] ?? '0', 16),
    retransmits: parseInt(retransmitText, 16),
  };
  if (timerCode !== 0) {
    // tm->when is printed as a signed delta in an unsigned hex field: an expired timer wraps.
    const ticks = parseInt(timerMatch[2] ?? '0', 16) | 0;
    row.timer = { name: TIMER_NAMES[timerCode] ?? 'other', remainingMs: Math.max(0, ticks) * CLOCK_TICK_MS };
  }
  // Full sockets carry 17 fields; the 13th is the RTO in clock ticks.
  const rtoTicks = fields.length >= 17 ? Number(fields[12]) : NaN;
  if (Number.isInteger(rtoTicks) && rtoTicks > 0) row.rtoMs = rtoTicks * CLOCK_TICK_MS;
  return row;
}

function parseHexEndpoint(text: string, littleEndian: boolean): { address: string; port: number; hexLength: number } | undefined {
  const [hex = '', portHex = ''] = text.split(':');
  if (!/^[0-9A-Fa-f]{4}$/.test(portHex)) return undefined;
  const address = decodeProcHexAddress(hex, littleEndian);
  return address === undefined ? undefined : { address, port: parseInt(portHex, 16), hexLength: hex.length };
}
