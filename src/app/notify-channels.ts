import { createHash } from 'node:crypto';
import type { NotifierConfig } from '../config/parse-config.js';
import { addToOutbox, type PendingNotification } from '../core/alert-outbox.js';
import type { AlertNotification } from '../core/alerts.js';

// check's notifiers as separate channels (core/alert-outbox.ts says why): each is sent its own
// backlog plus this run's news, and keeps only what it failed to deliver. The text report on
// stdout is the channel the state file's `alerts` describe; it never waits for a notifier.

/** One notifier's undelivered notifications, as the state file keeps them. */
export interface ChannelBacklog {
  /** notifierId() of the notifier. */
  notifier: string;
  pending: PendingNotification[];
}

/**
 * A stable name for a notifier across runs: its type and a SHA-256 of where it delivers (argv, URL,
 * syslog tag/facility/socket), so that editing a timeout keeps its backlog, and the state file holds
 * no webhook URL (Slack and Discord put the token in it).
 */
function notifierId(notifier: NotifierConfig): string {
  const target = notifier.type === 'exec' ? notifier.command : notifier.type === 'webhook' ? [notifier.url] : [notifier.tag ?? '', notifier.facility ?? '', notifier.socket ?? ''];
  return `${notifier.type} ${createHash('sha256').update(JSON.stringify(target)).digest('hex').slice(0, 16)}`;
}

/** What delivering to one notifier gave. */
export interface ChannelResult<D extends { ok: boolean }> {
  notifier: NotifierConfig;
  delivery: D;
  /** Notifications it was sent this run (its backlog first). */
  sent: number;
  /** Kept for the next run (0 when delivered). */
  kept: number;
  /** Dropped because its backlog was full. */
  dropped: number;
}

export interface ChannelsOutcome<D extends { ok: boolean }> {
  results: ChannelResult<D>[];
  /** To save: the backlog of every notifier that failed. */
  backlogs: ChannelBacklog[];
  /** Undelivered notifications of notifiers no longer configured, dropped. */
  orphaned: number;
}

/**
 * Sends each notifier its backlog and `fresh` (this run's notifications, produced at `nowMs`), all
 * at once; a notifier with nothing to send is not called. `send` must not throw: it reports failure
 * in its result (notify/notifiers.ts deliver() does).
 */
export async function notifyEachChannel<D extends { ok: boolean }>(
  notifiers: readonly NotifierConfig[],
  backlogs: readonly ChannelBacklog[],
  fresh: readonly AlertNotification[],
  nowMs: number,
  send: (notifier: NotifierConfig, pending: readonly PendingNotification[]) => Promise<D>,
): Promise<ChannelsOutcome<D>> {
  const byId = new Map(backlogs.map((b) => [b.notifier, b.pending]));
  // The same target configured twice is two channels: the second is `… #2`.
  const seen = new Map<string, number>();
  const ids = notifiers.map((n) => {
    const id = notifierId(n);
    const count = (seen.get(id) ?? 0) + 1;
    seen.set(id, count);
    return count === 1 ? id : `${id} #${count}`;
  });
  const configured = new Set(ids);
  const orphaned = backlogs.filter((b) => !configured.has(b.notifier)).reduce((sum, b) => sum + b.pending.length, 0);
  const attempts = await Promise.all(
    notifiers.map(async (notifier, index) => {
      const outbox = addToOutbox(byId.get(ids[index]!) ?? [], fresh, nowMs);
      if (outbox.pending.length === 0) return undefined;
      const delivery = await send(notifier, outbox.pending);
      return { id: ids[index]!, notifier, delivery, outbox };
    }),
  );
  const results: ChannelResult<D>[] = [];
  const kept: ChannelBacklog[] = [];
  for (const attempt of attempts) {
    if (!attempt) continue;
    const { id, notifier, delivery, outbox } = attempt;
    results.push({ notifier, delivery, sent: outbox.pending.length, kept: delivery.ok ? 0 : outbox.pending.length, dropped: outbox.dropped });
    if (!delivery.ok) kept.push({ notifier: id, pending: outbox.pending });
  }
  return { results, backlogs: kept, orphaned };
}
