import { explainConnection, readExplainHistory } from '../../app/explain-run.js';
import { explainToJson, formatExplainNotFound, formatExplainText, formatStateGuide, formatStateList, stateGuideToJson } from '../../output/explain.js';
import { sanitizeLine } from '../../output/sanitize.js';
import { noticeReporter, reportPollFailure, type CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { loadPolicy } from '../load-policy.js';
import { pollThrough } from '../../app/poll-loop.js';
import { exitCodeForSkippedInput, openMonitor } from '../open-monitor.js';
import type { ExplainOptions } from '../parse-command-line.js';

// `tcpdwell explain`: the state guide (every state, or one), or one connection's whole story.

export async function runExplain(options: ExplainOptions, context: CliContext): Promise<number> {
  const target = options.target;
  if (!target || target.kind === 'state') {
    const state = target?.state;
    context.stdout.write(options.json ? stateGuideToJson(state) : state ? formatStateGuide(state) : formatStateList());
    return ExitCode.OK;
  }

  const policy = await loadPolicy(options);
  const table = { source: options.source, procRoot: options.procRoot, input: options.input !== undefined, netns: options.netns };
  const read = options.stateFilePath ? await readExplainHistory(context.platform, options.stateFilePath, table) : {};
  if (read.note) context.stderr.write(`tcpdwell: ${sanitizeLine(read.note)}\n`);
  const monitor = await openMonitor(options, context, read.history);
  try {
    const outcome = await pollThrough(monitor);
    if (!outcome.ok) {
      reportPollFailure(context, outcome);
      return ExitCode.UNKNOWN;
    }
    // The reading's notices (lines skipped, a table or namespace not read), as list says them.
    const notice = noticeReporter(context);
    for (const text of outcome.notices) notice(text);
    const report = await explainConnection(monitor, policy, target);
    if (!report.found) {
      // Not in what was read proves nothing when some input, or part of the live table, was not read.
      const unread = outcome.unread ?? [];
      context.stderr.write(`tcpdwell: ${formatExplainNotFound(report)}${unread.length ? sanitizeLine(` (${unread.join('; ')}: it may be there)`) : ''}\n`);
      if (unread.length > 0) return ExitCode.UNKNOWN;
      return monitor.skippedInput.length > 0 ? exitCodeForSkippedInput(monitor, ExitCode.OK) : ExitCode.WARNING;
    }
    context.stdout.write(options.json ? explainToJson(report) : formatExplainText(report));
    return exitCodeForSkippedInput(monitor, ExitCode.OK);
  } finally {
    monitor.close();
  }
}
