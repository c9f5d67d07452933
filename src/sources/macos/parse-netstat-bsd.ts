import { parseHostText, parsePortText } from '../../core/address.js';
import { connectionKey, type ParseProblem, type ParseResult, type SocketRow } from '../../core/connection.js';
import { wellKnownPort } from '../../core/services.js';
import { mapState } from '../../core/state-vocabularies.js';
import { UnusableInputError } from '../unusable-input.js';
import { plural } from '../../core/plural.js';

// macOS / BSD `netstat -an [-A] [-l] [-b] [-v] [-p tcp]`:
//   [Socket Flowhash] Proto Recv-Q Send-Q  Local Address  Foreign Address  (state)  [rxbytes txbytes] [rhiwat shiwat pid epid state options …]
// Ports follow the last dot (`192.168.1.2.443`, `*.*`, `fe80::1%lo0.5353`).
//
// Facts from Apple's netstat (network_cmds, netstat.tproj inet.c / inet6.c, inetprint and
// inet6print): the host is cut at 16 characters (IPv6 with -l: 39) before `.port` is added, then
// the whole field is cut at the column width — 18 with -A, 45 with -l, else 22. The header is
// printed with the same widths, so the header tells which cut applies. Only with -A does the
// column cut ports (16 + 1 + 5 > 18). With -v, macOS 10.x prints `rhiwat shiwat pid epid [state
// options]` after the state; later releases add `rxbytes txbytes` first (as -b does), and the newest
// print `process:pid` (the name may hold spaces) where `pid epid` were.

const TCP_PROTOCOL = /^tcp(4|6|46)?$/;
const OTHER_PROTOCOL = /^(udp(4|6|46)?|icm[46])$/;
const HEADER = /\bProto\s+Recv-Q\s+Send-Q\s+Local Address\s+Foreign Address\b/;
/** Host part length netstat cuts at (inetprint / inet6print without -l). */
const HOST_CUT = 16;
/** IPv6 host length netstat cuts at with -l. */
const HOST_CUT_LONG = 39;
/** Without a header the widest cut that could apply: -A's 18-character column. */
const NARROWEST_COLUMN = 18;

export interface BsdParseResult extends ParseResult<SocketRow> {
  /** Rows with an address netstat may have cut (by its column or its 16-character host limit). */
  possiblyTruncated: number;
  /** Of those, rows whose printed text equals an earlier row's and that carry no pcb address to tell them apart. */
  mergedRows: number;
  /** Address column width the header shows (18 with -A, 22, 45 with -l); undefined when no header was seen. */
  addressColumnWidth?: number;
  /** Whether the rows carry the socket's pcb address (-A), which tells cut rows apart. */
  pcbAddresses: boolean;
}

interface Layout {
  addressWidth?: number;
  /** Column names after `(state)`, in order. */
  trailing: string[];
}

/**
 * Parses BSD/macOS netstat text into rows. Identity never depends on a row's position: a row whose
 * address may be cut is told apart by its pcb address when -A printed one; without it the printed
 * text is the identity, and rows printing alike are counted in `mergedRows` (the tracker keeps one).
 * pid and byte counts are read only from columns the header names.
 * @throws UnusableInputError when the text holds no tcp row at all.
 */
export function parseBsdNetstat(text: string): BsdParseResult {
  const rows: SocketRow[] = [];
  const problems: ParseProblem[] = [];
  let possiblyTruncated = 0;
  let mergedRows = 0;
  let pcbAddresses = false;
  let sawRow = false;
  let sawOtherProtocol = false;
  let layout: Layout = { trailing: [] };
  let headerWidth: number | undefined;
  const cutKeys = new Set<string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (HEADER.test(line)) {
      layout = readHeader(line);
      headerWidth ??= layout.addressWidth;
      return;
    }
    const fields = line.trim().split(/\s+/);
    const at = fields.findIndex((f) => TCP_PROTOCOL.test(f));
    if (at < 0 || at > 2) {
      // A BSD udp/icmp row (`udp4  0  0  *.5353`), not another tool's (`udp  0  0 0.0.0.0:68`).
      const other = fields.slice(0, 3).findIndex((f) => OTHER_PROTOCOL.test(f));
      if (other >= 0 && /\.(\d+|\*)$/.test(fields[other + 3] ?? '')) sawOtherProtocol = true;
      return; // headers, udp, unix and kernel sockets
    }
    sawRow = true;
    const [protocolText = '', receiveText = '', sendText = '', localText, remoteText, stateWord, ...trailing] = fields.slice(at);
    if (localText === undefined || remoteText === undefined || stateWord === undefined) {
      problems.push({ line: index + 1, message: `truncated row: ${plural(fields.length - at, 'field')}, at least 6 expected` });
      return;
    }
    const ipv6Print = protocolText === 'tcp6';
    const localCut = mayBeCut(localText, layout.addressWidth, ipv6Print);
    const remoteCut = mayBeCut(remoteText, layout.addressWidth, ipv6Print);
    const local = parseDottedEndpoint(localText, localCut);
    const remote = parseDottedEndpoint(remoteText, remoteCut);
    if (!local || !remote) {
      problems.push({ line: index + 1, message: `bad address "${local ? remoteText : localText}"` });
      return;
    }
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
    readTrailing(row, layout.trailing, trailing);
    if (localCut || remoteCut) {
      possiblyTruncated++;
      // The pcb address (-A) is the kernel's own id for the socket: stable for its life, unlike
      // the row's position, which moves whenever a row is added above.
      if (at > 0) {
        row.instance = fields[0]!;
        pcbAddresses = true;
      } else {
        const key = connectionKey(row);
        if (cutKeys.has(key)) mergedRows++;
        else cutKeys.add(key);
      }
    }
    rows.push(row);
  });
  if (!sawRow && lines.some((l) => l.trim() !== '')) {
    throw new UnusableInputError(
      headerWidth !== undefined || sawOtherProtocol ? 'no tcp rows: BSD/macOS netstat output without TCP sockets (taken with -p udp?)' : 'no tcp rows: not BSD/macOS netstat output',
    );
  }
  const result: BsdParseResult = { rows, problems, possiblyTruncated, mergedRows, pcbAddresses };
  if (headerWidth !== undefined) result.addressColumnWidth = headerWidth;
  return result;
}

