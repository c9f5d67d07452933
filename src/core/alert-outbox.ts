import type { AlertNotification } from './alerts.js';

// Each notifier is its own channel: what one failed to deliver is kept for it alone and sent again
// by the next run, while the text report (and every notifier that did deliver) moves on. Without
// this, one webhook that is down held every channel back: cron mailed the same WARNINGs each run
// and never a RESOLVED. Pure.

/** A notification one channel has not delivered yet, and when the run that produced it took its poll. */
export interface PendingNotification {
  atMs: number;
  notification: AlertNotification;
}

/** A channel keeps at most this many undelivered notifications; the oldest go first. */
export const MAX_PENDING_NOTIFICATIONS = 1000;

export interface Outbox {
  /** Oldest first: what the channel is to send now, and keeps if that fails. */
  pending: PendingNotification[];
  /** Dropped because the outbox was over MAX_PENDING_NOTIFICATIONS. */
  dropped: number;
}

/**
 * A channel's backlog with this run's notifications (produced at `nowMs`) added, oldest first.
 * Reminders are coalesced, since each only says "still flagged": for a key with a flagged,
 * escalated, deescalated or resolved notification waiting, its reminders add nothing and are dropped; otherwise
 * only the latest reminder is kept. Nothing else is merged: a flagged and a resolved of one key both
 * stay, as the receiver was told neither. Past `cap`, the oldest are dropped and counted.
 */
export function addToOutbox(backlog: readonly PendingNotification[], fresh: readonly AlertNotification[], nowMs: number, cap = MAX_PENDING_NOTIFICATIONS): Outbox {
  const all: PendingNotification[] = [...backlog, ...fresh.map((notification) => ({ atMs: nowMs, notification }))];
  const hasNews = new Set<string>();
  const lastReminder = new Map<string, number>();
  all.forEach((p, index) => {
    if (p.notification.change === 'reminder') lastReminder.set(p.notification.key, index);
    else hasNews.add(p.notification.key);
  });
  const pending = all.filter((p, index) => p.notification.change !== 'reminder' || (!hasNews.has(p.notification.key) && lastReminder.get(p.notification.key) === index));
  const dropped = Math.max(0, pending.length - cap);
  return { pending: dropped > 0 ? pending.slice(dropped) : pending, dropped };
}
