import type { Protocol } from './address.js';
import { connectionKey, flowText, netnsId, sameNetns, type SocketRow } from './connection.js';
import { kernelStateAgeMs } from './kernel-dwell.js';
import { ALL_TCP_STATES, coversEverySuccessor, TcpState } from './tcp-state.js';

// The tracker: a deterministic function of (previous state, snapshot). Time arrives with the
// snapshot; nothing here asks the clock.

/** How a dwell time was obtained. */
export type DwellSource =
  | 'observed' // the state change was seen between two polls
  | 'kernel' // first seen already in the state; the kernel's counters prove at least this much
  | 'lower-bound'; // first seen already in the state; it has been there at least since first sight

export interface StateTransition {
  state: TcpState;
  atMs: number;
}

/**
 * The tracker's record of one connection. Compact on purpose (at 100,000 connections every field is
 * 100,000 fields): the latest row, the times, the state history. While the connection stays in its
 * state, `advance` updates this same record in place at each poll (row, lastSeenMs, the activity
 * stamps, a start the kernel proves older); a change of state gives a new record.
 */
export interface TrackedConnection {
  key: string;
  row: SocketRow;
  firstSeenMs: number;
  lastSeenMs: number;
  stateSinceMs: number;
  dwellSource: DwellSource;
  /** Oldest first; capped at MAX_TRANSITIONS so a flapping flow cannot grow without bound. */
  transitions: StateTransition[];
  /** Last data in either direction, where the source reports it. */
  lastActivityMs?: number;
  /** Last segment from the peer (restarts the half-close timer), where the source reports it. */
  lastPeerSegmentMs?: number;
  /**
   * Where the change into the state was observed: the last poll that did not see the connection
   * in it. The state was entered after this and at or before `stateSinceMs`.
   */
  enteredAfterMs?: number;
}

export interface TrackerState {
  connections: ReadonlyMap<string, TrackedConnection>;
  /** Time of the last poll that succeeded, undefined before the first. */
  lastPollMs?: number;
  /**
   * Time of the last poll whose reading covered each state, where polls read only some states
   * (tiered polling); undefined when the last poll read every state (then every state was read at
   * `lastPollMs`). A state never read has no entry: a flow first seen in it is a first sight.
   */
  stateReadAtMs?: Readonly<Partial<Record<TcpState, number>>>;
  /**
   * Flows missing from one reading that covered their state, by key: the time of that reading.
   * A dump is not an atomic snapshot, so such a flow is kept as it was (counted, flagged) until a
   * second reading that covers its state confirms the absence.
   */
  unconfirmedAbsence?: ReadonlyMap<string, number>;
  /**
   * Flows proven out of their last seen state (absent from two readings that covered it) by
   * readings that did not cover every state they could have moved to (SYN_SENT → ESTABLISHED
   * during fast polls): closed or in another state, the data does not say which. Not evaluated
   * (neither flagged nor counted in the old state); the next reading that lists them, or that
   * covers every state, resolves them (a state change, or a close).
   */
  departed?: ReadonlyMap<string, Departure>;
}

/** A flow out of its last seen state, its new state (or its close) not yet read. */
export interface Departure {
  connection: TrackedConnection;
  /** The first reading that missed it in its state: it left the state after `connection.lastSeenMs` and by then. */
  leftByMs: number;
}

export interface Snapshot {
  takenAtMs: number;
  rows: readonly SocketRow[];
  /**
   * Protocols whose tables were read in full. A tracked flow of another protocol that is missing
   * from this snapshot is kept, not closed: a failed read is not a teardown (docs/tcp-facts.md#session-classes).
   */
  completeProtocols: readonly Protocol[];
  /**
   * Network namespaces (inodes) that still exist but whose table could not be read this time
   * (`--netns`): their flows are kept like those of an unread protocol. A namespace that is gone
   * is simply absent here, and its flows close.
   */
  unreadNetns?: readonly number[];
  /**
   * Network namespaces (netnsId) gone since the last reading: their flows close at once, whatever
   * `confirmAbsence` says (the namespace itself is gone: no dump skipped them).
   */
  goneNetns?: readonly string[];
  /**
   * The states this reading covered (a dump filtered in the kernel to the states that can be
   * stuck); undefined: every state. A tracked flow last seen in a state not covered is kept as it
   * was: it was not looked at.
   */
  states?: readonly TcpState[];
  /**
   * A flow missing from this reading (from a table and state it covered) closes only when a second
   * reading confirms the absence. Live readings set it: the kernel's socket dumps resume between
   * batches (sock_diag by hash bucket, /proc/net/tcp by page), so a live socket can be missing
   * from one (docs/tcp-facts.md#dumps-are-not-atomic). Unset, a missing flow closes at once.
   */
  confirmAbsence?: boolean;
  /**
   * The row of a connection that stays in its state is updated in place (its changed fields set
   * from the new row) instead of replaced, so the new row, built moments ago, dies young rather
   * than the old one after it was promoted (at 100,000 connections a row is ~300 bytes of old
   * generation garbage at each poll that lists it). Only for callers that keep no row of an
   * evaluation past the next poll (serve's metrics): anything holding the old row sees the new values.
   */
  rowsInPlace?: boolean;
}

