import type { ConnectionView } from '../core/evaluate.js';
import { plural } from '../core/plural.js';
import type { Policy } from '../core/policy.js';
import type { Platform } from '../platform/platform.js';
import { resetRefusal, socketEnder } from '../sources/end-socket.js';
import type { Monitor } from './monitor.js';
import { requireOwnersKnown } from './list-run.js';
import type { TcpState } from '../core/tcp-state.js';
import type { EndOutcome, ResetReport, ResetResult } from './reports.js';

// The `reset` use case: end the selected sessions of one successful poll (a dry run unless
// `yes`), never LISTEN or TIME_WAIT, each named exactly; an ended socket must be gone from the
// next poll. Broad selections are confirmed before anything is ended.

export interface ResetRequest {
  policy: Policy;
  /** Act; without it, a dry run. */
  yes: boolean;
  /** Confirms a selection that is too broad. */
  all: boolean;
  /** Act only if exactly this many sessions are selected. */
  count: number | undefined;
  /** Whether a row is selected; the selection grammar is the front end's. */
  selects(view: ConnectionView): boolean;
  /** Whether a row needs its owner looked up for the selection (before owners are known). */
  needsOwnerToSelect(view: ConnectionView): boolean;
  /** The selection matches owners (`--process`, `--pid`): with owners unknown it cannot be judged (list-run requireOwnersKnown). */
  selectsByOwner: boolean;
  /** Why `selected` out of every `endable` session is too broad for --yes alone; undefined when it is not. */
  tooBroad(selected: readonly ConnectionView[], endable: readonly ConnectionView[]): string | undefined;
}

/** Reset over the table of the monitor's last poll, which succeeded. */
export async function runResetUseCase(monitor: Monitor, platform: Platform, request: ResetRequest): Promise<ResetReport> {
  if (request.selectsByOwner) requireOwnersKnown(monitor);
  const { evaluation } = await monitor.evaluate(request.policy, { window: (e) => e.views.filter((v) => request.needsOwnerToSelect(v)) });
  const selected = evaluation.views.filter((v) => request.selects(v));
  const untouchable: { view: ConnectionView; reason: string }[] = [];
  const candidates: ConnectionView[] = [];
  for (const view of selected) {
    const reason = resetRefusal(platform, view.row);
    if (reason) untouchable.push({ view, reason });
    else candidates.push(view);
  }

  const endable = evaluation.views.filter((v) => !resetRefusal(platform, v.row));
  const tooBroad = request.tooBroad(candidates, endable);
  if (request.yes && request.count !== undefined && request.count !== candidates.length) {
    return { refused: true, reason: `reset --count ${request.count}: the selection matches ${plural(candidates.length, 'session')} now; nothing was ended` };
  }
  if (request.yes && tooBroad && !request.all && request.count === undefined) {
    return { refused: true, reason: `reset: ${tooBroad}; nothing was ended. Narrow it, or confirm with --count ${candidates.length} (or --all)` };
  }

  const results: ResetResult[] = [];
  if (request.yes) {
    const ender = socketEnder(platform, { readAtMs: monitor.tracker.lastPollMs });
    try {
      for (const view of candidates) results.push({ view, outcome: await ender.end(view.row) });
    } finally {
      ender.close();
    }
    // Trust but verify: an ended socket must be gone from the next poll.
    if (results.some((r) => r.outcome.ended)) {
      // The states seen, taken before the poll: a tracker may update a row in place.
      const seen = results.map((r) => r.view.row.state);
      const after = await monitor.poll();
      if (after.ok) {
        // Listed by this reading (a flow missing from it is kept, unconfirmed, by the tracker: not present).
        const missing = monitor.tracker.unconfirmedAbsence;
        results.forEach((result, i) => {
          if (!result.outcome.ended) return;
          const key = result.view.connection.key;
          const now = missing?.has(key) ? undefined : monitor.tracker.connections.get(key);
          if (now) result.outcome = stillPresent(result.outcome, seen[i]!, now.row.state);
        });
      }
    }
  }
  return { refused: false, dryRun: !request.yes, candidates, untouchable, results, needsConfirmation: tooBroad && !request.all ? tooBroad : undefined };
}

/**
 * The outcome of a session said ended that the next poll still lists, in `stateNow`. In another
 * state than the one seen: `ss -K`'s filter names the state seen, so an ss that found nothing to
 * end (`alreadyGone`) left a socket that had moved on alone, as the SOCK_DESTROY path's own lookup
 * does (stateNow in JSON either way); one that ended a socket there may have met a newer one.
 */
function stillPresent(outcome: EndOutcome, then: TcpState, stateNow: TcpState): EndOutcome {
  const via = outcome.via ? { via: outcome.via } : {};
  if (stateNow === then) return { ended: false, reason: 'still present after the reset', ...via };
  const reason =
    outcome.ended && outcome.alreadyGone ? `its state moved on since the poll (${then} then, ${stateNow} now): left alone` : `still present after the reset (${then} then, ${stateNow} now)`;
  return { ended: false, reason, stateNow, ...via };
}
