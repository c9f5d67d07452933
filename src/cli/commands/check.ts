import type { Monitor, PollOutcome } from '../../app/monitor.js';
import { StateDecodeError, decodeTrackerState, encodeTrackerState } from '../../app/tracker-codec.js';
import { diagnoseAll } from '../../core/diagnosis.js';
import { statusOf, type CheckStatus } from '../../core/evaluate.js';
import { TcpState } from '../../core/tcp-state.js';
import type { Policy } from '../../core/policy.js';
import type { TrackerState } from '../../core/tracker.js';
import { StateFile, defaultStateFilePath } from '../../platform/state-file.js';
import { formatCheckSummary, formatCountLine, formatFlaggedLine, formatResetLine } from '../../output/check-text.js';
import { checkReportToJson, type ResetResult } from '../../output/json.js';
import { endSocket } from '../../sources/end-socket.js';
import type { CliContext } from '../context.js';
import { exitCodeForStatus } from '../exit-codes.js';
import { loadPolicy } from '../load-policy.js';
import { hostFactsFor, openMonitor, pollThrough } from '../open-monitor.js';
import type { CheckOptions } from '../parse-command-line.js';

// `check`, for cron and monitoring systems: silent with exit 0 when all is well (cron mails only
// on output), otherwise one line per flagged session and a summary, exit 1/2/3.

export async function runCheck(options: CheckOptions, context: CliContext): Promise<number> {
  const policy = await loadPolicy(options);
  // --window samples instead of the state file, unless a state file is named explicitly too.
  // Captured files carry their own history: the live host's state file has nothing to add.
  const useStateFile = options.useStateFile && !options.input && (options.windowMs === undefined || options.stateFilePath !== undefined);
  const stateFile = useStateFile ? new StateFile(options.stateFilePath ?? defaultStateFilePath(context.env)) : undefined;

  if (stateFile) await stateFile.lock();
  try {
    const initialState = stateFile ? await loadState(stateFile, context) : undefined;
    const monitor = await openMonitor(options, context, initialState);
    try {
      return await checkThrough(monitor, policy, stateFile, options, context);
    } finally {
      monitor.close();
    }
  } finally {
    await stateFile?.unlock();
  }
}

async function checkThrough(monitor: Monitor, policy: Policy, stateFile: StateFile | undefined, options: CheckOptions, context: CliContext): Promise<number> {
  const outcome = await sample(monitor, options, context);

  // A flagged CLOSE_WAIT's finding counts what its process holds: then every CLOSE_WAIT needs its owner.
  const { evaluation } = await monitor.evaluate(policy, (e) => {
    const closeWaits = e.views.filter((v) => v.row.state === TcpState.CLOSE_WAIT);
    return closeWaits.some((v) => v.flag) ? closeWaits : [];
  });
  const status: CheckStatus = outcome.ok ? statusOf(evaluation) : 'unknown';
  const errors = outcome.error ? [outcome.error] : [];
  const diagnosis = diagnoseAll(evaluation.views, await hostFactsFor(monitor, options, context));
  const resets: ResetResult[] = [];
  if (options.resetKinds && outcome.ok) {
    for (const view of evaluation.views) {
      if (view.flag && view.flag.kind !== 'count' && options.resetKinds.includes(view.flag.kind)) {
        resets.push({ view, outcome: await endSocket(context.platform, view.row) });
      }
    }
  }
  if (stateFile) await stateFile.write(encodeTrackerState(monitor.tracker, outcome.source, context.platform.nowMs()));

  if (options.json) {
    const report = checkReportToJson({
      status,
      checkedAtMs: outcome.takenAtMs,
      source: outcome.source,
      views: evaluation.views,
      countFlags: evaluation.countFlags,
      errors,
      notices: outcome.notices,
      diagnosis,
      resets,
    });
    context.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else if (status !== 'ok') {
    const lines = evaluation.views
      .map((v) => formatFlaggedLine(v, diagnosis.byConnection.get(v.connection.key)?.summary))
      .filter((l): l is string => l !== undefined);
    lines.push(...evaluation.countFlags.map(formatCountLine));
    lines.push(...diagnosis.groups.map((g) => `FINDING ${g.subject}: ${g.summary}`));
    lines.push(...resets.map(formatResetLine));
    lines.push(...outcome.notices.map((n) => `note: ${n}`));
    lines.push(formatCheckSummary(status, evaluation.views, evaluation.countFlags, outcome.source, errors));
    context.stdout.write(`${lines.join('\n')}\n`);
  }
  return exitCodeForStatus(status);
}

/** One poll, or polls every --interval for --window; the last poll's result decides. */
async function sample(monitor: Monitor, options: CheckOptions, context: CliContext): Promise<PollOutcome> {
  let outcome = await pollThrough(monitor);
  if (options.windowMs === undefined) return outcome;
  const notices = new Set(outcome.notices);
  const endMs = outcome.takenAtMs + options.windowMs;
  while (!context.interrupt.aborted && context.platform.nowMs() < endMs) {
    await context.sleep(Math.min(options.intervalMs, Math.max(0, endMs - context.platform.nowMs())), context.interrupt);
    outcome = await monitor.poll();
    outcome.notices.forEach((n) => notices.add(n));
  }
  return { ...outcome, notices: [...notices] };
}

/** A corrupt or foreign state file is reported, kept aside, and replaced: never fatal. */
async function loadState(stateFile: StateFile, context: CliContext): Promise<TrackerState | undefined> {
  let text: string | undefined;
  try {
    text = await stateFile.read();
  } catch (error) {
    context.stderr.write(`tcpdwell: cannot read state file ${stateFile.path} (${(error as Error).message}); starting without history\n`);
    return undefined;
  }
  if (text === undefined) return undefined;
  try {
    return decodeTrackerState(text);
  } catch (error) {
    if (!(error instanceof StateDecodeError)) throw error;
    const aside = await stateFile.setAside(context.platform.nowMs());
    context.stderr.write(`tcpdwell: state file ${stateFile.path} is unusable (${error.message}); kept as ${aside}, starting without history\n`);
    return undefined;
  }
}
