import { describe, expect, it } from 'vitest';
import type { Monitor, PollOutcome } from '../../src/app/monitor.js';
import type { PollClock } from '../../src/app/poll-loop.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { evaluateAll } from '../../src/core/evaluate.js';
import { emptyTrackerState } from '../../src/core/tracker.js';
import { runDashboard } from '../../src/dashboard/dashboard.js';
import { fakeTerminal } from '../fake-terminal.js';

// The dashboard's timer is the app's poll loop on an injected clock: pause, resume and the
// interval keys are tested by stepping a fake clock, never by waiting.

function terminal() {
  const { input, output } = fakeTerminal({ columns: 100, rows: 30 });
  return { input, output };
}

/** A clock whose waits end only when the test says so (or on abort); records each wait's length. */
function steppedClock() {
  let now = Date.parse('2026-11-21T05:30:00Z');
  const waits: { ms: number; end: () => void }[] = [];
  const clock: PollClock = {
    nowMs: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        const wait = { ms, end: resolve };
        waits.push(wait);
        signal.addEventListener('abort', () => (waits.splice(waits.indexOf(wait), 1), resolve()), { once: true });
      }),
  };
  return {
    clock,
    waits,
    /** Ends the pending wait, moving the clock by its length. */
    step: () => {
      const wait = waits.shift()!;
      now += wait.ms;
      wait.end();
    },
  };
}

function countingMonitor() {
  const tracker = emptyTrackerState();
  const monitor = {
    polls: 0,
    tracker,
    sourceName: 'ss',
    pendingCaptures: 0,
    describesThisHost: true,
    close: () => undefined,
    async poll(): Promise<PollOutcome> {
      monitor.polls++;
      return { ok: true, takenAtMs: 0, source: 'ss', notices: [], events: [], durationMs: 1 };
    },
    async evaluate(policy: ReturnType<typeof defaultPolicy>) {
      return { evaluation: evaluateAll(tracker, 0, policy), ownersHidden: false };
    },
  };
  return monitor;
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('dashboard timer on the poll loop', () => {
  it('polls once per interval step; p pauses (the interval passes, no poll), p again polls at once; + lengthens the interval', async () => {
    const t = terminal();
    const stop = new AbortController();
    const time = steppedClock();
    const monitor = countingMonitor();
    const run = runDashboard(
      { monitor: monitor as unknown as Monitor, policy: defaultPolicy('ios'), intervalMs: 2000, facts: {}, clock: time.clock },
      { input: t.input, output: t.output, terminal: 'xterm-256color', noColor: true, interrupt: stop.signal },
    );
    await settle();
    expect(monitor.polls).toBe(1);
    expect(time.waits.map((w) => w.ms)).toEqual([2000]);
    time.step();
    await settle();
    expect(monitor.polls).toBe(2);

    t.input.write('p');
    await settle();
    time.step();
    await settle();
    time.step();
    await settle();
    expect(monitor.polls).toBe(2);

    t.input.write('p');
    await settle();
    expect(monitor.polls).toBe(3);

    t.input.write('+');
    await settle();
    time.step();
    await settle();
    expect(monitor.polls).toBe(4);
    expect(time.waits.at(-1)?.ms).toBe(5000);
    stop.abort();
    await run;
  });

  it.each([
    ['--netns (rows of another namespace, read live): polls on', { describesThisHost: false, replaysCaptures: false }, 3],
    ['--input with every captured table replayed: pauses after its poll', { describesThisHost: false, replaysCaptures: true }, 1],
  ])('%s', async (_name, kind, polls) => {
    const t = terminal();
    const stop = new AbortController();
    const time = steppedClock();
    const monitor = Object.assign(countingMonitor(), kind);
    const run = runDashboard(
      { monitor: monitor as unknown as Monitor, policy: defaultPolicy('ios'), intervalMs: 2000, facts: {}, clock: time.clock },
      { input: t.input, output: t.output, terminal: 'xterm-256color', noColor: true, interrupt: stop.signal },
    );
    await settle();
    for (let i = 0; i < 2; i++) {
      time.step();
      await settle();
    }
    expect(monitor.polls).toBe(polls);
    stop.abort();
    await run;
  });

  it('asks for a census every poll while the table shows every state, and for tiers while it shows flagged only (f)', async () => {
    const t = terminal();
    const stop = new AbortController();
    const time = steppedClock();
    const monitor = countingMonitor();
    let tiers: { censusIntervalMs: number; censusEveryPoll?: () => boolean } | undefined;
    const tiered = Object.assign(monitor, { pollInTiers: (options: typeof tiers) => (tiers = options) });
    const run = runDashboard(
      { monitor: tiered as unknown as Monitor, policy: defaultPolicy('ios'), intervalMs: 2000, censusIntervalMs: 60_000, facts: {}, clock: time.clock },
      { input: t.input, output: t.output, terminal: 'xterm-256color', noColor: true, interrupt: stop.signal },
    );
    await settle();
    expect(tiers?.censusIntervalMs).toBe(60_000);
    expect(tiers?.censusEveryPoll?.()).toBe(true);
    t.input.write('f');
    await settle();
    expect(tiers?.censusEveryPoll?.()).toBe(false);
    t.input.write('f');
    await settle();
    expect(tiers?.censusEveryPoll?.()).toBe(true);
    stop.abort();
    await run;
  });
});
