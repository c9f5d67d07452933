import type { SocketRow } from './connection.js';
import { GroupPeerCount } from './diagnosis.js';
import { compareFlowOrder, type FlowParts } from './evaluate.js';
import { lowestThresholdMs, policyNeedsProcesses, type Policy } from './policy.js';
import { TcpState } from './tcp-state.js';
import { dataAgoMs, firstSightAgeMs, peerSegmentAgoMs } from './tracker.js';

// The first-sight screen (issue 15, one-shot `check`): at a reading with no history, most sockets
// of a busy host are fresh ESTABLISHED connections that no rule can flag. A source that can judge a
// socket from its kernel message before making a row of it (netlink: sources/linux/screened-dump.ts)
// asks this screen, and counts per state the sockets it leaves out instead of listing them. Only
// what check reads of an unflagged connection is its state's count, unless it is one of these, which
// are always rows: LISTEN and SYN_RECEIVED (the diagnosis reads them), ESTABLISHED with inode 0 (an
// unaccepted server side: its client's finding reads it), SYN_SENT (its group findings),
// CLOSE_WAIT (a flagged one's finding counts its owner's), states no rule flags but TIME_WAIT, and
// UNKNOWN (a note quotes its word). Besides, the caller keeps as rows each state's possible first
// connection in sortViews' order (StateFirsts: JSON `counts` listed states in order of first
// appearance; it is in TcpState order now, and this is left for a later change to remove), every connection to a peer a group finding may be about (GroupPeerCount), and any
// connection listed twice (the tracker keeps the first).

/**
 * A measure this far (ms) under the lowest threshold is unflagged however the reading's time rounds
 * it: the tracker computes first-sight measures as differences of epoch milliseconds (~1.8e12, one
 * unit in the last place is ~0.0002 ms), while the screen reads them off the counters directly.
 */
export const FIRST_SIGHT_MARGIN_MS = 1;

/** The half-close states the screen may leave out (CLOSE_WAIT never: see above). */
const HALF_CLOSE_LEFT_OUT: ReadonlySet<TcpState> = new Set([TcpState.FIN_WAIT_1, TcpState.FIN_WAIT_2, TcpState.CLOSING, TcpState.LAST_ACK]);

/**
 * Whether a connection first seen by a one-shot reading can be left out of the table (counted per
 * state, not made a row): its state is one the screen leaves out, and its measure at first sight
 * (idle for ESTABLISHED, the half-close timer for FIN_WAIT_1, FIN_WAIT_2, CLOSING, LAST_ACK; none
 * for TIME_WAIT, which no rule flags) is at least FIRST_SIGHT_MARGIN_MS under the lowest threshold
 * any rule or the defaults apply to that state (policy.ts lowestThresholdMs), so no rule flags it.
 */
export class FirstSightScreen {
  private constructor(
    /** The lowest threshold for each state the screen may leave out (undefined: none applies). */
    private readonly lowestMs: ReadonlyMap<TcpState, number | undefined>,
  ) {}

  /**
   * The screen for `policy`; undefined where one connection's flag is not all that decides what
   * check says of it: count rules (a connection counts in its group whether flagged or not) and
   * rules on process names (every connection needs its owner).
   */
  static of(policy: Policy): FirstSightScreen | undefined {
    if (policy.counts.length > 0 || policyNeedsProcesses(policy)) return undefined;
    const lowest = new Map<TcpState, number | undefined>();
    for (const state of [TcpState.ESTABLISHED, ...HALF_CLOSE_LEFT_OUT]) lowest.set(state, lowestThresholdMs(policy, state));
    return new FirstSightScreen(lowest);
  }

  /**
   * Whether this row, at a reading with no poll before it, is provably unflagged and read by
   * nothing but its state's count (the caller still keeps the candidates described above). Reads
   * the fields kernelStateAgeMs and the activity counters read; never the endpoints.
   */
  leavesOut(row: SocketRow): boolean {
    const state = row.state;
    if (state === TcpState.TIME_WAIT) return true;
    if (state === TcpState.ESTABLISHED) {
      // No process holds it (inode 0): it may wait in an accept queue, and a client's finding reads it (readByDiagnosis).
      if (row.inode === 0) return false;
      // No counters: its idle is not measured, and the "idle not measured" note counts it: a row.
      const idle = dataAgoMs(row);
      return idle !== undefined && this.under(state, Math.max(0, idle));
    }
    if (!HALF_CLOSE_LEFT_OUT.has(state)) return false;
    // writeTiming's half-close timer at first sight: the dwell (the kernel's age, else 0), cut by
    // the peer's last segment where the counters give it.
    const dwell = firstSightAgeMs(row);
    const peer = peerSegmentAgoMs(row);
    return this.under(state, peer === undefined ? dwell : Math.min(dwell, Math.max(0, peer)));
  }

