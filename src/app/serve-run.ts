import { emptyDwellHistograms, observeDwells } from '../core/dwell-histogram.js';
import type { Policy } from '../core/policy.js';
import { connectionSamples, connectionSamplesOf, formatMetrics, type ExporterSnapshot } from '../output/prometheus.js';
import { EventStream, type MonitorEvent } from './event-stream.js';
import type { Monitor, PollOutcome } from './monitor.js';
import { PollLoop, type PollClock } from './poll-loop.js';

// The exporter use case (`tcpdwell serve`): it polls on its own interval, never per scrape, so any
// number of scrapers cost nothing extra; scrapes are answered with the body the last poll produced.

/** A running scrape endpoint, as the front end started it. */
export interface ScrapeEndpoint {
  stop(): Promise<void>;
}

export interface ExporterRun {
  monitor: Monitor;
  policy: Policy;
  /** `--log`: every poll's events as JSON lines. */
  log?: { write(events: readonly MonitorEvent[]): Promise<void> };
  /** `--listener-ports`: listening ports whose accept queues are exported. */
  listenerPorts: readonly number[];
  /** `--netns`: label series with their namespace, for at most this many namespaces (the rest: netns="other"). */
  netnsLabels?: { maxSeries: number };
  clock: PollClock;
  /** SIGINT/SIGTERM: the loop ends and the endpoint stops. */
  signal: AbortSignal;
  intervalMs: number;
  /** Starts answering scrapes with `body()`; called once, after the first poll, so the first scrape has figures. */
  startServing(body: () => string): Promise<ScrapeEndpoint>;
  /** A failed poll, once per outage (the body says up 0 meanwhile). */
  reportFailure(outcome: PollOutcome): void;
  /** Each successful poll's source notices (a table or namespace not read, lines skipped). */
  reportNotices?(texts: readonly string[]): void;
}

/** How an exporter run ended: `nothing-read` when no poll succeeded before the signal (fail closed: never OK). */
export type ExporterResult = 'ok' | 'nothing-read';

/**
 * Polls until `signal` aborts, keeping the Prometheus exposition of the last poll. A failed poll
 * counts, says up 0 and keeps the last figures. Serving starts after the first poll, unless the
 * signal aborted by then (a shutdown during a slow first poll never announces an endpoint).
 * Rejects only when `startServing` does (the command maps a taken address to its exit code).
 */
export async function runExporter(run: ExporterRun): Promise<ExporterResult> {
  const { monitor, policy, log } = run;
  const snapshot: ExporterSnapshot = {
    listenerPorts: run.listenerPorts,
    ...(run.netnsLabels ? { netnsLabels: run.netnsLabels } : {}),
    histograms: emptyDwellHistograms(),
    polls: { ok: 0, failed: 0 },
    lastPollOk: false,
    lastPollSeconds: 0,
    lastPollTimestampSeconds: 0,
    source: monitor.sourceName,
  };
  const stream = new EventStream();
  let body = formatMetrics(snapshot);
  const record = async (outcome: PollOutcome) => {
    snapshot.source = outcome.source;
    snapshot.lastPollSeconds = outcome.durationMs / 1000;
    snapshot.lastPollTimestampSeconds = outcome.takenAtMs / 1000;
    snapshot.lastPollOk = outcome.ok;
    snapshot.lastPollUnread = outcome.unread?.length ?? 0;
    snapshot.sourceReads = outcome.sourceReads;
    if (outcome.ok) {
      snapshot.polls.ok++;
      run.reportNotices?.(outcome.notices);
      // Counted in one pass, no view per connection, where the policy allows (no count rules or
      // rules on process names); --log's alerts are reconciled in the same pass (a view only for
      // a session whose flagged line is written: EventStream.nextEach).
      const each = monitor.evaluatedEach(policy);
      if (each) {
        let events: MonitorEvent[] = [];
        const pass: typeof each = log ? (visit) => void (events = stream.nextEach(outcome, each, visit)) : each;
        snapshot.connectionSamples = connectionSamplesOf(pass, [], snapshot);
        await log?.write(events);
      } else {
        // Metrics show no owners: none looked up (unless a rule matches on process names).
        const { evaluation } = await monitor.evaluate(policy, 'none', { ranked: false });
        // The samples, not the evaluation, are kept until the next poll (a view per connection).
        snapshot.connectionSamples = connectionSamples({ ...snapshot, evaluation });
        await log?.write(stream.next(outcome, evaluation));
      }
      snapshot.histograms = observeDwells(snapshot.histograms, outcome.events);
    } else {
      snapshot.polls.failed++;
      await log?.write(stream.next(outcome, undefined));
    }
    body = formatMetrics(snapshot);
  };

  let endpoint: ScrapeEndpoint | undefined;
  const loop = new PollLoop({ clock: run.clock, signal: run.signal, intervalMs: run.intervalMs, failureReporting: 'first-of-streak' });
  try {
    await loop.run({
      poll: () => monitor.poll(),
      reportFailure: run.reportFailure,
      onPoll: async (outcome) => {
        await record(outcome);
        if (!run.signal.aborted) endpoint ??= await run.startServing(() => body);
      },
    });
  } finally {
    await endpoint?.stop();
  }
  return snapshot.polls.ok > 0 ? 'ok' : 'nothing-read';
}
