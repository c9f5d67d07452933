import { flowText, ownerLabel } from '../core/connection.js';
import { formatDuration } from '../core/duration.js';
import type { CheckStatus, ConnectionView } from '../core/evaluate.js';
import type { CountFlag } from '../core/policy.js';
import type { ResetResult } from './json.js';
import type { AlertNotification } from '../core/alerts.js';
import { sanitizeLine } from './sanitize.js';
import { plural } from '../core/plural.js';

// `check` text output for cron: one line per flagged session, one per over-count group, a summary.
// Sessions flagged only as members of a group are covered by the group's line. Every line is
// sanitised (process names, rule names and captured text may hold controls).

const MEASURE_NAME = { 'half-open': 'in state', 'half-close': 'half-close timer', idle: 'idle' } as const;

/**
 * The half-close timer restarts on every segment from the peer; a source that reports no segment
 * times (procfs, netstat) measures only the time in the state, and the line says so.
 */
function measureName(view: ConnectionView, kind: keyof typeof MEASURE_NAME): string {
  return kind === 'half-close' && view.connection.lastPeerSegmentMs === undefined ? 'in state' : MEASURE_NAME[kind];
}

export function formatFlaggedLine(view: ConnectionView, why?: string): string | undefined {
  const flag = view.flag;
  if (!flag || flag.kind === 'count') return undefined;
  const { row } = view;
  const owner = ownerLabel(row);
  return sanitizeLine(
    `${flag.severity.toUpperCase()} ${flag.kind}: ${row.state} ${flowText(row)}${owner ? ` ${owner}` : ''} ` +
    `${measureName(view, flag.kind)} ${formatDuration(flag.measured)} > ${formatDuration(flag.thresholdMs)} ` +
    `(rule ${flag.rule}, dwell ${view.connection.dwellSource})${why ? `: ${why}` : ''}`
  );
}

export function formatResetLine({ view, outcome }: ResetResult): string {
  const { row } = view;
  const what = `${view.flag?.kind ?? 'reset'}: ${row.state} ${flowText(row)}`;
  if (!outcome.ended) return sanitizeLine(`RESET ${what}: not ended (${outcome.reason})`);
  return sanitizeLine(`RESET ${what}: ended${outcome.alreadyGone ? ' (was gone already)' : ''}`);
}

export function formatCountLine(flag: CountFlag): string {
  return sanitizeLine(`${flag.severity.toUpperCase()} count: ${flag.count} ${flag.states.join('/')} for ${flag.per} ${flag.group} > ${flag.thresholdCount} (rule ${flag.rule})`);
}

export function formatCheckSummary(status: CheckStatus, views: readonly ConnectionView[], countFlags: readonly CountFlag[], source: string, errors: readonly string[]): string {
  if (status === 'unknown') return sanitizeLine(`tcpdwell UNKNOWN - ${errors.join('; ') || 'the socket table could not be read'} (source ${source})`);
  const byKind = new Map<string, number>();
  for (const view of views) if (view.flag && view.flag.kind !== 'count') byKind.set(view.flag.kind, (byKind.get(view.flag.kind) ?? 0) + 1);
  if (countFlags.length) byKind.set('count', countFlags.length);
  const parts = [...byKind].map(([kind, n]) => `${n} ${kind}`);
  return sanitizeLine(`tcpdwell ${status.toUpperCase()} - ${parts.join(', ') || 'nothing flagged'} of ${plural(views.length, 'connection')} (source ${source})`);
}

/**
 * `RESOLVED half-close: CLOSE_WAIT a -> b (stuck 2m49s when last seen, flagged for 13s)`: a reported
 * alert that cleared. How long it was stuck is its dwell at the last run that saw it; how long it
 * was flagged runs from its first report to that run (it cleared some time after).
 */
export function formatResolvedLine(n: AlertNotification, nowMs: number): string {
  const lastSeenMs = n.lastSeenMs ?? nowMs;
  const flaggedMs = lastSeenMs - n.firstFlaggedMs;
  const flagged = flaggedMs < 1000 ? 'flagged by one run only' : `flagged for ${formatDuration(flaggedMs)}`;
  return `RESOLVED ${n.kind}: ${n.subject} (${n.lastDwellMs === undefined ? flagged : `stuck ${formatDuration(n.lastDwellMs)} when last seen, ${flagged}`})`;
}
