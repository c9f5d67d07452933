import { formatEndpoint } from '../core/address.js';
import { formatDuration } from '../core/duration.js';
import type { ConnectionView } from '../core/evaluate.js';
import { netnsText, type SocketRow } from '../core/connection.js';
import { maxOf } from '../core/lists.js';
import { sanitizeLine } from './sanitize.js';

// The netstat-like table of `list`. Pure: views in, text out.

export interface TableOptions {
  /** Owners of some sockets could not be looked up (not root): unresolved rows say so. */
  ownersHidden: boolean;
  /** An indented line under a row (list --why). */
  noteFor?: (view: ConnectionView) => string | undefined;
  /** A first column `#`: the row's number (list --numbered: its place in the whole table). */
  numberOf?: (view: ConnectionView) => number;
}

const HEADERS = ['STATE', 'LOCAL', 'REMOTE', 'PID/PROCESS', 'DWELL', 'IDLE', 'FLAG'] as const;

/** `≥` unless the change into the state was observed: kernel and first-sight figures are lower bounds. */
export function formatDwell(view: ConnectionView): string {
  const text = formatDuration(view.timing.dwellMs);
  return view.connection.dwellSource === 'observed' ? text : `≥${text}`;
}

/**
 * The remote end as every text output prints it: a listener has no peer, and its unspecified one
 * (port 0) reads `0.0.0.0:*` / `[::]:*`, the way ss and netstat print it (list, reset, watch, the
 * dashboard alike). JSON keeps the port number.
 */
export function formatRemote(row: Pick<SocketRow, 'remote'> & { state?: SocketRow['state'] }): string {
  const { remote, state } = row;
  return state === 'LISTEN' && remote.port === 0 ? formatEndpoint(remote).replace(/:0$/, ':*') : formatEndpoint(remote);
}

/** `127.0.0.1:5432 -> 10.0.0.5:40100`, a listener's peer as `formatRemote` prints it: every text line that names a flow. */
export function formatFlow(row: Pick<SocketRow, 'local' | 'remote'> & { state?: SocketRow['state'] }): string {
  return `${formatEndpoint(row.local)} -> ${formatRemote(row)}`;
}

export function formatOwner(view: ConnectionView, ownersHidden: boolean): string {
  const { row } = view;
  // One row for an SO_REUSEPORT group (the tracker keeps one per 4-tuple): say how many more listen there.
  if (row.sharingPort) return `${ownerOf(row, ownersHidden)} +${row.sharingPort.length} reuseport`;
  return ownerOf(row, ownersHidden);
}

function ownerOf(row: SocketRow, ownersHidden: boolean): string {
  if (row.pid !== undefined) return `${row.pid}/${row.process ?? '?'}`;
  if (!row.inode) return '-'; // no process holds it yet (request or unaccepted socket), or no inode column
  return ownersHidden ? '(no access)' : '-';
}

/** `half-close!`, `count!! (6 in 127.0.0.1)`, or both where a session flagged on its own is in a group over a count limit. */
export function formatFlag(view: ConnectionView): string {
  const { flag, countFlag } = view;
  if (!flag) return '';
  const mark = (severity: string) => (severity === 'critical' ? '!!' : '!');
  const group = countFlag ?? (flag.kind === 'count' ? flag : undefined);
  const count = group ? `count${mark(group.severity)} (${group.count} in ${group.group})` : '';
  return flag.kind === 'count' ? count : `${flag.kind}${mark(flag.severity)}${count ? ` ${count}` : ''}`;
}

/** Whether the rows come from more than one network namespace (`--netns`): the table then names each row's. */
export function spansNamespaces(views: readonly ConnectionView[]): boolean {
  const first = views.find((v) => v.row.netns)?.row.netns?.inode;
  return first !== undefined && views.some((v) => v.row.netns !== undefined && v.row.netns.inode !== first);
}

export function formatConnectionTable(views: readonly ConnectionView[], options: TableOptions): string {
  const numberOf = options.numberOf;
  const withNetns = spansNamespaces(views);
  const headers = [...(numberOf ? ['#'] : []), ...(withNetns ? ['NETNS'] : []), ...HEADERS];
  const rows = views.map((view) => [...(numberOf ? [String(numberOf(view))] : []), ...(withNetns ? [view.row.netns ? netnsText(view.row.netns) : '-'] : []), ...tableCells(view, options)]);
  return formatColumns(headers, rows, (i) => lineUnder(views[i]!, options));
}

function lineUnder(view: ConnectionView, options: TableOptions): string | undefined {
  const note = options.noteFor?.(view);
  return note ? `    why: ${note}` : undefined;
}

function tableCells(view: ConnectionView, options: TableOptions): string[] {
  return [
    view.row.state,
    formatEndpoint(view.row.local),
    formatRemote(view.row),
    formatOwner(view, options.ownersHidden),
    formatDwell(view),
    view.timing.idleMs === undefined ? '-' : formatDuration(view.timing.idleMs),
    formatFlag(view),
  ];
}

/**
 * Left-aligned columns two spaces apart (widths in characters, not UTF-16 units); an optional line
 * under each row. Cells and lines under are sanitised (a process name cannot break a row).
 */
export function formatColumns(headers: readonly string[], rawRows: readonly (readonly string[])[], lineUnder?: (row: number) => string | undefined): string {
  const rows = rawRows.map((row) => row.map(sanitizeLine));
  const widths = headers.map((header, column) =>
    maxOf(
      rows.map((row) => [...(row[column] ?? '')].length),
      header.length,
    ),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell + ' '.repeat((widths[column] ?? 0) - [...cell].length)))
      .join('  ')
      .trimEnd();
  const lines = [line(headers)];
  rows.forEach((row, i) => {
    lines.push(line(row));
    const under = lineUnder?.(i);
    if (under) lines.push(sanitizeLine(under));
  });
  return `${lines.join('\n')}\n`;
}
