import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { evaluateAll } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { STUCK_STATES } from '../../src/core/tcp-state.js';
import { advance, emptyTrackerState, type Snapshot, type TrackedConnection, type TrackerEvent, type TrackerState } from '../../src/core/tracker.js';
import { flowRow } from '../tracked-rows.js';

// Tiered polling and non-atomic dumps (issue 15): what a reading covers, and what a flow missing
// from one proves. Rows written for these tests, in the canonical shape every source gives.

const T0 = Date.parse('2026-11-30T00:00:00Z');
const row = flowRow;
const key = (localPort: number) => `tcp 127.0.0.1 ${localPort} 10.0.0.5 5432`;
/** A live census: every state, absences to be confirmed. */
const census = (atMs: number, rows: SocketRow[]): Snapshot => ({ takenAtMs: atMs, rows, completeProtocols: ['tcp', 'tcp6'], confirmAbsence: true });
/** A live fast poll: the stuck states only, filtered in the kernel. */
const fast = (atMs: number, rows: SocketRow[]): Snapshot => ({ ...census(atMs, rows), states: STUCK_STATES });
const types = (events: readonly TrackerEvent[]) => events.map((e) => e.type);

function run(snapshots: Snapshot[], from: TrackerState = emptyTrackerState()): { state: TrackerState; events: TrackerEvent[][] } {
  let state = from;
  const events: TrackerEvent[][] = [];
  for (const snapshot of snapshots) {
    const result = advance(state, snapshot);
    state = result.state;
    events.push(result.events);
  }
  return { state, events };
}

