import { errorCode, type Platform } from '../../platform/platform.js';
import { errnoWords } from '../../platform/errors.js';
import { SourceError, SourceUnavailableError, summarizeProblems, type SocketSource, type SourceOptions, type SourceReading } from '../source.js';
import { CONNTRACK_TIMEOUT_FILES, parseConntrack, type ConntrackTimeouts } from './parse-conntrack.js';

// The Linux firewall/NAT session table, per network namespace. Rows are flows as the firewall
// sees them (original direction: local = the initiator), with no process.

export class ConntrackSource implements SocketSource {
  readonly name = 'conntrack' as const;
  private timeouts: Promise<ConntrackTimeouts> | undefined;

  async read(platform: Platform, { procRoot }: SourceOptions): Promise<SourceReading> {
    const path = `${procRoot}/net/nf_conntrack`;
    let text: string;
    try {
      text = await platform.readText(path);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT') throw new SourceUnavailableError(`${path} does not exist (nf_conntrack not loaded, or no rule uses connection tracking)`, { cause: error });
      throw new SourceError(`cannot read ${path}: ${errnoWords(error, { EACCES: 'permission denied (run as root)' })}`, { cause: error });
    }
    // Timeouts are sysctls of the namespace; read once (they rarely change under a monitor).
    this.timeouts ??= readTimeouts(platform, procRoot);
    const parsed = parseConntrack(text, await this.timeouts);
    // The kernel file has no header: read whole with no bad line, no entry means no flow.
    return { source: 'conntrack', rows: parsed.rows, completeProtocols: ['tcp', 'tcp6'], notices: summarizeProblems(path, parsed.problems), emptyTableProven: parsed.problems.length === 0 };
  }
}

async function readTimeouts(platform: Platform, procRoot: string): Promise<ConntrackTimeouts> {
  const entries = await Promise.all(
    Object.entries(CONNTRACK_TIMEOUT_FILES).map(async ([state, file]) => {
      const text = await platform.readText(`${procRoot}/sys/net/netfilter/${file}`).catch(() => undefined);
      const seconds = Number(text?.trim());
      return [state, text !== undefined && Number.isFinite(seconds) ? seconds : undefined] as const;
    }),
  );
  return Object.fromEntries(entries.filter(([, s]) => s !== undefined));
}
