import { parseAddressBytes } from './address.js';
import { connectionKey, socketsOf, type SocketRow } from './connection.js';
import {
  SEVERITY_RANK,
  countReachOfUnreadOwners,
  evaluateConnection,
  evaluateConnectionInto,
  evaluateCounts,
  type CountFlag,
  type Flag,
  type FlagKind,
  type Measures,
  type Policy,
  type Severity,
  unreadOwnerMatters,
  severityAnyOwner,
} from './policy.js';
import { ALL_TCP_STATES, type TcpState } from './tcp-state.js';
import { timingOf, writeTiming, type ConnectionTiming, type TrackedConnection, type TrackerState } from './tracker.js';

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
  /**
   * The connection's own flag (half-open, half-close, idle) where it has one; else, where it is a
   * member of a group over a count limit, that membership (`kind: 'count'`, the same object as
   * `countFlag`). So `flag` is set exactly when the connection is flagged at all, and `flag.kind`
   * names its own flag wherever one exists: a count rule never hides it (its severity is its own;
   * severityOfView gives the higher of the two).
   */
  flag?: Flag | CountMembership;
  /**
   * Its membership in a group over a count limit (the most severe such group where it is in
   * several), whether or not it has a flag of its own; undefined when it is in none.
   */
  countFlag?: CountMembership;
}

/** A connection's membership in a group over a count threshold. */
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

/**
 * withOwnership(row, found) written into `row` itself where that needs no inode of the lookup's:
 * the row then has the pid and process withOwnership's copy would have. False (nothing written)
 * for a row without its inode, which only a copy may be given.
 */
export function ownerIntoRow(row: SocketRow, found: Ownership | undefined): boolean {
  if (!found) return true;
  if (row.inode === undefined) return false;
  if (!found.owner) return true;
  row.pid = found.owner.pid;
  row.process = found.owner.process;
  return true;
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
  /**
   * The views of the last evaluation made with this pool, updated in place: a connection the pool
   * has a view for gets that same view (and timing) object back with this evaluation's row, timing
   * and flag, and no new object; a new connection gets a view the pool keeps. For a front end that
   * evaluates every connection at every poll and holds the views until the next one (the
   * dashboard): at 100,000 rows two new objects a connection (~9 MB a poll) outlived a scavenge
   * and were promoted, growing the old generation at each poll. The views handed out earlier
   * change with each evaluation, so a caller that keeps an evaluation while making the next one
   * must not use a pool.
   */
  views?: ViewPool;
}

/** Views kept between evaluations, by the tracker's record of each connection (see EvaluateOptions.views); a closed connection's view goes with its record. */
export type ViewPool = WeakMap<TrackedConnection, ConnectionView>;

export function newViewPool(): ViewPool {
  return new WeakMap();
}

/**
 * Evaluates every tracked connection at `now`: timing, per-session flag, count flags. A member of
 * a group over a count limit keeps its own flag in `flag` and has the membership in `countFlag`
 * (ConnectionView.flag).
 */
export function evaluateAll(state: TrackerState, now: number, policy: Policy, options: EvaluateOptions = {}): Evaluation {
  const { ownership, ranked = true, views: pool } = options;
  // Sized once: grown by push, a 100,000-row array is copied ~25 times, and each copy past 128 KB
  // is made in the old generation, where it stays until a full GC.
  const views = new Array<ConnectionView>(state.connections.size);
  let count = 0;
  // One object for every connection's measures: evaluateConnection reads it and keeps nothing of it.
  const measures: Measures = { row: undefined as unknown as SocketRow, dwellMs: 0, halfCloseTimerMs: 0, idleMs: undefined };
  for (const connection of state.connections.values()) {
    const row = ownership ? withOwnership(connection.row, ownership.get(connection.key)) : connection.row;
    let view = pool?.get(connection);
    if (view) {
      view.row = row;
      writeTiming(connection, now, view.timing);
    } else {
      // In a pool, the flags' places are made at once: the view keeps one shape when it gains or loses a flag.
      view = pool ? { connection, row, timing: timingOf(connection, now), flag: undefined, countFlag: undefined } : { connection, row, timing: timingOf(connection, now) };
      pool?.set(connection, view);
    }
    const timing = view.timing;
    measures.row = row;
    measures.dwellMs = timing.dwellMs;
    measures.halfCloseTimerMs = timing.halfCloseTimerMs;
    measures.idleMs = timing.idleMs;
    const flag = evaluateConnection(policy, measures);
    if (flag || pool) view.flag = flag;
    if (pool) view.countFlag = undefined;
    views[count++] = view;
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
      // One membership for the group's members (nothing changes it once made).
      const membership: CountMembership = {
        kind: 'count',
        severity: countFlag.severity,
        rule: countFlag.rule,
        group: countFlag.group,
        count: countFlag.count,
        thresholdCount: countFlag.thresholdCount,
      };
      for (const key of countFlag.members) {
        const view = byKey.get(key);
        // The most severe group a connection is in (the first of equals); its own flag stays.
        if (!view || (view.countFlag && SEVERITY_RANK[view.countFlag.severity] >= SEVERITY_RANK[countFlag.severity])) continue;
        view.countFlag = membership;
        if (!view.flag || view.flag.kind === 'count') view.flag = membership;
      }
    }
  }
  return { views: ranked ? sortViews(views) : views, countFlags };
}

