import type { FlaggedEvent, MonitorEvent } from '../app/event-stream.js';
import type { AlertNotification } from '../core/alerts.js';
import { netnsText, ownerLabel, type SocketRow } from '../core/connection.js';
import { formatDuration, formatThreshold } from '../core/duration.js';
import type { Owner } from '../core/evaluate.js';
import { plural } from '../core/plural.js';
import type { Policy } from '../core/policy.js';
import type { TrackerEvent } from '../core/tracker.js';
import { flowWithOwner, measureName } from './check-text.js';
import { iso, netnsToJson, seconds } from './json.js';
import { sanitizeLine } from './sanitize.js';

// The event log's JSON lines (`watch --events`, `--log FILE`): one object per event, `event` first.
// A public interface like the JSON output: fields may be added, never renamed or removed
// (test/output/event-lines-pinned.test.ts holds one line of each type, byte for byte).

interface EndpointJson {
  address: string;
  port: number;
}

/** The fields every connection event starts with. */
interface ConnectionEventJson {
  at: string;
  protocol: string;
  local: EndpointJson;
  remote: EndpointJson;
  pid: number | null;
  process: string | null;
  /** `--netns` rows only (an added field). */
  netns?: ReturnType<typeof netnsToJson>;
}

/** One event-log line, by `event`. */
export type EventJson =
  | ({ event: 'opened' } & ConnectionEventJson & { state: string; firstSight: boolean })
  | ({ event: 'state-changed' } & ConnectionEventJson & { from: string; to: string })
  | ({ event: 'closed' } & ConnectionEventJson & { lastState: string; lifetimeSeconds: number; bytesSent: number | null; bytesReceived: number | null })
  | {
      event: 'flagged';
      at: string;
      kind: string;
      severity: string;
      subject: string;
      key: string;
      escalated: boolean;
      measured: number | null;
      threshold: number | null;
      rule: string | null;
      deescalated?: true;
    }
  | { event: 'resolved'; at: string; kind: string; severity: string; subject: string; key: string; flaggedSeconds: number; dwellSeconds: number | null }
  | { event: 'poll-failed'; at: string; source: string; error: string }
  | { event: 'netns-gone'; at: string; netns: ReturnType<typeof netnsToJson>; closed: number };

/** The JSON line's object for `event` (key order is the line's field order). */
export function eventToJson(event: MonitorEvent): EventJson {
  switch (event.type) {
    case 'opened':
    case 'state-changed':
    case 'closed':
      return trackerEventToJson(event);
    case 'flagged':
      return flaggedToJson(event.notification, event.atMs);
    case 'resolved':
      return resolvedToJson(event.notification, event.atMs);
    case 'poll-failed':
      return { event: 'poll-failed', at: iso(event.atMs), source: event.source, error: event.error };
    case 'netns-gone':
      return { event: 'netns-gone', at: iso(event.atMs), netns: netnsToJson(event.netns), closed: event.closed };
  }
}

function trackerEventToJson(event: TrackerEvent): EventJson {
  const { row } = event.connection;
  const base = (name: string) => ({
    event: name,
    at: iso(event.atMs),
    protocol: row.protocol,
    local: { address: row.local.address, port: row.local.port },
    remote: { address: row.remote.address, port: row.remote.port },
    pid: row.pid ?? null,
    process: row.process ?? null,
    ...(row.netns ? { netns: netnsToJson(row.netns) } : {}),
  });
  switch (event.type) {
    case 'opened':
      return { ...base('opened'), event: 'opened', state: row.state, firstSight: event.firstSight };
    case 'state-changed':
      return { ...base('state-changed'), event: 'state-changed', from: event.from, to: event.to };
    case 'closed':
      // In the spirit of the ASA teardown line: how long it lived, how it ended, what it carried.
      return {
        ...base('closed'),
        event: 'closed',
        lastState: event.lastState,
        lifetimeSeconds: seconds(event.lifetimeMs),
        bytesSent: event.bytesSent ?? null,
        bytesReceived: event.bytesReceived ?? null,
      };
  }
}

