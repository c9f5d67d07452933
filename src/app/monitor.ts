import type { Protocol } from '../core/address.js';
import type { HostFacts } from '../core/diagnosis.js';
import { plural } from '../core/plural.js';
import {
  evaluateAll,
  forEachEvaluated,
  ownerIntoRow,
  unreadOwnersReach,
  withOwnership,
  type ConnectionView,
  type EvaluatedConnection,
  type Evaluation,
  type Owner,
  type Ownership,
  type ViewPool,
} from '../core/evaluate.js';
import { policyNeedsProcesses, unreadOwnerMatters, type Policy, type Severity } from '../core/policy.js';
import { netnsId, type NetnsLabel, type SocketRow } from '../core/connection.js';
import { STUCK_STATES, type TcpState } from '../core/tcp-state.js';
import { advance, advanceFailed, awaitsFullReading, emptyTrackerState, repeatedRowsNotice, type Snapshot, type TrackedConnection, type TrackerEvent, type TrackerState } from '../core/tracker.js';
import type { FirstSightScreen } from '../core/first-sight-screen.js';
import type { Platform } from '../platform/platform.js';
import { SourceSelector } from '../sources/select-source.js';
import type { NetnsChoice } from '../sources/netns-choice.js';
import { CaptureReplay, type LoadedCaptures, type SkippedInput } from '../sources/input-files.js';
import type { SourceChoice } from '../sources/registry.js';
import type { AutoOptions } from '../sources/source-record.js';
import { SourceError, type ReadRequest, type ReadingProvider, type SourceRead, type SourceReading } from '../sources/source.js';

export interface PollOutcome {
  ok: boolean;
  takenAtMs: number;
  source: string;
  /** Degraded-but-usable conditions, for the user. */
  notices: string[];
  /** Why the poll failed, when it did. */
  error?: string;
  events: TrackerEvent[];
  durationMs: number;
  /** Each source this poll read, with its success and duration (auto's fallbacks too). */
  sourceReads?: readonly SourceRead[];
  /** `--netns`: namespaces gone since the last poll; their connections are among `events`' closes. */
  goneNetns?: NetnsLabel[];
  /** Tiered polling: the states this poll read (the stuck ones); absent: every state (a census). */
  states?: readonly TcpState[];
  /**
   * Parts of a live table this poll could not read (a protocol's table, network namespaces), one
   * phrase each: what is there is unknown, so "nothing flagged" is not proven. Absent: all read.
   */
  unread?: string[];
  /** What `unread` names, to tell a connection this poll read from one kept as last read. */
  unreadScope?: { protocols: Protocol[]; netns: number[] };
  /** SourceReading.dwellUnknown: sessions read whose first-sight dwell is not known ("nothing flagged" is not proven). */
  dwellUnknown?: string[];
}

/** Whether `row` lies in a part of the table the poll did not read (PollOutcome.unreadScope): it is as last read, not as now. */
export function notReadBy(outcome: Pick<PollOutcome, 'unreadScope'>, row: SocketRow): boolean {
  const scope = outcome.unreadScope;
  if (!scope) return false;
  return scope.protocols.includes(row.protocol) || (row.netns !== undefined && scope.netns.includes(row.netns.inode));
}

/**
 * Tiered polling (issue 15): every poll reads only the states a connection can be stuck in
 * (STUCK_STATES), filtered in the kernel, with tcp_info; a census reads every state — the per-state
 * counts, and ESTABLISHED's activity for idle — at the first poll, then every `censusIntervalMs`.
 * A census that finds connections missing is repeated at the next poll, so that their closing is
 * confirmed (or not) within one interval; a census always reads every state with tcp_info, as
 * one dump (the states it would read without it, LISTEN and TIME_WAIT, carry none or are few).
 */
export interface TierOptions {
  /** Milliseconds between censuses. */
  censusIntervalMs: number;
  /** While true every poll is a census (the dashboard while its table shows every state). */
  censusEveryPoll?: () => boolean;
}

