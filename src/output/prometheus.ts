import { DWELL_BUCKETS_SECONDS, dwellClassOf, type DwellClass, type DwellHistograms } from '../core/dwell-histogram.js';
import { FLAG_KINDS, countStates, tallyFlags, type EvaluatedConnection, type Evaluation } from '../core/evaluate.js';
import { netnsText, socketsOf, type NetnsLabel } from '../core/connection.js';
import type { CountFlag, FlagKind, Severity } from '../core/policy.js';
import type { TcpState } from '../core/tcp-state.js';
import { appendAll } from '../core/lists.js';
import { escapeControls } from './sanitize.js';

// The Prometheus text exposition format (version 0.0.4) of what `serve` knows. Pure: the state
// of the exporter in, the /metrics body out. `promtool check metrics` accepts it (tested).

export interface ExporterSnapshot {
  /** The last successful poll's evaluation; undefined before the first. */
  evaluation?: Evaluation;
  /**
   * What the last successful poll's evaluation says as samples (connectionSamples), kept instead
   * of the evaluation: at 100,000 connections its views are 17 MB that would otherwise stay alive
   * between polls, for the body of a failed poll. Used when set; else drawn from `evaluation`.
   */
  connectionSamples?: ConnectionSamples;
  /** Local ports whose connections are counted per port (--listener-port). */
  listenerPorts: readonly number[];
  histograms: DwellHistograms;
  polls: { ok: number; failed: number };
  lastPollOk: boolean;
  /** Parts of the table the last successful poll could not read (PollOutcome.unread): 0 when it read all. */
  lastPollUnread?: number;
  lastPollSeconds: number;
  lastPollTimestampSeconds: number;
  source: string;
  /** Each source the last poll read (auto's fallbacks too), as node_exporter reports its collectors; absent: no series. */
  sourceReads?: readonly { source: string; ok: boolean; durationMs: number }[];
  /**
   * `--netns`: label series with each row's namespace, for at most `maxSeries` namespaces (those
   * with the most connections); the rest are summed under `netns="other"`. Undefined: no label.
   */
  netnsLabels?: { maxSeries: number };
}

/** The `netns` label value of rows beyond the cap. */
export const OTHER_NETNS = 'other';

const SEVERITIES = ['warning', 'critical'] as const;

export function formatMetrics(s: ExporterSnapshot): string {
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter' | 'histogram', help: string, samples: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    appendAll(out, samples);
  };
  family('tcpdwell_up', 'gauge', 'Whether the last poll read the socket table (1) or failed (0).', [`tcpdwell_up{source="${label(s.source)}"} ${s.lastPollOk ? 1 : 0}`]);
  // Fail closed for alert rules: zero flagged in a namespace or table that was not read is not zero.
  family('tcpdwell_poll_complete', 'gauge', 'Whether the last poll read the whole table (1) or failed or left part unread (0): a tcp/tcp6 table, a --netns namespace.', [
    `tcpdwell_poll_complete ${s.lastPollOk && !s.lastPollUnread ? 1 : 0}`,
  ]);

  const samples = s.connectionSamples ?? connectionSamples(s);
  family('tcpdwell_connections', 'gauge', 'TCP connections by state at the last successful poll.', samples.connections);
  if (samples.ports !== undefined) family('tcpdwell_port_connections', 'gauge', 'Connections by state on each local port named with --listener-port.', samples.ports);
  family('tcpdwell_flagged', 'gauge', 'Sessions flagged at the last successful poll, by kind and severity (kind="count": groups over a count limit).', samples.flagged);
  family('tcpdwell_oldest_dwell_seconds', 'gauge', 'Longest time a connection has now been in a half-open or half-close state.', samples.oldest);

  const histogramSamples: string[] = [];
  for (const dwellClass of ['half_open', 'half_close'] as const) {
    const h = s.histograms[dwellClass];
    let cumulative = 0;
    DWELL_BUCKETS_SECONDS.forEach((le, i) => {
      cumulative += h.buckets[i] ?? 0;
      histogramSamples.push(`tcpdwell_dwell_seconds_bucket{class="${dwellClass}",le="${le}"} ${cumulative}`);
    });
    histogramSamples.push(`tcpdwell_dwell_seconds_bucket{class="${dwellClass}",le="+Inf"} ${h.count}`);
    histogramSamples.push(`tcpdwell_dwell_seconds_sum{class="${dwellClass}"} ${number(h.sum)}`);
    histogramSamples.push(`tcpdwell_dwell_seconds_count{class="${dwellClass}"} ${h.count}`);
  }
  family('tcpdwell_dwell_seconds', 'histogram', 'Time connections spent in a half-open or half-close state, counted when they left it.', histogramSamples);

  if (s.sourceReads && s.sourceReads.length > 0) {
    // node_exporter's node_scrape_collector_success / _duration_seconds, per source read.
    family(
      'tcpdwell_source_read_success',
      'gauge',
      'Whether each source read in the last poll gave a socket table (1) or failed (0).',
      s.sourceReads.map((r) => `tcpdwell_source_read_success{source="${label(r.source)}"} ${r.ok ? 1 : 0}`),
    );
    family(
      'tcpdwell_source_read_duration_seconds',
      'gauge',
      'How long each source read in the last poll took.',
      s.sourceReads.map((r) => `tcpdwell_source_read_duration_seconds{source="${label(r.source)}"} ${number(r.durationMs / 1000)}`),
    );
  }
  family('tcpdwell_poll_duration_seconds', 'gauge', 'How long the last poll took.', [`tcpdwell_poll_duration_seconds ${number(s.lastPollSeconds)}`]);
  family('tcpdwell_last_poll_timestamp_seconds', 'gauge', 'When the last poll ran (Unix time).', [`tcpdwell_last_poll_timestamp_seconds ${number(s.lastPollTimestampSeconds)}`]);
  family('tcpdwell_polls_total', 'counter', 'Polls since start, by result.', [`tcpdwell_polls_total{result="ok"} ${s.polls.ok}`, `tcpdwell_polls_total{result="error"} ${s.polls.failed}`]);
  return `${out.join('\n')}\n`;
}

