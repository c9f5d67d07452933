import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { diagnoseAll, readByDiagnosis, type HostFacts } from '../../src/core/diagnosis.js';
import { evaluateAll, rankFlaggedFirst, sortViews, type ConnectionView } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { TcpState } from '../../src/core/tcp-state.js';
import { advance, emptyTrackerState } from '../../src/core/tracker.js';

// Tables written for these tests in the shape the netlink and ss parsers give rows (kernel counters
// in `activity` and `timer`, owners where a lookup found them), mixed so that every reader of the
// order check relies on is exercised: flagged sessions of each kind in both severities' reach,
// unflagged ones of every state entering over many seconds (several per second), SYN_SENT groups
// to local listeners (some with a full accept queue, and two listeners on one endpoint, as
// SO_REUSEPORT gives), TIME_WAIT filling a small ephemeral range, owned CLOSE_WAIT of several
// processes, SYN_RECEIVED on a listener, IPv4 and IPv6.
const T0 = Date.parse('2026-12-01T00:00:00Z');

/** A small deterministic generator (an LCG): the same table every run. */
function generator(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return Math.floor((state / 2 ** 31) * n); // the high bits: an LCG's low bits repeat with short periods
  };
}

function table(seed: number, size: number): SocketRow[] {
  const pick = generator(seed);
  const rows: SocketRow[] = [];
  const peerPorts = [5432, 6379, 8080];
  for (const port of peerPorts) {
    rows.push({
      protocol: 'tcp',
      local: { address: '127.0.0.1', port },
      remote: { address: '0.0.0.0', port: 0 },
      state: 'LISTEN',
      rawState: 'LISTEN',
      receiveQueue: port === 6379 ? 129 : 0,
      acceptBacklog: 128,
    });
  }
  // A second listener on 8080 (SO_REUSEPORT), owned: the diagnosis keeps one of the two by order.
  rows.push({
    protocol: 'tcp',
    local: { address: '127.0.0.1', port: 8080 },
    remote: { address: '0.0.0.0', port: 0 },
    state: 'LISTEN',
    rawState: 'LISTEN',
    receiveQueue: 3,
    acceptBacklog: 4,
    pid: 77,
    process: 'web',
  });
  for (let i = 0; i < size; i++) {
    const v6 = pick(10) === 0;
    const local = { address: v6 ? '::1' : '127.0.0.1', port: 20_000 + i };
    const remote = pick(12) === 0 ? { address: '127.0.0.1', port: peerPorts[pick(3)]! } : { address: v6 ? '::1' : `10.0.${pick(3)}.${pick(4)}`, port: 30_000 + pick(40) };
    const protocol = v6 ? 'tcp6' : 'tcp';
    const owner = pick(10) === 0 ? { pid: 100 + pick(3), process: `app${pick(2)}` } : {};
    const agoMs = 1_000 * pick(7_200) + pick(1_000); // entered up to two hours ago, any millisecond
    const kind = pick(100);
    if (kind < 55) {
      rows.push({ protocol, local, remote, state: 'ESTABLISHED', rawState: 'ESTAB', activity: { lastSendAgoMs: agoMs, lastReceiveAgoMs: agoMs + pick(5_000), lastPeerSegmentAgoMs: agoMs }, ...owner });
    } else if (kind < 67) {
      rows.push({ protocol, local, remote, state: 'CLOSE_WAIT', rawState: 'CLOSE-WAIT', activity: { lastPeerSegmentAgoMs: pick(2) === 0 ? pick(30_000) : agoMs }, ...owner });
    } else if (kind < 75) {
      rows.push({ protocol, local, remote, state: 'FIN_WAIT_2', rawState: 'FIN-WAIT-2', activity: { lastPeerSegmentAgoMs: pick(60_000) }, ...owner });
    } else if (kind < 87) {
      rows.push({ protocol, local, remote: { address: '127.0.0.1', port: 5432 + 2_000 * pick(2) }, state: 'TIME_WAIT', rawState: 'TIME-WAIT', timer: { name: 'timewait', remainingMs: pick(60_000) } });
    } else if (kind < 95) {
      const retransmits = pick(8);
      rows.push({
        protocol,
        local,
        remote,
        state: 'SYN_SENT',
        rawState: 'SYN-SENT',
        retransmits,
        rtoMs: 1_000 * 2 ** retransmits,
        timer: { name: 'on', remainingMs: pick(1_000 * 2 ** retransmits) },
        ...owner,
      });
    } else {
      rows.push({
        protocol,
        local: { address: '127.0.0.1', port: peerPorts[pick(3)]! },
        remote: { address: `10.9.${pick(3)}.${pick(250)}`, port: 40_000 + i },
        state: 'SYN_RECEIVED',
        rawState: 'SYN-RECV',
        retransmits: pick(4),
        timer: { name: 'on', remainingMs: 1_000 },
      });
    }
  }
  return rows;
}

