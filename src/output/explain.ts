import { sessionClassOf } from '../core/tcp-state.js';
import { ownerLabel } from '../core/connection.js';
import { formatEndpoint } from '../core/address.js';
import type { Finding } from '../core/diagnosis.js';
import { formatDuration } from '../core/duration.js';
import type { ConnectionView } from '../core/evaluate.js';
import type { thresholdsFor } from '../core/policy.js';
import { STATE_GUIDE } from '../core/state-guide.js';
import { ALL_TCP_STATES, type TcpState } from '../core/tcp-state.js';
import { findingToJson, formatFinding } from './findings.js';
import { connectionToJson, iso } from './json.js';
import type { ExplainReport } from '../app/reports.js';
import { maxOf } from '../core/lists.js';
import { sanitizeLine } from './sanitize.js';
import { formatFlow } from './table.js';

// `tcpdwell explain`: the state guide and one connection's whole story, as text. Lines that carry
// outside text (owner, rule names, the finding) are sanitised one by one.

export function formatStateList(): string {
  const width = maxOf(
    ALL_TCP_STATES.map((s) => s.length),
    0,
  );
  return `${ALL_TCP_STATES.map((s) => `${s.padEnd(width)}  ${STATE_GUIDE[s].meaning}`).join('\n')}\n`;
}

export function formatStateGuide(state: TcpState): string {
  const guide = STATE_GUIDE[state];
  const exits = guide.exits.map((e) => `  ${e.on} -> ${e.to}`);
  return [
    `${state}: ${guide.meaning}`,
    'Leaves the state on:',
    ...(exits.length ? exits : ['  -']),
    `Stuck here means: ${guide.stuckMeans}`,
    `Check on this host: ${guide.checkHere}`,
    `Check on the peer: ${guide.checkPeer}`,
    '',
  ].join('\n');
}

export function formatConnectionStory(view: ConnectionView, finding: Finding, thresholds: ReturnType<typeof thresholdsFor>): string {
  const { row, connection, timing, flag } = view;
  const owner = ownerLabel(row) ?? 'no owner found';
  const lines = [
    sanitizeLine(`${row.state} ${formatFlow(row)}  (${row.protocol}${row.inode ? `, inode ${row.inode}` : ''}, ${owner})`),
    `In ${row.state} for ${connection.dwellSource === 'observed' ? '' : 'at least '}${formatDuration(timing.dwellMs)} (${connection.dwellSource})` +
      `${timing.idleMs !== undefined ? `, idle ${formatDuration(timing.idleMs)}` : ''}` +
      // The half-close timer means something only in the half-close states (docs/tcp-facts.md#session-classes).
      `${sessionClassOf(row.state) === 'half-close' && timing.halfCloseTimerMs < timing.dwellMs ? `, half-close timer ${formatDuration(timing.halfCloseTimerMs)}` : ''}`,
  ];
  if (thresholds) {
    const limits = [thresholds.warningMs !== undefined ? `warning above ${formatDuration(thresholds.warningMs)}` : 'no warning threshold'];
    if (thresholds.criticalMs !== undefined) limits.push(`critical above ${formatDuration(thresholds.criticalMs)}`);
    lines.push(sanitizeLine(`Threshold: ${thresholds.kind} ${limits.join(', ')} (rule ${thresholds.rule})`));
  }
  const group = view.countFlag;
  // A member of a group over a count limit with a flag of its own: both are said.
  const alsoGroup = group && flag && flag.kind !== 'count' ? sanitizeLine(`; in a group over a count limit: ${group.severity} count (${group.count} in ${group.group}, rule ${group.rule})`) : '';
  lines.push(flag ? `Flagged: ${flag.severity} ${flag.kind}${alsoGroup}` : 'Not flagged');
  lines.push('', `Finding: ${formatFinding(finding).trimStart()}`, '', 'History:');
  for (const t of connection.transitions) lines.push(`  ${iso(t.atMs)}  ${t.state}`);
  lines.push('', formatStateGuide(row.state));
  return lines.join('\n');
}

/** `explain --json` without a connection: the whole state guide, or one state's entry. */
export function stateGuideToJson(state?: TcpState): string {
  return `${JSON.stringify(state ? { state, ...STATE_GUIDE[state] } : STATE_GUIDE, null, 2)}\n`;
}

/** `explain --json` of a connection found in the table. */
export function explainToJson(report: Extract<ExplainReport, { found: true }>): string {
  return `${JSON.stringify({ connection: connectionToJson(report.view), finding: findingToJson(report.finding), guide: STATE_GUIDE[report.view.row.state] }, null, 2)}\n`;
}

/** `explain` of a connection found in the table, as text. */
export function formatExplainText(report: Extract<ExplainReport, { found: true }>): string {
  return formatConnectionStory(report.view, report.finding, report.thresholds);
}

/** Why `explain` found nothing: one line for stderr (sanitised; it quotes the target). */
export function formatExplainNotFound(report: Extract<ExplainReport, { found: false }>): string {
  const { target, rows } = report;
  const text =
    target.kind === 'row'
      ? `no row ${target.row}: the socket table has ${rows === 0 ? 'no rows' : rows === 1 ? '1 row' : `${rows} rows`} now (\`tcpdwell list --numbered\` numbers them)`
      : `no connection ${formatEndpoint(target.local)}-${formatEndpoint(target.remote)} in the socket table now`;
  return sanitizeLine(text);
}
