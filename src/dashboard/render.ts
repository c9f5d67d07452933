import { netnsText } from '../core/connection.js';
import { formatEndpoint } from '../core/address.js';
import { formatDuration } from '../core/duration.js';
import { FLAG_KINDS, flaggedOfKind, severityOfView, tallyFlags, type ConnectionView, type Evaluation } from '../core/evaluate.js';
import type { Thresholds } from '../core/policy.js';
import type { TcpState } from '../core/tcp-state.js';
import { sanitizeLine } from '../output/sanitize.js';
import { formatDwell, formatFlag, formatOwner, formatRemote } from '../output/table.js';
import type { GroupRow } from './model.js';
import { maxOf } from '../core/lists.js';
import { plural } from '../core/plural.js';
import { helpLines } from './keys.js';

// Text of the dashboard's parts, sized to the terminal. Pure: views in, lines out. Colour comes as
// blessed tags, and only when asked for (NO_COLOR). Outside text is sanitised before it is measured
// (fit) and its braces escaped before it is painted (escapeTags): blessed passes ESC sequences in
// content through to the terminal and reads `{red-fg}` in a process name as a tag.

export interface Paint {
  (text: string, color: 'red' | 'yellow' | 'green' | 'cyan' | 'gray' | 'bold' | 'inverse'): string;
}

export const colorPaint: Paint = (text, color) => {
  const tag = color === 'bold' ? 'bold' : color === 'inverse' ? 'inverse' : color === 'gray' ? 'gray-fg' : `${color}-fg`;
  return `{${tag}}${escapeTags(text)}{/${tag}}`;
};

/** NO_COLOR: bold and inverse only (they are not colour), everything else plain. */
export const plainPaint: Paint = (text, color) => (color === 'inverse' || color === 'bold' ? `{${color}}${escapeTags(text)}{/${color}}` : escapeTags(text));

/** Text for a `tags: true` box: each line sanitised, `{` and `}` shown literally. */
export function escapeTags(text: string): string {
  return text
    .split('\n')
    .map((line) => sanitizeLine(line).replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}')))
    .join('\n');
}

/** Fits text, sanitised, in `width` characters: cut with … or padded. */
export function fit(text: string, width: number): string {
  const safe = sanitizeLine(text);
  const chars = [...safe];
  if (chars.length > width) return width <= 1 ? chars.slice(0, width).join('') : `${chars.slice(0, width - 1).join('')}…`;
  return safe + ' '.repeat(width - chars.length);
}

interface Column {
  title: string;
  width: number;
  cell: (view: ConnectionView) => string;
}

/** Columns for a terminal `width` wide: addresses get what the fixed columns leave. `withNetns`: rows of several namespaces (--netns). */
export function connectionColumns(width: number, withNetns = false): Column[] {
  const wide = width >= 110;
  const flagWidth = wide ? 14 : 11;
  const fixed: Column[] = [
    { title: 'STATE', width: 12, cell: (v) => v.row.state },
    ...(withNetns ? [{ title: 'NETNS', width: wide ? 16 : 10, cell: (v: ConnectionView) => (v.row.netns ? netnsText(v.row.netns) : '-') }] : []),
    { title: 'PID/PROCESS', width: wide ? 22 : 12, cell: (v) => formatOwner(v, false) },
    { title: 'DWELL', width: wide ? 9 : 7, cell: formatDwell },
    ...(wide ? [{ title: 'IDLE', width: 8, cell: (v: ConnectionView) => (v.timing.idleMs === undefined ? '-' : formatDuration(v.timing.idleMs)) }] : []),
    { title: 'FLAG', width: flagWidth, cell: (v) => flagCell(v, flagWidth) },
  ];
  const gaps = fixed.length + 1; // between the columns, addresses included
  const addressWidth = Math.max(12, Math.floor((width - 2 - gaps - fixed.reduce((n, c) => n + c.width, 0)) / 2));
  const [state, ...rest] = fixed;
  return [state!, { title: 'LOCAL', width: addressWidth, cell: (v) => formatEndpoint(v.row.local) }, { title: 'REMOTE', width: addressWidth, cell: (v) => formatRemote(v.row) }, ...rest];
}

