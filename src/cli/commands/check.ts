import { runCheckUseCase } from '../../app/check-run.js';
import { defaultStateFilePath } from '../../platform/state-file.js';
import { checkTextLines, formatNotifierFailure } from '../../output/check-text.js';
import { checkToJson } from '../../output/json.js';
import { writeJson } from '../../output/json-text.js';
import { writeLines } from '../../output/write-lines.js';
import { formatNagiosReport, nagiosExitCode } from '../../output/nagios.js';
import type { CliContext } from '../context.js';
import { ExitCode, exitCodeForStatus } from '../exit-codes.js';
import { loadSettings } from '../load-policy.js';
import { openMonitor } from '../open-monitor.js';
import { censusIntervalOf, type CheckOptions } from '../parse-command-line.js';

// `check`, for cron and monitoring systems. Text (the default) is silent when nothing is new: a
// session is reported when it crosses its threshold, again after --renotify or when its severity
// rises, and as resolved when it clears (the state file remembers what was reported). `--all`
// prints every current flag. JSON and Nagios formats describe the current state every run.
// Exit 0/1/2/3 by status; 75 when a notifier failed (it alone sends them again next run),
// except in Nagios format, whose exit codes are 0-3 only (output/nagios.ts).

export async function runCheck(options: CheckOptions, context: CliContext): Promise<number> {
  const { policy, notifiers } = await loadSettings(options);
  // --window samples instead of the state file, unless a state file is named explicitly too.
  // Captured files carry their own history: the live host's state file has nothing to add.
  const useStateFile = options.useStateFile && !options.input && (options.windowMs === undefined || options.stateFilePath !== undefined);
  const report = await runCheckUseCase(
    {
      policy,
      notifiers,
      stateFilePath: useStateFile ? (options.stateFilePath ?? defaultStateFilePath(context.env)) : undefined,
      source: options.source,
      procRoot: options.procRoot,
      ...(options.netns ? { netns: options.netns } : {}),
      renotifyMs: options.renotifyMs,
      resetKinds: options.resetKinds,
      intervalMs: options.intervalMs,
      ...(options.windowMs === undefined ? {} : { windowMs: options.windowMs }),
      // A one-shot run without history judges what it can from the kernel's messages (check-run.ts).
      screenFirstReading: true,
    },
    {
      platform: context.platform,
      sleep: context.sleep,
      interrupt: context.interrupt,
      // Input files that give no table make every poll fail: UNKNOWN, in the format asked for.
      openMonitor: async (initialState) => {
        // Nothing is evaluated until a window's last poll: no row is kept past the next poll, so an
        // unchanged connection's row is updated in place instead of replaced each poll.
        const monitor = await openMonitor(options, context, initialState, { failedInputPolls: true, rowsInPlace: options.windowMs !== undefined });
        // A window polls the live host in tiers; one run reads every state once, and its owner
        // lookup (for the flagged rows) reads /proc beside that reading.
        if (options.windowMs !== undefined) monitor.pollInTiers({ censusIntervalMs: censusIntervalOf(options) });
        else monitor.prefetchOwners();
        return monitor;
      },
    },
  );

  const failed = report.channels.filter((c) => !c.delivery.ok);
  for (const c of failed) context.stderr.write(`tcpdwell: ${formatNotifierFailure(c, report.notificationsKept)}\n`);
  if (options.format === 'nagios') {
    // Nagios reads stdout only: the state file's notes are long output there.
    context.stdout.write(formatNagiosReport(report));
    return nagiosExitCode(report);
  }
  for (const note of report.stateNotes) context.stderr.write(`tcpdwell: ${note}\n`);
  if (options.format === 'json') {
    writeJson(context.stdout, checkToJson(report), 2);
  } else {
    // In slices, not one string: a run without history prints a line per flagged session.
    writeLines(context.stdout, checkTextLines(report, options.all), (line) => line);
  }
  return failed.length > 0 ? ExitCode.NOTIFY_FAILED : exitCodeForStatus(report.status);
}
