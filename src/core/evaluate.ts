import type { SocketRow } from './connection.js';
import { evaluateConnection, evaluateCounts, type CountFlag, type Flag, type FlagKind, type Policy, type Severity } from './policy.js';
import { ALL_TCP_STATES, type TcpState } from './tcp-state.js';
import { timingOf, type ConnectionTiming, type TrackedConnection, type TrackerState } from './tracker.js';

export interface Owner {
  pid: number;
  process: string;
}

/** One connection as every front end sees it: tracked history, timing and flag at one moment. */
export interface ConnectionView {
  connection: TrackedConnection;
  /** The latest row, with its owner where it was resolved. */
  row: SocketRow;
  timing: ConnectionTiming;
  flag?: Flag | CountMembership;
}

/** A connection flagged only because its group is over a count threshold. */
export interface CountMembership {
  kind: 'count';
  severity: CountFlag['severity'];
  rule: string;
  group: string;
  count: number;
  thresholdCount: number;
}

export interface Evaluation {
  views: ConnectionView[];
  countFlags: CountFlag[];
}

/** What owner lookup found for one connection: its inode (completed from procfs where the source printed none) and owner. */
export interface Ownership {
  inode: number;
  owner?: Owner;
}

export function withOwnership(row: SocketRow, found: Ownership | undefined): SocketRow {
  if (!found) return row;
  const inode = row.inode ?? found.inode;
  if (found.owner) return { ...row, inode, pid: found.owner.pid, process: found.owner.process };
  return row.inode === undefined ? { ...row, inode } : row;
}

export interface EvaluateOptions {
  /** Owners found by lookup, by connection key. */
  ownership?: ReadonlyMap<string, Ownership>;
  /**
   * Views in presentation order (sortViews), the default. Modes that show no list in that order
   * (serve, watch, the dashboard, which sorts by its own column) skip it: at 100,000 rows the sort
   * is a third of the evaluation.
   */
  ranked?: boolean;
}

/** Evaluates every tracked connection at `now`: timing, per-session flag, count flags. */
export function evaluateAll(state: TrackerState, now: number, policy: Policy, options: EvaluateOptions = {}): Evaluation {
  const { ownership, ranked = true } = options;
  const views: ConnectionView[] = [];
  for (const connection of state.connections.values()) {
    const row = ownership ? withOwnership(connection.row, ownership.get(connection.key)) : connection.row;
    const timing = timingOf(connection, now);
    const view: ConnectionView = { connection, row, timing };
    const flag = evaluateConnection(policy, { row, dwellMs: timing.dwellMs, halfCloseTimerMs: timing.halfCloseTimerMs, idleMs: timing.idleMs });
    if (flag) view.flag = flag;
    views.push(view);
  }
  const countFlags = policy.counts.length === 0 ? [] : evaluateCounts(policy, views.map((v) => ({ key: v.connection.key, row: v.row })));
  if (countFlags.length > 0) {
    const byKey = new Map(views.map((v) => [v.connection.key, v]));
    for (const countFlag of countFlags) {
      for (const key of countFlag.members) {
        const view = byKey.get(key);
        if (!view || (view.flag && SEVERITY_RANK[view.flag.severity] >= SEVERITY_RANK[countFlag.severity])) continue;
        view.flag = {
          kind: 'count',
          severity: countFlag.severity,
          rule: countFlag.rule,
          group: countFlag.group,
          count: countFlag.count,
          thresholdCount: countFlag.thresholdCount,
        };
      }
    }
  }
  return { views: ranked ? sortViews(views) : views, countFlags };
}

const SEVERITY_RANK = { warning: 1, critical: 2 } as const;

/** Flagged first (critical, then warning), then the longest dwell. */
export function sortViews(views: ConnectionView[]): ConnectionView[] {
  const rank = (v: ConnectionView) => (v.flag ? SEVERITY_RANK[v.flag.severity] : 0);
  // Plain comparison for the tie-break: localeCompare costs a locale lookup per call, 1.7M calls at 100,000 rows.
  return views.sort((a, b) => rank(b) - rank(a) || b.timing.dwellMs - a.timing.dwellMs || (a.connection.key < b.connection.key ? -1 : a.connection.key > b.connection.key ? 1 : 0));
}

export type CheckStatus = 'ok' | 'warning' | 'critical' | 'unknown';

export function statusOf(evaluation: Evaluation): CheckStatus {
  let status: CheckStatus = 'ok';
  for (const view of evaluation.views) {
    if (view.flag?.severity === 'critical') return 'critical';
    if (view.flag) status = 'warning';
  }
  for (const flag of evaluation.countFlags) {
    if (flag.severity === 'critical') return 'critical';
    status = 'warning';
  }
  return status;
}

/** Connections per state, every state present (zero included), in ALL_TCP_STATES order. */
export function countStates(views: readonly ConnectionView[]): Map<TcpState, number> {
  const counts = new Map<TcpState, number>(ALL_TCP_STATES.map((s) => [s, 0]));
  for (const view of views) counts.set(view.row.state, counts.get(view.row.state)! + 1);
  return counts;
}

export const FLAG_KINDS: readonly FlagKind[] = ['half-open', 'half-close', 'idle', 'count'];

/** Flags by kind and severity: sessions flagged on their own, and groups over a count limit. */
export function tallyFlags(evaluation: Evaluation): Record<FlagKind, Record<Severity, number>> {
  const tally = Object.fromEntries(FLAG_KINDS.map((k) => [k, { warning: 0, critical: 0 }])) as Record<FlagKind, Record<Severity, number>>;
  for (const view of evaluation.views) if (view.flag && view.flag.kind !== 'count') tally[view.flag.kind][view.flag.severity]++;
  for (const flag of evaluation.countFlags) tally.count[flag.severity]++;
  return tally;
}

/** Warnings and criticals of one kind together. */
export function flaggedOfKind(tally: Record<FlagKind, Record<Severity, number>>, kind: FlagKind): number {
  return tally[kind].warning + tally[kind].critical;
}
