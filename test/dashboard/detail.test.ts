import { describe, expect, it } from 'vitest';
import type { ConnectionView } from '../../src/core/evaluate.js';
import type { SocketRow } from '../../src/core/connection.js';
import { connectionKey } from '../../src/core/connection.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { detailText } from '../../src/dashboard/detail.js';

// The details pane's text. Rows written for the test in the tracker's view shape: one process
// holding four CLOSE_WAIT sockets, only one of them old enough to be flagged (the case,
// where the pane said "holds 3" while list said 4).

function closeWait(localPort: number, flagged: boolean): ConnectionView {
  const row: SocketRow = {
    protocol: 'tcp',
    local: { address: '127.0.0.1', port: localPort },
    remote: { address: '127.0.0.1', port: 40000 + localPort },
    state: 'CLOSE_WAIT',
    rawState: 'CLOSE-WAIT',
    pid: 22977,
    process: 'python3',
    inode: 1000 + localPort,
  };
  const dwellMs = flagged ? 900_000 : 5000;
  const view: ConnectionView = {
    connection: { key: connectionKey(row), row, firstSeenMs: 0, lastSeenMs: 0, stateSinceMs: 0, dwellSource: 'observed', transitions: [] },
    row,
    timing: { dwellMs, halfCloseTimerMs: dwellMs },
  };
  if (flagged) view.flag = { kind: 'half-close', severity: 'warning', thresholdMs: 600_000, measured: dwellMs, rule: 'default' };
  return view;
}

const VIEWS = [closeWait(1, true), closeWait(2, false), closeWait(3, false), closeWait(4, false)];
const context = { ownersComplete: true, facts: {}, policy: defaultPolicy('ios') };

describe('details pane', () => {
  it('counts every socket the owner holds, flagged or not, as list does', () => {
    for (const view of VIEWS) expect(detailText(VIEWS, view.connection.key, context)).toContain('python3[22977] holds 4 CLOSE_WAIT sockets');
  });

  it('waits for every owner rather than count the visible ones; a closed connection says so', () => {
    expect(detailText(VIEWS, VIEWS[1]!.connection.key, { ...context, ownersComplete: false })).toBe('Looking up the owner of every connection…');
    expect(detailText(VIEWS.slice(1), VIEWS[0]!.connection.key, context)).toMatch(/gone/);
  });
});
