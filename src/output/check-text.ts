import { flowText, netnsText, ownerLabel, type SocketRow } from '../core/connection.js';
import { formatFlow } from './table.js';
import { formatDuration } from '../core/duration.js';
import { FLAG_KINDS, flaggedOfKind, leftOutTotal, tallyFlags, type CheckStatus, type ConnectionView } from '../core/evaluate.js';
import type { TcpState } from '../core/tcp-state.js';
import type { CountFlag } from '../core/policy.js';
import type { CheckReport, EndOutcome, ResetResult } from '../app/reports.js';
import { countAlertKey, type AlertNotification } from '../core/alerts.js';
import { sanitizeLine } from './sanitize.js';
import type { ChannelResult } from '../app/notify-channels.js';
import { MAX_PENDING_NOTIFICATIONS } from '../core/alert-outbox.js';
import type { Delivery } from '../notify/notifiers.js';
import { plural } from '../core/plural.js';

// `check` text output for cron: one line per flagged session, one per over-count group, a summary.
// Sessions flagged only as members of a group are covered by the group's line. Every line is
// sanitised (process names, rule names and captured text may hold controls).

const MEASURE_NAME = { 'half-open': 'in state', 'half-close': 'half-close timer', idle: 'idle' } as const;

/**
 * The half-close timer restarts on every segment from the peer; a source that reports no segment
 * times (procfs, netstat) measures only the time in the state, and the line says so.
 */
export function measureName(view: ConnectionView, kind: keyof typeof MEASURE_NAME): string {
  return kind === 'half-close' && view.connection.lastPeerSegmentMs === undefined ? 'in state' : MEASURE_NAME[kind];
}

export function formatFlaggedLine(view: ConnectionView, why?: string): string | undefined {
  const flag = view.flag;
  if (!flag || flag.kind === 'count') return undefined;
  const { row } = view;
  return sanitizeLine(
    `${flag.severity.toUpperCase()} ${flag.kind}: ${row.state} ${flowWithOwner(row)} ` +
      `${measureName(view, flag.kind)} ${formatDuration(flag.measured)} > ${formatDuration(flag.thresholdMs)} ` +
      `(rule ${flag.rule}, dwell ${view.connection.dwellSource})${why ? `: ${why}` : ''}`,
  );
}

/** ` in netns web`, where the row was read in a namespace named by `--netns`; else nothing. */
function inNetns(row: Pick<SocketRow, 'netns'>): string {
  return row.netns ? ` in netns ${netnsText(row.netns)}` : '';
}

/**
 * `127.0.0.1:5432 -> 10.0.0.5:40100 in netns web postgres[812]`: the flow, its namespace where
 * `--netns` read it, and its owner where known; what every line about one session names.
 */
export function flowWithOwner(row: Pick<SocketRow, 'local' | 'remote' | 'netns' | 'pid' | 'process'> & { state?: SocketRow['state'] }): string {
  const owner = ownerLabel(row);
  // A listener's peer as list prints it (`0.0.0.0:*`), not `0.0.0.0:0`.
  return `${formatFlow(row)}${inNetns(row)}${owner ? ` ${owner}` : ''}`;
}

export function formatResetLine({ view, outcome }: ResetResult): string {
  const { row } = view;
  const what = `${view.flag?.kind ?? 'reset'}: ${row.state} ${flowText(row)}${inNetns(row)}`;
  if (!outcome.ended) return sanitizeLine(`RESET ${what}: not ended (${outcome.reason})`);
  return sanitizeLine(`RESET ${what}: ended${viaText(outcome.via)}${outcome.alreadyGone ? ' (was gone already)' : ''}`);
}

export function formatCountLine(flag: CountFlag): string {
  return sanitizeLine(`${flag.severity.toUpperCase()} count: ${flag.count} ${flag.states.join('/')} for ${flag.per} ${flag.group} > ${flag.thresholdCount} (rule ${flag.rule})`);
}

export function formatCheckSummary(
  status: CheckStatus,
  views: readonly ConnectionView[],
  countFlags: readonly CountFlag[],
  source: string,
  errors: readonly string[],
  leftOut?: ReadonlyMap<TcpState, number>,
): string {
  if (status === 'unknown') return sanitizeLine(`tcpdwell UNKNOWN - ${errors.join('; ') || 'the socket table could not be read'} (source ${source})`);
  return sanitizeLine(`tcpdwell ${status.toUpperCase()} - ${flagSummary({ views, countFlags }, leftOut)} (source ${source})`);
}

/**
 * What a check found, as the text summary and the Nagios status line both say it:
 * `1 half-open, 2 half-close, 1 count of 25 connections` (kinds in FLAG_KINDS order),
 * `nothing flagged of 25 connections`.
 */
export function flagSummary(evaluation: { readonly views: readonly ConnectionView[]; readonly countFlags: readonly CountFlag[] }, leftOut?: ReadonlyMap<TcpState, number>): string {
  const tally = tallyFlags(evaluation);
  const parts = FLAG_KINDS.filter((k) => flaggedOfKind(tally, k) > 0).map((k) => `${flaggedOfKind(tally, k)} ${k}`);
  // `leftOut`: unflagged connections counted without a view (CheckReport.leftOut).
  return `${parts.join(', ') || 'nothing flagged'} of ${plural(evaluation.views.length + leftOutTotal(leftOut), 'connection')}`;
}

