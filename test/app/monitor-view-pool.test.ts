import { describe, expect, it } from 'vitest';
import { Monitor } from '../../src/app/monitor.js';
import { newViewPool, type ConnectionView, type Evaluation } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { parkSocketsHost } from '../fake-platform.js';

// Monitor.evaluate with a view pool (the dashboard's): the owners looked up for the window are
// written into the pooled views, without a copy of the list; what each row shows (its owner
// included) is what the evaluation without a pool gives. The host is the park-sockets capture with
// python3[4242] holding the three CLOSE_WAIT sockets (test/fake-platform.ts).

const owners = (views: readonly ConnectionView[]) => views.map((v) => `${v.connection.key} ${v.row.pid ?? '-'} ${v.row.process ?? '-'} ${v.row.inode ?? '-'}`).sort();

describe('Monitor.evaluate with a view pool', () => {
  it('puts the window’s owners into the pooled views, and shows what an evaluation without a pool shows, window by window', async () => {
    const platform = parkSocketsHost();
    platform.links.set('/proc/1/fd/0', 'pipe:[9]');
    const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
    const pool = newViewPool();
    const closeWaits = (e: Evaluation) => e.views.filter((v) => v.row.state === 'CLOSE_WAIT');
    const none = () => [];

    await monitor.poll();
    const first = (await monitor.evaluate(defaultPolicy(), { window: closeWaits, flagged: false }, { views: pool, ranked: false })).evaluation.views;
    const plainFirst = (await monitor.evaluate(defaultPolicy(), { window: closeWaits, flagged: false }, { ranked: false })).evaluation.views;
    expect(owners(first)).toEqual(owners(plainFirst));
    const owned = first.filter((v) => v.row.pid === 4242);
    expect(owned).toHaveLength(3);
    // The views handed back are the pool's, not copies.
    for (const view of first) expect(pool.get(view.connection)).toBe(view);

    // Next poll, no window: the same views, their rows back to the tracker's (no owner looked up), as without a pool.
    await monitor.poll();
    const second = (await monitor.evaluate(defaultPolicy(), { window: none, flagged: false }, { views: pool, ranked: false })).evaluation.views;
    const plainSecond = (await monitor.evaluate(defaultPolicy(), { window: none, flagged: false }, { ranked: false })).evaluation.views;
    expect(owners(second)).toEqual(owners(plainSecond));
    for (const view of owned) expect(second).toContain(view);
    expect(second.filter((v) => v.row.pid === 4242)).toHaveLength(0);
  });
});
