import { describe, expect, it } from 'vitest';
import { STUCK_STATES } from '../../src/core/tcp-state.js';
import { advance, emptyTrackerState, type Snapshot, type TrackedConnection, type TrackerState } from '../../src/core/tracker.js';
import { flowRow as row } from '../tracked-rows.js';

// The tracker stores its records' stamps as small integers from an epoch (issue 15: a boxed
// HeapNumber per stamp was 80 bytes a connection); every stamp it gives must still be the exact
// absolute time, whatever the distance from the epoch. Rows written for these tests.

const T0 = Date.parse('2026-11-30T00:00:00Z');
const DAY = 86_400_000;
const census = (atMs: number, rows: Snapshot['rows']): Snapshot => ({ takenAtMs: atMs, rows, completeProtocols: ['tcp', 'tcp6'], confirmAbsence: true });
const fast = (atMs: number, rows: Snapshot['rows']): Snapshot => ({ ...census(atMs, rows), states: STUCK_STATES });
const key = (localPort: number) => `tcp 127.0.0.1 ${localPort} 10.0.0.5 5432`;
const stamps = (c: TrackedConnection) => ({
  firstSeenMs: c.firstSeenMs,
  lastSeenMs: c.lastSeenMs,
  stateSinceMs: c.stateSinceMs,
  lastActivityMs: c.lastActivityMs,
  lastPeerSegmentMs: c.lastPeerSegmentMs,
  enteredAfterMs: c.enteredAfterMs,
});
/** What V8 keeps inside the object: an integer of 31 bits (a Smi) in every build. */
const smiSized = (n: unknown) => n === undefined || (Number.isInteger(n) && Math.abs(n as number) < 2 ** 30);
/** The numbers a record stores for its stamps (its private fields). */
const stored = (c: TrackedConnection) => {
  const fields = c as unknown as Record<string, unknown>;
  return ['firstSeen', 'lastSeen', 'stateSince', 'lastActivity', 'lastPeerSegment', 'enteredAfter'].map((name) => fields[name]);
};

