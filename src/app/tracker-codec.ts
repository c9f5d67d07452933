import { z } from 'zod';
import { connectionKey, netnsId, type SocketRow } from '../core/connection.js';
import { ALL_TCP_STATES, type TcpState } from '../core/tcp-state.js';
import type { TrackedConnection, TrackerState } from '../core/tracker.js';
import type { ReportedAlert } from '../core/alerts.js';
import type { ChannelBacklog } from './notify-channels.js';
import { tableKey, type TableIdentity } from '../sources/table-identity.js';
import { appendAll } from '../core/lists.js';

// The check state file: the history (tracker and reported alerts) that `check` carries between
// runs, one section per socket table (network namespace, boot, source, /proc), so that one file can
// serve several tables without one's history passing for another's. Versioned, so that a file
// written by another version is recognised as foreign and replaced rather than misread.

export const STATE_FORMAT = 'tcpdwell-check-state';
/**
 * 2: sections per table. 1 (one unnamed table) is not read: it cannot say which table it was.
 * 3: as 2, with notifiers' undelivered notifications (`outbox`). A release that reads only 2
 * refuses a 3 (it sets the file aside, with a note) instead of rewriting it without the outbox, so
 * a rollback never drops a backlog silently. A file with no backlog is written as 2, which that
 * release reads in full (it would drop only `runsFlagged`, which this one then does without).
 */
export const STATE_VERSION = 3;
/** What a file with no backlog is written as: the version the release before backlogs reads. */
export const STATE_VERSION_WITHOUT_OUTBOX = 2;
const READABLE_VERSIONS: readonly number[] = [2, 3];
/** A section unused this long is dropped: its namespace or container is most likely gone. */
export const UNUSED_SECTION_MS = 30 * 24 * 3600_000;
/** At most this many sections, the most recently used kept. */
export const MAX_SECTIONS = 64;

export class StateDecodeError extends Error {
  override name = 'StateDecodeError';
}

/** The earliest time stamp a state file may hold: 2000-01-01T00:00:00Z (Unix ms). No tcpdwell ran before it. */
export const EARLIEST_STAMP_MS = Date.UTC(2000, 0, 1);
/** How far past the run's clock a stamp may lie (a clock stepped back since the file was written): 10 minutes. */
export const STAMP_SKEW_MS = 10 * 60_000;

/**
 * Whether `ms` is a time stamp a state file written by this tool could hold when read at `nowMs`:
 * finite, not before 2000-01-01, not after `nowMs` plus STAMP_SKEW_MS. A stamp that fails (a
 * corrupt or hand-edited file: `-1e300`, `0`) would be shown as a huge dwell or crash the ISO
 * formatting, so its record is dropped instead.
 */
export function plausibleStamp(ms: number, nowMs: number): boolean {
  return Number.isFinite(ms) && ms >= EARLIEST_STAMP_MS && ms <= nowMs + STAMP_SKEW_MS;
}

/** Whether `value` is a duration or count a state file could hold: finite and not negative (ms, bytes). */
const plausibleAmount = (value: number | undefined) => value === undefined || (Number.isFinite(value) && value >= 0);

