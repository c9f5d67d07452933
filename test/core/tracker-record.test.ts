import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { advance, emptyTrackerState, type Snapshot, type TrackedConnection, type TrackerState } from '../../src/core/tracker.js';
import { flowRow as row } from '../tracked-rows.js';

// The tracker's record of a connection (issue 15, memory: bytes a connection at 100,000): its
// slots, what it shares with other records, and that a record updated in place at each poll says
// what one given a fresh row at each poll says. Rows written for these tests; the clock is the
// snapshots' takenAtMs.

const T0 = Date.parse('2026-12-01T00:00:00Z');
const snap = (takenAtMs: number, rows: SocketRow[], rowsInPlace = false): Snapshot => ({
  takenAtMs,
  rows,
  completeProtocols: ['tcp', 'tcp6'],
  confirmAbsence: true,
  ...(rowsInPlace ? { rowsInPlace } : {}),
});
/** Everything a reader of TrackedConnection sees. */
const publicFields = (c: TrackedConnection) => ({
  key: c.key,
  row: { ...c.row },
  firstSeenMs: c.firstSeenMs,
  lastSeenMs: c.lastSeenMs,
  stateSinceMs: c.stateSinceMs,
  dwellSource: c.dwellSource,
  transitions: c.transitions,
  lastActivityMs: c.lastActivityMs,
  lastPeerSegmentMs: c.lastPeerSegmentMs,
  enteredAfterMs: c.enteredAfterMs,
});

