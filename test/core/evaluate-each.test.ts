import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { evaluateAll, forEachEvaluated, viewOfEvaluated, type ConnectionView } from '../../src/core/evaluate.js';
import { defaultPolicy, type Flag, type Policy } from '../../src/core/policy.js';
import { advance, emptyTrackerState } from '../../src/core/tracker.js';

// forEachEvaluated (serve's metrics, watch and the event log in one pass) at many flagged
// sessions (issue 15): the flags evaluateAll gives, without a Flag object per flagged connection
// at each poll. Rows written for the test: ss-shaped rows of one host, with tcp_info's last*
// counters where idle is measured, in every session class, flagged and not.

const T0 = Date.parse('2026-11-21T00:00:00Z');

function rows(idleMs: number): SocketRow[] {
  const out: SocketRow[] = [];
  const row = (port: number, state: SocketRow['state'], extra: Partial<SocketRow> = {}): SocketRow => ({
    protocol: 'tcp',
    local: { address: '127.0.0.1', port },
    remote: { address: '127.0.0.1', port: 5432 },
    state,
    rawState: state,
    ...extra,
  });
  for (let i = 0; i < 40; i++)
    out.push(row(20_000 + i, 'ESTABLISHED', { activity: { lastSendAgoMs: idleMs + i * 1000, lastReceiveAgoMs: idleMs + i * 1000, lastPeerSegmentAgoMs: idleMs + i * 1000 } }));
  for (let i = 0; i < 5; i++) out.push(row(30_000 + i, 'CLOSE_WAIT'), row(31_000 + i, 'SYN_SENT'), row(32_000 + i, 'LISTEN'));
  return out;
}

function trackedFor(policy: Policy) {
  let state = emptyTrackerState();
  for (const [i, idle] of [0, 45_000].entries()) state = advance(state, { takenAtMs: T0 + i * 45_000, rows: rows(idle), completeProtocols: ['tcp', 'tcp6'] }).state;
  const now = T0 + 45_000;
  return { state, now, views: evaluateAll(state, now, policy, { ranked: false }).views };
}

describe('forEachEvaluated at many flagged sessions', () => {
  it("hands over evaluateAll's flag and timing for each connection, in one reused Flag object; viewOfEvaluated gives evaluateAll's view", () => {
    // Idle 50 s warning, 70 s critical (written for the test): both severities among the ESTABLISHED.
    const policy: Policy = { ...defaultPolicy(), warning: { ...defaultPolicy().warning, idleMs: 50_000 }, critical: { idleMs: 70_000, perStateMs: {} } };
    const { state, now, views } = trackedFor(policy);
    const seen: { flag: Flag | undefined; copy: Flag | undefined; view: ConnectionView }[] = [];
    forEachEvaluated(state, now, policy, (e) => seen.push({ flag: e.flag, copy: e.flag && { ...e.flag }, view: viewOfEvaluated(e) }));
    expect(seen.map((s) => s.copy)).toEqual(views.map((v) => v.flag));
    expect(seen.map((s) => s.view)).toStrictEqual(views);
    const flags = seen.map((s) => s.flag).filter((f): f is Flag => f !== undefined);
    expect(flags.length).toBeGreaterThan(30);
    expect(new Set(seen.flatMap((s) => (s.copy ? [`${s.copy.kind} ${s.copy.severity}`] : [])))).toEqual(new Set(['idle warning', 'idle critical', 'half-open warning', 'half-close warning']));
    // One object for all of them: the poll made no Flag per flagged connection.
    expect(new Set(flags).size).toBe(1);
    // A kept view has its own flag, not the reused one.
    for (const s of seen) if (s.flag) expect(s.view.flag).not.toBe(s.flag);
  });
});