describe('tracker: what a reading covers', () => {
  it('keeps a flow whose state a fast poll did not read as it was, without a mark', () => {
    const { state, events } = run([census(T0, [row(1, 'ESTABLISHED'), row(2, 'CLOSE_WAIT')]), fast(T0 + 2000, [row(2, 'CLOSE_WAIT')]), fast(T0 + 4000, [row(2, 'CLOSE_WAIT')])]);
    expect(events.slice(1)).toEqual([[], []]);
    expect(state.connections.get(key(1))).toMatchObject({ lastSeenMs: T0, row: { state: 'ESTABLISHED' } });
    expect(state.unconfirmedAbsence).toBeUndefined();
    expect(state.departed).toBeUndefined();
  });

  it('closes a flow missing from a live census only when the next census confirms it, and the close says when it was last seen', () => {
    const first = run([census(T0, [row(1, 'ESTABLISHED'), row(2, 'LISTEN')]), census(T0 + 60_000, [row(2, 'LISTEN')])]);
    // Missing once: kept as it was (still counted), marked with the reading that missed it.
    expect(first.events[1]).toEqual([]);
    expect(first.state.connections.get(key(1))).toMatchObject({ lastSeenMs: T0 });
    expect(first.state.unconfirmedAbsence).toEqual(new Map([[key(1), T0 + 60_000]]));
    // Fast polls do not read ESTABLISHED: they neither confirm nor clear the mark.
    const between = run([fast(T0 + 62_000, [])], first.state);
    expect(between.events).toEqual([[]]);
    expect(between.state.unconfirmedAbsence).toEqual(new Map([[key(1), T0 + 60_000]]));
    const confirmed = run([census(T0 + 120_000, [row(2, 'LISTEN')])], between.state);
    expect(confirmed.events[0]).toEqual([expect.objectContaining({ type: 'closed', atMs: T0 + 120_000, lastState: 'ESTABLISHED', connection: expect.objectContaining({ lastSeenMs: T0 }) })]);
    expect(confirmed.state.connections.has(key(1))).toBe(false);
    expect(confirmed.state.unconfirmedAbsence).toBeUndefined();
  });

  it('forgets the mark of a flow the next reading lists again (the dump skipped it once): no event at all', () => {
    const { state, events } = run([census(T0, [row(1, 'ESTABLISHED')]), census(T0 + 60_000, []), census(T0 + 120_000, [row(1, 'ESTABLISHED')]), census(T0 + 180_000, [])]);
    expect(events.map(types)).toEqual([['opened'], [], [], []]);
    expect(state.unconfirmedAbsence).toEqual(new Map([[key(1), T0 + 180_000]]));
    expect(state.connections.get(key(1))).toMatchObject({ lastSeenMs: T0 + 120_000, firstSeenMs: T0 });
  });

  it('closes at once where absences need no confirmation (captured files)', () => {
    const { events } = run([
      { ...census(T0, [row(1, 'ESTABLISHED')]), confirmAbsence: false },
      { ...census(T0 + 1000, []), confirmAbsence: false },
    ]);
    expect(types(events[1]!)).toEqual(['closed']);
  });

  it('keeps a missed-once stuck flow flagged: one missing row is no RESOLVED', () => {
    const policy = defaultPolicy();
    const { state } = run([census(T0, [row(1, 'SYN_SENT')]), fast(T0 + 60_000, [row(1, 'SYN_SENT')]), fast(T0 + 62_000, [])]);
    const view = evaluateAll(state, T0 + 62_000, policy).views.find((v) => v.connection.key === key(1));
    expect(view?.flag).toMatchObject({ kind: 'half-open' });
  });

  it('closes a CLOSE_WAIT missing from two fast polls: every state it can move to (LAST_ACK) is read by them', () => {
    const { state, events } = run([census(T0, [row(1, 'CLOSE_WAIT'), row(2, 'LAST_ACK')]), fast(T0 + 2000, []), fast(T0 + 4000, [])]);
    expect(events.map(types)).toEqual([['opened', 'opened'], [], ['closed', 'closed']]);
    expect(state.connections.size).toBe(0);
    expect(state.departed).toBeUndefined();
  });

  it('does not close a SYN_SENT that left the fast polls: it may be ESTABLISHED; no flag, no count, and the census says which', () => {
    const policy = defaultPolicy();
    const seen = run([census(T0, [row(1, 'SYN_SENT'), row(2, 'SYN_SENT')]), fast(T0 + 40_000, [row(1, 'SYN_SENT'), row(2, 'SYN_SENT')]), fast(T0 + 42_000, []), fast(T0 + 44_000, [])]);
    expect(seen.events.slice(1).map(types)).toEqual([[], [], []]); // no false `closed`
    expect(seen.state.connections.size).toBe(0);
    expect([...seen.state.departed!.keys()]).toEqual([key(1), key(2)]);
    expect(seen.state.departed!.get(key(1))!.leftByMs).toBe(T0 + 42_000); // out of SYN_SENT by the first fast poll that missed it
    // Neither flagged nor counted in SYN_SENT any more (the half-open flags of 40 s are gone).
    expect(evaluateAll(seen.state, T0 + 44_000, policy).views).toEqual([]);
    // The census: one is ESTABLISHED (a change entered after the last poll that saw SYN_SENT), the other absent.
    const resolved = run([census(T0 + 60_000, [row(1, 'ESTABLISHED')])], seen.state);
    expect(resolved.events[0]).toEqual([expect.objectContaining({ type: 'state-changed', from: 'SYN_SENT', to: 'ESTABLISHED', atMs: T0 + 60_000, leftByMs: T0 + 42_000 })]);
    expect(resolved.state.connections.get(key(1))).toMatchObject({ dwellSource: 'observed', enteredAfterMs: T0 + 40_000, stateSinceMs: T0 + 60_000 });
    // Absent from one census: not yet closed (the census dump may skip it); the next census confirms.
    expect(resolved.state.departed?.has(key(2))).toBe(true);
    const closed = run([census(T0 + 120_000, [row(1, 'ESTABLISHED')])], resolved.state);
    expect(closed.events[0]).toEqual([expect.objectContaining({ type: 'closed', lastState: 'SYN_SENT', connection: expect.objectContaining({ lastSeenMs: T0 + 40_000 }) })]);
    expect(closed.state.departed).toBeUndefined();
  });

  it('resolves a departed flow at the fast poll that lists it again in a stuck state', () => {
    const { state, events } = run([census(T0, [row(1, 'FIN_WAIT_1')]), fast(T0 + 2000, []), fast(T0 + 4000, []), fast(T0 + 6000, [row(1, 'FIN_WAIT_2')])]);
    expect(events.map(types)).toEqual([['opened'], [], [], ['state-changed']]);
    expect(events[3]![0]).toMatchObject({ from: 'FIN_WAIT_1', to: 'FIN_WAIT_2' });
    expect(state.departed).toBeUndefined();
    expect(state.connections.get(key(1))).toMatchObject({ enteredAfterMs: T0 });
  });

  it('bounds a flow first seen at a census by the last census, not by the fast poll before it', () => {
    const { state, events } = run([census(T0, []), fast(T0 + 58_000, []), census(T0 + 60_000, [row(1, 'ESTABLISHED'), row(2, 'CLOSE_WAIT')])]);
    expect(events[2]).toMatchObject([
      { type: 'opened', firstSight: false },
      { type: 'opened', firstSight: false },
    ]);
    expect(state.connections.get(key(1))).toMatchObject({ dwellSource: 'observed', enteredAfterMs: T0 });
    expect(state.connections.get(key(2))).toMatchObject({ dwellSource: 'observed', enteredAfterMs: T0 + 58_000 });
  });

  it('calls a flow in a state no reading has covered yet a first sight', () => {
    const { events, state } = run([fast(T0, [row(2, 'CLOSE_WAIT')]), census(T0 + 60_000, [row(1, 'ESTABLISHED'), row(2, 'CLOSE_WAIT')])]);
    expect(events[0]).toMatchObject([{ type: 'opened', firstSight: true }]);
    expect(events[1]).toMatchObject([{ type: 'opened', firstSight: true }]);
    expect(state.connections.get(key(1))).toMatchObject({ dwellSource: 'lower-bound' });
    expect(state.stateReadAtMs).toBeUndefined(); // a census read every state: all at lastPollMs
  });

  it('never flags a busy flow idle between censuses: data every 10 s, census every 60 s, idle threshold 60 s', () => {
    const policy = defaultPolicy();
    policy.warning.idleMs = 60_000;
    let state = emptyTrackerState();
    for (let t = 0; t <= 600_000; t += 2000) {
      // The flow sends every 10 s; only a census reads ESTABLISHED (with tcp_info).
      const sinceData = t % 10_000;
      const snapshot = t % 60_000 === 0 ? census(T0 + t, [row(1, 'ESTABLISHED', { activity: { lastSendAgoMs: sinceData, lastReceiveAgoMs: sinceData } })]) : fast(T0 + t, []);
      state = advance(state, snapshot).state;
      const [view] = evaluateAll(state, T0 + t, policy).views;
      expect(view?.flag, `at ${t} ms`).toBeUndefined();
      expect(view?.timing.idleMs, `at ${t} ms`).toBeLessThan(10_000);
    }
  });

  it('flags a flow idle when a census proves it: 50 s quiet at the first census, 110 s at the next', () => {
    const policy = defaultPolicy();
    policy.warning.idleMs = 60_000;
    const quiet = (atMs: number) => row(1, 'ESTABLISHED', { activity: { lastSendAgoMs: atMs + 50_000, lastReceiveAgoMs: atMs + 50_000 } });
    let state = advance(emptyTrackerState(), census(T0, [quiet(0)])).state;
    state = advance(state, fast(T0 + 58_000, [])).state;
    // 108 s since data by the wall clock, but proven only 50 s: not flagged before the census reads it.
    expect(evaluateAll(state, T0 + 58_000, policy).views[0]).toMatchObject({ timing: { idleMs: 50_000 } });
    expect(evaluateAll(state, T0 + 58_000, policy).views[0]!.flag).toBeUndefined();
    state = advance(state, census(T0 + 60_000, [quiet(60_000)])).state;
    expect(evaluateAll(state, T0 + 60_000, policy).views[0]!.flag).toMatchObject({ kind: 'idle', measured: 110_000 });
  });

  it('closes the flows of a namespace that is gone at once: no dump skipped them', () => {
    const netns = { inode: 4026532177, started: 99 };
    const inNs = row(1, 'ESTABLISHED', { netns });
    const { events } = run([census(T0, [inNs, row(2, 'ESTABLISHED')]), { ...census(T0 + 2000, [row(2, 'ESTABLISHED')]), goneNetns: ['net:[4026532177]@99'] }]);
    expect(events[1]).toEqual([expect.objectContaining({ type: 'closed', connection: expect.objectContaining({ row: inNs }) })]);
  });
});