/** The fields an alert's event starts with, in the line's order. */
function alertBase<E extends 'flagged' | 'resolved'>(event: E, n: AlertNotification, atMs: number) {
  return { event, at: iso(atMs), kind: n.kind, severity: n.severity, subject: n.subject, key: n.key };
}

function resolvedToJson(n: AlertNotification, atMs: number): EventJson {
  return {
    ...alertBase('resolved', n, atMs),
    flaggedSeconds: seconds(atMs - n.firstFlaggedMs),
    dwellSeconds: n.lastDwellMs === undefined ? null : seconds(n.lastDwellMs),
  };
}

function flaggedToJson(n: AlertNotification, atMs: number): EventJson {
  return {
    ...alertBase('flagged', n, atMs),
    escalated: n.change === 'escalated',
    measured: n.current?.measured ?? null,
    threshold: n.current?.threshold ?? null,
    rule: n.current?.rule ?? null,
    // Added, on a fall only (the lines of every other change stay as released): its severity fell and it is still flagged.
    ...(n.change === 'deescalated' ? { deescalated: true as const } : {}),
  };
}

/**
 * One human line per event, for `watch` without --events; sanitised (the JSON lines stay exact).
 * `owner`: the owner a lookup found for the connection the event is about (a flagged event's
 * session too); a row's own owner comes first.
 */
export function formatEventLine(event: MonitorEvent, owner?: Owner): string {
  return sanitizeLine(`${iso(event.atMs)} ${eventText(event, owner)}`);
}

function eventText(event: MonitorEvent, owner: Owner | undefined): string {
  const flow = (r: SocketRow) => flowWithKeptOwner(r, owner);
  switch (event.type) {
    case 'opened':
      return `opened  ${event.connection.row.state} ${flow(event.connection.row)}`;
    case 'state-changed':
      return `changed ${event.from} -> ${event.to} ${flow(event.connection.row)}`;
    case 'closed':
      return `closed  ${flow(event.connection.row)} after ${seconds(event.lifetimeMs)}s, last ${event.lastState}`;
    case 'flagged':
      return flaggedText(event, owner);
    case 'resolved': {
      const n = event.notification;
      const stuck = n.lastDwellMs === undefined ? '' : ` stuck ${seconds(n.lastDwellMs)}s when last seen,`;
      return `resolved ${n.kind}: ${n.subject}${stuck} flagged for ${seconds(event.atMs - n.firstFlaggedMs)}s`;
    }
    case 'poll-failed':
      return `poll failed (source ${event.source}): ${event.error}`;
    case 'netns-gone':
      return `gone    network namespace ${netnsText(event.netns)} (net:[${event.netns.inode}]): ${plural(event.closed, 'connection')} closed`;
  }
}

/** What a line shows of a row's flow (flowWithOwner). */
type FlowOfRow = Pick<SocketRow, 'local' | 'remote' | 'state' | 'netns' | 'pid' | 'process'>;

/**
 * The row's flow as a line shows it: with `owner` where the row carries none of its own. Not a
 * copy of the whole row (a spread of every field was ~1 KB a line, and `watch`'s first poll may
 * print ~86,000 flagged lines): the fields the flow shows (the state too: a listener's peer reads `0.0.0.0:*`).
 */
function withOwner(row: SocketRow, owner: Owner | undefined): FlowOfRow {
  if (!owner || row.pid !== undefined) return row;
  const flow: FlowOfRow = { local: row.local, remote: row.remote, state: row.state, pid: owner.pid, process: owner.process };
  if (row.netns) flow.netns = row.netns;
  return flow;
}

