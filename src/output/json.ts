import { socketsOf, type NetnsLabel } from '../core/connection.js';
import type { CountFlag } from '../core/policy.js';
import type { CheckReport, ResetResult } from '../app/reports.js';
import { notificationToJson } from '../notify/notifiers.js';
import { findingToJson } from './findings.js';
import { countStates, type ConnectionView } from '../core/evaluate.js';
import type { TcpState } from '../core/tcp-state.js';

// The JSON contract (README "JSON output"): names may be added, never renamed or removed.

/** Milliseconds as seconds to one decimal, as every `…Seconds` field of the JSON and the event log gives them. */
export const seconds = (ms: number) => Math.round(ms / 100) / 10;
/** What `iso` gives for a stamp no date can show (not finite, or beyond ±8.64e15 ms): never a throw. */
export const UNKNOWN_TIME = 'unknown';
/**
 * A timestamp as the JSON and the event log give it: ISO 8601 in UTC; UNKNOWN_TIME for a stamp
 * that is not a time (`Date.toISOString` would throw a RangeError: a corrupt input must not crash
 * an output).
 */
export const iso = (ms: number): string => {
  // The rows of one poll share their times (first seen: the poll; many entered their state in the
  // same millisecond): a Date and its text per field cost a tenth of list --json at 40,000 rows.
  let text = isoTexts.get(ms);
  if (text === undefined) {
    if (isoTexts.size >= ISO_TEXTS_KEPT) isoTexts.clear();
    const date = new Date(ms);
    text = Number.isNaN(date.getTime()) ? UNKNOWN_TIME : date.toISOString();
    isoTexts.set(ms, text);
  }
  return text;
};
const ISO_TEXTS_KEPT = 4096;
const isoTexts = new Map<number, string>();

export function connectionToJson(view: ConnectionView) {
  const { row, connection, timing, flag, countFlag } = view;
  return {
    protocol: row.protocol,
    local: { address: row.local.address, port: row.local.port },
    remote: { address: row.remote.address, port: row.remote.port },
    state: row.state,
    rawState: row.rawState,
    pid: row.pid ?? null,
    process: row.process ?? null,
    stateSince: iso(connection.stateSinceMs),
    dwellSeconds: seconds(timing.dwellMs),
    dwellSource: connection.dwellSource,
    idleSeconds: timing.idleMs === undefined ? null : seconds(timing.idleMs),
    halfCloseTimerSeconds: seconds(timing.halfCloseTimerMs),
    firstSeen: iso(connection.firstSeenMs),
    inode: row.inode ?? null,
    uid: row.uid ?? null,
    sendQueue: row.sendQueue ?? null,
    receiveQueue: row.receiveQueue ?? null,
    retransmits: row.retransmits ?? null,
    rttMs: row.rttMs ?? null,
    bytesSent: row.bytesSent ?? null,
    bytesReceived: row.bytesReceived ?? null,
    offload: row.offload ?? null,
    // Added: a listener's sockets on its address and port (an SO_REUSEPORT group is one row; 1 for a listener alone), null for other states.
    reusePortListeners: row.state === 'LISTEN' ? socketsOf(row) : null,
    ...(row.netns ? { netns: netnsToJson(row.netns) } : {}),
    transitions: connection.transitions.map((t) => ({ state: t.state, at: iso(t.atMs) })),
    flag: flag
      ? flag.kind === 'count'
        ? { kind: flag.kind, severity: flag.severity, thresholdSeconds: null, measuredSeconds: null, rule: flag.rule, group: flag.group, count: flag.count, thresholdCount: flag.thresholdCount }
        : { kind: flag.kind, severity: flag.severity, thresholdSeconds: seconds(flag.thresholdMs), measuredSeconds: seconds(flag.measured), rule: flag.rule }
      : null,
    // Added: its group over a count limit, beside its own flag (which `flag` keeps where it has one).
    countFlag: countFlag
      ? { kind: countFlag.kind, severity: countFlag.severity, rule: countFlag.rule, group: countFlag.group, count: countFlag.count, thresholdCount: countFlag.thresholdCount }
      : null,
  };
}

/** `--netns` rows only (an added field): the namespace's inode, `ip netns` names, host, and container or pod. */
export function netnsToJson(netns: NetnsLabel) {
  const c = netns.container;
  return {
    inode: netns.inode,
    id: `net:[${netns.inode}]`,
    names: netns.names ?? [],
    host: netns.host ?? false,
    started: netns.started ?? null,
    container: c ? { runtime: c.runtime ?? null, id: c.id, pod: c.pod ?? null } : null,
  };
}

export function countFlagToJson(flag: CountFlag) {
  return { kind: flag.kind, severity: flag.severity, rule: flag.rule, per: flag.per, group: flag.group, states: flag.states, count: flag.count, thresholdCount: flag.thresholdCount };
}

export function resetToJson({ view, outcome }: ResetResult) {
  const { row } = view;
  return {
    protocol: row.protocol,
    local: { address: row.local.address, port: row.local.port },
    remote: { address: row.remote.address, port: row.remote.port },
    state: row.state,
    pid: row.pid ?? null,
    process: row.process ?? null,
    ...(row.netns ? { netns: netnsToJson(row.netns) } : {}),
    flag: view.flag?.kind ?? null,
    ended: outcome.ended,
    alreadyGone: outcome.ended ? Boolean(outcome.alreadyGone) : false,
    reason: outcome.ended ? null : outcome.reason,
    // Present where an attempt was made: how (SOCK_DESTROY, ss -K, SetTcpEntry), whether a newer socket held the 4-tuple,
    // and the state the socket seen had moved on to (then it was left alone).
    ...(outcome.via ? { via: outcome.via } : {}),
    ...(!outcome.ended && outcome.reusedTuple ? { reusedTuple: true } : {}),
    ...(!outcome.ended && outcome.stateNow ? { stateNow: outcome.stateNow } : {}),
  };
}

/**
 * `check --json`'s `counts`: sockets per state present, a key only for a state with at least one
 * (a listener standing for an SO_REUSEPORT group counts each of its sockets, socketsOf), with
 * `leftOut` (connections counted without a view) added; keys in the canonical TcpState order
 * (ALL_TCP_STATES, countStates'), so two runs over the same sockets give the same text.
 */
export function countsToJson(views: readonly ConnectionView[], leftOut: ReadonlyMap<TcpState, number>): Partial<Record<TcpState, number>> {
  const counts: Partial<Record<TcpState, number>> = {};
  for (const [state, n] of countStates(views, leftOut)) if (n > 0) counts[state] = n;
  return counts;
}

/** `check --json` (README "JSON output"): the whole report, with what is new since the last run and each notifier's result. */
export function checkToJson(report: CheckReport) {
  return {
    status: report.status,
    checkedAt: iso(report.checkedAtMs),
    source: report.source,
    counts: countsToJson(report.evaluation.views, report.leftOut),
    flagged: report.evaluation.views
      .filter((v) => v.flag)
      .map((v) => {
        const finding = report.diagnosis.byConnection.get(v.connection.key);
        return { ...connectionToJson(v), finding: finding ? findingToJson(finding) : null };
      }),
    countFlags: report.evaluation.countFlags.map(countFlagToJson),
    findings: report.diagnosis.groups.map(findingToJson),
    resets: report.resets.map(resetToJson),
    errors: report.errors,
    notices: report.notices,
    notifications: report.notifications.map(notificationToJson),
    deliveries: report.deliveries,
  };
}
