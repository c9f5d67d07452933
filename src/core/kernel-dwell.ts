import type { SocketRow } from './connection.js';
import { TcpState } from './tcp-state.js';

// What the kernel's own counters prove about how long a socket has been in its state, at first
// sight, before any polling history exists (docs/tcp-facts.md#procnettcp-and-tcp6). Every figure is a lower bound.

const INITIAL_RTO_MS = 1000; // TCP_TIMEOUT_INIT
const MAX_RTO_MS = 120_000; // TCP_RTO_MAX

/**
 * Minimum milliseconds the socket has provably been in its current state, or undefined where
 * the kernel data says nothing.
 */
export function kernelStateAgeMs(row: SocketRow): number | undefined {
  const fromCounters = ageFromCountersMs(row);
  const sincePacket = row.activity?.lastPacketAgoMs;
  if (sincePacket === undefined) return fromCounters;
  return fromCounters === undefined ? sincePacket : Math.max(fromCounters, sincePacket);
}

function ageFromCountersMs(row: SocketRow): number | undefined {
  switch (row.state) {
    case TcpState.LISTEN:
      // A listener never leaves LISTEN: its age is its dwell (Windows CreationTime).
      return row.createdAgoMs;
    case TcpState.SYN_SENT:
      // The connection's creation is the connect() that entered SYN_SENT: its age is the dwell.
      return row.createdAgoMs ?? synSentAgeMs(row);
    case TcpState.SYN_RECEIVED:
      return row.createdAgoMs ?? synReceivedAgeMs(row);
    case TcpState.FIN_WAIT_1:
    case TcpState.LAST_ACK:
      return finRetransmitAgeMs(row);
    case TcpState.CLOSE_WAIT:
    case TcpState.FIN_WAIT_2:
    case TcpState.CLOSING:
      // Entered on a segment from the peer (its FIN, or the ACK of ours); lastack is the time
      // since the latest such segment, so the state is at least that old.
      return row.activity?.lastPeerSegmentAgoMs;
    case TcpState.ESTABLISHED: {
      // The kernel stamps last-send and last-receive when the connection is established, so the
      // oldest of the stamps is no older than the state itself.
      const activity = row.activity;
      if (!activity) return undefined;
      return maxDefined(maxDefined(activity.lastSendAgoMs, activity.lastReceiveAgoMs), activity.lastPeerSegmentAgoMs);
    }
    case TcpState.TIME_WAIT:
      // The timewait timer runs TCP_TIMEWAIT_LEN (60 s) from entry.
      return row.timer?.name === 'timewait' ? Math.max(0, 60_000 - row.timer.remainingMs) : undefined;
    default:
      return undefined;
  }
}

/**
 * SYN_SENT: n SYN retransmissions have happened, each after a full RTO. Kernels ≥ 6.x retransmit
 * the first `tcp_syn_linear_timeouts` SYNs with a constant RTO and back off exponentially after.
 * With b unknown (procfs) it is inferred from the current RTO, assuming rto0 = 1 s.
 */
function synSentAgeMs(row: SocketRow): number | undefined {
  const rto = row.rtoMs;
  const backoff = row.backoff ?? (rto !== undefined && rto >= INITIAL_RTO_MS ? Math.round(Math.log2(rto / INITIAL_RTO_MS)) : 0);
  // The first SYN's RTO is TCP_TIMEOUT_INIT (tcp_connect → tcp_timeout_init, net/ipv4/tcp_output.c;
  // only a BPF sock_ops program changes it): once the RTO is capped, halving it b times would
  // understate it, and the bound would fall at each capped retransmission.
  return backedOffAgeMs(row, backoff, INITIAL_RTO_MS, INITIAL_RTO_MS);
}

/**
 * FIN_WAIT_1 and LAST_ACK are entered when our FIN is sent (tcp_close → tcp_send_fin), and stay
 * while it is unacknowledged. When the FIN is all that is outstanding (Send-Q 1: write_seq − snd_una
 * counts the FIN's one sequence number), the retransmit timer and its count belong to the FIN, so
 * its back-off proves the state's age. With data queued before it, the retransmissions may be of
 * data sent before the close: they prove nothing about the state.
 * Nor does the persist timer (zero window: ss `timer:(persist,…)`, procfs tr 4): its probe count
 * (icsk_probes_out) is reset by every ACK that answers a probe (net/ipv4/tcp_timer.c
 * tcp_probe_timer, RFC 1122 4.2.2.17), and its back-off counts probes since the window closed,
 * which may be long before close() queued the FIN behind the unsent data (tcp_close sets the state
 * whatever the window): no lower bound on the state's age follows from either.
 */
