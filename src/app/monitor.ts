import { evaluateAll, withOwnership, type ConnectionView, type Evaluation, type Ownership } from '../core/evaluate.js';
import { policyNeedsProcesses, type Policy } from '../core/policy.js';
import type { SocketRow } from '../core/connection.js';
import { advance, advanceFailed, emptyTrackerState, type TrackedConnection, type TrackerEvent, type TrackerState } from '../core/tracker.js';
import type { Platform } from '../platform/platform.js';
import { connectionKey } from '../core/connection.js';
import { procfsSource } from '../sources/linux/procfs.js';
import { OwnerResolver } from '../sources/linux/process-owners.js';
import { SourceSelector } from '../sources/select-source.js';
import { CaptureReplay, type LoadedCaptures, type SkippedInput } from '../sources/input-files.js';
import { SourceError, type ReadingProvider, type SourceChoice } from '../sources/source.js';

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
}

export interface MonitorOptions {
  source: SourceChoice;
  procRoot: string;
  initialState?: TrackerState;
  /** Captured tables to replay instead of reading a live source (`--input`). */
  captures?: LoadedCaptures;
}

export interface EvaluatedPoll {
  evaluation: Evaluation;
  /** Some owners could not be looked up for lack of permission. */
  ownersHidden: boolean;
}

/** Polls one source into one tracker; shared by every front end. */
export class Monitor {
  tracker: TrackerState;
  private readonly provider: ReadingProvider;
  private readonly owners: OwnerResolver;
  private readonly procRoot: string;
  /** `--input` files that gave no table (none for a live source): the answer is then never OK. */
  readonly skippedInput: readonly SkippedInput[];
  private inFlight: Promise<PollOutcome> | undefined;

  constructor(
    private readonly platform: Platform,
    options: MonitorOptions,
  ) {
    this.tracker = options.initialState ?? emptyTrackerState();
    this.provider = options.captures
      ? new CaptureReplay(options.captures.captures, options.captures.notices, options.captures.skipped)
      : new SourceSelector(options.source, platform, { procRoot: options.procRoot });
    this.owners = new OwnerResolver(platform, options.procRoot);
    this.procRoot = options.procRoot;
    this.skippedInput = options.captures?.skipped ?? [];
  }

  get sourceName(): string {
    return this.provider.name;
  }

  /** Captured tables not yet replayed; 0 for a live source. */
  get pendingCaptures(): number {
    return this.provider.pending;
  }

  /** Whether this host's /proc/sys describes the rows (not so for captured files). */
  get describesThisHost(): boolean {
    return this.provider.describesThisHost;
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
    const startedMs = this.platform.nowMs();
    try {
      const reading = await this.provider.read();
      const takenAtMs = reading.takenAtMs ?? this.platform.nowMs();
      const result = advance(this.tracker, { takenAtMs, rows: reading.rows, completeProtocols: reading.completeProtocols });
      this.tracker = result.state;
      return { ok: true, takenAtMs, source: reading.source, notices: reading.notices, events: result.events, durationMs: this.platform.nowMs() - startedMs };
    } catch (error) {
      if (!(error instanceof SourceError)) throw error;
      const takenAtMs = this.platform.nowMs();
      this.tracker = advanceFailed(this.tracker).state;
      return { ok: false, takenAtMs, source: this.provider.name, notices: [], error: error.message, events: [], durationMs: takenAtMs - startedMs };
    }
  }

  /**
   * Evaluates the tracker at the last poll's time. Owners are looked up only for flagged rows and
   * the rows `ownersFor` picks (those shown), unless the policy matches on process names.
   * `ranked: false` leaves the views unsorted, for front ends that order them their own way.
   */
  async evaluate(policy: Policy, ownersFor: (evaluation: Evaluation) => Iterable<ConnectionView>, { ranked = true } = {}): Promise<EvaluatedPoll> {
    const now = this.tracker.lastPollMs ?? this.platform.nowMs();
    // Rows that carry their owners (Windows, captured files) need no lookup in this host's /proc.
    if (this.provider.ownersInRows) return { evaluation: evaluateAll(this.tracker, now, policy, { ranked }), ownersHidden: false };
    if (policyNeedsProcesses(policy)) {
      const found = await this.ownershipOf([...this.tracker.connections.values()]);
      return { evaluation: evaluateAll(this.tracker, now, policy, { ownership: found.byKey, ranked }), ownersHidden: found.permissionDenied };
    }
    const evaluation = evaluateAll(this.tracker, now, policy, { ranked });
    const wanted = [...new Set([...evaluation.views.filter((v) => v.flag), ...ownersFor(evaluation)])];
    const found = await this.ownershipOf(wanted.map((v) => v.connection));
    for (const view of wanted) view.row = withOwnership(view.row, found.byKey.get(view.connection.key));
    return { evaluation, ownersHidden: found.permissionDenied };
  }

  /**
   * The evaluation alone, unranked, for modes that show no owners (serve's metrics, watch's events):
   * no /proc scan, unless a rule or count matches on process names and needs them.
   */
  async evaluateWithoutOwners(policy: Policy): Promise<Evaluation> {
    if (policyNeedsProcesses(policy)) return (await this.evaluate(policy, () => [], { ranked: false })).evaluation;
    return evaluateAll(this.tracker, this.tracker.lastPollMs ?? this.platform.nowMs(), policy, { ranked: false });
  }

  /** Inode and owner of each connection, by key: one /proc scan at most. */
  private async ownershipOf(connections: readonly TrackedConnection[]): Promise<{ byKey: Map<string, Ownership>; permissionDenied: boolean }> {
    const inodes = await this.inodesOf(connections.map((c) => c.row));
    const lookup = await this.owners.resolve(inodes);
    const byKey = new Map<string, Ownership>();
    connections.forEach((connection, i) => {
      const inode = inodes[i] ?? 0;
      const owner = lookup.owners.get(inode);
      byKey.set(connection.key, owner ? { inode, owner } : { inode });
    });
    return { byKey, permissionDenied: lookup.permissionDenied };
  }

  /** Inodes of these rows; a source that printed none (ss without -e) is completed from procfs, once. */
  private async inodesOf(rows: readonly SocketRow[]): Promise<number[]> {
    if (rows.every((row) => row.inode !== undefined)) return rows.map((row) => row.inode!);
    let byKey = new Map<string, number>();
    try {
      const reading = await procfsSource.read(this.platform, { procRoot: this.procRoot });
      byKey = new Map(reading.rows.map((row) => [connectionKey(row), row.inode ?? 0]));
    } catch {
      // no procfs view: these owners stay unknown
    }
    return rows.map((row) => row.inode ?? byKey.get(connectionKey(row)) ?? 0);
  }
}
