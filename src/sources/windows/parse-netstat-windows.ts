import { parseNamedEndpoint } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketRow } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { TcpState } from '../../core/tcp-state.js';
import { UnusableInputError } from '../unusable-input.js';
import { plural } from '../../core/plural.js';

// Windows netstat.exe (-a -n -o -b -t in any mix, any display language). Headers are translated
// and CJK headers are narrower than the data, so rows are found by their protocol word and split
// on whitespace; the PID is the last numeric field. -b prints the owner after its row:
// `  ServiceName`, ` [image.exe]`, or a localized "cannot obtain ownership" line.

const ROW_PROTOCOL = /^(TCP|TCPv6|UDP|UDPv6)$/i;
const LISTENER_FOREIGN = new Set(['0.0.0.0:0', '[::]:0']);

export function parseWindowsNetstat(text: string): ParseResult<SocketRow> {
  const rows: SocketRow[] = [];
  const problems: ParseProblem[] = [];
  let sawTableRow = false;
  // With -b, owner lines follow their row; TIME_WAIT rows have none. Only the row just above counts.
  let lastRowIndex: number | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const fields = line.trim().split(/\s+/);
    const first = fields[0] ?? '';
    if (first === '') return;
    if (!ROW_PROTOCOL.test(first)) {
      const image = /^\[(.+)\]$/.exec(line.trim());
      if (image && lastRowIndex !== undefined) {
        rows[lastRowIndex] = { ...rows[lastRowIndex]!, process: image[1]! };
        lastRowIndex = undefined;
      }
      return; // headers (any language), -b service names and messages, blank lines
    }
    sawTableRow = true;
    lastRowIndex = undefined;
    if (first.toUpperCase().startsWith('UDP')) return;
    const result = parseTcpRow(fields);
    if (typeof result === 'string') {
      problems.push({ line: index + 1, message: result });
      return;
    }
    lastRowIndex = rows.length;
    rows.push(result);
  });
  if (!sawTableRow && lines.some((l) => l.trim() !== '')) throw new UnusableInputError('no TCP or UDP rows: not netstat output');
  return { rows, problems };
}

function parseTcpRow(fields: string[]): SocketRow | string {
  const [protocolText = '', localText, remoteText, stateWord, ...rest] = fields;
  if (localText === undefined || remoteText === undefined || stateWord === undefined) return `truncated row: ${plural(fields.length, 'field')}, at least 4 expected`;
  const local = parseNamedEndpoint(localText);
  const remote = parseNamedEndpoint(remoteText);
  if (!local || !remote) return `bad address "${local ? remoteText : localText}"`;
  const mapped = mapState('windows-netstat', stateWord);
  // A foreign 0.0.0.0:0 is a listener whatever the (possibly translated or mangled) word says.
  const state = LISTENER_FOREIGN.has(remoteText) ? TcpState.LISTEN : mapped.state;
  // After the state: the PID with -o, and/or the offload state with -t (InHost, Offloaded…).
  const pidText = rest.findLast((f) => /^\d+$/.test(f));
  const row: SocketRow = {
    protocol: protocolText.toUpperCase() === 'TCPV6' || local.address.includes(':') ? 'tcp6' : 'tcp',
    local: { address: local.address, port: local.port },
    remote: { address: remote.address, port: remote.port },
    state,
    rawState: mapped.rawState,
  };
  if (pidText !== undefined) row.pid = Number(pidText);
  return row;
}
