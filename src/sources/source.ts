import type { Protocol } from '../core/address.js';
import type { NetnsLabel, SocketRow } from '../core/connection.js';
import type { HostFacts } from '../core/diagnosis.js';
import type { FirstSightScreen } from '../core/first-sight-screen.js';
import type { TcpState } from '../core/tcp-state.js';
import type { Platform } from '../platform/platform.js';
import type { NetnsChoice } from './netns-choice.js';
import type { LiveSourceName } from './registry.js';
import type { OwnerFinder, SourceCapabilities } from './source-record.js';

/** A live source, or `input` for captured files. */
export type SourceName = LiveSourceName | 'input';

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
  /** `--netns`: namespaces (inodes) that exist but could not be read: their flows are kept, not closed. */
  unreadNetns?: number[];
  /**
   * A source whose rows carry their owners (`--netns`: looked up per namespace at each read) could
   * not read some of them (permission denied, a failed read): a rule on process names is not judged there.
   */
  ownersHidden?: boolean;
  /**
   * Parts not read that no protocol or namespace inode names, one whole phrase each (`--netns all`:
   * processes whose namespace link could not be read): "nothing flagged" is not proven there.
   */
  unreadParts?: string[];
  /**
   * Sessions read whose dwell at first sight is not known, one whole phrase each (a SYN_RECEIVED
   * whose timeout count, in /proc/net/tcp, could not be read: request-sockets.ts). They are in
   * `rows`, so nothing is missing from the table; but a dwell taken for 0 proves nothing flagged.
   */
  dwellUnknown?: string[];
  /** `--netns`: namespaces read before and gone now (their connections close in this poll). */
  goneNetns?: NetnsLabel[];
  /**
   * The states the table was read for (a kernel-filtered dump, ReadRequest.states); absent: every
   * state. A source that cannot filter reads every state and leaves it absent.
   */
  states?: TcpState[];
  /** ReadRequest.screen: the sockets left out of `rows`; absent: every socket read is a row. */
  leftOut?: LeftOutConnections;
}

/**
 * What one poll asks of a source (tiered polling). Sources that cannot filter (procfs, conntrack,
 * Windows, `--netns`) read the whole table and say so (SourceReading.states absent).
 */
export interface ReadRequest {
  /** Only these states, filtered in the kernel (netlink: idiag_states; ss: its `state` filter); absent: every state. */
  states?: readonly TcpState[];
  /**
   * `--netns`: whether the caller already holds connections of this namespace (by inode), which
   * it keeps as they were when the namespace cannot be read; absent: nothing is held from before
   * this source's own readings (a one-shot command's first and only poll).
   */
  holdsNetns?: (inode: number) => boolean;
  /**
   * The caller keeps no row of a reading past the next one (Snapshot.rowsInPlace): a source may hand
   * back the rows of its last reading, updated in place, for sockets it lists again unchanged in
   * state, instead of new rows (netlink: no object per row for them). Others ignore it.
   */
  reuseRows?: boolean;
  /**
   * A one-shot reading with no history (check's first and only poll): a source that judges each
   * socket from its kernel message (netlink) may leave out the ones this screen passes, counting
   * them per state instead of making rows (SourceReading.leftOut). Others ignore it.
   */
  screen?: FirstSightScreen;
}

/**
 * The sockets a screened reading left out of `rows` (ReadRequest.screen): unflagged, read by
 * nothing but their state's count. The rows it kept hold every state's possible first one
 * (core/first-sight-screen.ts StateFirsts).
 */
export interface LeftOutConnections {
  /** Per state, the sockets left out (as they stand after rowsTo). */
  readonly counts: ReadonlyMap<TcpState, number>;
  /**
   * The left-out sockets to the peers a group finding may be about with these host facts
   * (GroupPeerCount over every socket read), as rows, no longer counted in `counts`: the diagnosis
   * reads every connection to such a peer. Called once, before the rows are tracked.
   */
  rowsTo(facts: HostFacts): SocketRow[];
}

export interface SourceOptions {
  /** Where procfs is mounted: /proc, or the host's /proc inside a container (e.g. /host/proc). */
  procRoot: string;
  /** `--netns`: read these network namespaces (sources with the `netns` capability) instead of this process's own. */
  netns?: NetnsChoice;
}

export interface SocketSource {
  name: SourceName;
  /** Throws SourceError when nothing usable could be read; SourceUnavailableError when the tool is missing. */
  read(platform: Platform, options: SourceOptions, request?: ReadRequest): Promise<SourceReading>;
  /** Ends what the source keeps running between polls (a PowerShell session). */
  close?(): void;
}

/** One source's read within a poll: for its success and duration metric. */
export interface SourceRead {
  source: SourceName;
  ok: boolean;
  durationMs: number;
}

/**
 * What a Monitor reads from: the live source it chose, or captured files replayed in time order.
 * It gives what its source can besides rows (capabilities): owners, host facts.
 */
export interface ReadingProvider {
  readonly name: string;
  /** One reading; `request` is what the poll asks for (a reading may cover more, never less). */
  read(request?: ReadRequest): Promise<SourceReading>;
  /** Where owners come from and whether host facts exist, for the latest reading; undefined before `auto` has chosen. */
  readonly capabilities: Pick<SourceCapabilities, 'owners' | 'hostFacts'> | undefined;
  /** The owner lookup of the latest reading's source (capability `lookup`); undefined otherwise. */
  readonly owners: OwnerFinder | undefined;
  /** Why owners cannot be known where the source would look them up (a --proc-root that is not one); undefined otherwise. */
  readonly ownersUnknown?: string | undefined;
  /** Starts the owner lookup's reads for the next evaluation now, where the source looks owners up (OwnerFinder.prefetch). */
  prefetchOwners?(): void;
  /** Kernel settings of the host the rows came from; {} where the source gives none. */
  hostFacts(): Promise<HostFacts>;
  /** Each source read by the latest read(), in order (auto's fallbacks too). */
  readonly lastReads: readonly SourceRead[];
  /** Readings still queued (captured files); 0 for a live source, which always has one more. */
  readonly pending: number;
  /** The rows come from this machine (not captured files). */
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
