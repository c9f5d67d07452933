import type { Platform } from '../platform/platform.js';
import { ConntrackSource } from './linux/conntrack.js';
import { NetlinkSource, type NetlinkSourceOptions } from './linux/netlink.js';
import { procfsSource } from './linux/procfs.js';
import { ssSource } from './linux/ss.js';
import { SystemInformationSource } from './portable/systeminformation.js';
import { SourceError, SourceUnavailableError, type ReadingProvider, type SocketSource, type SourceChoice, type SourceOptions, type SourceReading } from './source.js';
import { UnusableInputError } from './unusable-input.js';
import { WindowsNetstatSource } from './windows/netstat.js';
import { PowerShellSource } from './windows/powershell.js';

export type LiveSourceName = Exclude<SourceChoice, 'auto'>;

/**
 * The OS each source is made for (Node's `process.platform` names); undefined: any. On another
 * OS a source reads something else or nothing: Linux has a `netstat` too (net-tools), whose
 * lines the Windows parser cannot read.
 */
export const SOURCE_OS: Readonly<Record<LiveSourceName, string | undefined>> = {
  ss: 'linux',
  procfs: 'linux',
  conntrack: 'linux',
  netlink: 'linux',
  netstat: 'win32',
  powershell: 'win32',
  systeminformation: undefined,
};

const OS_NAMES: Record<string, string> = { linux: 'Linux', win32: 'Windows', darwin: 'macOS' };

/** Why a source cannot be used on this OS, or undefined when it can. */
export function wrongOsReason(name: LiveSourceName, os: string): string | undefined {
  const madeFor = SOURCE_OS[name];
  if (madeFor === undefined || madeFor === os) return undefined;
  const here = autoOrder(os, '/proc').map((s) => s.name);
  return `--source ${name} is made for ${OS_NAMES[madeFor] ?? madeFor}, not ${OS_NAMES[os] ?? os}; here use ${here.map((n) => `--source ${n}`).join(' or ')} (or --input with a capture)`;
}

// Why a source can read nothing, where it is not plain.
const NOTHING_READ_HINTS: Partial<Record<string, string>> = {
  systeminformation: 'the library answers an empty list when its command (netstat or ss) fails',
  powershell: 'Get-NetTCPConnection answered nothing',
  ss: 'ss printed neither its header nor a socket',
  netstat: 'netstat printed no table',
};

/**
 * The reading, when it holds rows or proves an empty table; otherwise a SourceError: a source
 * that read nothing is a failed poll, never "no connections" (and never OK).
 */
export function requireTable(reading: SourceReading): SourceReading {
  if (reading.rows.length > 0 || reading.emptyTableProven) return reading;
  const why = [NOTHING_READ_HINTS[reading.source], ...reading.notices].filter(Boolean).join('; ');
  throw new SourceError(`${reading.source} read no socket table${why ? ` (${why})` : ''}`);
}

/** A fresh instance of a named source (some keep state between polls: a session, a cache). */
export function createSource(name: LiveSourceName): SocketSource {
  switch (name) {
    case 'ss':
      return ssSource;
    case 'procfs':
      return procfsSource;
    case 'netstat':
      return new WindowsNetstatSource();
    case 'powershell':
      return new PowerShellSource();
    case 'systeminformation':
      return new SystemInformationSource();
    case 'conntrack':
      return new ConntrackSource();
    case 'netlink':
      return new NetlinkSource();
  }
}

/**
 * Whether `auto` tries the netlink (sock_diag) source before ss. Off for now: the netlink source is
 * opt-in (`--source netlink`) until it has run beside ss on more kernels; the order with it first
 * (netlink → ss → procfs, one notice on a fallback) is tested through SourceSelector's options.
 */
export const NETLINK_FIRST_IN_AUTO = false;

export interface AutoOptions {
  netlinkFirst?: boolean;
  /** The netlink source's own options (tests inject a refused or missing library). */
  netlink?: NetlinkSourceOptions;
}

