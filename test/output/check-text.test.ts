import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { evaluateAll } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { advance, emptyTrackerState } from '../../src/core/tracker.js';
import { formatFlaggedLine } from '../../src/output/check-text.js';

const T0 = Date.parse('2026-11-21T00:00:00Z');
const closeWait = (extra: Partial<SocketRow>): SocketRow => ({
  protocol: 'tcp',
  local: { address: '127.0.0.1', port: 5000 },
  remote: { address: '127.0.0.1', port: 40000 },
  state: 'CLOSE_WAIT',
  rawState: 'CLOSE-WAIT',
  ...extra,
});

function flaggedLine(row: SocketRow): string | undefined {
  let state = advance(emptyTrackerState(), { takenAtMs: T0, rows: [row], completeProtocols: ['tcp', 'tcp6'] }).state;
  state = advance(state, { takenAtMs: T0 + 60_000, rows: [row], completeProtocols: ['tcp', 'tcp6'] }).state;
  const view = evaluateAll(state, T0 + 60_000, defaultPolicy()).views[0]!;
  return formatFlaggedLine(view);
}

describe('formatFlaggedLine names what was measured', () => {
  it('the half-close timer where the source gives segment times (ss lastack), the time in state where it does not (procfs)', () => {
    expect(flaggedLine(closeWait({ activity: { lastPeerSegmentAgoMs: 50_000 } }))).toMatch(/ half-close timer 50s > 30s /);
    expect(flaggedLine(closeWait({}))).toMatch(/ in state 1m00s > 30s /);
  });
});
