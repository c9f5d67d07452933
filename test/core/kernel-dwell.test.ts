import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { kernelStateAgeMs } from '../../src/core/kernel-dwell.js';
import { parseProcNetTcp } from '../../src/sources/linux/parse-procfs.js';
import { parseSs } from '../../src/sources/linux/parse-ss.js';
import { readFixture } from '../fixture.js';

const base: SocketRow = { protocol: 'tcp', local: { address: '127.0.0.1', port: 1 }, remote: { address: '127.0.0.1', port: 2 }, state: 'ESTABLISHED', rawState: 'ESTAB' };

describe('first-sight dwell from kernel counters', () => {
  it('SYN_SENT in the ss capture: 4 linear + 3 exponential retransmits = 1+1+1+1+1+2+4 s, plus 0.356 s of the current 8 s RTO', () => {
    const row = parseSs(readFixture('linux-ss-tanoi-stuck-states-kernel6.txt')).rows.find((r) => r.state === 'SYN_SENT')!;
    expect(kernelStateAgeMs(row)).toBe(11_000 + 356);
  });

  it('SYN_SENT in the procfs capture of the same socket: backoff inferred from rto 8 s', () => {
    const row = parseProcNetTcp(readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt')).rows.find((r) => r.state === 'SYN_SENT')!;
    expect(kernelStateAgeMs(row)).toBe(11_000 + 390);
  });

  it('SYN_SENT with purely linear timeouts (rto still 1 s) is at least retransmits × 1 s', () => {
    const row: SocketRow = { ...base, state: 'SYN_SENT', retransmits: 3, rtoMs: 1000, timer: { name: 'on', remainingMs: 172 } };
    expect(kernelStateAgeMs(row)).toBe(3000 + 828);
    expect(kernelStateAgeMs({ ...row, timer: undefined, rtoMs: undefined })).toBe(3000);
  });

  it('SYN_SENT past TCP_RTO_MAX (tcp_syn_retries 12): 4 linear + 8 backed-off waits, the last one capped: 4 + (1+2+…+64) + 120 s, not ~120 s', () => {
    // As captured by a new-user pass: rto 120 s, backoff 8, 12 retransmissions; halving the capped
    // RTO 8 times gave rto0 0.47 s and a bound of ~124 s for a socket ~380 s old.
    const row: SocketRow = { ...base, state: 'SYN_SENT', retransmits: 12, backoff: 8, rtoMs: 120_000, timer: { name: 'on', remainingMs: 100_000 } };
    expect(kernelStateAgeMs(row)).toBe(4_000 + 127_000 + 120_000 + 20_000);
  });

  it('SYN_SENT: the bound never falls from one retransmission to the next, through the cap', () => {
    let last = 0;
    for (let n = 1; n <= 14; n++) {
      const backoff = Math.max(0, n - 4);
      const rtoMs = Math.min(1000 * 2 ** backoff, 120_000);
      // Just after the n-th retransmission (the whole current RTO left) and just before the next.
      for (const remainingMs of [rtoMs, 0]) {
        const age = kernelStateAgeMs({ ...base, state: 'SYN_SENT', retransmits: n, backoff, rtoMs, timer: { name: 'on', remainingMs } })!;
        expect(age).toBeGreaterThanOrEqual(last);
        last = age;
      }
    }
  });

  it('SYN_RECEIVED request socket (procfs timeout count 3, 3.51 s left of 8 s): 1+2+4 s + 4.49 s', () => {
    const row = parseProcNetTcp(readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt')).rows.find((r) => r.state === 'SYN_RECEIVED')!;
    expect(kernelStateAgeMs(row)).toBe(7000 + 4490);
  });

  it('SYN_RECEIVED from ss proves nothing: its count is SYN/ACK retransmissions, not timeouts', () => {
    const row = parseSs(readFixture('linux-ss-tanoi-stuck-states-kernel6.txt')).rows.find((r) => r.state === 'SYN_RECEIVED')!;
    expect(kernelStateAgeMs(row)).toBeUndefined();
  });

  it('CLOSE_WAIT / FIN_WAIT_2 / CLOSING: at least the time since the last segment from the peer', () => {
    for (const state of ['CLOSE_WAIT', 'FIN_WAIT_2', 'CLOSING'] as const) {
      expect(kernelStateAgeMs({ ...base, state, activity: { lastPeerSegmentAgoMs: 600_000, lastReceiveAgoMs: 900_000 } })).toBe(600_000);
    }
    expect(kernelStateAgeMs({ ...base, state: 'CLOSE_WAIT' })).toBeUndefined();
    // FIN_WAIT_1 / LAST_ACK: the last ACK may predate our FIN, so it proves nothing.
    expect(kernelStateAgeMs({ ...base, state: 'LAST_ACK', activity: { lastPeerSegmentAgoMs: 600_000 } })).toBeUndefined();
  });

  it('TIME_WAIT: 60 s minus what is left of the timewait timer', () => {
    expect(kernelStateAgeMs({ ...base, state: 'TIME_WAIT', timer: { name: 'timewait', remainingMs: 19_890 } })).toBe(40_110);
  });

  it('ESTABLISHED: at least as old as its oldest activity stamp (set at establishment)', () => {
    const accepted = parseSs(readFixture('linux-ss-tanoi-stuck-states-kernel6.txt')).rows.find((r) => r.local.port === 44865 && r.remote.port === 56264)!;
    expect(kernelStateAgeMs(accepted)).toBe(11_928);
    expect(kernelStateAgeMs({ ...base, activity: { lastSendAgoMs: 5, lastReceiveAgoMs: 9000 } })).toBe(9000);
    expect(kernelStateAgeMs(base)).toBeUndefined();
  });

  it('LISTEN: no state age from the kernel', () => {
    expect(kernelStateAgeMs({ ...base, state: 'LISTEN' })).toBeUndefined();
  });
});

// Rows written for these tests in the shape `ss -tanoi` gives a socket after close() with the peer
// gone silent: timer:(on,REMAINING,N) rto:R backoff:B, Send-Q 1 (only the FIN is unacknowledged).
describe('first-sight dwell of FIN_WAIT_1 and LAST_ACK from the FIN retransmit back-off', () => {
  const fin: SocketRow = { ...base, sendQueue: 1, retransmits: 4, backoff: 4, rtoMs: 3264, timer: { name: 'on', remainingMs: 1264 } };

  it('4 backed-off retransmissions from an RTO of 204 ms: 204 × (1+2+4+8) ms, plus 2 s of the current 3.264 s', () => {
    for (const state of ['FIN_WAIT_1', 'LAST_ACK'] as const) expect(kernelStateAgeMs({ ...fin, state })).toBe(204 * 15 + 2000);
  });

  it('with no back-off count (procfs), every retransmission is taken as backed off: the same figure, and never more', () => {
    expect(kernelStateAgeMs({ ...fin, state: 'FIN_WAIT_1', backoff: undefined })).toBe(204 * 15 + 2000);
    // Two of the four were linear (thin-stream timeouts): the true age is longer than the bound.
    const linear = { ...fin, state: 'FIN_WAIT_1' as const, backoff: 2, rtoMs: 816, timer: { name: 'on' as const, remainingMs: 16 } };
    expect(kernelStateAgeMs(linear)).toBe(204 * (2 + 3) + 800);
    expect(kernelStateAgeMs({ ...linear, backoff: undefined })!).toBeLessThanOrEqual(kernelStateAgeMs(linear)!);
  });

  it('proves nothing while data queued before the FIN is outstanding (Send-Q > 1), or without a retransmit timer', () => {
    expect(kernelStateAgeMs({ ...fin, state: 'FIN_WAIT_1', sendQueue: 5000 })).toBeUndefined();
    expect(kernelStateAgeMs({ ...fin, state: 'LAST_ACK', timer: { name: 'persist', remainingMs: 100 } })).toBeUndefined();
    expect(kernelStateAgeMs({ ...fin, state: 'LAST_ACK', timer: undefined })).toBeUndefined();
  });

  it('proves nothing without the current RTO (netstat -o: `on (1.26/4/0)`), where 1 s a step would over-claim', () => {
    expect(kernelStateAgeMs({ ...fin, state: 'FIN_WAIT_1', backoff: undefined, rtoMs: undefined })).toBeUndefined();
  });
});