/**
 * `RESOLVED half-close: CLOSE_WAIT a -> b (stuck 2m49s when last seen, flagged by 3 runs over 13s)`:
 * a reported alert that cleared. How long it was stuck is its dwell at the last run that saw it;
 * the span runs from its first report to that run (it cleared some time after), and the runs are
 * counted where the state file kept the count (an older file did not: then only the span is told).
 */
export function formatResolvedLine(n: AlertNotification, nowMs: number): string {
  const lastSeenMs = n.lastSeenMs ?? nowMs;
  const flaggedMs = lastSeenMs - n.firstFlaggedMs;
  const short = flaggedMs < 1000;
  const flagged =
    n.runsFlagged === 1
      ? 'flagged by one run only'
      : n.runsFlagged === undefined
        ? `flagged for ${short ? 'under 1s' : formatDuration(flaggedMs)}`
        : `flagged by ${n.runsFlagged} runs ${short ? 'within 1s' : `over ${formatDuration(flaggedMs)}`}`;
  return `RESOLVED ${n.kind}: ${n.subject} (${n.lastDwellMs === undefined ? flagged : `stuck ${formatDuration(n.lastDwellMs)} when last seen, ${flagged}`})`;
}

/**
 * check's text report: what is new since the last run (or every current flag, with `all`), what
 * cleared, findings, resets, notes and a summary; without `all`, no line when nothing is to be
 * said (cron mails only news). Every line is sanitised: notes and resolved lines quote outside text too.
 */
export function formatCheckText(r: CheckReport, all: boolean): string[] {
  return [...checkTextLines(r, all)];
}

/**
 * formatCheckText's lines one at a time, made as they are taken: a run without history (`--window`
 * alone, `--no-state`) prints a line per flagged session, ~86,000 at 100,000 sockets (issue 15),
 * and as one list they were all alive at once beside the report (~16 MB, measured in process).
 */
export function* checkTextLines(r: CheckReport, all: boolean): Generator<string, void, undefined> {
  // A notification that is not a resolve names a flagged session (or a count group): only those are indexed.
  const viewByKey = new Map<string, ConnectionView>();
  for (const v of r.evaluation.views) if (v.flag) viewByKey.set(v.connection.key, v);
  const countByKey = new Map(r.evaluation.countFlags.map((f) => [countAlertKey(f), f]));
  const why = (v: ConnectionView) => r.diagnosis.byConnection.get(v.connection.key)?.summary;
  // Whether a notification gives a line (formatFlaggedLine's view has a flag of its own), without making it.
  const toldByLine = (n: AlertNotification) => {
    if (n.change === 'resolved') return true;
    const view = viewByKey.get(n.key);
    return view ? view.flag !== undefined && view.flag.kind !== 'count' : countByKey.has(n.key);
  };
  // `--all` asks for the whole picture: the status line at least, even with nothing to report.
  if (!all && !r.notifications.some(toldByLine) && r.resets.length === 0 && r.status !== 'unknown') return;
  if (all) {
    for (const v of r.evaluation.views) {
      const line = formatFlaggedLine(v, why(v));
      if (line !== undefined) yield sanitizeLine(line);
    }
    for (const flag of r.evaluation.countFlags) yield sanitizeLine(formatCountLine(flag));
  } else {
    for (const n of r.notifications) {
      if (n.change === 'resolved') continue;
      const view = viewByKey.get(n.key);
      const count = countByKey.get(n.key);
      const line = view ? formatFlaggedLine(view, why(view)) : count ? formatCountLine(count) : undefined;
      if (line) yield sanitizeLine(n.change === 'reminder' ? `${line} [still flagged]` : n.change === 'deescalated' ? `${line} [down from critical]` : line);
    }
  }
  for (const n of r.notifications) if (n.change === 'resolved') yield sanitizeLine(formatResolvedLine(n, r.checkedAtMs));
  for (const g of r.diagnosis.groups) yield sanitizeLine(`FINDING ${g.subject}: ${g.summary}`);
  for (const reset of r.resets) yield sanitizeLine(formatResetLine(reset));
  for (const n of r.notices) yield sanitizeLine(`note: ${n}`);
  yield sanitizeLine(formatCheckSummary(r.status, r.evaluation.views, r.evaluation.countFlags, r.source, r.errors, r.leftOut));
}

/**
 * One line for a notifier that failed: its error, and what became of its notifications (kept for
 * it alone and sent again next run, or not delivered without a state file; the oldest dropped past
 * the backlog's cap). Sanitised: the error quotes the notifier's output.
 */
export function formatNotifierFailure(channel: ChannelResult<Delivery>, kept: boolean): string {
  const what = plural(channel.kept, 'notification');
  const fate = kept ? `${what} kept for it and sent again on the next run` : `${what} not delivered (no state file to keep them in)`;
  const dropped = channel.dropped > 0 ? ` (${channel.dropped} oldest dropped: at most ${MAX_PENDING_NOTIFICATIONS} are kept)` : '';
  return `${sanitizeLine(`notifier ${channel.delivery.notifier} failed: ${channel.delivery.error}`)}; ${fate}${dropped}`;
}

/** ` via SOCK_DESTROY`, ` via ss -K`: which way a Linux socket was ended (none where the OS has one way). */
export function viaText(via: EndOutcome['via']): string {
  return via && via !== 'SetTcpEntry' ? ` via ${via}` : '';
}