export type TrackerEvent =
  | { type: 'opened'; atMs: number; connection: TrackedConnection; /** present at the first poll, not seen opening */ firstSight: boolean }
  | {
      type: 'state-changed';
      atMs: number;
      connection: TrackedConnection;
      from: TcpState;
      to: TcpState;
      /** When the connection entered `from` (the old record's stateSinceMs): its dwell there ended by `leftByMs` or `atMs`. */
      fromSinceMs: number;
      /** A departed flow listed again: it had left `from` by then (Departure.leftByMs), not only by `atMs`. */
      leftByMs?: number;
    }
  | {
      type: 'closed';
      atMs: number;
      connection: TrackedConnection;
      lastState: TcpState;
      lifetimeMs: number;
      bytesSent?: number;
      bytesReceived?: number;
      /** Where a second reading confirmed the close: the first reading that missed it. It closed after `connection.lastSeenMs` and by then. */
      goneByMs?: number;
    };

export interface AdvanceResult {
  state: TrackerState;
  events: TrackerEvent[];
  /**
   * Rows the snapshot listed for a flow it had already listed (one connectionKey twice), which the
   * tracker drops, keeping the first: how many, and the first such pair. Absent when none.
   */
  repeated?: RepeatedRows;
}

/**
 * Two rows of one reading with one 4-tuple that are listeners sharing a port (SO_REUSEPORT: nginx's
 * `reuseport`, envoy): one row by design, never a repeat to say. A LISTEN is never judged, and a
 * notice at every poll for a configuration chosen on purpose would be noise.
 */
export function listenersSharingPort(earlier: SocketRow, again: SocketRow): boolean {
  return earlier.state === TcpState.LISTEN && again.state === TcpState.LISTEN;
}

/** Rows of one reading that repeat a flow listed earlier in it (AdvanceResult.repeated). */
export interface RepeatedRows {
  count: number;
  earlier: SocketRow;
  again: SocketRow;
}

/**
 * The notice for rows a reading repeats (`label`: the file, or the live source), naming the first
 * pair. What a repeat means depends on what the rows carry: two sock_diag cookies tell two
 * sockets apart (a new connection beside the TIME_WAIT of its 4-tuple, a bound socket beside a
 * listener on its port), one cookie twice is one socket a dump listed twice (it resumes by hash
 * bucket while the table changes); without cookies (ss without -e, /proc/net/tcp, netstat) either.
 */
export function repeatedRowsNotice(label: string, { count, earlier, again }: RepeatedRows): string {
  const states = earlier.state === again.state ? `${again.state} twice` : `${again.state} after ${earlier.state}`;
  const why =
    earlier.cookie !== undefined && again.cookie !== undefined
      ? earlier.cookie === again.cookie
        ? `one socket listed twice (cookie ${again.cookie}): a dump taken while the table changed`
        : `two sockets share it (cookies ${earlier.cookie} and ${again.cookie}): a new connection beside its TIME_WAIT, or a bound socket beside a listener on its port`
      : 'a table taken while it changed, or one 4-tuple in use twice';
  return `${label}: ${count === 1 ? '1 row repeats' : `${count} rows repeat`} a 4-tuple listed earlier in the table, and only the first is kept (first: ${again.protocol} ${flowText(again)}, ${states}): ${why}`;
}

export const MAX_TRANSITIONS = 32;

export function emptyTrackerState(): TrackerState {
  return { connections: new Map() };
}

/** A poll that failed: nothing is closed, nothing changes (the flows are still there, unseen). */
export function advanceFailed(state: TrackerState): AdvanceResult {
  return { state, events: [] };
}

/**
 * Moves the tracker to `snapshot`: rows matched to tracked flows (opened, state-changed), then the
 * tracked flows the snapshot does not list (kept, marked for confirmation, departed or closed; see
 * Snapshot and TrackerState). Deterministic; time comes with the snapshot.
 *
 * Consumes `previous`: the record of a connection that stayed in its state is the same object in both states, updated in place (so a poll allocates
 * nothing for 100,000 unchanged connections); a caller that needs the old values of such a record
 * must copy them first. Records that changed state, opened or closed are new or left as they were.
 * A reading of some states only (tiered polling's fast poll) also edits `previous.connections`
 * (the map) in place and returns it: rebuilding a 100,000-entry map for the few thousand rows of a
 * fast poll was most of what such a poll allocated. A census builds a new map (in the table's order).
 */
export function advance(previous: TrackerState, snapshot: Snapshot): AdvanceResult {
  // A table lists each flow once, nearly always: the first pass spares the per-row lookup that
  // catches a repeat, and is redone with it only when the map came out smaller than the table.
  return advanceRows(previous, snapshot, false) ?? advanceRows(previous, snapshot, true)!;
}

