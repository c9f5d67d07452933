import { describe, expect, it } from 'vitest';
import type { Monitor, PollOutcome } from '../../src/app/monitor.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { evaluateAll } from '../../src/core/evaluate.js';
import { advance, emptyTrackerState } from '../../src/core/tracker.js';
import { runDashboard } from '../../src/dashboard/dashboard.js';
import { parseSs } from '../../src/sources/linux/parse-ss.js';
import { readFixture } from '../fixture.js';
import { fakeTerminal } from '../fake-terminal.js';

// The real blessed screen on fake streams: what reaches the terminal when things go wrong.

const ROWS = parseSs(readFixture('linux-ss-tanoi-stuck-states-kernel6.txt')).rows;
const T0 = Date.parse('2026-11-21T05:30:00Z');

const terminal = () => fakeTerminal({ columns: 100, rows: 30 });

/** A monitor whose polls answer in turn from `outcomes` (an Error is thrown, like a bug would). */
function fakeMonitor(outcomes: ('ok' | 'fail' | Error)[], pollMs = 0, started: number[] = []): Monitor {
  let tracker = emptyTrackerState();
  let polls = 0;
  const monitor = {
    get tracker() {
      return tracker;
    },
    sourceName: 'ss',
    pendingCaptures: 0,
    describesThisHost: true,
    close: () => undefined,
    async poll(): Promise<PollOutcome> {
      started.push(Date.now());
      if (pollMs) await new Promise((r) => setTimeout(r, pollMs));
      const next = outcomes[Math.min(polls, outcomes.length - 1)]!;
      polls++;
      if (next instanceof Error) throw next;
      const takenAtMs = T0 + polls * 1000;
      if (next === 'fail') return { ok: false, takenAtMs, source: 'ss', notices: [], error: 'ss failed: netlink: Permission denied', events: [], durationMs: 3 };
      tracker = advance(tracker, { takenAtMs, rows: ROWS, completeProtocols: ['tcp', 'tcp6'] }).state;
      return { ok: true, takenAtMs, source: 'ss', notices: [], events: [], durationMs: 4 };
    },
    async evaluate(policy: ReturnType<typeof defaultPolicy>) {
      return { evaluation: evaluateAll(tracker, tracker.lastPollMs ?? T0, policy), ownersHidden: false };
    },
  };
  return monitor as unknown as Monitor;
}

const RESTORED = ['\x1b[?1049l', '\x1b[?25h']; // left the alternate screen, cursor shown

describe('runDashboard on a fake terminal', () => {
  it('an exception inside ends the dashboard with the error, and the terminal is restored first', async () => {
    const t = terminal();
    const stop = new AbortController();
    const run = runDashboard(
      { monitor: fakeMonitor([new Error('boom in a poll')]), policy: defaultPolicy('ios'), intervalMs: 50, facts: {} },
      { input: t.input, output: t.output, terminal: 'xterm-256color', noColor: false, interrupt: stop.signal },
    );
    await expect(run).rejects.toThrow('boom in a poll');
    const tail = t.text().slice(t.text().lastIndexOf('\x1b[?1049h'));
    for (const sequence of RESTORED) expect(tail).toContain(sequence);
  });

  it('a failed poll shows a banner and keeps the last data; an interrupt quits and restores', async () => {
    const t = terminal();
    const stop = new AbortController();
    const run = runDashboard(
      { monitor: fakeMonitor(['ok', 'fail']), policy: defaultPolicy('ios'), intervalMs: 30, facts: {} },
      { input: t.input, output: t.output, terminal: 'xterm-256color', noColor: false, interrupt: stop.signal },
    );
    for (let i = 0; i < 100 && !t.plain().includes('POLL FAILED'); i++) await new Promise((r) => setTimeout(r, 20));
    const afterFailure = t.plain().slice(t.plain().indexOf('POLL FAILED'));
    stop.abort();
    await run;
    expect(afterFailure).toMatch(/^POLL FAILED: ss failed: netlink: Permission denied — showing the data of 05:30:01/);
    expect(t.plain()).toContain('127.0.0.1:43972');
    expect(afterFailure).not.toContain('(first poll running)');
    expect(afterFailure).not.toContain('(no connection matches)');
    expect(t.text().slice(-200)).toContain(RESTORED[0]);
  });

  it('a poll slower than the interval is not queued behind: ticks that find it running are skipped, and keys still act', async () => {
    const t = terminal();
    const stop = new AbortController();
    const started: number[] = [];
    const run = runDashboard(
      { monitor: fakeMonitor(['ok'], 300, started), policy: defaultPolicy('ios'), intervalMs: 20, facts: {} },
      { input: t.input, output: t.output, terminal: 'xterm-256color', noColor: false, interrupt: stop.signal },
    );
    await new Promise((r) => setTimeout(r, 100));
    t.input.write('f'); // handled while the first poll still runs
    await new Promise((r) => setTimeout(r, 600));
    stop.abort();
    await run;
    // 700 ms at a 20 ms interval would be 35 polls if ticks queued; a 300 ms poll allows about 3.
    expect(started.length).toBeGreaterThanOrEqual(2);
    expect(started.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < started.length; i++) expect(started[i]! - started[i - 1]!).toBeGreaterThanOrEqual(290);
    expect(t.plain()).toContain('flagged only');
  });
});
