import { EventStream } from '../../app/event-stream.js';
import { runDashboard } from '../../dashboard/dashboard.js';
import { canDrawFullScreen, noticeReporter, pollClock, type CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { exitCodeForSkippedInput, withPollingSession } from '../open-monitor.js';
import { censusIntervalOf, UsageError, type DashboardOptions } from '../parse-command-line.js';

/** `tcpdwell dashboard` (and plain `tcpdwell` on a terminal): the live full-screen view. */
export async function runDashboardCommand(options: DashboardOptions, context: CliContext): Promise<number> {
  const terminal = context.terminal;
  if (!terminal) throw new UsageError('the dashboard needs a terminal; use `tcpdwell list` (or --watch) when output is piped');
  if (!canDrawFullScreen(context.env)) throw new UsageError('the dashboard cannot draw on TERM=dumb (no cursor movement); use `tcpdwell list` (or --watch), or set TERM (e.g. xterm-256color)');
  // The dashboard keeps a poll's views (and their rows) only until the next poll's evaluation, and
  // draws nothing from a row that an update in place changes (a row that changes state is replaced;
  // owners are on copies); the event log's lines are made when written.
  return withPollingSession(options, context, { rowsInPlace: true }, async ({ monitor, policy, log }) => {
    const events = log ? new EventStream() : undefined;
    const result = await runDashboard(
      {
        monitor,
        policy,
        intervalMs: options.intervalMs,
        censusIntervalMs: censusIntervalOf(options),
        clock: pollClock(context),
        facts: await monitor.hostFacts(),
        ...(log && events ? { afterPoll: (outcome, evaluation) => log.write(events.next(outcome, evaluation)) } : {}),
        // Said in the header while it runs, and on stderr once the terminal is back, as list says them.
        reportNotices: (notices) => {
          const notice = noticeReporter(context);
          for (const text of notices) notice(text);
        },
      },
      {
        input: terminal.input,
        output: terminal.output,
        terminal: context.env.TERM || 'xterm',
        // https://no-color.org: present and not empty.
        noColor: Boolean(context.env.NO_COLOR),
        interrupt: context.interrupt,
        ...(context.stop ? { stop: context.stop } : {}),
      },
    );
    // Quit before any poll read the table (every poll failed, or q during the first): never OK.
    if (result === 'nothing-read') {
      context.stderr.write('tcpdwell: dashboard: no socket table was read before it ended\n');
      return ExitCode.UNKNOWN;
    }
    return exitCodeForSkippedInput(monitor, ExitCode.OK);
  });
}