/**
 * What `forEachEvaluated` hands over for one connection; the same object for every call (copy what
 * you keep; viewOfEvaluated copies it into the view evaluateAll would give).
 */
export interface EvaluatedConnection {
  connection: TrackedConnection;
  row: SocketRow;
  /** timingOf(connection, now).dwellMs. */
  dwellMs: number;
  /** timingOf(connection, now)'s half-close timer and idle (undefined where the source reports no activity). */
  halfCloseTimerMs: number;
  idleMs: number | undefined;
  /**
   * The connection's own flag (evaluateConnection), as evaluateAll gives it wherever it has one
   * (count rules never replace it there): one object for every call too (copy what you keep).
   */
  flag: Flag | undefined;
}

/**
 * Each tracked connection's row, dwell and flag at `now`, exactly as evaluateAll computes them,
 * without a view or timing object per connection: for front ends that only count (serve's metrics).
 * At 100,000 connections evaluateAll allocates two objects a connection at every poll (~10 MB),
 * which outlive a scavenge and are promoted, so the old generation grew by that at each poll.
 * `visit` gets one reused object. Count rules are not applied (no `countFlag`, and a connection
 * flagged only as a group member is not flagged here): with `policy.counts` set, callers use evaluateAll.
 */
export function forEachEvaluated(state: TrackerState, now: number, policy: Policy, visit: (evaluated: EvaluatedConnection) => void): void {
  const measures: Measures = { row: undefined as unknown as SocketRow, dwellMs: 0, halfCloseTimerMs: 0, idleMs: undefined };
  const evaluated: EvaluatedConnection = { connection: undefined as unknown as TrackedConnection, row: measures.row, dwellMs: 0, halfCloseTimerMs: 0, idleMs: undefined, flag: undefined };
  // One flag for every flagged connection: a Flag each would be made at every poll.
  const flag: Flag = { kind: 'idle', severity: 'warning', thresholdMs: 0, measured: 0, rule: '' };
  for (const connection of state.connections.values()) {
    measures.row = connection.row;
    writeTiming(connection, now, measures);
    evaluated.connection = connection;
    evaluated.row = connection.row;
    evaluated.dwellMs = measures.dwellMs;
    evaluated.halfCloseTimerMs = measures.halfCloseTimerMs;
    evaluated.idleMs = measures.idleMs;
    evaluated.flag = evaluateConnectionInto(policy, measures, flag) ? flag : undefined;
    visit(evaluated);
  }
}

/**
 * The view evaluateAll gives this connection (no ownership, no count rule), from what
 * forEachEvaluated handed over: for the few a front end keeps (a flagged event's session).
 */
