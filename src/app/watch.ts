import type { Evaluation, Owner } from '../core/evaluate.js';
import type { Policy } from '../core/policy.js';
import { EventStream, type MonitorEvent } from './event-stream.js';
import type { Monitor, PollOutcome } from './monitor.js';
import { PollLoop, type PollClock, type PollLoopEnd } from './poll-loop.js';

// The `watch` use case: poll, turn each poll into typed events, and hand them to the front end with
// the owners it could find. The front end prints; this decides what happened.

/** What `watch` reads through: a Monitor (its captured tables still to replay end a `--input` run). */
export type WatchSource = Pick<Monitor, 'pendingCaptures' | 'poll' | 'evaluate'>;

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
  /** This poll's events, in order; `first` for the first successful poll (its `opened` are what was already there). */
  events(events: MonitorEvent[], owners: ReadonlyMap<string, Owner>, first: boolean): Promise<void> | void;
  /** A failed poll, once for a run of failures. */
  pollFailed(outcome: PollOutcome): void;
}

/**
 * `ok` unless the last poll failed and the run ended by itself (iterations, input done:
 * `last-poll-failed`), or no poll succeeded before the run ended (`nothing-read`: an interrupt ends
 * cleanly only after something was read; fail closed).
 */
export type WatchResult = 'ok' | 'last-poll-failed' | 'nothing-read';

export async function watchConnections(source: WatchSource, settings: WatchSettings, output: WatchOutput): Promise<WatchResult> {
  const stream = new EventStream();
  // Owners seen, by connection key, so a closed line names the process that held it (the socket is gone by then).
  const owners = new Map<string, Owner>();
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
      // Owners of every connection at the first poll (one /proc scan), then of those this poll's
      // events name: a closed line can then still name the process that held the socket.
      const keys = new Set(outcome.events.filter((e) => e.type !== 'closed').map((e) => e.connection.key));
      const ownersFor = (e: Evaluation) => (started ? e.views.filter((v) => keys.has(v.connection.key)) : e.views);
      // Unranked: events come in the tracker's order. Without owners (JSON lines), none is looked up.
      const { evaluation } = await source.evaluate(settings.policy, settings.owners ? { window: ownersFor } : 'none', { ranked: false });
      for (const view of evaluation.views) if (view.row.pid !== undefined) owners.set(view.connection.key, { pid: view.row.pid, process: view.row.process ?? '?' });
      const events = stream.next(outcome, evaluation);
      const first = !started;
      if (first) {
        started = true;
        output.started({ atMs: outcome.takenAtMs, source: outcome.source, connections: evaluation.views.length, flagged: evaluation.views.filter((v) => v.flag).length });
      }
      await output.events(events, owners, first);
      for (const event of events) if (event.type === 'closed') owners.delete(event.connection.key);
    },
  });
  if (end.reason !== 'interrupted' && end.last?.ok === false) return 'last-poll-failed';
  return started ? 'ok' : 'nothing-read';
}
