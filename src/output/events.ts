import type { Endpoint } from '../core/address.js';
import type { AlertNotification } from '../core/alerts.js';
import { flowText, ownerLabel } from '../core/connection.js';
import type { TrackerEvent } from '../core/tracker.js';
import { sanitizeLine } from './sanitize.js';

// The event log's JSON lines (`watch --events`, `--log FILE`): one object per event, `event` first.
// A public interface like the JSON output: fields may be added, never renamed or removed.

const iso = (ms: number) => new Date(ms).toISOString();
const seconds = (ms: number) => Math.round(ms / 100) / 10;

export function trackerEventToJson(event: TrackerEvent): Record<string, unknown> {
  const { row } = event.connection;
  const base = {
    event: event.type,
    at: iso(event.atMs),
    protocol: row.protocol,
    local: { address: row.local.address, port: row.local.port },
    remote: { address: row.remote.address, port: row.remote.port },
    pid: row.pid ?? null,
    process: row.process ?? null,
  };
  switch (event.type) {
    case 'opened':
      return { ...base, state: row.state, firstSight: event.firstSight };
    case 'state-changed':
      return { ...base, from: event.from, to: event.to };
    case 'closed':
      // In the spirit of the ASA teardown line: how long it lived, how it ended, what it carried.
      return { ...base, lastState: event.lastState, lifetimeSeconds: seconds(event.lifetimeMs), bytesSent: event.bytesSent ?? null, bytesReceived: event.bytesReceived ?? null };
  }
}

export function alertEventToJson(n: AlertNotification, atMs: number): Record<string, unknown> {
  if (n.change === 'resolved') {
    return {
      event: 'resolved',
      at: iso(atMs),
      kind: n.kind,
      severity: n.severity,
      subject: n.subject,
      key: n.key,
      flaggedSeconds: seconds(atMs - n.firstFlaggedMs),
      dwellSeconds: n.lastDwellMs === undefined ? null : seconds(n.lastDwellMs),
    };
  }
  return {
    event: 'flagged',
    at: iso(atMs),
    kind: n.kind,
    severity: n.severity,
    subject: n.subject,
    key: n.key,
    escalated: n.change === 'escalated',
    measured: n.current?.measured ?? null,
    threshold: n.current?.threshold ?? null,
    rule: n.current?.rule ?? null,
  };
}

/** One human line per event, for `watch` without --events; sanitised (the JSON lines stay exact). */
export function formatEventLine(json: Record<string, unknown>): string {
  return sanitizeLine(eventText(json));
}

function eventText(json: Record<string, unknown>): string {
  const flow = json.local ? flowText({ local: json.local as Endpoint, remote: json.remote as Endpoint }) : '';
  const label = ownerLabel({ pid: (json.pid as number | null) ?? undefined, process: (json.process as string | null) ?? undefined });
  const owner = label ? ` ${label}` : '';
  switch (json.event) {
    case 'opened':
      return `${json.at} opened  ${String(json.state)} ${flow}${owner}`;
    case 'state-changed':
      return `${json.at} changed ${String(json.from)} -> ${String(json.to)} ${flow}${owner}`;
    case 'closed':
      return `${json.at} closed  ${flow}${owner} after ${String(json.lifetimeSeconds)}s, last ${String(json.lastState)}`;
    case 'flagged':
      return `${json.at} ${String(json.severity).toUpperCase()} ${String(json.kind)}${json.escalated ? ' (escalated)' : ''}: ${String(json.subject)}`;
    default:
      return `${json.at} resolved ${String(json.kind)}: ${String(json.subject)}${json.dwellSeconds === null || json.dwellSeconds === undefined ? '' : ` stuck ${String(json.dwellSeconds)}s when last seen,`} flagged for ${String(json.flaggedSeconds)}s`;
  }
}
