import type { Endpoint } from './address.js';
import { flowText, type SocketRow } from './connection.js';
import type { ConnectionView } from './evaluate.js';
import { SEVERITY_RANK, type CountFlag, type Flag, type FlagKind, type Severity } from './policy.js';

// The alert lifecycle behind `check` (and the event log): what was already reported, so that a
// stuck session is reported once when it crosses its threshold, again only after the renotify
// interval or when its severity changes (rises or falls), and once more, as resolved, when it
// clears. Pure.

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

/**
 * `escalated`: its severity rose (warning → critical); `deescalated` (added): it fell (critical →
 * warning) and it is still flagged. Either is told at once, whatever the renotify interval.
 */
export type AlertChange = 'flagged' | 'escalated' | 'deescalated' | 'reminder' | 'resolved';

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
    const change = severityChange(alert.severity, old.severity);
    const due = nowMs - old.lastNotifiedMs >= renotifyMs;
    if (change || due) {
      // A severity that fell is told, and remembered, so rising again notifies again.
      reported.push(seen(reportedOf(alert, old.firstFlaggedMs, nowMs), alert, nowMs, old));
      notifications.push(notificationOf(change ?? 'reminder', alert, old.firstFlaggedMs));
    } else {
      reported.push(seen(reportedOf(alert, old.firstFlaggedMs, old.lastNotifiedMs), alert, nowMs, old));
    }
  }
  for (const gone of before.values()) notifications.push(resolvedOf(gone));
  return { reported, notifications };
}

/** `escalated` when `now` outranks `before`, `deescalated` when it is outranked, else undefined. */
function severityChange(now: Severity, before: Severity): 'escalated' | 'deescalated' | undefined {
  const difference = SEVERITY_RANK[now] - SEVERITY_RANK[before];
  return difference > 0 ? 'escalated' : difference < 0 ? 'deescalated' : undefined;
}

// Records and notifications are built as one literal each, not spread from a shared base: at
// 8,000 flagged sessions a spread object (V8 gives it no room for the fields added after) costs
// ~2 KB an alert per poll against ~230 B (measured, issue 15), and watch reconciles every poll.

/** The reported record of `alert` (its sight stamped by `seen`). */
function reportedOf(alert: CurrentAlert, firstFlaggedMs: number, lastNotifiedMs: number): ReportedAlert {
  return { key: alert.key, kind: alert.kind, severity: alert.severity, subject: alert.subject, firstFlaggedMs, lastNotifiedMs };
}

function notificationOf(change: Exclude<AlertChange, 'resolved'>, alert: CurrentAlert, firstFlaggedMs: number): AlertNotification {
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

/**
 * reconcileAlerts([], currentAlerts(views, countFlags), nowMs, renotifyMs).notifications, for a run
 * with no history that keeps none (check without a state file): every current alert is new. No
 * record is made for what nobody will keep: at ~86,000 flagged sessions a record, its ledger entry
 * and index were ~20 MB held until the run's end (issue 15).
 */
export function notificationsWithoutHistory(views: readonly ConnectionView[], countFlags: readonly CountFlag[], nowMs: number): AlertNotification[] {
  const notifications: AlertNotification[] = [];
  for (let i = 0; i < views.length; i++) {
    const view = views[i]!;
    const flag = view.flag;
    if (flag && flag.kind !== 'count') notifications.push(notificationOf('flagged', sessionAlert(view.connection.key, view.row, flag, view.timing.dwellMs), nowMs)); // else a group member: its group's alert covers it
  }
  for (const flag of countFlags) notifications.push(notificationOf('flagged', countAlert(flag), nowMs));
  return notifications;
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
    alerts.push(sessionAlert(view.connection.key, view.row, flag, view.timing.dwellMs));
  }
  for (const flag of countFlags) alerts.push(countAlert(flag));
  return alerts;
}

/** The alert of a session flagged on its own (`dwellMs`: its timing's). */
function sessionAlert(key: string, row: SocketRow, flag: Flag, dwellMs: number): CurrentAlert {
  return {
    key,
    kind: flag.kind,
    severity: flag.severity,
    subject: flatText(`${row.state} ${flowText(row)}`),
    measured: flag.measured / 1000,
    threshold: flag.thresholdMs / 1000,
    rule: flag.rule,
    dwellMs,
  };
}

/** Where flatText's reading goes (so that no compiler drops it as unused); never read. */
export let flatTextRead = 0;

/**
 * `text`, made one piece. A string joined from parts (a template literal: the state, the flow, its
 * endpoints and ports) is a tree of those parts in V8, ~225 bytes for a subject against ~80 flat,
 * and a subject is kept with every alert record (86,000 in watch's ledger with the idle threshold
 * crossed, issue 15). Reading it as a number makes V8 flatten it; the collector then drops the parts.
 */
function flatText(text: string): string {
  flatTextRead = Number(text);
  return text;
}

