import { describe, expect, it } from 'vitest';
import type { NetnsLabel, SocketRow } from '../../src/core/connection.js';
import { evaluateAll, forEachEvaluated } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import type { TcpState } from '../../src/core/tcp-state.js';
import { advance, emptyTrackerState, type TrackerState } from '../../src/core/tracker.js';
import { connectionSamples, connectionSamplesOf } from '../../src/output/prometheus.js';

// serve counts its metrics in one pass over the tracker (connectionSamplesOf over forEachEvaluated),
// with no view per connection; every sample must be the one the views give (connectionSamples
// over evaluateAll). Rows written for the test in the tracker's SocketRow shape: flows in every
// state, with and without activity, in namespaces of which some share a name.

const T0 = Date.parse('2026-11-21T00:00:00Z');
const STATES: TcpState[] = ['ESTABLISHED', 'CLOSE_WAIT', 'FIN_WAIT_2', 'SYN_SENT', 'SYN_RECEIVED', 'LAST_ACK', 'LISTEN', 'TIME_WAIT', 'FIN_WAIT_1', 'CLOSING'];
const NAMESPACES: (NetnsLabel | undefined)[] = [
  undefined,
  { inode: 4026532177, names: ['web'] },
  { inode: 4026532300, names: ['web'] }, // the same name: told apart by the inode
  { inode: 4026532400, host: true },
  { inode: 4026532500 },
  { inode: 4026532600, names: ['other'] }, // a name equal to the "other" series
];

/** A deterministic mix of `n` rows (a linear congruential sequence picks each one's traits). */
function rows(n: number, seed: number, withNetns: boolean): SocketRow[] {
  let x = seed;
  const next = (m: number) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % m;
  };
  return Array.from({ length: n }, (_, i) => {
    const state = STATES[next(STATES.length)]!;
    const row: SocketRow = {
      protocol: 'tcp',
      local: { address: '127.0.0.1', port: [80, 443, 5000, 30000 + i][next(4)]! },
      remote: { address: '127.0.0.2', port: 40000 + i },
      state,
      rawState: state,
    };
    if (next(2)) row.activity = { lastSendAgoMs: next(4) * 3_000_000, lastReceiveAgoMs: next(4) * 3_000_000, lastPeerSegmentAgoMs: next(3) * 100_000 };
    if (withNetns) {
      const netns = NAMESPACES[next(NAMESPACES.length)];
      if (netns) row.netns = netns;
    }
    return row;
  });
}

/** The tracker after polls at T0 and later ones, flows first seen at different polls. */
function trackerOf(all: SocketRow[]): TrackerState {
  let state = emptyTrackerState();
  const half = all.slice(0, all.length / 2);
  for (const [at, table] of [
    [T0, half],
    [T0 + 90_000, all],
    [T0 + 4_000_000, all],
  ] as const) {
    state = advance(state, { takenAtMs: at, rows: table, completeProtocols: ['tcp', 'tcp6'] }).state;
  }
  return state;
}

describe('serve: metrics counted in one pass equal those of the views', () => {
  for (const [name, withNetns, netnsLabels, listenerPorts] of [
    ['no netns labels, no listener ports', false, undefined, []],
    ['listener ports, one named twice', false, undefined, [80, 5000, 80, 9999]],
    ['netns labels, every namespace kept', true, { maxSeries: 10 }, [443]],
    ['netns labels, two kept, the rest under "other"', true, { maxSeries: 2 }, []],
    ['netns labels, none kept', true, { maxSeries: 0 }, []],
  ] as const) {
    it(name, () => {
      const state = trackerOf(rows(400, name.length, withNetns));
      const now = state.lastPollMs!;
      const policy = defaultPolicy();
      const settings = { listenerPorts, ...(netnsLabels ? { netnsLabels } : {}) };
      const expected = connectionSamples({ ...settings, evaluation: evaluateAll(state, now, policy, { ranked: false }) });
      const got = connectionSamplesOf((visit) => forEachEvaluated(state, now, policy, visit), [], settings);
      expect(got).toEqual(expected);
      // The mix is not trivial: some sessions are flagged, and more than one state is counted.
      expect(expected.flagged.some((line) => !line.endsWith(' 0'))).toBe(true);
      expect(expected.connections.filter((line) => !line.endsWith(' 0')).length).toBeGreaterThan(3);
    });
  }

  it('an empty tracker gives the zero series, with and without netns labels', () => {
    const state = advance(emptyTrackerState(), { takenAtMs: T0, rows: [], completeProtocols: ['tcp'] }).state;
    for (const settings of [{ listenerPorts: [80] }, { listenerPorts: [], netnsLabels: { maxSeries: 3 } }]) {
      const expected = connectionSamples({ ...settings, evaluation: evaluateAll(state, T0, defaultPolicy()) });
      expect(connectionSamplesOf((visit) => forEachEvaluated(state, T0, defaultPolicy(), visit), [], settings)).toEqual(expected);
    }
  });

  it('forEachEvaluated gives each connection the dwell and flag of its view', () => {
    const state = trackerOf(rows(200, 7, false));
    const now = state.lastPollMs!;
    const views = evaluateAll(state, now, defaultPolicy(), { ranked: false }).views;
    const seen: { key: string; dwellMs: number; flag: unknown }[] = [];
    // The flag is one reused object (issue 15): kept as a copy.
    forEachEvaluated(state, now, defaultPolicy(), (e) => seen.push({ key: e.connection.key, dwellMs: e.dwellMs, flag: e.flag && { ...e.flag } }));
    expect(seen).toEqual(views.map((v) => ({ key: v.connection.key, dwellMs: v.timing.dwellMs, flag: v.flag })));
  });
});