function finRetransmitAgeMs(row: SocketRow): number | undefined {
  if (row.sendQueue !== 1 || row.timer?.name !== 'on') return undefined;
  // The FIN's first RTO follows the RTT (200 ms on a LAN), not the SYN's 1 s: without the current
  // RTO (net-tools netstat -o prints the timer and count, no RTO) nothing bounds it.
  if (row.rtoMs === undefined) return undefined;
  // Without a back-off count (procfs), every retransmission is taken as backed off: of the ways
  // to reach the current RTO that gives the shortest total, so the bound still holds.
  return backedOffAgeMs(row, row.backoff ?? row.retransmits ?? 0, Infinity);
}

/**
 * Time spent retransmitting the oldest outstanding segment: n retransmissions, each after a full
 * RTO (icsk_rto doubles on every expiry but the `linear` ones, up to TCP_RTO_MAX:
 * tcp_retransmit_timer), so with b of them backed off the waits were rto0 × (n − b) constant ones
 * and min(rto0 × 2^i, TCP_RTO_MAX) for i < b, plus the part of the current RTO already spent. rto0
 * is the current RTO halved b times, at most `initialRtoCapMs`. Once the RTO has reached
 * TCP_RTO_MAX that halving only says rto0 ≥ 120 s / 2^b, so the bound would be ~120 s at every
 * retransmission however many were capped; `cappedInitialRtoMs` is rto0 where the kernel fixes it
 * (the SYN's), used then. `backoffSteps` is b where the source reports it (ss `backoff:`), the
 * caller's assumption where not.
 */
function backedOffAgeMs(row: SocketRow, backoffSteps: number, initialRtoCapMs: number, cappedInitialRtoMs?: number): number | undefined {
  const n = row.retransmits;
  if (n === undefined) return undefined;
  const rto = row.rtoMs;
  const backoff = Math.min(Math.max(backoffSteps, 0), n);
  let initialRto = rto !== undefined && rto > 0 ? Math.min(rto / 2 ** backoff, initialRtoCapMs) : Math.min(INITIAL_RTO_MS, initialRtoCapMs);
  if (cappedInitialRtoMs !== undefined && rto !== undefined && rto >= MAX_RTO_MS) initialRto = Math.max(initialRto, cappedInitialRtoMs);
  let waited = initialRto * (n - backoff);
  for (let i = 0; i < backoff; i++) waited += Math.min(initialRto * 2 ** i, MAX_RTO_MS);
  return waited + spentOfCurrentTimer(row, rto);
}

/**
 * SYN_RECEIVED request sockets (procfs's retrnsmt, the request's timeout count; the ss source takes
 * it from procfs too, see request-sockets.ts). The SYN/ACK
 * timer backs off exponentially from 1 s: after n expiries the socket is ≥ 2^n − 1 s old, plus the
 * spent part of the current timeout.
 */
function synReceivedAgeMs(row: SocketRow): number | undefined {
  const n = row.retransmits;
  if (n === undefined || row.timer?.name !== 'on') return undefined;
  const currentTimeout = Math.min(INITIAL_RTO_MS * 2 ** n, MAX_RTO_MS);
  // ss prints the request's SYN/ACK retransmissions, not its timeouts: a count that does not fit
  // the remaining time is not the timeout count, and proves nothing.
  if (row.timer.remainingMs > currentTimeout) return undefined;
  let waited = 0;
  for (let i = 0; i < n; i++) waited += Math.min(INITIAL_RTO_MS * 2 ** i, MAX_RTO_MS);
  return waited + spentOfCurrentTimer(row, currentTimeout);
}

function spentOfCurrentTimer(row: SocketRow, timeoutMs: number | undefined): number {
  if (row.timer?.name !== 'on' || timeoutMs === undefined) return 0;
  return Math.max(0, timeoutMs - row.timer.remainingMs);
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  return b === undefined ? a : Math.max(a, b);
}