const SHORT_KINDS = { 'half-open': ['h-open', 'ho'], 'half-close': ['h-close', 'hc'], idle: ['idle', 'idle'] } as const;

/**
 * The FLAG cell in `width` characters: formatFlag's text where it fits, else shorter spellings of
 * the same flags, so that a cut never takes a severity mark (`!!`) or a count group's mark away
 * (`half-close!! count! (6 in …)` → `half-close!! count!` → `h-close!! count!` → `h-close!!+cnt!`
 * → `hc!!+cnt!`). The group itself is in the detail pane.
 */
export function flagCell(view: ConnectionView, width: number): string {
  const full = formatFlag(view);
  const { flag, countFlag } = view;
  if ([...full].length <= width || !flag) return full;
  const mark = (severity: string) => (severity === 'critical' ? '!!' : '!');
  const group = countFlag ?? (flag.kind === 'count' ? flag : undefined);
  // A count flag alone: its word and mark come first, so the cut takes only the group.
  if (flag.kind === 'count') return full;
  const own = mark(flag.severity);
  const [short, shortest] = SHORT_KINDS[flag.kind];
  const candidates = group
    ? [
        `${flag.kind}${own} count${mark(group.severity)}`,
        `${short}${own} count${mark(group.severity)}`,
        `${short}${own}+cnt${mark(group.severity)}`,
        `${shortest}${own}+cnt${mark(group.severity)}`,
        `${shortest}${own}+c${mark(group.severity)}`,
      ]
    : [`${short}${own}`, `${shortest}${own}`];
  return candidates.find((c) => c.length <= width) ?? candidates[candidates.length - 1]!;
}

export function connectionHeader(columns: readonly Column[], paint: Paint): string {
  return paint(columns.map((c) => fit(c.title, c.width)).join(' '), 'bold');
}

/** One table line; flagged rows coloured by severity; the selected one inverse. */
export function connectionLine(view: ConnectionView, columns: readonly Column[], selected: boolean, paint: Paint): string {
  const text = columns.map((c) => fit(c.cell(view), c.width)).join(' ');
  if (selected) return paint(text, 'inverse');
  const severity = severityOfView(view);
  if (!severity) return escapeTags(text);
  return paint(text, severity === 'critical' ? 'red' : 'yellow');
}

// Most telling first: a narrow terminal keeps the leak and dead-upstream columns.
const GROUP_STATES: [TcpState, string][] = [
  ['CLOSE_WAIT', 'CLOSE_W'],
  ['SYN_SENT', 'SYN_S'],
  ['ESTABLISHED', 'ESTAB'],
  ['FIN_WAIT_2', 'FIN_W2'],
  ['TIME_WAIT', 'TIME_W'],
  ['SYN_RECEIVED', 'SYN_R'],
  ['FIN_WAIT_1', 'FIN_W1'],
  ['LAST_ACK', 'LAST_A'],
  ['LISTEN', 'LISTEN'],
];
const GROUP_KEY_MIN = 16;

/** The key column's width and the state columns that fit beside it (each 7 wide plus a space). */
function groupLayout(width: number): { keyWidth: number; states: [TcpState, string][] } {
  const inner = width - 2;
  const fixed = 1 + 7 + 1 + 8; // TOTAL and FLAGGED with their gaps
  const states = GROUP_STATES.slice(0, Math.max(2, Math.min(GROUP_STATES.length, Math.floor((inner - GROUP_KEY_MIN - fixed) / 8))));
  return { keyWidth: Math.max(8, inner - fixed - states.length * 8), states };
}

export function groupHeader(title: string, width: number, paint: Paint): string {
  const { keyWidth, states } = groupLayout(width);
  return paint([fit(title.toUpperCase(), keyWidth), fit('TOTAL', 7), fit('FLAGGED', 8), ...states.map(([, short]) => fit(short, 7))].join(' '), 'bold');
}