function advanceRows(previous: TrackerState, snapshot: Snapshot, skipRepeats: boolean): AdvanceResult | undefined {
  const now = snapshot.takenAtMs;
  const events: TrackerEvent[] = [];
  // The flows this reading lists (then, for a census, every flow kept).
  const next = new Map<string, TrackedConnection>();
  let continued = 0;
  // Records whose state did not change, each followed by its new row.
  const unchanged: (TrackedConnection | SocketRow)[] = [];
  // A fast poll lists a few thousand of the tracked flows: its map is the previous one, edited.
  const inPlace = snapshot.states !== undefined && previous.connections instanceof Map;
  // The kernel lists sockets in the same order poll after poll (its hash tables' order), so the
  // flow after the last one matched is nearly always the next row's: compared field by field, it
  // spares building the row's key and a lookup in a 100,000-entry map (the tracker's main cost).
  // Not for a fast poll: its rows are a sparse subsequence of the table, and the walk's list
  // would be as large as the table.
  const previousInOrder = inPlace ? [] : [...previous.connections.values()];
  let cursor = 0;
  let repeated: RepeatedRows | undefined;
  // With skipRepeats: each key's first row, where later rows of it are listeners sharing its port.
  let firstRows: Map<string, SocketRow> | undefined;

  // The table's rows; a copy where a listener group's tracked member is moved to the front of its group.
  let rows: readonly SocketRow[] = snapshot.rows;
  let reordered: SocketRow[] | undefined;
  for (let index = 0; index < rows.length; index++) {
    let row = rows[index]!;
    // Read anew at each reading: a row the source reuses (ReadRequest.reuseRows) may carry last poll's group.
    if (row.sharingPort !== undefined) row.sharingPort = undefined;
    let key: string;
    let leftByMs: number | undefined;
    let old = previousInOrder[cursor];
    if (old && sameFlow(old.row, row)) {
      key = old.key;
      cursor++;
    } else {
      key = connectionKey(row);
      old = previous.connections.get(key);
      if (old) cursor = positionAfter(previousInOrder, cursor, old);
      else {
        const departure = previous.departed?.get(key); // listed again: its new state is known now
        if (departure) {
          old = departure.connection;
          leftByMs = departure.leftByMs;
        }
      }
    }
    // An SO_REUSEPORT group is one row, its first listed listener's: the kernel may list a listener
    // that joined before the one tracked. The tracked one stays the row while it is listed (moved to
    // the front of its group), and where it left, a listener of its group at the last reading carries
    // the row on: the group stayed open, so no closed and no opened (break-it pass: watch said
    // `closed 0.0.0.0:7100 … python3[2056]` while 2056 still listened).
    let groupGoesOn = false;
    if (old && row.state === TcpState.LISTEN && old.row.state === TcpState.LISTEN && !isSameSocket(old.row, row)) {
      const tracked = skipRepeats ? trackedListenerAfter(rows, index, old.row) : -1;
      if (tracked !== -1) {
        rows = reordered ??= rows.slice();
        const trackedRow = reordered[tracked]!;
        reordered[tracked] = row;
        reordered[index] = row = trackedRow;
        if (row.sharingPort !== undefined) row.sharingPort = undefined;
      }
      groupGoesOn = tracked === -1 && wasInGroup(old.row, row);
    }
    if (skipRepeats) {
      // A table listing one flow twice (it happens mid-change, or two sockets share a 4-tuple):
      // keep the first, and count what is dropped (the caller says so).
      const earlier = next.get(key);
      if (earlier) {
        // earlier.row may still be last poll's row (an unchanged record is updated after the pass): this reading's first row carries the group.
        const first = firstRows?.get(key);
        if (first && listenersSharingPort(first, row)) {
          (first.sharingPort ??= []).push(row);
          continue;
        }
        if (repeated) repeated.count++;
        else repeated = { count: 1, earlier: earlier.row, again: row };
        continue;
      }
    }
    if (skipRepeats && row.state === TcpState.LISTEN) (firstRows ??= new Map()).set(key, row);
    if (old && (groupGoesOn || isSameSocket(old.row, row))) {
      continued++;
      if (old.row.state === row.state) {
        // Updated in place below, once this pass is kept (a pass redone for a repeated flow must start from the records as they were).
        next.set(key, old);
        unchanged.push(old, row);
        continue;
      }
      const updated = changeState(old, row, now);
      next.set(key, updated);
      events.push({ type: 'state-changed', atMs: now, connection: updated, from: old.row.state, to: row.state, fromSinceMs: old.stateSinceMs, ...(leftByMs === undefined ? {} : { leftByMs }) });
      continue;
    }
    if (old) events.push(closedEvent(old, now, leftByMs)); // the 4-tuple was reused by a new socket
    // Not there at the last poll that read its state, so it opened (or entered it) since.
    const lastRead = lastReadOf(previous, row.state);
    const opened = openConnection(key, row, now, lastRead);
    next.set(key, opened);
    events.push({ type: 'opened', atMs: now, connection: opened, firstSight: lastRead === undefined });
  }
  if (!skipRepeats && next.size !== snapshot.rows.length) return undefined;
  for (let i = 0; i < unchanged.length; i += 2) continueConnection(unchanged[i] as TrackedConnection, unchanged[i + 1] as SocketRow, now, snapshot.rowsInPlace === true);

  const connections = inPlace ? (previous.connections as Map<string, TrackedConnection>) : next;
  const state: TrackerState = { connections, lastPollMs: now };
  const stateReadAtMs = statesReadAfter(previous, snapshot);
  if (stateReadAtMs) state.stateReadAtMs = stateReadAtMs;
  // Every earlier flow seen again (the common case between two quick polls): none missing. (With
  // departed flows, `continued` may count them too: those polls always settle.)
  if (continued < previous.connections.size || previous.departed?.size) settleAbsent(previous, snapshot, next, state, events, inPlace);
  if (inPlace) {
    // Changed, reused and opened flows (and departed ones listed again) into the edited map; the
    // unchanged ones are already there, the same records.
    for (const [key, connection] of next) if (connections.get(key) !== connection) connections.set(key, connection);
  }
  return repeated ? { state, events, repeated } : { state, events };
}

