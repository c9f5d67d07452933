import { describe, expect, it } from 'vitest';
import type { PollOutcome } from '../../src/app/monitor.js';
import { PollLoop, type PollClock, type PollLoopOptions, type PollStep } from '../../src/app/poll-loop.js';

// The poll loop on a fake clock: sleeping moves the clock, a poll takes the time the test gives it.
// Nothing here waits in real time.

function fakeClock(startMs = 1_000_000) {
  const clock = {
    now: startMs,
    waits: [] as number[],
    nowMs: () => clock.now,
    async sleep(ms: number, signal: AbortSignal) {
      clock.waits.push(ms);
      if (!signal.aborted) clock.now += ms;
    },
  };
  return clock;
}

const ok = (takenAtMs: number): PollOutcome => ({ ok: true, takenAtMs, source: 'ss', notices: [], events: [], durationMs: 0 });
const failed = (takenAtMs: number, error = 'ss failed: netlink: Permission denied'): PollOutcome => ({ ok: false, takenAtMs, source: 'ss', notices: [], error, events: [], durationMs: 0 });

/** Polls answering in turn from `plan` ('ok' | 'fail'), each taking `pollMs` of fake time; records start times. */
function plannedStep(clock: ReturnType<typeof fakeClock>, plan: ('ok' | 'fail')[], pollMs = 0) {
  const started: number[] = [];
  const seen: { ok: boolean; index: number; failureStreak: number }[] = [];
  const reported: number[] = [];
  const step: PollStep = {
    async poll() {
      started.push(clock.now);
      clock.now += pollMs;
      const kind = plan[Math.min(started.length - 1, plan.length - 1)];
      return kind === 'ok' ? ok(clock.now) : failed(clock.now);
    },
    onPoll(outcome, info) {
      seen.push({ ok: outcome.ok, ...info });
    },
    reportFailure() {
      reported.push(started.length);
    },
  };
  return { step, started, seen, reported };
}

const loop = (clock: PollClock, options: Partial<PollLoopOptions> = {}) => new PollLoop({ clock, signal: new AbortController().signal, intervalMs: 1000, ...options });

