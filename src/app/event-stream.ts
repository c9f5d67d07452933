import { currentAlerts, reconcileAlerts, type ReportedAlert } from '../core/alerts.js';
import type { Evaluation } from '../core/evaluate.js';
import { alertEventToJson, trackerEventToJson } from '../output/events.js';
import type { PollOutcome } from './monitor.js';
import { appendAll } from '../core/lists.js';

/**
 * Turns successive polls into event-log entries: the tracker's opened / state-changed / closed,
 * and flagged / resolved from the alert lifecycle (flagged once, again only when it escalates).
 * Memory is the set of current flags only.
 */
export class EventStream {
  private reported: ReportedAlert[] = [];

  next(outcome: PollOutcome, evaluation: Evaluation | undefined): Record<string, unknown>[] {
    if (!outcome.ok || !evaluation) return [];
    const entries = outcome.events.map(trackerEventToJson);
    const { reported, notifications } = reconcileAlerts(this.reported, currentAlerts(evaluation.views, evaluation.countFlags), outcome.takenAtMs, Infinity);
    this.reported = reported;
    appendAll(entries, notifications.map((n) => alertEventToJson(n, outcome.takenAtMs)));
    return entries;
  }
}
