import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { compareFlowOrder, evaluateAll, sortViews } from '../../src/core/evaluate.js';
import { FirstSightScreen, StateFirsts } from '../../src/core/first-sight-screen.js';
import { defaultPolicy, evaluateConnection, type Policy } from '../../src/core/policy.js';
import { TcpState } from '../../src/core/tcp-state.js';
import { advance, emptyTrackerState, timingOf } from '../../src/core/tracker.js';

// The first-sight screen's parts, each against the code it stands in for: compareFlowOrder against
// sortViews, StateFirsts against the first view of a sorted table at every reading time, and the
// screen's verdict against the flag the tracker and the rules give a first sight.

const T0 = Date.parse('2026-12-02T03:00:00.000Z');

function generator(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return Math.floor((state / 2 ** 31) * n);
  };
}

const ADDRESSES = ['127.0.0.1', '127.0.0.2', '10.0.0.7', '9.255.0.1', '::1', '2001:db8::5', '2001:db8::1:0', 'fe80::1', '::'];

function flowRow(pick: (n: number) => number, state: SocketRow['state'], activity?: SocketRow['activity']): SocketRow {
  const local = ADDRESSES[pick(ADDRESSES.length)]!;
  const remote = ADDRESSES[pick(ADDRESSES.length)]!;
  const v6 = local.includes(':') || remote.includes(':') || pick(4) === 0;
  return {
    protocol: v6 ? 'tcp6' : 'tcp',
    local: { address: local, port: [80, 443, 40000 + pick(30)][pick(3)]! },
    remote: { address: remote, port: [80, 5432, 40000 + pick(30)][pick(3)]! },
    state,
    rawState: state,
    ...(activity ? { activity } : {}),
  };
}

describe('compareFlowOrder', () => {
  it('orders flows as sortViews does among views of one entry second', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const pick = generator(seed);
      const rows = new Map<string, SocketRow>();
      for (let i = 0; i < 80; i++) {
        const row = flowRow(pick, TcpState.ESTABLISHED);
        rows.set(`${row.protocol} ${row.local.address} ${row.local.port} ${row.remote.address} ${row.remote.port}`, row);
      }
      const tracker = advance(emptyTrackerState(), { takenAtMs: T0, rows: [...rows.values()], completeProtocols: ['tcp', 'tcp6'] }).state;
      const sorted = sortViews(evaluateAll(tracker, T0, defaultPolicy(), { ranked: false }).views).map((v) => v.connection.key);
      const byFlow = [...tracker.connections.values()].sort((a, b) => compareFlowOrder(a.row, b.row)).map((c) => c.key);
      expect(byFlow, `seed ${seed}`).toEqual(sorted);
    }
  });
});

