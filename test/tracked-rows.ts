import type { SocketRow } from '../src/core/connection.js';
import { evaluateAll, type ConnectionView } from '../src/core/evaluate.js';
import { defaultPolicy } from '../src/core/policy.js';
import { advance, emptyTrackerState } from '../src/core/tracker.js';

// Rows written for the formatter and tracker tests, and the views the tracker gives them: the formatters see
// what `list` and `check` would after a minute of polls.

const T0 = Date.parse('2026-11-21T00:00:00Z');

/** 127.0.0.1:5000 in CLOSE_WAIT with 127.0.0.1:40000 (ss's state word), with `extra` on top. */
export const closeWait = (extra: Partial<SocketRow>): SocketRow => ({
  protocol: 'tcp',
  local: { address: '127.0.0.1', port: 5000 },
  remote: { address: '127.0.0.1', port: 40000 },
  state: 'CLOSE_WAIT',
  rawState: 'CLOSE-WAIT',
  ...extra,
});

/** A flow from 127.0.0.1:`localPort` to 10.0.0.5:5432 in `state` (its canonical word as the raw one), with `extra` on top: the tracker tests' row. */
export const flowRow = (localPort: number, state: SocketRow['state'], extra: Partial<SocketRow> = {}): SocketRow => ({
  protocol: 'tcp',
  local: { address: '127.0.0.1', port: localPort },
  remote: { address: '10.0.0.5', port: 5432 },
  state,
  rawState: state,
  ...extra,
});

/** The views of `rows` seen by two complete polls 60 s apart, under the default policy. */
export function viewsAfterAMinute(rows: SocketRow[]): ConnectionView[] {
  let state = advance(emptyTrackerState(), { takenAtMs: T0, rows, completeProtocols: ['tcp', 'tcp6'] }).state;
  state = advance(state, { takenAtMs: T0 + 60_000, rows, completeProtocols: ['tcp', 'tcp6'] }).state;
  return evaluateAll(state, T0 + 60_000, defaultPolicy()).views;
}