export function viewOfEvaluated(evaluated: EvaluatedConnection): ConnectionView {
  const timing: ConnectionTiming = { dwellMs: evaluated.dwellMs, halfCloseTimerMs: evaluated.halfCloseTimerMs, idleMs: evaluated.idleMs };
  const view: ConnectionView = { connection: evaluated.connection, row: evaluated.row, timing };
  const flag = evaluated.flag;
  if (flag) view.flag = { kind: flag.kind, severity: flag.severity, thresholdMs: flag.thresholdMs, measured: flag.measured, rule: flag.rule };
  return view;
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
  // The sort keys in one Float64Array, SORT_COLUMNS numbers a row, and the rows' indexes sorted:
  // no object per row. At 100,000 rows an object per row (and two per address) was ~30 MB a sort
  // that outlived a scavenge and so was promoted, growing the old generation at each of the
  // dashboard's polls; a typed array's memory is outside the heap and freed with it.
  const n = views.length;
  const keys = new Float64Array(n * SORT_COLUMNS);
  // The address texts, for the equal-text shortcut and the text fallback (references, no copies).
  const locals = new Array<string>(n);
  const remotes = new Array<string>(n);
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const view = views[i]!;
    const { row } = view.connection;
    const at = i * SORT_COLUMNS;
    keys[at] = severityRankOfView(view);
    keys[at + 1] = Math.floor(view.connection.stateSinceMs / 1000);
    locals[i] = row.local.address;
    writeSortAddress(row.local.address, keys, at + 2);
    keys[at + 7] = row.local.port;
    remotes[i] = row.remote.address;
    writeSortAddress(row.remote.address, keys, at + 8);
    keys[at + 13] = row.remote.port;
    order[i] = i;
  }
  // Every comparison numeric but the text fallbacks: at 100,000 rows a sort is 1.7M comparisons,
  // and comparing address text (or keys built from it) took several times the whole old sort.
  // The same text is the same address, whose numbers need no reading (most rows of a host share
  // their local address).
  order.sort((i, j) => {
    const a = i * SORT_COLUMNS;
    const b = j * SORT_COLUMNS;
    const byTime = keys[b]! - keys[a]! || keys[a + 1]! - keys[b + 1]!; // severity highest first, then the earlier second
    if (byTime !== 0) return byTime;
    if (locals[i] !== locals[j]) {
      // Else the same bytes spelt two ways (a zone index), or two names: by text.
      const local = compareAddressColumns(keys, a + 2, b + 2) || compareText(locals[i]!, locals[j]!);
      if (local !== 0) return local;
    }
    const localPort = keys[a + 7]! - keys[b + 7]!;
    if (localPort !== 0) return localPort;
    if (remotes[i] !== remotes[j]) {
      const remote = compareAddressColumns(keys, a + 8, b + 8) || compareText(remotes[i]!, remotes[j]!);
      if (remote !== 0) return remote;
    }
    // The same endpoints: tcp and tcp6, or rows the instance tells apart. The key is unique.
    return keys[a + 13]! - keys[b + 13]! || compareText(views[i]!.connection.key, views[j]!.connection.key);
  });
  const before = views.slice();
  for (let i = 0; i < n; i++) views[i] = before[order[i]!]!;
  return views;
}

/** What sortViews compares of two connections after their severity and entry second: the flow. */
export type FlowParts = Pick<SocketRow, 'protocol' | 'local' | 'remote' | 'instance' | 'netns'>;

/** Two addresses' sort numbers (compareFlowOrder's), one array for every call. */
const flowColumns = new Float64Array(10);

/**
 * sortViews' order of two connections that share their severity and entry second: local address,
 * local port, remote address, remote port, then the key (negative: `a` first). The same
 * comparisons sortViews makes, for callers that pick a state's first connection without sorting
 * (the first-sight screen's candidates, core/first-sight-screen.ts).
 */
export function compareFlowOrder(a: FlowParts, b: FlowParts): number {
  if (a.local.address !== b.local.address) {
    writeSortAddress(a.local.address, flowColumns, 0);
    writeSortAddress(b.local.address, flowColumns, 5);
    const local = compareAddressColumns(flowColumns, 0, 5) || compareText(a.local.address, b.local.address);
    if (local !== 0) return local;
  }
  const localPort = a.local.port - b.local.port;
  if (localPort !== 0) return localPort;
  if (a.remote.address !== b.remote.address) {
    writeSortAddress(a.remote.address, flowColumns, 0);
    writeSortAddress(b.remote.address, flowColumns, 5);
    const remote = compareAddressColumns(flowColumns, 0, 5) || compareText(a.remote.address, b.remote.address);
    if (remote !== 0) return remote;
  }
  return a.remote.port - b.remote.port || compareText(connectionKey(a), connectionKey(b));
}

/**
 * The views as sortViews orders them wherever an order is seen by a reader that looks only at the
 * flagged views, at the first view of each state (a state's first appearance) and at the views
 * `alsoRanked` picks: those are ranked (sortViews) in front — every flagged view, each state's
 * unflagged views from its earliest entry second, and the picked ones — and the rest follow in the
 * order given. `ranked` is how many are in front.
 *
 * Why it is the same order there: sortViews is a total order, so any subset keeps in the whole
 * ranking the order it has ranked alone; flagged views rank before every unflagged one; and a
 * state's first view in the whole ranking is its flagged first, else one from its earliest second,
 * which is among those ranked. `check` shows only flagged views, counted states in order of first
 * appearance (JSON `counts`, in TcpState order since: the state firsts are no longer read), and diagnoses with what readByDiagnosis picks: at 40,000 sockets
 * ranking all of them was ~10% of a one-shot check's time (issue 15), against a few thousand here.
 */
