import { flowText } from './connection.js';
import type { ConnectionView } from './evaluate.js';
import { SEVERITY_RANK, type CountFlag, type FlagKind, type Severity } from './policy.js';

// The alert lifecycle behind `check` (and the event log): what was already reported, so that a
// stuck session is reported once when it crosses its threshold, again only after the renotify
// interval or when its severity rises, and once more, as resolved, when it clears. Pure.

/** Something flagged right now: a session, or a group over a count threshold. */
export interface CurrentAlert {
  /** The connection key, or `count RULE GROUP`. */
  key: string;
  kind: FlagKind;
  severity: Severity;
  /** What the alert is about, for people: `CLOSE_WAIT 10.0.0.1:5432 -> 10.0.0.9:40100`. */
  subject: string;
  /** Seconds measured against the threshold (count: the count). */
  measured: number;
  threshold: number;
  rule: string;
  /** Milliseconds in its state now (sessions only). */
  dwellMs?: number;
}

/** An alert already reported, as the state file keeps it. */
export interface ReportedAlert {
  key: string;
  kind: FlagKind;
  severity: Severity;
  subject: string;
  firstFlaggedMs: number;
  lastNotifiedMs: number;
  /** The last run that saw it flagged, and its dwell then (sessions): what a RESOLVED line tells. */
  lastSeenMs?: number;
  lastDwellMs?: number;
  /** How many runs saw it flagged, this one included; absent when an older state file did not count (unknown). */
  runsFlagged?: number;
}

export type AlertChange = 'flagged' | 'escalated' | 'reminder' | 'resolved';

export interface AlertNotification {
  change: AlertChange;
  key: string;
  kind: FlagKind;
  severity: Severity;
  subject: string;
  firstFlaggedMs: number;
  /** Absent for `resolved`. */
  current?: CurrentAlert;
  /** `resolved`: when it was last seen flagged, and its dwell then, where known. */
  lastSeenMs?: number;
  lastDwellMs?: number;
  /** `resolved`: how many runs saw it flagged, where counted. */
  runsFlagged?: number;
}

export interface Reconciled {
  reported: ReportedAlert[];
  notifications: AlertNotification[];
}

/**
 * Compares what is flagged now with what was reported. `renotifyMs` Infinity never repeats.
 * Call it only after a poll that succeeded: a failed poll proves nothing has cleared.
 */
export function reconcileAlerts(previous: readonly ReportedAlert[], current: readonly CurrentAlert[], nowMs: number, renotifyMs: number): Reconciled {
  const before = new Map(previous.map((a) => [a.key, a]));
  const reported: ReportedAlert[] = [];
  const notifications: AlertNotification[] = [];
  for (const alert of current) {
    const old = before.get(alert.key);
    before.delete(alert.key);
    // A session whose kind changed (half-open → idle), or whose state changed within its kind
    // (CLOSE_WAIT → LAST_ACK: the application closed, the peer is gone), is a new alert: the old
    // one resolved. A count group's subject carries its count, which may change freely.
    if (!old || old.kind !== alert.kind || (alert.kind !== 'count' && old.subject !== alert.subject)) {
      if (old) notifications.push(resolvedOf(old));
      reported.push(seen(reportedOf(alert, nowMs, nowMs), alert, nowMs, undefined));
      notifications.push(notificationOf('flagged', alert, nowMs));
      continue;
    }
    const escalated = SEVERITY_RANK[alert.severity] > SEVERITY_RANK[old.severity];
    const due = nowMs - old.lastNotifiedMs >= renotifyMs;
    if (escalated || due) {
      reported.push(seen(reportedOf(alert, old.firstFlaggedMs, nowMs), alert, nowMs, old));
      notifications.push(notificationOf(escalated ? 'escalated' : 'reminder', alert, old.firstFlaggedMs));
    } else {
      // A severity that fell back is remembered, so rising again notifies again.
      reported.push(seen(reportedOf(alert, old.firstFlaggedMs, old.lastNotifiedMs), alert, nowMs, old));
    }
  }
  for (const gone of before.values()) notifications.push(resolvedOf(gone));
  return { reported, notifications };
}

// Records and notifications are built as one literal each, not spread from a shared base: at
// 8,000 flagged sessions a spread object (V8 gives it no room for the fields added after) costs
// ~2 KB an alert per poll against ~230 B (measured, issue 15), and watch reconciles every poll.

/** The reported record of `alert` (its sight stamped by `seen`). */
function reportedOf(alert: CurrentAlert, firstFlaggedMs: number, lastNotifiedMs: number): ReportedAlert {
  return { key: alert.key, kind: alert.kind, severity: alert.severity, subject: alert.subject, firstFlaggedMs, lastNotifiedMs };
}

function notificationOf(change: 'flagged' | 'escalated' | 'reminder', alert: CurrentAlert, firstFlaggedMs: number): AlertNotification {
  return { change, key: alert.key, kind: alert.kind, severity: alert.severity, subject: alert.subject, firstFlaggedMs, current: alert };
}

/**
 * The reported record, stamped with this sight of the alert: one more run saw it flagged (the
 * first, without `before`). A record from a file that did not count runs stays uncounted.
 */
function seen(record: ReportedAlert, alert: CurrentAlert, nowMs: number, before: ReportedAlert | undefined): ReportedAlert {
  record.lastSeenMs = nowMs;
  if (alert.dwellMs !== undefined) record.lastDwellMs = alert.dwellMs;
  const runs = before === undefined ? 1 : before.runsFlagged === undefined ? undefined : before.runsFlagged + 1;
  if (runs !== undefined) record.runsFlagged = runs;
  return record;
}

function resolvedOf(gone: ReportedAlert): AlertNotification {
  const n: AlertNotification = { change: 'resolved', key: gone.key, kind: gone.kind, severity: gone.severity, subject: gone.subject, firstFlaggedMs: gone.firstFlaggedMs };
  if (gone.lastSeenMs !== undefined) n.lastSeenMs = gone.lastSeenMs;
  if (gone.lastDwellMs !== undefined) n.lastDwellMs = gone.lastDwellMs;
  if (gone.runsFlagged !== undefined) n.runsFlagged = gone.runsFlagged;
  return n;
}

/** The alert key of a count group: `count RULE GROUP`. */
export function countAlertKey(flag: Pick<CountFlag, 'rule' | 'group'>): string {
  return `count ${flag.rule} ${flag.group}`;
}

/** Every flag of an evaluation as alerts: sessions flagged on their own, and count groups. */
export function currentAlerts(views: readonly ConnectionView[], countFlags: readonly CountFlag[]): CurrentAlert[] {
  const alerts: CurrentAlert[] = [];
  for (const view of views) {
    const flag = view.flag;
    if (!flag || flag.kind === 'count') continue; // a group member: its group's alert covers it
    alerts.push({
      key: view.connection.key,
      kind: flag.kind,
      severity: flag.severity,
      subject: `${view.row.state} ${flowText(view.row)}`,
      measured: flag.measured / 1000,
      threshold: flag.thresholdMs / 1000,
      rule: flag.rule,
      dwellMs: view.timing.dwellMs,
    });
  }
  for (const flag of countFlags) {
    alerts.push({
      key: countAlertKey(flag),
      kind: 'count',
      severity: flag.severity,
      subject: `${flag.count} ${flag.states.join('/')} for ${flag.per} ${flag.group}`,
      measured: flag.count,
      threshold: flag.thresholdCount,
      rule: flag.rule,
    });
  }
  return alerts;
}
