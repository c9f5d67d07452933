import { normalizeAddress, parseAddressBytes, parsePortText } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketRow } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { UnusableInputError } from '../unusable-input.js';

// macOS / BSD `netstat -an [-A] [-p tcp]`: [Socket Flowhash] Proto Recv-Q Send-Q Local Foreign (state).
// Ports follow the last dot (`192.168.1.2.443`, `*.*`, `fe80::1%lo0.5353`). Without -W, macOS cuts
// each address column at a fixed width, so long IPv6 addresses and their ports arrive truncated.

const TCP_PROTOCOL = /^tcp(4|6|46)?$/;
/** Column width of macOS netstat's address columns without -W. */
export const BSD_ADDRESS_COLUMN_WIDTH = 18;

export interface BsdParseResult extends ParseResult<SocketRow> {
  /** Rows whose address text fills the column: the address or port may have been cut. */
  possiblyTruncated: number;
}

export function parseBsdNetstat(text: string): BsdParseResult {
  const rows: SocketRow[] = [];
  const problems: ParseProblem[] = [];
  let possiblyTruncated = 0;
  let sawRow = false;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const fields = line.trim().split(/\s+/);
    const at = fields.findIndex((f) => TCP_PROTOCOL.test(f));
    if (at < 0 || at > 2) return; // headers, udp, unix and kernel sockets
    sawRow = true;
    const [protocolText = '', receiveText = '', sendText = '', localText, remoteText, stateWord] = fields.slice(at);
    if (localText === undefined || remoteText === undefined || stateWord === undefined) {
      problems.push({ line: index + 1, message: `truncated row: ${fields.length - at} fields, at least 6 expected` });
      return;
    }
    const local = parseDottedEndpoint(localText);
    const remote = parseDottedEndpoint(remoteText);
    if (!local || !remote) {
      problems.push({ line: index + 1, message: `bad address "${local ? remoteText : localText}"` });
      return;
    }
    const cut = localText.length >= BSD_ADDRESS_COLUMN_WIDTH || remoteText.length >= BSD_ADDRESS_COLUMN_WIDTH;
    if (cut) possiblyTruncated++;
    const mapped = mapState('bsd-netstat', stateWord);
    const row: SocketRow = {
      protocol: protocolText === 'tcp4' || (protocolText === 'tcp' && !local.address.includes(':')) ? 'tcp' : 'tcp6',
      local,
      remote,
      state: mapped.state,
      rawState: mapped.rawState,
      receiveQueue: Number(receiveText),
      sendQueue: Number(sendText),
    };
    // Cut addresses can make two sockets print alike: -A's pcb address tells them apart.
    if (cut) row.instance = at > 0 ? fields[0]! : `#${index + 1}`;
    rows.push(row);
  });
  if (!sawRow && lines.some((l) => l.trim() !== '')) throw new UnusableInputError('no tcp rows: not BSD/macOS netstat output');
  return { rows, problems, possiblyTruncated };
}

/** `10.0.0.1.443`, `*.*`, `*.22`, `::1.5432`, `fe80::1%lo0.5353`; a cut address is kept as printed. */
function parseDottedEndpoint(text: string): { address: string; port: number } | undefined {
  const dot = text.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const host = text.slice(0, dot);
  const port = parsePortText(text.slice(dot + 1));
  if (port === undefined) return undefined;
  if (host === '*') return { address: '*', port };
  const bare = host.replace(/%.*$/, '');
  return { address: parseAddressBytes(bare) ? normalizeAddress(bare) : bare, port };
}