/**
 * Whether a flow awaits a reading of more states than `states` to settle: missing once from a
 * census while last seen in a state `states` does not hold (a fast poll cannot confirm it), or
 * departed and missing once. The monitor then makes its next poll a census.
 */
export function awaitsFullReading(state: TrackerState, states: readonly TcpState[]): boolean {
  if (!state.unconfirmedAbsence) return false;
  for (const key of state.unconfirmedAbsence.keys()) {
    const connection = state.connections.get(key);
    if (!connection || !states.includes(connection.row.state)) return true;
  }
  return false;
}

/** The last poll before this one that read `state`; undefined when none did (a first sight). */
function lastReadOf(previous: TrackerState, state: TcpState): number | undefined {
  return previous.stateReadAtMs ? previous.stateReadAtMs[state] : previous.lastPollMs;
}

/** The per-state read times after `snapshot` (undefined when it read every state). */
function statesReadAfter(previous: TrackerState, snapshot: Snapshot): Partial<Record<TcpState, number>> | undefined {
  if (snapshot.states === undefined) return undefined;
  const readAt: Partial<Record<TcpState, number>> = {};
  if (previous.stateReadAtMs) Object.assign(readAt, previous.stateReadAtMs);
  else if (previous.lastPollMs !== undefined) for (const s of ALL_TCP_STATES) readAt[s] = previous.lastPollMs;
  for (const s of snapshot.states) readAt[s] = snapshot.takenAtMs;
  return readAt;
}

/**
 * The tracked flows `snapshot` does not list: kept as they were where their table, namespace or
 * state was not read; otherwise missing once (kept, marked, when absences need confirmation), then
 * closed — or departed, when the readings that missed them did not cover every state they could
 * have moved to. Departed flows are closed by a second reading of every state that misses them.
 */
function settleAbsent(previous: TrackerState, snapshot: Snapshot, next: Map<string, TrackedConnection>, state: TrackerState, events: TrackerEvent[], inPlace: boolean): void {
  const now = snapshot.takenAtMs;
  const complete = new Set(snapshot.completeProtocols);
  const unread = new Set(snapshot.unreadNetns);
  const covered = snapshot.states === undefined ? undefined : new Set(snapshot.states);
  const previousMarks = previous.unconfirmedAbsence;
  const marks = new Map<string, number>();
  const departed = new Map<string, Departure>();
  const tableRead = (c: TrackedConnection) => complete.has(c.row.protocol) && !(c.row.netns && unread.has(c.row.netns.inode));
  /** Whether this miss settles the flow: a second one, or the first where absences need no confirmation. */
  const gone = new Set(snapshot.goneNetns);
  const confirmed = (key: string, c: TrackedConnection) => !snapshot.confirmAbsence || previousMarks?.has(key) === true || (c.row.netns !== undefined && gone.has(netnsId(c.row.netns)));
  const keepMark = (key: string) => {
    const at = previousMarks?.get(key);
    if (at !== undefined) marks.set(key, at);
  };

  // In place: `previous.connections` is the map being settled (a Map may lose entries while iterated).
  const connections = previous.connections as Map<string, TrackedConnection>;
  const keep = inPlace ? () => {} : (key: string, old: TrackedConnection) => next.set(key, old);
  const drop = inPlace ? (key: string) => connections.delete(key) : () => {};
  for (const [key, old] of previous.connections) {
    if (inPlace && covered && !covered.has(old.row.state)) {
      // A fast poll: most tracked flows are in states it did not read, kept in place as they were
      // (and so is a mark one had, unless listed again in a state read). Settled before the map
      // lookup below, which was this loop's cost at 100,000 flows.
      if (previousMarks?.has(key) && !next.has(key)) keepMark(key);
      continue;
    }
    if (next.has(key)) continue;
    if (!tableRead(old) || (covered && !covered.has(old.row.state))) {
      keep(key, old); // not looked at this time: kept as it was, and so is a mark it had
      keepMark(key);
    } else if (!confirmed(key, old)) {
      keep(key, old); // missing once: perhaps skipped by the dump
      marks.set(key, now);
    } else if (!covered || coversEverySuccessor(covered, old.row.state)) {
      drop(key);
      events.push(closedEvent(old, now, previousMarks?.get(key)));
    } else {
      drop(key);
      departed.set(key, { connection: old, leftByMs: previousMarks?.get(key) ?? now }); // out of its state, perhaps into one this reading did not cover
    }
  }
  for (const [key, departure] of previous.departed ?? []) {
    if (next.has(key)) continue;
    const old = departure.connection;
    if (!tableRead(old) || covered) {
      departed.set(key, departure);
      keepMark(key);
    } else if (!confirmed(key, old)) {
      departed.set(key, departure);
      marks.set(key, now);
    } else {
      events.push(closedEvent(old, now, departure.leftByMs));
    }
  }
  if (marks.size > 0) state.unconfirmedAbsence = marks;
  if (departed.size > 0) state.departed = departed;
}

