import type { ResetReport } from '../app/reports.js';
import type { ConnectionView } from '../core/evaluate.js';
import { plural } from '../core/plural.js';
import { flowWithOwner, viaText } from './check-text.js';
import { resetToJson } from './json.js';
import { sanitizeLine } from './sanitize.js';

// `reset` output: what would be (or was) ended, what was skipped and why.

type Done = Extract<ResetReport, { refused: false }>;

/** `reset --json` (README "JSON output"). */
export function resetReportToJson(report: Done) {
  return {
    dryRun: report.dryRun,
    selected: report.candidates.length,
    results: report.dryRun ? report.candidates.map((view) => resetToJson({ view, outcome: { ended: false, reason: 'dry run' } })) : report.results.map(resetToJson),
    refused: report.untouchable.map(({ view, reason }) => resetToJson({ view, outcome: { ended: false, reason } })),
  };
}

/** `reset` as text: one line per session, then what a dry run would do; every line sanitised. */
export function formatResetText(report: Done): string {
  const lines: string[] = [];
  for (const { view, reason } of report.untouchable) lines.push(`skip      ${describe(view)}: ${reason}`);
  if (report.dryRun) {
    const n = report.candidates.length;
    for (const view of report.candidates) lines.push(`would end ${describe(view)}`);
    lines.push(n ? `dry run: ${plural(n, 'session')} would be ended; add --yes to end them` : 'no session matches');
    if (report.needsConfirmation) lines.push(`${report.needsConfirmation}: --yes also needs --count ${n} (or --all)`);
  } else {
    for (const { view, outcome: o } of report.results) {
      lines.push(!o.ended ? `not ended ${describe(view)}: ${o.reason}` : `ended     ${describe(view)}${viaText(o.via)}${o.alreadyGone ? ' (was gone already)' : ''}`);
    }
    if (!report.results.length) lines.push('no session matches');
  }
  return `${lines.map(sanitizeLine).join('\n')}\n`;
}

/** `CLOSE_WAIT a -> b in netns web python3[812]`: the namespace too, or two sessions of one flow in two namespaces read alike. */
function describe({ row }: ConnectionView): string {
  return `${row.state} ${flowWithOwner(row)}`;
}
