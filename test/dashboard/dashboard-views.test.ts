import { describe, expect, it } from 'vitest';
import type { Monitor, OwnerNeed, PollOutcome } from '../../src/app/monitor.js';
import type { SocketRow } from '../../src/core/connection.js';
import { evaluateAll, type ConnectionView, type Evaluation, type ViewPool } from '../../src/core/evaluate.js';
import { defaultPolicy, type Policy } from '../../src/core/policy.js';
import { advance, emptyTrackerState } from '../../src/core/tracker.js';
import { runDashboard } from '../../src/dashboard/dashboard.js';
import { fakeTerminal, steppedClock } from '../fake-terminal.js';

// The dashboard's memory across polls: every poll evaluates every connection and the table holds
// the views until the next poll, so a view made anew each poll for each row is promoted garbage.
// Here the views of an unchanged table are the same objects poll after poll, and the screen still
// shows each poll's values. Rows written for the test in the shape parse-ss gives.

const T0 = Date.parse('2026-12-01T05:00:00Z');
const POLL_MS = 61_000;

const ROWS: SocketRow[] = [40001, 40002, 40003].map((port, i) => ({
  protocol: 'tcp',
  local: { address: '127.0.0.1', port },
  remote: { address: '127.0.0.1', port: 5432 },
  state: i === 0 ? 'CLOSE_WAIT' : 'ESTABLISHED',
  rawState: i === 0 ? 'CLOSE-WAIT' : 'ESTAB',
}));

const terminal = () => fakeTerminal({ columns: 120, rows: 30 });

/** A monitor that passes the dashboard's options to evaluateAll as Monitor.evaluate does (the view pool included). */
function poolingMonitor() {
  let tracker = emptyTrackerState();
  let polls = 0;
  const pools: (ViewPool | undefined)[] = [];
  const monitor = {
    sourceName: 'ss',
    pendingCaptures: 0,
    describesThisHost: true,
    replaysCaptures: false,
    close: () => undefined,
    get tracker() {
      return tracker;
    },
    async poll(): Promise<PollOutcome> {
      const takenAtMs = T0 + polls++ * POLL_MS;
      tracker = advance(tracker, { takenAtMs, rows: ROWS, completeProtocols: ['tcp', 'tcp6'] }).state;
      return { ok: true, takenAtMs, source: 'ss', notices: [], events: [], durationMs: 1 };
    },
    async evaluate(policy: Policy, _need: OwnerNeed, options: { ranked?: boolean; views?: ViewPool } = {}) {
      pools.push(options.views);
      return { evaluation: evaluateAll(tracker, tracker.lastPollMs ?? T0, policy, options), ownersHidden: false };
    },
  };
  return { monitor, pools };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

describe('dashboard views across polls', () => {
  it('keeps one view object per connection from poll to poll (no new view for an unchanged row), and draws each poll’s flag', async () => {
    const t = terminal();
    const stop = new AbortController();
    const time = steppedClock(() => T0);
    const { monitor, pools } = poolingMonitor();
    const seen: Evaluation[] = [];
    const flags: (string | undefined)[] = [];
    // The CLOSE_WAIT row passes its threshold between the second poll (61 s) and the third (122 s).
    const policy = defaultPolicy('ios');
    policy.warning.halfCloseMs = 90_000;
    const run = runDashboard(
      {
        monitor: monitor as unknown as Monitor,
        policy,
        intervalMs: POLL_MS,
        facts: {},
        clock: time.clock,
        afterPoll: async (_outcome, evaluation) => {
          if (!evaluation) return;
          seen.push(evaluation);
          // Read now: the views are updated in place at the next poll.
          flags.push(evaluation.views.find((v) => v.row.state === 'CLOSE_WAIT')?.flag?.kind);
        },
      },
      { input: t.input, output: t.output, terminal: 'xterm-256color', noColor: true, interrupt: stop.signal },
    );
    const drawnAfter: string[] = [];
    for (let i = 0; i < 3; i++) {
      await settle();
      drawnAfter.push(t.text());
      time.step();
    }
    await settle();
    stop.abort();
    await run;

    expect(seen.length).toBeGreaterThanOrEqual(3);
    // The same pool at every evaluation, and in it the same view for each connection.
    expect(new Set(pools).size).toBe(1);
    expect(pools[0]).toBeDefined();
    const byKey = (views: readonly ConnectionView[]) => new Map(views.map((v) => [v.connection.key, v]));
    const first = byKey(seen[0]!.views);
    for (const evaluation of seen.slice(1)) {
      expect(evaluation.views).toHaveLength(ROWS.length);
      for (const view of evaluation.views) expect(view).toBe(first.get(view.connection.key));
    }
    // …updated in place: the flag the third poll gave the CLOSE_WAIT row is on the screen, in its
    // view (the same object as at the first poll) and in the table.
    expect(flags.slice(0, 3)).toEqual([undefined, undefined, 'half-close']);
    expect(drawnAfter[1]).not.toContain('half-close!');
    expect(drawnAfter[2]).toContain('half-close!');
  });
});