/**
 * Whose owners a front end needs: `none` (serve's metrics, watch's events), `flagged` rows, the
 * flagged rows and a window it picks from the evaluation (the rows it shows), or `all`. A rule or
 * count that matches on process names needs every owner whatever is asked. A window with
 * `flagged: false` is the window's rows only (the dashboard without an event log: thousands of
 * flagged rows off screen would each get a copy of their row at every poll, for nothing shown).
 */
export type OwnerNeed = 'none' | 'flagged' | 'all' | { window: (evaluation: Evaluation) => Iterable<ConnectionView>; flagged?: boolean };

export interface MonitorOptions {
  source: SourceChoice;
  procRoot: string;
  initialState?: TrackerState;
  /** Captured tables to replay instead of reading a live source (`--input`). */
  captures?: LoadedCaptures;
  /** `--netns`: read these network namespaces instead of this process's own. */
  netns?: NetnsChoice;
  /**
   * The front end keeps no row past the next poll (nor a view or an event that holds one): a
   * connection that stays in its state then keeps its row object, updated at each poll
   * (Snapshot.rowsInPlace), and the source may reuse its rows (ReadRequest.reuseRows). An event
   * log does not keep rows (each line is made when it is written; an alert record keeps its
   * subject text). Fixed for the monitor's life; default false: each poll's rows are new objects.
   */
  rowsInPlace?: boolean;
  /** What `--source auto` tries and with what (tests inject the netlink library's channel). */
  autoOptions?: AutoOptions;
}

export interface EvaluatedPoll {
  evaluation: Evaluation;
  /** Some owners could not be looked up for lack of permission. */
  ownersHidden: boolean;
  /**
   * With ownersHidden under a policy on process names: the highest severity the unread owners could
   * give were they known (core/evaluate unreadOwnersReach), 'none' when they could flag nothing;
   * absent where it was not worked out (owners that came in the rows: --netns), which proves nothing.
   */
  ownersHiddenReach?: Severity | 'none';
}

/**
 * Polls one source into one tracker; shared by every front end. What the source can give besides
 * rows (owners, host facts) comes through its ReadingProvider: nothing here knows an OS.
 */
export class Monitor {
  tracker: TrackerState;
  private readonly provider: ReadingProvider;
  /** `--input` files that gave no table (none for a live source): the answer is then never OK. */
  readonly skippedInput: readonly SkippedInput[];
  private inFlight: Promise<PollOutcome> | undefined;
  /**
   * `--input`: captured tables are replayed, and when the last one is, nothing new will come (a live
   * source, `--netns` included, polls on); a connection missing from one is closed at once (see pollOnce).
   */
  readonly replaysCaptures: boolean;
  private tiers: TierOptions | undefined;
  /** MonitorOptions.rowsInPlace, as constructed. */
  readonly rowsInPlace: boolean;
  /** The last reading's rows carried owners and some could not be read (SourceReading.ownersHidden). */
  private rowOwnersHidden = false;
  /** When the last census (a reading of every state) was taken, and whether it was a scheduled one. */
  private lastCensus: { atMs: number; scheduled: boolean } | undefined;
  /** screenFirstReading's screen, until the first poll takes it. */
  private screen: FirstSightScreen | undefined;
  /** What the first reading left out (screenFirstReading), and the host facts that decided its group peers. */
  private screened: { counts: ReadonlyMap<TcpState, number>; facts: HostFacts } | undefined;

  constructor(
    private readonly platform: Platform,
    options: MonitorOptions,
  ) {
    this.tracker = options.initialState ?? emptyTrackerState();
    this.provider = options.captures
      ? new CaptureReplay(options.captures.captures, options.captures.notices, options.captures.skipped)
      : new SourceSelector(options.source, platform, { procRoot: options.procRoot, ...(options.netns ? { netns: options.netns } : {}) }, options.autoOptions);
    this.skippedInput = options.captures?.skipped ?? [];
    this.replaysCaptures = Boolean(options.captures);
    this.rowsInPlace = options.rowsInPlace === true;
  }

  /**
   * From the next poll on, reads in tiers (TierOptions): long-running front ends that show the
   * flagged sessions and counts (serve, watch, `check --window`, `list --watch`, the dashboard).
   * A source that cannot filter (procfs, conntrack, Windows, `--netns`) keeps reading every state,
   * and every such poll is a census.
   */
  pollInTiers(tiers: TierOptions): void {
    this.tiers = tiers;
  }