/** The samples of the families drawn from an evaluation: connections by state, per listener port, flagged, oldest dwell. */
export interface ConnectionSamples {
  connections: string[];
  /** Undefined when no listener port was named (the family is left out). */
  ports?: string[];
  flagged: string[];
  oldest: string[];
}

/** The samples an evaluation gives (none counted before the first poll), with the snapshot's port and netns settings. */
export function connectionSamples(s: Pick<ExporterSnapshot, 'evaluation' | 'listenerPorts' | 'netnsLabels'>): ConnectionSamples {
  const views = s.evaluation?.views ?? [];
  const visitViews = (visit: (evaluated: EvaluatedConnection) => void) => {
    for (const v of views) {
      // A count membership is counted through countFlags (once per group), as tallyFlags does.
      visit({
        connection: v.connection,
        row: v.row,
        dwellMs: v.timing.dwellMs,
        halfCloseTimerMs: v.timing.halfCloseTimerMs,
        idleMs: v.timing.idleMs,
        flag: v.flag?.kind === 'count' ? undefined : v.flag,
      });
    }
  };
  return connectionSamplesOf(visitViews, s.evaluation?.countFlags ?? [], s);
}

/**
 * The samples of the families drawn from an evaluation, gathered in one pass over `each` (core's
 * forEachEvaluated, or an evaluation's views) with no view per connection: what serve computes at every poll. Count
 * rules are not applied there, so `countFlags` is what evaluateCounts gave (none without count rules).
 */
