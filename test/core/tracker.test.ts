import { describe, expect, it } from 'vitest';
import { connectionKey, type SocketRow } from '../../src/core/connection.js';
import { MAX_TRANSITIONS, advance, advanceFailed, emptyTrackerState, timingOf, type Snapshot, type TrackedConnection, type TrackerState } from '../../src/core/tracker.js';
import { flowRow } from '../tracked-rows.js';

const T0 = Date.parse('2026-11-21T00:00:00Z');
const row = flowRow;
const snap = (atMs: number, rows: SocketRow[], completeProtocols: Snapshot['completeProtocols'] = ['tcp', 'tcp6']): Snapshot => ({ takenAtMs: atMs, rows, completeProtocols });
const only = (state: TrackerState) => [...state.connections.values()][0]!;

describe('tracker', () => {
  it('marks a connection already in its state at the first poll as a lower bound, and keeps that start', () => {
    const first = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED')]));
    expect(first.events).toMatchObject([{ type: 'opened', firstSight: true }]);
    const c1 = only(first.state);
    expect(c1).toMatchObject({ stateSinceMs: T0, firstSeenMs: T0, dwellSource: 'lower-bound' });

    const second = advance(first.state, snap(T0 + 60_000, [row(40000, 'ESTABLISHED')]));
    expect(second.events).toEqual([]);
    expect(only(second.state)).toMatchObject({ stateSinceMs: T0, lastSeenMs: T0 + 60_000, dwellSource: 'lower-bound' });
    expect(timingOf(only(second.state), T0 + 60_000).dwellMs).toBe(60_000);
  });

  it('records an observed transition, with its time, and emits state-changed', () => {
    let state = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED')])).state;
    const changed = advance(state, snap(T0 + 5000, [row(40000, 'CLOSE_WAIT')]));
    expect(changed.events).toMatchObject([{ type: 'state-changed', from: 'ESTABLISHED', to: 'CLOSE_WAIT', atMs: T0 + 5000 }]);
    state = changed.state;
    expect(only(state)).toMatchObject({ stateSinceMs: T0 + 5000, dwellSource: 'observed' });
    expect(only(state).transitions.map((t) => t.state)).toEqual(['ESTABLISHED', 'CLOSE_WAIT']);
  });

  it('narrows an observed transition with the kernel: FIN arrived 2 s before the poll, not after the previous one', () => {
    const state = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED')])).state;
    const next = advance(state, snap(T0 + 10_000, [row(40000, 'CLOSE_WAIT', { activity: { lastPeerSegmentAgoMs: 2000 } })])).state;
    expect(only(next)).toMatchObject({ stateSinceMs: T0 + 8000, dwellSource: 'observed' });
    // Kernel evidence beats history: a FIN 60 s ago is older than the poll that saw ESTABLISHED
    // (another socket on the same 4-tuple then), and the kernel's lower bound wins.
    const late = advance(state, snap(T0 + 10_000, [row(40000, 'CLOSE_WAIT', { activity: { lastPeerSegmentAgoMs: 60_000 } })])).state;
    expect(only(late)).toMatchObject({ stateSinceMs: T0 - 50_000, dwellSource: 'kernel' });
    expect(only(late).transitions.at(-1)).toEqual({ state: 'CLOSE_WAIT', atMs: T0 - 50_000 });
  });

  it('takes first-sight dwell from the kernel: a CLOSE_WAIT whose FIN came 10 minutes ago', () => {
    const state = advance(emptyTrackerState(), snap(T0, [row(40000, 'CLOSE_WAIT', { activity: { lastPeerSegmentAgoMs: 600_000 } })])).state;
    expect(only(state)).toMatchObject({ stateSinceMs: T0 - 600_000, dwellSource: 'kernel', lastPeerSegmentMs: T0 - 600_000 });
    expect(timingOf(only(state), T0)).toMatchObject({ dwellMs: 600_000, halfCloseTimerMs: 600_000 });
  });

  it('moves a remembered start back when later kernel data proves the state older, even an observed one', () => {
    let observed = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED')])).state;
    observed = advance(observed, snap(T0 + 5000, [row(40000, 'CLOSE_WAIT')])).state;
    expect(only(observed)).toMatchObject({ stateSinceMs: T0 + 5000, dwellSource: 'observed' });
    observed = advance(observed, snap(T0 + 6000, [row(40000, 'CLOSE_WAIT', { activity: { lastPeerSegmentAgoMs: 40_000 } })])).state;
    expect(only(observed)).toMatchObject({ stateSinceMs: T0 - 34_000, dwellSource: 'kernel' });
    expect(only(observed).transitions.map((t) => t.atMs)).toEqual([T0, T0 - 34_000]);
  });

  it('moves a lower-bound start back when later kernel data proves the state older', () => {
    let state = advance(emptyTrackerState(), snap(T0, [row(40000, 'FIN_WAIT_2')])).state;
    state = advance(state, snap(T0 + 1000, [row(40000, 'FIN_WAIT_2', { activity: { lastPeerSegmentAgoMs: 30_000 } })])).state;
    expect(only(state)).toMatchObject({ stateSinceMs: T0 + 1000 - 30_000, dwellSource: 'kernel' });
  });

  it('restarts the half-close timer on every segment from the peer, while dwell keeps counting', () => {
    let state = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED')])).state;
    state = advance(state, snap(T0 + 1000, [row(40000, 'CLOSE_WAIT', { activity: { lastPeerSegmentAgoMs: 0 } })])).state;
    state = advance(state, snap(T0 + 60_000, [row(40000, 'CLOSE_WAIT', { activity: { lastPeerSegmentAgoMs: 5000 } })])).state;
    expect(timingOf(only(state), T0 + 60_000)).toMatchObject({ dwellMs: 59_000, halfCloseTimerMs: 5000 });
    // No activity data (procfs): the timer is the dwell.
    let plain = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED')])).state;
    plain = advance(plain, snap(T0 + 1000, [row(40000, 'CLOSE_WAIT')])).state;
    // Measured as of the last reading that listed it (issue 15: nothing extrapolated past it).
    expect(timingOf(only(plain), T0 + 60_000)).toMatchObject({ dwellMs: 0, halfCloseTimerMs: 0 });
    plain = advance(plain, snap(T0 + 60_000, [row(40000, 'CLOSE_WAIT')])).state;
    expect(timingOf(only(plain), T0 + 60_000)).toMatchObject({ dwellMs: 59_000, halfCloseTimerMs: 59_000 });
  });

  it('measures idle from the newest data either way', () => {
    const state = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED', { activity: { lastSendAgoMs: 7000, lastReceiveAgoMs: 3000 } })])).state;
    expect(timingOf(only(state), T0).idleMs).toBe(3000);
    // A second later nothing has read the flow again: idle is proven only as of the reading (issue 15).
    expect(timingOf(only(state), T0 + 1000).idleMs).toBe(3000);
    const none = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED')])).state;
    expect(timingOf(only(none), T0).idleMs).toBeUndefined();
  });

  it('forgets the last packet of a flow once it is offloaded (conntrack [OFFLOAD]): no idle from a stale stamp', () => {
    const seen = { lastSendAgoMs: 1000, lastReceiveAgoMs: 1000, lastPeerSegmentAgoMs: 1000, lastPacketAgoMs: 1000 };
    let state = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED', { activity: seen })])).state;
    expect(timingOf(only(state), T0).idleMs).toBe(1000);
    state = advance(state, snap(T0 + 3_600_000, [row(40000, 'ESTABLISHED', { offload: 'software' })])).state;
    expect(timingOf(only(state), T0 + 3_600_000).idleMs).toBeUndefined();
    // Without the flag a row with no activity keeps the last known stamp, as before.
    let plain = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED', { activity: seen })])).state;
    plain = advance(plain, snap(T0 + 60_000, [row(40000, 'ESTABLISHED')])).state;
    expect(timingOf(only(plain), T0 + 60_000).idleMs).toBe(61_000);
  });

  it('closes and evicts a connection missing from a complete poll, with lifetime, last state and bytes', () => {
    let state = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED'), row(40001, 'LISTEN')])).state;
    state = advance(state, snap(T0 + 1000, [row(40000, 'TIME_WAIT', { bytesSent: 10, bytesReceived: 20 }), row(40001, 'LISTEN')])).state;
    const result = advance(state, snap(T0 + 2000, [row(40001, 'LISTEN')]));
    expect(result.events).toEqual([expect.objectContaining({ type: 'closed', atMs: T0 + 2000, lastState: 'TIME_WAIT', lifetimeMs: 1000, bytesSent: 10, bytesReceived: 20 })]);
    expect([...result.state.connections.keys()]).toEqual(['tcp 127.0.0.1 40001 10.0.0.5 5432']);
  });

  it('closes nothing when a poll fails (the flows are unseen, not gone)', () => {
    const state = advance(emptyTrackerState(), snap(T0, [row(40000, 'CLOSE_WAIT')])).state;
    const failed = advanceFailed(state);
    expect(failed.events).toEqual([]);
    expect(failed.state).toBe(state);
    const after = advance(failed.state, snap(T0 + 90_000, [row(40000, 'CLOSE_WAIT')]));
    expect(after.events).toEqual([]);
    expect(only(after.state).stateSinceMs).toBe(T0);
  });

  it('keeps flows of a protocol whose table could not be read', () => {
    const v6 = row(40002, 'ESTABLISHED', { protocol: 'tcp6', local: { address: '::1', port: 40002 }, remote: { address: '::1', port: 22 } });
    const state = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED'), v6])).state;
    const result = advance(state, snap(T0 + 1000, [row(40000, 'ESTABLISHED')], ['tcp']));
    expect(result.events).toEqual([]);
    expect(result.state.connections.size).toBe(2);
  });

  it('treats a reused 4-tuple with a new inode as a new connection, but inode 0 → N as the same one (accept)', () => {
    let state = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED', { inode: 0 })])).state;
    const accepted = advance(state, snap(T0 + 1000, [row(40000, 'ESTABLISHED', { inode: 77 })]));
    expect(accepted.events).toEqual([]);
    state = accepted.state;
    const reused = advance(state, snap(T0 + 2000, [row(40000, 'SYN_SENT', { inode: 78 })]));
    expect(reused.events.map((e) => e.type)).toEqual(['closed', 'opened']);
    expect(only(reused.state)).toMatchObject({ firstSeenMs: T0 + 2000, dwellSource: 'observed', row: { inode: 78 } });
  });

  it('with socket cookies (netlink): a new cookie on the 4-tuple is a new socket even at inode 0 (TIME_WAIT), but SYN_RECEIVED → ESTABLISHED (the accepted child) is the same flow', () => {
    // Cookies as parse-sock-diag gives them (hex); inode 0 as the kernel reports TIME_WAIT and orphans.
    let state = advance(emptyTrackerState(), snap(T0, [row(40000, 'TIME_WAIT', { inode: 0, cookie: 'a1' })])).state;
    const same = advance(state, snap(T0 + 1000, [row(40000, 'TIME_WAIT', { inode: 0, cookie: 'a1' })]));
    expect(same.events).toEqual([]);
    const reused = advance(same.state, snap(T0 + 2000, [row(40000, 'SYN_SENT', { inode: 0, cookie: 'b2' })]));
    expect(reused.events.map((e) => e.type)).toEqual(['closed', 'opened']);
    expect(only(reused.state)).toMatchObject({ firstSeenMs: T0 + 2000, row: { cookie: 'b2' } });
    state = advance(emptyTrackerState(), snap(T0, [row(40000, 'SYN_RECEIVED', { inode: 0, cookie: 'c3' })])).state;
    const accepted = advance(state, snap(T0 + 1000, [row(40000, 'ESTABLISHED', { inode: 91, cookie: 'd4' })]));
    expect(accepted.events).toMatchObject([{ type: 'state-changed', from: 'SYN_RECEIVED', to: 'ESTABLISHED' }]);
    expect(only(accepted.state).firstSeenMs).toBe(T0);
  });

  it('gives a connection that opened between polls an observed dwell, bounded by the previous poll', () => {
    let state = advance(emptyTrackerState(), snap(T0, [])).state;
    const result = advance(state, snap(T0 + 2000, [row(40000, 'SYN_SENT', { retransmits: 3, rtoMs: 1000 })]));
    expect(result.events).toMatchObject([{ type: 'opened', firstSight: false }]);
    state = result.state;
    expect(only(state)).toMatchObject({ dwellSource: 'observed', stateSinceMs: T0 });
  });

  it('bounds the transition history of a flapping flow', () => {
    let state = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED')])).state;
    for (let i = 1; i <= MAX_TRANSITIONS * 3; i++) state = advance(state, snap(T0 + i * 1000, [row(40000, i % 2 ? 'CLOSE_WAIT' : 'ESTABLISHED')])).state;
    expect(only(state).transitions).toHaveLength(MAX_TRANSITIONS);
    expect(only(state).transitions.at(-1)!.atMs).toBe(T0 + MAX_TRANSITIONS * 3 * 1000);
  });

  it('stays bounded over a long churn: only the live flows are kept', () => {
    let state = emptyTrackerState();
    let closed = 0;
    for (let poll = 0; poll < 200; poll++) {
      const rows = Array.from({ length: 50 }, (_, i) => row(10_000 + ((poll * 10 + i) % 60_000), 'ESTABLISHED'));
      const result = advance(state, snap(T0 + poll * 1000, rows));
      closed += result.events.filter((e) => e.type === 'closed').length;
      state = result.state;
    }
    expect(state.connections.size).toBe(50);
    expect(closed).toBe(199 * 10);
  });

  it('keeps the first of two rows for one flow (a table caught mid-change), with one event, and closes it once', () => {
    const first = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED'), row(40000, 'CLOSE_WAIT'), row(40001, 'LISTEN')]));
    expect(first.state.connections.size).toBe(2);
    expect(first.events.map((e) => e.type)).toEqual(['opened', 'opened']);
    expect(first.state.connections.get('tcp 127.0.0.1 40000 10.0.0.5 5432')!.row.state).toBe('ESTABLISHED');
    const second = advance(first.state, snap(T0 + 1000, [row(40001, 'LISTEN'), row(40001, 'LISTEN')]));
    expect(second.events).toMatchObject([{ type: 'closed', lastState: 'ESTABLISHED' }]);
    expect([...second.state.connections.keys()]).toEqual(['tcp 127.0.0.1 40001 10.0.0.5 5432']);
  });

  it('matches flows whatever the order of the table: reversed, with flows gone and new ones in between', () => {
    const ports = Array.from({ length: 40 }, (_, i) => 41_000 + i);
    let state = advance(
      emptyTrackerState(),
      snap(
        T0,
        ports.map((p) => row(p, 'ESTABLISHED')),
      ),
    ).state;
    const reversed = advance(
      state,
      snap(
        T0 + 1000,
        [...ports].reverse().map((p) => row(p, 'ESTABLISHED')),
      ),
    );
    expect(reversed.events).toEqual([]);
    expect(reversed.state.connections.size).toBe(40);
    state = reversed.state;
    // Every third flow gone, a new one after every fifth, one changed state.
    const rows = ports.filter((_, i) => i % 3 !== 0).flatMap((p, i) => (i % 5 === 0 ? [row(p, p === 41_001 ? 'CLOSE_WAIT' : 'ESTABLISHED'), row(p + 1000, 'SYN_RECEIVED')] : [row(p, 'ESTABLISHED')]));
    const changed = advance(state, snap(T0 + 2000, rows));
    const count = (type: string) => changed.events.filter((e) => e.type === type).length;
    expect(count('closed')).toBe(14);
    expect(count('opened')).toBe(6);
    expect(changed.events.filter((e) => e.type === 'state-changed')).toMatchObject([{ from: 'ESTABLISHED', to: 'CLOSE_WAIT' }]);
    expect(changed.state.connections.size).toBe(rows.length);
  });

  it('agrees with a plain keyed reference over 300 random polls (order shuffled, flows opening, closing, changing, repeated, reused)', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const states: SocketRow['state'][] = ['ESTABLISHED', 'CLOSE_WAIT', 'FIN_WAIT_2', 'SYN_SENT'];
    let live = new Map<number, { state: SocketRow['state']; inode: number }>();
    let state = emptyTrackerState();
    let reference = new Map<string, { state: string; inode?: number }>();
    for (let poll = 0; poll < 300; poll++) {
      const nextLive = new Map<number, { state: SocketRow['state']; inode: number }>();
      for (const [port, flow] of live) {
        const roll = random();
        if (roll < 0.05) continue; // closed
        if (roll < 0.1) nextLive.set(port, { ...flow, state: states[Math.floor(random() * states.length)]! });
        else if (roll < 0.12)
          nextLive.set(port, { ...flow, inode: flow.inode + 1000 }); // 4-tuple reused
        else nextLive.set(port, flow);
      }
      for (let n = Math.floor(random() * 6); n > 0; n--) nextLive.set(40_000 + Math.floor(random() * 200), { state: 'ESTABLISHED', inode: 1 + Math.floor(random() * 999) });
      live = nextLive;
      const rows = [...live].map(([port, flow]) => row(port, flow.state, { inode: flow.inode }));
      if (random() < 0.3)
        rows.sort(() => random() - 0.5); // shuffled now and then
      else if (random() < 0.3) rows.splice(Math.floor(random() * rows.length), 0, ...rows.slice(0, 2)); // a flow listed twice
      const result = advance(state, snap(T0 + poll * 1000, rows));
      // The reference: keyed, first listing wins, a new inode is a new socket.
      const expected: string[] = [];
      const next = new Map<string, { state: string; inode?: number }>();
      for (const r of rows) {
        const key = `tcp 127.0.0.1 ${r.local.port} 10.0.0.5 5432`;
        if (next.has(key)) continue;
        const old = reference.get(key);
        if (old && old.inode === r.inode) {
          if (old.state !== r.state) expected.push(`state-changed ${key}`);
        } else {
          if (old) expected.push(`closed ${key}`);
          expected.push(`opened ${key}`);
        }
        next.set(key, { state: r.state, inode: r.inode });
      }
      for (const key of reference.keys()) if (!next.has(key)) expected.push(`closed ${key}`);
      reference = next;
      expect(result.events.map((e) => `${e.type} ${e.connection.key}`).sort()).toEqual(expected.sort());
      expect([...result.state.connections.keys()].sort()).toEqual([...reference.keys()].sort());
      expect([...result.state.connections.values()].every((c) => c.row.state === reference.get(c.key)!.state)).toBe(true);
      state = result.state;
    }
  });
});

