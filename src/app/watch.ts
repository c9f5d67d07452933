import type { SocketRow } from '../core/connection.js';
import type { EvaluatedConnection, Owner } from '../core/evaluate.js';
import type { TrackedConnection } from '../core/tracker.js';
import type { Policy } from '../core/policy.js';
import { EventStream, type MonitorEvent } from './event-stream.js';
import type { Monitor, PollOutcome } from './monitor.js';
import { heapBudgetBetweenBursts } from './heap-budget.js';
import { PollLoop, type PollClock, type PollLoopEnd } from './poll-loop.js';

// The `watch` use case: poll, turn each poll into typed events, and hand them to the front end with
// the owners it could find. The front end prints; this decides what happened.

/** What `watch` reads through: a Monitor (its captured tables still to replay end a `--input` run). */
export type WatchSource = Pick<Monitor, 'pendingCaptures' | 'poll' | 'evaluate' | 'ownersOf' | 'tracker'> & Partial<Pick<Monitor, 'evaluatedEach'>>;

export interface WatchSettings {
  policy: Policy;
  intervalMs: number;
  /** `--iterations`: stop after this many polls. */
  iterations?: number;
  /** `--input`: end when every captured table was replayed (they are replayed without waiting). */
  replay: boolean;
  /** Look up owners for the connections of the events too (text lines show them; JSON lines keep the row's). */
  owners: boolean;
  clock: PollClock;
  signal: AbortSignal;
}

/** After the first poll that succeeded: what `watch` is watching. */
export interface WatchStart {
  atMs: number;
  source: string;
  connections: number;
  flagged: number;
}

export interface WatchOutput {
  started(start: WatchStart): void;
  /**
   * This poll's events, in order; `first` for the first successful poll (its `opened` are what was
   * already there). `owners`: the owners found by lookup, by connection key (ownerOfEvent), for
   * rows that carry none of their own.
   */
  events(events: MonitorEvent[], owners: ReadonlyMap<string, Owner>, first: boolean): Promise<void> | void;
  /** A failed poll, once for a run of failures. */
  pollFailed(outcome: PollOutcome): void;
  /** Each successful poll's source notices (degraded but usable: a table or namespace not read, lines skipped). */
  notices?(texts: readonly string[]): void;
}

/**
 * `ok` unless the last poll failed and the run ended by itself (iterations, input done:
 * `last-poll-failed`), or no poll succeeded before the run ended (`nothing-read`: an interrupt ends
 * cleanly only after something was read; fail closed).
 */
export type WatchResult = 'ok' | 'last-poll-failed' | 'nothing-read';

