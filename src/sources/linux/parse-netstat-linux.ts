import { parseNamedEndpoint } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketRow } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { TcpState } from '../../core/tcp-state.js';
import { UnusableInputError } from '../unusable-input.js';

// net-tools `netstat -t[a][n][p][o]`: Proto Recv-Q Send-Q Local Foreign State [PID/Program] [Timer].
// The state column is translated by gettext (de VERBUNDEN, es ESCUCHAR, cs `POSLEDNÍ ACK` with a
// space); without -n, hosts and services are names (`localhost:ssh`).

const PID_PROGRAM = /^(\d+)\/(.*)$/;
const TIMER = /\s+(off|on|keepalive|timewait|probe|unkn-\d+)\s+\([^)]*\)\s*$/;

export function parseLinuxNetstat(text: string): ParseResult<SocketRow> {
  const rows: SocketRow[] = [];
  const problems: ParseProblem[] = [];
  let sawRow = false;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const fields = line.replace(TIMER, '').trim().split(/\s+/);
    const protocol = fields[0];
    if (protocol !== 'tcp' && protocol !== 'tcp6') return; // headers in any language, udp, unix
    sawRow = true;
    const result = parseRow(fields, protocol);
    if (typeof result === 'string') problems.push({ line: index + 1, message: result });
    else rows.push(result);
  });
  if (!sawRow && lines.some((l) => l.trim() !== '')) throw new UnusableInputError('no tcp rows: not net-tools netstat output');
  return { rows, problems };
}

function parseRow(fields: string[], protocol: 'tcp' | 'tcp6'): SocketRow | string {
  const [, receiveText = '', sendText = '', localText, remoteText, ...rest] = fields;
  if (localText === undefined || remoteText === undefined || rest.length === 0) return `truncated row: ${fields.length} fields, at least 6 expected`;
  if (!/^\d+$/.test(receiveText) || !/^\d+$/.test(sendText)) return `bad queue sizes "${receiveText} ${sendText}"`;
  const local = parseNamedEndpoint(localText);
  const remote = parseNamedEndpoint(remoteText);
  if (!local || !remote) return `bad address "${local ? remoteText : localText}"`;
  // The state runs up to the PID/Program column (or `-` where the owner is hidden).
  const ownerAt = rest.findIndex((f) => f === '-' || PID_PROGRAM.test(f));
  const stateWords = ownerAt < 0 ? rest : rest.slice(0, ownerAt);
  const mapped = mapState('linux-netstat', stateWords.join(' '));
  const row: SocketRow = {
    protocol,
    local: { address: local.address, port: local.port },
    remote: { address: remote.address, port: remote.port },
    // `0.0.0.0:*` with a translated LISTEN word is still a listener.
    state: mapped.state === TcpState.UNKNOWN && remote.port === 0 ? TcpState.LISTEN : mapped.state,
    rawState: mapped.rawState,
    receiveQueue: Number(receiveText),
    sendQueue: Number(sendText),
  };
  const owner = ownerAt < 0 ? undefined : PID_PROGRAM.exec(rest.slice(ownerAt).join(' '));
  if (owner) {
    row.pid = Number(owner[1]);
    row.process = owner[2]!.trim();
  }
  return row;
}