describe('StateFirsts', () => {
  it('holds the first of its state in sortViews order for any reading time', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const pick = generator(seed);
      const firsts = new StateFirsts<number>();
      const offered: { row: SocketRow; ageMs: number }[] = [];
      const seen = new Set<string>();
      const spread = [800, 2500, 40_000][pick(3)]!;
      for (let i = 0; i < 150; i++) {
        const row = flowRow(pick, TcpState.ESTABLISHED);
        const key = `${row.protocol} ${row.local.address} ${row.local.port} ${row.remote.address} ${row.remote.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const ageMs = pick(spread) + (pick(3) === 0 ? 0.25 : 0);
        offered.push({ row, ageMs });
        if (firsts.mayLead(TcpState.ESTABLISHED, ageMs)) firsts.offer(TcpState.ESTABLISHED, ageMs, row, offered.length - 1);
      }
      expect(firsts.overflowed).toBe(false);
      const kept = new Set(firsts.handles());
      expect(kept.size).toBeLessThan(offered.length);
      // Whatever the reading's time (its milliseconds within a second), the first is kept.
      for (const nowMs of [T0, T0 + 1, T0 + 250.5, T0 + 999, T0 + 1000, T0 + 1777]) {
        const second = (ageMs: number) => Math.floor((nowMs - ageMs) / 1000);
        let first = 0;
        for (let i = 1; i < offered.length; i++) {
          const a = offered[i]!;
          const b = offered[first]!;
          if (second(a.ageMs) < second(b.ageMs) || (second(a.ageMs) === second(b.ageMs) && compareFlowOrder(a.row, b.row) < 0)) first = i;
        }
        expect(kept.has(first), `seed ${seed} at ${nowMs}`).toBe(true);
      }
    }
  });
});

describe('FirstSightScreen', () => {
  it('is undefined for count rules and rules on process names (every row counts there)', () => {
    expect(FirstSightScreen.of({ ...defaultPolicy(), counts: [{ name: 'c', states: [TcpState.CLOSE_WAIT], per: 'process', warningAbove: 5 }] })).toBeUndefined();
    expect(FirstSightScreen.of({ ...defaultPolicy(), rules: [{ name: 'p', match: { processes: ['java'] }, warning: {}, critical: {} }] })).toBeUndefined();
    expect(FirstSightScreen.of(defaultPolicy())).toBeDefined();
  });

  it('leaves out only rows the tracker and the rules leave unflagged at a first sight, whatever rule matches', () => {
    const policy: Policy = {
      warning: { idleMs: 3_600_000, halfOpenMs: 30_000, halfCloseMs: 30_000, perStateMs: { [TcpState.LAST_ACK]: 5_000 } },
      critical: { idleMs: 7_200_000 },
      rules: [
        { name: 'db', match: { remotePorts: [{ from: 5432, to: 5432 }] }, warning: { idleMs: 600_000 }, critical: {} },
        { name: 'fin', match: { states: [TcpState.FIN_WAIT_2] }, warning: { halfCloseMs: 2_000 }, critical: {} },
      ],
      counts: [],
    };
    const screen = FirstSightScreen.of(policy)!;
    const pick = generator(7);
    let leftOut = 0;
    let kept = 0;
    const states = [TcpState.ESTABLISHED, TcpState.FIN_WAIT_1, TcpState.FIN_WAIT_2, TcpState.CLOSING, TcpState.LAST_ACK, TcpState.TIME_WAIT, TcpState.CLOSE_WAIT, TcpState.SYN_SENT, TcpState.LISTEN];
    for (let i = 0; i < 3000; i++) {
      const state = states[pick(states.length)]!;
      const ago = () => [0, 1_999, 2_000, 4_999, 599_999, 600_000, 600_001, 3_000_000, 9_000_000][pick(9)]!;
      const activity = pick(10) === 0 ? undefined : { lastSendAgoMs: ago(), lastReceiveAgoMs: ago(), lastPeerSegmentAgoMs: ago() };
      const row: SocketRow = {
        ...flowRow(pick, state, activity),
        sendQueue: pick(2),
        timer: pick(2) ? { name: 'on', remainingMs: pick(3000) } : { name: 'timewait', remainingMs: pick(60_000) },
        retransmits: pick(5),
        rtoMs: 400,
        backoff: pick(3),
      };
      const tracker = advance(emptyTrackerState(), { takenAtMs: T0, rows: [row], completeProtocols: ['tcp', 'tcp6'] }).state;
      const connection = [...tracker.connections.values()][0]!;
      const flag = evaluateConnection(policy, { row: connection.row, ...timingOf(connection, T0) });
      if (screen.leavesOut(row)) {
        leftOut++;
        expect(flag, JSON.stringify(row)).toBeUndefined();
        expect([TcpState.ESTABLISHED, TcpState.FIN_WAIT_1, TcpState.FIN_WAIT_2, TcpState.CLOSING, TcpState.LAST_ACK, TcpState.TIME_WAIT]).toContain(state);
        if (state === TcpState.ESTABLISHED) expect(timingOf(connection, T0).idleMs).toBeDefined();
      } else kept++;
    }
    expect(leftOut).toBeGreaterThan(500);
    expect(kept).toBeGreaterThan(500);
  });
});