  /** What the next poll asks for: every state (a census) or the stuck ones. */
  private nextRequest(nowMs: number): { request: ReadRequest; scheduled: boolean } {
    const tiers = this.tiers;
    const census = { request: {}, scheduled: true };
    if (!tiers || !this.lastCensus || tiers.censusEveryPoll?.() || nowMs - this.lastCensus.atMs >= tiers.censusIntervalMs) return census;
    // Confirms what the scheduled census found missing (only after one: on a busy host each census
    // finds some, and confirming censuses must not chain into a census every poll).
    if (this.lastCensus.scheduled && awaitsFullReading(this.tracker, STUCK_STATES)) return { request: {}, scheduled: false };
    return { request: { states: STUCK_STATES }, scheduled: false };
  }

  get sourceName(): string {
    return this.provider.name;
  }

  /** Captured tables not yet replayed; 0 for a live source. */
  get pendingCaptures(): number {
    return this.provider.pending;
  }

  /** Whether the rows come from this machine (not so for captured files). */
  get describesThisHost(): boolean {
    return this.provider.describesThisHost;
  }

  /**
   * Why owners cannot be known where the source would look them up (a `--proc-root` that is not
   * one), once the source has checked (at its first read); undefined otherwise. A selection or rule
   * by process then cannot be judged: nothing would match, which is not "none there".
   */
  get ownersUnknown(): string | undefined {
    return this.provider.ownersUnknown;
  }

  /** Kernel settings of the host the rows came from, where the source gives them ({} offline or on Windows). */
  hostFacts(): Promise<HostFacts> {
    // A screened reading's group peers were decided with these: the same facts for the rest.
    if (this.screened) return Promise.resolve(this.screened.facts);
    return this.provider.hostFacts();
  }

  /**
   * The next evaluation will look owners up (a one-shot command's): the source starts its lookup's
   * reads now, so they run beside the poll (OwnerFinder.prefetch). No effect where owners come
   * with the rows or not at all.
   */
  prefetchOwners(): void {
    this.provider.prefetchOwners?.();
  }

  /**
   * The next poll, if it is this monitor's first reading of a live table (no history: no state
   * loaded, no poll before), may leave out what `screen` passes (ReadRequest.screen): those
   * connections are counted per state (`leftOut`), never tracked. For a one-shot front end that
   * polls once and keeps no history (check --no-state); the monitor polls no more after such a
   * reading (its tracker lacks the connections left out).
   */
  screenFirstReading(screen: FirstSightScreen): void {
    if (this.replaysCaptures || this.tracker.lastPollMs !== undefined || this.tracker.connections.size > 0) return;
    this.screen = screen;
  }

  /** Per state, the connections the last reading left out (screenFirstReading); empty when none. */
  get leftOut(): ReadonlyMap<TcpState, number> {
    return this.screened?.counts ?? new Map();
  }

  /** Stops what the source keeps running (a PowerShell session). */
  close(): void {
    this.provider.close();
  }

