import { diagnoseAll, type HostFacts } from '../core/diagnosis.js';
import type { ConnectionView } from '../core/evaluate.js';
import type { Policy } from '../core/policy.js';
import { TcpState } from '../core/tcp-state.js';
import type { Monitor, PollOutcome } from './monitor.js';
import { SourceError } from '../sources/source.js';
import type { ListReport } from './reports.js';
import { PollLoop, pollThrough, type PollClock } from './poll-loop.js';

// The `list` use case for one successful poll: evaluate, look owners up only where they are
// shown or needed, select, diagnose with --why. Polling (once, or every --watch) is the caller's.

/** What `list` shows; the selection grammar is the front end's, given here as predicates. */
export interface ListRequest {
  policy: Policy;
  /** Add the diagnosis (findings) to the rows. */
  why: boolean;
  /** Number each row by its place in the whole table, as `explain N` counts (list --numbered). */
  numbered: boolean;
  /** Whether a row is shown. */
  selects(view: ConnectionView): boolean;
  /** Whether a row needs its owner looked up for the selection (before owners are known). */
  needsOwnerToSelect(view: ConnectionView): boolean;
  /** The selection matches owners (`--process`, `--pid`): with owners unknown it cannot be judged (requireOwnersKnown). */
  selectsByOwner: boolean;
  /** Kernel settings for the diagnosis (empty when they do not describe the rows' host). */
  facts: HostFacts;
}

/** The rows of one poll that succeeded (`outcome.ok`), as `list` shows them. */
export async function listPoll(monitor: Monitor, outcome: PollOutcome, request: ListRequest): Promise<ListReport> {
  if (request.selectsByOwner) requireOwnersKnown(monitor);
  // Owners only for rows that are shown, and with --why for every CLOSE_WAIT (a leak is counted per process).
  const needsOwner = (view: ConnectionView) => request.needsOwnerToSelect(view) || (request.why && view.row.state === TcpState.CLOSE_WAIT);
  const { evaluation, ownersHidden } = await monitor.evaluate(request.policy, { window: (e) => e.views.filter(needsOwner) });
  return {
    takenAtMs: outcome.takenAtMs,
    evaluation,
    views: evaluation.views.filter((v) => request.selects(v)),
    diagnosis: request.why ? diagnoseAll(evaluation.views, request.facts) : undefined,
    // The place in the whole table, as `explain N` counts: the ranking is a total order (sortViews).
    places: request.numbered ? new Map(evaluation.views.map((v, i) => [v, i + 1])) : undefined,
    ownersHidden,
  };
}

/** Timing of `list`: one poll, or with `--watch` one every `watchMs` until interrupted or `iterations` polls. */
export interface ListTiming {
  clock: PollClock;
  signal: AbortSignal;
  watchMs?: number;
  iterations?: number;
}

/**
 * Runs list's polls: `onPoll` gets every poll's outcome (failed ones too), `reportFailure` each
 * failed one (each redraw would otherwise show stale rows unexplained). Resolves to whether the last
 * completed poll read the table: false when none did (fail closed), or the last one failed.
 */
export async function runListPolls(monitor: Monitor, timing: ListTiming, handlers: { onPoll(outcome: PollOutcome): Promise<void>; reportFailure(outcome: PollOutcome): void }): Promise<boolean> {
  const once = timing.watchMs === undefined;
  const loop = new PollLoop({
    clock: timing.clock,
    signal: timing.signal,
    intervalMs: timing.watchMs ?? 0,
    ...(once ? { maxPolls: 1 } : timing.iterations !== undefined ? { maxPolls: timing.iterations } : {}),
    failureReporting: 'each',
  });
  const end = await loop.run({ poll: () => pollThrough(monitor), reportFailure: handlers.reportFailure, onPoll: handlers.onPoll });
  return end.last?.ok === true;
}

/**
 * Fail closed: a selection by process (`--process`, `--pid`) over a source whose owners are unknown
 * (Monitor.ownersUnknown: a `--proc-root` that is not a procfs mount point) would match nothing, and
 * "no session matches" would be unproven. Throws SourceError (exit 3) naming why; `list` and
 * `reset` call it after their poll, when the source has checked.
 */
export function requireOwnersKnown(monitor: Pick<Monitor, 'ownersUnknown'>): void {
  const why = monitor.ownersUnknown;
  if (why) throw new SourceError(`the selection matches processes (--process, --pid), but ${why}: owners are unknown`);
}