export function rankFlaggedFirst(views: readonly ConnectionView[], alsoRanked: (view: ConnectionView) => boolean): { views: ConnectionView[]; ranked: number } {
  const earliest = new Map<TcpState, number>();
  for (let i = 0; i < views.length; i++) {
    const view = views[i]!;
    if (view.flag) continue;
    const second = Math.floor(view.connection.stateSinceMs / 1000); // sortViews' second key
    const known = earliest.get(view.row.state);
    if (known === undefined || second < known) earliest.set(view.row.state, second);
  }
  const front: ConnectionView[] = [];
  const rest: ConnectionView[] = [];
  for (let i = 0; i < views.length; i++) {
    const view = views[i]!;
    const first = !view.flag && Math.floor(view.connection.stateSinceMs / 1000) === earliest.get(view.row.state);
    (view.flag || first || alsoRanked(view) ? front : rest).push(view);
  }
  const ranked = front.length;
  sortViews(front);
  for (let i = 0; i < rest.length; i++) front.push(rest[i]!);
  return { views: front, ranked };
}

/**
 * The higher of a view's own flag's severity and its count membership's (undefined: not flagged):
 * what orders and colours a row. A session flagged warning in a group gone critical is critical
 * here, while `flag.severity` stays its own.
 */
export function severityOfView(view: Pick<ConnectionView, 'flag' | 'countFlag'>): Severity | undefined {
  const rank = severityRankOfView(view);
  return rank === 0 ? undefined : rank === SEVERITY_RANK.critical ? 'critical' : 'warning';
}