/** The fields of connectionKey, compared without building it. */
function sameFlow(a: SocketRow, b: SocketRow): boolean {
  return (
    a.local.port === b.local.port &&
    a.remote.port === b.remote.port &&
    a.protocol === b.protocol &&
    a.local.address === b.local.address &&
    a.remote.address === b.remote.address &&
    a.instance === b.instance &&
    sameNetns(a.netns, b.netns)
  );
}

const RESYNC_WINDOW = 16;

/** Where the in-order walk goes on after `found`: just past it when it is a few places ahead (flows closed in between). */
function positionAfter(inOrder: readonly TrackedConnection[], cursor: number, found: TrackedConnection): number {
  const end = Math.min(inOrder.length, cursor + RESYNC_WINDOW);
  for (let i = cursor; i < end; i++) if (inOrder[i] === found) return i + 1;
  return cursor;
}

// The same 4-tuple with a different non-zero inode is a new socket. Inode 0 means "not owned yet"
// (request or unaccepted sockets, docs/tcp-facts.md#procnettcp-and-tcp6) and becomes non-zero on accept(): same socket.
// Where the source gives the socket cookie (sock_diag's idiag_cookie), a different cookie is a new
// socket too, whatever the inodes say (TIME_WAIT and orphans have inode 0): a socket keeps its
// cookie for life, and its TIME_WAIT remnant inherits it (net/ipv4/inet_timewait_sock.c
// inet_twsk_alloc). Not so a request socket: the child that accept()s the handshake is a new sock
// with a cookie of its own (net/core/sock.c sk_clone_lock), so SYN_RECEIVED → ESTABLISHED keeps
// the flow whatever the cookies say.
function isSameSocket(old: SocketRow, row: SocketRow): boolean {
  if (old.inode && row.inode && old.inode !== row.inode) return false;
  return !(old.cookie !== undefined && row.cookie !== undefined && old.cookie !== row.cookie && old.state !== 'SYN_RECEIVED');
}

/**
 * Where a later row of the table (after `index`) is the listener `tracked` stands for: a LISTEN of
 * its flow and socket (isSameSocket, with an inode or cookie to tell), or -1. Asked only where a
 * listener group's first row is not the tracked listener, so the scan is rare.
 */
function trackedListenerAfter(rows: readonly SocketRow[], index: number, tracked: SocketRow): number {
  if (!tracked.inode && tracked.cookie === undefined) return -1;
  for (let i = index + 1; i < rows.length; i++) {
    const row = rows[i]!;
    if (row.state === TcpState.LISTEN && sameFlow(tracked, row) && isSameSocket(tracked, row)) return i;
  }
  return -1;
}

/** Whether `row` is a listener that shared the tracked listener's port at the last reading (its SocketRow.sharingPort), by cookie or inode. */
function wasInGroup(tracked: SocketRow, row: SocketRow): boolean {
  const group = tracked.sharingPort;
  if (group === undefined) return false;
  for (const member of group) {
    if (member.cookie !== undefined && member.cookie === row.cookie) return true;
    if (member.inode && member.inode === row.inode) return true;
  }
  return false;
}

function openConnection(key: string, row: SocketRow, now: number, previousPollMs: number | undefined): TrackedConnection {
  const kernelAge = kernelStateAgeMs(row);
  let stateSinceMs = now;
  let dwellSource: DwellSource = 'lower-bound';
  if (previousPollMs !== undefined) {
    // Not there at the last poll, so it opened since: its dwell is known within one interval.
    dwellSource = 'observed';
    if (kernelAge !== undefined) stateSinceMs = Math.max(previousPollMs, now - kernelAge);
  } else if (kernelAge !== undefined && kernelAge > 0) {
    dwellSource = 'kernel';
    stateSinceMs = now - kernelAge;
  }
  return new TrackedRecord(key, row, now, now, stateSinceMs, dwellSource, NO_EARLIER_STATES, activityAt(row, now), peerSegmentAt(row, now), previousPollMs);
}

/** No earlier states: shared by every record that has stayed in the state it was first seen in. */
const NO_EARLIER_STATES: readonly StateTransition[] = Object.freeze([]);

/**
 * Where a record's stamps are counted from. V8 keeps an integer of 31 bits inside the object (a
 * Smi); any other number is a separate 16-byte HeapNumber, and epoch milliseconds (~1.8e12) are
 * never small: five stamps a record were 80 bytes a connection (a heap snapshot at 96,000). Kept
 * as milliseconds from an epoch near them, they are small integers for 2^30 ms (12 days) around it.
 */
class Epoch {
  /** This epoch with each dwell source: a record's one slot for both (see Basis). */
  readonly bases: Readonly<Record<DwellSource, Basis>>;

  constructor(readonly ms: number) {
    this.bases = { observed: { epoch: this, ms, dwellSource: 'observed' }, kernel: { epoch: this, ms, dwellSource: 'kernel' }, 'lower-bound': { epoch: this, ms, dwellSource: 'lower-bound' } };
  }
}

/**
 * A record's epoch and dwell source in one slot: one object per pair, shared by every record with
 * both (a few in a process), where two slots were 8 bytes a connection more.
 */
