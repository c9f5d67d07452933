import { AlertLedger, type AlertNotification } from '../core/alerts.js';
import { viewOfEvaluated, type ConnectionView, type EvaluatedConnection, type Evaluation } from '../core/evaluate.js';
import { sameNetns, type NetnsLabel } from '../core/connection.js';
import type { CountFlag } from '../core/policy.js';
import type { TrackerEvent } from '../core/tracker.js';
import { countAlertKey } from '../core/alerts.js';
import type { PollOutcome } from './monitor.js';

/**
 * What happens to connections, as `watch`, `--log FILE` and the dashboard's log see it: the
 * tracker's opened / state-changed / closed, the alert lifecycle's flagged / resolved, and
 * poll-failed. `output/events.ts` turns each into a JSON line or a text line; the JSON field names
 * are a public interface (README "Event log").
 */
export type MonitorEvent = TrackerEvent | FlaggedEvent | ResolvedEvent | PollFailedEvent | NetnsGoneEvent;
export type MonitorEventType = MonitorEvent['type'];

/** A session or count group crossed a threshold (or its severity changed: `notification.change` is `escalated` or `deescalated`). */
export interface FlaggedEvent {
  type: 'flagged';
  atMs: number;
  /** `change` is `flagged`, `escalated` or `deescalated`; `current` is set. */
  notification: AlertNotification;
  /** The flagged session as evaluated at this poll (owner where looked up, timing): absent for a count group. */
  view?: ConnectionView;
  /** The count group, for a count alert. */
  countFlag?: CountFlag;
}

/** A flag reported earlier cleared (the session closed, moved on, or fell under its threshold). */
export interface ResolvedEvent {
  type: 'resolved';
  atMs: number;
  notification: AlertNotification;
}

/** The socket table could not be read: the first failed poll of a run of them (nothing is closed or cleared by it). */
export interface PollFailedEvent {
  type: 'poll-failed';
  atMs: number;
  source: string;
  error: string;
}

/**
 * `--netns`: a network namespace read at the last poll is gone; its connections closed with it in
 * the same poll (`closed` counts them, each also has its own closed event).
 */
export interface NetnsGoneEvent {
  type: 'netns-gone';
  atMs: number;
  netns: NetnsLabel;
  closed: number;
}

/**
 * Turns successive polls into events: the tracker's, and flagged / resolved from the alert
 * lifecycle (flagged once, again only when its severity changes; never reminders). A failed poll gives one
 * poll-failed for a run of failures. Memory is the set of current flags only, and a session still
 * flagged as it was costs no new object a poll (AlertLedger).
 */
export class EventStream {
  private readonly alerts = new AlertLedger();
  private failing = false;

  /** `evaluation` of this poll's tracker (needed when the poll succeeded). */
  next(outcome: PollOutcome, evaluation: Evaluation | undefined): MonitorEvent[] {
    if (!outcome.ok) {
      if (this.failing) return [];
      this.failing = true;
      return [{ type: 'poll-failed', atMs: outcome.takenAtMs, source: outcome.source, error: outcome.error ?? 'the socket table could not be read' }];
    }
    this.failing = false;
    if (!evaluation) return [];
    const events: MonitorEvent[] = [...outcome.events];
    const notifications = this.alerts.reconcile(evaluation.views, evaluation.countFlags, outcome.takenAtMs, Infinity);
    // A flagged notification names a flagged view (or a count group): only those are indexed, not
    // every connection.
    const views = new Map<string, ConnectionView>();
    if (notifications.some((n) => n.change !== 'resolved')) for (const v of evaluation.views) if (v.flag) views.set(v.connection.key, v);
    this.push(events, outcome, notifications, views, evaluation.countFlags);
    return events;
  }

  /**
   * next(outcome, evaluation) for a poll evaluated without a view per connection: `each` is
   * forEachEvaluated over this poll's tracker (no count rules, so none apply), and `visit` sees
   * every connection it hands over too, in the same pass. A view is made only for a session
   * whose notification is printed (flagged, escalated or deescalated), so a session still flagged as it was
   * costs nothing a poll.
   *
   * `emit`: the events are handed to it in order, a slice of about EVENT_SLICE at a time, as the
   * pass makes them; what is returned is the rest, after them. A caller that writes each slice
   * then holds one slice's events, views and alerts at a time, not one for each of ~86,000
   * sessions flagged at once (watch's first poll, issue 15). Without it, every event is returned.
   */
  nextEach(
    outcome: PollOutcome,
    each: (visit: (evaluated: EvaluatedConnection) => void) => void,
    visit?: (evaluated: EvaluatedConnection) => void,
    emit?: (events: MonitorEvent[]) => void,
  ): MonitorEvent[] {
    if (!outcome.ok) return this.next(outcome, undefined);
    this.failing = false;
    let events: MonitorEvent[] = [...outcome.events];
    const atMs = outcome.takenAtMs;
    const alerts = this.alerts;
    alerts.begin(atMs, Infinity);
    each((evaluated) => {
      visit?.(evaluated);
      const flag = evaluated.flag;
      if (!flag || !alerts.session(evaluated.connection.key, evaluated.row, flag, evaluated.dwellMs)) return;
      // What this sight told (a resolve first where the session's alert was replaced), in order.
      for (const notification of alerts.takeNotifications()) events.push(alertEvent(notification, atMs, notification.change === 'resolved' ? undefined : viewOfEvaluated(evaluated)));
      if (emit && events.length >= EVENT_SLICE) {
        emit(events);
        events = [];
      }
    });
    // The rest: resolved (sessions gone or no longer flagged), then the namespaces gone.
    this.push(events, outcome, alerts.finish([]), new Map(), []);
    return events;
  }

  /** This poll's alert events (the flagged ones with their views or count groups), then the namespaces gone. */
  private push(events: MonitorEvent[], outcome: PollOutcome, notifications: AlertNotification[], views: ReadonlyMap<string, ConnectionView>, countFlags: readonly CountFlag[]): void {
    const counts = new Map(countFlags.map((f) => [countAlertKey(f), f]));
    for (const notification of notifications) {
      const atMs = outcome.takenAtMs;
      if (notification.change === 'resolved') {
        events.push({ type: 'resolved', atMs, notification });
        continue;
      }
      const event = alertEvent(notification, atMs, views.get(notification.key));
      const countFlag = counts.get(notification.key);
      if (countFlag) (event as FlaggedEvent).countFlag = countFlag;
      events.push(event);
    }
    for (const netns of outcome.goneNetns ?? []) {
      const closed = outcome.events.filter((e) => e.type === 'closed' && sameNetns(e.connection.row.netns, netns)).length;
      events.push({ type: 'netns-gone', atMs: outcome.takenAtMs, netns, closed });
    }
  }
}

/**
 * How many events a slice that nextEach hands to its `emit` holds: ~150 KB of events, views,
 * alerts and lines, well under V8's young generation (1 MiB a semi-space under the heap budget),
 * so that a slice written at once dies young. 4,096 (~2.4 MB) outlived scavenges and was promoted:
 * old garbage until the next full collection (measured at 86,000 flagged sessions).
 */
export const EVENT_SLICE = 256;

/** The event of one alert notification: resolved, or flagged with the session's view where it has one. */
function alertEvent(notification: AlertNotification, atMs: number, view: ConnectionView | undefined): FlaggedEvent | ResolvedEvent {
  if (notification.change === 'resolved') return { type: 'resolved', atMs, notification };
  const event: FlaggedEvent = { type: 'flagged', atMs, notification };
  if (view) event.view = view;
  return event;
}
