import { parseAddressBytes } from './address.js';
import type { SocketRow } from './connection.js';
import { SEVERITY_RANK, evaluateConnection, evaluateCounts, type CountFlag, type Flag, type FlagKind, type Measures, type Policy, type Severity } from './policy.js';
import { ALL_TCP_STATES, type TcpState } from './tcp-state.js';
import { timingOf, type ConnectionTiming, type TrackedConnection, type TrackerState } from './tracker.js';

export interface Owner {
  pid: number;
  process: string;
}

/** One connection as every front end sees it: tracked history, timing and flag at one moment. */
export interface ConnectionView {
  connection: TrackedConnection;
  /** The latest row, with its owner where it was resolved. */
  row: SocketRow;
  timing: ConnectionTiming;
  flag?: Flag | CountMembership;
}

/** A connection flagged only because its group is over a count threshold. */
export interface CountMembership {
  kind: 'count';
  severity: CountFlag['severity'];
  rule: string;
  group: string;
  count: number;
  thresholdCount: number;
}

export interface Evaluation {
  views: ConnectionView[];
  countFlags: CountFlag[];
}

/** What owner lookup found for one connection: its inode (completed from procfs where the source printed none) and owner. */
export interface Ownership {
  inode: number;
  owner?: Owner;
}

export function withOwnership(row: SocketRow, found: Ownership | undefined): SocketRow {
  if (!found || (!found.owner && row.inode !== undefined)) return row;
  return new RowWithOwner(row, row.inode ?? found.inode, found.owner);
}

interface RowWithOwner extends SocketRow {}

/**
 * A copy of a row with its inode and owner: the row's fields in their order, then `pid` and
 * `process`. Made by a constructor, not a spread: V8 gives a spread copy no room for the fields
 * added after it, and each such copy then costs a map of its own (~1.9 KB a netlink row against
 * ~0.5 KB, measured at 8,000 rows; every row is copied so when a rule matches process names).
 */
class RowWithOwner {
  constructor(row: SocketRow, inode: number, owner: Owner | undefined) {
    Object.assign(this, row);
    this.inode = inode;
    if (owner) {
      this.pid = owner.pid;
      this.process = owner.process;
    }
  }
}

export interface EvaluateOptions {
  /** Owners found by lookup, by connection key. */
  ownership?: ReadonlyMap<string, Ownership>;
  /**
   * Views in presentation order (sortViews), the default. Modes that show no list in that order
   * (serve, watch, the dashboard, which sorts by its own column) skip it: at 100,000 rows the sort
   * is a third of the evaluation.
   */
  ranked?: boolean;
}

/** Evaluates every tracked connection at `now`: timing, per-session flag, count flags. */
export function evaluateAll(state: TrackerState, now: number, policy: Policy, options: EvaluateOptions = {}): Evaluation {
  const { ownership, ranked = true } = options;
  const views: ConnectionView[] = [];
  for (const connection of state.connections.values()) {
    const row = ownership ? withOwnership(connection.row, ownership.get(connection.key)) : connection.row;
    const timing = timingOf(connection, now);
    const view: ConnectionView = { connection, row, timing };
    const flag = evaluateConnection(policy, { row, dwellMs: timing.dwellMs, halfCloseTimerMs: timing.halfCloseTimerMs, idleMs: timing.idleMs });
    if (flag) view.flag = flag;
    views.push(view);
  }
  const countFlags =
    policy.counts.length === 0
      ? []
      : evaluateCounts(
          policy,
          views.map((v) => ({ key: v.connection.key, row: v.row })),
        );
  if (countFlags.length > 0) {
    const byKey = new Map(views.map((v) => [v.connection.key, v]));
    for (const countFlag of countFlags) {
      for (const key of countFlag.members) {
        const view = byKey.get(key);
        if (!view || (view.flag && SEVERITY_RANK[view.flag.severity] >= SEVERITY_RANK[countFlag.severity])) continue;
        view.flag = {
          kind: 'count',
          severity: countFlag.severity,
          rule: countFlag.rule,
          group: countFlag.group,
          count: countFlag.count,
          thresholdCount: countFlag.thresholdCount,
        };
      }
    }
  }
  return { views: ranked ? sortViews(views) : views, countFlags };
}

/** What `forEachEvaluated` hands over for one connection; the same object for every call (copy what you keep). */
export interface EvaluatedConnection {
  connection: TrackedConnection;
  row: SocketRow;
  /** timingOf(connection, now).dwellMs. */
  dwellMs: number;
  /** The connection's own flag (evaluateConnection), as evaluateAll gives it before count rules. */
  flag: Flag | undefined;
}

