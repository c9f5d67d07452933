import type { Monitor } from '../../app/monitor.js';
import { formatEndpoint, type Endpoint } from '../../core/address.js';
import { StateBook, StateDecodeError } from '../../app/tracker-codec.js';
import { readTableIdentity } from '../../sources/table-identity.js';
import { readStateText } from '../../platform/state-file.js';
import { diagnoseAll } from '../../core/diagnosis.js';
import type { ConnectionView } from '../../core/evaluate.js';
import { thresholdsFor } from '../../core/policy.js';
import { STATE_GUIDE } from '../../core/state-guide.js';
import type { TrackerState } from '../../core/tracker.js';
import { formatConnectionStory, formatStateGuide, formatStateList } from '../../output/explain.js';
import { findingToJson } from '../../output/findings.js';
import { connectionToJson } from '../../output/json.js';
import { sanitizeLine } from '../../output/sanitize.js';
import { reportPollFailure, type CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { loadPolicy } from '../load-policy.js';
import { exitCodeForSkippedInput, hostFactsFor, openMonitor, pollThrough } from '../open-monitor.js';
import type { Policy } from '../../core/policy.js';
import type { ExplainOptions, ExplainTarget } from '../parse-command-line.js';

export async function runExplain(options: ExplainOptions, context: CliContext): Promise<number> {
  const target = options.target;
  if (!target) {
    context.stdout.write(options.json ? `${JSON.stringify(STATE_GUIDE, null, 2)}\n` : formatStateList());
    return ExitCode.OK;
  }
  if (target.kind === 'state') {
    context.stdout.write(options.json ? `${JSON.stringify({ state: target.state, ...STATE_GUIDE[target.state] }, null, 2)}\n` : formatStateGuide(target.state));
    return ExitCode.OK;
  }

  const policy = await loadPolicy(options);
  const initialState = options.stateFilePath ? await readHistory(options, options.stateFilePath, context) : undefined;
  const monitor = await openMonitor(options, context, initialState);
  try {
    return await explainConnection(monitor, policy, target, options, context);
  } finally {
    monitor.close();
  }
}

async function explainConnection(monitor: Monitor, policy: Policy, target: Exclude<ExplainTarget, { kind: 'state' }>, options: ExplainOptions, context: CliContext): Promise<number> {
  const outcome = await pollThrough(monitor);
  if (!outcome.ok) {
    reportPollFailure(context, outcome);
    return ExitCode.UNKNOWN;
  }
  const { evaluation } = await monitor.evaluate(policy, (e) => e.views);
  const view = findTarget(evaluation.views, target);
  if (!view) {
    const n = evaluation.views.length;
    const text =
      target.kind === 'row'
        ? `no row ${target.row}: the socket table has ${n === 0 ? 'no rows' : n === 1 ? '1 row' : `${n} rows`} now (\`tcpdwell list --numbered\` numbers them)`
        : `no connection ${describe(target)} in the socket table now`;
    context.stderr.write(`tcpdwell: ${sanitizeLine(text)}\n`);
    // Not in what was read proves nothing when some input was not read.
    return monitor.skippedInput.length > 0 ? exitCodeForSkippedInput(monitor, ExitCode.OK) : ExitCode.WARNING;
  }
  const diagnosis = diagnoseAll(evaluation.views, await hostFactsFor(monitor, options, context), (v) => v === view);
  const finding = diagnosis.byConnection.get(view.connection.key)!;
  const thresholds = thresholdsFor(policy, view.row);
  if (options.json) {
    context.stdout.write(`${JSON.stringify({ connection: connectionToJson(view), finding: findingToJson(finding), guide: STATE_GUIDE[view.row.state] }, null, 2)}\n`);
  } else {
    context.stdout.write(formatConnectionStory(view, finding, thresholds));
  }
  return exitCodeForSkippedInput(monitor, ExitCode.OK);
}

/** A connection given either way round, or the n-th row of `tcpdwell list` (same order). */
function findTarget(views: ConnectionView[], target: Exclude<ExplainTarget, { kind: 'state' }>): ConnectionView | undefined {
  if (target.kind === 'row') return views[target.row - 1];
  const same = (a: { address: string; port: number }, b: { address: string; port: number }) => a.address === b.address && a.port === b.port;
  return (
    views.find((v) => same(v.row.local, target.local) && same(v.row.remote, target.remote)) ??
    views.find((v) => same(v.row.local, target.remote) && same(v.row.remote, target.local))
  );
}

function describe(target: { local: Endpoint; remote: Endpoint }): string {
  return `${formatEndpoint(target.local)}-${formatEndpoint(target.remote)}`;
}

/** This table's history in check's state file (read only), or undefined with one line saying why. */
async function readHistory(options: ExplainOptions, path: string, context: CliContext): Promise<TrackerState | undefined> {
  if (options.input) {
    // Captured files carry their own history; a state file describes live tables only.
    context.stderr.write(`tcpdwell: no history from ${path}: it describes live socket tables, not captured files\n`);
    return undefined;
  }
  try {
    const book = StateBook.decode(await readStateText(path)); // never through a link, never a device or FIFO
    const table = await readTableIdentity(context.platform, options.source, options.procRoot);
    book.forgetOtherBoots(table);
    const history = book.historyOf(table);
    if (!history) context.stderr.write(`tcpdwell: no history from ${path} for this socket table (network namespace, boot, source and /proc)\n`);
    return history?.tracker;
  } catch (error) {
    const reason = error instanceof StateDecodeError ? error.message : (error as Error).message;
    context.stderr.write(`tcpdwell: ${sanitizeLine(`no history from ${path} (${reason})`)}\n`);
    return undefined;
  }
}