  /** One poll at a time: a caller arriving while a poll runs shares it instead of starting another. */
  poll(): Promise<PollOutcome> {
    this.inFlight ??= this.pollOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async pollOnce(): Promise<PollOutcome> {
    // Its tracker lacks what the screened reading left out: a next reading would call them new.
    if (this.screened) throw new Error('a monitor whose first reading was screened polls once');
    const startedMs = this.platform.nowMs();
    const screen = this.screen;
    this.screen = undefined;
    try {
      const next = this.nextRequest(startedMs);
      // rowsInPlace: nothing keeps a row past the next poll, so the source may update its rows in place too.
      const reading = await this.provider.read({
        ...next.request,
        holdsNetns: (inode) => holdsNetns(this.tracker, inode),
        ...(this.rowsInPlace ? { reuseRows: true } : {}),
        ...(screen ? { screen } : {}),
      });
      const takenAtMs = reading.takenAtMs ?? this.platform.nowMs();
      this.rowOwnersHidden = reading.ownersHidden === true;
      let rows = reading.rows;
      if (reading.leftOut) {
        // The connections to a group finding's peer are read by the diagnosis: rows after all.
        // The source is chosen now, so these are the facts check reads after the poll.
        const facts = await this.provider.hostFacts();
        const toPeers = reading.leftOut.rowsTo(facts);
        if (toPeers.length > 0) rows = [...rows, ...toPeers];
        this.screened = { counts: reading.leftOut.counts, facts };
      }
      const snapshot: Snapshot = { takenAtMs, rows, completeProtocols: reading.completeProtocols };
      if (reading.unreadNetns) snapshot.unreadNetns = reading.unreadNetns;
      if (reading.states) snapshot.states = reading.states;
      if (reading.goneNetns?.length) snapshot.goneNetns = reading.goneNetns.map(netnsId);
      // A live table is read again at the next poll, and a dump is not an atomic snapshot: a
      // connection missing once stays until a second reading confirms it. A captured file has no
      // second reading of its moment (the next file is another moment, perhaps hours later, and
      // after the last nothing comes): what it does not list has closed, as far as the files say.
      if (!this.replaysCaptures) snapshot.confirmAbsence = true;
      if (this.rowsInPlace) snapshot.rowsInPlace = true;
      const result = advance(this.tracker, snapshot);
      // Rows the tracker drops as repeats are said, never dropped unsaid (a capture's are said by
      // parseCapture, for its file). Netlink rows carry cookies: the notice tells two sockets from one listed twice.
      const notices = result.repeated && !this.replaysCaptures ? [...reading.notices, repeatedRowsNotice(reading.source, result.repeated)] : reading.notices;
      // Every state read (asked for, or a source that cannot filter): a census.
      if (!reading.states) this.lastCensus = { atMs: takenAtMs, scheduled: next.scheduled };
      this.tracker = result.state;
      const outcome: PollOutcome = {
        ok: true,
        takenAtMs,
        source: reading.source,
        notices,
        events: result.events,
        durationMs: this.platform.nowMs() - startedMs,
        sourceReads: this.provider.lastReads,
      };
      if (reading.goneNetns?.length) outcome.goneNetns = reading.goneNetns;
      if (reading.states) outcome.states = reading.states;
      if (reading.dwellUnknown?.length) outcome.dwellUnknown = reading.dwellUnknown;
      const unread = this.replaysCaptures ? undefined : unreadParts(reading);
      if (unread) {
        outcome.unread = unread.phrases;
        outcome.unreadScope = unread.scope;
      }
      return outcome;
    } catch (error) {
      if (!(error instanceof SourceError)) throw error;
      const takenAtMs = this.platform.nowMs();
      this.tracker = advanceFailed(this.tracker).state;
      return { ok: false, takenAtMs, source: this.provider.name, notices: [], error: error.message, events: [], durationMs: takenAtMs - startedMs, sourceReads: this.provider.lastReads };
    }
  }

  /**
   * Evaluates the tracker at the last poll's time, with the owners `need` asks for. The views come
   * back complete: owners are in their rows, and nothing changes them afterwards. Owners are looked
   * up only where the source has a lookup (Linux); elsewhere rows carry them or none exists.
   * `ranked: false` leaves the views unsorted, for front ends that order them their own way.
   * `views`: a pool of views updated in place (core/evaluate EvaluateOptions.views); the owners
   * looked up for a window are then written into its views, not into copies.
   */
  async evaluate(policy: Policy, need: OwnerNeed, { ranked = true, views, ownersInRows = false }: { ranked?: boolean; views?: ViewPool; ownersInRows?: boolean } = {}): Promise<EvaluatedPoll> {
    const now = this.tracker.lastPollMs ?? this.platform.nowMs();
    const owners = this.provider.owners;
    const reuse = views ? { views } : {};
    // Fail closed: a rule on process names cannot be judged without owners (none would match: "all clear").
    if (!owners && this.provider.ownersUnknown && policyNeedsProcesses(policy)) throw new SourceError(`the rules match process names, but ${this.provider.ownersUnknown}: owners are unknown`);
    // Owners that came in the rows: hidden where the source's own lookup said so (--netns).
    if (!owners) return { evaluation: evaluateAll(this.tracker, now, policy, { ranked, ...reuse }), ownersHidden: this.rowOwnersHidden };
    if (policyNeedsProcesses(policy)) {
      // Some fds denied: the verdict is unproven only where a socket whose owner could change it
      // was left without one (a sandbox's init may deny even root its fds, holding a listener).
      const byKey = new Map<string, Ownership>();
      let ownerlessWhereItMatters = false;
      const denied = await this.lookUp(
        [...this.tracker.connections.values()],
        (connection, found) => {
          byKey.set(connection.key, found ?? { inode: connection.row.inode ?? 0 });
          if (!found?.owner && unreadOwnerMatters(policy, connection.row, connection.row.inode)) ownerlessWhereItMatters = true;
        },
        (member, found) => {
          if (!found?.owner && unreadOwnerMatters(policy, member, member.inode)) ownerlessWhereItMatters = true;
        },
      );
      const evaluation = evaluateAll(this.tracker, now, policy, { ownership: byKey, ranked, ...reuse });
      if (!denied || !ownerlessWhereItMatters) return { evaluation, ownersHidden: false };
      const reach = unreadOwnersReach(policy, evaluation.views);
      return { evaluation, ownersHidden: true, ownersHiddenReach: reach ?? 'none' };
    }
    if (need === 'all') {
      const found = await this.ownershipOf([...this.tracker.connections.values()]);
      return { evaluation: evaluateAll(this.tracker, now, policy, { ownership: found.byKey, ranked, ...reuse }), ownersHidden: found.permissionDenied };
    }
    const evaluation = evaluateAll(this.tracker, now, policy, { ranked, ...reuse });
    if (need === 'none') return { evaluation, ownersHidden: false };
    const window = need === 'flagged' ? undefined : need.window;
    const flagged = need === 'flagged' || need.flagged !== false ? evaluation.views.filter((v) => v.flag) : [];
    const wanted = new Set([...flagged, ...(window?.(evaluation) ?? [])]);
    const found = await this.ownershipOf([...wanted].map((v) => v.connection));
    if (views) {
      // Pooled views are updated in place at each evaluation anyway: the owners go into them, and
      // neither a copy of the list nor a new view is made (the list is 100,000 references a poll).
      for (const view of wanted) view.row = withOwnership(view.row, found.byKey.get(view.connection.key));
      return { evaluation, ownersHidden: found.permissionDenied };
    }
    if (ownersInRows) {
      // The last evaluation of this tracker (check's): the owners go into the rows themselves, not
      // into a copy of each (a whole row and a view, ~86,000 of them at 100,000 sockets with the
      // idle threshold crossed, issue 15). Only rows that have their inode: one found by the
      // lookup goes into a copy, as the tracker (and the state file) keep what the source read.
      for (const view of wanted) if (ownerIntoRow(view.row, found.byKey.get(view.connection.key))) wanted.delete(view);
      if (wanted.size === 0) return { evaluation, ownersHidden: found.permissionDenied };
    }
    // New view objects for the rows that gained an owner; the evaluation is then handed over whole.
    const complete = (view: ConnectionView): ConnectionView => (wanted.has(view) ? { ...view, row: withOwnership(view.row, found.byKey.get(view.connection.key)) } : view);
    return { evaluation: { ...evaluation, views: evaluation.views.map(complete) }, ownersHidden: found.permissionDenied };
  }

  /**
   * Each connection's row, dwell and own flag at the last poll's time, one reused object per
   * connection (forEachEvaluated), for front ends that only count; undefined where that is not
   * the evaluation: a policy with count rules, or one that needs owners (rules on process names).
   */
  evaluatedEach(policy: Policy): ((visit: (evaluated: EvaluatedConnection) => void) => void) | undefined {
    if (policy.counts.length > 0 || (this.provider.owners && policyNeedsProcesses(policy))) return undefined;
    const tracker = this.tracker;
    const now = tracker.lastPollMs ?? this.platform.nowMs();
    return (visit) => forEachEvaluated(tracker, now, policy, visit);
  }

  /**
   * The owners of these connections, by key, without evaluating them (no view, no row copy): the
   * ones the source's lookup found (one /proc scan at most; none where the source has no lookup,
   * and a row that carries its own owner is not asked about). `watch` keeps them so that a closed
   * line can name the process that held the socket.
   */
  async ownersOf(connections: Iterable<TrackedConnection>, keep?: (key: string, owner: Owner) => void): Promise<{ owners: Map<string, Owner>; permissionDenied: boolean }> {
    const asked = this.provider.owners ? [...connections].filter((c) => c.row.pid === undefined) : [];
    const owners = new Map<string, Owner>();
    if (asked.length === 0) return { owners, permissionDenied: false };
    // `keep`: each owner handed over as found, and the map left empty (watch's first poll asks for
    // every connection's: a 100,000-entry map, and the tables it grew through, for one loop).
    const permissionDenied = await this.lookUp(asked, (connection, found) => {
      if (found?.owner) keep ? keep(connection.key, found.owner) : owners.set(connection.key, found.owner);
    });
    return { owners, permissionDenied };
  }

  /** Inode and owner of each connection, by key, from the source's lookup: one /proc scan at most. */
  private async ownershipOf(connections: readonly TrackedConnection[]): Promise<{ byKey: Map<string, Ownership>; permissionDenied: boolean }> {
    const byKey = new Map<string, Ownership>();
    const permissionDenied = await this.lookUp(connections, (connection, found) => byKey.set(connection.key, found ?? { inode: connection.row.inode ?? 0 }));
    return { byKey, permissionDenied };
  }

  /**
   * The source's owner lookup for these connections (one /proc scan at most): `each` gets every
   * connection with what was found for it, if anything. Returns whether some process was unreadable.
   */
  private async lookUp(
    connections: readonly TrackedConnection[],
    each: (connection: TrackedConnection, found: Ownership | undefined) => void,
    eachMember?: (member: SocketRow, found: Ownership | undefined) => void,
  ): Promise<boolean> {
    // The other listeners of an SO_REUSEPORT group (SocketRow.sharingPort) are looked up too: a
    // count per process counts each under its own owner, and they may belong to other processes.
    const rows = connections.map((c) => c.row);
    const grouped: TrackedConnection[] = [];
    for (const connection of connections) {
      const sharing = connection.row.sharingPort;
      if (sharing === undefined) continue;
      grouped.push(connection);
      for (const member of sharing) rows.push(member);
    }
    const answer = await this.provider.owners!.find(rows);
    connections.forEach((connection, i) => each(connection, answer.ownership[i]));
    let at = connections.length;
    for (const connection of grouped) {
      // A new array of owned copies: the tracker's row keeps it until the next reading, which sets its group anew.
      connection.row.sharingPort = connection.row.sharingPort!.map((member) => {
        const found = answer.ownership[at++];
        eachMember?.(member, found);
        return withOwnership(member, found);
      });
    }
    return answer.permissionDenied;
  }
}

/** Whether the tracker holds a connection of network namespace `inode` (one walk; asked only for a namespace not read). */
function holdsNetns(tracker: TrackerState, inode: number): boolean {
  for (const c of tracker.connections.values()) if (c.row.netns?.inode === inode) return true;
  return false;
}

const LIVE_PROTOCOLS: readonly Protocol[] = ['tcp', 'tcp6'];

/**
 * What a live reading did not cover: a protocol's table it could not read (procfs with tcp6
 * unreadable; an absent tcp6 file with IPv6 off counts as read, empty), and namespaces of `--netns`
 * that exist but could not be read. A captured file holds what it holds, so it is not asked.
 */
function unreadParts(reading: SourceReading): { phrases: string[]; scope: { protocols: Protocol[]; netns: number[] } } | undefined {
  const phrases: string[] = [];
  const missing = LIVE_PROTOCOLS.filter((p) => !reading.completeProtocols.includes(p));
  if (missing.length > 0) phrases.push(`the ${missing.join(' and ')} ${missing.length > 1 ? 'tables were' : 'table was'} not read`);
  const netns = reading.unreadNetns ?? [];
  if (netns.length > 0) phrases.push(`${plural(netns.length, 'network namespace')} not read`);
  for (const part of reading.unreadParts ?? []) phrases.push(part);
  return phrases.length > 0 ? { phrases, scope: { protocols: missing, netns: [...netns] } } : undefined;
}
