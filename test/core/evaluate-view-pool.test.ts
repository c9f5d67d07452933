import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { evaluateAll, newViewPool, type ConnectionView } from '../../src/core/evaluate.js';
import { defaultPolicy, type Policy } from '../../src/core/policy.js';
import { advance, emptyTrackerState, type TrackerState } from '../../src/core/tracker.js';

// evaluateAll with a view pool (the dashboard's): a connection the pool has a view for gets the
// same objects back, updated, instead of two new objects a connection at each poll. Rows written
// for the test, in the shape the ss and netlink parsers give (state, ss's state word, tcp_info's
// idle times as activity).

const T0 = Date.parse('2026-12-01T05:00:00Z');

const row = (localPort: number, state: SocketRow['state'], idleMs?: number): SocketRow => ({
  protocol: 'tcp',
  local: { address: '127.0.0.1', port: localPort },
  remote: { address: '127.0.0.1', port: 5432 },
  state,
  rawState: state,
  ...(idleMs === undefined ? {} : { activity: { lastSendAgoMs: idleMs, lastReceiveAgoMs: idleMs, lastPeerSegmentAgoMs: idleMs } }),
});

function policy(): Policy {
  const p = defaultPolicy();
  p.warning.idleMs = 60_000;
  p.warning.halfCloseMs = 30_000;
  return p;
}

const poll = (state: TrackerState, atMs: number, rows: SocketRow[]) => advance(state, { takenAtMs: atMs, rows, completeProtocols: ['tcp', 'tcp6'] }).state;

/** What a view shows: its key, row, timing and flag (not which object holds them). */
const shown = (views: readonly ConnectionView[]) => views.map((v) => ({ key: v.connection.key, row: v.row, timing: { ...v.timing }, flag: v.flag })).sort((a, b) => (a.key < b.key ? -1 : 1));

describe('evaluateAll with a view pool', () => {
  it('gives an unchanged connection the same view and timing objects at the next evaluation, with its new dwell, and no new view', () => {
    const rows = [row(40001, 'ESTABLISHED', 1000), row(40002, 'CLOSE_WAIT')];
    let tracker = poll(emptyTrackerState(), T0, rows);
    const pool = newViewPool();
    const first = evaluateAll(tracker, T0, policy(), { views: pool, ranked: false }).views;
    tracker = poll(tracker, T0 + 2000, rows);
    const second = evaluateAll(tracker, T0 + 2000, policy(), { views: pool, ranked: false }).views;
    expect(second).toHaveLength(2);
    for (const view of second) {
      const before = first.find((v) => v.connection === view.connection)!;
      expect(view).toBe(before);
      expect(view.timing).toBe(before.timing);
    }
    expect(second.find((v) => v.row.state === 'CLOSE_WAIT')!.timing.dwellMs).toBe(2000);
  });

  it('shows at every poll exactly what an evaluation without a pool shows: rows, timing, flags gained and lost, new and closed connections', () => {
    const pool = newViewPool();
    // Poll by poll: an idle session that gets flagged, then carries data (flag lost); a CLOSE_WAIT
    // that passes its threshold; a connection that closes; one that opens.
    const polls: [number, SocketRow[]][] = [
      [0, [row(40001, 'ESTABLISHED', 50_000), row(40002, 'CLOSE_WAIT'), row(40003, 'ESTABLISHED', 0)]],
      [20_000, [row(40001, 'ESTABLISHED', 70_000), row(40002, 'CLOSE_WAIT'), row(40003, 'ESTABLISHED', 0)]],
      [40_000, [row(40001, 'ESTABLISHED', 500), row(40002, 'CLOSE_WAIT'), row(40004, 'SYN_SENT')]],
      [60_000, [row(40001, 'ESTABLISHED', 500), row(40002, 'LAST_ACK'), row(40004, 'SYN_SENT')]],
    ];
    let tracker = emptyTrackerState();
    const flagsSeen: (string | undefined)[] = [];
    for (const [atMs, rows] of polls) {
      tracker = poll(tracker, T0 + atMs, rows);
      const pooled = evaluateAll(tracker, T0 + atMs, policy(), { views: pool, ranked: false }).views;
      const plain = evaluateAll(tracker, T0 + atMs, policy(), { ranked: false }).views;
      expect(shown(pooled)).toEqual(shown(plain));
      flagsSeen.push(pooled.find((v) => v.row.local.port === 40001)?.flag?.kind);
    }
    // The case is the one meant: the idle session was flagged at 20 s and no longer at 40 s.
    expect(flagsSeen).toEqual([undefined, 'idle', undefined, undefined]);
  });

  it('gives a view made in a pool the flag property even when unflagged, and a count membership only while the group is over its limit', () => {
    const p = policy();
    p.counts = [{ name: 'many-close-wait', states: ['CLOSE_WAIT'], per: 'remote', warningAbove: 2 }];
    const pool = newViewPool();
    const three = [row(40001, 'CLOSE_WAIT'), row(40002, 'CLOSE_WAIT'), row(40003, 'CLOSE_WAIT')];
    let tracker = poll(emptyTrackerState(), T0, three);
    const over = evaluateAll(tracker, T0, p, { views: pool, ranked: false });
    const plainOver = evaluateAll(tracker, T0, p, { ranked: false });
    expect(shown(over.views)).toEqual(shown(plainOver.views));
    expect(over.views.map((v) => v.flag?.kind)).toEqual(['count', 'count', 'count']);
    tracker = poll(tracker, T0 + 1000, three.slice(0, 1));
    const under = evaluateAll(tracker, T0 + 1000, p, { views: pool, ranked: false });
    expect(under.views).toHaveLength(1);
    expect(under.views[0]).toBe(over.views.find((v) => v.row.local.port === 40001));
    expect(Object.keys(under.views[0]!)).toContain('flag');
    expect(under.views[0]!.flag).toBeUndefined();
  });
});
