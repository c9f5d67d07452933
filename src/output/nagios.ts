import { FLAG_KINDS, countStates, flaggedOfKind, leftOutTotal, tallyFlags, type CheckStatus, type Evaluation } from '../core/evaluate.js';
import type { TcpState } from '../core/tcp-state.js';
import { flagSummary, formatCountLine, formatFlaggedLine } from './check-text.js';
import { sanitizeNagiosText } from './sanitize.js';
import type { CheckReport } from '../app/reports.js';
import type { CountLevel } from '../core/policy.js';

// Nagios plugin output (Nagios Plugin Development Guidelines): one status line
// `TCPDWELL WARNING - 1 half-open, 3 half-close of 40 connections | half_open=1;;; …` (the words of
// check's text summary), then one line per flagged session as long output. Exit codes 0/1/2/3 come with it. Icinga, Zabbix and Sensu read the same.
// Text from outside is sanitised, and a `|` in it shown as `\x7c`: a `|` starts performance data in
// the status line and in long output alike.

/**
 * `notes` (what was not measured, state file problems) close the long output. Perfdata items are
 * `label=value;warn;crit;min;max`; warn and crit are given only where a level is defined: each
 * count rule adds `count_<rule>=<largest group>;<warning>;<critical>;0` (a Nagios range `N` alerts
 * above N, as the rule does). The other items have no level of their own (a flagged session's
 * severity is its own rule's, not a count's) and leave them empty, as the guidelines allow.
 */
export function formatNagios(
  status: CheckStatus,
  evaluation: Evaluation,
  source: string,
  errors: readonly string[],
  notes: readonly string[] = [],
  countLevels: readonly CountLevel[] = [],
  /** Unflagged connections counted without a view (CheckReport.leftOut). */
  leftOut?: ReadonlyMap<TcpState, number>,
): string {
  const longNotes = notes.map((n) => `${sanitizeNagiosText(n)}\n`).join('');
  if (status === 'unknown') return `TCPDWELL UNKNOWN - ${sanitizeNagiosText(`${errors.join('; ') || 'the socket table could not be read'} (source ${source})`)}\n${longNotes}`;
  const tally = tallyFlags(evaluation);
  const fixed = [
    ...FLAG_KINDS.map((k) => [k.replace('-', '_'), flaggedOfKind(tally, k)] as const),
    ['connections', evaluation.views.length + leftOutTotal(leftOut)] as const,
    ...[...countStates(evaluation.views, leftOut)].map(([state, n]) => [state.toLowerCase(), n] as const),
  ];
  const countLabels = distinctPerfdataLabels(
    countLevels.map((l) => `count_${l.rule}`),
    fixed.map(([label]) => label),
  );
  const perfdata = [...fixed.map(([label, n]) => `${label}=${n};;;`), ...countLevels.map((l, i) => `${countLabels[i]!}=${l.largest};${l.warningAbove};${l.criticalAbove ?? ''};0`)];
  const text = flagSummary(evaluation, leftOut);
  const details = [...evaluation.views.map((v) => formatFlaggedLine(v)).filter((l): l is string => l !== undefined), ...evaluation.countFlags.map(formatCountLine)];
  return `TCPDWELL ${status.toUpperCase()} - ${text} | ${perfdata.join(' ')}\n${details.map((l) => `${sanitizeNagiosText(l)}\n`).join('')}${longNotes}`;
}

/** check's report as a Nagios plugin's output: notes are what was not measured and the state file's problems. */
export function formatNagiosReport(report: CheckReport): string {
  return formatNagios(report.status, report.evaluation, report.source, report.errors, [...report.notices, ...report.stateNotes], report.countLevels, report.leftOut);
}

/**
 * A perfdata label from outside text (a rule name): sanitised, `=` (never allowed in a label)
 * shown as `_`, and quoted when it holds a space or a quote, a quote doubled (Nagios Plugin
 * Development Guidelines, performance data).
 */
export function perfdataLabel(text: string): string {
  return quoteLabel(bareLabel(text));
}

function bareLabel(text: string): string {
  return sanitizeNagiosText(text).replaceAll('=', '_');
}

function quoteLabel(label: string): string {
  return /[\s']/.test(label) ? `'${label.replaceAll("'", "''")}'` : label;
}

/**
 * Labels for `texts` (perfdataLabel each) that differ from each other and from `taken`: sanitising
 * can map two names to one label (`x=1` and `x_1`), and a graphing tool keeps one series per
 * label, so a later one that collides gets `_2`, `_3`, … (in the order given, so stable per config).
 */
export function distinctPerfdataLabels(texts: readonly string[], taken: Iterable<string> = []): string[] {
  const used = new Set(taken);
  return texts.map((text) => {
    const base = bareLabel(text);
    let label = base;
    for (let n = 2; used.has(label); n++) label = `${base}_${n}`;
    used.add(label);
    return quoteLabel(label);
  });
}

/**
 * A Nagios plugin's exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios Plugin Development
 * Guidelines), and nothing else: a monitoring system reads any other code as UNKNOWN or a crash.
 * So a notifier that failed does not change it (other formats exit 75 then; its stderr line says
 * so, and the notifications are sent again next run).
 */
export function nagiosExitCode(report: CheckReport): 0 | 1 | 2 | 3 {
  return NAGIOS_EXIT_CODES[report.status];
}

const NAGIOS_EXIT_CODES = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;
