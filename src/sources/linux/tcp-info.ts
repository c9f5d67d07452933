import type { SocketActivity, SocketRow } from '../../core/connection.js';
import { TcpState } from '../../core/tcp-state.js';

// struct tcp_info (linux/tcp.h) onto a row: ss prints it as text (parse-ss.ts), sock_diag sends it
// as bytes (parse-sock-diag.ts); each parser reads its own form, and both hand the values here.

/** tcp_info's values in the row's names and units (ms, segments, bytes); undefined: not known, left unset. */
export interface TcpInfoValues extends Pick<SocketRow, 'rtoMs' | 'rttMs' | 'rttVarMs' | 'totalRetransmits' | 'backoff' | 'unacked' | 'lost' | 'bytesSent' | 'bytesReceived'> {
  /** tcpi_last_data_sent (ss `lastsnd:`), ms ago. */
  lastDataSentMs?: number;
  /** tcpi_last_data_recv (ss `lastrcv:`), ms ago. */
  lastDataRecvMs?: number;
  /** tcpi_last_ack_recv (ss `lastack:`), ms ago. */
  lastAckRecvMs?: number;
}

// No data can have flowed in these states, so the kernel's last* stamps are unset there.
const NO_DATA_STATES: ReadonlySet<string> = new Set([TcpState.SYN_SENT, TcpState.SYN_RECEIVED, TcpState.LISTEN, TcpState.CLOSED]);

/**
 * Sets the known values on `row`, and its activity from the last* stamps: none in a state where no
 * data can have flowed, and a stamp longer ago than the host has been up (`uptimeMs`) was never set
 * (SYN-SENT shows jiffies minus an unset stamp, e.g. lastsnd:4294938568). Mutates `row`.
 */
export function applyTcpInfo(row: SocketRow, info: TcpInfoValues, uptimeMs: number | undefined): void {
  if (info.rtoMs !== undefined) row.rtoMs = info.rtoMs;
  if (info.rttMs !== undefined) row.rttMs = info.rttMs;
  if (info.rttVarMs !== undefined) row.rttVarMs = info.rttVarMs;
  if (info.totalRetransmits !== undefined) row.totalRetransmits = info.totalRetransmits;
  if (info.backoff !== undefined) row.backoff = info.backoff;
  if (info.unacked !== undefined) row.unacked = info.unacked;
  if (info.lost !== undefined) row.lost = info.lost;
  if (info.bytesSent !== undefined) row.bytesSent = info.bytesSent;
  if (info.bytesReceived !== undefined) row.bytesReceived = info.bytesReceived;
  const activity = activityOf(row.state, info, uptimeMs);
  if (activity) row.activity = activity;
}

/** The row's activity from tcp_info's last* stamps (see applyTcpInfo); undefined in a state where no data can have flowed. */
export function activityOf(state: SocketRow['state'], info: Pick<TcpInfoValues, 'lastDataSentMs' | 'lastDataRecvMs' | 'lastAckRecvMs'>, uptimeMs: number | undefined): SocketActivity | undefined {
  if (NO_DATA_STATES.has(state)) return undefined;
  const lastSend = believable(info.lastDataSentMs, uptimeMs);
  const lastReceive = believable(info.lastDataRecvMs, uptimeMs);
  const lastAck = believable(info.lastAckRecvMs, uptimeMs);
  // The common case (every stamp set) as one literal: three fields inside a 48-byte object, where
  // one grown from {} keeps room for four (56 bytes; a connection's, kept as long as it is tracked).
  if (lastSend !== undefined && lastReceive !== undefined && lastAck !== undefined) return { lastSendAgoMs: lastSend, lastReceiveAgoMs: lastReceive, lastPeerSegmentAgoMs: lastAck };
  const activity: SocketActivity = {};
  if (lastSend !== undefined) activity.lastSendAgoMs = lastSend;
  if (lastReceive !== undefined) activity.lastReceiveAgoMs = lastReceive;
  if (lastAck !== undefined) activity.lastPeerSegmentAgoMs = lastAck;
  return activity;
}

/**
 * activityOf's stamps written into `into` (every field present, undefined where activityOf leaves
 * one out, lastPacketAgoMs never set): `into`, or undefined where activityOf gives none. For a
 * screen that judges a message before making a row of it (no object per message).
 */
export function writeActivity(
  into: SocketActivity,
  state: SocketRow['state'],
  info: Pick<TcpInfoValues, 'lastDataSentMs' | 'lastDataRecvMs' | 'lastAckRecvMs'>,
  uptimeMs: number | undefined,
): SocketActivity | undefined {
  if (NO_DATA_STATES.has(state)) return undefined;
  into.lastSendAgoMs = believable(info.lastDataSentMs, uptimeMs);
  into.lastReceiveAgoMs = believable(info.lastDataRecvMs, uptimeMs);
  into.lastPeerSegmentAgoMs = believable(info.lastAckRecvMs, uptimeMs);
  into.lastPacketAgoMs = undefined;
  return into;
}

/**
 * activityOf's answer written into `activity` where it has the same stamps present (a reused row's,
 * whose values move at each poll): the same object back, changed in place; else a new one (or
 * undefined) from activityOf. Mutates `activity` when it returns it.
 */
export function updateActivity(
  activity: SocketActivity | undefined,
  state: SocketRow['state'],
  info: Pick<TcpInfoValues, 'lastDataSentMs' | 'lastDataRecvMs' | 'lastAckRecvMs'>,
  uptimeMs: number | undefined,
): SocketActivity | undefined {
  if (!activity || NO_DATA_STATES.has(state) || activity.lastPacketAgoMs !== undefined) return activityOf(state, info, uptimeMs);
  const lastSend = believable(info.lastDataSentMs, uptimeMs);
  const lastReceive = believable(info.lastDataRecvMs, uptimeMs);
  const lastAck = believable(info.lastAckRecvMs, uptimeMs);
  // A stamp that appears or goes would change the object's own keys: a new object, as activityOf makes it.
  if (
    (lastSend === undefined) !== (activity.lastSendAgoMs === undefined) ||
    (lastReceive === undefined) !== (activity.lastReceiveAgoMs === undefined) ||
    (lastAck === undefined) !== (activity.lastPeerSegmentAgoMs === undefined)
  )
    return activityOf(state, info, uptimeMs);
  if (lastSend !== undefined && activity.lastSendAgoMs !== lastSend) activity.lastSendAgoMs = lastSend;
  if (lastReceive !== undefined && activity.lastReceiveAgoMs !== lastReceive) activity.lastReceiveAgoMs = lastReceive;
  if (lastAck !== undefined && activity.lastPeerSegmentAgoMs !== lastAck) activity.lastPeerSegmentAgoMs = lastAck;
  return activity;
}

function believable(value: number | undefined, uptimeMs: number | undefined): number | undefined {
  return value !== undefined && (uptimeMs === undefined || value <= uptimeMs) ? value : undefined;
}
