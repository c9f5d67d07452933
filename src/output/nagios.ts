import type { CheckStatus, Evaluation } from '../core/evaluate.js';
import { ALL_TCP_STATES } from '../core/tcp-state.js';
import { formatCountLine, formatFlaggedLine } from './check-text.js';

// Nagios plugin output (Nagios Plugin Development Guidelines): one status line
// `TCPDWELL WARNING - 3 half-close, 1 half-open | half_open=1;;; …`, then one line per flagged
// session as long output. Exit codes 0/1/2/3 come with it. Icinga, Zabbix and Sensu read the same.

const KINDS = ['half-open', 'half-close', 'idle', 'count'] as const;

export function formatNagios(status: CheckStatus, evaluation: Evaluation, source: string, errors: readonly string[]): string {
  if (status === 'unknown') return `TCPDWELL UNKNOWN - ${oneLine(errors.join('; ') || 'the socket table could not be read')} (source ${source})\n`;
  const flagged = new Map<string, number>(KINDS.map((k) => [k, 0]));
  for (const view of evaluation.views) if (view.flag && view.flag.kind !== 'count') flagged.set(view.flag.kind, flagged.get(view.flag.kind)! + 1);
  flagged.set('count', evaluation.countFlags.length);
  const summary = KINDS.filter((k) => flagged.get(k)! > 0).map((k) => `${flagged.get(k)} ${k}`);
  const states = new Map<string, number>(ALL_TCP_STATES.map((s) => [s, 0]));
  for (const view of evaluation.views) states.set(view.row.state, (states.get(view.row.state) ?? 0) + 1);
  const perfdata = [
    ...KINDS.map((k) => `${k.replace('-', '_')}=${flagged.get(k)};;;`),
    `connections=${evaluation.views.length};;;`,
    ...[...states].map(([state, n]) => `${state.toLowerCase()}=${n};;;`),
  ];
  const text = summary.length ? summary.join(', ') : `${evaluation.views.length} connections, nothing flagged`;
  const details = [
    ...evaluation.views.map((v) => formatFlaggedLine(v)).filter((l): l is string => l !== undefined),
    ...evaluation.countFlags.map(formatCountLine),
  ];
  return `TCPDWELL ${status.toUpperCase()} - ${text} | ${perfdata.join(' ')}\n${details.map((l) => `${oneLine(l).replace(/\|/g, '/')}\n`).join('')}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