export function connectionSamplesOf(
  each: (visit: (evaluated: EvaluatedConnection) => void) => void,
  countFlags: readonly CountFlag[],
  s: Pick<ExporterSnapshot, 'listenerPorts' | 'netnsLabels'>,
): ConnectionSamples {
  const all = newBucket(undefined);
  const byInode = new Map<number, Bucket>();
  const loose = newBucket(undefined);
  const ports = new Map<number, Map<TcpState, number>>(s.listenerPorts.map((p) => [p, zeroCounts()]));
  each(({ row, dwellMs, flag }) => {
    let bucket = all;
    if (s.netnsLabels) {
      const inode = row.netns?.inode;
      if (inode === undefined) bucket = loose;
      else {
        bucket = byInode.get(inode) ?? newBucket(row.netns);
        if (bucket.count === 0) byInode.set(inode, bucket);
      }
    }
    bucket.count++;
    // A listener standing for an SO_REUSEPORT group counts each of its sockets, as countStates does.
    const sockets = socketsOf(row);
    bucket.states.set(row.state, bucket.states.get(row.state)! + sockets);
    const dwellClass = dwellClassOf(row.state);
    if (dwellClass) bucket.longest[dwellClass] = Math.max(bucket.longest[dwellClass], dwellMs / 1000);
    if (flag) bucket.tally[flag.kind][flag.severity]++;
    const port = ports.get(row.local.port);
    if (port) port.set(row.state, port.get(row.state)! + sockets);
  });

  let groups: { labels: string; bucket: Bucket }[];
  if (!s.netnsLabels) groups = [{ labels: '', bucket: all }];
  else {
    // The `maxSeries` namespaces with the most connections (then the inode) by name, a name two
    // namespaces share with the inode too; the rest, and rows read without --netns, under "other".
    const ranked = [...byInode.entries()].sort((a, b) => b[1].count - a[1].count || a[0] - b[0]);
    const kept = ranked.slice(0, s.netnsLabels.maxSeries);
    const texts = kept.map(([, bucket]) => netnsText(bucket.netns!));
    groups = kept.map(([inode, bucket], i) => {
      const text = texts[i]!;
      const shared = texts.filter((t) => t === text).length > 1 || text === OTHER_NETNS || text === 'all';
      return { labels: `netns="${label(shared ? `${text} net:[${inode}]` : text)}",`, bucket };
    });
    const other = loose;
    for (const [, bucket] of ranked.slice(s.netnsLabels.maxSeries)) mergeInto(other, bucket);
    if (other.count > 0 || groups.length === 0) groups.push({ labels: `netns="${OTHER_NETNS}",`, bucket: other });
  }

  const connections = groups.flatMap(({ labels, bucket }) => [...bucket.states].map(([state, n]) => `tcpdwell_connections{${labels}state="${state}"} ${n}`));
  let portSamples: string[] | undefined;
  if (s.listenerPorts.length > 0) {
    portSamples = [];
    for (const port of s.listenerPorts) for (const [state, n] of ports.get(port)!) portSamples.push(`tcpdwell_port_connections{port="${port}",state="${state}"} ${n}`);
  }
  const flagged = groups.flatMap(({ labels, bucket }) => {
    const tally = bucket.tally;
    if (labels === '') for (const flag of countFlags) tally.count[flag.severity]++;
    const kinds = labels === '' ? FLAG_KINDS : FLAG_KINDS.filter((k) => k !== 'count');
    return kinds.flatMap((kind) => SEVERITIES.map((severity) => `tcpdwell_flagged{${labels}kind="${kind.replace('-', '_')}",severity="${severity}"} ${tally[kind][severity]}`));
  });
  if (s.netnsLabels) {
    const tally = tallyFlags({ views: [], countFlags });
    for (const severity of SEVERITIES) flagged.push(`tcpdwell_flagged{netns="all",kind="count",severity="${severity}"} ${tally.count[severity]}`);
  }
  const oldest = groups.flatMap(({ labels, bucket }) => (['half_open', 'half_close'] as const).map((c) => `tcpdwell_oldest_dwell_seconds{${labels}class="${c}"} ${number(bucket.longest[c])}`));
  return portSamples === undefined ? { connections, flagged, oldest } : { connections, ports: portSamples, flagged, oldest };
}

/** One namespace's figures (or all rows' without netns labels). */
interface Bucket {
  /** The first row's label: its name in the series. */
  netns: NetnsLabel | undefined;
  count: number;
  states: Map<TcpState, number>;
  longest: Record<DwellClass, number>;
  tally: Record<FlagKind, Record<Severity, number>>;
}

function newBucket(netns: NetnsLabel | undefined): Bucket {
  return { netns, count: 0, states: zeroCounts(), longest: { half_open: 0, half_close: 0 }, tally: tallyFlags({ views: [], countFlags: [] }) };
}

/** Every state at zero, in ALL_TCP_STATES order (countStates' order). */
function zeroCounts(): Map<TcpState, number> {
  return countStates([]);
}

function mergeInto(into: Bucket, from: Bucket): void {
  into.count += from.count;
  for (const [state, n] of from.states) into.states.set(state, into.states.get(state)! + n);
  for (const c of ['half_open', 'half_close'] as const) into.longest[c] = Math.max(into.longest[c], from.longest[c]);
  for (const kind of FLAG_KINDS) for (const severity of SEVERITIES) into.tally[kind][severity] += from.tally[kind][severity];
}

function number(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3);
}

/**
 * A label value as the exposition format writes it (`\\`, `\"`, `\n` escaped), its control
 * characters first written as the text formats write them (sanitize.ts escapeControls: ESC is the
 * four characters `\x1b`): a namespace or process name carrying a terminal escape would otherwise
 * reach a terminal that shows `curl /metrics` raw (new-user pass, session 11). Names without
 * control characters are unchanged.
 */
function label(value: string): string {
  return escapeControls(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}