/**
 * Each tracked connection's row, dwell and flag at `now`, exactly as evaluateAll computes them,
 * without a view or timing object per connection: for front ends that only count (serve's metrics).
 * At 100,000 connections evaluateAll allocates two objects a connection at every poll (~10 MB),
 * which outlive a scavenge and are promoted, so the old generation grew by that at each poll.
 * `visit` gets one reused object. Count rules are not applied (a member's flag may become a count
 * membership): with `policy.counts` set, callers use evaluateAll.
 */
export function forEachEvaluated(state: TrackerState, now: number, policy: Policy, visit: (evaluated: EvaluatedConnection) => void): void {
  const measures: Measures = { row: undefined as unknown as SocketRow, dwellMs: 0, halfCloseTimerMs: 0, idleMs: undefined };
  const evaluated: EvaluatedConnection = { connection: undefined as unknown as TrackedConnection, row: measures.row, dwellMs: 0, flag: undefined };
  for (const connection of state.connections.values()) {
    // timingOf's arithmetic, in locals.
    const seenAtMs = Math.min(now, connection.lastSeenMs);
    const dwellMs = Math.max(0, seenAtMs - connection.stateSinceMs);
    const lastActivityMs = connection.lastActivityMs;
    const lastPeerSegmentMs = connection.lastPeerSegmentMs;
    measures.row = connection.row;
    measures.dwellMs = dwellMs;
    measures.halfCloseTimerMs = lastPeerSegmentMs === undefined ? dwellMs : Math.min(dwellMs, Math.max(0, seenAtMs - lastPeerSegmentMs));
    measures.idleMs = lastActivityMs === undefined ? undefined : Math.max(0, seenAtMs - lastActivityMs);
    evaluated.connection = connection;
    evaluated.row = connection.row;
    evaluated.dwellMs = dwellMs;
    evaluated.flag = evaluateConnection(policy, measures);
    visit(evaluated);
  }
}

/**
 * Presentation order, the one `list --numbered` shows and `explain N` counts: flagged first
 * (critical, then warning), then the earliest entry into the state (the longest dwell), then the
 * flow in numeric order (local address, local port, remote address, remote port).
 *
 * The entry time is compared in whole seconds of the clock, not in milliseconds of dwell: dwells
 * derived from kernel counters land a few hundred ms apart from poll to poll (the counters tick in
 * jiffies, ss prints timers in whole seconds, and the reading takes time), and a dwell moves with
 * the poll time, so two sessions less than a second apart swapped places between `list` and
 * `explain`. A second of the clock does not move with the poll time; within it the order is the
 * flow's, which does not move at all. (So a row shown 54s may precede one shown 55s: both entered
 * their states within the same second.)
 *
 * A total order on distinct connections; sorts `views` in place and returns it.
 */
