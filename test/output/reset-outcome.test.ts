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
        'ended     CLOSE_WAIT 127.0.0.1:5001 -> 127.0.0.1:40000 api[200] via SOCK_DESTROY\n' +
        // Behaviour added (n6): the counts after two sessions or more; the one left alone is not a failure.
        'reset: 2 sessions selected: 1 ended, 1 left alone, 0 failed\n',
    );
  });
});

describe('reset --yes summary: each selected session counted once', () => {
  // Outcomes written for the test, in the shapes SocketKiller and reset-run return.
  const views = viewsOf([5000, 5001, 5002, 5003, 5004, 5005, 5006, 5007].map((port) => closeWait({ local: { address: '127.0.0.1', port } })));
  const outcomes: KillOutcome[] = [
    { ended: true, via: 'SOCK_DESTROY' },
    { ended: true, alreadyGone: true, via: 'ss -K' },
    { ended: false, via: 'SOCK_DESTROY', reusedTuple: true, reason: 'the socket seen (cookie 1) is gone and a newer one (cookie 2, ESTABLISHED) holds its 4-tuple now: left alone' },
    { ended: false, via: 'ss -K', stateNow: 'LAST_ACK', reason: 'its state moved on since the poll (CLOSE_WAIT then, LAST_ACK now): left alone' },
    // Still there in another state after ss -K said it ended one: not a socket left alone on purpose.
    { ended: false, via: 'ss -K', stateNow: 'LAST_ACK', reason: 'still present after the reset (CLOSE_WAIT then, LAST_ACK now)' },
    { ended: false, via: 'SOCK_DESTROY', reason: 'no answer from the kernel to the lookup of its state now (timeout): its state is unknown, so it was left alone' },
    { ended: false, via: 'ss -K', reason: 'permission denied: ending sockets needs root (CAP_NET_ADMIN)' },
  ];
  const [skipped, ...tried] = views;
  const report = {
    refused: false as const,
    dryRun: false,
    candidates: tried,
    untouchable: [{ view: skipped!, reason: 'a listening socket is never reset' }],
    results: tried.map((view, i) => ({ view, outcome: outcomes[i]! })),
    needsConfirmation: undefined,
  };

  it('ended (gone already too), left alone (skipped, state moved, tuple reused), failed (the rest, an unknown state included)', () => {
    expect(resetReportToJson(report).summary).toEqual({ ended: 2, leftAlone: 3, failed: 3 });
    expect(formatResetText(report).trimEnd().split('\n').at(-1)).toBe('reset: 8 sessions selected: 2 ended, 3 left alone, 3 failed');
  });
});
