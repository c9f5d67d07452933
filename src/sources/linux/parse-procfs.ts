import { decodeProcHexAddress, type Protocol } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketRow, SocketTimer } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { UnusableInputError } from '../unusable-input.js';

// /proc/net/tcp and /proc/net/tcp6 (net/ipv4/tcp_ipv4.c get_tcp4_sock, get_openreq4,
// get_timewait4_sock; field notes §5). Columns:
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
  const rows: SocketRow[] = [];
  const problems: ParseProblem[] = [];
  const lines = text.split(/\r?\n/);
  let sawHeaderOrRow = false;
  lines.forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (trimmed.startsWith('sl ')) {
      sawHeaderOrRow = true;
      return;
    }
    const result = parseProcLine(trimmed, options.littleEndian ?? true);
    if (typeof result === 'string') {
      problems.push({ line: index + 1, message: result });
    } else {
      sawHeaderOrRow = true;
      rows.push(result);
    }
  });
  if (!sawHeaderOrRow && problems.length > 0) {
    throw new UnusableInputError(`not a /proc/net/tcp table (line ${problems[0]?.line}: ${problems[0]?.message})`);
  }
  return { rows, problems };
}

function parseProcLine(line: string, littleEndian: boolean): SocketRow | string {
  const fields = line.split(/\s+/);
  if (!/^\d+:$/.test(fields[0] ?? '')) return 'not a socket row (no "N:" slot number)';
  if (fields.length < 10) return `truncated row: ${fields.length} fields, at least 10 expected`;
  const [, localText = '', remoteText = '', stateHex = '', queues = '', timerText = '', retransmitText = '', uidText = '', , inodeText = ''] =
    fields;
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