describe('tracker: a fast poll edits the map in place (issue 15, memory)', () => {
  it('returns the same map with the same record for every unchanged flow; a census builds a new map', () => {
    const first = advance(emptyTrackerState(), census(T0, [row(1, 'ESTABLISHED'), row(2, 'CLOSE_WAIT'), row(3, 'CLOSE_WAIT')]));
    const map = first.state.connections;
    const records = [...map.values()];
    const second = advance(first.state, fast(T0 + 2000, [row(2, 'CLOSE_WAIT'), row(3, 'CLOSE_WAIT')]));
    expect(second.state.connections).toBe(map);
    expect([...second.state.connections.values()]).toEqual(records);
    records.forEach((record, i) => expect(second.state.connections.get(record.key)).toBe(records[i]));
    expect(records[1]).toMatchObject({ lastSeenMs: T0 + 2000 });
    // A change, an opening and a close at a fast poll: the map edited, the unchanged records kept.
    const third = advance(second.state, fast(T0 + 4000, [row(2, 'LAST_ACK'), row(4, 'SYN_SENT')]));
    expect(third.state.connections).toBe(map);
    expect(third.state.connections.get(key(1))).toBe(records[0]);
    expect(third.state.connections.get(key(2))).not.toBe(records[1]);
    expect(types(third.events)).toEqual(['state-changed', 'opened']);
    expect([...third.state.connections.keys()]).toEqual([key(1), key(2), key(3), key(4)]); // the other CLOSE_WAIT missing once: kept, marked
    const fourth = advance(third.state, fast(T0 + 6000, [row(2, 'LAST_ACK'), row(4, 'SYN_SENT')]));
    expect(types(fourth.events)).toEqual(['closed']);
    expect([...fourth.state.connections.keys()]).toEqual([key(1), key(2), key(4)]);
    const census2 = advance(fourth.state, census(T0 + 60_000, [row(1, 'ESTABLISHED'), row(2, 'LAST_ACK'), row(4, 'SYN_SENT')]));
    expect(census2.state.connections).not.toBe(map);
    expect(census2.state.connections.get(key(1))).toBe(records[0]);
  });

  it('gives what a rebuilt map gives, over 400 random censuses and fast polls (flows opening, changing, skipped by a dump, repeated, closing)', () => {
    // The same polls, once as serve's advance runs them (rows updated in place) and once with the map hidden behind a read-only
    // view (which advance cannot edit, so it builds a new map as for a census): the same events,
    // flows, records, marks and departures at every poll. Rows written for the test.
    const ReadOnly = class implements ReadonlyMap<string, TrackedConnection> {
      constructor(private readonly map: ReadonlyMap<string, TrackedConnection>) {}
      get size() {
        return this.map.size;
      }
      get = (k: string) => this.map.get(k);
      has = (k: string) => this.map.has(k);
      forEach = (f: (v: TrackedConnection, k: string, m: ReadonlyMap<string, TrackedConnection>) => void) => this.map.forEach(f);
      entries = () => this.map.entries();
      keys = () => this.map.keys();
      values = () => this.map.values();
      [Symbol.iterator] = () => this.map[Symbol.iterator]();
    };
    const STATES: SocketRow['state'][] = ['SYN_SENT', 'ESTABLISHED', 'CLOSE_WAIT', 'LAST_ACK', 'FIN_WAIT_1', 'FIN_WAIT_2', 'TIME_WAIT'];
    let x = 42;
    const random = (m: number) => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x % m;
    };
    const truth = new Map<number, { state: SocketRow['state']; inode: number }>();
    let inodes = 1000;
    let edited = emptyTrackerState();
    let rebuilt = emptyTrackerState();
    const summary = (state: TrackerState) => ({
      flows: [...state.connections.values()]
        .map((c) => ({
          key: c.key,
          state: c.row.state,
          receiveQueue: c.row.receiveQueue,
          firstSeenMs: c.firstSeenMs,
          lastSeenMs: c.lastSeenMs,
          stateSinceMs: c.stateSinceMs,
          dwellSource: c.dwellSource,
          enteredAfterMs: c.enteredAfterMs,
          transitions: c.transitions,
        }))
        .sort((a, b) => (a.key < b.key ? -1 : 1)),
      marks: [...(state.unconfirmedAbsence ?? new Map())].sort(),
      departed: [...(state.departed ?? new Map())].map(([k, d]) => [k, d.leftByMs, d.connection.row.state]).sort(),
      lastPollMs: state.lastPollMs,
      stateReadAtMs: state.stateReadAtMs,
    });
    // Closes come in the map's order, which differs (an edited map keeps its order, a rebuilt one takes the table's).
    const eventsOf = (events: TrackerEvent[]) => events.map((e) => JSON.stringify({ ...e, connection: e.connection.key })).sort();
    let fastPolls = 0;
    for (let poll = 0; poll < 400; poll++) {
      for (let port = 1; port <= 40; port++) {
        const flow = truth.get(port);
        const roll = random(100);
        if (!flow) {
          if (roll < 15) truth.set(port, { state: STATES[random(3)]!, inode: inodes++ });
        } else if (roll < 8) truth.delete(port);
        else if (roll < 25) flow.state = STATES[random(STATES.length)]!;
      }
      const isCensus = poll % 7 === 0;
      const covered = isCensus ? undefined : new Set(STUCK_STATES);
      const rows: SocketRow[] = [];
      for (const [port, flow] of truth) {
        if (covered && !covered.has(flow.state)) continue;
        if (random(100) < 6) continue; // skipped by the dump
        rows.push(row(port, flow.state, { inode: flow.inode, receiveQueue: poll }));
        if (random(100) < 3) rows.push(row(port, flow.state, { inode: flow.inode, receiveQueue: -poll })); // listed twice (the first one counts)
      }
      for (let i = rows.length - 1; i > 0; i--) {
        const j = random(i + 1);
        [rows[i], rows[j]] = [rows[j]!, rows[i]!];
      }
      const snapshot = isCensus ? census(T0 + poll * 2000, rows) : fast(T0 + poll * 2000, rows);
      const before = edited.connections;
      const a = advance(edited, { ...snapshot, rowsInPlace: true }); // and rows updated in place, as serve has them
      const b = advance({ ...rebuilt, connections: new ReadOnly(rebuilt.connections) }, { ...snapshot, rows: rows.map((r) => ({ ...r })) });
      if (!isCensus) {
        expect(a.state.connections).toBe(before);
        fastPolls++;
      }
      expect(eventsOf(a.events), `poll ${poll}`).toEqual(eventsOf(b.events));
      expect(summary(a.state), `poll ${poll}`).toEqual(summary(b.state));
      edited = a.state;
      rebuilt = b.state;
    }
    expect(fastPolls).toBeGreaterThan(300);
    expect(edited.connections.size).toBeGreaterThan(5);
  });
});