export function groupLine(group: GroupRow, width: number, selected: boolean, paint: Paint): string {
  const { keyWidth, states } = groupLayout(width);
  const text = [fit(group.key, keyWidth), fit(String(group.total), 7), fit(String(group.flagged), 8), ...states.map(([state]) => fit(String(group.byState[state] ?? ''), 7))].join(' ');
  if (selected) return paint(text, 'inverse');
  return group.flagged > 0 ? paint(text, 'yellow') : escapeTags(text);
}

export interface HeaderInput {
  host: string;
  source: string;
  intervalMs: number;
  paused: boolean;
  lastPollAtMs?: number;
  lastPollCostMs?: number;
  evaluation?: Evaluation;
  thresholds: Thresholds;
  /** Why the last poll failed, when it did: the data shown is older. */
  failure?: string;
  /**
   * The parts of the table the poll shown could not read (PollOutcome.unread: a protocol's table,
   * network namespaces): the counts are of what was read, so they are never drawn as an all-clear.
   */
  unread?: readonly string[];
  /** The source notices said since the start (lines skipped, a --proc-root that is not one, a fallback…), oldest first. */
  notices?: readonly string[];
  sort: string;
}

/** Each evaluation's flag tally, counted once: the header is redrawn at every key, the views are only replaced by a poll. */
const TALLIES = new WeakMap<Evaluation, ReturnType<typeof tallyFlags>>();

function tallyOf(evaluation: Evaluation | undefined): ReturnType<typeof tallyFlags> {
  if (!evaluation) return tallyFlags({ views: [], countFlags: [] });
  let tally = TALLIES.get(evaluation);
  if (!tally) TALLIES.set(evaluation, (tally = tallyFlags(evaluation)));
  return tally;
}

export function headerLines(h: HeaderInput, width: number, paint: Paint): string[] {
  const tally = tallyOf(h.evaluation);
  const [halfOpen, halfClose, idle, countFlags] = FLAG_KINDS.map((k) => flaggedOfKind(tally, k)) as [number, number, number, number];
  const when = h.lastPollAtMs === undefined ? 'not yet' : new Date(h.lastPollAtMs).toISOString().slice(11, 19);
  const total = h.evaluation?.views.length ?? 0;
  const limit = (ms: number) => (ms === Infinity ? 'off' : formatDuration(ms));
  const first = `tcpdwell  ${h.host}  source ${h.source}  every ${formatDuration(h.intervalMs)}${h.paused ? ' (paused)' : ''}  last poll ${when}${h.lastPollCostMs === undefined ? '' : ` (${Math.round(h.lastPollCostMs)} ms)`}`;
  // Before any table was read there is nothing to count: zeros would read as all clear (fail closed).
  // Fail closed: counts of a table read in part say so first, so no zero reads as an all-clear.
  const partial = h.evaluation && h.unread?.length ? h.unread.join('; ') : '';
  const counts = `${plural(total, 'connection')}  flagged: half-open ${halfOpen}  half-close ${halfClose}  idle ${idle}  count ${countFlags}`;
  const flagged = h.evaluation ? (partial ? notAllRead(partial, counts, width) : counts) : h.failure ? 'no socket table read yet: nothing is counted' : 'first poll running… nothing is counted yet';
  const limits = `thresholds: half-open ${limit(h.thresholds.halfOpenMs)}  half-close ${limit(h.thresholds.halfCloseMs)}  idle ${limit(h.thresholds.idleMs)}   sort ${h.sort}   ? help`;
  const anyFlagged = halfOpen + halfClose + idle + countFlags > 0;
  const flaggedLine = partial ? paint(fit(flagged, width), 'red') : anyFlagged ? paint(fit(flagged, width), 'yellow') : escapeTags(fit(flagged, width));
  const lines = [paint(fit(first, width), 'bold'), flaggedLine, escapeTags(fit(limits, width))];
  // One line above the rest, at most (the layout gives the header 4): a failed poll, else the notices.
  if (h.failure) lines.unshift(paint(fit(`POLL FAILED: ${h.failure} — ${h.evaluation ? `showing the data of ${when}` : 'nothing read yet'}`, width), 'red'));
  else if (h.notices?.length) lines.unshift(paint(fit(noticeLine(h.notices), width), 'yellow'));
  return lines;
}

