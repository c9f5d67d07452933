import { describe, expect, it } from 'vitest';
import { formatResetText, resetReportToJson } from '../../src/output/reset.js';
import type { KillOutcome } from '../../src/sources/end-socket.js';
import { closeWait, viewsAfterAMinute as viewsOf } from '../tracked-rows.js';

// What `reset --yes` prints for a socket whose state moved on since the poll (socket-killer.ts
// left it alone), beside one ended: outcomes written for the test in the shapes SocketKiller returns.

describe('reset output of a socket left alone because its state moved on', () => {
  const [moved, ended] = viewsOf([closeWait({ pid: 200, process: 'api' }), closeWait({ local: { address: '127.0.0.1', port: 5001 }, pid: 200, process: 'api' })]);
  const movedOutcome: KillOutcome = {
    ended: false,
    via: 'SOCK_DESTROY',
    stateNow: 'LAST_ACK',
    reason: 'its state moved on since the poll (CLOSE_WAIT then, LAST_ACK now): left alone',
  };
  const report = {
    refused: false as const,
    dryRun: false,
    candidates: [moved!, ended!],
    untouchable: [],
    results: [
      { view: moved!, outcome: movedOutcome },
      { view: ended!, outcome: { ended: true, via: 'SOCK_DESTROY' } as const },
    ],
    needsConfirmation: undefined,
  };

  it('JSON: the state seen stays in `state`, the state now is added as `stateNow`, on that result only', () => {
    const [first, second] = resetReportToJson(report).results;
    expect(first).toMatchObject({ state: 'CLOSE_WAIT', stateNow: 'LAST_ACK', ended: false, via: 'SOCK_DESTROY', reason: movedOutcome.reason });
    expect(first).not.toHaveProperty('reusedTuple');
    expect(second).toMatchObject({ state: 'CLOSE_WAIT', ended: true, via: 'SOCK_DESTROY', reason: null });
    expect(second).not.toHaveProperty('stateNow');
  });

  it('text: a "not ended" line with the reason', () => {
    expect(formatResetText(report)).toBe(
      'not ended CLOSE_WAIT 127.0.0.1:5000 -> 127.0.0.1:40000 api[200]: its state moved on since the poll (CLOSE_WAIT then, LAST_ACK now): left alone\n' +
        'ended     CLOSE_WAIT 127.0.0.1:5001 -> 127.0.0.1:40000 api[200] via SOCK_DESTROY\n',
    );
  });
});
