import { Monitor } from '../../app/monitor.js';
import type { ConnectionView } from '../../core/evaluate.js';
import { matches } from '../../core/policy.js';
import { connectionToJson } from '../../output/json.js';
import { formatConnectionTable } from '../../output/table.js';
import type { CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { loadPolicy } from '../load-policy.js';
import type { ListOptions } from '../parse-command-line.js';

export async function runList(options: ListOptions, context: CliContext): Promise<number> {
  const policy = await loadPolicy(options);
  const monitor = new Monitor(context.platform, { source: options.source, procRoot: options.procRoot });
  const byOwner = options.pids !== undefined || options.processes !== undefined;
  // Filters that need no owner run first, so owners are looked up only for rows that are shown.
  const passesTableFilters = (view: ConnectionView) =>
    (!options.flaggedOnly || view.flag !== undefined) &&
    matches(options.states ? { states: options.states } : undefined, view.row) &&
    (!options.ports || options.ports.some((r) => inRange(r, view.row.local.port) || inRange(r, view.row.remote.port)));
  const passesOwnerFilters = (view: ConnectionView) =>
    (!options.pids || (view.row.pid !== undefined && options.pids.includes(view.row.pid))) &&
    matches(options.processes ? { processes: options.processes } : undefined, view.row);

  const seenNotices = new Set<string>();
  let exitCode: number = ExitCode.OK;
  for (let iteration = 1; ; iteration++) {
    const outcome = await monitor.poll();
    for (const notice of outcome.notices) {
      if (seenNotices.has(notice)) continue;
      seenNotices.add(notice);
      context.stderr.write(`tcpdwell: ${notice}\n`);
    }
    if (!outcome.ok) {
      context.stderr.write(`tcpdwell: cannot read the socket table (source ${outcome.source}): ${outcome.error}\n`);
      exitCode = ExitCode.UNKNOWN;
      if (options.watchMs === undefined) return exitCode;
    } else {
      exitCode = ExitCode.OK;
      const { evaluation, ownersHidden } = await monitor.evaluate(policy, (view) => byOwner || passesTableFilters(view));
      const views = evaluation.views.filter((v) => passesTableFilters(v) && passesOwnerFilters(v));
      if (ownersHidden && !seenNotices.has('owners')) {
        seenNotices.add('owners');
        context.stderr.write('tcpdwell: some sockets belong to processes whose /proc/<pid>/fd cannot be read; run as root to see every owner\n');
      }
      writeViews(views, options, context, ownersHidden, outcome.takenAtMs);
    }
    if (options.watchMs === undefined || iteration === options.iterations || context.interrupt.aborted) return exitCode;
    await context.sleep(options.watchMs, context.interrupt);
    if (context.interrupt.aborted) return exitCode;
  }
}

function writeViews(views: ConnectionView[], options: ListOptions, context: CliContext, ownersHidden: boolean, takenAtMs: number): void {
  if (options.json) {
    // One JSON array per poll; with --watch one per line (NDJSON).
    context.stdout.write(`${JSON.stringify(views.map(connectionToJson), null, options.watchMs === undefined ? 2 : undefined)}\n`);
    return;
  }
  if (options.watchMs !== undefined) {
    context.stdout.write(context.stdout.isTTY ? '\x1b[H\x1b[2J' : `--- ${new Date(takenAtMs).toISOString()}\n`);
  }
  context.stdout.write(formatConnectionTable(views, { ownersHidden }));
}

function inRange(range: { from: number; to: number }, port: number): boolean {
  return port >= range.from && port <= range.to;
}