describe('tracker: rows updated in place (serve, issue 15 memory)', () => {
  it('keeps the row object of a connection that stays in its state, with the new values; a change of state gives the new row', () => {
    const first = row(1, 'CLOSE_WAIT', { receiveQueue: 1, timer: { name: 'keepalive', remainingMs: 500 }, activity: { lastPeerSegmentAgoMs: 10 } });
    const start = advance(emptyTrackerState(), { ...census(T0, [first]), rowsInPlace: true }).state;
    const record = start.connections.get(key(1))!;
    // Later values, a timer gone, a field the first row did not have: copied into the same object.
    const later = row(1, 'CLOSE_WAIT', { receiveQueue: 7, rttMs: 0.25, activity: { lastPeerSegmentAgoMs: 20 } });
    const next = advance(start, { ...fast(T0 + 2000, [later]), rowsInPlace: true }).state;
    expect(next.connections.get(key(1))).toBe(record);
    expect(record.row).toBe(first);
    expect(record.row).toMatchObject({ receiveQueue: 7, rttMs: 0.25, timer: undefined, activity: { lastPeerSegmentAgoMs: 20 } });
    expect(record.lastPeerSegmentMs).toBe(T0 + 2000 - 20);
    // A field neither row has is not added (a row keeps its shape).
    expect('pid' in record.row).toBe(false);
    const closing = row(1, 'LAST_ACK');
    const changed = advance(next, { ...fast(T0 + 4000, [closing]), rowsInPlace: true }).state;
    expect(changed.connections.get(key(1))!.row).toBe(closing);
    expect(first.state).toBe('CLOSE_WAIT'); // the old record's row is left as it was
  });

  it('replaces the row without rowsInPlace (every front end that keeps views)', () => {
    const first = row(1, 'CLOSE_WAIT', { receiveQueue: 1 });
    const start = advance(emptyTrackerState(), census(T0, [first])).state;
    const later = row(1, 'CLOSE_WAIT', { receiveQueue: 7 });
    const next = advance(start, fast(T0 + 2000, [later])).state;
    expect(next.connections.get(key(1))!.row).toBe(later);
    expect(first.receiveQueue).toBe(1);
  });
});
