import { describe, expect, it } from 'vitest';
import { FakePlatform, runOn } from '../fake-platform.js';
import { readFixture, ssWithoutSocket } from '../fixture.js';

// The event log's JSON lines are a public interface: one line of each event type, pinned byte for
// byte as `watch --events` printed them before the event stream became a typed union. Fields may be
// added to new event types only; these lines must never change.

const SS_STUCK = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
// The same table 5 s later with the CLOSE_WAIT of 127.0.0.1:34928 moved on to LAST_ACK (the
// application closed; written for this test, same column widths as the capture).
const SS_LAST_ACK = SS_STUCK.replace('CLOSE-WAIT 1      0               127.0.0.1:34928', 'LAST-ACK   1      0               127.0.0.1:34928');
// And 5 s after that, the CLOSE_WAIT of 127.0.0.1:43972 gone; a live dump is not atomic, so the
// poll 5 s later, still without it, confirms the close (issue 15): its resolved and closed lines come then.
const SS_CLOSED = ssWithoutSocket(SS_LAST_ACK, '127.0.0.1:43972');

async function eventLines(): Promise<string[]> {
  const platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
  const answers = [SS_STUCK, SS_LAST_ACK, SS_CLOSED, SS_CLOSED];
  let polls = 0;
  platform.commands = [() => ({ stdout: answers[Math.min(polls++, answers.length - 1)]!, stderr: '', exitCode: 0 })];
  const { code, out } = await runOn(platform, ['watch', '--events', '--iterations', '4', '--interval', '5s', '--half-open', '10s', '--half-close', '10s', '--idle', '1h']);
  expect(code).toBe(0);
  return out.trim().split('\n');
}

const firstOf = (lines: string[], event: string) => lines.find((l) => l.startsWith(`{"event":"${event}"`));

describe('event log JSON lines (pinned)', () => {
  it('opened, flagged, state-changed, resolved and closed lines are byte-identical to the released format', async () => {
    const lines = await eventLines();
    expect(firstOf(lines, 'opened')).toBe(
      '{"event":"opened","at":"2026-11-21T05:30:00.000Z","protocol":"tcp","local":{"address":"127.0.0.1","port":40957},"remote":{"address":"0.0.0.0","port":0},"pid":null,"process":null,"state":"LISTEN","firstSight":true}',
    );
    expect(firstOf(lines, 'flagged')).toBe(
      '{"event":"flagged","at":"2026-11-21T05:30:00.000Z","kind":"half-open","severity":"warning","subject":"SYN_SENT 127.0.0.1:56268 -> 127.0.0.1:44865","key":"tcp 127.0.0.1 56268 127.0.0.1 44865","escalated":false,"measured":11.356,"threshold":10,"rule":"default"}',
    );
    expect(firstOf(lines, 'state-changed')).toBe(
      '{"event":"state-changed","at":"2026-11-21T05:30:05.000Z","protocol":"tcp","local":{"address":"127.0.0.1","port":34928},"remote":{"address":"127.0.0.1","port":46103},"pid":null,"process":null,"from":"CLOSE_WAIT","to":"LAST_ACK"}',
    );
    expect(firstOf(lines, 'resolved')).toBe(
      '{"event":"resolved","at":"2026-11-21T05:30:15.000Z","kind":"half-close","severity":"warning","subject":"CLOSE_WAIT 127.0.0.1:43972 -> 127.0.0.1:40957","key":"tcp 127.0.0.1 43972 127.0.0.1 40957","flaggedSeconds":15,"dwellSeconds":16.7}',
    );
    expect(firstOf(lines, 'closed')).toBe(
      '{"event":"closed","at":"2026-11-21T05:30:15.000Z","protocol":"tcp","local":{"address":"127.0.0.1","port":43972},"remote":{"address":"127.0.0.1","port":40957},"pid":null,"process":null,"lastState":"CLOSE_WAIT","lifetimeSeconds":16.7,"bytesSent":1,"bytesReceived":1}',
    );
  });
});
