import type { Protocol } from '../core/address.js';
import type { ParseProblem, SocketRow } from '../core/connection.js';
import type { HostFacts } from '../core/diagnosis.js';
import type { Ownership } from '../core/evaluate.js';
import type { StateVocabulary } from '../core/state-vocabularies.js';
import type { TcpState } from '../core/tcp-state.js';
import type { Platform } from '../platform/platform.js';
import type { NetlinkSourceOptions } from './linux/netlink.js';
import type { SocketSource, SourceOptions } from './source.js';

// What one source is, in one record: the registry (registry.ts) lists the records, and `auto`,
// `tcpdwell sources`, the `--source` and `--input-format` choices, format detection and the
// README's sources table are derived from them. A record lives beside its source's own files.

/**
 * Where a row's owning process comes from. `lookup`: the source finds owners for the rows asked
 * (Linux: inode → /proc/<pid>/fd), at a cost, so only for the rows a front end needs; `in-rows`:
 * every row carries its pid (Windows, the library); `none`: no process exists (conntrack flows).
 */
export type OwnerCapability = 'lookup' | 'in-rows' | 'none';

/** What a source can give besides rows: declared here, given through LiveSource's functions. */
export interface SourceCapabilities {
  owners: OwnerCapability;
  /** Kernel settings for the diagnosis (ephemeral port range, tcp_fin_timeout) of the table's host. */
  hostFacts: boolean;
  /** Last send/receive/peer segment per connection: idle and the half-close restart are measured. */
  activity: boolean;
  /** States whose dwell the kernel's own data bounds at the first poll, before any history. */
  firstSight: readonly TcpState[];
  /** `--netns`: it can read another network namespace's table (netlink opening its socket there from a worker thread, ss through nsenter, /proc/<pid>/net). */
  netns?: boolean;
}

/** Owners of rows, in the rows' order (inode completed where the source printed none). */
export interface OwnerAnswer {
  ownership: Ownership[];
  /** Some owners could not be looked up for lack of permission (not root). */
  permissionDenied: boolean;
}

/** A source's owner lookup (capability `lookup`); it may cache between polls. */
export interface OwnerFinder {
  find(rows: readonly SocketRow[]): Promise<OwnerAnswer>;
  /** Starts what the next find() will read (a one-shot command asks before its poll); used by that find only. */
  prefetch?(): void;
  /** Stops a prefetch no find() has used. */
  close?(): void;
}

/** Whether a source can be read on this machine. */
export interface Availability {
  available: boolean;
  /** Why not, or a caveat. */
  reason?: string;
}

/** How the source's captured output (`--input`) is recognised and parsed. Pure. */
export interface InputParser<F extends string = string> {
  /** The `--input-format` name. */
  format: F;
  /** Position among the `--input-format` choices (lower first). */
  choiceRank: number;
  /** Recognises the whole text at once, before any line is scored (a format no other tool's words fit). */
  detectWhole?: (body: string) => boolean;
  /** Matches its data rows (or header) and no other format's; each line counts for the first format that matches. */
  detect?: RegExp;
  /** The order formats try a line (lower first). */
  detectRank: number;
  /** The tool's header: a capture holding only it is an empty table. */
  emptyTableHeader?: RegExp;
  /** Of a header-only capture: the protocols it proves empty (default both). */
  emptyTableProtocols?: (body: string) => Protocol[];
  /** The parser throws on text without a line of the table itself: its not throwing proves a table. */
  needsTableLine?: boolean;
  /** Text (our `# captured at` line blanked, LF line ends) → rows; throws UnusableInputError when unusable. */
  parse(body: string, context: { takenAtMs: number; label: string }): ParsedInput;
}

export interface ParsedInput {
  rows: SocketRow[];
  problems: ParseProblem[];
  /** Notices of the format's own (a conntrack trailer, a cut column). */
  notices?: string[];
  /** Protocols listed in full; default both. */
  completeProtocols?: Protocol[];
}

/** The text each source shows in `tcpdwell sources` (its JSON field names are public). */
export interface SourceSummary {
  platforms: string;
  owners: string;
  activity: string;
  firstSightDwell: string;
}

/** One row of the README's sources table (Markdown). */
export interface SourceDocs {
  title: string;
  reads: string;
  pid: string;
  activity: string;
  firstSight: string;
}

/** Options of `--source auto` (the selector's): which sources it tries, and with what. */
export interface AutoOptions {
  /** Try the netlink (sock_diag) source before ss; default NETLINK_FIRST_IN_AUTO (linux/records.ts) where the platform opens kernel sockets. */
  netlinkFirst?: boolean;
  /** Whether the platform opens kernel sockets (Platform.kernelSockets; false in test fakes). */
  kernelSockets?: boolean;
  /** The netlink source's own options (tests inject a refused or missing library). */
  netlink?: NetlinkSourceOptions;
}

/** What `--source auto` does with a source. */
export interface AutoEntry {
  /** Lower first, among the sources made for this OS. */
  rank: number;
  /** Further condition (e.g. ss only with the real /proc). */
  when?: (os: string, procRoot: string, options: AutoOptions) => boolean;
  /** The instance auto reads through, where it differs from `--source NAME`'s. */
  create?: (options: AutoOptions) => SocketSource;
  /** Said once when auto falls back to this source: what it is called and what is lost. */
  fallback?: { shownAs: string; limits?: string };
}

/** A source that reads this machine (`--source NAME`). */
export interface LiveSource {
  /** Node's `process.platform` it is made for; undefined: any. */
  os?: 'linux' | 'win32';
  capabilities: SourceCapabilities;
  summary: SourceSummary;
  docs: SourceDocs;
  /** Cheap check that it can be read here (no full table is read). */
  probe(platform: Platform, options: SourceOptions): Promise<Availability>;
  /** A fresh instance (some keep state between polls: a session, a cache). */
  create(): SocketSource;
  auto?: AutoEntry;
  /** With capability `lookup`: the owner lookup for this source's rows. */
  owners?(platform: Platform, options: SourceOptions): OwnerFinder;
  /** With capability `hostFacts`: the settings of the host the rows came from. */
  hostFacts?(platform: Platform, options: SourceOptions): Promise<HostFacts>;
  /** Why it can read nothing, where that is not plain (said when a poll read no table). */
  nothingReadHint?: string;
  /**
   * Reads the table of this process's own network namespace through a kernel interface (a netlink
   * socket answers for the namespace its thread is in), not a file under `--proc-root`: with another
   * proc root, only owners and host facts come from there (said once).
   */
  readsOwnNamespace?: boolean;
}

export interface SourceRecord<N extends string = string, F extends string = string> {
  /** `--source` name for a live source; otherwise the name of the tool whose captures it reads. */
  name: N;
  /** The state vocabulary (core/state-vocabularies) its words map through. */
  vocabulary: StateVocabulary;
  live?: LiveSource;
  input?: InputParser<F>;
}

/** Keeps a record's names, and whether it is live or has an input parser, in its type (for the `--source` and `--input-format` unions). */
export function defineSource<const R extends SourceRecord>(record: R): R {
  return record;
}