/** Whether every stamp given (undefined: absent, fine) is plausible at `nowMs`. */
const plausibleStamps = (nowMs: number, ...stamps: (number | undefined)[]) => stamps.every((ms) => ms === undefined || plausibleStamp(ms, nowMs));

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
  enteredAfterMs: z.number().optional(),
  bytesSent: z.number().optional(),
  bytesReceived: z.number().optional(),
  /** Missing from one live reading at this time, not yet confirmed closed (TrackerState.unconfirmedAbsence). Absent in older files. */
  missedAtMs: z.number().optional(),
  /** Out of its last state by this time, its new one not yet read (TrackerState.departed). Absent in older files. */
  departedByMs: z.number().optional(),
});
const flagKind = z.enum(['half-open', 'half-close', 'idle', 'count']);
const severity = z.enum(['warning', 'critical']);
const reportedAlert = z.object({
  key: z.string(),
  kind: flagKind,
  severity,
  subject: z.string(),
  firstFlaggedMs: z.number(),
  lastNotifiedMs: z.number(),
  lastSeenMs: z.number().optional(),
  lastDwellMs: z.number().optional(),
  /** Added after version 2 was first written: absent in older files (the count is then unknown). */
  runsFlagged: z.number().int().positive().optional(),
});
const currentAlert = z.object({
  key: z.string(),
  kind: flagKind,
  severity,
  subject: z.string(),
  measured: z.number(),
  threshold: z.number(),
  rule: z.string(),
  dwellMs: z.number().optional(),
});
const notification = z.object({
  change: z.enum(['flagged', 'escalated', 'deescalated', 'reminder', 'resolved']),
  key: z.string(),
  kind: flagKind,
  severity,
  subject: z.string(),
  firstFlaggedMs: z.number(),
  current: currentAlert.optional(),
  lastSeenMs: z.number().optional(),
  lastDwellMs: z.number().optional(),
  runsFlagged: z.number().int().positive().optional(),
});
/** Added after version 2 was first written: absent in older files, which still load. */
const channelBacklog = z.object({ notifier: z.string(), pending: z.array(z.object({ atMs: z.number(), notification })) });
const tableIdentity = z.object({
  source: z.string(),
  procRoot: z.string(),
  netns: z.string().nullable(),
  bootId: z.string().nullable(),
  perNetns: z.boolean().optional(),
  netnsStarted: z.number().int().nonnegative().optional(),
});
const section = z.object({
  table: tableIdentity,
  lastUsedMs: z.number(),
  /** The source that read the table last (what `auto` chose). */
  source: z.string(),
  lastPollMs: z.number().optional(),
  /** The last poll that read each state, where the last poll read only some (tiered polling). Absent in older files: every state at lastPollMs. */
  stateReadAtMs: z.partialRecord(state, z.number()).optional(),
  connections: z.array(z.unknown()),
  alerts: z.array(reportedAlert),
  /**
   * Each failed notifier's undelivered notifications (app/notify-channels.ts). Validated apart
   * (readOutbox): a damaged backlog costs only itself, not the table's history.
   */
  outbox: z.unknown().optional(),
});
type Section = Omit<z.infer<typeof section>, 'outbox'> & { outbox?: ChannelBacklog[] };

/** The backlogs that validate, and how many did not (a non-list outbox counts as one). */
function readOutbox(outbox: unknown, nowMs: number | undefined): { backlogs: ChannelBacklog[]; damaged: number } {
  if (outbox === undefined) return { backlogs: [], damaged: 0 };
  if (!Array.isArray(outbox)) return { backlogs: [], damaged: 1 };
  const backlogs: ChannelBacklog[] = [];
  let damaged = 0;
  for (const item of outbox) {
    const one = channelBacklog.safeParse(item);
    if (one.success && (nowMs === undefined || plausibleBacklog(one.data, nowMs))) backlogs.push(one.data);
    else damaged++;
  }
  return { backlogs, damaged };
}
const file = z.object({
  format: z.literal(STATE_FORMAT),
  version: z.number(),
  savedAt: z.string(),
  tables: z.array(z.unknown()).optional(),
});

/**
 * What `check` carries between runs: the tracker, the alerts its report (stdout) has told, and
 * what each notifier has yet to deliver.
 */
export interface CheckState {
  tracker: TrackerState;
  alerts: ReportedAlert[];
  outbox: ChannelBacklog[];
}

function encodeConnections(tracker: TrackerState): z.input<typeof connection>[] {
  return [...tracker.connections.values(), ...[...(tracker.departed?.values() ?? [])].map((d) => d.connection)].map((c) => {
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
    if (c.enteredAfterMs !== undefined) out.enteredAfterMs = c.enteredAfterMs;
    if (c.row.bytesSent !== undefined) out.bytesSent = c.row.bytesSent;
    if (c.row.bytesReceived !== undefined) out.bytesReceived = c.row.bytesReceived;
    const missedAtMs = tracker.unconfirmedAbsence?.get(c.key);
    if (missedAtMs !== undefined) out.missedAtMs = missedAtMs;
    const departure = tracker.departed?.get(c.key);
    if (departure) out.departedByMs = departure.leftByMs;
    return out;
  });
}

/** The tracker a section holds: its connections, with their absence marks and the departed ones. */
function decodeTracker(
  found: Pick<Section, 'connections' | 'lastPollMs' | 'stateReadAtMs'>,
  nowMs: number | undefined,
  dropped: { count: number },
  netns?: { inode: number; started?: number },
): TrackerState {
  const tracker: TrackerState = { connections: new Map() };
  addDecoded(tracker, decodeConnections(found.connections, nowMs, dropped, netns));
  if (found.lastPollMs !== undefined) tracker.lastPollMs = found.lastPollMs;
  if (found.stateReadAtMs !== undefined) tracker.stateReadAtMs = found.stateReadAtMs;
  return tracker;
}