/**
 * The status line of a table read in part, in `width` characters: `NOT ALL READ` first and never
 * cut (fail closed: the counts are of what was read), then the counts, and the reasons in between
 * get what is left (cut with …; left out where not even that fits). Counts that do not fit beside
 * the mark are cut at their end, the mark kept.
 */
function notAllRead(reasons: string, counts: string, width: number): string {
  const whole = `NOT ALL READ (${reasons}): ${counts}`;
  if ([...whole].length <= width) return whole;
  const bare = `NOT ALL READ: ${counts}`;
  const room = width - [...bare].length - ' ()'.length;
  if (room < 2) return bare;
  return `NOT ALL READ (${fit(reasons, room)}): ${counts}`;
}

/**
 * The header's notice line: how many notices were said and the latest (each is written to stderr
 * in full when the dashboard ends: the line is cut to the terminal's width).
 */
export function noticeLine(notices: readonly string[]): string {
  const latest = notices[notices.length - 1]!;
  // The count first: a long notice is cut at the terminal's edge.
  return notices.length === 1 ? `notice: ${latest}` : `${notices.length} notices (all on stderr when the dashboard ends), the latest: ${latest}`;
}

/** State counts as text bars (`ESTB ██████ 7`): the distribution chart without colour. */
export function stateBars(counts: readonly [string, number][], width: number): string[] {
  const max = maxOf(
    counts.map(([, n]) => n),
    1,
  );
  const barWidth = Math.max(1, width - 14);
  return counts.map(([label, n]) => `${fit(label, 5)} ${'█'.repeat(Math.round((n / max) * barWidth)) || (n > 0 ? '▏' : '')} ${n}`);
}

/** The filter prompt's line: labelled, with a cursor; the end of a long filter stays in view (where the typing is). */
export function promptLine(text: string, width: number, status: { prefilled?: boolean; error?: string } = {}): string {
  // The error, else what typing does to the filter in force, else how to leave: the first that fits.
  const hint = status.error
    ? `  ✗ ${sanitizeLine(status.error)}`
    : status.prefilled
      ? '  (the filter in force: typing replaces it, Backspace edits it; Enter applies, Esc cancels)'
      : '  (Enter applies, Esc cancels)';
  const line = `filter: ${sanitizeLine(text)}_`;
  const chars = [...line];
  if (chars.length + hint.length <= width) return line + hint;
  return chars.length <= width ? line : `…${chars.slice(-(width - 1)).join('')}`;
}

export interface HelpView {
  width: number;
  height: number;
  label: string;
  /** The lines in view after scrolling. */
  lines: string[];
  /** The furthest the help scrolls. */
  maxScroll: number;
}

/** The help box for a `width`×`height` terminal: as wide as fits (at most 100), scrolled when it must be. */
export function helpView(width: number, height: number, scroll: number): HelpView {
  const boxWidth = Math.min(width, 100);
  const all = helpLines(boxWidth - 4);
  const boxHeight = Math.min(height, all.length + 2);
  const rows = boxHeight - 2;
  const maxScroll = Math.max(0, all.length - rows);
  const from = Math.max(0, Math.min(scroll, maxScroll));
  const label = maxScroll > 0 ? ` help (${from + 1}-${from + rows}/${all.length}, ↑↓ scroll, any other key closes) ` : ' help (any other key closes) ';
  return { width: boxWidth, height: boxHeight, label, lines: all.slice(from, from + rows), maxScroll };
}