/** The alert of a count group over its limit. */
function countAlert(flag: CountFlag): CurrentAlert {
  return {
    key: countAlertKey(flag),
    kind: 'count',
    severity: flag.severity,
    subject: `${flag.count} ${flag.states.join('/')} for ${flag.per} ${flag.group}`,
    measured: flag.count,
    threshold: flag.thresholdCount,
    rule: flag.rule,
  };
}

/**
 * Whether `subject` is the one a session alert of this row has (`STATE local -> remote`, as
 * sessionAlert writes it), read in place: no text is built.
 */
export function isSessionSubject(subject: string, row: Pick<SocketRow, 'state' | 'local' | 'remote'>): boolean {
  if (!subject.startsWith(row.state) || subject.charCodeAt(row.state.length) !== 32) return false;
  let at = matchEndpoint(subject, row.state.length + 1, row.local);
  if (at < 0 || !subject.startsWith(' -> ', at)) return false;
  at = matchEndpoint(subject, at + 4, row.remote);
  return at === subject.length;
}

/** Where formatEndpoint(endpoint) ends if `text` holds it at `at`; -1 if it does not. */
function matchEndpoint(text: string, at: number, endpoint: Endpoint): number {
  const bracketed = endpoint.address.includes(':');
  if (bracketed) {
    if (text.charCodeAt(at) !== 91) return -1; // [
    at++;
  }
  if (!text.startsWith(endpoint.address, at)) return -1;
  at += endpoint.address.length;
  if (bracketed) {
    if (text.charCodeAt(at) !== 93) return -1; // ]
    at++;
  }
  if (text.charCodeAt(at) !== 58) return -1; // :
  at++;
  // The port as String(port) writes it: decimal, no leading zero but for 0 itself.
  const from = at;
  let port = 0;
  for (let c = text.charCodeAt(at); c >= 48 && c <= 57; c = text.charCodeAt(++at)) port = port * 10 + (c - 48);
  const digits = at - from;
  if (digits === 0 || (digits > 1 && text.charCodeAt(from) === 48) || port !== endpoint.port) return -1;
  return at;
}

/** One alert the ledger keeps: its record, and the round that last saw it flagged. */
interface LedgerEntry {
  record: ReportedAlert;
  seenInRound: number;
  /** The ledger built the record (its fields all set, in their order): it may be updated in place. */
  own: boolean;
}

/**
 * reconcileAlerts for a front end that reconciles every poll (watch, the event log): the same
 * notifications in the same order and the same records, but a session still flagged as it was
 * costs no new object. Its record is updated in place, and neither its alert nor its subject
 * text is built (the subject is compared in place, isSessionSubject); objects are made only for
 * what changed (flagged, escalated, reminded, resolved), which is what is printed. At 86,000
 * flagged sessions the pure function built ~500 bytes a session a poll (alert, subject, record,
 * index), all alive until the next poll, so the old generation grew by ~40 MB a poll (issue 15).
 *
 * Records handed in (`previous`, as a state file kept them) are replaced on their first sight,
 * so a caller's objects are never changed; records the ledger built are changed in place, so
 * `reported` is valid until the next `reconcile`.
 */
export class AlertLedger {
  private readonly entries = new Map<string, LedgerEntry>();
  /** The records in the order of the last round's alerts (its current order); and a spare array for the next. */
  private order: ReportedAlert[] = [];
  private spare: ReportedAlert[] = [];
  /**
   * How many of `spare` this round has written. Its array is written over in place and cut to
   * length at the round's end, not emptied at the start: emptied, an array of ~86,000 records
   * was grown again from nothing every poll (~1.7 MB of old-space garbage a poll, measured).
   */
  private spareCount = 0;
  private round = 0;
  /** The round under way (between begin and finish). */
  private nowMs = 0;
  private renotifyMs = Infinity;
  private notifications: AlertNotification[] = [];

  constructor(previous: readonly ReportedAlert[] = []) {
    // As reconcileAlerts indexes them: a key listed twice is at its first place, with its last record.
    for (const record of previous) {
      const entry = this.entries.get(record.key);
      if (entry) entry.record = record;
      else this.entries.set(record.key, { record, seenInRound: 0, own: false });
    }
    for (const entry of this.entries.values()) this.order.push(entry.record);
  }

  /** The alerts reported, as reconcileAlerts' `reported`: valid until the next round. */
  get reported(): readonly ReportedAlert[] {
    return this.order;
  }

  /**
   * reconcileAlerts(reported, currentAlerts(views, countFlags), nowMs, renotifyMs).notifications,
   * and `reported` becomes its `reported`. Call it only after a poll that succeeded.
   */
  reconcile(views: readonly ConnectionView[], countFlags: readonly CountFlag[], nowMs: number, renotifyMs: number): AlertNotification[] {
    this.begin(nowMs, renotifyMs);
    for (let i = 0; i < views.length; i++) {
      const view = views[i]!;
      const flag = view.flag;
      if (flag && flag.kind !== 'count') this.session(view.connection.key, view.row, flag, view.timing.dwellMs); // else a group member: its group's alert covers it
    }
    return this.finish(countFlags);
  }

