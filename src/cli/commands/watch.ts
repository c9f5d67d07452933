import { ownerOfEvent, watchConnections } from '../../app/watch.js';
import { eventToJson, formatEventLine, formatWatchStart } from '../../output/events.js';
import { writeLines } from '../../output/write-lines.js';
import { noticeReporter, pollClock, reportPollFailure, type CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { exitCodeForSkippedInput, withPollingSession } from '../open-monitor.js';
import { censusIntervalOf, type WatchOptions } from '../parse-command-line.js';

// `tcpdwell watch`: what happens to connections as it happens — opened, state-changed, flagged,
// resolved, closed — one line each (`--events`: JSON lines), until Ctrl-C. Text starts with a line
// saying what is watched, once the first poll has counted the connections.

export async function runWatch(options: WatchOptions, context: CliContext): Promise<number> {
  // Each poll's events are printed (and logged) before the next poll, and what watch keeps
  // (owners, alert records) holds no row: an unchanged connection's row is updated in place.
  return withPollingSession(options, context, { rowsInPlace: true }, async ({ monitor, policy, log }) => {
    monitor.pollInTiers({ censusIntervalMs: censusIntervalOf(options) });
    const notice = noticeReporter(context);
    // --input files that gave no table are named, and the exit says the input was not all read.
    for (const skipped of monitor.skippedInput) notice(`${skipped.reason}; skipped`);
    /** The log's write done, then stdout drained: a reader that stalls pauses the polls (unread lines would otherwise pile up in memory). */
    const drained = async (logged: Promise<void> | undefined) => {
      await logged;
      await context.stdout.drained?.(context.interrupt);
    };
    const result = await watchConnections(
      monitor,
      {
        policy,
        intervalMs: options.intervalMs,
        ...(options.iterations !== undefined ? { iterations: options.iterations } : {}),
        replay: Boolean(options.input),
        owners: !options.json,
        clock: pollClock(context),
        signal: context.interrupt,
      },
      {
        started: (start) => {
          if (!options.json) context.stdout.write(`${formatWatchStart({ ...start, intervalMs: options.intervalMs, policy, replay: Boolean(options.input) })}\n`);
        },
        // Not an async function: its events are written (and logged) at once, and what it returns
        // holds none of them. The first poll hands its events over a slice at a time, and a
        // pending async call would keep each slice (its argument) until the whole poll was written.
        events: (events, owners, first) => {
          // Text: the first poll's opened are what was already there (the start line counts them),
          // and a failed poll is said on stderr. JSON lines carry every event.
          // Written a slice at a time (the first poll may print a line per flagged session).
          if (options.json) writeLines(context.stdout, events, (e) => JSON.stringify(eventToJson(e)));
          else
            writeLines(
              context.stdout,
              events,
              (e) => formatEventLine(e, ownerOfEvent(e, owners)),
              (e) => e.type !== 'poll-failed' && !(first && e.type === 'opened'),
            );
          return drained(log?.write(events));
        },
        pollFailed: (outcome) => reportPollFailure(context, outcome),
        notices: (texts) => texts.forEach((text) => notice(text)),
      },
    );
    // Nothing read (every poll failed, or Ctrl-C cut the first one short) is never OK.
    return exitCodeForSkippedInput(monitor, result === 'ok' ? ExitCode.OK : ExitCode.UNKNOWN);
  });
}