/** Adds decoded connections to `tracker`: each to its connections or departed, with its mark. */
function addDecoded(tracker: TrackerState, decoded: Map<string, DecodedConnection>): void {
  const connections = tracker.connections as Map<string, TrackedConnection>;
  for (const [key, { connection, missedAtMs, departedByMs }] of decoded) {
    if (departedByMs !== undefined) tracker.departed = new Map(tracker.departed ?? []).set(key, { connection, leftByMs: departedByMs });
    else connections.set(key, connection);
    if (missedAtMs !== undefined) tracker.unconfirmedAbsence = new Map(tracker.unconfirmedAbsence ?? []).set(key, missedAtMs);
  }
}

interface DecodedConnection {
  connection: TrackedConnection;
  missedAtMs?: number;
  departedByMs?: number;
}

/**
 * `netns`: the namespace of a `--netns` section, which its connections' keys carry. `nowMs`: the
 * run's time, against which each record's stamps must be plausible (plausibleStamp); a record
 * whose stamps or amounts are not is dropped and counted in `dropped` (undefined: not checked).
 */
function decodeConnections(items: readonly unknown[], nowMs: number | undefined, dropped: { count: number }, netns?: { inode: number; started?: number }): Map<string, DecodedConnection> {
  const connections = new Map<string, DecodedConnection>();
  items.forEach((item, index) => {
    const c = connection.safeParse(item);
    if (!c.success) throw new StateDecodeError(`connection ${index} is malformed`);
    if (nowMs !== undefined && !plausibleConnection(c.data, nowMs)) {
      dropped.count++;
      return;
    }
    const { protocol, local, remote, state: s, rawState, inode, bytesSent, bytesReceived, missedAtMs, departedByMs, ...timing } = c.data;
    const row: SocketRow = { protocol, local, remote, state: s, rawState };
    if (inode !== undefined) row.inode = inode;
    if (bytesSent !== undefined) row.bytesSent = bytesSent;
    if (bytesReceived !== undefined) row.bytesReceived = bytesReceived;
    // The label's other parts (names, container) come back with the next reading of the row.
    if (netns !== undefined) row.netns = { ...netns };
    const key = connectionKey(row);
    const decoded: DecodedConnection = { connection: { key, row, ...timing } };
    if (missedAtMs !== undefined) decoded.missedAtMs = missedAtMs;
    if (departedByMs !== undefined) decoded.departedByMs = departedByMs;
    connections.set(key, decoded);
  });
  return connections;
}

/** Whether a connection record's stamps are plausible at `nowMs` and its amounts finite and not negative. */
function plausibleConnection(c: z.infer<typeof connection>, nowMs: number): boolean {
  return (
    plausibleStamps(nowMs, c.firstSeenMs, c.lastSeenMs, c.stateSinceMs, c.lastActivityMs, c.lastPeerSegmentMs, c.enteredAfterMs, c.missedAtMs, c.departedByMs, ...c.transitions.map((t) => t.atMs)) &&
    plausibleAmount(c.bytesSent) &&
    plausibleAmount(c.bytesReceived)
  );
}

/** Whether a reported alert's stamps are plausible at `nowMs` and its last dwell finite and not negative. */
function plausibleAlert(a: ReportedAlert, nowMs: number): boolean {
  return plausibleStamps(nowMs, a.firstFlaggedMs, a.lastNotifiedMs, a.lastSeenMs) && plausibleAmount(a.lastDwellMs);
}

/** Whether a backlog's stamps are plausible at `nowMs`, and its amounts finite and not negative. */
function plausibleBacklog(b: ChannelBacklog, nowMs: number): boolean {
  return b.pending.every(
    (p) =>
      plausibleStamps(nowMs, p.atMs, p.notification.firstFlaggedMs, p.notification.lastSeenMs) &&
      plausibleAmount(p.notification.lastDwellMs) &&
      (p.notification.current === undefined ||
        (plausibleAmount(p.notification.current.dwellMs) && Number.isFinite(p.notification.current.measured) && Number.isFinite(p.notification.current.threshold))),
  );
}

