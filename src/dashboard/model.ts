import { formatEndpoint } from '../core/address.js';
import { netnsText, ownerLabel } from '../core/connection.js';
import { sortViews as presentationOrder, type ConnectionView } from '../core/evaluate.js';
import { parseFilterWord, parsePortRange } from '../core/connection-filter.js';
import { squeezed } from '../core/state-vocabularies.js';
import { ALL_TCP_STATES, type TcpState } from '../core/tcp-state.js';

// The model behind the dashboard: filtering, sorting, grouping, windowing and moving the
// selection. Pure, so it is tested without a terminal and stays fast at 100,000 rows (only the
// visible window is ever formatted).

export const SORT_KEYS = ['flag', 'dwell', 'state', 'local', 'remote', 'process'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export const GROUPINGS = ['none', 'process', 'remote', 'local-port', 'netns'] as const;
export type Grouping = (typeof GROUPINGS)[number];

export function nextOf<T>(list: readonly T[], current: T): T {
  return list[(list.indexOf(current) + 1) % list.length]!;
}

/** `python3[5891]`: an owner as the group view and the table show it (core/connection ownerLabel). */
const OWNER_LABEL = /^(.*)\[(\d+)\]$/;

/** A port-shaped word: `5432`, `:5432`, `6000-6010`; one that parsePortRange refuses is an error, not text. */
const PORT_SHAPED = /^:?\d+(?:-\d+)?$/;

/**
 * The states whose name starts with `word` (2 letters or more; `-`, `_`, blanks and case ignored, as
 * the grammar's state words are squeezed): `fin` → FIN_WAIT_1, FIN_WAIT_2. The dashboard's only:
 * `--state fin` stays an unknown state, the flags and config name one state per word.
 */
export function statesByPrefix(word: string): TcpState[] {
  const prefix = squeezed(word);
  if (prefix.length < 2 || !/^[A-Z]/.test(prefix)) return [];
  return ALL_TCP_STATES.filter((state) => squeezed(state).startsWith(prefix));
}

/**
 * Why the filter text cannot be applied, or undefined: a port-shaped word outside 0–65535 or a
 * range whose first port is above its last (`5-3`, `:70000`), as `--port` rejects them. A bare
 * number above 65535 is a pid (see compileFilter), not an error.
 */
export function filterError(text: string): string | undefined {
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    if (!PORT_SHAPED.test(token) || parsePortRange(token) !== undefined) continue;
    if (token.includes('-')) return `"${token}" is not a port range: low-high, each 0–65535`;
    if (token.startsWith(':')) return `"${token}" is not a port: 0–65535`;
  }
  return undefined;
}

/** How numbers past the port range are read, said when the filter shows nothing: `"70000" is read as a pid`. */
export function filterReading(text: string): string | undefined {
  const pids = text
    .trim()
    .split(/\s+/)
    .filter((token) => parseFilterWord(token).kind === 'pid');
  if (pids.length === 0) return undefined;
  return `${pids.map((p) => `"${p}"`).join(', ')} ${pids.length === 1 ? 'is' : 'are'} read as ${pids.length === 1 ? 'a pid' : 'pids'} (ports go up to 65535)`;
}

/**
 * Every token must match; tokens are read with the grammar of `--state`/`--port` and the config
 * (core/connection-filter): a state in any spelling (close-wait, ESTAB, CLOSEWAIT), a port or range
 * (`5432`, `:5432`, `6000-6010`, either side; a bare number also matches a pid), a pid (a number
 * above 65535), an owner as the group view shows it (`python3[5891]`), or text found in an address,
 * `ip:port` or the process name; text that starts a state's name (`fin`, `time`) also matches
 * rows in those states.
 */
export function compileFilter(text: string): (view: ConnectionView) => boolean {
  const tokens = text.trim().split(/\s+/).filter(Boolean);
  if (tokens.length === 0) return () => true;
  const tests = tokens.map((token): ((v: ConnectionView) => boolean) => {
    const owner = OWNER_LABEL.exec(token);
    if (owner) {
      const pid = Number(owner[2]);
      const name = owner[1]!.toLowerCase();
      return (v) => v.row.pid === pid && (v.row.process ?? '?').toLowerCase() === name;
    }
    const word = parseFilterWord(token);
    if (word.kind === 'state') return (v) => v.row.state === word.state;
    if (word.kind === 'port') {
      const { from, to } = word.range;
      const inRange = (port: number) => port >= from && port <= to;
      const pid = mayBePid(token) ? from : undefined;
      return (v) => inRange(v.row.local.port) || inRange(v.row.remote.port) || (pid !== undefined && v.row.pid === pid);
    }
    if (word.kind === 'pid') return (v) => v.row.pid === word.pid;
    const needle = token.toLowerCase();
    const states = new Set(statesByPrefix(token));
    return (v) =>
      states.has(v.row.state) ||
      formatEndpoint(v.row.local).toLowerCase().includes(needle) ||
      formatEndpoint(v.row.remote).toLowerCase().includes(needle) ||
      (v.row.process ?? '').toLowerCase().includes(needle) ||
      (v.row.netns !== undefined && netnsText(v.row.netns).toLowerCase().includes(needle));
  });
  return (view) => tests.every((test) => test(view));
}

