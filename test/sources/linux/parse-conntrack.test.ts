import { describe, expect, it } from 'vitest';
import { kernelStateAgeMs } from '../../../src/core/kernel-dwell.js';
import { TcpState } from '../../../src/core/tcp-state.js';
import { parseConntrack } from '../../../src/sources/linux/parse-conntrack.js';
import { countBy, readFixture } from '../../fixture.js';

// The kernel's defaults, as /proc/sys/net/netfilter showed them on the capturing machine.
const TIMEOUTS = { SYN_SENT: 120, SYN_RECV: 60, ESTABLISHED: 432000, FIN_WAIT: 120, CLOSE_WAIT: 60, LAST_ACK: 30, TIME_WAIT: 120, CLOSE: 10 };

describe('parseConntrack', () => {
  it('a real nf_conntrack capture: every tcp entry (counted by hand), [UNREPLIED] half-open, time since the last packet', () => {
    const { rows, problems } = parseConntrack(readFixture('linux-nf-conntrack-park-sockets-kernel6.txt'), TIMEOUTS);
    expect(problems).toEqual([]);
    expect(countBy(rows, (r) => r.state)).toEqual({ ESTABLISHED: 4, CLOSE_WAIT: 3, SYN_SENT: 1 });
    const synSent = rows.find((r) => r.state === TcpState.SYN_SENT)!;
    expect(synSent).toMatchObject({ unreplied: true, secondsToExpiry: 114, local: { address: '127.0.0.1', port: 48891 }, remote: { port: 44101 } });
    expect(synSent.activity?.lastPacketAgoMs).toBe(6000);
    // A SYN_SENT entry is at least as old as its last packet.
    expect(kernelStateAgeMs(synSent)).toBe(6000);
    const v6 = rows.find((r) => r.protocol === 'tcp6')!;
    expect(v6).toMatchObject({ state: TcpState.CLOSE_WAIT, local: { address: '::1', port: 48668 }, unreplied: false });
    expect(v6.activity?.lastPeerSegmentAgoMs).toBe(6000);
    expect(rows.filter((r) => r.state === TcpState.ESTABLISHED).map((r) => r.activity?.lastSendAgoMs)).toEqual([6000, 1000, 6000, 6000]);
  });

  it('conntrack -L lines, other protocols skipped, unknown timeouts leave activity unknown, bad lines reported', () => {
    const text = [
      'tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=443 src=10.0.0.2 dst=10.0.0.1 sport=443 dport=40000 [ASSURED] mark=0 use=1 bytes=1200 bytes=5400',
      'udp      17 29 src=10.0.0.1 dst=10.0.0.53 sport=5353 dport=53 [UNREPLIED] src=10.0.0.53 dst=10.0.0.1 sport=53 dport=5353 mark=0 use=1',
      'tcp      6 100 FIN_WAIT src=10.0.0.1 dst=10.0.0.2',
      'tcp      6 100 FIN_WAIT src=10.0.0.1 dst=10.0.0.2 sport=40001 dport=443 src=10.0.0.2 dst=10.0.0.1 sport=443 dport=40001',
    ].join('\n');
    const { rows, problems } = parseConntrack(text, { ESTABLISHED: 432000 });
    expect(rows.map((r) => [r.state, r.rawState, r.activity?.lastSendAgoMs])).toEqual([
      [TcpState.ESTABLISHED, 'ESTABLISHED', 1000],
      [TcpState.FIN_WAIT_1, 'FIN_WAIT', undefined],
    ]);
    expect(rows[0]).toMatchObject({ bytesSent: 1200, bytesReceived: 5400 });
    expect(problems).toEqual([{ line: 3, message: 'truncated entry: no complete original tuple' }]);
  });
});