/**
 * What `auto` tries, richest first. Linux: ss has tcp_info (activity, RTT, backoff), procfs states
 * and timers only. Windows: netstat, enriched with Get-NetTCPConnection's creation times where
 * PowerShell answers. Elsewhere (macOS, BSD): the systeminformation library.
 */
export function autoOrder(os: string, procRoot: string, autoOptions: AutoOptions = {}): SocketSource[] {
  if (os === 'win32') return [new WindowsNetstatSource({ enrichWithPowerShell: true }), new SystemInformationSource()];
  // A non-default proc root is a foreign /proc (a container's host view) that `ss` and sock_diag cannot see.
  if (os === 'linux') {
    if (procRoot !== '/proc') return [procfsSource];
    return autoOptions.netlinkFirst ? [new NetlinkSource(autoOptions.netlink), ssSource, procfsSource] : [ssSource, procfsSource];
  }
  return [new SystemInformationSource()];
}

// What the user loses when auto falls back to a source.
const FALLBACKS: Record<string, { shownAs: string; limits?: string }> = {
  procfs: { shownAs: '/proc/net/tcp', limits: 'no activity data: idle and half-close restarts are not measured' },
  ss: { shownAs: 'ss' },
  systeminformation: { shownAs: 'the systeminformation library', limits: 'states and owners only: no idle, no first-sight dwell' },
};

/** One read; a parser's "this is not that tool's output" becomes a failed poll, not a crash. */
async function readFrom(source: SocketSource, platform: Platform, options: SourceOptions): Promise<SourceReading> {
  try {
    return await source.read(platform, options);
  } catch (error) {
    if (error instanceof UnusableInputError) throw new SourceError(`${source.name}: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Reads through the chosen source. With `auto`, a missing tool degrades to the next source once,
 * with one notice, and the choice sticks for later polls.
 */
export class SourceSelector implements ReadingProvider {
  private resolved: SocketSource | undefined;
  private readonly candidates: SocketSource[];
  private pendingNotice: string | undefined;
  readonly pending = 0;
  readonly describesThisHost = true;

  constructor(
    private readonly choice: SourceChoice,
    private readonly platform: Platform,
    private readonly options: SourceOptions,
    autoOptions: AutoOptions = { netlinkFirst: NETLINK_FIRST_IN_AUTO },
  ) {
    if (choice !== 'auto') {
      const wrongOs = wrongOsReason(choice, platform.os);
      if (wrongOs) throw new SourceError(wrongOs);
    }
    this.candidates = choice === 'auto' ? autoOrder(platform.os, options.procRoot, autoOptions) : [createSource(choice)];
    if (this.candidates.length === 1) this.resolved = this.candidates[0];
  }

  get name(): string {
    return this.resolved?.name ?? this.choice;
  }

  get ownersInRows(): boolean {
    return this.resolved?.ownersInRows ?? false;
  }

  async read(): Promise<SourceReading> {
    if (this.resolved) return this.withNotice(requireTable(await readFrom(this.resolved, this.platform, this.options)));
    let lastError: SourceError | undefined;
    for (const source of this.candidates) {
      try {
        const reading = await readFrom(source, this.platform, this.options);
        this.resolved = source;
        for (const other of this.candidates) if (other !== source) other.close?.();
        const fallback = FALLBACKS[source.name];
        if (lastError) this.pendingNotice = `${lastError.message}; using ${fallback?.shownAs ?? source.name} instead${fallback?.limits ? ` (${fallback.limits})` : ''}`;
        // The source answered, so it is the one chosen; an answer with nothing in it is still a failed poll.
        return this.withNotice(requireTable(reading));
      } catch (error) {
        if (!(error instanceof SourceUnavailableError)) throw error;
        lastError = error;
      }
    }
    throw lastError ?? new SourceError('no source available');
  }

  close(): void {
    for (const source of this.candidates) source.close?.();
  }

  private withNotice(reading: SourceReading): SourceReading {
    if (!this.pendingNotice) return reading;
    const notice = this.pendingNotice;
    this.pendingNotice = undefined;
    return { ...reading, notices: [notice, ...reading.notices] };
  }
}