export async function watchConnections(source: WatchSource, settings: WatchSettings, output: WatchOutput): Promise<WatchResult> {
  const stream = new EventStream();
  // The owners found by lookup, by connection key, so a closed line names the process that held it
  // (the socket is gone by then). Kept compactly: one shared Owner per process (ownerCache), no
  // row copy; a row that carries its own owner (netstat -o, captures) is not kept here at all.
  const owners = new Map<string, Owner>();
  const ownerCache = new OwnerInterning();
  // Rows evaluated with their owners (a rule on process names), and rows that carry their own
  // (`--netns`, netstat -o, captures): kept the same way, so that a later line still names the
  // process when the row no longer does (TIME_WAIT and closed sockets have none).
  const keepRowOwner = (key: string, row: SocketRow) => {
    const { pid, process = '?' } = row;
    if (pid === undefined) return;
    const known = owners.get(key);
    if (known?.pid !== pid || known.process !== process) owners.set(key, ownerCache.shared({ pid, process }));
  };
  /** Keeps the owners the source's lookup finds for these connections. */
  const keepFound = async (asked: Iterable<TrackedConnection>) => {
    const keep = (key: string, owner: Owner) => void owners.set(key, ownerCache.shared(owner));
    const found = await source.ownersOf(asked, keep);
    for (const [key, owner] of found.owners) keep(key, owner); // a source that returns them instead
  };
  // A closed socket is gone: its owner is not kept past its closed line (closed events are the tracker's).
  const forgetClosed = (outcome: PollOutcome) => {
    for (const event of outcome.events) if (event.type === 'closed') owners.delete(event.connection.key);
  };
  let started = false;
  const loop = new PollLoop({
    clock: settings.clock,
    signal: settings.signal,
    intervalMs: settings.intervalMs,
    ...(settings.iterations !== undefined ? { maxPolls: settings.iterations } : {}),
    next: () => (source.pendingCaptures > 0 ? 'now' : settings.replay ? 'end' : 'later'),
    failureReporting: 'first-of-streak',
  });
  const end: PollLoopEnd = await loop.run({
    poll: () => source.poll(),
    reportFailure: (outcome) => output.pollFailed(outcome),
    onPoll: async (outcome) => {
      if (!outcome.ok) return output.events(stream.next(outcome, undefined), owners, false);
      output.notices?.(outcome.notices);
      const first = !started;
      // Without a view per connection where the policy allows (no count rules, no rules on
      // process names): a poll of 100,000 connections, 86,000 of them flagged as they were, then
      // builds nothing for them (EventStream.nextEach).
      const each = source.evaluatedEach?.(settings.policy);
      let connections = 0;
      let flagged = 0;
      let events: MonitorEvent[];
      /** Connections whose owners are asked of the lookup (settings.owners). */
      let asked: TrackedConnection[] | undefined;
      if (each) {
        const count = ({ connection, row, flag }: EvaluatedConnection) => {
          connections++;
          if (flag) flagged++;
          if (settings.owners) keepRowOwner(connection.key, row);
        };
        if (first) {
          // The first poll may tell a line for each of ~86,000 flagged sessions (issue 15): they
          // are written a slice at a time as the pass makes them (EventStream.nextEach's emit),
          // not held as one list of events, views and alerts. Their lines come after the start
          // line and name owners, so both come first: the connections and the flagged are counted
          // in a pass of their own, and every connection's owner is looked up (so that a closed
          // line can name the process that held the socket).
          each(count);
          if (settings.owners) {
            // The census's garbage (the rows it replaced) is not left under the lookup's: at
            // 100,000 connections the lookup adds ~30 MB, and the two together were watch's peak.
            heapBudgetBetweenBursts();
            await keepFound(source.tracker.connections.values());
          }
          // The census and the lookup's garbage (~35 MB at 100,000 connections) is not left under the lines.
          heapBudgetBetweenBursts();
          started = true;
          output.started({ atMs: outcome.takenAtMs, source: outcome.source, connections, flagged });
          const writes: (Promise<void> | void)[] = [];
          const rest = stream.nextEach(outcome, each, undefined, (slice) => writes.push(output.events(slice, owners, true)));
          writes.push(output.events(rest, owners, true));
          await Promise.all(writes);
          forgetClosed(outcome);
          return;
        }
        const flaggedUnknown: TrackedConnection[] = [];
        events = stream.nextEach(outcome, each, (evaluated) => {
          if (settings.owners && evaluated.flag && !owners.has(evaluated.connection.key)) flaggedUnknown.push(evaluated.connection);
          count(evaluated);
        });
        if (settings.owners) asked = [...namedBy(outcome), ...flaggedUnknown];
      } else {
        // Unranked: events come in the tracker's order. Owners are not asked of the evaluation: its
        // lookup copies each row that gains one (a whole row, ~1.9 KB at 8,000 flagged rows a poll,
        // measured); watch keeps them by key instead, and the text lines read them from there. (A
        // rule that matches process names still has every row evaluated with its owner.)
        const { evaluation } = await source.evaluate(settings.policy, 'none', { ranked: false });
        connections = evaluation.views.length;
        flagged = evaluation.views.filter((v) => v.flag).length;
        if (settings.owners) {
          for (const view of evaluation.views) keepRowOwner(view.connection.key, view.row);
          asked = first ? [...source.tracker.connections.values()] : [...namedBy(outcome), ...evaluation.views.filter((v) => v.flag && !owners.has(v.connection.key)).map((v) => v.connection)];
        }
        events = stream.next(outcome, evaluation);
      }
      // Every connection's owner at the first poll (one /proc scan), so that a closed line can
      // name the process that held the socket; then those of the connections this poll's events
      // name, and of flagged ones whose owner is not known yet. A row's own owner (kept above)
      // is never asked of the lookup.
      if (asked) await keepFound(asked);
      if (first) {
        started = true;
        output.started({ atMs: outcome.takenAtMs, source: outcome.source, connections, flagged });
      }
      await output.events(events, owners, first);
      forgetClosed(outcome);
    },
  });
  if (end.reason !== 'interrupted' && end.last?.ok === false) return 'last-poll-failed';
  return started ? 'ok' : 'nothing-read';
}

/** The connections this poll's tracker events name (not the closed: their sockets are gone). */
function namedBy(outcome: PollOutcome): TrackedConnection[] {
  return outcome.events.filter((e) => e.type !== 'closed').map((e) => e.connection);
}

/** The owner `watch` found for the connection an event is about (a flagged event: its session's), if any. */
export function ownerOfEvent(event: MonitorEvent, owners: ReadonlyMap<string, Owner>): Owner | undefined {
  if ('connection' in event) return owners.get(event.connection.key);
  if (event.type === 'flagged' && event.view) return owners.get(event.view.connection.key);
  return undefined;
}

const MAX_INTERNED_OWNERS = 4096;

/**
 * One Owner object per process (pid and name): the owners `watch` keeps for 100,000 connections of
 * a few processes are then a few objects, not one per connection. A pid seen again under another
 * name (exec, or reused) gets its own object; the connections found under the old name keep it.
 */
export class OwnerInterning {
  private readonly byPid = new Map<number, Owner>();

  shared(owner: Owner): Owner {
    const known = this.byPid.get(owner.pid);
    if (known && known.process === owner.process) return known;
    // Bounded over a long run of short-lived processes: forgetting only costs sharing, never an owner.
    if (this.byPid.size >= MAX_INTERNED_OWNERS) this.byPid.clear();
    const kept = { pid: owner.pid, process: owner.process };
    this.byPid.set(owner.pid, kept);
    return kept;
  }

  /** Distinct owners held (for tests). */
  get size(): number {
    return this.byPid.size;
  }
}