describe('PollLoop', () => {
  it('polls every interval, counted from the start of each poll, and ends after maxPolls', async () => {
    const clock = fakeClock();
    const { step, started } = plannedStep(clock, ['ok'], 200);
    const end = await loop(clock, { maxPolls: 3 }).run(step);
    expect(started.map((t) => t - 1_000_000)).toEqual([0, 1000, 2000]);
    expect(clock.waits).toEqual([800, 800]);
    expect(end).toMatchObject({ reason: 'max-polls', polls: 3, last: { ok: true } });
  });

  it('a poll slower than the interval skips the ticks it covered instead of queueing them', async () => {
    const clock = fakeClock();
    const { step, started } = plannedStep(clock, ['ok'], 2500);
    await loop(clock, { maxPolls: 3 }).run(step);
    // Ticks at 1000 and 2000 fell during the first poll: the next one starts at the 3000 tick, not at once and not three times.
    expect(started.map((t) => t - 1_000_000)).toEqual([0, 3000, 6000]);
  });

  it('reads the interval again before every wait (the dashboard changes it)', async () => {
    const clock = fakeClock();
    let interval = 1000;
    const { step, started } = plannedStep(clock, ['ok']);
    const polls = loop(clock, { maxPolls: 3, intervalMs: () => interval });
    const original = step.onPoll;
    step.onPoll = (outcome, info) => {
      interval = 5000;
      return original(outcome, info);
    };
    await polls.run(step);
    expect(started.map((t) => t - 1_000_000)).toEqual([0, 5000, 10000]);
  });

  it('Ctrl-C during a poll ends the loop cleanly: the cut-short poll is neither a failure nor reported, and `last` is the poll before', async () => {
    const clock = fakeClock();
    const interrupt = new AbortController();
    let polls = 0;
    const seen: boolean[] = [];
    const reported: string[] = [];
    const end = await loop(clock, { signal: interrupt.signal }).run({
      async poll() {
        polls++;
        if (polls < 3) return ok(clock.now);
        // What the platform does on SIGINT: the running `ss` is killed, the read rejects, the poll fails.
        interrupt.abort();
        return failed(clock.now, 'interrupted');
      },
      onPoll: (outcome) => void seen.push(outcome.ok),
      reportFailure: (outcome) => void reported.push(outcome.error ?? ''),
    });
    expect(end.reason).toBe('interrupted');
    expect(end.polls).toBe(2);
    expect(end.last).toMatchObject({ ok: true, takenAtMs: 1_001_000 });
    expect(seen).toEqual([true, true]);
    expect(reported).toEqual([]);
  });

  it('the first poll cut short by Ctrl-C read nothing: a failed poll (reported, handed on), then the loop ends', async () => {
    const clock = fakeClock();
    const interrupt = new AbortController();
    const seen: boolean[] = [];
    const reported: string[] = [];
    const end = await loop(clock, { signal: interrupt.signal, failureReporting: 'each' }).run({
      async poll() {
        interrupt.abort();
        return failed(clock.now, 'ss failed: interrupted');
      },
      onPoll: (outcome) => void seen.push(outcome.ok),
      reportFailure: (outcome) => void reported.push(outcome.error ?? ''),
    });
    expect(end).toMatchObject({ reason: 'interrupted', polls: 1, last: { ok: false, error: 'ss failed: interrupted' } });
    expect(seen).toEqual([false]);
    expect(reported).toEqual(['ss failed: interrupted']);
  });

  it('an interrupt that came before the first poll still lets it run (it fails fast and is said), then ends', async () => {
    const interrupt = new AbortController();
    interrupt.abort();
    const reported: string[] = [];
    let polls = 0;
    const end = await loop(fakeClock(), { signal: interrupt.signal }).run({
      poll: async () => (polls++, failed(0, 'ss failed: interrupted')),
      onPoll: () => undefined,
      reportFailure: (outcome) => void reported.push(outcome.error ?? ''),
    });
    expect(polls).toBe(1);
    expect(reported).toEqual(['ss failed: interrupted']);
    expect(end).toMatchObject({ reason: 'interrupted', polls: 1 });
  });

  it('an interrupt during the wait ends it at once and starts no other poll', async () => {
    const interrupt = new AbortController();
    let resolveSleep: (() => void) | undefined;
    const clock: PollClock = {
      nowMs: () => 0,
      sleep: (_ms, signal) =>
        new Promise<void>((resolve) => {
          resolveSleep = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    };
    let polls = 0;
    const running = loop(clock, { signal: interrupt.signal }).run({ poll: async () => (polls++, ok(0)), onPoll: () => undefined });
    await new Promise((r) => setImmediate(r));
    expect(resolveSleep).toBeDefined();
    interrupt.abort();
    await expect(running).resolves.toMatchObject({ reason: 'interrupted', polls: 1 });
    expect(polls).toBe(1);
  });

  it('failed polls go to onPoll with their streak; reported once per streak, each time, or never', async () => {
    const plan: ('ok' | 'fail')[] = ['fail', 'fail', 'ok', 'fail', 'ok'];
    const firstOfStreak = plannedStep(fakeClock(), plan);
    await loop(fakeClock(), { maxPolls: 5, failureReporting: 'first-of-streak' }).run(firstOfStreak.step);
    expect(firstOfStreak.reported).toEqual([1, 4]);
    expect(firstOfStreak.seen.map((s) => s.failureStreak)).toEqual([1, 2, 0, 1, 0]);
    expect(firstOfStreak.seen.map((s) => s.index)).toEqual([1, 2, 3, 4, 5]);

    const each = plannedStep(fakeClock(), plan);
    await loop(fakeClock(), { maxPolls: 5, failureReporting: 'each' }).run(each.step);
    expect(each.reported).toEqual([1, 2, 4]);

    const none = plannedStep(fakeClock(), plan);
    const end = await loop(fakeClock(), { maxPolls: 4, failureReporting: 'none' }).run(none.step);
    expect(none.reported).toEqual([]);
    expect(end.last?.ok).toBe(false);
  });

  it('a window polls every interval and once more at its end, measured from the first poll', async () => {
    const clock = fakeClock();
    const { step, started } = plannedStep(clock, ['ok']);
    const end = await loop(clock, { windowMs: 2500 }).run(step);
    expect(started.map((t) => t - 1_000_000)).toEqual([0, 1000, 2000, 2500]);
    expect(end.reason).toBe('window');
  });

  it('`next` polls again at once (captures to replay), or ends the loop; onPoll may stop it', async () => {
    const clock = fakeClock();
    let pending = 2;
    const { step, started } = plannedStep(clock, ['ok']);
    const end = await loop(clock, { next: () => (pending-- > 0 ? 'now' : 'end') }).run(step);
    expect(started).toEqual([1_000_000, 1_000_000, 1_000_000]);
    expect(end.reason).toBe('input-done');

    const stopping = plannedStep(fakeClock(), ['ok']);
    stopping.step.onPoll = (_o, info) => (info.index === 2 ? 'stop' : undefined);
    expect(await loop(fakeClock()).run(stopping.step)).toMatchObject({ reason: 'stopped', polls: 2 });
  });

  it('paused: no poll starts; wake() after resuming polls at once', async () => {
    let paused = false;
    let now = 0;
    const sleeps: (() => void)[] = [];
    const clock: PollClock = {
      nowMs: () => now,
      sleep: (_ms, signal) =>
        new Promise<void>((resolve) => {
          sleeps.push(resolve);
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    };
    const started: number[] = [];
    const polls = loop(clock, { paused: () => paused, maxPolls: 2 });
    const running = polls.run({ poll: async () => (started.push(now), ok(now)), onPoll: () => void (paused = true) });
    const settle = () => new Promise((r) => setImmediate(r));
    await settle();
    expect(started).toEqual([0]);
    // Paused: the interval passes twice and no poll starts.
    now = 1000;
    sleeps.shift()!();
    await settle();
    now = 2000;
    sleeps.shift()!();
    await settle();
    expect(started).toEqual([0]);
    now = 2300;
    paused = false;
    polls.wake();
    await expect(running).resolves.toMatchObject({ reason: 'max-polls', polls: 2 });
    expect(started).toEqual([0, 2300]);
  });

  it('an exception in a poll (a bug) rejects the run', async () => {
    await expect(loop(fakeClock()).run({ poll: () => Promise.reject(new Error('boom')), onPoll: () => undefined })).rejects.toThrow('boom');
  });

  describe('heap budget', () => {
    /** A budget that records when it is called, in the fake clock's time; a collection takes `collectMs`. */
    function recordingBudget(clock: ReturnType<typeof fakeClock>, collectMs = 0) {
      const calls: string[] = [];
      return {
        calls,
        start: () => calls.push(`start@${clock.now - 1_000_000}`),
        afterPoll: () => {
          calls.push(`after@${clock.now - 1_000_000}`);
          clock.now += collectMs;
          return collectMs > 0;
        },
      };
    }

    it('starts before the first poll and runs after each poll another follows, before the wait (never after the last)', async () => {
      const clock = fakeClock();
      const budget = recordingBudget(clock);
      const { step, started } = plannedStep(clock, ['ok', 'fail', 'ok'], 200);
      await loop(clock, { maxPolls: 3, heapBudget: budget }).run(step);
      expect(started.map((t) => t - 1_000_000)).toEqual([0, 1000, 2000]);
      expect(budget.calls).toEqual(['start@0', 'after@200', 'after@1200']);
    });

    it('a collection is part of the wait: the next poll still starts on its tick', async () => {
      const clock = fakeClock();
      const budget = recordingBudget(clock, 300);
      const { step, started } = plannedStep(clock, ['ok'], 200);
      await loop(clock, { maxPolls: 3, heapBudget: budget }).run(step);
      expect(started.map((t) => t - 1_000_000)).toEqual([0, 1000, 2000]);
      expect(clock.waits).toEqual([500, 500]);
    });

    it('a one-shot (maxPolls 1) neither starts nor runs it', async () => {
      const clock = fakeClock();
      const budget = recordingBudget(clock);
      await loop(clock, { maxPolls: 1, heapBudget: budget }).run(plannedStep(clock, ['ok']).step);
      expect(budget.calls).toEqual([]);
    });

    it('a window runs it between its polls, not after the poll at its end', async () => {
      const clock = fakeClock();
      const budget = recordingBudget(clock);
      const { step, started } = plannedStep(clock, ['ok']);
      const end = await loop(clock, { windowMs: 2500, heapBudget: budget }).run(step);
      expect(end.reason).toBe('window');
      expect(started.map((t) => t - 1_000_000)).toEqual([0, 1000, 2000, 2500]);
      expect(budget.calls).toEqual(['start@0', 'after@0', 'after@1000', 'after@2000']);
    });
  });
});