interface Basis {
  readonly epoch: Epoch;
  /** `epoch.ms`, one step nearer. */
  readonly ms: number;
  readonly dwellSource: DwellSource;
}

/** Beyond this distance from its epoch a stamp may no longer be a Smi (2^30: one in every V8 build). */
const SMI_SPAN_MS = 2 ** 30;
/** Counted from 0: every number is exact there (a stamp that is no integer, or far off). */
const ABSOLUTE = new Epoch(0);

// The epoch new records take: the first stamp the tracker saw, renewed when time has moved half a
// span past it (so a stamp of any record renewed since is within a span). Only where numbers are
// stored changes with it: every stamp a record gives is the absolute one (tested across the span).
let currentEpoch: Epoch | undefined;

function epochFor(now: number): Epoch {
  if (currentEpoch === undefined || !(Math.abs(now - currentEpoch.ms) < SMI_SPAN_MS / 2)) currentEpoch = Number.isSafeInteger(now) ? new Epoch(now) : ABSOLUTE;
  return currentEpoch;
}

/** `ms` counted from `epoch`, or undefined where that is not exact (the record then counts from 0). */
function fromEpoch(epoch: Epoch, ms: number): number | undefined {
  const relative = ms - epoch.ms;
  return epoch.ms + relative === ms ? relative : undefined;
}

/**
 * A record as the tracker makes it. Every field is set in the constructor, always in this order:
 * V8 then gives all records one hidden class with every field inside the object (fields added
 * later go to a separate property array: 75 bytes a connection, measured at 100,000). The history
 * keeps only the states before the current one, so the many connections that have stayed in the
 * state they were first seen in share one empty list (a list of one transition each was 122 bytes).
 * The stamps are stored from an epoch (Epoch), kept with the dwell source in one slot (Basis); the
 * TrackedConnection fields give them absolute.
 */
class TrackedRecord implements TrackedConnection {
  private basis: Basis;
  private firstSeen: number;
  private lastSeen: number;
  private stateSince: number;
  private lastActivity: number | undefined;
  private lastPeerSegment: number | undefined;
  private enteredAfter: number | undefined;

  constructor(
    readonly key: string,
    public row: SocketRow,
    firstSeenMs: number,
    lastSeenMs: number,
    stateSinceMs: number,
    dwellSource: DwellSource,
    /** Transitions before the current state, oldest first, at most MAX_TRANSITIONS - 1. */
    readonly earlier: readonly StateTransition[],
    lastActivityMs: number | undefined,
    lastPeerSegmentMs: number | undefined,
    enteredAfterMs: number | undefined,
  ) {
    // The fields are declared above, so they exist (undefined) before these stores, in that fixed
    // order: V8 then keeps each as a tagged field (a Smi inside the object, a HeapNumber only for
    // the rare stamp that is no small integer), never as a boxed double in every record.
    this.basis = ABSOLUTE.bases[dwellSource];
    this.firstSeen = 0;
    this.lastSeen = 0;
    this.stateSince = 0;
    this.setAll(epochFor(lastSeenMs), firstSeenMs, lastSeenMs, stateSinceMs, lastActivityMs, lastPeerSegmentMs, enteredAfterMs);
  }

  /** Counts every stamp from `epoch`, or from 0 where one would not be exact there. */
  private rebase(epoch: Epoch): void {
    this.setAll(epoch, this.firstSeenMs, this.lastSeenMs, this.stateSinceMs, this.lastActivityMs, this.lastPeerSegmentMs, this.enteredAfterMs);
  }

  private setAll(epoch: Epoch, firstSeen: number, lastSeen: number, stateSince: number, lastActivity: number | undefined, lastPeerSegment: number | undefined, enteredAfter: number | undefined): void {
    const exact = (ms: number | undefined) => ms === undefined || fromEpoch(epoch, ms) !== undefined;
    const to = exact(firstSeen) && exact(lastSeen) && exact(stateSince) && exact(lastActivity) && exact(lastPeerSegment) && exact(enteredAfter) ? epoch : ABSOLUTE;
    this.basis = to.bases[this.basis.dwellSource];
    this.firstSeen = firstSeen - to.ms;
    this.lastSeen = lastSeen - to.ms;
    this.stateSince = stateSince - to.ms;
    this.lastActivity = lastActivity === undefined ? undefined : lastActivity - to.ms;
    this.lastPeerSegment = lastPeerSegment === undefined ? undefined : lastPeerSegment - to.ms;
    this.enteredAfter = enteredAfter === undefined ? undefined : enteredAfter - to.ms;
  }

  /** Stores `ms` for a stamp: relative to the epoch where exact, else after moving the record to one where it is. */
  private relative(ms: number): number {
    let relative = fromEpoch(this.basis.epoch, ms);
    if (relative === undefined || !(Math.abs(relative) < SMI_SPAN_MS)) {
      this.rebase(Number.isSafeInteger(ms) ? epochFor(ms) : ABSOLUTE);
      relative = fromEpoch(this.basis.epoch, ms);
      if (relative === undefined) {
        this.rebase(ABSOLUTE);
        relative = ms;
      }
    }
    return relative;
  }

  get dwellSource(): DwellSource {
    return this.basis.dwellSource;
  }

