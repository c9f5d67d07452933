import { describe, expect, it } from 'vitest';
import { Monitor } from '../../src/app/monitor.js';
import { countStates } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { FakePlatform } from '../fake-platform.js';
import { readFixture, ssWithoutSocket } from '../fixture.js';

// Tiered polling through the Monitor (issue 15): which polls are censuses, what ss is asked, and
// what the tracker then knows. ss answers from the park-sockets capture: a census gets it whole; a
// fast poll gets its header and its stuck rows only, which is what ss prints with the state filter
// (the shape of linux-ss-tanoie-state-filter-stuck-kernel6.txt, captured for it).

const FULL = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
const STUCK_WORDS = /^(SYN-SENT|SYN-RECV|FIN-WAIT-1|FIN-WAIT-2|CLOSE-WAIT|CLOSING|LAST-ACK)\s/;

/** The capture as ss prints it with the stuck states' filter: the header, and each stuck row with its tcp_info line. */
function stuckOnly(text: string): string {
  const out: string[] = [];
  let keep = true;
  for (const line of text.split('\n')) {
    if (!line.startsWith('\t')) keep = line.startsWith('#') || line.startsWith('State') || STUCK_WORDS.test(line);
    if (keep) out.push(line);
  }
  return out.join('\n');
}

function host() {
  const platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
  platform.files.set('/proc/self/mounts', 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n');
  const tables = { full: FULL };
  platform.commands = [(argv) => ({ stdout: argv.includes('state') ? stuckOnly(tables.full) : tables.full, stderr: '', exitCode: 0 })];
  const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
  const census = () => platform.ran.map((argv) => !argv.includes('state'));
  return { platform, monitor, tables, census };
}

describe('Monitor in tiers', () => {
  it('reads every state at the first poll and every census interval, the stuck states in between', async () => {
    const { platform, monitor, census } = host();
    monitor.pollInTiers({ censusIntervalMs: 60_000 });
    for (let i = 0; i <= 31; i++) {
      await monitor.poll();
      platform.nowValue += 2000;
    }
    // Polls at 0, 2, …, 62 s: censuses at 0 s and 60 s.
    expect(
      census()
        .map((c, i) => (c ? i * 2 : -1))
        .filter((s) => s >= 0),
    ).toEqual([0, 60]);
    expect(platform.ran[1]!.slice(7)).toEqual(['state', 'syn-sent', 'state', 'syn-recv', 'state', 'fin-wait-1', 'state', 'fin-wait-2', 'state', 'close-wait', 'state', 'closing', 'state', 'last-ack']);
  });

  it('keeps ESTABLISHED and LISTEN as the census saw them between censuses: counts do not drop at a fast poll', async () => {
    const { platform, monitor } = host();
    monitor.pollInTiers({ censusIntervalMs: 60_000 });
    const first = await monitor.poll();
    platform.nowValue += 2000;
    const fast = await monitor.poll();
    expect(fast.states).toBeDefined();
    expect(first.states).toBeUndefined();
    expect(fast.events).toEqual([]);
    const counts = countStates((await monitor.evaluate(defaultPolicy(), 'none')).evaluation.views);
    expect([counts.get('ESTABLISHED'), counts.get('LISTEN'), counts.get('CLOSE_WAIT'), counts.get('FIN_WAIT_2')]).toEqual([7, 7, 3, 3]);
    const established = [...monitor.tracker.connections.values()].find((c) => c.row.state === 'ESTABLISHED')!;
    expect(established.lastSeenMs).toBe(first.takenAtMs);
  });

  it('confirms what a census found missing with a census at the next poll, then closes it', async () => {
    const { platform, monitor, tables, census } = host();
    monitor.pollInTiers({ censusIntervalMs: 60_000 });
    await monitor.poll();
    platform.nowValue += 60_000;
    tables.full = ssWithoutSocket(FULL, '127.0.0.1:56042'); // an ESTABLISHED client, gone
    const missed = await monitor.poll();
    expect(missed.events).toEqual([]); // missing from one dump: not closed yet
    platform.nowValue += 2000;
    const confirmed = await monitor.poll();
    expect(confirmed.events).toEqual([expect.objectContaining({ type: 'closed', lastState: 'ESTABLISHED' })]);
    platform.nowValue += 2000;
    await monitor.poll();
    expect(census()).toEqual([true, true, true, false]);
  });

  it('reads every state at every poll while the front end asks for it (the dashboard showing all states), and without tiers', async () => {
    const shown = host();
    let showAll = true;
    shown.monitor.pollInTiers({ censusIntervalMs: 60_000, censusEveryPoll: () => showAll });
    for (let i = 0; i < 3; i++) {
      await shown.monitor.poll();
      shown.platform.nowValue += 2000;
    }
    showAll = false;
    await shown.monitor.poll();
    expect(shown.census()).toEqual([true, true, true, false]);
    const plain = host();
    await plain.monitor.poll();
    plain.platform.nowValue += 2000;
    await plain.monitor.poll();
    expect(plain.census()).toEqual([true, true]);
  });

  it('a live poll closes nothing on one missing row: the next poll confirms it (a dump is not atomic)', async () => {
    const { platform, monitor, tables } = host();
    await monitor.poll();
    platform.nowValue += 2000;
    tables.full = ssWithoutSocket(FULL, '127.0.0.1:35170'); // the CLOSE_WAIT of 47537
    expect((await monitor.poll()).events).toEqual([]);
    platform.nowValue += 2000;
    tables.full = FULL; // listed again: it was there all along
    expect((await monitor.poll()).events).toEqual([]);
    platform.nowValue += 2000;
    tables.full = ssWithoutSocket(FULL, '127.0.0.1:35170');
    await monitor.poll();
    platform.nowValue += 2000;
    const closed = await monitor.poll();
    expect(closed.events).toEqual([expect.objectContaining({ type: 'closed', lastState: 'CLOSE_WAIT', connection: expect.objectContaining({ lastSeenMs: closed.takenAtMs - 4000 }) })]);
  });
});
