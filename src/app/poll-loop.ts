import { setTimeout as delay } from 'node:timers/promises';
import { MAX_TIMER_MS } from '../core/duration.js';
import { processHeapBudget, type AfterPoll } from './heap-budget.js';
import type { PollOutcome } from './monitor.js';

// The one poll loop of every long-running mode (`watch`, `serve`, `list --watch`,
// `check --window`, the dashboard): when to poll, when to stop, and what a failed or interrupted
// poll means. Modes say what to do with each poll; time comes from an injected clock, so tests
// move a fake clock instead of sleeping.

/** Time as the loop sees it. `sleep` ends early (resolves) when `signal` aborts. */
export interface PollClock {
  nowMs(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** The real clock: wall time and timers (a timer holds at most 2^31 - 1 ms: longer waits go in steps). */
export const systemClock: PollClock = {
  nowMs: () => Date.now(),
  sleep: async (ms, signal) => {
    for (let left = ms; left > 0 && !signal.aborted; left -= MAX_TIMER_MS) await delay(Math.min(left, MAX_TIMER_MS), undefined, { signal }).catch(() => undefined);
  },
};

/**
 * Which failed polls are reported (to stderr, a banner): `first-of-streak` once until a poll
 * succeeds again (watch, serve: an outage is not repeated every interval), `each` every time
 * (list --watch redraws, so each screen says it), `none` (check --window: only the last poll speaks).
 */
export type FailureReporting = 'first-of-streak' | 'each' | 'none';

export interface PollLoopOptions {
  clock: PollClock;
  /** SIGINT/SIGTERM or a quit key: no new poll starts, a wait ends at once, and the loop ends. */
  signal: AbortSignal;
  /** Milliseconds from the start of one poll to the start of the next; read again before every wait (the dashboard's +/-). */
  intervalMs: number | (() => number);
  /** Stop after this many polls (`--iterations`; 1 for a one-shot run). */
  maxPolls?: number;
  /**
   * End after the poll at or past this many ms after the first poll's `takenAtMs` (`check --window`):
   * the last wait is shortened so a poll falls on the end.
   */
  windowMs?: number;
  /** While true, no poll starts; the loop waits an interval at a time (or until `wake()`). */
  paused?: () => boolean;
  /** After each poll: poll again at once (captured tables still to replay), wait an interval, or end. Default `later`. */
  next?: () => 'now' | 'later' | 'end';
  failureReporting?: FailureReporting;
  /**
   * `start` before the first poll unless `maxPolls` is 1; `afterPoll` after each poll that another
   * follows (never after the last, so a one-shot never collects), before the wait: the heap
   * budget's full collection falls where the poll's garbage has just died and the process would
   * sleep. Default: the process's (`setProcessHeapBudget`).
   */
  heapBudget?: AfterPoll;
}

export interface PollStep {
  poll(): Promise<PollOutcome>;
  /**
   * Each completed poll, failed or not, in order; the next poll waits for it. A failed poll
   * (`ok: false`) changed nothing in the tracker: it proves nothing has closed or cleared.
   * Returning `'stop'` ends the loop.
   */
  onPoll(outcome: PollOutcome, info: PollInfo): Promise<void | 'stop'> | void | 'stop';
  /** Called before `onPoll` for the failed polls that `failureReporting` says to report. */
  reportFailure?(outcome: PollOutcome): void;
}

export interface PollInfo {
  /** 1 for the first completed poll. */
  index: number;
  /** Failed polls in a row, this one included; 0 after a success. */
  failureStreak: number;
}

/** Why the loop ended, and the last poll that completed (undefined when none did). */
export interface PollLoopEnd {
  reason: 'interrupted' | 'max-polls' | 'window' | 'input-done' | 'stopped';
  last: PollOutcome | undefined;
  polls: number;
}

/**
 * Runs polls until the options or the step end it. Polls never overlap: one slower than the
 * interval makes the loop skip the ticks that fell during it (not queue them), so the next poll
 * starts at the next tick after it ended. A poll that fails because the signal aborted during it
 * (Ctrl-C while `ss` runs) is not a failure when an earlier poll completed: it is dropped and the
 * loop ends `interrupted`, with `last` the poll before it. The first poll cut short is reported
 * and handed on as failed (nothing was read), then the loop ends `interrupted`. Exceptions from
 * `poll` or `onPoll` (bugs) reject.
 */
export class PollLoop {
  private wakeUp: AbortController | undefined;

  constructor(private readonly options: PollLoopOptions) {}

  /** Ends the current wait now: the next poll starts at once (unpause, a changed interval). */
  wake(): void {
    this.wakeUp?.abort();
  }

  async run(step: PollStep): Promise<PollLoopEnd> {
    const { clock, signal } = this.options;
    const reporting = this.options.failureReporting ?? 'first-of-streak';
    let last: PollOutcome | undefined;
    let polls = 0;
    let streak = 0;
    let windowEndMs: number | undefined;
    const end = (reason: PollLoopEnd['reason']): PollLoopEnd => ({ reason, last, polls });
    const heapBudget = this.options.heapBudget ?? processHeapBudget();
    if (this.options.maxPolls !== 1) heapBudget?.start?.();
    for (;;) {
      // The first poll always runs: an interrupt before it then ends as a failed read, said as such.
      if (signal.aborted && polls > 0) return end('interrupted');
      if (this.options.paused?.()) {
        if (signal.aborted) return end('interrupted');
        await this.wait(this.interval());
        continue;
      }
      const startedMs = clock.nowMs();
      const outcome = await step.poll();
      // Cut short by the interrupt after an earlier poll completed: dropped, that poll stands. The
      // first poll cut short is a failed poll like any other (nothing was read; fail closed).
      if (signal.aborted && !outcome.ok && polls > 0) return end('interrupted');
      polls++;
      last = outcome;
      streak = outcome.ok ? 0 : streak + 1;
      windowEndMs ??= this.options.windowMs === undefined ? undefined : outcome.takenAtMs + this.options.windowMs;
      if (!outcome.ok && (reporting === 'each' || (reporting === 'first-of-streak' && streak === 1))) step.reportFailure?.(outcome);
      if ((await step.onPoll(outcome, { index: polls, failureStreak: streak })) === 'stop') return end('stopped');
      if (signal.aborted) return end('interrupted');
      if (this.options.maxPolls !== undefined && polls >= this.options.maxPolls) return end('max-polls');
      const next = this.options.next?.() ?? 'later';
      if (next === 'end') return end('input-done');
      if (next !== 'now' && windowEndMs !== undefined && clock.nowMs() >= windowEndMs) return end('window');
      heapBudget?.afterPoll();
      if (next === 'now') continue;
      const nowMs = clock.nowMs();
      await this.wait(this.delayAfter(startedMs, nowMs, windowEndMs));
    }
  }

  /** Until the next tick of the interval counted from `startedMs` (ticks already past are skipped), never past the window's end. */
  private delayAfter(startedMs: number, nowMs: number, windowEndMs: number | undefined): number {
    const interval = Math.max(1, this.interval());
    const elapsed = Math.max(0, nowMs - startedMs);
    const untilTick = interval - (elapsed % interval);
    return windowEndMs === undefined ? untilTick : Math.min(untilTick, windowEndMs - nowMs);
  }

  private interval(): number {
    const { intervalMs } = this.options;
    return typeof intervalMs === 'function' ? intervalMs() : intervalMs;
  }

  private async wait(ms: number): Promise<void> {
    const { signal, clock } = this.options;
    if (signal.aborted) return;
    const wakeUp = new AbortController();
    this.wakeUp = wakeUp;
    const forward = () => wakeUp.abort();
    signal.addEventListener('abort', forward, { once: true });
    try {
      await clock.sleep(ms, wakeUp.signal);
    } finally {
      signal.removeEventListener('abort', forward);
      this.wakeUp = undefined;
    }
  }
}

/**
 * One poll of a live source; with `--input`, one poll per captured file in time order, so the last
 * outcome carries the dwell the captures prove. Notices of every poll are kept, once each.
 */
export async function pollThrough(monitor: { poll(): Promise<PollOutcome>; readonly pendingCaptures: number }): Promise<PollOutcome> {
  let outcome = await monitor.poll();
  if (monitor.pendingCaptures === 0) return outcome;
  const notices = new Set(outcome.notices);
  while (monitor.pendingCaptures > 0) {
    outcome = await monitor.poll();
    outcome.notices.forEach((n) => notices.add(n));
  }
  return { ...outcome, notices: [...notices] };
}
