import { diagnoseAll } from '../core/diagnosis.js';
import type { ConnectionView } from '../core/evaluate.js';
import { thresholdsFor, type Policy } from '../core/policy.js';
import type { TrackerState } from '../core/tracker.js';
import type { Platform } from '../platform/platform.js';
import { readStateText } from '../platform/state-file.js';
import type { NetnsChoice } from '../sources/netns-choice.js';
import type { SourceChoice } from '../sources/registry.js';
import { readTableIdentity } from '../sources/table-identity.js';
import { plural } from '../core/plural.js';
import type { Monitor } from './monitor.js';
import type { ConnectionTarget, ExplainReport } from './reports.js';

// The `explain` use case for one connection: find it in a poll's table, diagnose it, and name the
// thresholds that apply. The state guide needs no use case (core/state-guide.ts is the data).

/**
 * `target` in the table of the monitor's last poll (which succeeded), with its finding and
 * thresholds; or what was asked for, when it is not there.
 */
export async function explainConnection(monitor: Monitor, policy: Policy, target: ConnectionTarget): Promise<ExplainReport> {
  const { evaluation } = await monitor.evaluate(policy, 'all');
  const view = findTarget(evaluation.views, target);
  if (!view) return { found: false, target, rows: evaluation.views.length };
  const diagnosis = diagnoseAll(evaluation.views, await monitor.hostFacts(), (v) => v === view);
  return { found: true, view, finding: diagnosis.byConnection.get(view.connection.key)!, thresholds: thresholdsFor(policy, view.row) };
}

/** A connection given either way round, or the n-th row of `tcpdwell list` (same order). */
function findTarget(views: ConnectionView[], target: ConnectionTarget): ConnectionView | undefined {
  if (target.kind === 'row') return views[target.row - 1];
  const same = (a: { address: string; port: number }, b: { address: string; port: number }) => a.address === b.address && a.port === b.port;
  return views.find((v) => same(v.row.local, target.local) && same(v.row.remote, target.remote)) ?? views.find((v) => same(v.row.local, target.remote) && same(v.row.remote, target.local));
}

/**
 * This socket table's history in check's state file at `path`, read only (never through a link,
 * never a device or FIFO); or none, with one line saying why in `note`. Captured files (`input`)
 * carry their own history: a state file describes live tables only.
 */
export async function readExplainHistory(
  platform: Platform,
  path: string,
  table: { source: SourceChoice; procRoot: string; input: boolean; netns?: NetnsChoice | undefined },
): Promise<{ history?: TrackerState; note?: string }> {
  if (table.input) return { note: `no history from ${path}: it describes live socket tables, not captured files` };
  // Loaded only here: the codec brings the zod library, which other commands start without.
  const { StateBook, StateDecodeError } = await import('./tracker-codec.js');
  try {
    const book = StateBook.decode(await readStateText(path), platform.nowMs());
    const identity = await readTableIdentity(platform, table.source, table.procRoot, table.netns);
    book.forgetOtherBoots(identity);
    const history = book.historyOf(identity);
    if (!history) return { note: `no history from ${path} for this socket table (network namespace, boot, source and /proc)` };
    if (book.droppedRecords > 0) return { history: history.tracker, note: `${path}: ${plural(book.droppedRecords, 'record')} with an impossible time stamp or amount dropped` };
    return { history: history.tracker };
  } catch (error) {
    const reason = error instanceof StateDecodeError ? error.message : (error as Error).message;
    return { note: `no history from ${path} (${reason})` };
  }
}