/** One-line notices about cut addresses, for a capture's label. */
export function bsdNetstatNotices(result: BsdParseResult, label: string): string[] {
  if (result.possiblyTruncated === 0) return [];
  const column = result.addressColumnWidth === undefined ? 'no header line, so its column width is unknown' : `its ${result.addressColumnWidth}-character column`;
  const identity = result.pcbAddresses
    ? 'they are told apart by their pcb address (-A)'
    : result.mergedRows > 0
      ? `cut addresses may merge distinct connections: ${plural(result.mergedRows, 'row')} ${result.mergedRows === 1 ? 'prints exactly like an earlier one and is' : 'print exactly like an earlier one and are'} counted with it`
      : 'cut addresses may merge distinct connections across captures';
  const hosts = result.addressColumnWidth !== undefined && result.addressColumnWidth >= 45 ? 'hosts at 16 characters, IPv6 hosts at 39' : 'hosts at 16 characters';
  return [
    `${label}: ${plural(result.possiblyTruncated, 'row')} ${result.possiblyTruncated === 1 ? 'has' : 'have'} addresses netstat may have cut (${column}, ${hosts}); ${identity}; \`netstat -anlA\` prints whole addresses and pcb addresses`,
  ];
}

function readHeader(line: string): Layout {
  const local = line.indexOf('Local Address');
  const foreign = line.indexOf('Foreign Address');
  const state = line.indexOf('(state)');
  const layout: Layout = {
    trailing:
      state < 0
        ? []
        : line
            .slice(state + '(state)'.length)
            .trim()
            .split(/\s+/)
            .filter((n) => n !== ''),
  };
  // The column is printed `%-*.*s ` (width, then one space): the distance between the titles is width + 1.
  if (local >= 0 && foreign > local) layout.addressWidth = foreign - local - 1;
  return layout;
}

/**
 * May netstat have cut this printed endpoint? It did when the field fills the column (with -A
 * that cuts the port), and may have when the host reaches its length limit (16; IPv6 with -l, 39).
 * Without a header, the narrowest column (-A's 18) is assumed.
 */
function mayBeCut(text: string, width: number | undefined, ipv6Print: boolean): boolean {
  const column = width ?? NARROWEST_COLUMN;
  // Longer than the column: printed with -W, which does not cut at the column.
  if (width === undefined ? text.length >= column : text.length === column) return true;
  const host = text.slice(0, text.lastIndexOf('.'));
  return host.length >= (column >= 45 && ipv6Print ? HOST_CUT_LONG : HOST_CUT);
}

/** pid, process and byte counts from the columns after the state, by the names the header gives them. */
function readTrailing(row: SocketRow, names: readonly string[], values: readonly string[]): void {
  if (names.length === 0 || values.length === 0) return;
  const named = names.indexOf('process:pid');
  let byName: Map<string, string>;
  if (named >= 0) {
    // `Helium Helper:5660`: the name may hold spaces, so the columns after it are counted from the end.
    const after = names.length - named - 1;
    if (values.length < names.length) return;
    const owner = values.slice(named, values.length - after).join(' ');
    const colon = owner.lastIndexOf(':');
    const pid = owner.slice(colon + 1);
    if (colon > 0 && /^\d+$/.test(pid)) {
      row.pid = Number(pid);
      row.process = owner.slice(0, colon);
    }
    byName = new Map(names.slice(0, named).map((name, i) => [name, values[i]!]));
  } else {
    byName = new Map(names.map((name, i) => [name, values[i] ?? '']));
    const pid = byName.get('pid');
    if (pid !== undefined && /^\d+$/.test(pid)) row.pid = Number(pid);
  }
  const rx = byName.get('rxbytes');
  const tx = byName.get('txbytes');
  if (rx !== undefined && /^\d+$/.test(rx)) row.bytesReceived = Number(rx);
  if (tx !== undefined && /^\d+$/.test(tx)) row.bytesSent = Number(tx);
}

/**
 * `10.0.0.1.443`, `*.*`, `*.22`, `::1.5432`, `fe80::1%lo0.5353`, `host.https`; a cut address
 * (`cut`: the column may have cut it) is kept as printed; text that is neither an address, the
 * start of one, nor a host name (`300.1.1.1`, `zzz::`) is refused.
 */
function parseDottedEndpoint(text: string, cut: boolean): { address: string; port: number } | undefined {
  const dot = text.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const host = text.slice(0, dot);
  // Without -n netstat prints service names (`.https`); a name not in the well-known list is a problem.
  const port = parsePortText(text.slice(dot + 1)) ?? wellKnownPort(text.slice(dot + 1));
  if (port === undefined) return undefined;
  if (host === '*') return { address: '*', port };
  const address = parseHostText(host.replace(/%.*$/, ''), cut);
  return address === undefined ? undefined : { address, port };
}