/** What was dropped because the host restarted since it was written. */
export interface ForgottenBoots {
  tables: number;
  alerts: number;
}

/**
 * The whole state file: one section of history per socket table. Other tables' sections are kept
 * as they were read (validated, not decoded), and written back unchanged.
 */
export class StateBook {
  private constructor(
    private sections: Section[],
    private readonly nowMs?: number,
  ) {}

  static empty(): StateBook {
    return new StateBook([]);
  }

  /**
   * Throws StateDecodeError saying why the text is not a state file of this version. `nowMs`: the
   * run's time (Unix ms). With it, every stamp must be plausible (plausibleStamp) and every amount
   * finite and not negative: a section whose own stamps are not is dropped (damagedSections), a
   * connection or alert record that is not is dropped (droppedRecords), a backlog (damagedBacklogs).
   * Without it (tests of the format alone) stamps are not checked.
   */
  static decode(text: string, nowMs?: number): StateBook {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new StateDecodeError(`not JSON (${(error as Error).message})`, { cause: error });
    }
    const parsed = file.safeParse(data);
    if (!parsed.success) throw new StateDecodeError('not a tcpdwell state file');
    if (parsed.data.version === 1) {
      throw new StateDecodeError('written by an older tcpdwell, which did not record which socket table (network namespace, boot) it describes');
    }
    if (!READABLE_VERSIONS.includes(parsed.data.version)) {
      throw new StateDecodeError(`written by another version of tcpdwell (state format ${parsed.data.version}, this one reads ${READABLE_VERSIONS.join(' and ')})`);
    }
    if (!parsed.data.tables) throw new StateDecodeError('not a tcpdwell state file (no tables)');
    // A damaged section costs only its own table's history: the others are kept.
    // A damaged backlog costs only itself: the section's history is kept.
    const sections: Section[] = [];
    let damaged = 0;
    let damagedBacklogs = 0;
    let droppedRecords = 0;
    for (const item of parsed.data.tables) {
      const one = section.safeParse(item);
      if (!one.success || (nowMs !== undefined && !plausibleStamps(nowMs, one.data.lastUsedMs, one.data.lastPollMs, ...Object.values(one.data.stateReadAtMs ?? {})))) {
        damaged++;
        continue;
      }
      const { outbox, ...rest } = one.data;
      const read = readOutbox(outbox, nowMs);
      damagedBacklogs += read.damaged;
      if (nowMs !== undefined) {
        const alerts = rest.alerts.filter((a) => plausibleAlert(a, nowMs));
        droppedRecords += rest.alerts.length - alerts.length;
        rest.alerts = alerts;
      }
      sections.push(read.backlogs.length > 0 ? { ...rest, outbox: read.backlogs } : rest);
    }
    const book = new StateBook(sections, nowMs);
    book.damagedSections = damaged;
    book.damagedBacklogs = damagedBacklogs;
    book.dropped.count = droppedRecords;
    return book;
  }

  /** Connection and alert records dropped for an implausible time stamp or amount (decode's nowMs); their sections are kept. */
  get droppedRecords(): number {
    return this.dropped.count;
  }
  private readonly dropped = { count: 0 };

  /** Sections found damaged and dropped: at decoding, or when their connections were read. */
  damagedSections = 0;
  /** Notifiers' backlogs (of any table) found damaged at decoding and dropped; their sections are kept. */
  damagedBacklogs = 0;

  get size(): number {
    return this.sections.length;
  }

  /**
   * Drops the sections of this host's tables (same /proc) from another boot: after a restart none
   * of their sockets exist, and a 4-tuple used again is another connection. Where the boot id is
   * unknown nothing is dropped.
   */
  forgetOtherBoots(identity: TableIdentity): ForgottenBoots {
    const forgotten: ForgottenBoots = { tables: 0, alerts: 0 };
    if (identity.bootId === null) return forgotten;
    this.sections = this.sections.filter((s) => {
      const stale = s.table.procRoot === identity.procRoot && s.table.bootId !== null && s.table.bootId !== identity.bootId;
      if (stale) {
        forgotten.tables++;
        forgotten.alerts += s.alerts.length;
      }
      return !stale;
    });
    return forgotten;
  }

  /** The history of this table, or undefined when the file has none for it. Throws StateDecodeError for a damaged section. */
  historyOf(identity: TableIdentity): CheckState | undefined {
    if (identity.netnsScope) return this.historyOfNamespaces(identity, identity.netnsScope);
    const key = tableKey(identity);
    const found = this.sections.find((s) => tableKey(s.table) === key);
    if (!found) return undefined;
    let tracker: TrackerState;
    try {
      tracker = decodeTracker(found, this.nowMs, this.dropped);
    } catch (error) {
      if (!(error instanceof StateDecodeError)) throw error;
      this.sections = this.sections.filter((s) => s !== found);
      this.damagedSections++;
      return undefined;
    }
    return { tracker, alerts: found.alerts, outbox: found.outbox ?? [] };
  }

  /**
   * `--netns`: the run's own section (its count alerts, its last poll) and one section per
   * namespace in scope, merged: each connection keyed with its namespace, as the reader keys it.
   */
  private historyOfNamespaces(identity: TableIdentity, scope: 'all' | number[]): CheckState | undefined {
    const own = this.sections.find((s) => tableKey(s.table) === tableKey(identity));
    const parts = this.sections.filter((s) => inNetnsScope(s.table, identity, scope));
    if (!own && parts.length === 0) return undefined;
    const tracker: TrackerState = { connections: new Map() };
    const alerts: ReportedAlert[] = [...(own?.alerts ?? [])];
    for (const part of parts) {
      try {
        addDecoded(tracker, decodeConnections(part.connections, this.nowMs, this.dropped, netnsOf(part.table.netns, part.table.netnsStarted)));
      } catch (error) {
        if (!(error instanceof StateDecodeError)) throw error;
        this.sections = this.sections.filter((s) => s !== part);
        this.damagedSections++;
        continue;
      }
      appendAll(alerts, part.alerts);
    }
    if (own?.lastPollMs !== undefined) tracker.lastPollMs = own.lastPollMs;
    if (own?.stateReadAtMs !== undefined) tracker.stateReadAtMs = own.stateReadAtMs;
    return { tracker, alerts, outbox: own?.outbox ?? [] };
  }

  /** Records this table's history (replacing its section), then drops sections unused for long and the least recently used beyond MAX_SECTIONS. */
  record(identity: TableIdentity, history: RecordedHistory, nowMs: number): void {
    if (identity.netnsScope) return this.recordNamespaces(identity, identity.netnsScope, history, nowMs);
    this.keep([this.section(identity, history, nowMs)], nowMs);
  }

  /**
   * `--netns`: one section per namespace that has connections, holding them and their alerts, and
   * the run's own section for the rest (count alerts, last poll). Sections of namespaces in scope
   * that have no connections now are dropped, so a namespace that is gone closes its connections
   * once, not at every run.
   */
  private recordNamespaces(identity: TableIdentity, scope: 'all' | number[], history: RecordedHistory, nowMs: number): void {
    // By namespace identity (inode and start time): a reused inode is another namespace, another section.
    const byInode = new Map<string, TrackedConnection[]>();
    const loose: TrackedConnection[] = [];
    for (const c of [...history.tracker.connections.values(), ...[...(history.tracker.departed?.values() ?? [])].map((d) => d.connection)]) {
      const inode = c.row.netns ? netnsId(c.row.netns) : undefined;
      // Pushed in place: a copy of the list per connection was quadratic (minutes for a busy namespace).
      if (inode === undefined) loose.push(c);
      else if (byInode.has(inode)) byInode.get(inode)!.push(c);
      else byInode.set(inode, [c]);
    }
    const inodeOfKey = new Map<string, string>();
    for (const [inode, list] of byInode) for (const c of list) inodeOfKey.set(c.key, inode);
    const sections: Section[] = [];
    const { netnsScope: _scope, ...base } = identity;
    const { departed, unconfirmedAbsence } = history.tracker;
    /** The part of the run's tracker that `list` holds (the marks are looked up by key when encoded). */
    const trackerOf = (list: readonly TrackedConnection[]): TrackerState => {
      const tracker: TrackerState = { connections: new Map(list.filter((c) => !departed?.has(c.key)).map((c) => [c.key, c])) };
      const gone = list.filter((c) => departed?.has(c.key));
      if (gone.length > 0) tracker.departed = new Map(gone.map((c) => [c.key, departed!.get(c.key)!]));
      if (unconfirmedAbsence) tracker.unconfirmedAbsence = unconfirmedAbsence;
      return tracker;
    };
    for (const [inode, list] of byInode) {
      const tracker = trackerOf(list);
      if (history.tracker.lastPollMs !== undefined) tracker.lastPollMs = history.tracker.lastPollMs;
      const alerts = history.alerts.filter((a) => inodeOfKey.get(a.key) === inode);
      const netns = list[0]!.row.netns!;
      sections.push(
        this.section(
          { ...base, netns: `net:[${netns.inode}]`, perNetns: true, ...(netns.started !== undefined ? { netnsStarted: netns.started } : {}) },
          { tracker, alerts, source: history.source },
          nowMs,
        ),
      );
    }
    const ownTracker = trackerOf(loose);
    if (history.tracker.lastPollMs !== undefined) ownTracker.lastPollMs = history.tracker.lastPollMs;
    if (history.tracker.stateReadAtMs !== undefined) ownTracker.stateReadAtMs = history.tracker.stateReadAtMs;
    // The notifiers' backlogs are the run's, not a namespace's.
    sections.unshift(
      this.section(base, { tracker: ownTracker, alerts: history.alerts.filter((a) => !inodeOfKey.has(a.key)), ...(history.outbox ? { outbox: history.outbox } : {}), source: history.source }, nowMs),
    );
    this.sections = this.sections.filter((s) => !inNetnsScope(s.table, identity, scope));
    this.keep(sections, nowMs);
  }

  private section(identity: Omit<TableIdentity, 'netnsScope'>, history: RecordedHistory, nowMs: number): Section {
    const mine: Section = {
      table: {
        source: identity.source,
        procRoot: identity.procRoot,
        netns: identity.netns,
        bootId: identity.bootId,
        ...(identity.perNetns ? { perNetns: true } : {}),
        ...(identity.netnsStarted !== undefined ? { netnsStarted: identity.netnsStarted } : {}),
      },
      lastUsedMs: nowMs,
      source: history.source,
      connections: encodeConnections(history.tracker),
      alerts: [...history.alerts],
    };
    if (history.tracker.lastPollMs !== undefined) mine.lastPollMs = history.tracker.lastPollMs;
    if (history.tracker.stateReadAtMs !== undefined) mine.stateReadAtMs = { ...history.tracker.stateReadAtMs };
    if (history.outbox && history.outbox.length > 0) mine.outbox = [...history.outbox];
    return mine;
  }

  /** `mine` replace their sections; others unused for long, and the least recently used beyond MAX_SECTIONS, go. */
  private keep(mine: readonly Section[], nowMs: number): void {
    const keys = new Set(mine.map((s) => tableKey(s.table)));
    const others = this.sections.filter((s) => !keys.has(tableKey(s.table)) && nowMs - s.lastUsedMs <= UNUSED_SECTION_MS);
    others.sort((a, b) => b.lastUsedMs - a.lastUsedMs);
    this.sections = [...mine, ...others].slice(0, Math.max(MAX_SECTIONS, mine.length));
  }

  encode(savedAtMs: number): string {
    const version = this.sections.some((s) => s.outbox && s.outbox.length > 0) ? STATE_VERSION : STATE_VERSION_WITHOUT_OUTBOX;
    const body = { format: STATE_FORMAT, version, savedAt: new Date(savedAtMs).toISOString(), tables: this.sections };
    return `${JSON.stringify(body)}\n`;
  }
}

/** { inode, started } of a section: `net:[4026532177]` and its `netnsStarted`. */
function netnsOf(netns: string | null, started?: number): { inode: number; started?: number } | undefined {
  const match = netns === null ? null : /^net:\[(\d+)\]$/.exec(netns);
  if (!match) return undefined;
  return started === undefined ? { inode: Number(match[1]) } : { inode: Number(match[1]), started };
}

/** Whether `table` is a `--netns` section of a namespace in `scope`, read like `identity` (source, /proc, boot). */
function inNetnsScope(table: Section['table'], identity: TableIdentity, scope: 'all' | number[]): boolean {
  if (!table.perNetns || table.source !== identity.source || table.procRoot !== identity.procRoot || table.bootId !== identity.bootId) return false;
  const inode = netnsOf(table.netns)?.inode;
  return inode !== undefined && (scope === 'all' || scope.includes(inode));
}

/** What `record` keeps of a run. */
type RecordedHistory = { tracker: TrackerState; alerts: readonly ReportedAlert[]; outbox?: readonly ChannelBacklog[]; source: string };
