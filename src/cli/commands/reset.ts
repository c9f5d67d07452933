import { Monitor } from '../../app/monitor.js';
import { flowText, ownerLabel } from '../../core/connection.js';
import type { ConnectionView } from '../../core/evaluate.js';
import type { Policy } from '../../core/policy.js';
import { resetToJson, type ResetResult } from '../../output/json.js';
import { sanitizeLine } from '../../output/sanitize.js';
import { endSocket, resetRefusal } from '../../sources/end-socket.js';
import { reportPollFailure, type CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { loadPolicy } from '../load-policy.js';
import { UsageError, type ResetOptions } from '../parse-command-line.js';
import { isEmptySelection, resetTooBroad, selectionNeedsOwners, selects, selectsWithoutOwner } from '../selection.js';
import { writeJson } from '../../output/json-text.js';

// `tcpdwell reset`: end selected sessions, like Cisco IOS XE's `tcp half-open|half-close|idle reset on` (docs/tcp-facts.md#session-classes).
// A dry run unless --yes; LISTEN and TIME_WAIT are never touched; each socket is named exactly.

export async function runReset(options: ResetOptions, context: CliContext): Promise<number> {
  if (isEmptySelection(options.selection)) {
    throw new UsageError('reset needs a selection: --state, --port, --pid, --process, --local, --remote, --flagged or --kind');
  }
  const policy = await loadPolicy(options);
  const monitor = new Monitor(context.platform, { source: options.source, procRoot: options.procRoot });
  try {
    return await resetThrough(monitor, policy, options, context);
  } finally {
    monitor.close();
  }
}

async function resetThrough(monitor: Monitor, policy: Policy, options: ResetOptions, context: CliContext): Promise<number> {
  const outcome = await monitor.poll();
  if (!outcome.ok) {
    reportPollFailure(context, outcome);
    return ExitCode.UNKNOWN;
  }
  const byOwner = selectionNeedsOwners(options.selection);
  const { evaluation } = await monitor.evaluate(policy, (e) => e.views.filter((v) => byOwner || selectsWithoutOwner(options.selection, v)));
  const selected = evaluation.views.filter((v) => selects(options.selection, v));
  const refused = selected.filter((v) => resetRefusal(context.platform, v.row));
  const candidates = selected.filter((v) => !resetRefusal(context.platform, v.row));

  // Broad selections are confirmed before anything is ended: --all, or --count with the exact number.
  const endable = evaluation.views.filter((v) => !resetRefusal(context.platform, v.row));
  const tooBroad = resetTooBroad(candidates, endable);
  if (options.yes && options.count !== undefined && options.count !== candidates.length) {
    throw new UsageError(`reset --count ${options.count}: the selection matches ${candidates.length} session${candidates.length === 1 ? '' : 's'} now; nothing was ended`);
  }
  if (options.yes && tooBroad && !options.all && options.count === undefined) {
    throw new UsageError(`reset: ${tooBroad}; nothing was ended. Narrow it, or confirm with --count ${candidates.length} (or --all)`);
  }

  const results: ResetResult[] = [];
  if (options.yes) {
    for (const view of candidates) results.push({ view, outcome: await endSocket(context.platform, view.row) });
    // Trust but verify: an ended socket must be gone from the next poll.
    if (results.some((r) => r.outcome.ended)) {
      const after = await monitor.poll();
      if (after.ok) {
        const present = new Set(monitor.tracker.connections.keys());
        for (const result of results) {
          if (result.outcome.ended && present.has(result.view.connection.key)) {
            result.outcome = { ended: false, reason: 'still present after the reset' };
          }
        }
      }
    }
  }

  if (options.json) {
    const report = {
      dryRun: !options.yes,
      selected: candidates.length,
      results: options.yes ? results.map(resetToJson) : candidates.map((view) => resetToJson({ view, outcome: { ended: false, reason: 'dry run' } })),
      refused: refused.map((view) => resetToJson({ view, outcome: { ended: false, reason: resetRefusal(context.platform, view.row)! } })),
    };
    writeJson(context.stdout, report, 2);
  } else {
    const lines: string[] = [];
    for (const view of refused) lines.push(`skip      ${describe(view)}: ${resetRefusal(context.platform, view.row)}`);
    if (!options.yes) {
      for (const view of candidates) lines.push(`would end ${describe(view)}`);
      lines.push(candidates.length ? `dry run: ${candidates.length} session${candidates.length === 1 ? '' : 's'} would be ended; add --yes to end them` : 'no session matches');
      if (tooBroad && !options.all) lines.push(`${tooBroad}: --yes also needs --count ${candidates.length} (or --all)`);
    } else {
      for (const { view, outcome: o } of results) {
        lines.push(!o.ended ? `not ended ${describe(view)}: ${o.reason}` : `ended     ${describe(view)}${o.alreadyGone ? ' (was gone already)' : ''}`);
      }
      if (!results.length) lines.push('no session matches');
    }
    context.stdout.write(`${lines.map(sanitizeLine).join('\n')}\n`);
  }
  return results.every((r) => r.outcome.ended) ? ExitCode.OK : ExitCode.WARNING;
}

function describe({ row }: ConnectionView): string {
  const owner = ownerLabel(row);
  return `${row.state} ${flowText(row)}${owner ? ` ${owner}` : ''}`;
}
