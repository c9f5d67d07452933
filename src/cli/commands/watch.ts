import { EventStream } from '../../app/event-stream.js';
import type { Monitor } from '../../app/monitor.js';
import type { Policy } from '../../core/policy.js';
import { formatEventLine } from '../../output/events.js';
import { sanitizeLine } from '../../output/sanitize.js';
import { reportPollFailure, type CliContext } from '../context.js';
import type { EventSink } from '../event-log.js';
import { ExitCode } from '../exit-codes.js';
import { exitCodeForSkippedInput, withPollingSession } from '../open-monitor.js';
import type { WatchOptions } from '../parse-command-line.js';

// `tcpdwell watch`: what happens to connections as it happens — opened, state-changed, flagged,
// resolved, closed — one line each (`--events`: JSON lines), until Ctrl-C.

export async function runWatch(options: WatchOptions, context: CliContext): Promise<number> {
  return withPollingSession(options, context, async ({ monitor, policy, log }) => {
    // --input files that gave no table are named, and the exit says the input was not all read.
    for (const skipped of monitor.skippedInput) context.stderr.write(`tcpdwell: ${sanitizeLine(`${skipped.reason}; skipped`)}\n`);
    return exitCodeForSkippedInput(monitor, await watchThrough(monitor, policy, log, options, context));
  });
}

async function watchThrough(monitor: Monitor, policy: Policy, log: EventSink | undefined, options: WatchOptions, context: CliContext): Promise<number> {
  const stream = new EventStream();
  let failedBefore = false;
  for (let iteration = 1; ; iteration++) {
    const outcome = await monitor.poll();
    if (!outcome.ok) {
      // A failure is said once, not every interval, and nothing is closed by it.
      if (!failedBefore) reportPollFailure(context, outcome);
      failedBefore = true;
    } else {
      failedBefore = false;
      const evaluation = await monitor.evaluateWithoutOwners(policy);
      const entries = stream.next(outcome, evaluation);
      // The first poll lists what was already there: opened with firstSight, useful in a log, noise on a terminal.
      const shown = iteration === 1 && !options.json ? entries.filter((e) => e.event !== 'opened') : entries;
      if (shown.length) context.stdout.write(`${shown.map((e) => (options.json ? JSON.stringify(e) : formatEventLine(e))).join('\n')}\n`);
      await log?.write(entries);
    }
    const replaying = monitor.pendingCaptures > 0;
    if ((!replaying && options.input) || iteration === options.iterations || context.interrupt.aborted) return outcome.ok ? ExitCode.OK : ExitCode.UNKNOWN;
    if (!replaying) await context.sleep(options.intervalMs, context.interrupt);
    if (context.interrupt.aborted) return ExitCode.OK;
  }
}