// Memory at 100,000 connections (issue 15 part 3): a record per connection, kept while the
// connection stays in its state. Rows written for these tests, in the shape ss rows take.
describe('tracker records', () => {
  const est = (port: number, sendAgoMs: number, receiveAgoMs: number) => row(port, 'ESTABLISHED', { activity: { lastSendAgoMs: sendAgoMs, lastReceiveAgoMs: receiveAgoMs } });

  it('keeps the same record while the state is unchanged, updated in place; a change of state makes a new one and leaves the old as it was', () => {
    const first = advance(emptyTrackerState(), snap(T0, [est(40000, 100, 100)]));
    const record = only(first.state);
    expect(record).toMatchObject({ firstSeenMs: T0, lastSeenMs: T0, stateSinceMs: T0 - 100, dwellSource: 'kernel', lastActivityMs: T0 - 100 });

    const secondRow = est(40000, 0, 50);
    const second = advance(first.state, snap(T0 + 2000, [secondRow]));
    expect(only(second.state)).toBe(record);
    expect(record.row).toBe(secondRow);
    expect(record).toMatchObject({ firstSeenMs: T0, lastSeenMs: T0 + 2000, stateSinceMs: T0 - 100, dwellSource: 'kernel', lastActivityMs: T0 + 2000 });
    expect(record.transitions).toEqual([{ state: 'ESTABLISHED', atMs: T0 - 100 }]);

    const third = advance(second.state, snap(T0 + 4000, [row(40000, 'CLOSE_WAIT')]));
    const changed = only(third.state);
    expect(changed).not.toBe(record);
    expect(third.events).toMatchObject([{ type: 'state-changed', connection: changed, from: 'ESTABLISHED', to: 'CLOSE_WAIT' }]);
    expect(changed).toMatchObject({ firstSeenMs: T0, lastSeenMs: T0 + 4000, stateSinceMs: T0 + 4000, dwellSource: 'observed', enteredAfterMs: T0 + 2000, lastActivityMs: T0 + 2000 });
    expect(changed.transitions).toEqual([
      { state: 'ESTABLISHED', atMs: T0 - 100 },
      { state: 'CLOSE_WAIT', atMs: T0 + 4000 },
    ]);
    // The old record is what the previous poll saw: serve reads a finished dwell from it.
    expect(record).toMatchObject({ lastSeenMs: T0 + 2000, stateSinceMs: T0 - 100, row: { state: 'ESTABLISHED' } });
    expect(record.transitions).toHaveLength(1);

    const fourth = advance(third.state, snap(T0 + 6000, [row(40000, 'CLOSE_WAIT')]));
    expect(only(fourth.state)).toBe(changed);
    expect(changed.lastSeenMs).toBe(T0 + 6000);
  });

  it('makes no new record for a poll of 1,000 unchanged connections', () => {
    const rows = (ageMs: number) => Array.from({ length: 1000 }, (_, i) => est(40_000 + i, ageMs, ageMs));
    const first = advance(emptyTrackerState(), snap(T0, rows(1000)));
    const records = [...first.state.connections.values()];
    const second = advance(first.state, snap(T0 + 2000, rows(0)));
    expect(second.events).toEqual([]);
    expect(second.state.connections).not.toBe(first.state.connections);
    const after = [...second.state.connections.values()];
    expect(after).toHaveLength(1000);
    expect(after.every((c, i) => c === records[i])).toBe(true);
    expect(after.every((c) => c.lastSeenMs === T0 + 2000 && c.lastActivityMs === T0 + 2000 && c.stateSinceMs === T0 - 1000)).toBe(true);
  });

  it('moves a start the kernel proves older in the same record, history included', () => {
    const first = advance(emptyTrackerState(), snap(T0, [row(40000, 'FIN_WAIT_2')]));
    const record = only(first.state);
    const second = advance(first.state, snap(T0 + 1000, [row(40000, 'FIN_WAIT_2', { activity: { lastPeerSegmentAgoMs: 30_000 } })]));
    expect(only(second.state)).toBe(record);
    expect(record).toMatchObject({ stateSinceMs: T0 - 29_000, dwellSource: 'kernel', lastPeerSegmentMs: T0 - 29_000 });
    expect(record.transitions).toEqual([{ state: 'FIN_WAIT_2', atMs: T0 - 29_000 }]);
  });

  it('corrects the history of a record it did not make (decoded from a state file) as of its own', () => {
    const plainRow = row(40000, 'FIN_WAIT_2');
    const decoded: TrackedConnection = {
      key: connectionKey(plainRow),
      row: plainRow,
      firstSeenMs: T0 - 5000,
      lastSeenMs: T0,
      stateSinceMs: T0 - 2000,
      dwellSource: 'observed',
      transitions: [
        { state: 'ESTABLISHED', atMs: T0 - 5000 },
        { state: 'FIN_WAIT_2', atMs: T0 - 2000 },
      ],
      enteredAfterMs: T0 - 3000,
    };
    const state: TrackerState = { connections: new Map([[decoded.key, decoded]]), lastPollMs: T0 };
    const next = advance(state, snap(T0 + 1000, [row(40000, 'FIN_WAIT_2', { activity: { lastPeerSegmentAgoMs: 30_000 } })]));
    expect(only(next.state)).toBe(decoded);
    expect(decoded).toMatchObject({ stateSinceMs: T0 - 29_000, dwellSource: 'kernel', enteredAfterMs: undefined, lastSeenMs: T0 + 1000 });
    expect(decoded.transitions).toEqual([
      { state: 'ESTABLISHED', atMs: T0 - 5000 },
      { state: 'FIN_WAIT_2', atMs: T0 - 29_000 },
    ]);
    const closing = advance(next.state, snap(T0 + 2000, [row(40000, 'TIME_WAIT')]));
    expect(only(closing.state).transitions.map((t) => t.state)).toEqual(['ESTABLISHED', 'FIN_WAIT_2', 'TIME_WAIT']);
  });

  it('reads a change of state listed before a stale repeat of the old one from the record as the last poll left it', () => {
    // Both rows of one flow in one table, the new state first: the first listing wins, and the
    // change is bounded by the last poll that saw the old state, as when the flow is listed once.
    const first = advance(emptyTrackerState(), snap(T0, [row(40000, 'ESTABLISHED')]));
    const record = only(first.state);
    const second = advance(first.state, snap(T0 + 1000, [row(40000, 'CLOSE_WAIT'), row(40000, 'ESTABLISHED')]));
    expect(second.events).toMatchObject([{ type: 'state-changed', from: 'ESTABLISHED', to: 'CLOSE_WAIT' }]);
    expect(only(second.state)).toMatchObject({ row: { state: 'CLOSE_WAIT' }, stateSinceMs: T0 + 1000, dwellSource: 'observed', enteredAfterMs: T0 });
    expect(record).toMatchObject({ lastSeenMs: T0, row: { state: 'ESTABLISHED' } });
  });
});