describe('tracker: stamps exact, stored small', () => {
  it('keeps every stamp exact over 60 days of polls (past 2^31 ms, 24.8 days, from the first)', () => {
    let state: TrackerState = emptyTrackerState();
    // A CLOSE_WAIT seen at every poll (its peer's last segment moving), an ESTABLISHED only by the censuses.
    for (let day = 0; day <= 60; day += 0.5) {
      const at = T0 + day * DAY + 7; // not a multiple of anything in particular
      const closeWait = row(1, 'CLOSE_WAIT', { activity: { lastPeerSegmentAgoMs: 1234, lastSendAgoMs: 99 } });
      const snapshot = day % 5 === 0 ? census(at, [closeWait, row(2, 'ESTABLISHED', { activity: { lastSendAgoMs: 10, lastReceiveAgoMs: 20 } })]) : fast(at, [closeWait]);
      state = advance(state, snapshot).state;
      expect(stamps(state.connections.get(key(1))!), `day ${day}`).toEqual({
        firstSeenMs: T0 + 7,
        lastSeenMs: at,
        stateSinceMs: T0 + 7 - 1234, // the kernel's proof at the first poll: its peer's last segment
        lastActivityMs: at - 99,
        lastPeerSegmentMs: at - 1234,
        enteredAfterMs: undefined,
      });
      const lastCensus = T0 + Math.floor(day / 5) * 5 * DAY + 7;
      expect(stamps(state.connections.get(key(2))!), `day ${day}`).toMatchObject({ firstSeenMs: T0 + 7, lastSeenMs: lastCensus, lastActivityMs: lastCensus - 10 });
      // Seen at this poll: its stamps near now are small integers again (first seen 60 days ago may not be).
      const [, lastSeen, , lastActivity, lastPeerSegment] = stored(state.connections.get(key(1))!);
      expect([lastSeen, lastActivity, lastPeerSegment].every(smiSized), `day ${day}`).toBe(true);
    }
  });

  it('stores the stamps of a connection seen within days of the first poll as small integers', () => {
    const first = advance(emptyTrackerState(), census(T0, [row(1, 'ESTABLISHED', { activity: { lastSendAgoMs: 5, lastReceiveAgoMs: 9, lastPeerSegmentAgoMs: 3 } })])).state;
    const later = advance(first, census(T0 + 3 * DAY, [row(1, 'CLOSE_WAIT', { activity: { lastPeerSegmentAgoMs: 3 } }), row(2, 'SYN_SENT')])).state;
    for (const connection of later.connections.values()) expect(stored(connection).every(smiSized), connection.key).toBe(true);
    expect(stamps(later.connections.get(key(1))!)).toEqual({
      firstSeenMs: T0,
      lastSeenMs: T0 + 3 * DAY,
      stateSinceMs: T0 + 3 * DAY - 3,
      lastActivityMs: T0 - 5,
      lastPeerSegmentMs: T0 + 3 * DAY - 3,
      enteredAfterMs: T0,
    });
  });

  it('keeps stamps exact that are no integers, or far before the epoch (a kernel age, a clock from 0)', () => {
    const fractional = advance(emptyTrackerState(), census(T0 + 0.25, [row(1, 'ESTABLISHED', { activity: { lastSendAgoMs: 0.5, lastReceiveAgoMs: 1.75 } })])).state;
    expect(stamps(fractional.connections.get(key(1))!)).toMatchObject({ firstSeenMs: T0 + 0.25, lastActivityMs: T0 - 0.25 });
    const next = advance(fractional, census(T0 + 1000.125, [row(1, 'ESTABLISHED', { activity: { lastSendAgoMs: 0.1, lastReceiveAgoMs: 7 } })])).state;
    expect(stamps(next.connections.get(key(1))!)).toMatchObject({ firstSeenMs: T0 + 0.25, lastSeenMs: T0 + 1000.125, lastActivityMs: T0 + 1000.125 - 0.1 });
    // A clock counted from 0 (an injected one), then epoch time: both exact.
    const small = advance(emptyTrackerState(), census(0.1, [row(3, 'TIME_WAIT')])).state;
    expect(stamps(small.connections.get(key(3))!)).toMatchObject({ firstSeenMs: 0.1, lastSeenMs: 0.1, stateSinceMs: 0.1 });
    const big = advance(small, census(T0 + 0.3, [row(3, 'TIME_WAIT')])).state;
    expect(stamps(big.connections.get(key(3))!)).toMatchObject({ firstSeenMs: 0.1, lastSeenMs: T0 + 0.3 });
    // Entered 40 days before the poll, as the kernel's counters prove (a timer long past): exact.
    const old = advance(emptyTrackerState(), census(T0, [row(4, 'ESTABLISHED', { activity: { lastSendAgoMs: 40 * DAY + 1, lastReceiveAgoMs: 40 * DAY + 1 } })])).state;
    expect(old.connections.get(key(4))!.lastActivityMs).toBe(T0 - 40 * DAY - 1);
    // A stamp near 0 under an epoch near T0 (a kernel counter as old as the clock): not exact from the epoch, kept exact.
    const ago = T0 - 0.1;
    const early = advance(emptyTrackerState(), census(T0, [row(5, 'ESTABLISHED', { activity: { lastSendAgoMs: ago, lastReceiveAgoMs: ago } })])).state;
    expect(early.connections.get(key(5))!.lastActivityMs).toBe(T0 - ago);
    expect(early.connections.get(key(5))!.firstSeenMs).toBe(T0);
    // Opened after a poll at 0.1 ms of an injected clock, seen at T0: 0.1 is not exact counted from T0.
    const empty = advance(emptyTrackerState(), census(0.1, [])).state;
    const opened = advance(empty, census(T0, [row(6, 'ESTABLISHED')])).state;
    expect(stamps(opened.connections.get(key(6))!)).toEqual({ firstSeenMs: T0, lastSeenMs: T0, stateSinceMs: T0, lastActivityMs: undefined, lastPeerSegmentMs: undefined, enteredAfterMs: 0.1 });
  });
});
