import { ownerLabel } from '../core/connection.js';
import type { ConnectionView } from '../core/evaluate.js';
import { bindingFor, type KeyAction, type KeyMode } from './keys.js';
import {
  GROUPINGS,
  SORT_KEYS,
  clampCursor,
  compileFilter,
  filterError,
  filterReading,
  filterNeedsOwners,
  followKey,
  followSelection,
  groupViews,
  inScope,
  moveCursor,
  nextOf,
  sortViews,
  visibleWindow,
  type Cursor,
  type GroupRow,
  type GroupScope,
  type Grouping,
  type SortKey,
} from './model.js';

// The dashboard's state and the one function that changes it: reduce(state, action). Keys,
// polls and resizes are actions; the blessed adapter (dashboard.ts) only dispatches them and
// draws the state. Pure: no screen, no clock, so every key is tested as data in, data out.

export const INTERVAL_STEPS_MS = [500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

/** The smallest terminal the dashboard draws in; below it, it says so instead of wrapping rows. */
export const MIN_SIZE = { width: 80, height: 24 } as const;

export type Overlay =
  | { kind: 'none' }
  /** `error`: why the text typed cannot be applied (a port out of range); shown in the prompt line. */
  | { kind: 'prompt'; text: string; error?: string }
  | { kind: 'detail'; key: string; scroll: number }
  | { kind: 'help'; scroll: number };

export interface DashboardState {
  /** The last evaluation's views; undefined until the first poll answered. */
  views: readonly ConnectionView[] | undefined;
  /** The rows of the table after flagged-only, filter, group scope and sort. */
  shown: readonly ConnectionView[];
  groups: readonly GroupRow[];
  cursor: Cursor;
  /**
   * Whether the person moved the selection since the table was last reset: then it stays on that
   * connection across polls; otherwise it stays on the top row, whatever sorts in above.
   */
  chosen: boolean;
  sort: SortKey;
  grouping: Grouping;
  /** The `/` filter's text. */
  filter: string;
  /**
   * The prompt was opened on the filter in force and nothing was typed yet: the first character
   * typed replaces that text (as a selected field does); Backspace and Ctrl-U edit it instead.
   */
  promptPrefilled: boolean;
  /** Enter on a group: the table holds exactly that group's rows. */
  scope: GroupScope | undefined;
  flaggedOnly: boolean;
  paused: boolean;
  intervalMs: number;
  overlay: Overlay;
  width: number;
  height: number;
  quit: boolean;
}

export type Action =
  | { type: 'key'; key: string; ch?: string | undefined }
  | { type: 'evaluated'; views: readonly ConnectionView[] }
  /**
   * The views of an evaluation whose owners were looked up after the state was derived from
   * `before` (the same evaluation without them): Monitor.evaluate hands back `before` with the
   * rows that gained an owner replaced, index for index.
   */
  | { type: 'owners-added'; before: readonly ConnectionView[]; views: readonly ConnectionView[] }
  | { type: 'resize'; width: number; height: number }
  | { type: 'pause' }
  /** The adapter knows how many lines an overlay's text wraps to: a scroll past its end comes back. */
  | { type: 'clamp-scroll'; max: number };

export function initialState(intervalMs: number, width: number, height: number): DashboardState {
  return {
    views: undefined,
    shown: [],
    groups: [],
    cursor: { selected: 0, offset: 0 },
    chosen: false,
    sort: 'flag',
    grouping: 'none',
    filter: '',
    promptPrefilled: false,
    scope: undefined,
    flaggedOnly: false,
    paused: false,
    intervalMs,
    overlay: { kind: 'none' },
    width,
    height,
    quit: false,
  };
}

export interface Layout {
  /** Below MIN_SIZE: nothing but the "too small" notice is drawn. */
  tooSmall: boolean;
  headerHeight: number;
  /** 0 when the charts would be too small to read. */
  chartsHeight: number;
  tableTop: number;
  tableHeight: number;
  /** Table rows on screen (inside the border, below the column header). */
  tableRows: number;
}

/** Where everything goes on a `width`×`height` terminal. Charts need 28 rows (7 each: 5 plot lines). */
export function layoutOf(width: number, height: number): Layout {
  const tooSmall = width < MIN_SIZE.width || height < MIN_SIZE.height;
  const headerHeight = 4;
  const chartsHeight = height >= 28 ? Math.min(10, Math.floor(height / 4)) : 0;
  const tableHeight = Math.max(3, height - headerHeight - chartsHeight);
  return { tooSmall, headerHeight, chartsHeight, tableTop: headerHeight + chartsHeight, tableHeight, tableRows: Math.max(1, tableHeight - 3) };
}

function rowCount(state: DashboardState): number {
  return state.grouping === 'none' ? state.shown.length : state.groups.length;
}

function tableRows(state: DashboardState): number {
  return layoutOf(state.width, state.height).tableRows;
}

/** Recomputes what the table shows from the views and the settings, keeping the selection. */
function derive(state: DashboardState, reset = false): DashboardState {
  // Followed only when chosen: a selection left at the top stays there, so the cursor never wanders
  // with no key pressed (rows sorting in above it under churn would carry it down the list).
  const chosen = state.chosen && !reset;
  const selectedKey = !chosen || state.grouping !== 'none' ? undefined : state.shown[state.cursor.selected]?.connection.key;
  const cursor = chosen ? state.cursor : { selected: 0, offset: 0 };
  const matches = compileFilter(state.filter);
  const scope = state.scope;
  const views = state.views ?? [];
  // Nothing narrows the table: the sort or the grouping reads the views as they are, without a
  // copy of 100,000 references first.
  const filtered = !state.flaggedOnly && !state.filter && !scope ? views : views.filter((v) => (!state.flaggedOnly || v.flag) && matches(v) && (!scope || inScope(v, scope)));
  const height = tableRows(state);
  if (state.grouping === 'none') {
    const shown = sortViews(filtered, state.sort);
    return { ...state, chosen, shown, groups: [], cursor: followSelection(selectedKey, shown, cursor, height) };
  }
  const groups = groupViews(filtered, state.grouping);
  // A chosen group is followed by its label as a row is by its key.
  const groupKey = chosen ? state.groups[state.cursor.selected]?.key : undefined;
  return { ...state, chosen, shown: [], groups, cursor: followKey(groupKey, groups, (g) => g.key, cursor, height) };
}

export function modeOf(state: DashboardState): KeyMode {
  return state.overlay.kind === 'none' ? 'table' : state.overlay.kind;
}

/** The one place the dashboard's state changes. */
export function reduce(state: DashboardState, action: Action): DashboardState {
  switch (action.type) {
    case 'evaluated':
      return derive({ ...state, views: action.views });
    case 'owners-added':
      return withOwnersAdded(state, action.before, action.views);
    case 'resize': {
      const resized = { ...state, width: action.width, height: action.height };
      return { ...resized, cursor: clampCursor(resized.cursor, rowCount(resized), tableRows(resized)) };
    }
    case 'pause':
      return { ...state, paused: true };
    case 'key':
      return onKey(state, action.key, action.ch);
    case 'clamp-scroll': {
      const overlay = state.overlay;
      if (overlay.kind !== 'help' && overlay.kind !== 'detail') return state;
      const scroll = Math.max(0, Math.min(overlay.scroll, action.max));
      return scroll === overlay.scroll ? state : { ...state, overlay: { ...overlay, scroll } };
    }
  }
}

/**
 * The state derived from `before`, with `views` (the same connections, some rows now with their
 * owner) in their place: the table keeps its order and the groups their counts, and only the rows
 * that gained an owner are swapped, without filtering and sorting 100,000 rows a second time at
 * each poll. That holds while the table does not depend on owners (ownersNeeded is `visible`: no
 * process sort, group, scope or filter word); otherwise, or when the state was not derived from
 * `before`, or `views` are not `before`'s connections in the same places, it derives again.
 */
function withOwnersAdded(state: DashboardState, before: readonly ConnectionView[], views: readonly ConnectionView[]): DashboardState {
  if (state.views !== before || ownersNeeded(state) === 'all' || !sameConnections(before, views)) return derive({ ...state, views });
  const completed = new Map<ConnectionView, ConnectionView>();
  for (let i = 0; i < views.length; i++) if (views[i] !== before[i]) completed.set(before[i]!, views[i]!);
  if (completed.size === 0) return { ...state, views };
  return { ...state, views, shown: state.shown.map((v) => completed.get(v) ?? v) };
}

function sameConnections(before: readonly ConnectionView[], after: readonly ConnectionView[]): boolean {
  if (before.length !== after.length) return false;
  for (let i = 0; i < before.length; i++) if (before[i]!.connection !== after[i]!.connection) return false;
  return true;
}

function onKey(state: DashboardState, key: string, ch: string | undefined): DashboardState {
  const mode = modeOf(state);
  const binding = bindingFor(mode, key);
  // Nothing is drawn below the smallest size: only quitting acts, nothing changes unseen.
  if (layoutOf(state.width, state.height).tooSmall) return binding?.action.type === 'quit' ? act(state, binding.action) : state;
  if (binding) return act(state, binding.action);
  if (state.overlay.kind === 'prompt' && ch && isPrintable(ch)) return { ...state, promptPrefilled: false, overlay: { kind: 'prompt', text: (state.promptPrefilled ? '' : state.overlay.text) + ch } };
  if (state.overlay.kind === 'help') return { ...state, overlay: { kind: 'none' } };
  return state;
}

/** One printed character (no control characters, which blessed also passes as `ch`). */
function isPrintable(ch: string): boolean {
  return [...ch].length === 1 && !/[\p{Cc}\p{Cf}]/u.test(ch);
}

function act(state: DashboardState, action: KeyAction): DashboardState {
  const overlay = state.overlay;
  switch (action.type) {
    case 'quit':
      return { ...state, quit: true };
    case 'move':
      return { ...state, chosen: true, cursor: moveCursor(state.cursor, action.move, rowCount(state), tableRows(state)) };
    case 'open':
      return open(state);
    case 'clear-filter':
      return state.filter === '' && state.scope === undefined ? state : derive({ ...state, filter: '', scope: undefined }, true);
    case 'open-prompt':
      return { ...state, promptPrefilled: state.filter !== '', overlay: { kind: 'prompt', text: state.filter } };
    case 'cycle-sort':
      return derive({ ...state, sort: nextOf(SORT_KEYS, state.sort) });
    case 'toggle-flagged':
      return derive({ ...state, flaggedOnly: !state.flaggedOnly });
    case 'cycle-grouping':
      return derive({ ...state, grouping: nextOf(GROUPINGS, state.grouping) }, true);
    case 'toggle-pause':
      return { ...state, paused: !state.paused };
    case 'slower':
      return { ...state, intervalMs: INTERVAL_STEPS_MS.find((ms) => ms > state.intervalMs) ?? state.intervalMs };
    case 'faster':
      return { ...state, intervalMs: [...INTERVAL_STEPS_MS].reverse().find((ms) => ms < state.intervalMs) ?? state.intervalMs };
    case 'open-help':
      return { ...state, overlay: { kind: 'help', scroll: 0 } };
    case 'close':
      return { ...state, overlay: { kind: 'none' } };
    case 'scroll': {
      if (overlay.kind !== 'detail' && overlay.kind !== 'help') return state;
      // Clamped to the content by the adapter, which knows how many lines the text wraps to.
      const delta = { up: -1, down: 1, 'page-up': -10, 'page-down': 10, home: -Infinity, end: Infinity }[action.move];
      const scroll = Math.max(0, Math.min(overlay.scroll + delta, 10_000));
      return { ...state, overlay: { ...overlay, scroll } };
    }
    case 'prompt-apply': {
      if (overlay.kind !== 'prompt') return state;
      // A word that cannot name anything (a port past 65535, a range high-low) stays in the prompt
      // with the reason, instead of a filter that silently matches nothing.
      const error = filterError(overlay.text);
      if (error) return { ...state, promptPrefilled: false, overlay: { kind: 'prompt', text: overlay.text, error } };
      return derive({ ...state, filter: overlay.text.trim(), promptPrefilled: false, overlay: { kind: 'none' } }, true);
    }
    case 'prompt-delete':
      return overlay.kind === 'prompt' ? { ...state, promptPrefilled: false, overlay: { kind: 'prompt', text: [...overlay.text].slice(0, -1).join('') } } : state;
    case 'prompt-erase':
      return overlay.kind === 'prompt' ? { ...state, promptPrefilled: false, overlay: { kind: 'prompt', text: '' } } : state;
  }
}

/** Enter: a group narrows the table to exactly its rows (within the filter); a row opens its details. */
function open(state: DashboardState): DashboardState {
  if (state.grouping !== 'none') {
    const group = state.groups[state.cursor.selected];
    if (!group) return state;
    return derive({ ...state, scope: group.scope, grouping: 'none' }, true);
  }
  const view = state.shown[state.cursor.selected];
  return view ? { ...state, overlay: { kind: 'detail', key: view.connection.key, scroll: 0 } } : state;
}

/** The rows on screen now. */
export function visibleViews(state: DashboardState): ConnectionView[] {
  return state.grouping === 'none' ? visibleWindow(state.shown, state.cursor, tableRows(state)) : [];
}

/** The groups on screen now. */
export function visibleGroups(state: DashboardState): GroupRow[] {
  return state.grouping === 'none' ? [] : visibleWindow(state.groups, state.cursor, tableRows(state));
}

/**
 * Whose owners the state needs: every row's when the view depends on owners of rows not on screen
 * (grouping or sorting by process, process text or a number that may be a pid in the filter, a
 * process group shown, the details, whose diagnosis counts a process's sockets), else the visible
 * window's.
 */
export function ownersNeeded(state: DashboardState): 'all' | 'visible' {
  if (state.grouping === 'process' || state.sort === 'process' || filterNeedsOwners(state.filter)) return 'all';
  if (state.scope?.grouping === 'process' || state.overlay.kind === 'detail') return 'all';
  return 'visible';
}

/** The line of a table that shows no row: says how a number past the port range was read. */
export function emptyTableText(filter: string): string {
  const reading = filterReading(filter);
  return reading ? `(no connection matches: ${reading})` : '(no connection matches)';
}

/** The table's label: what it shows, where the cursor is, and what narrows it. */
export function tableLabel(state: DashboardState): string {
  const count = rowCount(state);
  const position = count ? `${state.cursor.selected + 1}/${count}` : '0';
  const narrowed = [state.flaggedOnly ? 'flagged only' : '', state.filter ? `filter "${state.filter}"` : '', state.scope ? describeScopeText(state.scope) : ''].filter(Boolean).join(' ');
  return ` ${state.grouping === 'none' ? 'connections' : `by ${state.grouping}`} ${position}${narrowed ? ` ${narrowed}` : ''} `;
}

function describeScopeText(scope: GroupScope): string {
  switch (scope.grouping) {
    case 'process':
      return `process ${ownerLabel(scope) ?? '(no owner)'}`;
    case 'remote':
      return `remote ${scope.address}`;
    case 'local-port':
      return `port ${scope.port}`;
    case 'netns':
      return scope.inode === undefined ? 'own network namespace' : `netns net:[${scope.inode}]`;
  }
}