  /**
   * A round in parts, for a caller that visits the connections once without a view each
   * (forEachEvaluated): begin, then `session` for each session flagged on its own in the order
   * reconcile would see them, then finish with the count groups. What reconcile gives.
   */
  begin(nowMs: number, renotifyMs: number): void {
    this.round++;
    this.nowMs = nowMs;
    this.renotifyMs = renotifyMs;
    this.notifications = [];
    this.spareCount = 0;
  }

  /**
   * A session flagged on its own this round (`dwellMs`: its timing's). True when this sight
   * notifies (flagged, escalated or deescalated; a reminder): the caller then keeps what it prints of it.
   */
  session(key: string, row: SocketRow, flag: Flag, dwellMs: number): boolean {
    const { round, nowMs } = this;
    const entry = this.entries.get(key);
    const old = entry?.record;
    if (!entry || !old || entry.seenInRound === round || old.kind !== flag.kind || !isSessionSubject(old.subject, row)) {
      this.replace(entry, sessionAlert(key, row, flag, dwellMs));
      return true;
    }
    const change = severityChange(flag.severity, old.severity);
    const due = nowMs - old.lastNotifiedMs >= this.renotifyMs;
    if (change || due || !entry.own) {
      // Told again (or a record handed in): what reconcileAlerts does, objects and all.
      this.keep(entry, sessionAlert(key, row, flag, dwellMs), change, due);
      return change !== undefined || due;
    }
    // Still flagged as reported, at the severity reported: the record is updated in place, nothing is built.
    old.lastSeenMs = nowMs;
    old.lastDwellMs = dwellMs;
    if (old.runsFlagged !== undefined) old.runsFlagged++;
    entry.seenInRound = round;
    this.spare[this.spareCount++] = old;
    return false;
  }

  /**
   * The notifications of this round so far, handed over now: finish then gives only those made
   * after. For a caller that writes what a round tells as it goes (watch's first poll: a line per
   * flagged session), so that they are not all held at once.
   */
  takeNotifications(): AlertNotification[] {
    const taken = this.notifications;
    this.notifications = [];
    return taken;
  }

  /** Ends the round with the count groups over their limits: this round's notifications (those not taken). */
  finish(countFlags: readonly CountFlag[]): AlertNotification[] {
    const { round, nowMs } = this;
    for (const flag of countFlags) {
      // A count group's subject carries its count: its record is built anew (there are few).
      const alert = countAlert(flag);
      const entry = this.entries.get(alert.key);
      const old = entry?.record;
      if (!entry || !old || old.kind !== 'count' || entry.seenInRound === round) this.replace(entry, alert);
      else this.keep(entry, alert, severityChange(alert.severity, old.severity), nowMs - old.lastNotifiedMs >= this.renotifyMs);
    }
    const notifications = this.notifications;
    // Gone: in the order they were reported in, as reconcileAlerts tells them.
    for (const record of this.order) {
      const entry = this.entries.get(record.key);
      if (!entry || entry.record !== record || entry.seenInRound === round) continue;
      notifications.push(resolvedOf(record));
      this.entries.delete(record.key);
    }
    const next = this.spare;
    next.length = this.spareCount;
    this.spare = this.order;
    this.order = next;
    this.notifications = [];
    return notifications;
  }

  /** A new alert on `alert.key`; the one there before (another kind or state) resolved. */
  private replace(entry: LedgerEntry | undefined, alert: CurrentAlert): void {
    const { round, nowMs } = this;
    // A key already seen this round (two count rules of one name on one group) resolves nothing, as in reconcileAlerts.
    if (entry && entry.seenInRound !== round) this.notifications.push(resolvedOf(entry.record));
    const record = seen(reportedOf(alert, nowMs, nowMs), alert, nowMs, undefined);
    if (entry) {
      entry.record = record;
      entry.seenInRound = round;
      entry.own = true;
    } else this.entries.set(alert.key, { record, seenInRound: round, own: true });
    this.spare[this.spareCount++] = record;
    this.notifications.push(notificationOf('flagged', alert, nowMs));
  }

  /** The same alert seen again, as reconcileAlerts records it: a new record, and a notification if its severity changed or it is due. */
  private keep(entry: LedgerEntry, alert: CurrentAlert, change: 'escalated' | 'deescalated' | undefined, due: boolean): void {
    const { round, nowMs } = this;
    const old = entry.record;
    const told = change !== undefined || due;
    const record = seen(reportedOf(alert, old.firstFlaggedMs, told ? nowMs : old.lastNotifiedMs), alert, nowMs, old);
    if (told) this.notifications.push(notificationOf(change ?? 'reminder', alert, old.firstFlaggedMs));
    entry.record = record;
    entry.seenInRound = round;
    entry.own = true;
    this.spare[this.spareCount++] = record;
  }
}
