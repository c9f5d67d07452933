import { EventStream } from '../../app/event-stream.js';
import { listPoll, runListPolls } from '../../app/list-run.js';
import type { Monitor } from '../../app/monitor.js';
import type { ConnectionView } from '../../core/evaluate.js';
import type { Policy } from '../../core/policy.js';
import { writeJson } from '../../output/json-text.js';
import { formatListText, listToJson } from '../../output/list.js';
import { noticeReporter, pollClock, reportPollFailure, type CliContext } from '../context.js';
import type { EventSink } from '../event-log.js';
import { ExitCode } from '../exit-codes.js';
import { exitCodeForSkippedInput, withPollingSession } from '../open-monitor.js';
import { censusIntervalOf, type ListOptions } from '../parse-command-line.js';
import { STUCK_STATES } from '../../core/tcp-state.js';
import { ownersHiddenAdvice, readOwnersPrivilege } from '../../sources/privilege.js';
import { isEmptySelection, selectionNeedsOwners, selects, selectsWithoutOwner } from '../selection.js';

export async function runList(options: ListOptions, context: CliContext): Promise<number> {
  // Input files that gave no table: the table shows what the others hold, and the exit says so.
  return withPollingSession(options, context, {}, async ({ monitor, policy, log }) => exitCodeForSkippedInput(monitor, await listThrough(monitor, policy, log, options, context)));
}

async function listThrough(monitor: Monitor, policy: Policy, log: EventSink | undefined, options: ListOptions, context: CliContext): Promise<number> {
  const events = log ? new EventStream() : undefined;
  const byOwner = selectionNeedsOwners(options.selection);
  // No filter (the common `list`): every row is shown and needs its owner, with no test per row.
  const everyRow = isEmptySelection(options.selection);
  const request = {
    policy,
    why: options.why,
    numbered: options.numbered === true,
    facts: options.why ? await monitor.hostFacts() : {},
    selects: everyRow ? () => true : (view: ConnectionView) => selects(options.selection, view),
    needsOwnerToSelect: everyRow ? () => true : (view: ConnectionView) => byOwner || selectsWithoutOwner(options.selection, view),
    selectsByOwner: byOwner,
  };
  const notice = noticeReporter(context);
  // One poll, or with --watch one every interval until Ctrl-C or --iterations; the exit follows the
  // last completed poll, and none completed means nothing was read (fail closed).
  const once = options.watchMs === undefined;
  const timing = {
    clock: pollClock(context),
    signal: context.interrupt,
    ...(once ? {} : { watchMs: options.watchMs }),
    ...(options.iterations === undefined ? {} : { iterations: options.iterations }),
  };
  // --watch of a table that shows stuck or flagged sessions only polls in tiers; one of every state reads every state each time.
  if (!once) monitor.pollInTiers({ censusIntervalMs: censusIntervalOf(options), censusEveryPoll: () => !showsStuckOrFlaggedOnly(options.selection) });
  // One poll: the owners of the rows shown are read from /proc beside the reading, not after it.
  else monitor.prefetchOwners();
  const read = await runListPolls(monitor, timing, {
    reportFailure: (outcome) => reportPollFailure(context, outcome),
    onPoll: async (outcome) => {
      for (const text of outcome.notices) notice(text);
      if (!outcome.ok) {
        if (log && events) await log.write(events.next(outcome, undefined));
        return;
      }
      const report = await listPoll(monitor, outcome, request);
      if (report.ownersHidden) {
        // Root with CAP_SYS_PTRACE already (a sandbox's init denies even root its fd links): "run as root" would not help.
        const advice = (await readOwnersPrivilege(context.platform)) ? `${ownersHiddenAdvice(true)}: their owners are not proven` : 'run as root to see every owner';
        notice(`some sockets belong to processes whose /proc/<pid>/fd cannot be read; ${advice}`, 'owners');
      }
      if (options.json) {
        // One JSON array per poll; with --watch one per line (NDJSON).
        writeJson(context.stdout, listToJson(report), once ? 2 : undefined);
      } else {
        if (!once) context.stdout.write(context.stdout.isTTY ? '\x1b[H\x1b[2J' : `--- ${new Date(report.takenAtMs).toISOString()}\n`);
        context.stdout.write(formatListText(report));
      }
      if (log && events) await log.write(events.next(outcome, report.evaluation));
      // A reader that stalls pauses the polls: unread output would otherwise pile up in memory.
      if (!once) await context.stdout.drained?.(context.interrupt);
    },
  });
  return read ? ExitCode.OK : ExitCode.UNKNOWN;
}

/** Whether the table shows only what fast polls read: flagged sessions, or stuck states. */
function showsStuckOrFlaggedOnly(selection: ListOptions['selection']): boolean {
  return selection.flaggedOnly || selection.kinds !== undefined || (selection.states !== undefined && selection.states.every((s) => STUCK_STATES.includes(s)));
}
