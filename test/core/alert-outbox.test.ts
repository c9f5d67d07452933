import { describe, expect, it } from 'vitest';
import { addToOutbox, type PendingNotification } from '../../src/core/alert-outbox.js';
import type { AlertChange, AlertNotification } from '../../src/core/alerts.js';

// Notifications written for the test, in the shape reconcileAlerts() produces.
const n = (change: AlertChange, key: string): AlertNotification => ({ change, key, kind: 'half-close', severity: 'warning', subject: `CLOSE_WAIT ${key}`, firstFlaggedMs: 1000 });
const at = (atMs: number, notification: AlertNotification): PendingNotification => ({ atMs, notification });
const summary = (pending: PendingNotification[]) => pending.map((p) => `${p.atMs} ${p.notification.change} ${p.notification.key}`);

describe("addToOutbox: one channel's undelivered notifications", () => {
  it("keeps the backlog first, then this run's news stamped with its time", () => {
    const out = addToOutbox([at(1000, n('flagged', 'a'))], [n('flagged', 'b'), n('resolved', 'a')], 2000);
    expect(summary(out.pending)).toEqual(['1000 flagged a', '2000 flagged b', '2000 resolved a']);
    expect(out.dropped).toBe(0);
  });

  it('a reminder adds nothing while news of its key waits, and only the latest reminder of a key is kept', () => {
    const backlog = [at(1000, n('flagged', 'a')), at(1000, n('reminder', 'b')), at(2000, n('reminder', 'c'))];
    const out = addToOutbox(backlog, [n('reminder', 'a'), n('reminder', 'b'), n('escalated', 'c')], 3000);
    expect(summary(out.pending)).toEqual(['1000 flagged a', '3000 reminder b', '3000 escalated c']);
  });

  it('past the cap the oldest go, counted', () => {
    const backlog = [1, 2, 3].map((i) => at(i, n('flagged', `k${i}`)));
    const out = addToOutbox(backlog, [n('resolved', 'k1')], 9, 3);
    expect(summary(out.pending)).toEqual(['2 flagged k2', '3 flagged k3', '9 resolved k1']);
    expect(out.dropped).toBe(1);
  });
});
