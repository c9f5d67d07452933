import type { Protocol } from '../core/address.js';
import type { SocketRow } from '../core/connection.js';
import type { Platform } from '../platform/platform.js';

export const SOURCE_NAMES = ['auto', 'ss', 'procfs', 'netstat', 'powershell', 'systeminformation', 'conntrack', 'netlink'] as const;
export type SourceChoice = (typeof SOURCE_NAMES)[number];
/** A live source, or `input` for captured files. */
export type SourceName = Exclude<SourceChoice, 'auto'> | 'input';

/** One read of a socket table. */
export interface SourceReading {
  source: SourceName;
  /** When the table was taken, where it says so itself (a captured file); otherwise the poll's time. */
  takenAtMs?: number;
  rows: SocketRow[];
  /** Protocols read in full (a flow of another protocol missing from `rows` is not closed). */
  completeProtocols: Protocol[];
  /** Degraded but usable: skipped lines, one table unreadable. Shown to the user, never fatal. */
  notices: string[];
  /**
   * With no rows: the table was read and is empty — the tool printed its header (ss, the
   * /proc/net/tcp `sl` line), the kernel file was read whole (nf_conntrack), netstat listed only
   * other protocols — and no line failed to parse. Absent, a reading with no rows is a failed
   * poll: read nothing is never "nothing is wrong".
   */
  emptyTableProven?: boolean;
}

export interface SourceOptions {
  /** Where procfs is mounted: /proc, or the host's /proc inside a container (e.g. /host/proc). */
  procRoot: string;
}

export interface SocketSource {
  name: SourceName;
  /** Throws SourceError when nothing usable could be read; SourceUnavailableError when the tool is missing. */
  read(platform: Platform, options: SourceOptions): Promise<SourceReading>;
  /** Rows carry their owners (pid, and usually the name): no lookup through this host's /proc. */
  readonly ownersInRows?: boolean;
  /** Ends what the source keeps running between polls (a PowerShell session). */
  close?(): void;
}

/** What a Monitor reads from: the live source it chose, or captured files replayed in time order. */
export interface ReadingProvider {
  readonly name: string;
  read(): Promise<SourceReading>;
  /** Whether the rows of the latest reading carry their owners. */
  readonly ownersInRows: boolean;
  /** Readings still queued (captured files); 0 for a live source, which always has one more. */
  readonly pending: number;
  /** Host facts (/proc/sys) describe the machine the rows came from. */
  readonly describesThisHost: boolean;
  close(): void;
}

/** The source could not be read at all: `check` reports UNKNOWN. */
export class SourceError extends Error {
  override name = 'SourceError';
}

/** The source is not installed here (e.g. no `ss`): `auto` moves on to the next one. */
export class SourceUnavailableError extends SourceError {
  override name = 'SourceUnavailableError';
}

export function summarizeProblems(what: string, problems: readonly { line: number; message: string }[]): string[] {
  if (problems.length === 0) return [];
  const first = problems[0]!;
  return [`${what}: skipped ${problems.length} malformed line${problems.length === 1 ? '' : 's'} (first: line ${first.line}: ${first.message})`];
}

/** Host uptime from /proc/uptime, to reject impossible kernel timestamps; undefined if unreadable. */
export async function readUptimeMs(platform: Platform, procRoot: string): Promise<number | undefined> {
  try {
    const seconds = Number((await platform.readText(`${procRoot}/uptime`)).split(/\s+/)[0]);
    return Number.isFinite(seconds) ? seconds * 1000 : undefined;
  } catch {
    return undefined;
  }
}
