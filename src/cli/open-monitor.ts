import { Monitor } from '../app/monitor.js';
import type { TrackerState } from '../core/tracker.js';
import type { Policy } from '../core/policy.js';
import { InputError, loadCaptures, skippedInputKind, type LoadedCaptures } from '../sources/input-files.js';
import { ExitCode } from './exit-codes.js';
import { openEventLog, type EventSink } from './event-log.js';
import { loadPolicy } from './load-policy.js';
import type { CliContext } from './context.js';
import type { CommonOptions } from './parse-command-line.js';

/**
 * How a command opens its monitor. `rowsInPlace`: the command keeps no row past the next poll
 * (MonitorOptions.rowsInPlace: serve, watch, `check --window`, the dashboard; `--log` or not, as
 * the event log keeps none).
 */
export interface MonitorOpening {
  /** With `--input` files that give no table, a monitor whose polls fail with each file's reason (`check`: UNKNOWN in its format). */
  failedInputPolls?: boolean;
  rowsInPlace?: boolean;
}

/**
 * The monitor a command reads through: the live source, or the `--input` files to replay. When no
 * input file gives a table, throws InputError (exit 65/66); with `failedInputPolls`, returns a
 * monitor whose polls fail with each file's reason instead, so `check` reports UNKNOWN in its format.
 */
export async function openMonitor(options: CommonOptions, context: CliContext, initialState?: TrackerState, { failedInputPolls = false, rowsInPlace = false }: MonitorOpening = {}): Promise<Monitor> {
  let captures: LoadedCaptures | undefined;
  try {
    captures = options.input ? await loadCaptures(context.platform, options.input) : undefined;
  } catch (error) {
    if (!(failedInputPolls && error instanceof InputError && error.skipped.length > 0)) throw error;
    captures = { captures: [], notices: [], skipped: [...error.skipped] };
  }
  return new Monitor(context.platform, {
    source: options.source,
    procRoot: options.procRoot,
    ...(options.netns ? { netns: options.netns } : {}),
    ...(initialState ? { initialState } : {}),
    ...(captures ? { captures } : {}),
    ...(rowsInPlace ? { rowsInPlace } : {}),
  });
}

/** What a polling command runs with: the policy, its monitor, and its `--log` file if any. */
export interface PollingSession {
  policy: Policy;
  monitor: Monitor;
  log: EventSink | undefined;
}

/**
 * Opens policy, event log and monitor for `body`, and closes the monitor and the log after it,
 * whatever happens. Resolves with `body`'s exit code, or IO_ERROR (74) instead of OK when event-log
 * lines were lost and not recovered before exit.
 */
export async function withPollingSession(
  options: CommonOptions & { logPath?: string },
  context: CliContext,
  opening: Pick<MonitorOpening, 'rowsInPlace'>,
  body: (session: PollingSession) => Promise<number>,
): Promise<number> {
  const policy = await loadPolicy(options);
  const log = await openEventLog(options.logPath, context);
  let monitor: Monitor | undefined;
  let code: number;
  let linesLost = 0;
  try {
    monitor = await openMonitor(options, context, undefined, opening);
    code = await body({ policy, monitor, log });
  } finally {
    monitor?.close();
    linesLost = (await log?.close()) ?? 0;
  }
  // Event-log lines lost for good (stderr has said how many): the run's record is not whole, so it
  // is not OK; a code that already says a failure stands.
  return linesLost > 0 && code === ExitCode.OK ? ExitCode.IO_ERROR : code;
}

/**
 * The exit code of a command that showed what its input proves: with `--input` files that gave no
 * table, 65 (66 when each of them was unreadable) instead of OK; otherwise `code`. Fail closed.
 */
export function exitCodeForSkippedInput(monitor: Monitor, code: number): number {
  if (code !== ExitCode.OK || monitor.skippedInput.length === 0) return code;
  return skippedInputKind(monitor.skippedInput) === 'unreadable' ? ExitCode.NO_INPUT : ExitCode.DATA;
}
