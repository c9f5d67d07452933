import { describe, expect, it } from 'vitest';
import { reconcileAlerts, type CurrentAlert, type ReportedAlert } from '../../src/core/alerts.js';

const HOUR = 3_600_000;
const alert = (key: string, over: Partial<CurrentAlert> = {}): CurrentAlert => ({
  key,
  kind: 'half-close',
  severity: 'warning',
  subject: `CLOSE_WAIT ${key}`,
  measured: 40,
  threshold: 30,
  rule: 'default',
  ...over,
});

// The clock is the `now` argument: each step below moves it by hand.
function run(steps: { at: number; current: CurrentAlert[] }[], renotifyMs = HOUR) {
  let reported: ReportedAlert[] = [];
  return steps.map(({ at, current }) => {
    const result = reconcileAlerts(reported, current, at, renotifyMs);
    reported = result.reported;
    return result.notifications.map((n) => `${n.change} ${n.severity} ${n.key}`);
  });
}

describe('reconcileAlerts', () => {
  it('notifies once when a session crosses its threshold, not on the next runs, and once when it clears', () => {
    expect(
      run([
        { at: 0, current: [alert('a')] },
        { at: 60_000, current: [alert('a')] },
        { at: 120_000, current: [alert('a')] },
        { at: 180_000, current: [] },
        { at: 240_000, current: [] },
      ]),
    ).toEqual([['flagged warning a'], [], [], ['resolved warning a'], []]);
  });

  it('reminds after the renotify interval, counted from the last notification', () => {
    expect(
      run([
        { at: 0, current: [alert('a')] },
        { at: HOUR - 1, current: [alert('a')] },
        { at: HOUR, current: [alert('a')] },
        { at: HOUR + 60_000, current: [alert('a')] },
        { at: 2 * HOUR, current: [alert('a')] },
      ]),
    ).toEqual([['flagged warning a'], [], ['reminder warning a'], [], ['reminder warning a']]);
  });

  it('a rise in severity notifies at once; so does a fall (session 8 break-it pass: it was silent), and rising again notifies again', () => {
    expect(
      run([
        { at: 0, current: [alert('a')] },
        { at: 1000, current: [alert('a', { severity: 'critical' })] },
        { at: 2000, current: [alert('a')] },
        { at: 3000, current: [alert('a', { severity: 'critical' })] },
      ]),
    ).toEqual([['flagged warning a'], ['escalated critical a'], ['deescalated warning a'], ['escalated critical a']]);
  });

  it('a changed kind resolves the old alert and flags the new; alerts are independent of each other', () => {
    expect(
      run([
        { at: 0, current: [alert('a'), alert('b')] },
        { at: 1000, current: [alert('a', { kind: 'idle' }), alert('b')] },
        { at: 2000, current: [alert('b')] },
      ]),
    ).toEqual([['flagged warning a', 'flagged warning b'], ['resolved warning a', 'flagged warning a'], ['resolved warning a']]);
  });

  it('a session that changes state within its kind (CLOSE_WAIT → LAST_ACK) is a new alert; a count group whose count changes is not', () => {
    expect(
      run([
        { at: 0, current: [alert('a'), alert('g', { kind: 'count', subject: '4 CLOSE_WAIT for process java[812]' })] },
        { at: 1000, current: [alert('a', { subject: 'LAST_ACK a' }), alert('g', { kind: 'count', subject: '5 CLOSE_WAIT for process java[812]' })] },
      ]),
    ).toEqual([
      ['flagged warning a', 'flagged warning g'],
      ['resolved warning a', 'flagged warning a'],
    ]);
  });

  it('remembers when each alert was last seen and its dwell then, for the RESOLVED line', () => {
    const first = reconcileAlerts([], [alert('a', { dwellMs: 40_000 })], 0, HOUR);
    const second = reconcileAlerts(first.reported, [alert('a', { dwellMs: 100_000 })], 60_000, HOUR);
    const cleared = reconcileAlerts(second.reported, [], 120_000, HOUR);
    expect(cleared.notifications).toEqual([
      { change: 'resolved', key: 'a', kind: 'half-close', severity: 'warning', subject: 'CLOSE_WAIT a', firstFlaggedMs: 0, lastSeenMs: 60_000, lastDwellMs: 100_000, runsFlagged: 2 },
    ]);
  });

  it('counts the runs that saw an alert flagged; one loaded from a file that did not count stays uncounted', () => {
    const runs = (previous: Parameters<typeof reconcileAlerts>[0], at: number) => reconcileAlerts(previous, [alert('a')], at, HOUR).reported;
    let reported = runs([], 0);
    expect(reported[0]!.runsFlagged).toBe(1);
    reported = runs(runs(reported, 500), 900);
    expect(reported[0]!.runsFlagged).toBe(3);
    // A new alert on the same key (the state changed) starts again at one run.
    expect(reconcileAlerts(reported, [alert('a', { subject: 'LAST_ACK a' })], 1000, HOUR).reported[0]!.runsFlagged).toBe(1);
    // Written by a release that did not count: the count is unknown, not guessed.
    const { runsFlagged: _dropped, ...uncounted } = reported[0]!;
    expect(runs([uncounted], 2000)[0]!.runsFlagged).toBeUndefined();
    expect(reconcileAlerts([uncounted], [], 2000, HOUR).notifications[0]!.runsFlagged).toBeUndefined();
  });

  it('Infinity never reminds', () => {
    expect(
      run(
        [
          { at: 0, current: [alert('a')] },
          { at: 1e12, current: [alert('a')] },
        ],
        Infinity,
      ),
    ).toEqual([['flagged warning a'], []]);
  });
});