/** severityOfView as SEVERITY_RANK's number, 0 when not flagged. */
function severityRankOfView(view: Pick<ConnectionView, 'flag' | 'countFlag'>): number {
  const own = view.flag ? SEVERITY_RANK[view.flag.severity] : 0;
  const group = view.countFlag ? SEVERITY_RANK[view.countFlag.severity] : 0;
  return own > group ? own : group;
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

/**
 * Sockets per state, every state present (zero included), in ALL_TCP_STATES order: one a view,
 * but a listener standing for an SO_REUSEPORT group counts each of its sockets (socketsOf), as
 * `ss -tln` lists them. `leftOut`: connections counted without a view (CheckReport.leftOut), added to their states.
 */
export function countStates(views: readonly ConnectionView[], leftOut?: ReadonlyMap<TcpState, number>): Map<TcpState, number> {
  const counts = new Map<TcpState, number>(ALL_TCP_STATES.map((s) => [s, 0]));
  // Indexed: a loop run once a poll may stay unoptimised, and for…of then allocates an iterator result a row.
  for (let i = 0; i < views.length; i++) {
    const row = views[i]!.row;
    counts.set(row.state, counts.get(row.state)! + socketsOf(row));
  }
  if (leftOut) for (const [state, n] of leftOut) counts.set(state, counts.get(state)! + n);
  return counts;
}

/** How many connections `leftOut` counts (CheckReport.leftOut); 0 for none. */
export function leftOutTotal(leftOut: ReadonlyMap<TcpState, number> | undefined): number {
  let total = 0;
  if (leftOut) for (const n of leftOut.values()) total += n;
  return total;
}

export const FLAG_KINDS: readonly FlagKind[] = ['half-open', 'half-close', 'idle', 'count'];

/** Flags by kind and severity: sessions flagged on their own, and groups over a count limit. */
export function tallyFlags(evaluation: { readonly views: readonly ConnectionView[]; readonly countFlags: readonly CountFlag[] }): Record<FlagKind, Record<Severity, number>> {
  const tally = Object.fromEntries(FLAG_KINDS.map((k) => [k, { warning: 0, critical: 0 }])) as Record<FlagKind, Record<Severity, number>>;
  const views = evaluation.views;
  for (let i = 0; i < views.length; i++) {
    const flag = views[i]!.flag;
    if (flag && flag.kind !== 'count') tally[flag.kind][flag.severity]++;
  }
  for (const flag of evaluation.countFlags) tally.count[flag.severity]++;
  return tally;
}

/** Warnings and criticals of one kind together. */
export function flaggedOfKind(tally: Record<FlagKind, Record<Severity, number>>, kind: FlagKind): number {
  return tally[kind].warning + tally[kind].critical;
}

/**
 * Numbers a row has in sortViews' key array: severity, entry second, the local address (5), local
 * port, the remote address (5), remote port.
 */
const SORT_COLUMNS = 14;

/**
 * An address in numeric order, as 5 numbers from `keys[at]`: the family (4 before 6 before 9, text
 * that is no address, e.g. a host name netstat printed), then the 128 bits as four 32-bit words
 * (IPv4 in the last). Equal numbers fall back to the text (compareText).
 */
function compareAddressColumns(keys: Float64Array, a: number, b: number): number {
  return keys[a]! - keys[b]! || keys[a + 1]! - keys[b + 1]! || keys[a + 2]! - keys[b + 2]! || keys[a + 3]! - keys[b + 3]! || keys[a + 4]! - keys[b + 4]!;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Writes an address's 5 sort numbers (compareAddressColumns) at `keys[at]`, character by character
 * for the common forms: parseAddressBytes costs several µs an address, more than the whole sort's
 * share per row at 100,000 rows.
 */
function writeSortAddress(text: string, keys: Float64Array, at: number): void {
  const v4 = text.includes(':') ? undefined : ipv4Word(text);
  if (v4 !== undefined) return writeWords(keys, at, 4, 0, 0, 0, v4);
  if (text.includes(':') && writeIpv6Words(text, keys, at)) return;
  // Mapped IPv4 tails, zone indexes: the full reader. Anything else is text.
  const bytes = parseAddressBytes(text);
  if (bytes === undefined) return writeWords(keys, at, 9, 0, 0, 0, 0);
  const word = (i: number) => bytes[i]! * 2 ** 24 + bytes[i + 1]! * 2 ** 16 + bytes[i + 2]! * 2 ** 8 + bytes[i + 3]!;
  if (bytes.length === 4) writeWords(keys, at, 4, 0, 0, 0, word(0));
  else writeWords(keys, at, 6, word(0), word(4), word(8), word(12));
}

function writeWords(keys: Float64Array, at: number, family: number, w0: number, w1: number, w2: number, w3: number): void {
  keys[at] = family;
  keys[at + 1] = w0;
  keys[at + 2] = w1;
  keys[at + 3] = w2;
  keys[at + 4] = w3;
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

/** The groups writeIpv6Words reads, reused: one array for every address of a sort. */
const hexGroups: number[] = [];

/** Hex-and-colon IPv6 text as family 6 and four 32-bit words at `keys[at]`; false (nothing written) for anything else (a dotted tail, a zone). */
function writeIpv6Words(text: string, keys: Float64Array, at: number): boolean {
  const groups = hexGroups;
  groups.length = 0;
  const gap = text.indexOf('::');
  if (gap < 0) {
    if (!readHexGroups(text, 0, text.length, groups) || groups.length !== 8) return false;
  } else {
    if (!readHexGroups(text, 0, gap, groups)) return false;
    const head = groups.length;
    if (!readHexGroups(text, gap + 2, text.length, groups) || groups.length > 7) return false;
    const tail = groups.length - head;
    groups.length = 8;
    for (let i = 0; i < tail; i++) groups[7 - i] = groups[head + tail - 1 - i]!;
    for (let i = head; i < 8 - tail; i++) groups[i] = 0;
  }
  writeWords(keys, at, 6, groups[0]! * 65536 + groups[1]!, groups[2]! * 65536 + groups[3]!, groups[4]! * 65536 + groups[5]!, groups[6]! * 65536 + groups[7]!);
  return true;
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

/**
 * The highest severity the owners left unread could give (undefined: none can flag anything), were
 * they known: each ownerless row (no process; inode 0, which no fd names, left out) under every rule
 * on process names its owner could pick (severityAnyOwner), and the count rules with those rows put
 * where they would count most (countReachOfUnreadOwners). `views`: every connection's, owners in.
 */
export function unreadOwnersReach(policy: Policy, views: readonly ConnectionView[]): Severity | undefined {
  let reach: Severity | undefined;
  const unread: SocketRow[] = [];
  for (const view of views) {
    const row = view.row;
    // The inode as the source read it; not the lookup's, which also gives 0 for a socket procfs
    // could not tell apart (one 4-tuple listed for an SO_REUSEPORT group).
    if (!unreadOwnerMatters(policy, row, view.connection.row.inode)) continue;
    unread.push(row);
    if (reach === 'critical') continue;
    const severity = severityAnyOwner(policy, { row, dwellMs: view.timing.dwellMs, halfCloseTimerMs: view.timing.halfCloseTimerMs, idleMs: view.timing.idleMs });
    if (severity !== undefined && (reach === undefined || SEVERITY_RANK[severity] > SEVERITY_RANK[reach])) reach = severity;
  }
  if (unread.length === 0 || reach === 'critical') return reach;
  const counts = countReachOfUnreadOwners(
    policy,
    views.map((v) => ({ key: v.connection.key, row: v.row })),
    unread,
  );
  return counts !== undefined && (reach === undefined || SEVERITY_RANK[counts] > SEVERITY_RANK[reach]) ? counts : reach;
}