/**
 * Whether `owner`, kept by `watch` from an earlier poll, is not the row's owner now: the row carries
 * none and its inode is 0, so no file, and no process, holds the socket (an orphan: LAST_ACK or
 * FIN_WAIT after close(), docs/tcp-facts.md#procnettcp-and-tcp6). A rule on process names did not
 * apply to it, so the line must not name the owner as if it held it now.
 */
function ownerIsFormer(row: SocketRow, owner: Owner | undefined): owner is Owner {
  return owner !== undefined && row.pid === undefined && row.inode === 0;
}

/** The flow and its owner: the kept owner of an orphaned socket as the last one (`(no process holds it now; last held by python3[812])`). */
function flowWithKeptOwner(row: SocketRow, owner: Owner | undefined): string {
  if (ownerIsFormer(row, owner)) return `${flowWithOwner(row)} (no process holds it now; last held by ${ownerLabel(owner)})`;
  return flowWithOwner(withOwner(row, owner));
}

/**
 * `WARNING half-close: CLOSE_WAIT a -> b python3[812] half-close timer 1m5s > 1m, 2m in state (rule
 * default, dwell kernel)`: the owner where known, what was measured against which threshold, and
 * how the dwell is known (observed entering the state, the kernel's counters, or a lower bound
 * since first sight). A source without segment times measures the half-close timer as time in state.
 */
function flaggedText(event: FlaggedEvent, owner: Owner | undefined): string {
  const n = event.notification;
  const head = `${n.severity.toUpperCase()} ${n.kind}${n.change === 'escalated' ? ' (escalated)' : n.change === 'deescalated' ? ' (down from critical)' : ''}`;
  const current = n.current;
  const view = event.view;
  const flag = view?.flag;
  if (view && flag && flag.kind !== 'count') {
    const measure = measureName(view, flag.kind);
    const dwell = measure === 'in state' || view.timing.dwellMs === flag.measured ? '' : `, ${formatDuration(view.timing.dwellMs)} in state`;
    return `${head}: ${view.row.state} ${flowWithKeptOwner(view.row, owner)} ${measure} ${formatDuration(flag.measured)} > ${formatDuration(flag.thresholdMs)}${dwell} (rule ${flag.rule}, dwell ${view.connection.dwellSource})`;
  }
  if (current && n.kind === 'count') return `${head}: ${n.subject} > ${current.threshold} (rule ${current.rule})`;
  return `${head}: ${n.subject}`;
}

/**
 * The line `watch` starts with, after its first poll: what it reads, how often, what it counts as
 * stuck, and how many connections there are, so a quiet terminal is known to be watching.
 * `2026-11-21T05:30:00.000Z watching 25 connections (7 flagged) through ss every 5s; warning at half-open 30s, half-close 1m, idle 1h`;
 * with `replay` (`--input`: the captured tables are replayed without waiting) `through input (captured tables, replayed one after another)`.
 */
export function formatWatchStart(start: { atMs: number; source: string; intervalMs: number; connections: number; flagged: number; policy: Policy; replay?: boolean }): string {
  const { policy } = start;
  const limit = (ms: number | undefined) => (ms === undefined ? undefined : formatThreshold(ms));
  const set = (t: { halfOpenMs?: number; halfCloseMs?: number; idleMs?: number }) =>
    (
      [
        ['half-open', limit(t.halfOpenMs)],
        ['half-close', limit(t.halfCloseMs)],
        ['idle', limit(t.idleMs)],
      ] as const
    )
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ');
  const critical = set(policy.critical);
  const rules = policy.rules.length + policy.counts.length;
  return sanitizeLine(
    `${iso(start.atMs)} watching ${plural(start.connections, 'connection')} (${start.flagged} flagged) through ${start.source} ${start.replay ? '(captured tables, replayed one after another)' : `every ${formatDuration(start.intervalMs)}`}; ` +
      `warning at ${set(policy.warning)}${critical ? `; critical at ${critical}` : ''}${rules ? `; ${plural(rules, 'rule')} from the config` : ''}`,
  );
}
