import { diagnoseAll, type Diagnosis } from '../../core/diagnosis.js';
import { EventStream } from '../../app/event-stream.js';
import type { Monitor } from '../../app/monitor.js';
import { PollLoop } from '../../app/poll-loop.js';
import type { ConnectionView } from '../../core/evaluate.js';
import type { Policy } from '../../core/policy.js';
import { TcpState } from '../../core/tcp-state.js';
import { formatFinding, findingToJson } from '../../output/findings.js';
import { connectionToJson } from '../../output/json.js';
import { formatConnectionTable } from '../../output/table.js';
import { sanitizeLine } from '../../output/sanitize.js';
import { pollClock, reportPollFailure, type CliContext } from '../context.js';
import type { EventSink } from '../event-log.js';
import { ExitCode } from '../exit-codes.js';
import { exitCodeForSkippedInput, hostFactsFor, pollThrough, withPollingSession } from '../open-monitor.js';
import type { ListOptions } from '../parse-command-line.js';
import { selectionNeedsOwners, selects, selectsWithoutOwner } from '../selection.js';
import { writeJson } from '../../output/json-text.js';

export async function runList(options: ListOptions, context: CliContext): Promise<number> {
  // Input files that gave no table: the table shows what the others hold, and the exit says so.
  return withPollingSession(options, context, async ({ monitor, policy, log }) => exitCodeForSkippedInput(monitor, await listThrough(monitor, policy, log, options, context)));
}

async function listThrough(monitor: Monitor, policy: Policy, log: EventSink | undefined, options: ListOptions, context: CliContext): Promise<number> {
  const events = log ? new EventStream() : undefined;
  const facts = options.why ? await hostFactsFor(monitor, options, context) : {};
  const byOwner = selectionNeedsOwners(options.selection);
  // Owners only for rows that are shown, and with --why for every CLOSE_WAIT (a leak is counted per process).
  const needsOwner = (view: ConnectionView) =>
    byOwner || selectsWithoutOwner(options.selection, view) || (options.why && view.row.state === TcpState.CLOSE_WAIT);

  const seenNotices = new Set<string>();
  const notice = (key: string, text: string) => {
    if (seenNotices.has(key)) return;
    seenNotices.add(key);
    context.stderr.write(`tcpdwell: ${sanitizeLine(text)}\n`);
  };
  // One poll, or with --watch one every interval until Ctrl-C or --iterations. Each failed poll is
  // said (each redraw would otherwise show stale rows unexplained); the exit follows the last poll.
  const once = options.watchMs === undefined;
  const loop = new PollLoop({
    clock: pollClock(context),
    signal: context.interrupt,
    intervalMs: options.watchMs ?? 0,
    ...(once ? { maxPolls: 1 } : options.iterations !== undefined ? { maxPolls: options.iterations } : {}),
    failureReporting: 'each',
  });
  const end = await loop.run({
    poll: () => pollThrough(monitor),
    reportFailure: (outcome) => reportPollFailure(context, outcome),
    onPoll: async (outcome) => {
      for (const text of outcome.notices) notice(text, text);
      if (!outcome.ok) {
        if (log && events) await log.write(events.next(outcome, undefined));
        return;
      }
      const { evaluation, ownersHidden } = await monitor.evaluate(policy, (e) => e.views.filter(needsOwner));
      const views = evaluation.views.filter((v) => selects(options.selection, v));
      if (ownersHidden) notice('owners', 'some sockets belong to processes whose /proc/<pid>/fd cannot be read; run as root to see every owner');
      const diagnosis = options.why ? diagnoseAll(evaluation.views, facts) : undefined;
      // The place in the whole table, as `explain N` counts: the ranking is a total order (sortViews).
      const places = options.numbered ? new Map(evaluation.views.map((v, i) => [v, i + 1])) : undefined;
      writeViews(views, diagnosis, options, context, ownersHidden, outcome.takenAtMs, places);
      if (log && events) await log.write(events.next(outcome, evaluation));
    },
  });
  // Ctrl-C ends with the exit of the last completed poll; none completed means nothing was read (fail closed).
  return end.last?.ok === true ? ExitCode.OK : ExitCode.UNKNOWN;
}

function writeViews(
  views: ConnectionView[],
  diagnosis: Diagnosis | undefined,
  options: ListOptions,
  context: CliContext,
  ownersHidden: boolean,
  takenAtMs: number,
  places: ReadonlyMap<ConnectionView, number> | undefined,
): void {
  const findingOf = (view: ConnectionView) => diagnosis?.byConnection.get(view.connection.key);
  const numberOf = places ? (view: ConnectionView) => places.get(view)! : undefined;
  if (options.json) {
    // One JSON array per poll; with --watch one per line (NDJSON).
    const rows = views.map((view) => {
      const json = numberOf ? { row: numberOf(view), ...connectionToJson(view) } : connectionToJson(view);
      if (!diagnosis) return json;
      const finding = findingOf(view);
      return { ...json, finding: finding ? findingToJson(finding) : null };
    });
    writeJson(context.stdout, rows, options.watchMs === undefined ? 2 : undefined);
    return;
  }
  if (options.watchMs !== undefined) {
    context.stdout.write(context.stdout.isTTY ? '\x1b[H\x1b[2J' : `--- ${new Date(takenAtMs).toISOString()}\n`);
  }
  context.stdout.write(formatConnectionTable(views, { ownersHidden, noteFor: (view) => findingOf(view)?.summary, ...(numberOf ? { numberOf } : {}) }));
  // Group findings are counted over the whole table (a leak's size), but shown only for the rows shown.
  const shown = new Set(views.map((v) => v.connection.key));
  const groups = diagnosis?.groups.filter((g) => g.connections.some((key) => shown.has(key))) ?? [];
  if (groups.length > 0) {
    context.stdout.write(`\nFindings:\n${groups.map((g) => formatFinding(g, '  ')).join('\n')}\n`);
  }
}
