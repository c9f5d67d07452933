import { FLAG_KINDS, countStates, flaggedOfKind, tallyFlags, type CheckStatus, type Evaluation } from '../core/evaluate.js';
import { formatCountLine, formatFlaggedLine } from './check-text.js';
import { sanitizeNagiosText } from './sanitize.js';
import { plural } from '../core/plural.js';

// Nagios plugin output (Nagios Plugin Development Guidelines): one status line
// `TCPDWELL WARNING - 3 half-close, 1 half-open | half_open=1;;; …`, then one line per flagged
// session as long output. Exit codes 0/1/2/3 come with it. Icinga, Zabbix and Sensu read the same.
// Text from outside is sanitised, and a `|` in it shown as `\x7c`: a `|` starts performance data in
// the status line and in long output alike.

/** `notes` (what was not measured, state file problems) close the long output. */
export function formatNagios(status: CheckStatus, evaluation: Evaluation, source: string, errors: readonly string[], notes: readonly string[] = []): string {
  const longNotes = notes.map((n) => `${sanitizeNagiosText(n)}\n`).join('');
  if (status === 'unknown') return `TCPDWELL UNKNOWN - ${sanitizeNagiosText(`${errors.join('; ') || 'the socket table could not be read'} (source ${source})`)}\n${longNotes}`;
  const tally = tallyFlags(evaluation);
  const summary = FLAG_KINDS.filter((k) => flaggedOfKind(tally, k) > 0).map((k) => `${flaggedOfKind(tally, k)} ${k}`);
  const perfdata = [
    ...FLAG_KINDS.map((k) => `${k.replace('-', '_')}=${flaggedOfKind(tally, k)};;;`),
    `connections=${evaluation.views.length};;;`,
    ...[...countStates(evaluation.views)].map(([state, n]) => `${state.toLowerCase()}=${n};;;`),
  ];
  const text = summary.length ? summary.join(', ') : `${plural(evaluation.views.length, 'connection')}, nothing flagged`;
  const details = [
    ...evaluation.views.map((v) => formatFlaggedLine(v)).filter((l): l is string => l !== undefined),
    ...evaluation.countFlags.map(formatCountLine),
  ];
  return `TCPDWELL ${status.toUpperCase()} - ${text} | ${perfdata.join(' ')}\n${details.map((l) => `${sanitizeNagiosText(l)}\n`).join('')}${longNotes}`;
}