/** A bare number names a port or a pid (`812`); `:812` and ranges name ports only. */
const mayBePid = (token: string) => /^\d+$/.test(token);

/**
 * Whether the filter has words that may name a process: text, a pid, or a bare number, which is
 * a port or a pid. Every row then needs its owner looked up: with only the visible rows' owners
 * known, the filter would find only their rows.
 */
export function filterNeedsOwners(text: string): boolean {
  return text
    .trim()
    .split(/\s+/)
    .some((token) => token !== '' && (mayBePid(token) || ['text', 'pid'].includes(parseFilterWord(token).kind)));
}

const STATE_RANK = new Map<TcpState, number>(ALL_TCP_STATES.map((s, i) => [s, i]));

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const COMPARATORS: Record<Exclude<SortKey, 'flag'>, (a: ConnectionView, b: ConnectionView) => number> = {
  dwell: (a, b) => b.timing.dwellMs - a.timing.dwellMs,
  state: (a, b) => STATE_RANK.get(a.row.state)! - STATE_RANK.get(b.row.state)! || b.timing.dwellMs - a.timing.dwellMs,
  local: () => 0, // text sorts: see TEXT_SORT_KEYS
  remote: () => 0,
  process: () => 0,
};

// Text sorts read each row's fields once into parallel arrays (a text, a number) and sort the
// rows' indexes, instead of walking view.row.… on each of the ~1.7M comparisons of a 100,000-row
// sort; no object per row, which at 100,000 rows is garbage that outlives a scavenge.
const TEXT_SORT_FIELDS: Partial<Record<SortKey, { text: (v: ConnectionView) => string; number: (v: ConnectionView) => number }>> = {
  local: { text: (v) => v.row.local.address, number: (v) => v.row.local.port },
  remote: { text: (v) => v.row.remote.address, number: (v) => v.row.remote.port },
  process: { text: (v) => v.row.process ?? '\uffff', number: (v) => v.row.pid ?? 0 },
};

/**
 * A sorted copy; ties fall back to the connection key so the order is stable between polls.
 * `flag` is the presentation order of `list --numbered` and `explain N` (core/evaluate sortViews):
 * flagged first, then the earliest entry into the state, then the flow.
 */
export function sortViews(views: readonly ConnectionView[], key: SortKey): ConnectionView[] {
  if (key === 'flag') return presentationOrder([...views]);
  const fields = TEXT_SORT_FIELDS[key];
  if (fields) {
    const n = views.length;
    const texts = new Array<string>(n);
    const numbers = new Float64Array(n);
    const order = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      texts[i] = fields.text(views[i]!);
      numbers[i] = fields.number(views[i]!);
      order[i] = i;
    }
    order.sort((a, b) => compareText(texts[a]!, texts[b]!) || numbers[a]! - numbers[b]! || compareText(views[a]!.connection.key, views[b]!.connection.key));
    const sorted = new Array<ConnectionView>(n);
    for (let i = 0; i < n; i++) sorted[i] = views[order[i]!]!;
    return sorted;
  }
  const compare = COMPARATORS[key];
  return [...views].sort((a, b) => compare(a, b) || compareText(a.connection.key, b.connection.key));
}

/**
 * What a group is, as data: Enter on a group narrows the table to exactly the rows this matches
 * (nothing is rebuilt from the label text). A process group with no pid holds the rows whose owner
 * is unknown.
 */
export type GroupScope =
  | { grouping: 'process'; pid: number | undefined; process: string | undefined }
  | { grouping: 'remote'; address: string }
  | { grouping: 'local-port'; port: number }
  /** `--netns`: the rows of one namespace (by inode); no inode: rows of this process's own namespace. */
  | { grouping: 'netns'; inode: number | undefined };