  set dwellSource(source: DwellSource) {
    if (source !== this.basis.dwellSource) this.basis = this.basis.epoch.bases[source];
  }

  get firstSeenMs(): number {
    return this.basis.ms + this.firstSeen;
  }

  get lastSeenMs(): number {
    return this.basis.ms + this.lastSeen;
  }

  set lastSeenMs(ms: number) {
    this.lastSeen = this.relative(ms);
  }

  get stateSinceMs(): number {
    return this.basis.ms + this.stateSince;
  }

  set stateSinceMs(ms: number) {
    this.stateSince = this.relative(ms);
  }

  get lastActivityMs(): number | undefined {
    return this.lastActivity === undefined ? undefined : this.basis.ms + this.lastActivity;
  }

  set lastActivityMs(ms: number | undefined) {
    this.lastActivity = ms === undefined ? undefined : this.relative(ms);
  }

  get lastPeerSegmentMs(): number | undefined {
    return this.lastPeerSegment === undefined ? undefined : this.basis.ms + this.lastPeerSegment;
  }

  set lastPeerSegmentMs(ms: number | undefined) {
    this.lastPeerSegment = ms === undefined ? undefined : this.relative(ms);
  }

  get enteredAfterMs(): number | undefined {
    return this.enteredAfter === undefined ? undefined : this.basis.ms + this.enteredAfter;
  }

  set enteredAfterMs(ms: number | undefined) {
    this.enteredAfter = ms === undefined ? undefined : this.relative(ms);
  }

  /** The earlier states, then the current one since `stateSinceMs`: a new list at each read. */
  get transitions(): StateTransition[] {
    return [...this.earlier, { state: this.row.state, atMs: this.stateSinceMs }];
  }
}

/** The same socket in another state: a new record, `old` left as it was (a closed dwell is read from it). */
function changeState(old: TrackedConnection, row: SocketRow, now: number): TrackedConnection {
  // Changed somewhere in (lastSeen, now]; the kernel may narrow that down. Its counters are
  // lower bounds: where they prove the state older than the poll that saw the old one, the seen
  // socket was another one on the same 4-tuple, and the kernel wins.
  const kernelAge = kernelStateAgeMs(row);
  const stateSinceMs = kernelAge !== undefined ? now - kernelAge : now;
  const dwellSource: DwellSource = stateSinceMs < old.lastSeenMs ? 'kernel' : 'observed';
  // The old state's transition becomes the last earlier one; with the new one, at most MAX_TRANSITIONS.
  const earlier = old.transitions.slice(-(MAX_TRANSITIONS - 1));
  return new TrackedRecord(
    old.key,
    row,
    old.firstSeenMs,
    now,
    stateSinceMs,
    dwellSource,
    earlier,
    activityAt(row, now, old.lastActivityMs),
    peerSegmentAt(row, now, old.lastPeerSegmentMs),
    dwellSource === 'observed' ? old.lastSeenMs : undefined,
  );
}

/** The same socket in the same state: `connection` updated in place to this poll (no allocation but a changed stamp). */
function continueConnection(connection: TrackedConnection, row: SocketRow, now: number, rowInPlace: boolean): void {
  const kernelAge = kernelStateAgeMs(row);
  if (kernelAge !== undefined && now - kernelAge < connection.stateSinceMs) {
    // Kernel evidence beats history: its counters are lower bounds, so a state they prove older
    // than remembered is older, whatever the history says (history carried from another table,
    // or a change "observed" on a reused 4-tuple). The last transition is this record's own.
    connection.stateSinceMs = now - kernelAge;
    connection.dwellSource = 'kernel';
    connection.enteredAfterMs = undefined;
    // A record of ours derives its last transition from stateSinceMs; one decoded from a state file
    // (or built by hand) has it in its list.
    if (!(connection instanceof TrackedRecord)) connection.transitions[connection.transitions.length - 1] = { state: row.state, atMs: connection.stateSinceMs };
  }
  // The same object when the source updated it in place (ReadRequest.reuseRows).
  if (connection.row !== row) {
    if (rowInPlace) updateRow(connection.row, row);
    else connection.row = row;
  }
  connection.lastSeenMs = now;
  const activity = activityAt(row, now, connection.lastActivityMs);
  if (activity !== connection.lastActivityMs) connection.lastActivityMs = activity;
  const peerSegment = peerSegmentAt(row, now, connection.lastPeerSegmentMs);
  if (peerSegment !== connection.lastPeerSegmentMs) connection.lastPeerSegmentMs = peerSegment;
}

/** Every SocketRow field but the endpoints (the same flow has the same ones). */
const ROW_FIELDS = [
  'protocol',
  'state',
  'rawState',
  'inode',
  'uid',
  'sendQueue',
  'receiveQueue',
  'acceptBacklog',
  'timer',
  'retransmits',
  'backoff',
  'rtoMs',
  'rttMs',
  'rttVarMs',
  'totalRetransmits',
  'unacked',
  'lost',
  'bytesSent',
  'bytesReceived',
  'activity',
  'pid',
  'process',
  'offload',
  'createdAgoMs',
  'instance',
  'cookie',
  'boundInterface',
  'netns',
  'ageUnknown',
  'sharingPort',
] as const satisfies readonly Exclude<keyof SocketRow, 'local' | 'remote'>[];
// A field added to SocketRow and not listed above would keep its first value for ever under
// rowsInPlace: this fails to compile until it is listed.
const ROW_FIELDS_COMPLETE: Exclude<keyof SocketRow, 'local' | 'remote' | (typeof ROW_FIELDS)[number]> extends never ? true : never = true;
void ROW_FIELDS_COMPLETE;

