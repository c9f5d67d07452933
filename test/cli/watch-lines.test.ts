import { describe, expect, it } from 'vitest';
import { parkSocketsHost, runOn, ssAnswers } from '../fake-platform.js';
import { readFixture, ssWithoutSocket } from '../fixture.js';

// Issue 16.15: `watch` says what it watches before anything happens, and its lines name the owner
// and what was measured. The sessions scripts/park-sockets.py parks; python3 is pid 4242 here.
const SS_PARK = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');

/** The capture `ms` later with no traffic (written for the test): tcp_info's last* counters grown by `ms`, as the kernel's would. */
const aged = (text: string, ms: number) => text.replace(/\b(lastsnd|lastrcv|lastack):(\d+)/g, (_m, name: string, value: string) => `${name}:${Number(value) + ms}`);

/** The park-sockets host whose `ss` answers `answers` in turn, the last one repeating. */
function parkPlatform(answers: string[]) {
  const platform = parkSocketsHost();
  platform.commands = answers.map((text) => ssAnswers(text));
  return platform;
}

describe('watch text lines (issue 16.15)', () => {
  it('a start line after the first poll, then each line with its owner and what was measured, how', async () => {
    // 15 s later nothing has moved (the last* counters grew); 15 s after that one CLOSE_WAIT has
    // closed and another moved on to LAST_ACK (written for the test, same shape as the capture).
    const later = ssWithoutSocket(aged(SS_PARK, 30_000), '127.0.0.1:35170').replace('CLOSE-WAIT 1      0               127.0.0.1:56580', 'LAST-ACK   1      0               127.0.0.1:56580');
    // A live dump is not atomic (issue 15): the fourth poll, 15 s on, confirms the close.
    const platform = parkPlatform([SS_PARK, aged(SS_PARK, 15_000), later, aged(later, 15_000)]);
    const { code, out } = await runOn(platform, ['watch', '--iterations', '4', '--interval', '15s', '--half-close', '10s', '--half-open', '1h', '--idle', '1h']);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe('2026-11-21T05:30:00.000Z watching 22 connections (0 flagged) through ss every 15s; warning at half-open 1h00m, half-close 10s, idle 1h00m');
    // Flagged: the owner, the half-close timer against its threshold, and how the dwell is known (the kernel's counters).
    expect(lines).toContain('2026-11-21T05:30:15.000Z WARNING half-close: CLOSE_WAIT 127.0.0.1:35170 -> 127.0.0.1:47537 python3[4242] half-close timer 20s > 10s (rule default, dwell kernel)');
    // FIN_WAIT_2 sockets are orphans (no process holds them): no owner, never a made-up one.
    expect(lines).toContain('2026-11-21T05:30:15.000Z WARNING half-close: FIN_WAIT_2 127.0.0.1:47537 -> 127.0.0.1:35170 half-close timer 20s > 10s (rule default, dwell kernel)');
    expect(lines).toContain('2026-11-21T05:30:30.000Z changed CLOSE_WAIT -> LAST_ACK 127.0.0.1:56580 -> 127.0.0.1:45219 python3[4242]');
    // The socket is gone when it closes: its owner is the one found while it was there.
    // Missing at 30 s, confirmed gone at 45 s: closed then, its measures as last seen (15 s), flagged from 15 s to 45 s.
    expect(lines).toContain('2026-11-21T05:30:45.000Z closed  127.0.0.1:35170 -> 127.0.0.1:47537 python3[4242] after 20s, last CLOSE_WAIT');
    expect(lines).toContain('2026-11-21T05:30:45.000Z resolved half-close: CLOSE_WAIT 127.0.0.1:35170 -> 127.0.0.1:47537 stuck 20s when last seen, flagged for 30s');
    expect(lines.some((l) => l.startsWith('2026-11-21T05:30:30.000Z') && / closed | resolved half-close: CLOSE_WAIT 127.0.0.1:35170/.test(l))).toBe(false);
    // The six of 15 s, and the LAST_ACK of 56580 over 10 s at the fourth poll.
    expect(lines.filter((l) => / WARNING /.test(l))).toHaveLength(7);
  });

  it('with --input the start line says the captured tables are replayed, not "every 2s" (they are not waited for)', async () => {
    const platform = parkSocketsHost();
    platform.files.set('/captures/park.txt', SS_PARK);
    const { code, out } = await runOn(platform, ['watch', '--input', '/captures/park.txt', '--half-close', '10s']);
    expect(code).toBe(0);
    const first = out.split('\n')[0]!;
    expect(first).toMatch(/ watching 22 connections \(\d+ flagged\) through input \(captured tables, replayed one after another\); warning at /);
    expect(first).not.toMatch(/every/);
  });

  it('--events keeps the JSON lines as they were (no owner added to events of sources without one), and no start line', async () => {
    const platform = parkPlatform([SS_PARK, aged(SS_PARK, 15_000)]);
    const { out } = await runOn(platform, ['watch', '--events', '--iterations', '2', '--interval', '15s', '--half-close', '10s', '--half-open', '1h', '--idle', '1h']);
    const events = out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; pid?: number | null });
    expect(events[0]!.event).toBe('opened');
    expect(events.filter((e) => e.event === 'opened').every((e) => e.pid === null)).toBe(true);
    // No /proc/<pid>/fd scan for JSON lines that would not use it.
    expect(platform.listed.filter((p) => p.startsWith('/proc/4242'))).toEqual([]);
  });

  it('a half-close timer shorter than the time in state shows both', async () => {
    // Written for the test: the peer's last segment (ss lastack) arrives with the second capture, then 15 s of silence.
    const segment = aged(SS_PARK, 15_000).replace(/lastack:\d+/g, 'lastack:0');
    const silent = aged(SS_PARK, 30_000).replace(/lastack:\d+/g, 'lastack:15000');
    const platform = parkPlatform([SS_PARK, segment, silent]);
    const { out } = await runOn(platform, ['watch', '--iterations', '3', '--interval', '15s', '--half-close', '10s', '--half-open', '1h', '--idle', '1h']);
    expect(out).toContain(
      '2026-11-21T05:30:30.000Z WARNING half-close: CLOSE_WAIT 127.0.0.1:35170 -> 127.0.0.1:47537 python3[4242] half-close timer 15s > 10s, 35s in state (rule default, dwell kernel)',
    );
  });
});