export interface GroupRow {
  /** The label shown: `python3[812]`, an address, a port. */
  key: string;
  scope: GroupScope;
  total: number;
  flagged: number;
  byState: Partial<Record<TcpState, number>>;
}

function scopeOf(view: ConnectionView, grouping: Exclude<Grouping, 'none'>): { key: string; scope: GroupScope } {
  switch (grouping) {
    case 'process':
      return { key: ownerLabel(view.row) ?? '(no owner)', scope: { grouping, pid: view.row.pid, process: view.row.pid === undefined ? undefined : view.row.process } };
    case 'remote':
      return { key: view.row.remote.address, scope: { grouping, address: view.row.remote.address } };
    case 'local-port':
      return { key: String(view.row.local.port), scope: { grouping, port: view.row.local.port } };
    case 'netns':
      return { key: view.row.netns ? netnsText(view.row.netns) : '(own namespace)', scope: { grouping, inode: view.row.netns?.inode } };
  }
}

/** Whether a row belongs to a group: the same test that counted it in groupViews. */
export function inScope(view: ConnectionView, scope: GroupScope): boolean {
  switch (scope.grouping) {
    case 'process':
      return view.row.pid === scope.pid && (scope.pid === undefined || view.row.process === scope.process);
    case 'remote':
      return view.row.remote.address === scope.address;
    case 'local-port':
      return view.row.local.port === scope.port;
    case 'netns':
      return view.row.netns?.inode === scope.inode;
  }
}

/** Counts per state for each group; the groups with most flagged, then most connections, first. */
export function groupViews(views: readonly ConnectionView[], grouping: Exclude<Grouping, 'none'>): GroupRow[] {
  const groups = new Map<string, GroupRow>();
  for (const view of views) {
    const { key, scope } = scopeOf(view, grouping);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { key, scope, total: 0, flagged: 0, byState: {} }));
    group.total++;
    if (view.flag) group.flagged++;
    group.byState[view.row.state] = (group.byState[view.row.state] ?? 0) + 1;
  }
  return [...groups.values()].sort((a, b) => b.flagged - a.flagged || b.total - a.total || compareText(a.key, b.key));
}

export interface Cursor {
  /** Index of the selected row in the whole (filtered, sorted) list. */
  selected: number;
  /** Index of the first visible row. */
  offset: number;
}

export type Move = 'up' | 'down' | 'page-up' | 'page-down' | 'home' | 'end';

/** The cursor after a key, kept inside the list and the selected row inside the window. */
export function moveCursor(cursor: Cursor, move: Move, count: number, height: number): Cursor {
  const page = Math.max(1, height - 1);
  const delta = { up: -1, down: 1, 'page-up': -page, 'page-down': page, home: -Infinity, end: Infinity }[move];
  return clampCursor({ selected: cursor.selected + delta, offset: cursor.offset }, count, height);
}

/** A cursor made valid for a list of `count` rows shown `height` at a time (after a poll or a resize). */
export function clampCursor(cursor: Cursor, count: number, height: number): Cursor {
  if (count === 0) return { selected: 0, offset: 0 };
  const selected = Math.min(Math.max(cursor.selected, 0), count - 1);
  let offset = Math.min(Math.max(cursor.offset, 0), Math.max(0, count - height));
  if (selected < offset) offset = selected;
  if (selected >= offset + height) offset = selected - height + 1;
  return { selected, offset };
}

/** The rows on screen: never more than `height`, whatever the list's size. */
export function visibleWindow<T>(items: readonly T[], cursor: Cursor, height: number): T[] {
  return items.slice(cursor.offset, cursor.offset + height);
}

/** Keeps the same connection selected across a poll that reorders the list, when it is still there. */
export function followSelection(previousKey: string | undefined, views: readonly ConnectionView[], cursor: Cursor, height: number): Cursor {
  return followKey(previousKey, views, (v) => v.connection.key, cursor, height);
}

/** Keeps the item whose `keyOf` is `previousKey` selected (a row by its key, a group by its label), at the same place on screen. */
export function followKey<T>(previousKey: string | undefined, items: readonly T[], keyOf: (item: T) => string, cursor: Cursor, height: number): Cursor {
  const index = previousKey === undefined ? -1 : items.findIndex((item) => keyOf(item) === previousKey);
  if (index < 0) return clampCursor(cursor, items.length, height);
  return clampCursor({ selected: index, offset: cursor.offset + (index - cursor.selected) }, items.length, height);
}
