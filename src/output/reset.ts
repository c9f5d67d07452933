import type { ResetReport } from '../app/reports.js';
import type { ConnectionView } from '../core/evaluate.js';
import { plural } from '../core/plural.js';
import { flowWithOwner, viaText } from './check-text.js';
import { resetToJson } from './json.js';
import { sanitizeLine } from './sanitize.js';

// `reset` output: what would be (or was) ended, what was skipped and why.

type Done = Extract<ResetReport, { refused: false }>;

/** `reset --json` (README "JSON output"); `summary` (resetSummary) with --yes only. */
export function resetReportToJson(report: Done) {
  return {
    dryRun: report.dryRun,
    selected: report.candidates.length,
    results: report.dryRun ? report.candidates.map((view) => resetToJson({ view, outcome: { ended: false, reason: 'dry run' } })) : report.results.map(resetToJson),
    refused: report.untouchable.map(({ view, reason }) => resetToJson({ view, outcome: { ended: false, reason } })),
    ...(report.dryRun ? {} : { summary: resetSummary(report) }),
  };
}

/**
 * What `reset --yes` did to the sessions selected, each counted once: `ended` (the ones that were
 * gone already too), `leftAlone` on purpose (never reset: LISTEN, TIME_WAIT, what the OS cannot end;
 * or no longer the socket selected: its state moved on, a newer socket holds its 4-tuple), and
 * `failed`: every other one not ended (permission denied, still present afterwards, an error, a
 * state that could not be looked up).
 */
export function resetSummary(report: Done): { ended: number; leftAlone: number; failed: number } {
  let ended = 0;
  let leftAlone = report.untouchable.length;
  let failed = 0;
  for (const { outcome } of report.results) {
    if (outcome.ended) ended++;
    else if (outcome.reusedTuple || (outcome.stateNow && / left alone$/.test(outcome.reason))) leftAlone++;
    else failed++;
  }
  return { ended, leftAlone, failed };
}

/** `reset` as text: one line per session, then what a dry run would do; every line sanitised. */
export function formatResetText(report: Done): string {
  const lines: string[] = [];
  for (const { view, reason } of report.untouchable) lines.push(`skip      ${describe(view)}: ${reason}`);
  if (report.dryRun) {
    const n = report.candidates.length;
    for (const view of report.candidates) lines.push(`would end ${describe(view)}`);
    const leftAlone = report.untouchable.length;
    // Sessions selected but never reset (LISTEN, TIME_WAIT…) are there, not absent: said as such.
    lines.push(
      n
        ? `dry run: ${plural(n, 'session')} would be ended; add --yes to end them`
        : leftAlone
          ? `dry run: nothing would be ended: ${plural(leftAlone, 'session')} selected, all left alone`
          : 'no session matches',
    );
    if (report.needsConfirmation) lines.push(`${report.needsConfirmation}: --yes also needs --count ${n} (or --all)`);
  } else {
    for (const { view, outcome: o } of report.results) {
      lines.push(!o.ended ? `not ended ${describe(view)}: ${o.reason}` : `ended     ${describe(view)}${viaText(o.via)}${o.alreadyGone ? ' (was gone already)' : ''}`);
    }
    const selected = report.results.length + report.untouchable.length;
    if (selected === 0) lines.push('no session matches');
    // Many lines, or none tried (every one selected left alone: the JSON summary's counts, never
    // "no session matches"): the counts at the end, where a long run's scrolling leaves the eye.
    else if (selected > 1 || report.results.length === 0) {
      const { ended, leftAlone, failed } = resetSummary(report);
      lines.push(`reset: ${plural(selected, 'session')} selected: ${ended} ended, ${leftAlone} left alone, ${failed} failed`);
    }
  }
  return `${lines.map(sanitizeLine).join('\n')}\n`;
}

/** `CLOSE_WAIT a -> b in netns web python3[812]`: the namespace too, or two sessions of one flow in two namespaces read alike. */
function describe({ row }: ConnectionView): string {
  return `${row.state} ${flowWithOwner(row)}`;
}