describe('tracker: the record of a connection', () => {
  it('has ten slots, the same in every record, its epoch and dwell source in one object shared by the records with both', () => {
    // First sight in ESTABLISHED (lower-bound), one opened at the second poll (observed), one whose
    // kernel counters prove its state older at the third (kernel, changed on a kept record).
    let state: TrackerState = emptyTrackerState();
    state = advance(state, snap(T0, [row(1, 'ESTABLISHED'), row(2, 'ESTABLISHED'), row(3, 'CLOSE_WAIT')])).state;
    state = advance(state, snap(T0 + 2000, [row(1, 'ESTABLISHED'), row(2, 'ESTABLISHED'), row(3, 'CLOSE_WAIT'), row(4, 'ESTABLISHED'), row(5, 'ESTABLISHED')])).state;
    state = advance(
      state,
      snap(T0 + 4000, [row(1, 'ESTABLISHED'), row(2, 'ESTABLISHED'), row(3, 'CLOSE_WAIT', { activity: { lastPeerSegmentAgoMs: 60_000 } }), row(4, 'ESTABLISHED'), row(5, 'ESTABLISHED')]),
    ).state;
    const records = [...state.connections.values()];
    expect(records.map((c) => c.dwellSource)).toEqual(['lower-bound', 'lower-bound', 'kernel', 'observed', 'observed']);
    const slots = Object.keys(records[0]!);
    expect(slots).toHaveLength(10);
    expect([...slots].sort()).toEqual(['basis', 'earlier', 'enteredAfter', 'firstSeen', 'key', 'lastActivity', 'lastPeerSegment', 'lastSeen', 'row', 'stateSince']);
    for (const c of records) expect(Object.keys(c)).toEqual(slots);
    const basis = (c: TrackedConnection) => (c as unknown as { basis: object }).basis;
    expect(basis(records[0]!)).toBe(basis(records[1]!));
    expect(basis(records[3]!)).toBe(basis(records[4]!));
    expect(new Set(records.map(basis)).size).toBe(3);
    // The kernel's proof moved the third record to another basis without moving its stamps.
    expect(records[2]).toMatchObject({ firstSeenMs: T0, lastSeenMs: T0 + 4000, stateSinceMs: T0 + 4000 - 60_000 });
  });

  it('updated in place at each poll (serve’s rowsInPlace), says what a record given a fresh row at each poll says', () => {
    // The same history three times: rows mutated in place and handed over again (as the netlink source
    // does under reuseRows), new rows copied into the records' (rowsInPlace alone), and fresh rows at each poll. Activity moves, a timer comes and goes,
    // the kernel proves the CLOSE_WAIT older at the third poll, one flow changes state.
    const history = (poll: number): SocketRow[] => [
      row(1, 'ESTABLISHED', {
        inode: 11,
        cookie: '1b',
        sendQueue: poll,
        activity: { lastSendAgoMs: 10 * poll, lastReceiveAgoMs: 5, lastPeerSegmentAgoMs: 5 },
        ...(poll === 2 ? { timer: { name: 'on', remainingMs: 200 }, retransmits: 1 } : {}),
      }),
      row(2, 'CLOSE_WAIT', { inode: 12, cookie: '2c', activity: { lastPeerSegmentAgoMs: poll === 3 ? 90_000 : 1000 } }),
      row(3, poll < 3 ? 'ESTABLISHED' : 'FIN_WAIT_1', { inode: 13, cookie: '3d', rttMs: 0.035 * poll }),
    ];
    let inPlace: TrackerState = emptyTrackerState();
    let fresh: TrackerState = emptyTrackerState();
    // rowsInPlace with a new row object at each poll (a source that does not reuse its rows): copied into the record's.
    let copied: TrackerState = emptyTrackerState();
    let held: SocketRow[] = [];
    for (let poll = 1; poll <= 4; poll++) {
      const at = T0 + poll * 2000;
      const rows = history(poll);
      // The source's rows: last poll's objects with this poll's values where the socket and state are the same.
      held = rows.map((next, i) => {
        const before = held[i];
        if (!before || before.state !== next.state) return next;
        for (const field of Object.keys(before) as (keyof SocketRow)[]) if (!(field in next)) (before as unknown as Record<string, unknown>)[field] = undefined;
        return Object.assign(before, next);
      });
      const records = [...inPlace.connections.values()];
      inPlace = advance(inPlace, snap(at, held, true)).state;
      fresh = advance(fresh, snap(at, history(poll))).state;
      copied = advance(copied, snap(at, history(poll), true)).state;
      expect([...inPlace.connections.values()].map(publicFields), `poll ${poll}`).toEqual([...fresh.connections.values()].map(publicFields));
      expect([...copied.connections.values()].map(publicFields), `poll ${poll}`).toEqual([...fresh.connections.values()].map(publicFields));
      // Kept in place: the same record for the flows whose state did not change.
      if (poll > 1) expect([...inPlace.connections.values()].filter((c) => records.includes(c)).map((c) => c.row.local.port)).toEqual(poll === 3 ? [1, 2] : [1, 2, 3]);
    }
    expect(inPlace.connections.get('tcp 127.0.0.1 2 10.0.0.5 5432')).toMatchObject({ dwellSource: 'kernel', stateSinceMs: T0 + 6000 - 90_000, enteredAfterMs: undefined });
  });

  it('a reused 4-tuple with a new cookie in the same state is a new connection: its row is not written into the old record’s', () => {
    const old = row(40000, 'ESTABLISHED', { inode: 0, cookie: 'a1', sendQueue: 1 });
    const first = advance(emptyTrackerState(), snap(T0, [old], true));
    const record = first.state.connections.get('tcp 127.0.0.1 40000 10.0.0.5 5432')!;
    const next = advance(first.state, snap(T0 + 2000, [row(40000, 'ESTABLISHED', { inode: 0, cookie: 'b2', sendQueue: 7 })], true));
    expect(next.events.map((e) => e.type)).toEqual(['closed', 'opened']);
    expect(next.events[0]).toMatchObject({ connection: record });
    const now = next.state.connections.get('tcp 127.0.0.1 40000 10.0.0.5 5432')!;
    expect(now).not.toBe(record);
    expect(now).toMatchObject({ firstSeenMs: T0 + 2000, dwellSource: 'observed', enteredAfterMs: T0, row: { cookie: 'b2', sendQueue: 7 } });
    // The closed record keeps its own row, as it was.
    expect(record.row).toBe(old);
    expect(record.row).toMatchObject({ cookie: 'a1', sendQueue: 1 });
    expect(record.lastSeenMs).toBe(T0);
  });
});
