import { describe, expect, it } from 'vitest';
import { STUCK_STATES } from '../../src/core/tcp-state.js';
import { NetlinkSource } from '../../src/sources/linux/netlink.js';
import { TCPDIAG_GETSOCK } from '../../src/sources/linux/parse-sock-diag.js';
import { parseSs } from '../../src/sources/linux/parse-ss.js';
import { procfsSource } from '../../src/sources/linux/procfs.js';
import { ssSource, ssStateFilter } from '../../src/sources/linux/ss.js';
import { FakePlatform, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';
import { capturedReplyTo, requestExtensions, requestStates, requestType } from './linux/captured-kernel.js';

// Tiered polling (issue 15): what a fast poll asks each Linux source for, through the platform and
// channel seams, and what the reading then says it covered.

const STUCK_FILTER = ['state', 'syn-sent', 'state', 'syn-recv', 'state', 'fin-wait-1', 'state', 'fin-wait-2', 'state', 'close-wait', 'state', 'closing', 'state', 'last-ack'];

describe('netlink: the fast poll is filtered in the kernel (idiag_states)', () => {
  /** A channel that keeps each request and answers it with the captured dumps, as the kernel would. */
  function recordingChannel() {
    const requests: Uint8Array[] = [];
    const open = () => ({
      dump: async ({ request }: { request: Uint8Array }, onDatagram: (bytes: Uint8Array) => void) => {
        requests.push(request);
        onDatagram(capturedReplyTo(request));
      },
      close: () => undefined,
    });
    return { requests, open };
  }

  it('asks for the stuck states only, tcp_info included, and says so in the reading', async () => {
    const channel = recordingChannel();
    const reading = await new NetlinkSource({ openChannel: channel.open }).read(new FakePlatform(), { procRoot: '/proc' }, { states: STUCK_STATES });
    // Kernel states 2 SYN_SENT, 3 SYN_RECV, 4 FIN_WAIT1, 5 FIN_WAIT2, 8 CLOSE_WAIT, 9 LAST_ACK,
    // 11 CLOSING, 12 NEW_SYN_RECV (request sockets): 0b1_1011_0011_1100, worked out by hand.
    // One walk of both families' tables (TCPDIAG_GETSOCK, AF_UNSPEC).
    expect(channel.requests.map(requestType)).toEqual([TCPDIAG_GETSOCK]);
    expect(channel.requests.map(requestStates)).toEqual([0x1b3c]);
    expect(channel.requests.map((r) => requestExtensions(r) & 2)).toEqual([2]); // 1 << (INET_DIAG_INFO (2) - 1)
    expect(reading.states).toEqual(STUCK_STATES);
  });

  it('a census asks for every state (bits 1 to 12) and covers them all', async () => {
    const channel = recordingChannel();
    const reading = await new NetlinkSource({ openChannel: channel.open }).read(new FakePlatform(), { procRoot: '/proc' }, {});
    expect(channel.requests.map(requestStates)).toEqual([0x1ffe]);
    expect(new Set(reading.rows.map((r) => r.protocol))).toEqual(new Set(['tcp', 'tcp6']));
    expect(reading.states).toBeUndefined();
  });
});

describe('ss: the fast poll uses its state filter', () => {
  it('runs the fixed argv followed by one `state` word per stuck state, and the reading covers those', async () => {
    const platform = new FakePlatform();
    platform.files.set('/proc/self/mounts', 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n');
    platform.commands = [ssAnswers(readFixture('linux-ss-tanoie-state-filter-stuck-kernel6.txt'))];
    const fast = await ssSource.read(platform, { procRoot: '/proc' }, { states: STUCK_STATES });
    expect(platform.ran[0]).toEqual(['ss', '-t', '-a', '-n', '-o', '-i', '-e', ...STUCK_FILTER]);
    expect(fast.states).toEqual(STUCK_STATES);
    expect(fast.rows.map((r) => r.state).sort()).toEqual(['CLOSE_WAIT', 'FIN_WAIT_2']);
    const census = await ssSource.read(platform, { procRoot: '/proc' });
    expect(platform.ran[1]).toEqual(['ss', '-t', '-a', '-n', '-o', '-i', '-e']);
    expect(census.states).toBeUndefined();
  });

  it('filters nothing for one state (ss would drop its State column) or a state ss has no word for', () => {
    expect(ssStateFilter(['CLOSE_WAIT'])).toEqual([]);
    expect(ssStateFilter(['CLOSE_WAIT', 'DELETE_TCB'])).toEqual([]);
    expect(ssStateFilter(undefined)).toEqual([]);
    expect(ssStateFilter(['CLOSE_WAIT', 'LAST_ACK'])).toEqual(['state', 'close-wait', 'state', 'last-ack']);
  });

  it('parses the real filtered output: the State column is still there', () => {
    const { rows, problems } = parseSs(readFixture('linux-ss-tanoie-state-filter-stuck-kernel6.txt'));
    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.state, r.local.port, r.inode])).toEqual([
      ['CLOSE_WAIT', 5000, 3999680],
      ['FIN_WAIT_2', 39998, 3999679],
    ]);
  });
});

describe('procfs cannot filter', () => {
  it('reads every state whatever is asked, and says it covered them all', async () => {
    const platform = new FakePlatform();
    platform.files.set('/proc/net/tcp', readFixture('linux-proc-net-tcp-jc.txt'));
    const reading = await procfsSource.read(platform, { procRoot: '/proc' }, { states: STUCK_STATES });
    expect(reading.states).toBeUndefined();
    expect(new Set(reading.rows.map((r) => r.state)).has('LISTEN')).toBe(true);
  });
});
