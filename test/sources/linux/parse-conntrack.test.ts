import { describe, expect, it } from 'vitest';
import { kernelStateAgeMs } from '../../../src/core/kernel-dwell.js';
import { TcpState } from '../../../src/core/tcp-state.js';
import { parseConntrack } from '../../../src/sources/linux/parse-conntrack.js';
import { detectInputFormat, parseCapture } from '../../../src/sources/captured-table.js';
import { UnusableInputError } from '../../../src/sources/unusable-input.js';
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

  it('offloaded entries (no timeout, no state): ESTABLISHED, marked offloaded, no timer, in every shape that prints them', () => {
    // Written for the test. The first line is issue 12's `conntrack -L` line; the others follow
    // ct_seq_show (/proc/net/nf_conntrack: `ipv4 2` prefix, zone=), `conntrack -L -o extended`, and
    // the NIC's [HW_OFFLOAD] flag; the last is an older kernel that still printed the state word.
    const text = [
      'tcp      6 src=192.0.2.59 dst=198.51.100.46 sport=51912 dport=5432 src=198.51.100.46 dst=192.0.2.59 sport=5432 dport=51912 [OFFLOAD] mark=0 use=2',
      'ipv4     2 tcp      6 src=192.0.2.60 dst=198.51.100.46 sport=51913 dport=5432 src=198.51.100.46 dst=192.0.2.60 sport=5432 dport=51913 [OFFLOAD] mark=0 zone=0 use=3',
      'ipv6     10 tcp      6 src=2001:0db8:0000:0000:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:0002 sport=40000 dport=443 src=2001:0db8:0000:0000:0000:0000:0000:0002 dst=2001:0db8:0000:0000:0000:0000:0000:0001 sport=443 dport=40000 [HW_OFFLOAD] mark=0 zone=0 use=3',
      'tcp      6 src=192.0.2.61 dst=198.51.100.46 sport=51914 dport=5432 packets=12 bytes=1500 src=198.51.100.46 dst=192.0.2.61 sport=5432 dport=51914 packets=10 bytes=9000 [HW_OFFLOAD] mark=0 use=2',
      'tcp      6 ESTABLISHED src=192.0.2.62 dst=198.51.100.46 sport=51915 dport=5432 src=198.51.100.46 dst=192.0.2.62 sport=5432 dport=51915 [OFFLOAD] mark=0 use=2',
    ].join('\n');
    const { rows, problems } = parseConntrack(text, TIMEOUTS);
    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.protocol, r.local.address, r.local.port, r.state, r.rawState, r.offload, r.secondsToExpiry, r.activity])).toEqual([
      ['tcp', '192.0.2.59', 51912, TcpState.ESTABLISHED, '[OFFLOAD]', 'software', undefined, undefined],
      ['tcp', '192.0.2.60', 51913, TcpState.ESTABLISHED, '[OFFLOAD]', 'software', undefined, undefined],
      ['tcp6', '2001:db8::1', 40000, TcpState.ESTABLISHED, '[HW_OFFLOAD]', 'hardware', undefined, undefined],
      ['tcp', '192.0.2.61', 51914, TcpState.ESTABLISHED, '[HW_OFFLOAD]', 'hardware', undefined, undefined],
      ['tcp', '192.0.2.62', 51915, TcpState.ESTABLISHED, 'ESTABLISHED', 'software', undefined, undefined],
    ]);
    expect(rows[3]).toMatchObject({ bytesSent: 1500, bytesReceived: 9000, unreplied: false });
    // No timer: nothing says how old the state is, so no idle time can be made up for it.
    expect(rows.map((r) => kernelStateAgeMs(r))).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('an entry with neither a timeout, a state nor an offload flag is a problem, not a row', () => {
    // Written for the test: an offload line with its flag cut off.
    const text = 'tcp      6 src=192.0.2.59 dst=198.51.100.46 sport=51912 dport=5432 src=198.51.100.46 dst=192.0.2.59 sport=5432 dport=51912 mark=0 use=2';
    expect(parseConntrack(text)).toEqual({ rows: [], problems: [{ line: 1, message: 'no state: neither a state word nor [OFFLOAD]' }] });
  });

  it("conntrack -L's own trailer: fewer entries than it counts is said (rows missing, not malformed); two runs add up; an empty table is not unusable", () => {
    // Written for the test, in the shape of `sudo conntrack -L 2>&1 | grep tcp` (VyOS flowtable docs):
    // the trailer goes to stderr, so it comes first, and counts the 5 entries grep dropped 4 of.
    const grepped = [
      'conntrack v1.4.6 (conntrack-tools): 5 flow entries have been shown.',
      'tcp      6 src=198.51.100.100 dst=192.0.2.100 sport=41676 dport=1122 src=192.0.2.100 dst=198.51.100.100 sport=1122 dport=41676 [OFFLOAD] mark=0 use=2',
      'tcp      6 100 FIN_WAIT src=10.0.0.1 dst=10.0.0.2',
    ].join('\n');
    const { rows, problems, missingEntries } = parseConntrack(grepped);
    expect(rows).toHaveLength(1);
    expect(missingEntries).toBe('line 1: conntrack says 5 flow entries were shown, but the text holds 2: 3 are missing (filtered out, e.g. by grep, or the capture was cut)');
    expect(problems).toEqual([{ line: 3, message: 'truncated entry: no complete original tuple' }]);

    const twoRuns = [
      'tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=443 src=10.0.0.2 dst=10.0.0.1 sport=443 dport=40000 [ASSURED] mark=0 use=1',
      'udp      17 29 src=10.0.0.1 dst=10.0.0.53 sport=5353 dport=53 [UNREPLIED] src=10.0.0.53 dst=10.0.0.1 sport=53 dport=5353 mark=0 use=1',
      'conntrack v1.4.8 (conntrack-tools): 2 flow entries have been shown.',
      'tcp      6 src=2001:db8::1 dst=2001:db8::2 sport=40001 dport=443 src=2001:db8::2 dst=2001:db8::1 sport=443 dport=40001 [OFFLOAD] mark=0 use=1',
      'conntrack v1.4.8 (conntrack-tools): 1 flow entries have been shown.',
    ].join('\n');
    expect(parseConntrack(twoRuns).problems).toEqual([]);
    expect(parseConntrack(twoRuns).missingEntries).toBeUndefined();
    expect(parseConntrack(twoRuns.split('\n').slice(0, 4).join('\n') + '\nconntrack v1.4.8 (conntrack-tools): 4 flow entries have been shown.').missingEntries).toBe(
      'line 3: conntrack says 6 flow entries were shown, but the text holds 3: 3 are missing (filtered out, e.g. by grep, or the capture was cut)',
    );

    expect(parseConntrack('conntrack v1.4.6 (conntrack-tools): 0 flow entries have been shown.\n')).toEqual({ rows: [], problems: [] });
    expect(() => parseConntrack('nothing here\n')).toThrow(UnusableInputError);
  });

  it('a capture of offloaded entries alone, or of an empty table, is recognised as conntrack', () => {
    // Written for the test: a router whose TCP flows all sit in a flowtable.
    const offloaded = [
      'tcp      6 src=192.0.2.59 dst=198.51.100.46 sport=51912 dport=5432 src=198.51.100.46 dst=192.0.2.59 sport=5432 dport=51912 [OFFLOAD] mark=0 use=2',
      'conntrack v1.4.6 (conntrack-tools): 1 flow entries have been shown.',
    ].join('\n');
    expect(detectInputFormat(offloaded)).toBe('conntrack');
    expect(detectInputFormat('conntrack v1.4.6 (conntrack-tools): 0 flow entries have been shown.\n')).toBe('conntrack');
    const { rows, notices } = parseCapture(offloaded, 'conntrack', 0, 'router.txt');
    expect(rows.map((r) => [r.state, r.offload])).toEqual([[TcpState.ESTABLISHED, 'software']]);
    expect(notices.filter((n) => n.includes('skipped') || n.includes('missing'))).toEqual([]);
  });
});
