import { z } from 'zod';
import { connectionKey, type SocketRow } from '../core/connection.js';
import { ALL_TCP_STATES, type TcpState } from '../core/tcp-state.js';
import type { TrackedConnection, TrackerState } from '../core/tracker.js';
import type { ReportedAlert } from '../core/alerts.js';

// The check state file: the tracker carried between cron runs. Versioned so that a file written by
// another version is recognised as foreign and replaced rather than misread.

export const STATE_FORMAT = 'tcpdwell-check-state';
export const STATE_VERSION = 1;

export class StateDecodeError extends Error {
  override name = 'StateDecodeError';
}

const state = z.enum(ALL_TCP_STATES as [TcpState, ...TcpState[]]);
const endpoint = z.object({ address: z.string(), port: z.number().int().min(0).max(65535) });
const connection = z.object({
  protocol: z.enum(['tcp', 'tcp6']),
  local: endpoint,
  remote: endpoint,
  state,
  rawState: z.string(),
  inode: z.number().int().nonnegative().optional(),
  firstSeenMs: z.number(),
  lastSeenMs: z.number(),
  stateSinceMs: z.number(),
  dwellSource: z.enum(['observed', 'kernel', 'lower-bound']),
  transitions: z.array(z.object({ state, atMs: z.number() })),
  lastActivityMs: z.number().optional(),
  lastPeerSegmentMs: z.number().optional(),
  bytesSent: z.number().optional(),
  bytesReceived: z.number().optional(),
});
const reportedAlert = z.object({
  key: z.string(),
  kind: z.enum(['half-open', 'half-close', 'idle', 'count']),
  severity: z.enum(['warning', 'critical']),
  subject: z.string(),
  firstFlaggedMs: z.number(),
  lastNotifiedMs: z.number(),
});
const file = z.object({
  format: z.literal(STATE_FORMAT),
  version: z.number(),
  savedAt: z.string(),
  source: z.string(),
  lastPollMs: z.number().optional(),
  connections: z.array(z.unknown()),
  // Added after version 1 was released: absent in older files, which simply have no alerts yet.
  alerts: z.array(reportedAlert).optional(),
});

/** What `check` carries between runs: the tracker, and the alerts already reported. */
export interface CheckState {
  tracker: TrackerState;
  alerts: ReportedAlert[];
}

export function encodeTrackerState(tracker: TrackerState, source: string, savedAtMs: number, alerts: readonly ReportedAlert[] = []): string {
  const connections = [...tracker.connections.values()].map((c) => {
    const out: z.input<typeof connection> = {
      protocol: c.row.protocol,
      local: c.row.local,
      remote: c.row.remote,
      state: c.row.state,
      rawState: c.row.rawState,
      firstSeenMs: c.firstSeenMs,
      lastSeenMs: c.lastSeenMs,
      stateSinceMs: c.stateSinceMs,
      dwellSource: c.dwellSource,
      transitions: c.transitions,
    };
    if (c.row.inode !== undefined) out.inode = c.row.inode;
    if (c.lastActivityMs !== undefined) out.lastActivityMs = c.lastActivityMs;
    if (c.lastPeerSegmentMs !== undefined) out.lastPeerSegmentMs = c.lastPeerSegmentMs;
    if (c.row.bytesSent !== undefined) out.bytesSent = c.row.bytesSent;
    if (c.row.bytesReceived !== undefined) out.bytesReceived = c.row.bytesReceived;
    return out;
  });
  const body: z.input<typeof file> = { format: STATE_FORMAT, version: STATE_VERSION, savedAt: new Date(savedAtMs).toISOString(), source, connections, alerts: [...alerts] };
  if (tracker.lastPollMs !== undefined) body.lastPollMs = tracker.lastPollMs;
  return `${JSON.stringify(body)}\n`;
}

/** The tracker alone (explain's read-only history). */
export function decodeTrackerState(text: string): TrackerState {
  return decodeCheckState(text).tracker;
}

/** Throws StateDecodeError saying why the text is not a state file of this version. */
export function decodeCheckState(text: string): CheckState {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new StateDecodeError(`not JSON (${(error as Error).message})`);
  }
  const parsed = file.safeParse(data);
  if (!parsed.success) throw new StateDecodeError('not a tcpdwell state file');
  if (parsed.data.version !== STATE_VERSION) {
    throw new StateDecodeError(`written by another version of tcpdwell (state format ${parsed.data.version}, this one reads ${STATE_VERSION})`);
  }
  const connections = new Map<string, TrackedConnection>();
  parsed.data.connections.forEach((item, index) => {
    const c = connection.safeParse(item);
    if (!c.success) throw new StateDecodeError(`connection ${index} is malformed`);
    const { protocol, local, remote, state: s, rawState, inode, bytesSent, bytesReceived, ...timing } = c.data;
    const row: SocketRow = { protocol, local, remote, state: s, rawState };
    if (inode !== undefined) row.inode = inode;
    if (bytesSent !== undefined) row.bytesSent = bytesSent;
    if (bytesReceived !== undefined) row.bytesReceived = bytesReceived;
    const key = connectionKey(row);
    connections.set(key, { key, row, ...timing });
  });
  const tracker: TrackerState = { connections };
  if (parsed.data.lastPollMs !== undefined) tracker.lastPollMs = parsed.data.lastPollMs;
  return { tracker, alerts: parsed.data.alerts ?? [] };
}