describe('formatResolvedLine', () => {
  it('says how long the session was stuck when last seen and how long it was flagged; the runs that saw it where counted', async () => {
    const { formatResolvedLine } = await import('../../src/output/check-text.js');
    const base = { change: 'resolved' as const, key: 'k', kind: 'half-close' as const, severity: 'warning' as const, subject: 'CLOSE_WAIT 127.0.0.1:1 -> 127.0.0.1:2', firstFlaggedMs: 0 };
    expect(formatResolvedLine({ ...base, lastSeenMs: 13_000, lastDwellMs: 169_000 }, 60_000)).toBe(
      'RESOLVED half-close: CLOSE_WAIT 127.0.0.1:1 -> 127.0.0.1:2 (stuck 2m49s when last seen, flagged for 13s)',
    );
    // Changed on purpose (N8): under a second apart is not "one run only" unless the runs were counted.
    expect(formatResolvedLine({ ...base, lastSeenMs: 0, lastDwellMs: 169_000 }, 60_000)).toBe(
      'RESOLVED half-close: CLOSE_WAIT 127.0.0.1:1 -> 127.0.0.1:2 (stuck 2m49s when last seen, flagged for under 1s)',
    );
    expect(formatResolvedLine({ ...base, lastSeenMs: 0, lastDwellMs: 169_000, runsFlagged: 1 }, 60_000)).toBe(
      'RESOLVED half-close: CLOSE_WAIT 127.0.0.1:1 -> 127.0.0.1:2 (stuck 2m49s when last seen, flagged by one run only)',
    );
    // Two runs 0.6 s apart (the new-user report): two runs, not one.
    expect(formatResolvedLine({ ...base, lastSeenMs: 600, lastDwellMs: 169_000, runsFlagged: 2 }, 60_000)).toBe(
      'RESOLVED half-close: CLOSE_WAIT 127.0.0.1:1 -> 127.0.0.1:2 (stuck 2m49s when last seen, flagged by 2 runs within 1s)',
    );
    expect(formatResolvedLine({ ...base, lastSeenMs: 13_000, runsFlagged: 3 }, 60_000)).toBe('RESOLVED half-close: CLOSE_WAIT 127.0.0.1:1 -> 127.0.0.1:2 (flagged by 3 runs over 13s)');
    // An alert recorded before these figures were kept: how long it was flagged, up to now.
    expect(formatResolvedLine(base, 60_000)).toBe('RESOLVED half-close: CLOSE_WAIT 127.0.0.1:1 -> 127.0.0.1:2 (flagged for 1m00s)');
  });
});

describe('reconcileAlerts records (built as one literal each, issue 15)', () => {
  it('records and notifications keep their fields and field order (the state file writes records as they are)', () => {
    const first = reconcileAlerts([], [alert('a', { dwellMs: 5_000 })], 1_000, HOUR);
    expect(Object.keys(first.reported[0]!)).toEqual(['key', 'kind', 'severity', 'subject', 'firstFlaggedMs', 'lastNotifiedMs', 'lastSeenMs', 'lastDwellMs', 'runsFlagged']);
    expect(first.reported[0]).toStrictEqual({
      key: 'a',
      kind: 'half-close',
      severity: 'warning',
      subject: 'CLOSE_WAIT a',
      firstFlaggedMs: 1_000,
      lastNotifiedMs: 1_000,
      lastSeenMs: 1_000,
      lastDwellMs: 5_000,
      runsFlagged: 1,
    });
    expect(Object.keys(first.notifications[0]!)).toEqual(['change', 'key', 'kind', 'severity', 'subject', 'firstFlaggedMs', 'current']);
    // Seen again, not due: the first notification's times kept, the sight stamped, no dwell when none is given.
    const second = reconcileAlerts(first.reported, [alert('a')], 61_000, HOUR);
    expect(second.reported[0]).toStrictEqual({
      key: 'a',
      kind: 'half-close',
      severity: 'warning',
      subject: 'CLOSE_WAIT a',
      firstFlaggedMs: 1_000,
      lastNotifiedMs: 1_000,
      lastSeenMs: 61_000,
      runsFlagged: 2,
    });
    // Escalated: notified now, first flagged then.
    const third = reconcileAlerts(second.reported, [alert('a', { severity: 'critical' })], 121_000, HOUR);
    expect(third.reported[0]).toMatchObject({ severity: 'critical', firstFlaggedMs: 1_000, lastNotifiedMs: 121_000, runsFlagged: 3 });
    expect(third.notifications).toStrictEqual([
      { change: 'escalated', key: 'a', kind: 'half-close', severity: 'critical', subject: 'CLOSE_WAIT a', firstFlaggedMs: 1_000, current: alert('a', { severity: 'critical' }) },
    ]);
  });
});