  private under(state: TcpState, measureMs: number): boolean {
    const lowest = this.lowestMs.get(state);
    return lowest === undefined || measureMs + FIRST_SIGHT_MARGIN_MS <= lowest;
  }
}

/**
 * Two entry times this far apart (ms) fall in different seconds of the clock whatever the reading's
 * time: sortViews orders unflagged connections by the second they entered their state first.
 */
const SAME_SECOND_SPAN_MS = 1001;

/** Candidates kept for one state before the screen gives up (overflowed): a fallback, not an approximation. */
const MAX_CANDIDATES = 512;

interface Candidate<H> {
  ageMs: number;
  flow: FlowParts;
  handle: H;
}

/**
 * Per state, the left-out connections that may be the state's first in sortViews' order, whatever
 * the reading's time turns out to be: rankFlaggedFirst puts each state's first unflagged view in
 * front, and JSON `counts` listed states in order of first appearance (TcpState order now), so that one had to be a row.
 * sortViews orders unflagged views by entry second (the reading's time minus firstSightAgeMs,
 * floored), then flow (compareFlowOrder). A connection is dropped when another is at least as old
 * and before it in flow order (its second is no later, and within one second it comes first), or
 * when another is more than a second older (its second is earlier): what remains always holds the
 * state's first, and stays small (the older ones with ever smaller flows). Past MAX_CANDIDATES for
 * one state `overflowed` is set, and the caller lists every connection instead.
 */
export class StateFirsts<H> {
  private readonly byState = new Map<TcpState, { oldestMs: number; candidates: Candidate<H>[] }>();
  overflowed = false;

  /** Whether a connection of `state` this old may be its first (else offer needs not be called, nor its flow read). */
  mayLead(state: TcpState, ageMs: number): boolean {
    const known = this.byState.get(state);
    return !known || ageMs >= known.oldestMs - SAME_SECOND_SPAN_MS;
  }

  /** A left-out connection of `state`, `ageMs` its firstSightAgeMs; `flow` is kept (not copied) while it is a candidate. */
  offer(state: TcpState, ageMs: number, flow: FlowParts, handle: H): void {
    let known = this.byState.get(state);
    if (!known) this.byState.set(state, (known = { oldestMs: ageMs, candidates: [] }));
    if (ageMs > known.oldestMs) known.oldestMs = ageMs;
    const floor = known.oldestMs - SAME_SECOND_SPAN_MS;
    if (ageMs < floor) return;
    const candidates = known.candidates;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      // Equal flows are one key listed twice: the caller lists every row then (a repeated flow).
      if (c.ageMs >= ageMs && compareFlowOrder(c.flow, flow) <= 0) return;
    }
    let kept = 0;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      if (c.ageMs < floor || (c.ageMs <= ageMs && compareFlowOrder(flow, c.flow) < 0)) continue;
      candidates[kept++] = c;
    }
    candidates.length = kept;
    candidates.push({ ageMs, flow, handle });
    if (candidates.length > MAX_CANDIDATES) this.overflowed = true;
  }

  /** Every candidate's handle, state by state. */
  handles(): H[] {
    const handles: H[] = [];
    for (const { candidates } of this.byState.values()) for (const c of candidates) handles.push(c.handle);
    return handles;
  }
}

/**
 * What a source that screens its reading keeps of the connections it leaves out: how many per
 * state (the report's counts and totals), each state's possible first (StateFirsts), and the peer
 * counts of every connection it read (GroupPeerCount: SYN_SENT and TIME_WAIT by remote endpoint,
 * listed or not), to list the connections to a group finding's peers once the host facts are known.
 */
export class LeftOutTally<H> {
  private readonly byState = new Map<TcpState, number>();
  readonly firsts = new StateFirsts<H>();
  readonly peers = new GroupPeerCount();

  /** One connection left out. */
  leaveOut(state: TcpState): void {
    this.byState.set(state, (this.byState.get(state) ?? 0) + 1);
  }

  /** A left-out connection listed after all (a state's first, a group peer's): counted by its row now. */
  listed(state: TcpState): void {
    const n = (this.byState.get(state) ?? 0) - 1;
    if (n > 0) this.byState.set(state, n);
    else this.byState.delete(state);
  }

  /** Left-out connections per state (states with none absent). */
  get counts(): ReadonlyMap<TcpState, number> {
    return this.byState;
  }
}