export function sortViews(views: ConnectionView[]): ConnectionView[] {
  // One sort address per distinct address, not two per row: a host's 100,000 connections have
  // a few local addresses and far fewer peers than connections.
  const addresses = new Map<string, SortAddress>();
  const sortAddressOf = (text: string) => {
    let address = addresses.get(text);
    if (!address) addresses.set(text, (address = sortAddress(text)));
    return address;
  };
  const ranked = views.map((view) => {
    const { row } = view.connection;
    return {
      view,
      severity: view.flag ? SEVERITY_RANK[view.flag.severity] : 0,
      enteredSecond: Math.floor(view.connection.stateSinceMs / 1000),
      local: sortAddressOf(row.local.address),
      localPort: row.local.port,
      remote: sortAddressOf(row.remote.address),
      remotePort: row.remote.port,
      key: view.connection.key,
    };
  });
  // Every comparison numeric but the last: at 100,000 rows a sort is 1.7M comparisons, and
  // comparing address text (or keys built from it) took several times the whole old sort.
  ranked.sort(
    (a, b) =>
      b.severity - a.severity ||
      a.enteredSecond - b.enteredSecond ||
      compareSortAddresses(a.local, b.local) ||
      a.localPort - b.localPort ||
      compareSortAddresses(a.remote, b.remote) ||
      a.remotePort - b.remotePort ||
      // The same endpoints: tcp and tcp6, or rows the instance tells apart. The key is unique.
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  for (let i = 0; i < ranked.length; i++) views[i] = ranked[i]!.view;
  return views;
}

export type CheckStatus = 'ok' | 'warning' | 'critical' | 'unknown';

export function statusOf(evaluation: Evaluation): CheckStatus {
  let status: CheckStatus = 'ok';
  for (const view of evaluation.views) {
    if (view.flag?.severity === 'critical') return 'critical';
    if (view.flag) status = 'warning';
  }
  for (const flag of evaluation.countFlags) {
    if (flag.severity === 'critical') return 'critical';
    status = 'warning';
  }
  return status;
}

/** Connections per state, every state present (zero included), in ALL_TCP_STATES order. */
export function countStates(views: readonly ConnectionView[]): Map<TcpState, number> {
  const counts = new Map<TcpState, number>(ALL_TCP_STATES.map((s) => [s, 0]));
  for (const view of views) counts.set(view.row.state, counts.get(view.row.state)! + 1);
  return counts;
}

export const FLAG_KINDS: readonly FlagKind[] = ['half-open', 'half-close', 'idle', 'count'];

/** Flags by kind and severity: sessions flagged on their own, and groups over a count limit. */
export function tallyFlags(evaluation: { readonly views: readonly ConnectionView[]; readonly countFlags: readonly CountFlag[] }): Record<FlagKind, Record<Severity, number>> {
  const tally = Object.fromEntries(FLAG_KINDS.map((k) => [k, { warning: 0, critical: 0 }])) as Record<FlagKind, Record<Severity, number>>;
  for (const view of evaluation.views) if (view.flag && view.flag.kind !== 'count') tally[view.flag.kind][view.flag.severity]++;
  for (const flag of evaluation.countFlags) tally.count[flag.severity]++;
  return tally;
}

/** Warnings and criticals of one kind together. */
export function flaggedOfKind(tally: Record<FlagKind, Record<Severity, number>>, kind: FlagKind): number {
  return tally[kind].warning + tally[kind].critical;
}

/**
 * An address in numeric order: the family (4 before 6 before 9, text that is no address, e.g. a
 * host name netstat printed), then the 128 bits as four 32-bit words (IPv4 in the last), then the text.
 */
interface SortAddress {
  family: 4 | 6 | 9;
  words: [number, number, number, number];
  text: string;
}

function compareSortAddresses(a: SortAddress, b: SortAddress): number {
  if (a.text === b.text) return 0;
  return (
    a.family - b.family ||
    a.words[0] - b.words[0] ||
    a.words[1] - b.words[1] ||
    a.words[2] - b.words[2] ||
    a.words[3] - b.words[3] ||
    // The same bytes spelt two ways (a zone index), or two names.
    (a.text < b.text ? -1 : a.text > b.text ? 1 : 0)
  );
}

/**
 * Reads an address for sorting, character by character for the common forms: parseAddressBytes
 * costs several µs an address, more than the whole sort's share per row at 100,000 rows.
 */
function sortAddress(text: string): SortAddress {
  const v4 = text.includes(':') ? undefined : ipv4Word(text);
  if (v4 !== undefined) return { family: 4, words: [0, 0, 0, v4], text };
  const v6 = text.includes(':') ? ipv6Words(text) : undefined;
  if (v6 !== undefined) return { family: 6, words: v6, text };
  // Mapped IPv4 tails, zone indexes: the full reader. Anything else is text.
  const bytes = parseAddressBytes(text);
  if (bytes === undefined) return { family: 9, words: [0, 0, 0, 0], text };
  const word = (i: number) => bytes[i]! * 2 ** 24 + bytes[i + 1]! * 2 ** 16 + bytes[i + 2]! * 2 ** 8 + bytes[i + 3]!;
  return bytes.length === 4 ? { family: 4, words: [0, 0, 0, word(0)], text } : { family: 6, words: [word(0), word(4), word(8), word(12)], text };
}

/** Dotted-quad text as one unsigned 32-bit number; undefined for anything else. */
function ipv4Word(text: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else return undefined;
  }
  return dots === 3 && digits > 0 ? value * 256 + octet : undefined;
}

/** Hex-and-colon IPv6 text as four 32-bit words; undefined for anything else (a dotted tail, a zone). */
function ipv6Words(text: string): [number, number, number, number] | undefined {
  const groups: number[] = [];
  const gap = text.indexOf('::');
  if (gap < 0) {
    if (!readHexGroups(text, 0, text.length, groups) || groups.length !== 8) return undefined;
  } else {
    if (!readHexGroups(text, 0, gap, groups)) return undefined;
    const head = groups.length;
    if (!readHexGroups(text, gap + 2, text.length, groups) || groups.length > 7) return undefined;
    const tail = groups.length - head;
    groups.length = 8;
    for (let i = 0; i < tail; i++) groups[7 - i] = groups[head + tail - 1 - i]!;
    for (let i = head; i < 8 - tail; i++) groups[i] = 0;
  }
  return [groups[0]! * 65536 + groups[1]!, groups[2]! * 65536 + groups[3]!, groups[4]! * 65536 + groups[5]!, groups[6]! * 65536 + groups[7]!];
}

/** Groups of 1–4 hex digits between single colons in text[from, to), appended to `groups`; false on anything else. */
function readHexGroups(text: string, from: number, to: number, groups: number[]): boolean {
  if (from === to) return true;
  let word = 0;
  let digits = 0;
  for (let i = from; i <= to; i++) {
    const c = i < to ? text.charCodeAt(i) : 58;
    const hex = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (hex >= 0) {
      word = word * 16 + hex;
      if (++digits > 4) return false;
    } else if (c === 58 && digits > 0) {
      groups.push(word);
      word = 0;
      digits = 0;
    } else return false;
  }
  return true;
}
