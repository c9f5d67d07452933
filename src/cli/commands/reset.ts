import { Monitor } from '../../app/monitor.js';
import { runResetUseCase } from '../../app/reset-run.js';
import type { ConnectionView } from '../../core/evaluate.js';
import { writeJson } from '../../output/json-text.js';
import { formatResetText, resetReportToJson } from '../../output/reset.js';
import { noticeReporter, reportPollFailure, type CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { loadPolicy } from '../load-policy.js';
import { UsageError, type ResetOptions } from '../parse-command-line.js';
import { isEmptySelection, resetTooBroad, selectionNeedsOwners, selects, selectsWithoutOwner } from '../selection.js';

// `tcpdwell reset`: end selected sessions, like Cisco IOS XE's `tcp half-open|half-close|idle reset on` (docs/tcp-facts.md#session-classes).
// A dry run unless --yes; LISTEN and TIME_WAIT are never touched; each socket is named exactly.

export async function runReset(options: ResetOptions, context: CliContext): Promise<number> {
  if (isEmptySelection(options.selection)) {
    throw new UsageError('reset needs a selection: --state, --port, --pid, --process, --local, --remote, --flagged or --kind');
  }
  const policy = await loadPolicy(options);
  const monitor = new Monitor(context.platform, { source: options.source, procRoot: options.procRoot, ...(options.netns ? { netns: options.netns } : {}) });
  try {
    const outcome = await monitor.poll();
    if (!outcome.ok) {
      reportPollFailure(context, outcome);
      return ExitCode.UNKNOWN;
    }
    // What list says on stderr (lines skipped, a table or namespace not read, a --proc-root that is
    // not one) reset says too: a session there was not selected, which is not "none there".
    const notice = noticeReporter(context);
    for (const text of outcome.notices) notice(text);
    for (const part of outcome.unread ?? []) notice(`${part}: no session there is selected`);
    const byOwner = selectionNeedsOwners(options.selection);
    const report = await runResetUseCase(monitor, context.platform, {
      policy,
      yes: options.yes,
      all: options.all,
      count: options.count,
      selects: (view: ConnectionView) => selects(options.selection, view),
      needsOwnerToSelect: (view: ConnectionView) => byOwner || selectsWithoutOwner(options.selection, view),
      selectsByOwner: byOwner,
      tooBroad: resetTooBroad,
    });
    // A confirmation that does not fit the selection: nothing was ended.
    if (report.refused) throw new UsageError(report.reason);
    if (options.json) writeJson(context.stdout, resetReportToJson(report), 2);
    else context.stdout.write(formatResetText(report));
    // 1 when a session tried was not ended, and when --yes selected sessions and ended none of them
    // (every one left alone: LISTEN or TIME_WAIT only): a destructive action asked for that did not
    // happen is not "ok". Never-reset ones beside sessions all ended keep 0; a dry run ends nothing by design.
    const endedNone = options.yes && report.untouchable.length > 0 && report.results.length === 0;
    return report.results.every((r) => r.outcome.ended) && !endedNone ? ExitCode.OK : ExitCode.WARNING;
  } finally {
    monitor.close();
  }
}