/** Each state in the order it first appears (JSON `counts` keys are made so). */
const firstAppearances = (views: readonly ConnectionView[]) => [...new Set(views.map((v) => v.row.state))];
const keys = (views: readonly ConnectionView[]) => views.map((v) => v.connection.key);

describe('rankFlaggedFirst (check: only what is shown is ranked)', () => {
  const facts: HostFacts = { ephemeralPorts: { low: 20_000, high: 20_019 }, finTimeoutMs: 60_000 };

  for (const seed of [1, 7, 2026]) {
    it(`orders the flagged views, the states' first appearances and the diagnosis exactly as the whole ranking does (table ${seed})`, () => {
      const rows = table(seed, 3_000);
      const { state } = advance(emptyTrackerState(), { takenAtMs: T0, rows, completeProtocols: ['tcp', 'tcp6'] });
      const unranked = evaluateAll(state, T0, defaultPolicy(), { ranked: false }).views;
      const whole = sortViews(unranked.slice());
      const shown = rankFlaggedFirst(unranked, readByDiagnosis(unranked, facts));

      const flagged = whole.filter((v) => v.flag);
      expect(flagged.length).toBeGreaterThan(100);
      expect([...new Set(flagged.map((v) => v.flag!.kind))].sort()).toEqual(['half-close', 'half-open', 'idle']);
      expect(keys(shown.views.slice(0, flagged.length))).toEqual(keys(flagged));
      expect(shown.views.filter((v) => v.flag)).toHaveLength(flagged.length);
      expect(firstAppearances(shown.views)).toEqual(firstAppearances(whole));
      // Every view once: nothing lost, nothing repeated.
      expect(new Set(keys(shown.views))).toEqual(new Set(keys(unranked)));
      expect(shown.views).toHaveLength(unranked.length);

      const fromWhole = diagnoseAll(whole, facts);
      const fromRanked = diagnoseAll(shown.views.slice(0, shown.ranked), facts);
      expect(fromWhole.groups.map((g) => g.code)).toEqual(expect.arrayContaining(['upstream-unreachable', 'socket-leak', 'ephemeral-ports']));
      expect(fromRanked.groups).toEqual(fromWhole.groups);
      // Every connection's finding (each flagged one's, none for the rest) is the same from the ranked views as from the whole table.
      const entries = (d: typeof fromWhole) => whole.map((v) => [v.connection.key, d.byConnection.get(v.connection.key)] as const);
      expect(entries(fromRanked)).toEqual(entries(fromWhole));
      expect(entries(fromWhole).filter(([, finding]) => finding !== undefined)).toHaveLength(flagged.length);
      // And it did leave most of the table unranked (the point: the sort was a tenth of a one-shot check).
      expect(shown.ranked).toBeLessThan(unranked.length * 0.75);
    });
  }

  it('ranks a state that has no flagged view from its earliest second, ties included', () => {
    // Rows written for the test: three ESTABLISHED, none idle long enough to be flagged; two entered
    // in the same earliest second (their kernel counters 600.2 s and 600.9 s ago), one later.
    const est = (port: number, agoMs: number): SocketRow => ({
      protocol: 'tcp',
      local: { address: '127.0.0.1', port },
      remote: { address: '10.0.0.5', port: 5432 },
      state: 'ESTABLISHED',
      rawState: 'ESTAB',
      activity: { lastSendAgoMs: agoMs, lastReceiveAgoMs: agoMs, lastPeerSegmentAgoMs: agoMs },
    });
    const rows = [est(3, 10_000), est(2, 600_200), est(1, 600_900)];
    const { state } = advance(emptyTrackerState(), { takenAtMs: T0, rows, completeProtocols: ['tcp'] });
    const unranked = evaluateAll(state, T0, defaultPolicy(), { ranked: false }).views;
    expect(unranked.some((v) => v.flag)).toBe(false);
    const shown = rankFlaggedFirst(unranked, () => false);
    expect(shown.ranked).toBe(2);
    expect(shown.views.map((v) => v.row.local.port)).toEqual([1, 2, 3]);
    expect(shown.views[0]!.row.state).toBe(TcpState.ESTABLISHED);
  });
});