/** `into` given `from`'s values (Snapshot.rowsInPlace): only the fields that differ are set, so a field both lack is not added. */
function updateRow(into: SocketRow, from: SocketRow): void {
  const target = into as unknown as Record<string, unknown>;
  const source = from as unknown as Record<string, unknown>;
  for (const field of ROW_FIELDS) if (target[field] !== source[field]) target[field] = source[field];
}

// An offloaded flow's packets bypass the conntrack entry: what it last saw goes stale, and
// carrying it on (`before`) would count a busy flow as idle.

/** When data last flowed either way, from the row; else `before` (what the record had), none when offloaded. */
function activityAt(row: SocketRow, now: number, before?: number): number | undefined {
  if (row.offload) return undefined;
  const dataAgo = dataAgoMs(row);
  return dataAgo === undefined ? before : now - dataAgo;
}

/** When the peer last sent a segment, from the row; else `before`, none when offloaded. */
function peerSegmentAt(row: SocketRow, now: number, before?: number): number | undefined {
  if (row.offload) return undefined;
  const ago = row.activity?.lastPeerSegmentAgoMs;
  return ago === undefined ? before : now - ago;
}

/**
 * Milliseconds since data last flowed either way, as the row's counters give it (the idle a first
 * sight measures: activityAt's); undefined where the row has none. An offloaded flow has none (activityAt).
 */
export function dataAgoMs(row: Pick<SocketRow, 'activity' | 'offload'>): number | undefined {
  if (row.offload) return undefined;
  return minDefined(row.activity?.lastSendAgoMs, row.activity?.lastReceiveAgoMs);
}

/** Milliseconds since the peer's last segment, as the row's counters give it (peerSegmentAt's); undefined where none or offloaded. */
export function peerSegmentAgoMs(row: Pick<SocketRow, 'activity' | 'offload'>): number | undefined {
  return row.offload ? undefined : row.activity?.lastPeerSegmentAgoMs;
}

/**
 * How long before a reading with no poll before it (a first sight) the connection provably entered
 * its state, as openConnection counts it: the kernel's age where it proves one above 0, else 0
 * (the state then starts at the reading). Its stateSinceMs is the reading's time minus this.
 */
export function firstSightAgeMs(row: SocketRow): number {
  const kernelAge = kernelStateAgeMs(row);
  return kernelAge !== undefined && kernelAge > 0 ? kernelAge : 0;
}

function closedEvent(old: TrackedConnection, now: number, goneByMs?: number): TrackerEvent {
  const openedAtMs = old.transitions[0]?.atMs ?? old.firstSeenMs;
  const event: TrackerEvent = { type: 'closed', atMs: now, connection: old, lastState: old.row.state, lifetimeMs: old.lastSeenMs - openedAtMs };
  if (goneByMs !== undefined) event.goneByMs = goneByMs;
  if (old.row.bytesSent !== undefined) event.bytesSent = old.row.bytesSent;
  if (old.row.bytesReceived !== undefined) event.bytesReceived = old.row.bytesReceived;
  return event;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** Measures of one connection at a moment, as the rules read them. */
export interface ConnectionTiming {
  dwellMs: number;
  /** Time since data last flowed either way; undefined where the source does not report activity. */
  idleMs?: number;
  /** The Cisco half-close timer: time in the state, restarted by every segment from the peer. */
  halfCloseTimerMs: number;
}

/**
 * Dwell, idle and the half-close timer at `now`, as proven by the last reading that listed the
 * connection (`lastSeenMs`), never extrapolated past it: a connection not listed by the last poll
 * (its state not read between censuses, its table unread, or missing once from a dump) may have
 * moved, closed or carried data since, so a busy flow is never called idle because a minute passed
 * since its census, and a connection missing once is not called stuck for longer than it was seen.
 */
export function timingOf(connection: TrackedConnection, now: number): ConnectionTiming {
  const timing: ConnectionTiming = { dwellMs: 0, halfCloseTimerMs: 0, idleMs: undefined };
  writeTiming(connection, now, timing);
  return timing;
}

/**
 * timingOf's measures written into `into` (idleMs undefined where the record has none): for callers
 * that reuse one object for every connection (forEachEvaluated) instead of one a connection.
 */
export function writeTiming(connection: TrackedConnection, now: number, into: ConnectionTiming): void {
  const seenAtMs = Math.min(now, connection.lastSeenMs);
  const dwellMs = Math.max(0, seenAtMs - connection.stateSinceMs);
  const lastActivityMs = connection.lastActivityMs;
  const lastPeerSegmentMs = connection.lastPeerSegmentMs;
  into.dwellMs = dwellMs;
  into.halfCloseTimerMs = lastPeerSegmentMs === undefined ? dwellMs : Math.min(dwellMs, Math.max(0, seenAtMs - lastPeerSegmentMs));
  into.idleMs = lastActivityMs === undefined ? undefined : Math.max(0, seenAtMs - lastActivityMs);
}
