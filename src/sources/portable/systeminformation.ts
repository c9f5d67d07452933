import { parseAddressText, parsePortText } from '../../core/address.js';
import type { SocketRow } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { TcpState } from '../../core/tcp-state.js';
import { unknownStateNotices } from '../unknown-states.js';
import { SourceError, SourceUnavailableError, type SocketSource, type SourceReading } from '../source.js';
import { appendAll } from '../../core/lists.js';
import { plural } from '../../core/plural.js';

// The systeminformation library's networkConnections(): works wherever it does (macOS, BSD, Linux,
// Windows), at its cost. It gives states and owners only: no timers, no activity, so no idle and
// no first-sight dwell. On Linux it runs `netstat -tunap` (then `ss -tunap`) through a shell and
// passes the state words through as printed (SYN-SENT beside SYN_SENT); ports are strings and `*`.

export interface SiConnection {
  protocol: string;
  localAddress: string;
  localPort: string;
  peerAddress: string;
  peerPort: string;
  state: string;
  pid: number | null;
  process: string;
}

export type SiNetworkConnections = () => Promise<SiConnection[]>;

const loadLibrary: () => Promise<SiNetworkConnections> = async () => (await import('systeminformation')).default.networkConnections as SiNetworkConnections;

/** Pure: the library's records → rows. Non-TCP records are skipped; a record with a bad port or address is counted. */
export function rowsFromSystemInformation(connections: readonly SiConnection[]): { rows: SocketRow[]; skipped: number } {
  const rows: SocketRow[] = [];
  let skipped = 0;
  for (const c of connections) {
    const protocol = c.protocol.toLowerCase();
    if (protocol !== 'tcp' && protocol !== 'tcp4' && protocol !== 'tcp6' && protocol !== 'tcp46') continue;
    const localPort = portOf(c.localPort);
    const remotePort = portOf(c.peerPort);
    if (localPort === undefined || remotePort === undefined) {
      skipped++;
      continue;
    }
    const local = addressOf(c.localAddress);
    const remote = addressOf(c.peerAddress);
    if (local === undefined || remote === undefined) {
      skipped++;
      continue;
    }
    const mapped = mapState('systeminformation', c.state.trim());
    const row: SocketRow = {
      protocol: protocol === 'tcp6' || protocol === 'tcp46' || local.includes(':') ? 'tcp6' : 'tcp',
      local: { address: local, port: localPort },
      remote: { address: remote, port: remotePort },
      // Its listeners have peer `*` / `0.0.0.0:*` whatever the platform's word was.
      state: mapped.state === TcpState.UNKNOWN && remotePort === 0 && (remote === '*' || remote === '0.0.0.0' || remote === '::') ? TcpState.LISTEN : mapped.state,
      rawState: mapped.rawState,
    };
    if (typeof c.pid === 'number' && c.pid > 0) row.pid = c.pid;
    if (c.process) row.process = c.process;
    rows.push(row);
  }
  return { rows, skipped };
}

function portOf(text: string): number | undefined {
  return text === '' ? 0 : parsePortText(text);
}

/** undefined: not an address (the row is skipped and counted). */
function addressOf(text: string): string | undefined {
  const bare = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  return bare === '' || bare === '*' ? '*' : parseAddressText(bare);
}

export class SystemInformationSource implements SocketSource {
  readonly name = 'systeminformation' as const;

  constructor(private readonly load: () => Promise<SiNetworkConnections> = loadLibrary) {}

  async read(): Promise<SourceReading> {
    let networkConnections: SiNetworkConnections;
    try {
      networkConnections = await this.load();
    } catch (error) {
      throw new SourceUnavailableError(`the systeminformation library cannot be loaded (${(error as Error).message})`, { cause: error });
    }
    let connections: SiConnection[];
    try {
      connections = await networkConnections();
    } catch (error) {
      throw new SourceError(`systeminformation failed: ${(error as Error).message}`, { cause: error });
    }
    const { rows, skipped } = rowsFromSystemInformation(connections);
    const notices = skipped > 0 ? [`systeminformation: skipped ${plural(skipped, 'record')} with unreadable ports`] : [];
    appendAll(notices, unknownStateNotices(rows, 'systeminformation', 'systeminformation'));
    // The library answers [] when its command fails: only records of other protocols prove a table.
    return { source: 'systeminformation', rows, completeProtocols: ['tcp', 'tcp6'], notices, emptyTableProven: connections.length > 0 && skipped === 0 };
  }
}
